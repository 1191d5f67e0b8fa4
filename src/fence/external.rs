//! The `external` driver: a fence-agents program (fence_ipmilan,
//! fence_redfish, fence_virsh, ... or a script of your own) run the way
//! pacemaker's fencer runs it.
//!
//! Protocol (fence-agents): the options go to the agent's stdin, one
//! `key=value` per line. ha sends `action=off`, the target's node name as
//! `plug=`, `port=` (its older name) and `nodename=`, then every param of
//! the device except `agent` (booleans as 1/0). Exit 0 means the action
//! succeeded. ha then asks `action=status` and counts the target as fenced
//! only when the agent answers exit 2, which fence-agents use for "off"
//! (0 = on, 1 = error); "on" is asked again every half second until the
//! deadline. Secrets (params whose name contains "pass") are blanked out of
//! any agent output ha repeats.

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use super::process::{self, RunError};
use super::{Failure, rc};
use crate::config::FenceDevice;

/// fence-agents' exit code of `status` for a target that is off.
const STATUS_OFF: i32 = 2;
/// fence-agents' exit code of `status` for a target that is on.
const STATUS_ON: i32 = 0;

/// Powers `target` off through the agent and waits for it to say "off".
pub fn off(device: &FenceDevice, target: &str, deadline: Instant) -> Result<String, Failure> {
    let Some(agent) = device.params.get("agent").and_then(|v| v.as_str()) else {
        return Err(Failure::new(
            rc::ERR_CONFIGURED,
            "no params.agent: name the fence-agents program, e.g. agent = \"fence_ipmilan\"",
        ));
    };
    let Some(program) = process::find_program(agent) else {
        return Err(Failure::new(
            rc::ERR_INSTALLED,
            format!("fence agent {agent} not found in PATH, /usr/sbin or /sbin"),
        ));
    };
    let secrets = secrets(device);
    let run = |action: &str| -> Result<process::Finished, Failure> {
        let input = stdin_for(device, action, target);
        match process::run(
            &program,
            &[] as &[&OsStr],
            &[],
            Some(input.as_bytes()),
            deadline,
        ) {
            Ok(f) => Ok(f),
            Err(RunError::Deadline) => Err(Failure::timeout(format!(
                "{agent} action={action} still running at the deadline; killed"
            ))),
            Err(RunError::Spawn(e)) => Err(Failure::new(
                rc::ERR_INSTALLED,
                format!("cannot run {}: {e}", program.display()),
            )),
        }
    };
    let off = run("off")?;
    if off.code != Some(0) {
        return Err(Failure::new(
            rc::ERR_GENERIC,
            format!(
                "{agent} action=off failed ({}): {}",
                describe_exit(off.code),
                redact(&process::last_line(&off.stderr), &secrets)
            ),
        ));
    }
    loop {
        let status = run("status")?;
        match status.code {
            Some(STATUS_OFF) => return Ok(format!("{agent} reports {target} off")),
            Some(STATUS_ON) => {
                if Instant::now() + Duration::from_millis(500) >= deadline {
                    return Err(Failure::timeout(format!(
                        "{agent} accepted action=off but status still says on at the deadline"
                    )));
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            code => {
                return Err(Failure::new(
                    rc::ERR_GENERIC,
                    format!(
                        "{agent} action=status after off answered {} (2 = off is required): {}",
                        describe_exit(code),
                        redact(&process::last_line(&status.stderr), &secrets)
                    ),
                ));
            }
        }
    }
}

/// The agent's stdin for `action` on `target`.
fn stdin_for(device: &FenceDevice, action: &str, target: &str) -> String {
    let mut text = format!("action={action}\nplug={target}\nport={target}\nnodename={target}\n");
    for (key, value) in &device.params {
        if key == "agent" {
            continue;
        }
        let value = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Boolean(b) => String::from(if *b { "1" } else { "0" }),
            other => other.to_string(),
        };
        text.push_str(&format!("{key}={value}\n"));
    }
    text
}

/// Values that must never appear in a log line.
fn secrets(device: &FenceDevice) -> Vec<String> {
    device
        .params
        .iter()
        .filter(|(k, _)| k.contains("pass"))
        .filter_map(|(_, v)| v.as_str().map(str::to_string))
        .filter(|s| !s.is_empty())
        .collect()
}

fn redact(text: &str, secrets: &[String]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |t, s| t.replace(s.as_str(), "***"))
}

fn describe_exit(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit {c}"),
        None => String::from("killed by a signal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(params: &[(&str, toml::Value)]) -> FenceDevice {
        FenceDevice {
            name: String::from("f"),
            driver: crate::config::FenceDriver::External,
            targets: vec![String::from("n2")],
            level: 1,
            delay: crate::time::Duration::ZERO,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        }
    }

    // Goal: the stdin follows fence-agents' key=value form with the target
    // as plug, params after it, booleans as 1/0 and `agent` left out; and
    // passwords are blanked out of output that ha repeats.
    #[test]
    fn stdin_and_redaction() {
        let d = device(&[
            ("agent", toml::Value::String("fence_x".into())),
            ("ip", toml::Value::String("10.0.0.9".into())),
            ("lanplus", toml::Value::Boolean(true)),
            ("ipport", toml::Value::Integer(623)),
            ("password", toml::Value::String("s3cret".into())),
        ]);
        assert_eq!(
            stdin_for(&d, "off", "n2"),
            "action=off\nplug=n2\nport=n2\nnodename=n2\nip=10.0.0.9\nipport=623\nlanplus=1\npassword=s3cret\n"
        );
        assert_eq!(
            redact("login failed for s3cret@10.0.0.9", &secrets(&d)),
            "login failed for ***@10.0.0.9"
        );
    }
}
