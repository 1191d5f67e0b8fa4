//! `ha agents [NAME]` as a user runs it: the built binary, its output and
//! exit codes.

use std::process::Command;

fn ha(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ha"))
        .args(args)
        .output()
        .expect("ha runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// Goal: the list names every agent kind of SPEC section 2 with its
// pacemaker equivalent, and exits 0.
#[test]
fn agents_lists_every_builtin_kind() {
    let (code, out, err) = ha(&["agents"]);
    assert_eq!(code, 0, "{err}");
    for (name, equivalent) in [
        ("vip", "ocf:heartbeat:IPaddr2"),
        ("filesystem", "ocf:heartbeat:Filesystem"),
        ("nfs", "nfsserver"),
        ("systemd", "systemd:UNIT"),
        ("ocf", "ocf:PROVIDER:TYPE"),
        ("lsb", "lsb:NAME"),
    ] {
        let line = out
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} missing:\n{out}"));
        assert!(line.contains(equivalent), "{line}");
    }
}

// Goal: `ha agents vip` and `ha agents filesystem` show every parameter
// with required/default; a pacemaker name finds the same agent.
#[test]
fn agents_name_shows_parameters_and_defaults() {
    let (code, vip, _) = ha(&["agents", "vip"]);
    assert_eq!(code, 0);
    for expected in [
        "ip",
        "cidr_netmask",
        "nic",
        "iflabel",
        "arp_count",
        "arp_interval",
        "arp_count_refresh",
    ] {
        assert!(
            vip.lines()
                .any(|l| l.trim_start().starts_with(&format!("{expected} "))),
            "{expected}:\n{vip}"
        );
    }
    assert!(
        vip.lines()
            .any(|l| l.trim_start().starts_with("ip ") && l.contains("required")),
        "{vip}"
    );
    assert!(
        vip.lines()
            .any(|l| l.contains("arp_interval") && l.contains("default 200")),
        "{vip}"
    );
    let (_, same, _) = ha(&["agents", "IPaddr2"]);
    assert_eq!(same, vip);
    let (code, fs, _) = ha(&["agents", "filesystem"]);
    assert_eq!(code, 0);
    for expected in [
        "device",
        "directory",
        "fstype",
        "options",
        "run_fsck",
        "force_unmount",
    ] {
        assert!(
            fs.lines()
                .any(|l| l.trim_start().starts_with(&format!("{expected} "))),
            "{expected}:\n{fs}"
        );
    }
    assert!(
        fs.lines()
            .any(|l| l.contains("run_fsck") && l.contains("default auto")),
        "{fs}"
    );
}

// Goal: an unknown name is a usage error (exit 2) listing the known agents.
#[test]
fn agents_unknown_name_is_a_usage_error() {
    let (code, out, err) = ha(&["agents", "ipaddr"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        err.contains("unknown agent \"ipaddr\"") && err.contains("vip, filesystem"),
        "{err}"
    );
}
