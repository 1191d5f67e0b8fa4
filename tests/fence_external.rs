//! The `external` fence driver against real programs: small shell scripts
//! that speak the fence-agents protocol (key=value lines on stdin; exit 0
//! for a done action, `status` exit 2 for off and 0 for on) and keep their
//! "power" in a file, so each test can see exactly what ha asked.
//!
//! Two layers: `ha::fence::fence` called directly (topology, timeouts,
//! what reaches the agent, secrets kept out of reasons), and the real `ha
//! run` daemon on loopback, whose DC fences an absent peer through a
//! script, keeps it `unclean` while the script fails, and recovers only
//! after the script confirmed it off; `ha fence NODE` goes the same way.
//! No root needed.

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ha::node::Outcome;

/// A scratch directory, removed on drop.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("ha-fence-ext-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.path(name)).unwrap_or_default()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fence agent in the fence-agents style. It appends every request
/// (its stdin, one line per option) to `LOG` with a header line, keeps
/// the target's power in `POWER` (on/off), and behaves per `MODE`, a file
/// read on every call: `ok` powers off, `deny` refuses off (exit 1),
/// `stuck` accepts off but stays on, `hang` never answers.
fn agent(dir: &Dir, name: &str) -> PathBuf {
    let script = format!(
        r#"#!/bin/sh
d={dir}
me={name}
opts=$(cat)
printf '== %s\n%s\n' "$me" "$opts" >> "$d/$me.log"
action=$(printf '%s\n' "$opts" | sed -n 's/^action=//p')
mode=$(cat "$d/$me.mode" 2>/dev/null || echo ok)
[ "$mode" = hang ] && exec sleep 60
case "$action" in
  off)
    if [ "$mode" = deny ]; then echo "login failed for password $(printf '%s\n' "$opts" | sed -n 's/^password=//p')" >&2; exit 1; fi
    [ "$mode" = stuck ] || echo off > "$d/$me.power"
    exit 0 ;;
  status)
    [ "$(cat "$d/$me.power" 2>/dev/null)" = off ] && exit 2
    exit 0 ;;
  *) echo "unknown action $action" >&2; exit 1 ;;
esac
"#,
        dir = dir.0.display()
    );
    let path = dir.path(name);
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A config with n1 and n2, stonith on, and `fences` appended.
fn config(fences: &str, op_timeout: &str) -> ha::config::Config {
    let text = format!(
        r#"[cluster]
name = "c"
key_file = "/etc/ha.key"

[defaults]
op_timeout = "{op_timeout}"

[[node]]
name = "n1"
id = 1
addrs = ["10.0.0.1"]

[[node]]
name = "n2"
id = 2
addrs = ["10.0.0.2"]

{fences}"#
    );
    match ha::config::parse(&text, "ha.toml") {
        Ok(loaded) => loaded.config,
        Err(ds) => panic!(
            "{}",
            ds.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn device(name: &str, level: u32, agent: &Path, extra: &str) -> String {
    format!(
        "[[fence]]\nname = \"{name}\"\ndriver = \"external\"\ntargets = [\"n2\"]\nlevel = {level}\nparams = {{ agent = \"{}\"{extra} }}\n",
        agent.display()
    )
}

fn set_mode(dir: &Dir, agent: &str, mode: &str) {
    std::fs::write(dir.path(&format!("{agent}.mode")), mode).unwrap();
}

fn fence(config: &ha::config::Config, within: Duration) -> Outcome {
    ha::fence::fence(config, "n2", Instant::now() + within)
}

#[test]
fn agent_gets_fence_agents_options_and_must_confirm_off() {
    // Goal: one device that works: ha sends action=off with the target as
    // plug/port/nodename and the device params on stdin, then asks
    // action=status, and reports Ok only because status said off (exit 2).
    let dir = Dir::new("basic");
    let a = agent(&dir, "fa");
    let c = config(
        &device(
            "f1",
            1,
            &a,
            ", ip = \"10.9.9.9\", ssl_insecure = true, ipport = 623",
        ),
        "5s",
    );
    assert_eq!(fence(&c, Duration::from_secs(10)), Outcome::Ok);
    let log = dir.read("fa.log");
    let calls: Vec<&str> = log.split("== fa\n").filter(|s| !s.is_empty()).collect();
    assert_eq!(calls.len(), 2, "{log}");
    assert_eq!(
        calls[0],
        "action=off\nplug=n2\nport=n2\nnodename=n2\nip=10.9.9.9\nipport=623\nssl_insecure=1\n"
    );
    assert!(calls[1].starts_with("action=status\nplug=n2\n"), "{log}");
    assert_eq!(dir.read("fa.power").trim(), "off");
}

#[test]
fn accepted_off_without_confirmation_is_not_a_fence() {
    // Goal: an agent that says "done" to off but whose status keeps saying
    // on is not trusted: the outcome is a timeout at the deadline, after
    // status was asked repeatedly.
    let dir = Dir::new("stuck");
    let a = agent(&dir, "fa");
    set_mode(&dir, "fa", "stuck");
    let c = config(&device("f1", 1, &a, ""), "20s");
    let started = Instant::now();
    let outcome = fence(&c, Duration::from_secs(2));
    assert_eq!(outcome, Outcome::Timeout);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    let statuses = dir.read("fa.log").matches("action=status").count();
    assert!(statuses >= 2, "status asked {statuses} times");
}

#[test]
fn refusal_fails_with_the_reason_and_no_password() {
    // Goal: an agent that refuses (exit 1) makes the fence fail at once
    // with its message as the reason, with the password blanked out.
    let dir = Dir::new("deny");
    let a = agent(&dir, "fa");
    set_mode(&dir, "fa", "deny");
    let c = config(&device("f1", 1, &a, ", password = \"hunter2\""), "5s");
    match fence(&c, Duration::from_secs(10)) {
        Outcome::Failed { rc, reason } => {
            assert_eq!(rc, 1);
            assert!(reason.contains("f1: "), "{reason}");
            assert!(reason.contains("action=off failed (exit 1)"), "{reason}");
            assert!(reason.contains("login failed for password ***"), "{reason}");
            assert!(!reason.contains("hunter2"), "{reason}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(
        dir.read("fa.log").contains("password=hunter2"),
        "the agent gets it on stdin"
    );
}

#[test]
fn levels_are_tried_lowest_first_and_all_devices_of_a_level_must_confirm() {
    // Goal: pacemaker's topology. Level 1 has two devices; the second
    // refuses, so level 1 fails even though the first confirmed; level 2
    // (written first in the file, to show order comes from `level`) then
    // fences. A level-3 device is never asked.
    let dir = Dir::new("levels");
    let l1a = agent(&dir, "l1a");
    let l1b = agent(&dir, "l1b");
    let l2 = agent(&dir, "l2");
    let l3 = agent(&dir, "l3");
    set_mode(&dir, "l1b", "deny");
    let fences = [
        device("two", 2, &l2, ""),
        device("one-a", 1, &l1a, ""),
        device("three", 3, &l3, ""),
        device("one-b", 1, &l1b, ""),
    ]
    .concat();
    let c = config(&fences, "5s");
    assert_eq!(fence(&c, Duration::from_secs(20)), Outcome::Ok);
    assert!(dir.read("l1a.log").contains("action=status"));
    assert!(dir.read("l1b.log").contains("action=off"));
    assert!(dir.read("l2.log").contains("action=status"));
    assert_eq!(dir.read("l3.log"), "", "level 3 must not be tried");
    // Order: l1a's off happened before l1b's, and both before l2's.
    let mtime = |f: &str| std::fs::metadata(dir.path(f)).unwrap().modified().unwrap();
    assert!(mtime("l1a.log") <= mtime("l1b.log") && mtime("l1b.log") <= mtime("l2.log"));
}

#[test]
fn a_hung_device_is_killed_after_op_timeout_and_the_next_level_fences() {
    // Goal: a device that never answers costs one op_timeout (1 s here),
    // its process is killed, and the next level still gets its turn
    // within the action's deadline.
    let dir = Dir::new("hang");
    let hung = agent(&dir, "hung");
    let good = agent(&dir, "good");
    set_mode(&dir, "hung", "hang");
    let c = config(
        &[device("hung", 1, &hung, ""), device("good", 2, &good, "")].concat(),
        "1s",
    );
    let started = Instant::now();
    assert_eq!(fence(&c, Duration::from_secs(10)), Outcome::Ok);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert_eq!(dir.read("good.power").trim(), "off");
}

#[test]
fn missing_programs_and_driverless_devices_fail_honestly() {
    // Goal: nothing pretends: a missing agent program (rc 5), an sbd
    // device (no driver, rc 3 in its reason), a node no device can fence.
    let c = config(
        "[[fence]]\nname = \"gone\"\ndriver = \"external\"\ntargets = [\"n2\"]\nparams = { agent = \"/nonexistent/fence_gone\" }\n\
         [[fence]]\nname = \"disk\"\ndriver = \"sbd\"\ntargets = [\"n2\"]\nlevel = 2\n",
        "5s",
    );
    match fence(&c, Duration::from_secs(5)) {
        Outcome::Failed { reason, .. } => {
            assert!(
                reason.contains("gone: fence agent /nonexistent/fence_gone not found"),
                "{reason}"
            );
            assert!(
                reason.contains("disk: no sbd driver in this build"),
                "{reason}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    match ha::fence::fence(&c, "n1", Instant::now() + Duration::from_secs(5)) {
        Outcome::Failed { rc, reason } => {
            assert_eq!(rc, 6);
            assert!(reason.contains("no [[fence]] device lists n1"), "{reason}");
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Through the daemon.

fn ha() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ha"))
}

/// `ha status --json` of the daemon at `socket`, if it answers.
fn status(socket: &Path) -> Option<serde_json::Value> {
    let out = ha()
        .args(["status", "--json", "-s", socket.to_str().unwrap()])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn node_state(status: &serde_json::Value, node: &str) -> String {
    status["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|n| n["name"] == node)
        .and_then(|n| n["state"].as_str())
        .unwrap_or("?")
        .to_string()
}

fn wait_until(what: &str, within: Duration, mut check: impl FnMut() -> bool, daemon: &mut Daemon) {
    let deadline = Instant::now() + within;
    while !check() {
        if let Ok(Some(exit)) = daemon.child.try_wait() {
            panic!(
                "ha run exited ({exit}) while waiting for: {what}\n{}",
                daemon.log()
            );
        }
        if Instant::now() > deadline {
            panic!(
                "timed out after {within:?} waiting for: {what}\n{}",
                daemon.log()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One `ha run` process (n1 of a two-node config whose n2 never starts);
/// killed on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn daemon_keeps_a_peer_unclean_until_a_script_confirms_it_off() {
    // Goal: the whole path in the real daemon. n1 (2 votes of 3, so
    // quorate alone) starts without n2, which may be running anything, so
    // it is unclean (pacemaker's startup fencing) and the DC fences it
    // through an external script. While the script refuses, n2 stays
    // unclean and fencing is retried; once the script works, the fence is
    // confirmed by status and only then is n2 clean (offline). Then `ha
    // fence n2` fences it again on demand. (That resources wait for this
    // is shown with real resources in rootfs-tests/tests/fence-ipmi.sh.)
    let dir = Dir::new("daemon");
    std::fs::create_dir_all(dir.path("state")).unwrap();
    let key = dir.path("ha.key");
    std::fs::write(&key, [7u8; 32]).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let a = agent(&dir, "fa");
    set_mode(&dir, "fa", "deny");
    let port = 30_000 + (std::process::id() % 20_000) as u16;
    let socket = dir.path("ha.sock");
    let log = dir.path("ha.log");
    let text = format!(
        r#"[cluster]
name = "fx"
key_file = "{d}/ha.key"
state_dir = "{d}/state"
socket = "{d}/ha.sock"
stonith_enabled = true
log = "{d}/ha.log"

[heartbeat]
port = {port}
interval = "100ms"
timeout = "1s"

[[heartbeat.link]]

[[node]]
name = "n1"
id = 1
votes = 2
addrs = ["127.0.0.1"]

[[node]]
name = "n2"
id = 2
addrs = ["127.0.0.2"]

[[fence]]
name = "fa"
driver = "external"
targets = ["n2"]
params = {{ agent = "{agent}", password = "hunter2" }}

[[fence]]
name = "self"
driver = "external"
targets = ["n1"]
params = {{ agent = "/bin/false" }}
"#,
        d = dir.0.display(),
        agent = a.display()
    );
    let config = dir.path("ha.toml");
    std::fs::write(&config, text).unwrap();
    let child = ha()
        .args(["run", "-c", config.to_str().unwrap(), "--node", "n1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ha run starts");
    let mut daemon = Daemon { child, log };

    wait_until(
        "the script is asked to fence n2",
        Duration::from_secs(20),
        || dir.read("fa.log").contains("action=off"),
        &mut daemon,
    );
    // Refused: n2 stays unclean through several retries.
    let refused_at = Instant::now();
    while refused_at.elapsed() < Duration::from_secs(3) {
        if let Some(s) = status(&socket) {
            assert_eq!(node_state(&s, "n2"), "unclean", "{s}");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let tries = dir.read("fa.log").matches("action=off").count();
    assert!(tries >= 2, "fencing was not retried: {tries} tries");
    assert!(
        daemon.log().contains("fencing failed, retrying: target=n2"),
        "{}",
        daemon.log()
    );

    // The device works now: fenced, confirmed, and only then recovered.
    set_mode(&dir, "fa", "ok");
    wait_until(
        "n2 is offline (fenced, clean) after the device confirmed",
        Duration::from_secs(20),
        || status(&socket).is_some_and(|s| node_state(&s, "n2") == "offline"),
        &mut daemon,
    );
    let log = dir.read("fa.log");
    assert!(log.contains("action=status"), "{log}");
    assert_eq!(dir.read("fa.power").trim(), "off");
    let daemon_log = daemon.log();
    let confirmed = daemon_log
        .find("fence: confirmed target=n2 device=fa")
        .expect(&daemon_log);
    let fenced = daemon_log.find("fenced: target=n2").expect(&daemon_log);
    assert!(confirmed < fenced, "{daemon_log}");
    assert!(
        !daemon_log.contains("hunter2"),
        "a password reached the log"
    );

    // `ha fence n2` on demand: the device is asked again.
    std::fs::write(dir.path("fa.power"), "on").unwrap();
    let before = dir.read("fa.log").matches("action=off").count();
    let out = ha()
        .args(["fence", "n2", "-s", socket.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_until(
        "ha fence n2 powers n2 off again",
        Duration::from_secs(20),
        || {
            dir.read("fa.log").matches("action=off").count() > before
                && dir.read("fa.power").trim() == "off"
                && status(&socket).is_some_and(|s| node_state(&s, "n2") == "offline")
        },
        &mut daemon,
    );
    let mut err = String::new();
    let _ = daemon.child.kill();
    let _ = daemon.child.wait();
    if let Some(mut e) = daemon.child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    assert!(!err.contains("hunter2"), "a password reached stderr");
}
