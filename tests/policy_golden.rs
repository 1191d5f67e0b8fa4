//! Golden cases of `ha simulate` (pacemaker's cts/scheduler style).
//!
//! Goal: whole-command behaviour, reviewed as text diffs. Method: each
//! directory under tests/policy/ holds `ha.toml` (its first comment says
//! which "Pacemaker Explained" rule it shows), an optional `state.json`
//! (`ha status --json`), an optional `args` file with what-if flags
//! (`--standby node1`, `--fail rsc:node`, ...), and `expected.txt`: the
//! scores, the transition summary with the revised status, and the JSON,
//! exactly as `ha simulate --scores` and `ha simulate --json` print them.
//! A mismatch fails with both texts. To accept new output after a
//! reviewed change: `HA_POLICY_REGENERATE=1 cargo test --test policy_golden`.

use std::fs;
use std::path::Path;

use ha::config;
use ha::policy::simulate::{SimulateArgs, simulate};

fn args_from(file: &Path, json: bool, scores: bool) -> SimulateArgs {
    let mut a = SimulateArgs {
        config: "ha.toml".into(),
        state: None,
        node_up: vec![],
        node_down: vec![],
        standby: vec![],
        fail: vec![],
        scores,
        json,
    };
    let text = fs::read_to_string(file).unwrap_or_default();
    let words: Vec<&str> = text.split_whitespace().collect();
    for pair in words.chunks(2) {
        let [flag, value] = pair else {
            panic!("{}: flags come in pairs: {pair:?}", file.display())
        };
        let v = value.to_string();
        match *flag {
            "--node-up" => a.node_up.push(v),
            "--node-down" => a.node_down.push(v),
            "--standby" => a.standby.push(v),
            "--fail" => a.fail.push(v),
            other => panic!("{}: unknown flag {other}", file.display()),
        }
    }
    a
}

#[test]
fn golden_cases_match() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy");
    let regenerate = std::env::var_os("HA_POLICY_REGENERATE").is_some();
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 6,
        "expected the golden cases under {}",
        root.display()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let text = fs::read_to_string(dir.join("ha.toml")).unwrap();
        let config = match config::parse(&text, "ha.toml") {
            Ok(l) => l.config,
            Err(d) => panic!("{}: {d:?}", dir.display()),
        };
        let state = fs::read_to_string(dir.join("state.json")).ok();
        let mut out = String::new();
        for (json, scores) in [(false, true), (true, false)] {
            let mut args = args_from(&dir.join("args"), json, scores);
            args.state = state.as_ref().map(|_| "state.json".to_string());
            // A fixed wall clock: failures injected by --fail happen "now".
            let o = simulate(&args, &config, state.as_deref(), 1_795_608_000_000);
            assert_eq!(o.code, 0, "{}: {}", dir.display(), o.stderr);
            out.push_str(&o.stdout);
            out.push('\n');
        }
        let expected_path = dir.join("expected.txt");
        if regenerate {
            fs::write(&expected_path, &out).unwrap();
            continue;
        }
        let expected = fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != out {
            failures.push(format!(
                "{}:\n--- expected\n{expected}\n--- got\n{out}",
                dir.display()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (regenerate with HA_POLICY_REGENERATE=1 after review):\n{}",
        failures.join("\n")
    );
}

#[test]
fn bad_what_if_flags_name_the_problem() {
    // Exit 2 with a message naming the unknown node or resource and a hint.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/policy/spec-example");
    let config = config::parse(
        &fs::read_to_string(root.join("ha.toml")).unwrap(),
        "ha.toml",
    )
    .unwrap()
    .config;
    let mut a = args_from(Path::new("/nonexistent"), false, false);
    a.fail.push("webip:nodeX".into());
    let o = simulate(&a, &config, None, 0);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("unknown node \"nodeX\" in --fail") && o.stderr.contains("\"node1\""),
        "{}",
        o.stderr
    );
    let mut a = args_from(Path::new("/nonexistent"), false, false);
    a.fail.push("nope:node1".into());
    let o = simulate(&a, &config, None, 0);
    assert_eq!(o.code, 2);
    assert!(
        o.stderr.contains("unknown resource \"nope\""),
        "{}",
        o.stderr
    );
    let mut a = args_from(Path::new("/nonexistent"), false, false);
    a.standby.push("node9".into());
    let o = simulate(&a, &config, None, 0);
    assert!(
        o.code == 2 && o.stderr.contains("--standby"),
        "{}",
        o.stderr
    );
    let a = args_from(Path::new("/nonexistent"), true, false);
    let o = simulate(&a, &config, Some("{not json"), 0);
    assert!(
        o.code == 2 && o.stderr.contains("not a status document"),
        "{}",
        o.stderr
    );
}
