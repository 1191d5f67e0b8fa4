//! External agents with real scripts: an OCF resource agent and an LSB
//! init script written to a temporary directory and run by `ha`'s agent as
//! pacemaker would run them. No root needed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ha::agents::{Agent, AgentError, External};
use ha::config::Resource;
use ha::node::Outcome;

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A dummy OCF agent: a state file stands for the resource. Every call is
/// logged with the environment the agent saw.
const OCF_DUMMY: &str = r#"#!/bin/sh
state="${OCF_RESKEY_state:?state is required}"
echo "$1 instance=$OCF_RESOURCE_INSTANCE type=$OCF_RESOURCE_TYPE provider=$OCF_RESOURCE_PROVIDER root=$OCF_ROOT level=${OCF_CHECK_LEVEL:-none} timeout=$OCF_RESKEY_CRM_meta_timeout color=${OCF_RESKEY_color:-none} count=${OCF_RESKEY_count:-none}" >> "$state.log"
case "$1" in
start)
    if [ "${OCF_RESKEY_fail:-}" = start ]; then echo "start refused" >&2; exit 1; fi
    if [ "${OCF_RESKEY_hang:-}" = start ]; then
        sleep 30 & echo $! > "$state.child"
        wait
    fi
    touch "$state"; exit 0;;
stop) rm -f "$state"; exit 0;;
monitor) [ -f "$state" ] && exit 0; exit 7;;
validate-all)
    if [ -z "${OCF_RESKEY_color:-}" ]; then echo "color is required" >&2; exit 6; fi
    exit 0;;
*) exit 3;;
esac
"#;

/// A scratch directory, removed when dropped (also when a test fails).
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ha-ext-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().expect("parent")).expect("dir");
    std::fs::write(path, text).expect("script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

/// Resource `r1` with `agent`, `params` (TOML inline-table body) and `ops`,
/// parsed from an ha.toml as `ha run` would.
fn resource(agent: &str, params: &str, ops: &str) -> Resource {
    let text = format!(
        "[cluster]\nname = \"t\"\nkey_file = \"/k\"\n[[heartbeat.link]]\n\
         [[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.1.0.1\"]\n\
         [resource.r1]\nagent = \"{agent}\"\nparams = {{ {params} }}\nops = [{ops}]\n"
    );
    match ha::config::parse(&text, "t.toml") {
        Ok(loaded) => loaded.config.resources[0].clone(),
        Err(d) => panic!("config rejected: {d:?}\n{text}"),
    }
}

fn ocf(root: &Path, params: &str, ops: &str) -> External {
    let r = resource("ocf:hatest:Dummy", params, ops);
    External::ocf(&r, root, "hatest", "Dummy", DEFAULT_TIMEOUT).expect("valid params")
}

fn failed_rc(outcome: &Outcome) -> Option<i32> {
    match outcome {
        Outcome::Failed { rc, .. } => Some(*rc),
        _ => None,
    }
}

/// Goal: an OCF agent runs with the actions, environment and exit codes
/// pacemaker uses: params as OCF_RESKEY_*, the instance, type, provider
/// and root, the operation's timeout in ms, OCF_CHECK_LEVEL on monitor; 0
/// is ok and 7 not running.
#[test]
fn ocf_agent_runs_the_script_as_pacemaker_does() {
    let s = Scratch::new("ocf");
    write_script(&s.0.join("resource.d/hatest/Dummy"), OCF_DUMMY);
    let state = s.0.join("state");
    let agent = ocf(
        &s.0,
        &format!(
            "state = \"{}\", color = \"blue\", count = 3",
            state.display()
        ),
        "{ name = \"start\", timeout = \"5s\" }, { name = \"monitor\", interval = \"10s\", timeout = \"7s\" }",
    );
    assert_eq!(agent.validate(), Outcome::Ok);
    assert_eq!(
        agent.monitor(0),
        Outcome::NotRunning,
        "a probe before start"
    );
    assert_eq!(agent.start(), Outcome::Ok);
    assert!(state.exists(), "the script ran");
    assert_eq!(agent.monitor(10), Outcome::Ok);
    assert_eq!(agent.stop(), Outcome::Ok);
    assert!(!state.exists());
    assert_eq!(agent.stop(), Outcome::Ok, "stopping a stopped resource");
    assert_eq!(agent.monitor(0), Outcome::NotRunning);
    let log = std::fs::read_to_string(s.0.join("state.log")).expect("log");
    let root = s.0.display();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(
        lines[2],
        format!(
            "start instance=r1 type=Dummy provider=hatest root={root} level=none timeout=5000 color=blue count=3"
        )
    );
    assert_eq!(
        lines[3],
        format!(
            "monitor instance=r1 type=Dummy provider=hatest root={root} level=10 timeout=7000 color=blue count=3"
        )
    );
    assert!(
        lines[4].starts_with("stop ") && lines[4].contains("timeout=20000"),
        "stop has no op, so [defaults] op_timeout: {}",
        lines[4]
    );
    assert!(lines[0].starts_with("validate-all "), "{}", lines[0]);
}

/// Goal: failures carry the script's rc; a script that overruns its
/// operation's timeout is killed with what it started and reports a
/// timeout; a missing script is "not installed" except for stop, which
/// succeeds (nothing here can have started it).
#[test]
fn ocf_agent_failures_timeouts_and_missing_scripts() {
    let s = Scratch::new("ocf-fail");
    write_script(&s.0.join("resource.d/hatest/Dummy"), OCF_DUMMY);
    let state = s.0.join("state");
    let st = state.display();

    let refuses = ocf(&s.0, &format!("state = \"{st}\", fail = \"start\""), "");
    let out = refuses.start();
    assert_eq!(failed_rc(&out), Some(1), "{out:?}");
    let no_color = ocf(&s.0, &format!("state = \"{st}\""), "");
    assert_eq!(failed_rc(&no_color.validate()), Some(6));

    let hangs = ocf(
        &s.0,
        &format!("state = \"{st}\", hang = \"start\""),
        "{ name = \"start\", timeout = \"1s\" }",
    );
    let started = Instant::now();
    assert_eq!(hangs.start(), Outcome::Timeout);
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(5),
        "{took:?}"
    );
    let child = std::fs::read_to_string(s.0.join("state.child")).expect("child pid");
    let proc_dir = PathBuf::from(format!("/proc/{}", child.trim()));
    let gone_by = Instant::now() + Duration::from_secs(2);
    while proc_dir.exists() && Instant::now() < gone_by {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !proc_dir.exists(),
        "the script's child outlived the timeout"
    );

    let r = resource("ocf:hatest:Nope", "", "");
    let missing = External::ocf(&r, &s.0, "hatest", "Nope", DEFAULT_TIMEOUT).expect("params");
    assert_eq!(failed_rc(&missing.start()), Some(5));
    assert_eq!(failed_rc(&missing.monitor(0)), Some(5));
    assert_eq!(missing.stop(), Outcome::Ok);

    let r = resource("ocf:hatest:Dummy", "list = [1, 2]", "");
    match External::ocf(&r, &s.0, "hatest", "Dummy", DEFAULT_TIMEOUT) {
        Err(AgentError::Param { param, .. }) => assert_eq!(param, "list"),
        other => panic!("a list param must be refused: {other:?}"),
    }
}

/// Goal: an LSB init script runs with start, stop and status; status 3
/// is not running; parameters are refused; a missing script fails
/// validate as not installed.
#[test]
fn lsb_script_start_stop_status() {
    let s = Scratch::new("lsb");
    let state = s.0.join("running");
    write_script(
        &s.0.join("hatestd"),
        &format!(
            "#!/bin/sh\ncase \"$1\" in\nstart) touch {st};;\nstop) rm -f {st};;\n\
             status) if [ -f {st} ]; then echo running; exit 0; fi; echo stopped; exit 3;;\n\
             *) exit 2;;\nesac\n",
            st = state.display()
        ),
    );
    let r = resource("lsb:hatestd", "", "");
    let agent = External::lsb(&r, &s.0, "hatestd", DEFAULT_TIMEOUT).expect("no params");
    assert_eq!(agent.validate(), Outcome::Ok);
    assert_eq!(agent.monitor(0), Outcome::NotRunning);
    assert_eq!(agent.start(), Outcome::Ok);
    assert!(state.exists());
    assert_eq!(agent.monitor(0), Outcome::Ok);
    assert_eq!(agent.stop(), Outcome::Ok);
    assert_eq!(agent.monitor(0), Outcome::NotRunning);

    let r = resource("lsb:hatestd", "port = 80", "");
    assert!(matches!(
        External::lsb(&r, &s.0, "hatestd", DEFAULT_TIMEOUT),
        Err(AgentError::Param { .. })
    ));
    let r = resource("lsb:nosuchd", "", "");
    let missing = External::lsb(&r, &s.0, "nosuchd", DEFAULT_TIMEOUT).expect("no params");
    assert_eq!(failed_rc(&missing.validate()), Some(5));
    assert_eq!(missing.stop(), Outcome::Ok);
}
