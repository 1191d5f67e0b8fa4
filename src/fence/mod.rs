//! STONITH: carrying out "fence node X" through the configured `[[fence]]`
//! devices, and nothing else.
//!
//! Input: the validated config, the target's node name and a deadline.
//! Output: a `node::Outcome`, `Ok` only once a device has confirmed that
//! the target is off (a BMC answering "Chassis Power is off", a fence agent
//! answering `status` with exit 2). Anything else (a device that refused,
//! could not be reached, or did not confirm in time) is a failure with the
//! reason, and the node keeps the target unclean and retries.
//!
//! Topology as in pacemaker: the target's devices are grouped by `level`,
//! lowest first; every device of a level must confirm for the level to
//! succeed, and a failed level hands over to the next. Each device attempt
//! gets `[defaults] op_timeout`, bounded by the action's own deadline.
//!
//! Drivers: [`ipmi`] (ipmitool, as fence_ipmilan) and [`external`] (a
//! fence-agents program). `sbd` has no driver in this build, and the
//! `watchdog` "device" cannot confirm that another node is off (the core's
//! watchdog wait covers that case), so both fail honestly.
//!
//! Blocking: run it on a thread of its own (the daemon uses
//! `smol::unblock`). It never logs a password: ipmi passes a password
//! file's name, and agent output is stripped of secret params.

pub mod external;
pub mod ipmi;
pub mod process;

use std::collections::BTreeMap;
use std::time::Instant;

use crate::config::{Config, FenceDevice, FenceDriver};
use crate::node::Outcome;

/// Exit codes in `Outcome::Failed`, as OCF defines them.
pub mod rc {
    pub const ERR_GENERIC: i32 = 1;
    pub const ERR_UNIMPLEMENTED: i32 = 3;
    pub const ERR_INSTALLED: i32 = 5;
    pub const ERR_CONFIGURED: i32 = 6;
}

/// Why one device did not confirm the target off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub rc: i32,
    pub reason: String,
    /// The device ran into the deadline.
    pub timed_out: bool,
}

impl Failure {
    pub fn new(rc: i32, reason: impl Into<String>) -> Failure {
        Failure {
            rc,
            reason: reason.into(),
            timed_out: false,
        }
    }

    pub fn timeout(reason: impl Into<String>) -> Failure {
        Failure {
            rc: rc::ERR_GENERIC,
            reason: reason.into(),
            timed_out: true,
        }
    }
}

/// Fences `target` through its devices, level by level, finishing by
/// `deadline`. Blocks.
pub fn fence(config: &Config, target: &str, deadline: Instant) -> Outcome {
    let levels = levels(config, target);
    if levels.is_empty() {
        let reason = format!("no [[fence]] device lists {target} in its targets");
        log::error!("fence: failed target={target} reason=\"{reason}\"");
        return Outcome::Failed {
            rc: rc::ERR_CONFIGURED,
            reason,
        };
    }
    let per_device = config.defaults.op_timeout.to_std();
    // (device: reason, whether it ran out of time)
    let mut failures: Vec<(String, bool)> = Vec::new();
    for (level, devices) in &levels {
        let mut level_ok = true;
        for device in devices {
            let now = Instant::now();
            if now >= deadline {
                level_ok = false;
                failures.push((format!("{}: not tried, out of time", device.name), true));
                break;
            }
            let device_deadline = deadline.min(now + per_device);
            log::info!(
                "fence: trying target={target} device={} driver={} level={level}",
                device.name,
                driver_name(device.driver)
            );
            match off(device, target, device_deadline) {
                Ok(confirmed) => log::warn!(
                    "fence: confirmed target={target} device={} ms={} how=\"{confirmed}\"",
                    device.name,
                    now.elapsed().as_millis()
                ),
                Err(f) => {
                    log::error!(
                        "fence: device failed target={target} device={} level={level} rc={} ms={} reason=\"{}\"",
                        device.name,
                        f.rc,
                        now.elapsed().as_millis(),
                        f.reason
                    );
                    failures.push((format!("{}: {}", device.name, f.reason), f.timed_out));
                    level_ok = false;
                    // Every device of a level must confirm; the next level
                    // is the fallback.
                    break;
                }
            }
        }
        if level_ok {
            return Outcome::Ok;
        }
    }
    // Only silence everywhere is a timeout; a device that said no is a
    // failure with its reason.
    if failures.iter().all(|(_, timed_out)| *timed_out) {
        return Outcome::Timeout;
    }
    let reasons: Vec<String> = failures.into_iter().map(|(r, _)| r).collect();
    Outcome::Failed {
        rc: rc::ERR_GENERIC,
        reason: reasons.join("; "),
    }
}

/// The devices that can fence `target`, by level (lowest first), each
/// level in config order.
pub fn levels<'c>(config: &'c Config, target: &str) -> BTreeMap<u32, Vec<&'c FenceDevice>> {
    let mut levels: BTreeMap<u32, Vec<&FenceDevice>> = BTreeMap::new();
    for device in &config.fences {
        if device.targets.iter().any(|t| t == target) {
            levels.entry(device.level).or_default().push(device);
        }
    }
    levels
}

/// One device, one attempt: Ok with how it was confirmed.
fn off(device: &FenceDevice, target: &str, deadline: Instant) -> Result<String, Failure> {
    match device.driver {
        FenceDriver::Ipmi => ipmi::off(device, target, deadline),
        FenceDriver::External => external::off(device, target, deadline),
        FenceDriver::Sbd => Err(Failure::new(
            rc::ERR_UNIMPLEMENTED,
            "no sbd driver in this build",
        )),
        FenceDriver::Watchdog => Err(Failure::new(
            rc::ERR_UNIMPLEMENTED,
            "a watchdog cannot confirm that another node is off; a lost node is presumed reset \
             only after twice the [watchdog] timeout, when it cannot keep quorum alone",
        )),
    }
}

fn driver_name(driver: FenceDriver) -> &'static str {
    match driver {
        FenceDriver::Ipmi => "ipmi",
        FenceDriver::Sbd => "sbd",
        FenceDriver::Watchdog => "watchdog",
        FenceDriver::External => "external",
    }
}
