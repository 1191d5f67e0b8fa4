//! The `ipmi` driver: IPMI v2.0 over LAN (RMCP+) through `ipmitool`, as
//! fence_ipmilan does it.
//!
//! `ipmitool -I lanplus -C CIPHER -H host [-p port] [-U username]
//! [-f password_file] [-L privlvl] chassis power off`, then `chassis power
//! status` every half second until it prints "Chassis Power is off"; only
//! that counts as confirmed. The password stays in its file: ha passes the
//! file name (`-f`), never the password, so it is in no command line, log
//! or `ha status`. Cipher suite 3 (RAKP-HMAC-SHA1, AES-128) is the default,
//! as in fence_ipmilan and as OpenIPMI's `ipmi_sim` requires.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::process::{self, RunError};
use super::{Failure, rc};
use crate::config::FenceDevice;

/// The BMC's parameters, read from a validated device.
#[derive(Debug)]
struct Bmc {
    host: String,
    port: Option<i64>,
    username: Option<String>,
    password_file: Option<PathBuf>,
    ipmitool: Option<PathBuf>,
    cipher: i64,
    privlvl: Option<String>,
}

impl Bmc {
    fn from(device: &FenceDevice) -> Result<Bmc, Failure> {
        let p = &device.params;
        let text = |k: &str| p.get(k).and_then(|v| v.as_str()).map(str::to_string);
        let Some(host) = text("host") else {
            return Err(Failure::new(
                rc::ERR_CONFIGURED,
                "no params.host (the BMC's address)",
            ));
        };
        Ok(Bmc {
            host,
            port: p.get("port").and_then(|v| v.as_integer()),
            username: text("username"),
            password_file: text("password_file").map(PathBuf::from),
            ipmitool: text("ipmitool").map(PathBuf::from),
            cipher: p.get("cipher").and_then(|v| v.as_integer()).unwrap_or(3),
            privlvl: text("privlvl"),
        })
    }

    /// The arguments that reach the BMC, before the command.
    fn args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = ["-I", "lanplus", "-C"].iter().map(OsString::from).collect();
        a.push(self.cipher.to_string().into());
        a.push("-H".into());
        a.push(self.host.clone().into());
        if let Some(port) = self.port {
            a.push("-p".into());
            a.push(port.to_string().into());
        }
        if let Some(user) = &self.username {
            a.push("-U".into());
            a.push(user.clone().into());
        }
        if let Some(file) = &self.password_file {
            a.push("-f".into());
            a.push(file.clone().into());
        }
        if let Some(level) = &self.privlvl {
            a.push("-L".into());
            a.push(level.to_uppercase().into());
        }
        a
    }
}

/// Powers `target` off through its BMC and waits until the BMC reports off.
pub fn off(device: &FenceDevice, target: &str, deadline: Instant) -> Result<String, Failure> {
    let bmc = Bmc::from(device)?;
    let program = match &bmc.ipmitool {
        Some(path) => Some(path.clone()).filter(|p| p.is_file()),
        None => process::find_program("ipmitool"),
    };
    let Some(program) = program else {
        return Err(Failure::new(
            rc::ERR_INSTALLED,
            format!(
                "ipmitool not found ({}); install it (Debian: apt-get install ipmitool)",
                bmc.ipmitool.as_ref().map_or_else(
                    || String::from("looked in PATH, /usr/sbin and /sbin"),
                    |p| format!("params.ipmitool = {}", p.display())
                )
            ),
        ));
    };
    if let Some(file) = &bmc.password_file
        && let Err(e) = std::fs::File::open(file)
    {
        // ipmitool would only say "Unable to read password from file".
        return Err(Failure::new(
            rc::ERR_CONFIGURED,
            format!("password_file {}: {e}", file.display()),
        ));
    }
    let base = bmc.args();
    let run = |command: &[&str]| -> Result<process::Finished, Failure> {
        let mut args: Vec<&OsStr> = base.iter().map(OsString::as_os_str).collect();
        args.extend(command.iter().map(OsStr::new));
        match process::run(&program, &args, &[], None, deadline) {
            Ok(f) => Ok(f),
            Err(RunError::Deadline) => Err(Failure::timeout(format!(
                "ipmitool -H {} {} still running at the deadline; killed",
                bmc.host,
                command.join(" ")
            ))),
            Err(RunError::Spawn(e)) => Err(Failure::new(
                rc::ERR_INSTALLED,
                format!("cannot run {}: {e}", program.display()),
            )),
        }
    };
    let off = run(&["chassis", "power", "off"])?;
    if off.code != Some(0) {
        return Err(Failure::new(
            rc::ERR_GENERIC,
            format!(
                "ipmitool -H {} chassis power off failed ({}): {}",
                bmc.host,
                exit(off.code),
                process::last_line(&format!("{}\n{}", off.stdout, off.stderr))
            ),
        ));
    }
    loop {
        let status = run(&["chassis", "power", "status"])?;
        let said = process::last_line(&status.stdout).to_lowercase();
        if status.code == Some(0) && said.ends_with("is off") {
            return Ok(format!("BMC {} reports {target} off", bmc.host));
        }
        if status.code != Some(0) {
            // A BMC busy powering off may drop one session; ask again
            // until the deadline rather than fail on one lost answer.
            log::debug!(
                "fence: ipmitool -H {} chassis power status failed ({}): {}",
                bmc.host,
                exit(status.code),
                process::last_line(&status.stderr)
            );
        }
        if Instant::now() + Duration::from_millis(500) >= deadline {
            return Err(Failure::timeout(format!(
                "BMC {} accepted power off but did not report off before the deadline (last answer: {})",
                bmc.host,
                if said.is_empty() {
                    process::last_line(&status.stderr)
                } else {
                    said
                }
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn exit(code: Option<i32>) -> String {
    match code {
        Some(c) => format!("exit {c}"),
        None => String::from("killed by a signal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: the ipmitool command line carries the file name of the
    // password, never a password, and uses lanplus with cipher suite 3
    // unless told otherwise.
    #[test]
    fn command_line() {
        let device = FenceDevice {
            name: String::from("ipmi-n2"),
            driver: crate::config::FenceDriver::Ipmi,
            targets: vec![String::from("n2")],
            level: 1,
            delay: crate::time::Duration::ZERO,
            params: [
                ("host", toml::Value::String("10.0.0.12".into())),
                ("port", toml::Value::Integer(6230)),
                ("username", toml::Value::String("admin".into())),
                ("password_file", toml::Value::String("/etc/ha/p".into())),
                ("privlvl", toml::Value::String("operator".into())),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        };
        let args: Vec<String> = Bmc::from(&device)
            .unwrap()
            .args()
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args.join(" "),
            "-I lanplus -C 3 -H 10.0.0.12 -p 6230 -U admin -f /etc/ha/p -L OPERATOR"
        );
    }
}
