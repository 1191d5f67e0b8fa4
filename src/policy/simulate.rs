//! `ha simulate`: the placement solver on the command line, like crm_simulate.
//!
//! Reads a config and optionally a state (`ha status --json`), applies the
//! what-if flags, runs [`crate::policy::place`] and
//! [`crate::transition::plan`], and prints the transition (SPEC sections 3
//! and 4). The file reads and the wall clock are passed in by `main.rs`, so
//! this module stays free of I/O like the rest of the policy engine.

use argh::FromArgs;
use serde_json::{Map, Value, json};

use super::state::known;
use super::{ClusterState, FailCount, NodeState, explain};
use crate::config::{self, Config, Diagnostic, Severity};
use crate::ctl::proto::Status;
use crate::transition::{self, Change};

/// Run the placement solver offline and print the transition (like
/// crm_simulate). Without --state every configured node is online and
/// nothing runs.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "simulate")]
pub struct SimulateArgs {
    /// config file (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
    /// current state: the JSON of `ha status --json`
    #[argh(option)]
    pub state: Option<String>,
    /// what if node N comes up (repeatable)
    #[argh(option)]
    pub node_up: Vec<String>,
    /// what if node N goes down (repeatable)
    #[argh(option)]
    pub node_down: Vec<String>,
    /// what if node N is put in standby (repeatable)
    #[argh(option)]
    pub standby: Vec<String>,
    /// what if RSC's monitor fails on NODE, written RSC:NODE (repeatable)
    #[argh(option)]
    pub fail: Vec<String>,
    /// print each resource's per-node scores and what made them
    #[argh(switch)]
    pub scores: bool,
    /// print JSON (SPEC section 4) instead of text
    #[argh(switch)]
    pub json: bool,
}

/// What `ha simulate` prints and its exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    fn usage(message: String) -> Outcome {
        Outcome {
            code: 2,
            stdout: String::new(),
            stderr: format!("ha simulate: {message}\n"),
        }
    }
}

/// Runs `ha simulate`; returns the exit code. `read` reads a file to text
/// (the state file); `now_ms` is the wall clock (ms since the Unix epoch)
/// used to expire fail-counts.
pub fn run(args: SimulateArgs, read: &dyn Fn(&str) -> Result<String, String>, now_ms: u64) -> i32 {
    let loaded = config::load_file(std::path::Path::new(&args.config));
    let state_text = match &args.state {
        Some(path) => match read(path) {
            Ok(text) => Some(text),
            Err(e) => {
                eprintln!("ha simulate: cannot read the state file {path}: {e}");
                eprintln!("  hint: --state takes the output of `ha status --json`");
                return 2;
            }
        },
        None => None,
    };
    let outcome = match loaded {
        Ok(l) => {
            for w in &l.warnings {
                eprintln!("{w}");
            }
            simulate(&args, &l.config, state_text.as_deref(), now_ms)
        }
        Err(diags) => config_errors(&diags),
    };
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    outcome.code
}

fn config_errors(diags: &[Diagnostic]) -> Outcome {
    let mut stderr = String::new();
    for d in diags {
        stderr.push_str(&d.to_string());
        stderr.push('\n');
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    stderr.push_str(&format!("ha simulate: the config has {errors} error(s)\n"));
    Outcome {
        code: 2,
        stdout: String::new(),
        stderr,
    }
}

/// The whole command without I/O: parse the state, apply the what-ifs,
/// place, plan, render.
pub fn simulate(
    args: &SimulateArgs,
    config: &Config,
    state_text: Option<&str>,
    now_ms: u64,
) -> Outcome {
    let mut state = match state_text {
        None => {
            let mut s = ClusterState::all_online(config);
            s.now_ms = now_ms;
            s
        }
        Some(text) => {
            let status: Status = match serde_json::from_str(text) {
                Ok(s) => s,
                Err(e) => {
                    return Outcome::usage(format!(
                        "--state {}: not a status document: {e}\n  hint: --state takes the output of `ha status --json`",
                        args.state.as_deref().unwrap_or("-")
                    ));
                }
            };
            match ClusterState::from_status(config, &status, now_ms) {
                Ok(s) => s,
                Err(e) => {
                    return Outcome::usage(format!(
                        "--state {}: {e}",
                        args.state.as_deref().unwrap_or("-")
                    ));
                }
            }
        }
    };
    if let Err(message) = apply_what_ifs(args, config, &mut state) {
        return Outcome::usage(message);
    }
    let placement = super::place(config, &state);
    let graph = transition::plan(config, &state, &placement);
    let stdout = if args.json {
        let mut doc = to_json(&placement, &graph);
        if args.scores
            && let Value::Object(map) = &mut doc
        {
            map.insert("scores".into(), scores_json(&placement));
        }
        let mut s = serde_json::to_string_pretty(&doc).expect("a JSON value always serializes");
        s.push('\n');
        s
    } else {
        let mut s = String::new();
        if args.scores {
            s.push_str("Allocation scores:\n");
            s.push_str(&explain::scores_text(config, &state, None));
            s.push('\n');
        }
        s.push_str(&explain::summary_text(config, &state, &placement, &graph));
        s
    };
    Outcome {
        code: 0,
        stdout,
        stderr: String::new(),
    }
}

/// Applies `--node-up`, `--node-down`, `--standby` and `--fail` in that
/// order. A node that goes down with fencing enabled is unclean (it must
/// be fenced before its resources run elsewhere), as crm_simulate shows.
pub fn apply_what_ifs(
    args: &SimulateArgs,
    config: &Config,
    state: &mut ClusterState,
) -> Result<(), String> {
    let node_names = || config.nodes.iter().map(|n| n.name.clone());
    let check = |flag: &str, node: &str| -> Result<(), String> {
        if config.node(node).is_none() {
            return Err(format!(
                "unknown node \"{node}\" in {flag}\n  hint: {}",
                known("nodes", node_names())
            ));
        }
        Ok(())
    };
    for n in &args.node_up {
        check("--node-up", n)?;
        state.nodes.insert(n.clone(), NodeState::Online);
    }
    for n in &args.node_down {
        check("--node-down", n)?;
        let runs_something = state.active.values().any(|v| v.contains(n));
        let s = if config.cluster.stonith_enabled && runs_something {
            NodeState::Unclean
        } else {
            NodeState::Offline
        };
        state.nodes.insert(n.clone(), s);
    }
    for n in &args.standby {
        check("--standby", n)?;
        state.nodes.insert(n.clone(), NodeState::Standby);
    }
    for f in &args.fail {
        let Some((rsc, node)) = f.rsplit_once(':') else {
            return Err(format!(
                "--fail {f}: expected RSC:NODE\n  hint: for example --fail webip:node1"
            ));
        };
        check("--fail", node)?;
        let is_clone = config.clones.iter().any(|c| c.id == rsc);
        if config.resource(rsc).is_none() && !is_clone {
            let mut names: Vec<String> = config.resources.iter().map(|r| r.id.clone()).collect();
            names.extend(config.clones.iter().map(|c| c.id.clone()));
            return Err(format!(
                "unknown resource \"{rsc}\" in --fail {f}\n  hint: {}",
                known("resources", names)
            ));
        }
        // A failed monitor means the resource was found active but broken
        // on that node: it is active there, failed, and its fail-count
        // grows by one (crm_simulate --op-fail does the same).
        let key = config
            .clone_of(rsc)
            .map(|c| c.id.clone())
            .unwrap_or_else(|| rsc.to_string());
        let active = state.active.entry(key.clone()).or_default();
        if !active.iter().any(|n| n == node) {
            active.push(node.to_string());
        }
        state.failed.insert((key, node.to_string()));
        let fc = state
            .failcounts
            .entry((rsc.to_string(), node.to_string()))
            .or_insert(FailCount {
                count: 0,
                last_failure_ms: None,
            });
        fc.count += 1;
        fc.last_failure_ms = Some(state.now_ms);
    }
    Ok(())
}

/// SPEC section 4: `{"placement": {...}, "actions": [...]}`.
pub fn to_json(placement: &super::Placement, graph: &transition::Graph) -> Value {
    let mut p = Map::new();
    for (rsc, nodes) in &placement.assigned {
        p.insert(rsc.clone(), json!(nodes));
    }
    let actions: Vec<Value> = graph
        .changes
        .iter()
        .map(|c| match c {
            Change::Start { resource, node } => {
                json!({"action": "start", "resource": resource, "node": node})
            }
            Change::Stop { resource, node } => {
                json!({"action": "stop", "resource": resource, "node": node})
            }
            Change::Move { resource, from, to } => {
                json!({"action": "move", "resource": resource, "from": from, "to": to})
            }
            Change::Recover { resource, from, to } if from == to => {
                json!({"action": "recover", "resource": resource, "node": from})
            }
            Change::Recover { resource, from, to } => {
                json!({"action": "recover", "resource": resource, "from": from, "to": to})
            }
            Change::Restart { resource, node, .. } => {
                json!({"action": "restart", "resource": resource, "node": node})
            }
            Change::Fence { node } => json!({"action": "fence", "node": node}),
        })
        .collect();
    json!({"placement": Value::Object(p), "actions": actions})
}

fn scores_json(placement: &super::Placement) -> Value {
    let mut out = Map::new();
    for (rsc, scores) in &placement.scores {
        let mut per_node = Map::new();
        for s in scores {
            let contributions: Vec<Value> = s
                .contributions
                .iter()
                .map(|c| json!({"source": c.source, "score": c.delta.to_string()}))
                .collect();
            per_node.insert(
                s.node.clone(),
                json!({"score": s.score.to_string(), "available": s.available, "contributions": contributions}),
            );
        }
        out.insert(rsc.clone(), Value::Object(per_node));
    }
    Value::Object(out)
}
