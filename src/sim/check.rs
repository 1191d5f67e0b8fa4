//! The safety invariants, checked after every simulated step.
//!
//! 1. At most one partition is quorate: no two quorate nodes have disjoint
//!    member sets; and at most one node acts as DC while quorate (two_node
//!    and last_man_standing excepted: there two partitions can be quorate
//!    and fencing decides).
//! 2. With fencing configured, no primitive runs on two machines at once
//!    (ground truth from the simulated agents; clones: at most `max`).
//! 3. Every start/stop is issued by a node that is the acting DC of a
//!    quorate view.
//! 4. After faults stop, the cluster converges within [`convergence_bound`]:
//!    one DC, every live node a member, nothing unclean or outstanding, and
//!    the agents' ground truth equal to what the DC believes.

use std::collections::BTreeMap;

use super::Sim;
use crate::node::{Issued, place};
use crate::time::Duration;

/// Which checks apply, and what they saw.
#[derive(Clone, Debug, Default)]
pub struct Checks {
    /// Starts and stops issued in the run.
    pub issued_count: u64,
    /// Invariant 2's limit per primitive (1, or a clone's max), derived
    /// once from the config on the first step instead of on every step
    /// (the config does not change during a run).
    limits: Option<Vec<(String, usize)>>,
    /// Per node, what invariant 1's partition check last looked at: its
    /// view number, quorum and liveness (see `two_quorate_partitions`).
    partitions_seen: Vec<u64>,
}

impl Checks {
    /// Invariant 3, for one issued action.
    pub fn issued(&mut self, by: &str, is: &Issued, violation: &mut Option<String>) {
        self.issued_count += 1;
        if (!is.acting_dc || !is.quorate) && violation.is_none() {
            *violation = Some(format!(
                "invariant 3: {by} issued {} {} without being the quorate DC",
                if is.start { "start" } else { "stop" },
                is.resource
            ));
        }
    }
}

/// Whether fencing protects this config (devices or watchdog, stonith on).
pub fn fencing(sim: &Sim) -> bool {
    sim.config.cluster.stonith_enabled
        && (!sim.config.fences.is_empty() || sim.config.watchdog.is_some())
}

/// Invariants 1 and 2.
pub fn after_step(sim: &mut Sim) {
    if sim.violation.is_some() {
        return;
    }
    // two_node: both halves are quorate by design. last_man_standing: a
    // partition that lowered expected_votes and one that regained nodes
    // can both be quorate (found by seed 21; votequorum has the same
    // limit, pinned by quorum's test
    // `last_man_standing_resplit_can_leave_two_quorate_sides_as_in_votequorum`);
    // for both, fencing (invariant 2) is what keeps data safe.
    if !sim.config.quorum.two_node && !sim.config.quorum.last_man_standing {
        // Count first; names are only collected for the report.
        let quorate_dc = |n: &super::SimNode| {
            !n.paused
                && n.node
                    .as_ref()
                    .is_some_and(|x| x.is_acting_dc() && x.quorum_state().quorate)
        };
        if sim.nodes.iter().filter(|n| quorate_dc(n)).count() > 1 {
            let dcs: Vec<&str> = sim
                .nodes
                .iter()
                .filter(|n| quorate_dc(n))
                .map(|n| n.name.as_str())
                .collect();
            sim.violation = Some(format!("invariant 1: two quorate DCs at once: {dcs:?}"));
            return;
        }
        if let Some(v) = two_quorate_partitions(&mut *sim) {
            sim.violation = Some(v);
            return;
        }
    }
    if fencing(sim) {
        // Invariant 2 depends only on what runs where, so it is re-counted
        // only after that changed. Debug builds (`cargo test --test sim`)
        // count after every step and insist that nothing was missed.
        let changed = std::mem::take(&mut sim.running_changed);
        if changed || cfg!(debug_assertions) {
            if let Some(v) = invariant_2(sim) {
                assert!(
                    changed,
                    "the simulator changed what runs without telling the checker: {v}"
                );
                sim.violation = Some(v);
            }
        }
    }
}

/// Invariant 1, first half: two running, unpaused nodes that count
/// themselves quorate on disjoint member sets are two quorate partitions.
/// Member sets are compared as bitmaps of node ids (the simulator has at
/// most 16 nodes), and only when some node's membership view, quorum or
/// liveness changed since the last look.
fn two_quorate_partitions(sim: &mut Sim) -> Option<String> {
    let state = |n: &super::SimNode| {
        n.node.as_ref().map_or(0, |x| {
            (x.view() << 3) | (u64::from(x.quorum_state().quorate) << 2) | 2
        }) | u64::from(n.paused)
    };
    let seen_before = &mut sim.checks.partitions_seen;
    if seen_before.len() == sim.nodes.len()
        && seen_before
            .iter()
            .zip(&sim.nodes)
            .all(|(s, n)| *s == state(n))
    {
        return None;
    }
    seen_before.clear();
    seen_before.extend(sim.nodes.iter().map(state));
    let mut seen: [(usize, u64); 16] = [(0, 0); 16];
    let mut count = 0;
    for (i, n) in sim.nodes.iter().enumerate() {
        let Some(node) = n
            .node
            .as_ref()
            .filter(|x| !n.paused && x.quorum_state().quorate)
        else {
            continue;
        };
        let mask = node.members().iter().fold(0u64, |m, id| {
            m | 1u64.checked_shl(u32::from(*id)).unwrap_or(0)
        });
        if mask == 0 {
            // Only ids of 64 and above: not comparable as a bitmap.
            continue;
        }
        if let Some((j, _)) = seen[..count].iter().find(|(_, other)| other & mask == 0) {
            let a = &sim.nodes[*j];
            let members = |k: usize| sim.nodes[k].node.as_ref().map(|x| x.members().clone());
            return Some(format!(
                "invariant 1: two quorate partitions: {} with members {:?}, {} with members {:?}",
                a.name,
                members(*j).unwrap_or_default(),
                n.name,
                members(i).unwrap_or_default()
            ));
        }
        if count < seen.len() {
            seen[count] = (i, mask);
            count += 1;
        }
    }
    None
}

/// Invariant 2: no primitive on more live machines than it may run on.
fn invariant_2(sim: &mut Sim) -> Option<String> {
    let limits = sim.checks.limits.get_or_insert_with(|| {
        place::units(&sim.config)
            .into_iter()
            .flat_map(|unit| {
                let max = unit.clone_max.unwrap_or(1);
                unit.members.into_iter().map(move |r| (r, max))
            })
            .collect()
    });
    for (r, max) in limits.iter() {
        let count = sim.nodes.iter().filter(|n| n.running.contains(r)).count();
        if count > *max {
            let on: Vec<&str> = sim
                .nodes
                .iter()
                .filter(|n| n.running.contains(r))
                .map(|n| n.name.as_str())
                .collect();
            return Some(format!("invariant 2: {r} runs on {on:?} at once"));
        }
    }
    None
}

/// How long the cluster may take to settle once faults stop, derived from
/// the timers: detect a loss (timeout), elect and lease (lease + a few
/// intervals), fence (delay + device latency, or twice the watchdog
/// timeout, plus a reboot of a node the watchdog reset), then walk the
/// deepest group down and up again with the slowest agent.
pub fn convergence_bound(sim: &Sim) -> Duration {
    let c = &sim.config;
    let t = c.heartbeat.timeout.as_millis();
    let i = c.heartbeat.interval.as_millis();
    let membership = 2 * t + 6 * i;
    let watchdog = c.watchdog.as_ref().map_or(0, |w| 3 * w.timeout.as_millis());
    let fence_device = c
        .fences
        .iter()
        .map(|f| f.delay.as_millis())
        .max()
        .unwrap_or(0)
        + match sim.fence {
            super::FenceBehaviour::Works { latency_ms } => latency_ms,
            super::FenceBehaviour::Fails { latency_ms } => latency_ms,
        }
        + 1000;
    let reboot = sim.reboot_after.map_or(0, |d| d.as_millis()) + membership;
    let fencing = watchdog.max(fence_device) + reboot;
    let depth = place::units(c)
        .iter()
        .map(|u| u.members.len() as u64)
        .max()
        .unwrap_or(1);
    let op = sim
        .agent
        .op_ms
        .1
        .max(c.defaults.op_timeout.as_millis() * u64::from(sim.agent.hang > 0.0));
    let resources = 2 * depth * (op + 3 * i) + 2 * (op + 2 * i);
    let lms = if c.quorum.last_man_standing {
        c.quorum.last_man_standing_window.as_millis()
    } else {
        0
    };
    Duration::from_millis(membership + fencing + resources + lms + 2000)
}

/// Invariant 4 at one instant: `None` when converged, else what is off.
pub fn converged(sim: &Sim) -> Option<String> {
    let Some(dc) = sim.dc() else {
        return Some("no single acting DC".to_string());
    };
    let node = sim.nodes[dc].node.as_ref().expect("dc is up");
    let live: Vec<_> = sim
        .nodes
        .iter()
        .filter(|n| n.node.is_some())
        .map(|n| n.id)
        .collect();
    let members = node.members();
    if live.iter().any(|id| !members.contains(id)) {
        return Some(format!(
            "live nodes outside the DC's view: members={members:?} live={live:?}"
        ));
    }
    if !node.settled() {
        return Some(
            "the DC still has work (unclean nodes, outstanding actions or missing reports)"
                .to_string(),
        );
    }
    // What the DC believes runs where must be what runs.
    let cib = node.cib();
    let mut believed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in &sim.config.resources {
        believed.insert(r.id.clone(), cib.active_on(&r.id));
        let mut truth = sim.running_on(&r.id);
        truth.sort();
        let mut b = cib.active_on(&r.id);
        b.sort();
        if truth != b {
            // What the DC has from those nodes, for the replay.
            let states: Vec<String> = b
                .iter()
                .map(|n| format!("{n}: {:?}", cib.active.get(n)))
                .collect();
            return Some(format!(
                "{}: runs on {truth:?} but the DC believes {b:?} ({})",
                r.id,
                states.join("; ")
            ));
        }
    }
    None
}

/// For tests: panics with the history's report if an invariant broke.
pub fn assert_ok(sim: &Sim) {
    if let Some(v) = &sim.violation {
        panic!("{}", sim.report(v));
    }
}

/// For tests: runs `sim` in `step`s until it has converged (and, when
/// `confirm` is not zero, is still converged `confirm` later, so a DC
/// about to act again is caught), checking the invariants after every
/// step. Panics with the report if one breaks or the convergence bound
/// passes. Returns how long it took.
pub fn settle(sim: &mut Sim, step: Duration, confirm: Duration) -> Duration {
    let bound = convergence_bound(sim);
    let start = sim.now;
    while sim.now < start + bound {
        sim.run_for(step);
        assert_ok(sim);
        if converged(sim).is_none() {
            if confirm == Duration::ZERO {
                return sim.now.saturating_since(start);
            }
            sim.run_for(confirm);
            assert_ok(sim);
            if converged(sim).is_none() {
                return sim.now.saturating_since(start);
            }
        }
    }
    panic!(
        "{}",
        sim.report(&format!(
            "not converged within {bound}: {:?}",
            converged(sim)
        ))
    );
}
