//! The `params` of a `[[fence]]` device, checked against what its driver
//! reads (the drivers themselves are in `crate::fence`).
//!
//! Input: the device's driver and its spanned `params` table. Output:
//! diagnostics only; the params stay in `FenceDevice::params` as written,
//! and the drivers read them from there.
//!
//! - `ipmi` (fence_ipmilan's job, done by driving `ipmitool`): `host` is
//!   required; `port`, `username`, `password_file`, `ipmitool`, `cipher`
//!   and `privlvl` are optional; any other key is an error with a "did you
//!   mean". A plain `password` is refused: the config is shared by every
//!   node and hashed into every heartbeat, so a secret belongs in a file.
//! - `external` (a fence-agents program): `agent` names the program; every
//!   other key is passed on its stdin as `key=value`, so values must be
//!   scalars without line breaks, and the keys ha sets itself (`action`,
//!   `plug`, `port`, `nodename`) may not be given. A device without `agent`
//!   only gets a warning: it cannot fence anything, and the runner says so
//!   each time it is tried.
//! - `sbd` is accepted but has no driver in this build: a warning says that
//!   fencing through it fails.

use toml::de::DeValue;

use super::FenceDriver;
use super::read::{Field, Section, unknown_key};
use super::report::Report;
use std::ops::Range;

/// The keys the ipmi driver reads.
pub const IPMI_KEYS: &[&str] = &[
    "host",
    "port",
    "username",
    "password_file",
    "ipmitool",
    "cipher",
    "privlvl",
];

/// Keys of an external agent's stdin that ha writes itself.
pub const EXTERNAL_RESERVED: &[&str] = &["action", "plug", "port", "nodename"];

/// Checks `params` (the `params` field of the `[[fence]]` section `s`, if
/// written) for `driver`. `driver_span` is where `driver = ...` is written.
pub(super) fn check(
    r: &mut Report,
    s: &Section,
    driver: FenceDriver,
    driver_span: Range<usize>,
    params: Option<&Field>,
) {
    let entries = params.map(entries).unwrap_or_default();
    let at = params.map_or(s.span.clone(), |p| p.span.clone());
    match driver {
        FenceDriver::Ipmi => check_ipmi(r, &entries, at),
        FenceDriver::External => check_external(r, &entries, at),
        FenceDriver::Sbd => r.warn(
            driver_span,
            "[[fence]] driver = \"sbd\": no sbd driver in this build; fencing through this device always fails",
            Some(String::from(
                "add an ipmi or external device for the same targets (at another level), or use [watchdog] self-fencing",
            )),
        ),
        FenceDriver::Watchdog => {}
    }
}

/// The keys of the params table as fields labelled `[[fence]] params.KEY`.
fn entries<'t, 'i>(params: &Field<'t, 'i>) -> Vec<(String, Field<'t, 'i>)> {
    let DeValue::Table(t) = params.value else {
        // Not a table: raw.rs already reported it.
        return Vec::new();
    };
    t.iter()
        .map(|(k, v)| {
            let key = k.get_ref().to_string();
            let field = Field {
                label: format!("{}.{key}", params.label),
                span: k.span(),
                value: v.get_ref(),
            };
            (key, field)
        })
        .collect()
}

fn check_ipmi(r: &mut Report, entries: &[(String, Field)], at: Range<usize>) {
    // fence_ipmilan's `ip` gets its own "did you mean" below; one error
    // for one mistake.
    if !entries
        .iter()
        .any(|(k, _)| matches!(k.as_str(), "host" | "ip" | "ipaddr"))
    {
        r.error(
            at,
            "missing required key \"host\" in [[fence]] params (driver = \"ipmi\")",
            Some(String::from(
                "params = { host = \"10.0.0.11\", username = \"admin\", password_file = \"/etc/ha/ipmi.pass\" }: host is the BMC's address",
            )),
        );
    }
    for (key, f) in entries {
        match key.as_str() {
            "host" | "username" => {
                option_safe_string(r, f);
            }
            "port" => {
                f.integer(r, 1, 65_535);
            }
            "cipher" => {
                f.integer(r, 0, 17);
            }
            "password_file" | "ipmitool" => {
                f.path(r);
            }
            "privlvl" => {
                f.choice(
                    r,
                    &[
                        ("callback", ()),
                        ("user", ()),
                        ("operator", ()),
                        ("administrator", ()),
                    ],
                );
            }
            "password" | "passwd" => r.error(
                f.span.clone(),
                format!("{}: ha does not take passwords in the config", f.label),
                Some(String::from(
                    "write the password to a file only root can read and set password_file = \"/etc/ha/ipmi.pass\"",
                )),
            ),
            // fence_ipmilan's names for the same things.
            "ip" | "ipaddr" | "login" | "ipport" => {
                let ours = match key.as_str() {
                    "login" => "username",
                    "ipport" => "port",
                    _ => "host",
                };
                r.error(
                    f.span.clone(),
                    format!(
                        "unknown key \"{key}\" in [[fence]] params; did you mean \"{ours}\"?"
                    ),
                    Some(format!(
                        "fence_ipmilan's {key} is {ours} here; valid keys: {}",
                        IPMI_KEYS.join(", ")
                    )),
                );
            }
            other => unknown_key(r, "[[fence]] params", other, f.span.clone(), IPMI_KEYS),
        }
    }
}

fn check_external(r: &mut Report, entries: &[(String, Field)], at: Range<usize>) {
    match entries.iter().find(|(k, _)| k == "agent") {
        None => r.warn(
            at,
            "[[fence]] driver = \"external\" without params.agent: this device cannot fence anything",
            Some(String::from(
                "params = { agent = \"fence_ipmilan\", ip = \"10.0.0.11\", ... }: agent is the fence-agents program (a name looked up in PATH and /usr/sbin, or an absolute path)",
            )),
        ),
        Some((_, f)) => {
            if let Some(s) = option_safe_string(r, f)
                && s.contains('/')
                && !s.starts_with('/')
            {
                f.bad(
                    r,
                    "a relative path",
                    Some(String::from(
                        "give a program name (looked up in PATH and /usr/sbin) or an absolute path",
                    )),
                );
            }
        }
    }
    for (key, f) in entries {
        if key == "agent" {
            continue;
        }
        if EXTERNAL_RESERVED.contains(&key.as_str()) {
            r.error(
                f.span.clone(),
                format!(
                    "{}: set by ha, which sends action=, plug=, port= and nodename= itself",
                    f.label
                ),
                Some(String::from(
                    "remove it; the plug is the target's node name",
                )),
            );
            continue;
        }
        if key.is_empty() || key.contains(['=', '\n', '\r']) {
            r.error(
                f.span.clone(),
                format!("{}: not usable as a fence-agents option name", f.label),
                Some(String::from(
                    "option names are words such as ip, username, ssl_insecure",
                )),
            );
            continue;
        }
        match f.value {
            DeValue::String(s) if s.contains(['\n', '\r']) => f.bad(
                r,
                "a line break cannot be passed on a fence agent's stdin",
                Some(String::from("write the value on one line")),
            ),
            DeValue::String(_) | DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => {}
            _ => f.bad(
                r,
                "expected a string, number or boolean",
                Some(String::from(
                    "fence agents read one key=value per line; lists and tables have no such form",
                )),
            ),
        }
    }
}

/// A string that is not empty, has no blanks or line breaks, and does not
/// start with `-` (it ends up as a command-line argument of ipmitool, or
/// names a program).
fn option_safe_string(r: &mut Report, f: &Field) -> Option<String> {
    let s = f.string(r)?.into_inner();
    if s.is_empty() {
        f.bad(r, "empty", None);
        None
    } else if s.starts_with('-') || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        f.bad(
            r,
            "may not start with - or contain blanks",
            Some(String::from("write the address, name or program as is")),
        );
        None
    } else {
        Some(s)
    }
}
