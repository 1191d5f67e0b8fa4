//! Exit codes and messages of the commands that talk to the daemon, run as
//! the real binary (SPEC section 1: 1 run-time failure, 2 usage, 3 daemon
//! unreachable). No daemon is started here: these are the paths a user hits
//! first when something is wrong.

use std::process::{Command, Output};

fn ha(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ha"))
        .args(args)
        .output()
        .expect("the ha binary runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn status_without_a_daemon_exits_3_and_names_the_socket() {
    let out = ha(&["status", "-s", "/nonexistent/ha.sock"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let text = stderr(&out);
    assert!(
        text.contains("cannot reach the daemon at /nonexistent/ha.sock"),
        "{text}"
    );
    assert!(text.contains("hint: is `ha run` running?"), "{text}");
    assert!(out.stdout.is_empty());
}

#[test]
fn every_daemon_command_exits_3_when_unreachable() {
    // Goal: not only status: each command that needs the daemon says so.
    for args in [
        &["status", "--json", "-s", "/nonexistent/x.sock"][..],
        &["node", "standby", "n1", "-s", "/nonexistent/x.sock"],
        &[
            "resource",
            "move",
            "web",
            "n2",
            "--lifetime",
            "10min",
            "-s",
            "/nonexistent/x.sock",
        ],
        &["resource", "scores", "-s", "/nonexistent/x.sock"],
        &["fence", "n2", "-s", "/nonexistent/x.sock"],
        &["reload", "-s", "/nonexistent/x.sock"],
    ] {
        let out = ha(args);
        assert_eq!(out.status.code(), Some(3), "ha {args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("/nonexistent/x.sock"),
            "ha {args:?}: {}",
            stderr(&out)
        );
    }
}

#[test]
fn the_socket_comes_from_the_config_when_no_flag_is_given() {
    let dir = std::env::temp_dir().join(format!("ha-cli-exit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("ha.toml");
    let socket = dir.join("from-config.sock");
    std::fs::write(
        &config,
        format!(
            "[cluster]\nname = \"web\"\nsocket = \"{}\"\n",
            socket.display()
        ),
    )
    .unwrap();
    let out = ha(&["status", "-c", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        stderr(&out).contains(&format!("at {}: no such socket", socket.display())),
        "{}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn usage_errors_exit_2_before_contacting_anyone() {
    // Goal: a wrong verb, role, shape or duration is a usage error (2), even
    // though no daemon runs (which would be 3).
    let cases: &[(&[&str], &str)] = &[
        (
            &["resource", "frob", "web", "-s", "/nonexistent/x.sock"],
            "unknown verb \"frob\"",
        ),
        (
            &["resource", "move", "web", "-s", "/nonexistent/x.sock"],
            "expected RSC NODE",
        ),
        (
            &[
                "resource",
                "move",
                "web",
                "n2",
                "--lifetime",
                "10",
                "-s",
                "/nonexistent/x.sock",
            ],
            "has no unit",
        ),
        (
            &["node", "offline", "n1", "-s", "/nonexistent/x.sock"],
            "unknown role \"offline\"",
        ),
        (&["node", "standby"], ""),
        (&["status", "--frobnicate"], ""),
    ];
    for (args, message) in cases {
        let out = ha(args);
        assert_eq!(out.status.code(), Some(2), "ha {args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(message),
            "ha {args:?}: {}",
            stderr(&out)
        );
    }
}
