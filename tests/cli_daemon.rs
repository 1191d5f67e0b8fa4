//! `ha run` and the control socket end to end, on loopback: the real
//! binary as a one-node-of-two daemon (the peer never answers), driven
//! through its socket by the real CLI and by raw JSON lines.
//!
//! Needs no root: UDP on 127.0.0.1, a unix socket in a temp directory.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ha() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ha"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A temp directory with a config, a key and a state dir; removed on drop.
struct Setup {
    dir: PathBuf,
    config: PathBuf,
    socket: PathBuf,
}

impl Setup {
    fn new(name: &str, port: u16) -> Setup {
        let dir = std::env::temp_dir().join(format!("ha-cli-daemon-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("state")).unwrap();
        let key = dir.join("ha.key");
        std::fs::write(&key, [42u8; 32]).unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        let socket = dir.join("ha.sock");
        let config = dir.join("ha.toml");
        std::fs::write(&config, config_text(&dir, port)).unwrap();
        Setup {
            dir,
            config,
            socket,
        }
    }

    fn run(&self, node: &str) -> Child {
        ha().args(["run", "-c", self.config.to_str().unwrap(), "--node", node])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ha run starts")
    }

    fn cli(&self, args: &[&str]) -> Output {
        ha().args(args)
            .args(["-s", self.socket.to_str().unwrap()])
            .output()
            .unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("ha.log")).unwrap_or_default()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn config_text(dir: &Path, port: u16) -> String {
    format!(
        r#"[cluster]
name = "loop"
key_file = "{dir}/ha.key"
state_dir = "{dir}/state"
socket = "{dir}/ha.sock"
stonith_enabled = false
log = "{dir}/ha.log"

[heartbeat]
transport = "udpu"
port = {port}
interval = "100ms"
timeout = "1s"

[[heartbeat.link]]

[[node]]
name = "n1"
id = 1
addrs = ["127.0.0.1"]

[[node]]
name = "n2"
id = 2
addrs = ["127.0.0.2"]
"#,
        dir = dir.display()
    )
}

/// A port unlikely to clash between concurrent test runs.
fn port(offset: u16) -> u16 {
    20_000 + (std::process::id() % 20_000) as u16 + offset
}

fn wait_for_socket(path: &Path, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while UnixStream::connect(path).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            let mut err = String::new();
            let _ = std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err);
            panic!("ha run exited with {status} before opening its socket: {err}");
        }
        assert!(
            Instant::now() < deadline,
            "ha run did not open {} in 20 s",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_exit(child: &mut Child, within: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ha run still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(child: &Child, name: &str) {
    let ok = Command::new("kill")
        .args(["-s", name, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[test]
fn daemon_serves_its_socket_survives_bad_input_and_leaves_cleanly() {
    // Goal: the daemon's whole life through its control socket: a damaged
    // state file is set aside (not fatal), the socket is 0660, malformed and
    // oversized requests get error replies on a connection that keeps
    // working, status works as JSON and text, a broken config is refused by
    // `ha reload`, a second daemon on the same config is refused, and
    // SIGTERM ends it with exit 0 and no socket left behind.
    let setup = Setup::new("life", port(0));
    std::fs::write(setup.dir.join("state/state"), b"not a state file").unwrap();
    let mut child = setup.run("n1");
    wait_for_socket(&setup.socket, &mut child);

    let mode = std::fs::metadata(&setup.socket)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o660);
    assert!(
        setup.dir.join("state/state.corrupt-1").exists(),
        "the damaged state file was not set aside"
    );
    assert!(setup.dir.join("state/incarnation").exists());

    let stream = UnixStream::connect(&setup.socket).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    let mut ask = |line: &[u8]| {
        writer.write_all(line).unwrap();
        let mut answer = String::new();
        reader.read_line(&mut answer).unwrap();
        answer
    };
    let answer = ask(b"this is not json\n");
    assert!(
        answer.contains(r#""response":"error""#) && answer.contains("malformed request"),
        "{answer}"
    );
    let answer = ask(b"{\"request\":\"frobnicate\"}\n");
    assert!(answer.contains(r#""response":"error""#), "{answer}");
    let answer = ask(b"{\"request\":\"status\"}\n");
    assert!(answer.contains(r#""local_node":"n1""#), "{answer}");
    let mut huge = vec![b'x'; 100_000];
    huge.push(b'\n');
    let answer = ask(&huge);
    assert!(answer.contains("longer than"), "{answer}");
    let answer = ask(b"{\"request\":\"status\"}\n");
    assert!(
        answer.contains(r#""local_node":"n1""#),
        "the connection ended after the oversized line: {answer}"
    );

    let out = setup.cli(&["status", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["cluster"], "loop");
    assert_eq!(status["local_node"], "n1");
    assert_eq!(
        status["quorum"]["quorate"], false,
        "one of two votes is no quorum"
    );
    let out = setup.cli(&["status"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(
        text(&out.stdout).contains("Local node: n1"),
        "{}",
        text(&out.stdout)
    );

    let good = std::fs::read_to_string(&setup.config).unwrap();
    std::fs::write(&setup.config, format!("{good}\nintervall = \"1s\"\n")).unwrap();
    let out = setup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("reload refused"),
        "{}",
        text(&out.stderr)
    );
    std::fs::write(&setup.config, &good).unwrap();
    let out = setup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    let mut second = setup.run("n1");
    let status = wait_exit(&mut second, Duration::from_secs(20));
    assert_eq!(
        status.code(),
        Some(1),
        "a second daemon on the same config must not start"
    );
    assert_eq!(
        setup.cli(&["status", "--json"]).status.code(),
        Some(0),
        "the first daemon must survive"
    );

    signal(&child, "TERM");
    let status = wait_exit(&mut child, Duration::from_secs(20));
    assert_eq!(status.code(), Some(0));
    assert!(!setup.socket.exists(), "the socket was left behind");
    let log = setup.log();
    assert!(log.contains("persisted cluster state was damaged"), "{log}");
    assert!(log.contains("reload: refused"), "{log}");
    assert!(log.contains("signal: SIGTERM"), "{log}");
}

#[test]
fn daemon_refuses_to_start_without_a_usable_key_or_node() {
    // Goal: a key readable by others, or a node name not in the config, is a
    // config error (exit 2) with a hint, before anything is bound.
    let setup = Setup::new("refuse", port(1));
    let key = setup.dir.join("ha.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = ha()
        .args(["run", "-c", setup.config.to_str().unwrap(), "--node", "n1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("0644") || text(&out.stderr).contains("644"),
        "{}",
        text(&out.stderr)
    );
    assert!(!setup.socket.exists());

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = ha()
        .args(["run", "-c", setup.config.to_str().unwrap(), "--node", "n9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("\"n9\" is not a [[node]]") && err.contains("known nodes are \"n1\", \"n2\""),
        "{err}"
    );
}
