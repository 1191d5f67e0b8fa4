//! Failover speed, in simulated time: how long after the node holding a
//! VIP crashes does the VIP run on a survivor. Deterministic (simulated
//! clock and network), so it asserts a bound derived from the timers
//! instead of measuring wall time: the loss is noticed at most `timeout`
//! after the last heartbeat, and the survivors act on it within about an
//! interval (a new DC needs one heartbeat naming it; no extra wait).
//! The lab benchmark (bench/failover) measures the same path for real.

use ha::sim::{Sim, random};
use ha::time::Duration;

fn config(interval: &str, timeout: &str, prefer_n2: bool) -> String {
    let mut t = format!(
        "[cluster]\nname = \"t\"\nkey_file = \"/k\"\nstonith_enabled = false\n\
         [heartbeat]\ninterval = \"{interval}\"\ntimeout = \"{timeout}\"\n[[heartbeat.link]]\n"
    );
    for i in 1..=3 {
        t += &format!("[[node]]\nname = \"n{i}\"\nid = {i}\naddrs = [\"10.0.0.{i}\"]\n");
    }
    t += "[resource.ip]\nagent = \"vip\"\nparams = { ip = \"10.9.0.1\" }\n";
    if prefer_n2 {
        t += "[[location]]\nresource = \"ip\"\nnode = \"n2\"\nscore = 100\n";
    }
    t
}

/// Crashes the holder of `ip` once the cluster settled; returns the
/// simulated ms until `ip` runs on another node, and whether the holder
/// was the DC.
fn failover(interval: &str, timeout: &str, holder_is_dc: bool, seed: u64) -> (u64, bool) {
    let mut s = Sim::new(
        random::parse(&config(interval, timeout, !holder_is_dc)),
        seed,
    );
    s.start_all();
    s.run_for(Duration::from_secs(10));
    let on = s.running_on("ip");
    assert_eq!(on.len(), 1, "ip runs once before the crash: {on:?}");
    let holder = s.index(&on[0]);
    let was_dc = s.dc() == Some(holder);
    // Crash at a different phase of the heartbeat cycle per seed.
    s.run_for(Duration::from_millis(seed * 7 % 100));
    let t0 = s.now;
    s.crash(holder);
    while s.now.saturating_since(t0) < Duration::from_secs(10) {
        s.run_for(Duration::from_millis(1));
        let on = s.running_on("ip");
        if on.len() == 1 && s.index(&on[0]) != holder {
            if let Some(v) = &s.violation {
                panic!("{}", s.report(v));
            }
            return (s.now.saturating_since(t0).as_millis(), was_dc);
        }
    }
    panic!("{}", s.report("ip not recovered within 10 s"));
}

fn check(interval_ms: u64, timeout_ms: u64, holder_is_dc: bool) {
    let bound = timeout_ms + 2 * interval_ms;
    let mut times = Vec::new();
    for seed in 1..=12 {
        let (ms, was_dc) = failover(
            &format!("{interval_ms}ms"),
            &format!("{timeout_ms}ms"),
            holder_is_dc,
            seed,
        );
        assert_eq!(was_dc, holder_is_dc, "seed {seed}: wrong set-up");
        times.push(ms);
    }
    times.sort();
    println!(
        "interval {interval_ms} ms, timeout {timeout_ms} ms, holder is DC: {holder_is_dc}: \
         failover min {} median {} max {} ms (bound {bound} ms)",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1]
    );
    assert!(
        times.iter().all(|t| *t <= bound),
        "failover over {bound} ms: {times:?}"
    );
}

#[test]
fn holder_crash_default_timers() {
    check(100, 1000, false);
}

#[test]
fn dc_holder_crash_default_timers() {
    check(100, 1000, true);
}

#[test]
fn holder_crash_fast_timers() {
    check(50, 250, false);
}

#[test]
fn dc_holder_crash_fast_timers() {
    check(50, 250, true);
}
