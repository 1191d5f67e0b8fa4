//! Times the placement solver and the transition planner in-process.
//!
//!     cargo run --release --example policy_bench -- ha.toml state.json [RUNS]
//!
//! Loads the config and the state (`ha status --json` format), then runs
//! `policy::place_nodes_only`, `policy::place` (with score explanations)
//! and `transition::plan` RUNS times each and prints one JSON line with the
//! median, min, max and 90th percentile in milliseconds, the number of
//! actions, and the peak resident memory (VmHWM). Used by bench.py; not a
//! test.

use std::time::Instant;

use ha::ctl::proto::Status;
use ha::policy::{self, ClusterState};
use ha::transition;

fn stats(mut v: Vec<f64>) -> String {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let median = v[v.len() / 2];
    let p90 = v[(v.len() * 9 / 10).min(v.len() - 1)];
    format!(
        "{{\"median_ms\": {median:.3}, \"min_ms\": {:.3}, \"max_ms\": {:.3}, \"p90_ms\": {p90:.3}}}",
        v[0],
        v[v.len() - 1]
    )
}

fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|x| x.parse().ok()))
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: policy_bench ha.toml state.json [RUNS]");
        std::process::exit(2);
    }
    let runs: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(21);
    let loaded = match ha::config::load_file(std::path::Path::new(&args[1])) {
        Ok(l) => l,
        Err(d) => {
            for x in d {
                eprintln!("{x}");
            }
            std::process::exit(2);
        }
    };
    let config = loaded.config;
    let text = std::fs::read_to_string(&args[2]).expect("state file");
    let status: Status = serde_json::from_str(&text).expect("state JSON");
    let state = ClusterState::from_status(&config, &status, 0).expect("state fits config");
    let mut place = Vec::new();
    let mut explain = Vec::new();
    let mut plan = Vec::new();
    let mut actions = 0;
    for _ in 0..runs {
        let t = Instant::now();
        let p = policy::place_nodes_only(&config, &state);
        place.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let p2 = policy::place(&config, &state);
        explain.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(
            p.assigned, p2.assigned,
            "explanations must not change the placement"
        );
        let t = Instant::now();
        let g = transition::plan(&config, &state, &p);
        plan.push(t.elapsed().as_secs_f64() * 1000.0);
        actions = g.changes.len();
    }
    println!(
        "{{\"place\": {}, \"place_with_scores\": {}, \"plan\": {}, \"actions\": {actions}, \"vm_hwm_kb\": {}}}",
        stats(place),
        stats(explain),
        stats(plan),
        vm_hwm_kb()
    );
}
