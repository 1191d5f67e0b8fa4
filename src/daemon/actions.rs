//! The seam between the daemon and whatever carries out the node's actions
//! (resource agents, fence drivers).
//!
//! The daemon hands every `Action` from `Node::poll_action` to an
//! [`ActionRunner`] and feeds the outcome back with `handle_action_done`.
//! Runners must report every action exactly once, also on timeout, or the
//! node waits for it forever.
//!
//! [`AgentRunner`] runs resource operations through the built-in agents
//! (`agents::for_resource`), each on a blocking thread with the action's
//! timeout. Fence actions go to [`crate::fence`]: the target's `[[fence]]`
//! devices, level by level, within the action's timeout; the outcome is
//! `Ok` only once a device confirmed the target off.

use std::collections::BTreeMap;
use std::sync::Arc;

use smol::channel::Sender;

use crate::agents::{self, Agent, Operation};
use crate::config::Config;
use crate::node::{Action, ActionId, ActionKind, Outcome};

/// Carries out actions and reports their outcome on `done`.
pub trait ActionRunner {
    fn run(&mut self, action: Action, done: Sender<(ActionId, Outcome)>);
    /// The config changed: forget anything built from the old one.
    fn reload(&mut self, config: &Config) {
        let _ = config;
    }
}

/// Runs start, stop, monitor and probe through the built-in agents.
pub struct AgentRunner {
    config: Config,
    node_name: String,
    /// Agents are built once per resource (they keep small state, such as
    /// the interface a vip found) and rebuilt after a reload.
    agents: BTreeMap<String, Arc<dyn Agent>>,
}

impl AgentRunner {
    pub fn new(config: &Config, node_name: &str) -> AgentRunner {
        AgentRunner {
            config: config.clone(),
            node_name: node_name.to_string(),
            agents: BTreeMap::new(),
        }
    }

    /// The agent of `resource`, built once. Err: what the operation
    /// reports instead, and whether the cause is an agent kind this build
    /// accepts in the config but cannot run.
    fn agent(&mut self, resource: &str) -> Result<Arc<dyn Agent>, (Outcome, bool)> {
        if let Some(agent) = self.agents.get(resource) {
            return Ok(agent.clone());
        }
        let Some(config) = self.config.resource(resource) else {
            let outcome = Outcome::Failed {
                rc: agents::rc::ERR_CONFIGURED,
                reason: format!("resource \"{resource}\" is not in the config"),
            };
            return Err((outcome, false));
        };
        match agents::for_resource(config, &self.node_name, self.config.defaults.op_timeout) {
            Ok(agent) => {
                let agent: Arc<dyn Agent> = Arc::from(agent);
                self.agents.insert(resource.to_string(), agent.clone());
                Ok(agent)
            }
            Err(e) => {
                let lacks_kind = matches!(e, agents::AgentError::Unsupported { .. });
                let outcome = Outcome::Failed {
                    rc: e.rc(),
                    reason: e.to_string(),
                };
                Err((outcome, lacks_kind))
            }
        }
    }
}

/// A probe that finds the agent not installed here (rc 5) means the
/// resource is not running here, as pacemaker reads it; a start here would
/// fail and ban the node.
fn probe_result(outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Failed {
            rc: agents::rc::ERR_INSTALLED,
            ..
        } => Outcome::NotRunning,
        other => other,
    }
}

impl ActionRunner for AgentRunner {
    fn run(&mut self, action: Action, done: Sender<(ActionId, Outcome)>) {
        let (resource, operation) = match &action.kind {
            ActionKind::Start { resource } => (resource, Operation::Start),
            ActionKind::Stop { resource } => (resource, Operation::Stop),
            ActionKind::Monitor { resource } => (
                resource,
                Operation::Monitor {
                    depth: monitor_depth(&self.config, resource),
                },
            ),
            // A probe asks "is it running here at all?": the cheap check,
            // as pacemaker's probes run without OCF_CHECK_LEVEL.
            ActionKind::Probe { resource } => (resource, Operation::Monitor { depth: 0 }),
            ActionKind::Fence { target } => {
                return run_fence(&self.config, target.clone(), action, done);
            }
        };
        let probe = matches!(action.kind, ActionKind::Probe { .. });
        let agent = match self.agent(resource) {
            Ok(agent) => agent,
            Err((outcome, lacks_kind)) => {
                let outcome = if operation == Operation::Stop && lacks_kind {
                    // Nothing on this node can have started it: stopping
                    // it succeeds (a failed stop would get the node fenced).
                    log::info!(
                        "stop {resource}: its agent kind does not run in this build, nothing to stop"
                    );
                    Outcome::Ok
                } else if probe {
                    probe_result(outcome)
                } else {
                    outcome
                };
                if outcome != Outcome::Ok && outcome != Outcome::NotRunning {
                    log::error!("action failed: {operation:?} {resource} reason={outcome:?}");
                }
                let _ = done.try_send((action.id, outcome));
                return;
            }
        };
        log::debug!(
            "action: {operation:?} {resource} timeout={}",
            action.timeout
        );
        let timeout = action.timeout.to_std();
        let id = action.id;
        smol::spawn(async move {
            let outcome = agents::run_with_timeout(agent, operation, timeout).await;
            let outcome = if probe {
                probe_result(outcome)
            } else {
                outcome
            };
            let _ = done.send((id, outcome)).await;
        })
        .detach();
    }

    fn reload(&mut self, config: &Config) {
        self.config = config.clone();
        self.agents.clear();
    }
}

/// The configured depth (OCF_CHECK_LEVEL) of `resource`'s recurring
/// monitor: the first monitor op with an interval, the same one whose
/// interval the node schedules; 0 when none is configured.
pub fn monitor_depth(config: &Config, resource: &str) -> u32 {
    config
        .resource(resource)
        .and_then(|r| {
            r.ops
                .iter()
                .find(|o| o.name == "monitor" && !o.interval.is_zero())
        })
        .map_or(0, |o| o.depth)
}

/// Fences `target` on a blocking thread. The fence code keeps to the
/// deadline itself (killing what it started); the timer here is a safety
/// net so the node hears back exactly once even if that ever failed.
fn run_fence(config: &Config, target: String, action: Action, done: Sender<(ActionId, Outcome)>) {
    let config = config.clone();
    let timeout = action.timeout.to_std();
    let id = action.id;
    log::info!("action: fence {target} timeout={}", action.timeout);
    smol::spawn(async move {
        let deadline = std::time::Instant::now() + timeout;
        let work = smol::unblock(move || crate::fence::fence(&config, &target, deadline));
        let outcome = smol::future::or(work, async move {
            smol::Timer::after(timeout + std::time::Duration::from_secs(2)).await;
            Outcome::Timeout
        })
        .await;
        let _ = done.send((id, outcome)).await;
    })
    .detach();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn config(depth: u32) -> Config {
        // /proc as the "file system": mounted everywhere, reported with
        // source "proc", and no file can be created in it, so the depth-20
        // check (write and read back a status file) fails where depth 0
        // passes. Nothing is mounted or written by this test.
        config_with(&format!(
            r#"[resource.procfs]
agent = "filesystem"
params = {{ device = "proc", directory = "/proc", fstype = "proc" }}
ops = [ {{ name = "monitor", interval = "10s", depth = {depth} }} ]
"#
        ))
    }

    /// A one-node config with `resources`.
    fn config_with(resources: &str) -> Config {
        let text = format!(
            "[cluster]\nname = \"c\"\nkey_file = \"/etc/ha.key\"\nstonith_enabled = false\n\
             [[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n{resources}"
        );
        crate::config::parse(&text, "ha.toml")
            .unwrap_or_else(|d| panic!("{d:?}"))
            .config
    }

    fn run(runner: &mut AgentRunner, kind: ActionKind) -> Outcome {
        let (done, results) = smol::channel::unbounded();
        runner.run(
            Action {
                id: ActionId(1),
                kind,
                timeout: Duration::from_secs(10),
            },
            done,
        );
        smol::block_on(results.recv()).unwrap().1
    }

    // Goal: an agent kind this build cannot run (systemd) and an OCF
    // script that is not installed never get a node fenced: probes say
    // "not running here" (pacemaker's reading of rc 5 on a probe), a stop
    // of the kind that cannot run succeeds, and a start fails with rc 5
    // (which bans the node). Method: the runner on a config with both.
    #[test]
    fn agents_missing_here_are_not_running_and_stop_cleanly() {
        let config = config_with(
            "[resource.web]\nagent = \"systemd:ha-test-no-such-unit\"\n\
             [resource.dummy]\nagent = \"ocf:ha-test-no-such-provider:Dummy\"\n",
        );
        let mut runner = AgentRunner::new(&config, "n1");
        for r in ["web", "dummy"] {
            let probe = ActionKind::Probe { resource: r.into() };
            assert_eq!(run(&mut runner, probe), Outcome::NotRunning, "probe {r}");
            let stop = ActionKind::Stop { resource: r.into() };
            assert_eq!(run(&mut runner, stop), Outcome::Ok, "stop {r}");
            let start = ActionKind::Start { resource: r.into() };
            match run(&mut runner, start) {
                Outcome::Failed { rc: 5, .. } => {}
                other => panic!("start {r} must fail as not installed, got {other:?}"),
            }
        }
        // A resource the config does not have (a reload raced the action)
        // is a configuration error, not "not running".
        let probe = ActionKind::Probe {
            resource: "gone".into(),
        };
        match run(&mut runner, probe) {
            Outcome::Failed { rc: 6, .. } => {}
            other => panic!("probe of an unknown resource: {other:?}"),
        }
    }

    // Goal: the monitor op's configured depth (OCF_CHECK_LEVEL) reaches the
    // agent, and probes stay at depth 0. Method: the real filesystem agent
    // on /proc, where depth 0 (mounted) passes and depth 20 (write a status
    // file) cannot.
    #[test]
    fn monitor_runs_at_the_configured_depth_and_probes_at_zero() {
        let monitor = || ActionKind::Monitor {
            resource: "procfs".into(),
        };
        let probe = || ActionKind::Probe {
            resource: "procfs".into(),
        };
        let deep = config(20);
        assert_eq!(monitor_depth(&deep, "procfs"), 20);
        let mut runner = AgentRunner::new(&deep, "n1");
        match run(&mut runner, monitor()) {
            Outcome::Failed { reason, .. } => {
                assert!(reason.contains(".ha_monitor_n1"), "{reason}")
            }
            other => panic!("a depth-20 monitor on /proc must fail, got {other:?}"),
        }
        assert_eq!(run(&mut runner, probe()), Outcome::Ok);

        let shallow = config(0);
        assert_eq!(monitor_depth(&shallow, "procfs"), 0);
        let mut runner = AgentRunner::new(&shallow, "n1");
        assert_eq!(run(&mut runner, monitor()), Outcome::Ok);
        assert_eq!(monitor_depth(&shallow, "no-such-resource"), 0);
    }
}
