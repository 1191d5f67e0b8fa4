//! External agents: OCF resource agents (`ocf:PROVIDER:TYPE`) and LSB init
//! scripts (`lsb:NAME`), run as programs the way pacemaker runs them, so an
//! existing script works unchanged.
//!
//! - OCF: `$OCF_ROOT/resource.d/PROVIDER/TYPE ACTION` with ACTION start,
//!   stop, monitor or validate-all; every param as `OCF_RESKEY_<name>`, plus
//!   `OCF_ROOT`, `OCF_RA_VERSION_MAJOR/MINOR`, `OCF_RESOURCE_INSTANCE`,
//!   `OCF_RESOURCE_TYPE`, `OCF_RESOURCE_PROVIDER`,
//!   `OCF_RESKEY_CRM_meta_timeout` (ms) and, for monitor, `OCF_CHECK_LEVEL`.
//!   Exit codes are OCF's own: 0 ok, 7 not running, others failed.
//! - LSB: `/etc/init.d/NAME start|stop|status`. Status 0 is running; 1, 2
//!   and 3 (dead with a pid file, dead with a lock file, stopped) are not
//!   running, as pacemaker maps them; 4 (unknown) and others failed. LSB
//!   scripts take no parameters.
//!
//! Each run is bounded by the resource's timeout for that operation (its
//! `ops` entry, else `[defaults] op_timeout`): at the deadline the script's
//! whole process group is killed and the operation reports a timeout, so
//! nothing it started outlives it. A stop with rc 7 (already stopped) is a
//! success, and so is a stop when the program is missing (nothing on this
//! node can have started the resource through it), as for an agent kind
//! this build lacks.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Agent, AgentError, failed, rc};
use crate::config::Resource;
use crate::fence::process::{self, RunError};
use crate::node::Outcome;

/// Where pacemaker's resource-agents live (`OCF_ROOT`).
pub const OCF_ROOT: &str = "/usr/lib/ocf";
/// Where LSB init scripts live.
pub const LSB_DIR: &str = "/etc/init.d";

/// The OCF script for `provider`/`kind` under `root`.
pub fn ocf_path(root: &Path, provider: &str, kind: &str) -> PathBuf {
    root.join("resource.d").join(provider).join(kind)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Ocf,
    Lsb,
}

/// Per-operation time limits, from the resource's `ops`.
#[derive(Clone, Copy, Debug)]
struct Timeouts {
    start: Duration,
    stop: Duration,
    monitor: Duration,
    validate: Duration,
}

/// One resource's OCF or LSB script.
#[derive(Debug)]
pub struct External {
    resource: String,
    program: PathBuf,
    style: Style,
    /// The environment every run gets (OCF only).
    env: Vec<(String, String)>,
    timeouts: Timeouts,
}

impl External {
    /// The OCF agent `ocf:PROVIDER:TYPE` under `root` (normally
    /// [`OCF_ROOT`]); `default_timeout` is `[defaults] op_timeout`.
    pub fn ocf(
        resource: &Resource,
        root: &Path,
        provider: &str,
        kind: &str,
        default_timeout: Duration,
    ) -> Result<External, AgentError> {
        let mut env = vec![
            ("OCF_ROOT".to_string(), root.display().to_string()),
            ("OCF_RA_VERSION_MAJOR".to_string(), "1".to_string()),
            ("OCF_RA_VERSION_MINOR".to_string(), "1".to_string()),
            ("OCF_RESOURCE_INSTANCE".to_string(), resource.id.clone()),
            ("OCF_RESOURCE_TYPE".to_string(), kind.to_string()),
            ("OCF_RESOURCE_PROVIDER".to_string(), provider.to_string()),
        ];
        for (name, value) in &resource.params {
            env.push((
                format!("OCF_RESKEY_{name}"),
                param_text(resource, name, value)?,
            ));
        }
        Ok(External {
            resource: resource.id.clone(),
            program: ocf_path(root, provider, kind),
            style: Style::Ocf,
            env,
            timeouts: Timeouts::of(resource, default_timeout),
        })
    }

    /// The LSB init script `NAME` in `dir` (normally [`LSB_DIR`]).
    pub fn lsb(
        resource: &Resource,
        dir: &Path,
        name: &str,
        default_timeout: Duration,
    ) -> Result<External, AgentError> {
        if let Some(param) = resource.params.keys().next() {
            return Err(AgentError::Param {
                resource: resource.id.clone(),
                param: param.clone(),
                problem: "LSB init scripts take no parameters".to_string(),
                hint:
                    "remove params, or use the script's own configuration (often /etc/default/NAME)"
                        .to_string(),
            });
        }
        Ok(External {
            resource: resource.id.clone(),
            program: dir.join(name),
            style: Style::Lsb,
            env: Vec::new(),
            timeouts: Timeouts::of(resource, default_timeout),
        })
    }

    /// Runs the script with `action` within `timeout`; the exit code, or
    /// the outcome to report when there is none.
    fn run(
        &self,
        action: &str,
        timeout: Duration,
        extra: &[(String, String)],
    ) -> Result<i32, Outcome> {
        let mut env = self.env.clone();
        if self.style == Style::Ocf {
            env.push((
                "OCF_RESKEY_CRM_meta_timeout".to_string(),
                timeout.as_millis().to_string(),
            ));
        }
        env.extend_from_slice(extra);
        let deadline = Instant::now() + timeout;
        match process::run(&self.program, &[OsStr::new(action)], &env, None, deadline) {
            Ok(done) => match done.code {
                Some(code) => {
                    if code != 0 {
                        let said = process::last_line(&done.stderr);
                        let said = if said.is_empty() {
                            process::last_line(&done.stdout)
                        } else {
                            said
                        };
                        if !said.is_empty() {
                            log::info!("{} {action}: rc={code}: {said}", self.resource);
                        }
                    }
                    Ok(code)
                }
                None => Err(failed(
                    rc::ERR_GENERIC,
                    format!("{} {action} was killed by a signal", self.program.display()),
                )),
            },
            Err(RunError::Deadline) => Err(Outcome::Timeout),
            Err(RunError::Spawn(e)) => Err(self.not_runnable(&e)),
        }
    }

    /// Why the script could not be started, as OCF says it.
    fn not_runnable(&self, e: &std::io::Error) -> Outcome {
        let code = match e.kind() {
            std::io::ErrorKind::NotFound => rc::ERR_INSTALLED,
            std::io::ErrorKind::PermissionDenied => rc::ERR_PERM,
            _ => rc::ERR_GENERIC,
        };
        failed(code, format!("cannot run {}: {e}", self.program.display()))
    }

    fn missing(&self) -> bool {
        !self.program.is_file()
    }
}

impl Agent for External {
    fn start(&self) -> Outcome {
        match self.run("start", self.timeouts.start, &[]) {
            Ok(0) => Outcome::Ok,
            Ok(code) => failed(
                code,
                format!("{} start exited {code}", self.program.display()),
            ),
            Err(outcome) => outcome,
        }
    }

    fn stop(&self) -> Outcome {
        if self.missing() {
            return Outcome::Ok;
        }
        match self.run("stop", self.timeouts.stop, &[]) {
            Ok(0 | rc::NOT_RUNNING) => Outcome::Ok,
            Ok(code) => failed(
                code,
                format!("{} stop exited {code}", self.program.display()),
            ),
            Err(outcome) => outcome,
        }
    }

    fn monitor(&self, depth: u32) -> Outcome {
        let (action, extra) = match self.style {
            Style::Ocf => (
                "monitor",
                vec![("OCF_CHECK_LEVEL".to_string(), depth.to_string())],
            ),
            Style::Lsb => ("status", Vec::new()),
        };
        match (self.style, self.run(action, self.timeouts.monitor, &extra)) {
            (_, Ok(0)) => Outcome::Ok,
            (Style::Ocf, Ok(rc::NOT_RUNNING)) | (Style::Lsb, Ok(1..=3)) => Outcome::NotRunning,
            (_, Ok(code)) => failed(
                code,
                format!("{} {action} exited {code}", self.program.display()),
            ),
            (_, Err(outcome)) => outcome,
        }
    }

    fn validate(&self) -> Outcome {
        match self.style {
            Style::Ocf => match self.run("validate-all", self.timeouts.validate, &[]) {
                Ok(0) => Outcome::Ok,
                Ok(code) => failed(
                    code,
                    format!("{} validate-all exited {code}", self.program.display()),
                ),
                Err(outcome) => outcome,
            },
            // LSB has no validate action: the script must be there.
            Style::Lsb if self.missing() => failed(
                rc::ERR_INSTALLED,
                format!("{} is not installed", self.program.display()),
            ),
            Style::Lsb => Outcome::Ok,
        }
    }
}

impl Timeouts {
    fn of(resource: &Resource, default: Duration) -> Timeouts {
        let op = |name: &str| {
            resource
                .ops
                .iter()
                .find(|o| o.name == name)
                .map_or(default, |o| {
                    std::time::Duration::from_millis(o.timeout.as_millis())
                })
        };
        Timeouts {
            start: op("start"),
            stop: op("stop"),
            monitor: op("monitor"),
            validate: op("validate"),
        }
    }
}

/// A param as the script sees it: strings as written, numbers and booleans
/// in TOML's spelling. Lists and tables have no OCF form.
fn param_text(resource: &Resource, name: &str, value: &toml::Value) -> Result<String, AgentError> {
    match value {
        toml::Value::String(s) => Ok(s.clone()),
        toml::Value::Integer(_) | toml::Value::Float(_) | toml::Value::Boolean(_) => {
            Ok(value.to_string())
        }
        _ => Err(AgentError::Param {
            resource: resource.id.clone(),
            param: name.to_string(),
            problem: "an OCF parameter is a string, number or boolean".to_string(),
            hint: "write lists as the script expects them, e.g. one space-separated string"
                .to_string(),
        }),
    }
}
