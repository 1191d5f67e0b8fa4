//! `ha check` and `ha keygen`.
//!
//! `ha check` loads a config exactly as `ha run` would, prints every
//! diagnostic to stderr and a one-line summary, and adds the checks that
//! need this machine: the key file (a warning here, an error for `ha run`)
//! and the programs external agents call (SPEC: check only warns, the
//! config may be checked anywhere). Exit 0 valid, 2 on any error.
//! `ha keygen` writes a fresh key; see [`super::key::write_key`].

use std::path::{Path, PathBuf};

use argh::FromArgs;

use super::key::{KeygenError, key_file_warnings, write_key};
use super::{Agent, Config, Diagnostic, Severity};

/// Validate a config without running it (like crm_verify). Prints every
/// problem as FILE:LINE:COL: message, with a hint. Exit 0 when valid
/// (warnings allowed), 2 on any error.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "check",
    example = "ha check -c /etc/ha.toml",
    example = "ha check -c config/web-cluster.toml",
    note = "Every problem is reported, not only the first. Errors are unknown keys (with a \"did you mean\"), bad values, unknown node or resource names, duplicate ids, order cycles and the like. Warnings (the config still loads) include resources no node can run, a key file that is missing or readable by others (an error for `ha run`), and agent programs missing on this machine. The config may be checked on any machine; no local node is needed.",
    error_code(0, "the config is valid (warnings may have been printed)"),
    error_code(2, "the config has errors, or cannot be read")
)]
pub struct CheckArgs {
    /// config file (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
}

/// Write a fresh 32-byte cluster key from the OS RNG, mode 0600 (like
/// corosync-keygen). Copy the same key to every node.
#[derive(FromArgs, Debug)]
#[argh(
    subcommand,
    name = "keygen",
    example = "ha keygen -o /etc/ha.key",
    note = "The key authenticates and encrypts every packet. It is written to a temporary file created with mode 0600 in the same directory, synced, then moved into place, so a reader never sees a partial key. Copy the file to every node (e.g. with scp -p) and keep it mode 0600.",
    error_code(0, "the key was written"),
    error_code(1, "writing failed (no such directory, no permission, no randomness)"),
    error_code(2, "the file exists and --force was not given")
)]
pub struct KeygenArgs {
    /// where to write the key (default /etc/ha.key)
    #[argh(option, short = 'o', default = "String::from(\"/etc/ha.key\")")]
    pub output: String,
    /// overwrite an existing key file
    #[argh(switch)]
    pub force: bool,
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Runs `ha check`; returns the exit code.
pub fn check(args: CheckArgs) -> i32 {
    let file = args.config.as_str();
    let loaded = match super::load_file(Path::new(file)) {
        Ok(l) => l,
        Err(diagnostics) => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            let errors = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .count();
            let warnings = diagnostics.len() - errors;
            eprintln!(
                "{file}: {}, {}",
                plural(errors, "error"),
                plural(warnings, "warning")
            );
            return 2;
        }
    };
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut diagnostics = loaded.warnings;
    diagnostics.extend(key_file_warnings(&loaded.config, file, &text));
    diagnostics.extend(missing_programs(&loaded.config, file, &text));
    diagnostics.extend(agent_checks(&loaded.config, file, &text));
    diagnostics.sort_by_key(|d| (d.line, d.col));
    for d in &diagnostics {
        eprintln!("{d}");
    }
    let errors = diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if errors > 0 {
        let warnings = diagnostics.len() - errors;
        eprintln!(
            "{file}: {}, {}",
            plural(errors, "error"),
            plural(warnings, "warning")
        );
        return 2;
    }
    let warnings = diagnostics;
    let c = &loaded.config;
    println!(
        "{file}: ok ({}, {}, {})",
        plural(c.nodes.len(), "node"),
        plural(c.resources.len(), "resource"),
        plural(warnings.len(), "warning")
    );
    0
}

/// The program an external agent runs, if it is not on this machine.
fn missing_program(agent: &Agent) -> Option<(PathBuf, &'static str)> {
    match agent {
        Agent::Ocf { provider, kind } => {
            let path = crate::agents::external::ocf_path(
                Path::new(crate::agents::external::OCF_ROOT),
                provider,
                kind,
            );
            (!path.exists())
                .then_some((path, "install the resource-agents package that provides it"))
        }
        Agent::Lsb(name) => {
            let path = Path::new(crate::agents::external::LSB_DIR).join(name);
            (!path.exists()).then_some((path, "install the init script, or use systemd:UNIT"))
        }
        Agent::Systemd(_) => {
            let found = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .chain(["/usr/bin", "/bin"].map(PathBuf::from))
                .any(|d| d.join("systemctl").exists());
            (!found).then_some((
                PathBuf::from("systemctl"),
                "systemd agents run systemctl; this machine has none",
            ))
        }
        Agent::Vip | Agent::Filesystem | Agent::Nfs => None,
    }
}

/// Line and column of the deepest key of `path` present in the config
/// text (`["resource", "web", "params", "ip"]`), or (0, 0).
fn place(file: &str, text: &str, path: &[&str]) -> (usize, usize) {
    let Ok(root) = toml::de::DeTable::parse(text) else {
        return (0, 0);
    };
    let mut table = root.get_ref();
    let mut span = None;
    for key in path {
        let Some((k, v)) = table.get_key_value(*key) else {
            break;
        };
        span = Some(k.span());
        match v.get_ref().as_table() {
            Some(t) => table = t,
            None => break,
        }
    }
    span.map_or((0, 0), |s| {
        super::report::Report::new(file, text).position(s.start)
    })
}

/// Runs the built-in agents' own parameter checks (the ones `ha run`
/// applies before starting a resource), so that a config `ha check`
/// accepts does not fail later on a parameter. Agents this build cannot
/// run are a warning.
fn agent_checks(config: &Config, file: &str, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in &config.resources {
        let (severity, place, message, hint) = match crate::agents::for_resource(
            r,
            "check",
            config.defaults.op_timeout,
        ) {
            Ok(_) => continue,
            Err(crate::agents::AgentError::Param {
                param,
                problem,
                hint,
                ..
            }) => (
                Severity::Error,
                place(file, text, &["resource", &r.id, "params", &param]),
                format!("[resource.{}] params.{param}: {problem}", r.id),
                hint,
            ),
            Err(crate::agents::AgentError::Unsupported { agent, .. }) => (
                Severity::Warning,
                place(file, text, &["resource", &r.id, "agent"]),
                format!(
                    "[resource.{}]: agent \"{agent}\" is not available in this build",
                    r.id
                ),
                String::from(
                    "the config is valid, but `ha run` cannot start this resource; `ha agents` lists what runs",
                ),
            ),
        };
        out.push(Diagnostic {
            severity,
            file: file.to_string(),
            line: place.0,
            col: place.1,
            message,
            hint: (!hint.is_empty()).then_some(hint),
        });
    }
    out
}

/// Warnings for external agents whose program is missing here, pointing at
/// each resource's `agent` key.
fn missing_programs(config: &Config, file: &str, text: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for r in &config.resources {
        if let Some((path, hint)) = missing_program(&r.agent) {
            let (line, col) = place(file, text, &["resource", &r.id, "agent"]);
            out.push(Diagnostic {
                severity: Severity::Warning,
                file: file.to_string(),
                line,
                col,
                message: format!(
                    "[resource.{}]: {} is not on this machine",
                    r.id,
                    path.display()
                ),
                hint: Some(format!(
                    "{hint}; the config may still be valid for the cluster nodes"
                )),
            });
        }
    }
    out
}

/// Runs `ha keygen`; returns the exit code: 0 written, 2 when the file
/// exists and --force was not given (fix the command line), 1 when the OS
/// failed us (no entropy, no directory, no permission).
pub fn keygen(args: KeygenArgs) -> i32 {
    if args.output.is_empty() {
        eprintln!("ha keygen: -o needs a file name");
        return 2;
    }
    let path = Path::new(&args.output);
    match write_key(path, args.force) {
        Ok(()) => {
            println!(
                "{}: wrote a new 32-byte key (mode 0600); copy it to every node",
                path.display()
            );
            0
        }
        Err(e @ KeygenError::Exists(_)) => {
            eprintln!("ha keygen: {e}");
            2
        }
        Err(e) => {
            eprintln!("ha keygen: {e}");
            1
        }
    }
}
