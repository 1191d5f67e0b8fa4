//! Placement used by the DC: one function, [`place`], which asks the
//! policy engine (`policy`) on the DC's view of the cluster.
//!
//! The small stand-in scheduler the simulator started with stays below
//! ([`place_standin`], chosen by [`USE_POLICY_ENGINE`]): a placement unit
//! is a group (its members together, on one node) or a primitive outside
//! any group; a clone runs its unit on up to `max` nodes. A unit goes to, in
//! order of preference: the node of a runtime `move`, the node where it is
//! already active (stickiness), the node with the highest config location
//! score, then the first eligible node in name order. Nodes with a ban, a
//! -INFINITY location, or a fail-count at the migration threshold are not
//! eligible for it. Inputs: config, replicated state, eligible nodes,
//! current holders. Output: the set of nodes each primitive should run on.

use std::collections::{BTreeMap, BTreeSet};

use crate::cib::{Cib, ConstraintKind};
use crate::config::{Config, LocationTarget, TargetRole};
use crate::score::Score;

/// A placement unit: primitives that move together, in start order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub id: String,
    pub members: Vec<String>,
    /// `Some(max)` for a clone: run on up to `max` nodes.
    pub clone_max: Option<usize>,
}

/// The units of a config, in config order.
pub fn units(config: &Config) -> Vec<Unit> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for r in &config.resources {
        if seen.contains(&r.id) {
            continue;
        }
        let group = config.group_of(&r.id);
        let members: Vec<String> = match group {
            Some(g) => g.resources.clone(),
            None => vec![r.id.clone()],
        };
        let id = group.map_or(r.id.clone(), |g| g.id.clone());
        let clone = config.clone_of(&id);
        let clone_max = clone.map(|c| c.max.map_or(config.nodes.len(), |m| m as usize));
        for m in &members {
            seen.insert(m.clone());
        }
        out.push(Unit {
            id: clone.map_or(id, |c| c.id.clone()),
            members,
            clone_max,
        });
    }
    out
}

fn allowed(config: &Config, cib: &Cib, unit: &Unit, node: &str) -> bool {
    let ids: Vec<&str> = std::iter::once(unit.id.as_str())
        .chain(unit.members.iter().map(String::as_str))
        .collect();
    if cib.constraints.iter().any(|c| {
        c.kind == ConstraintKind::Ban && c.node == node && ids.contains(&c.resource.as_str())
    }) {
        return false;
    }
    let mut score = Score::ZERO;
    let mut located = false;
    for l in &config.locations {
        if ids.contains(&l.resource.as_str())
            && matches!(&l.target, LocationTarget::Node(n) if n == node)
        {
            score += l.score;
            located = true;
        }
    }
    if score.is_minus_infinite() || (!config.cluster.symmetric && (!located || score.value() < 0)) {
        return false;
    }
    unit.members.iter().all(|m| {
        let threshold = config.effective_meta(m).migration_threshold;
        threshold.is_infinite() || i64::from(cib.failcount(m, node)) < threshold.value().max(1)
    })
}

fn location_score(config: &Config, unit: &Unit, node: &str) -> i64 {
    let ids: Vec<&str> = std::iter::once(unit.id.as_str())
        .chain(unit.members.iter().map(String::as_str))
        .collect();
    let mut score = Score::ZERO;
    for l in &config.locations {
        if ids.contains(&l.resource.as_str())
            && matches!(&l.target, LocationTarget::Node(n) if n == node)
        {
            score += l.score;
        }
    }
    score.value()
}

/// Which solver the DC uses: the policy engine (`true`) or the stand-in
/// below (`false`).
pub const USE_POLICY_ENGINE: bool = true;

/// Where every primitive should run. `eligible` are the nodes that may run
/// resources now (members, online, same config); `current` maps each
/// primitive to the nodes where it is active.
pub fn place(
    config: &Config,
    cib: &Cib,
    eligible: &BTreeSet<String>,
    current: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    if USE_POLICY_ENGINE {
        place_with_policy(config, cib, eligible, current)
    } else {
        place_standin(config, cib, eligible, current)
    }
}

/// The policy engine (`policy::place`) on the DC's view: eligible nodes are
/// online, others standby/maintenance/offline per their role.
///
/// The DC asks on every tick, and its view rarely changes between ticks, so
/// the last few answers are remembered per thread and reused when every
/// input (config, the cluster state handed to the solver, the eligible
/// nodes) is equal: a pure memo, the answer is the one the solver gives.
pub fn place_with_policy(
    config: &Config,
    cib: &Cib,
    eligible: &BTreeSet<String>,
    current: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    if let Some(out) = memo::get(config, cib, eligible, current) {
        return out;
    }
    let out = solve_uncached(config, cib, eligible, current);
    memo::put(config, cib, eligible, current, &out);
    out
}

/// `ha resource scores` on a running node: the policy engine's allocation
/// scores, with what made them, on the same view [`place_with_policy`]
/// solves (the text `ha simulate --scores` prints).
pub fn scores_text(
    config: &Config,
    cib: &Cib,
    eligible: &BTreeSet<String>,
    current: &BTreeMap<String, BTreeSet<String>>,
    resource: Option<&str>,
) -> String {
    let state = policy_state(config, cib, eligible, current);
    crate::policy::scores_text(config, &state, resource)
}

/// [`place_with_policy`] without the memo: one solver run.
fn solve_uncached(
    config: &Config,
    cib: &Cib,
    eligible: &BTreeSet<String>,
    current: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let state = policy_state(config, cib, eligible, current);
    let placement = crate::policy::place_nodes_only(config, &state);
    let mut out = BTreeMap::new();
    for unit in &units(config) {
        for m in &unit.members {
            let key = if unit.clone_max.is_some() {
                &unit.id
            } else {
                m
            };
            let nodes: BTreeSet<String> = placement
                .assigned
                .get(key)
                .map(|v| {
                    v.iter()
                        .filter(|n| eligible.contains(*n))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            out.insert(m.clone(), nodes);
        }
    }
    out
}

/// The solver's input built from the DC's view.
fn policy_state(
    config: &Config,
    cib: &Cib,
    eligible: &BTreeSet<String>,
    current: &BTreeMap<String, BTreeSet<String>>,
) -> crate::policy::ClusterState {
    use crate::cib::Role;
    use crate::policy::{ClusterState, FailCount, NodeState, RuntimeConstraint};
    let mut state = ClusterState {
        quorate: true,
        ..ClusterState::default()
    };
    for n in &config.nodes {
        let s = if eligible.contains(&n.name) {
            NodeState::Online
        } else {
            match cib.role(&n.name) {
                Role::Standby if current.values().any(|v| v.contains(&n.name)) => {
                    NodeState::Standby
                }
                Role::Maintenance => NodeState::Maintenance,
                _ => NodeState::Offline,
            }
        };
        state.nodes.insert(n.name.clone(), s);
    }
    for unit in &units(config) {
        if unit.clone_max.is_some() {
            let mut nodes = BTreeSet::new();
            for m in &unit.members {
                nodes.extend(current.get(m).cloned().unwrap_or_default());
            }
            state
                .active
                .insert(unit.id.clone(), nodes.into_iter().collect());
        } else {
            for m in &unit.members {
                state.active.insert(
                    m.clone(),
                    current
                        .get(m)
                        .map(|s| s.iter().cloned().collect())
                        .unwrap_or_default(),
                );
            }
        }
    }
    for ((r, n), f) in &cib.failcounts {
        state.failcounts.insert(
            (r.clone(), n.clone()),
            FailCount {
                count: f.count,
                last_failure_ms: None,
            },
        );
    }
    for c in &cib.constraints {
        let score = if c.kind == ConstraintKind::Move {
            Score::INFINITY
        } else {
            Score::MINUS_INFINITY
        };
        state.constraints.push(RuntimeConstraint {
            resource: c.resource.clone(),
            node: c.node.clone(),
            score,
            expires_ms: None,
        });
    }
    for (r, started) in &cib.target_roles {
        state.target_roles.insert(
            r.clone(),
            if *started {
                TargetRole::Started
            } else {
                TargetRole::Stopped
            },
        );
    }
    state
}

/// The per-thread memo of [`place_with_policy`]: the last few distinct
/// inputs and their answers. A hit needs every input the solver's state is
/// built from to be equal (config, eligible nodes, where things run, node
/// roles, fail-counts, runtime constraints and target roles), so it can
/// only return what the solver would. Inputs are compared where they are,
/// without building anything, so a hit allocates only the answer.
mod memo {
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};
    use std::rc::Rc;

    use crate::cib::{Cib, ConstraintKind, Role};
    use crate::config::Config;

    type Out = BTreeMap<String, BTreeSet<String>>;

    struct Entry {
        config: Rc<Config>,
        eligible: BTreeSet<String>,
        current: Out,
        /// `cib.role` of every configured node, in config order.
        roles: Vec<Role>,
        /// (resource, node, count) of `cib.failcounts`, in key order.
        failcounts: Vec<(String, String, u32)>,
        /// (resource, node, is a move) of `cib.constraints`, in order.
        constraints: Vec<(String, String, bool)>,
        target_roles: BTreeMap<String, bool>,
        out: Out,
    }

    impl Entry {
        fn matches(
            &self,
            config: &Config,
            cib: &Cib,
            eligible: &BTreeSet<String>,
            current: &Out,
        ) -> bool {
            self.eligible == *eligible
                && self.current == *current
                && self.target_roles == cib.target_roles
                && self.failcounts.len() == cib.failcounts.len()
                && self
                    .failcounts
                    .iter()
                    .zip(&cib.failcounts)
                    .all(|((r, n, c), ((r2, n2), f))| r == r2 && n == n2 && *c == f.count)
                && self.constraints.len() == cib.constraints.len()
                && self
                    .constraints
                    .iter()
                    .zip(&cib.constraints)
                    .all(|((r, n, m), c)| {
                        *r == c.resource && *n == c.node && *m == (c.kind == ConstraintKind::Move)
                    })
                && self.roles.len() == config.nodes.len()
                && self
                    .roles
                    .iter()
                    .zip(&config.nodes)
                    .all(|(r, n)| *r == cib.role(&n.name))
                && *self.config == *config
        }
    }

    /// A few entries: the DC alternates between its view and the same view
    /// without a move preference (`plan`), and partitions have several DCs.
    const SIZE: usize = 4;

    thread_local! {
        /// Most recently used first.
        static LAST: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn get(
        config: &Config,
        cib: &Cib,
        eligible: &BTreeSet<String>,
        current: &Out,
    ) -> Option<Out> {
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            let i = last
                .iter()
                .position(|e| e.matches(config, cib, eligible, current))?;
            if i > 0 {
                let e = last.remove(i);
                last.insert(0, e);
            }
            Some(last[0].out.clone())
        })
    }

    pub(super) fn put(
        config: &Config,
        cib: &Cib,
        eligible: &BTreeSet<String>,
        current: &Out,
        out: &Out,
    ) {
        LAST.with(|last| {
            let mut last = last.borrow_mut();
            // Entries for one config share one copy of it.
            let config = match last.iter().position(|e| *e.config == *config) {
                Some(i) => Rc::clone(&last[i].config),
                None => Rc::new(config.clone()),
            };
            let entry = Entry {
                eligible: eligible.clone(),
                current: current.clone(),
                roles: config.nodes.iter().map(|n| cib.role(&n.name)).collect(),
                failcounts: cib
                    .failcounts
                    .iter()
                    .map(|((r, n), f)| (r.clone(), n.clone(), f.count))
                    .collect(),
                constraints: cib
                    .constraints
                    .iter()
                    .map(|c| {
                        (
                            c.resource.clone(),
                            c.node.clone(),
                            c.kind == ConstraintKind::Move,
                        )
                    })
                    .collect(),
                target_roles: cib.target_roles.clone(),
                out: out.clone(),
                config,
            };
            last.insert(0, entry);
            last.truncate(SIZE);
        })
    }
}

/// The stand-in solver described in the module docs.
pub fn place_standin(
    config: &Config,
    cib: &Cib,
    eligible: &BTreeSet<String>,
    current: &BTreeMap<String, BTreeSet<String>>,
) -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for unit in units(config) {
        let stopped = unit.members.iter().any(|m| {
            let role = cib
                .target_roles
                .get(m)
                .or_else(|| cib.target_roles.get(&unit.id))
                .copied()
                .unwrap_or(config.effective_meta(m).target_role == TargetRole::Started);
            !role
        });
        let mut nodes: Vec<&String> = if stopped {
            Vec::new()
        } else {
            eligible
                .iter()
                .filter(|n| allowed(config, cib, &unit, n))
                .collect()
        };
        let moved = cib
            .constraints
            .iter()
            .find(|c| {
                c.kind == ConstraintKind::Move
                    && (c.resource == unit.id || unit.members.contains(&c.resource))
            })
            .map(|c| c.node.clone());
        let first = &unit.members[0];
        let here = current.get(first).cloned().unwrap_or_default();
        // Sort by preference; the sort is stable, so name order breaks ties.
        nodes.sort_by_key(|n| {
            (
                std::cmp::Reverse(moved.as_deref() == Some(n.as_str())),
                std::cmp::Reverse(here.contains(*n)),
                std::cmp::Reverse(location_score(config, &unit, n)),
            )
        });
        let take = unit.clone_max.unwrap_or(1);
        let chosen: BTreeSet<String> = nodes.into_iter().take(take).cloned().collect();
        for m in &unit.members {
            out.insert(m.clone(), chosen.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cib::{Role, RuntimeConstraint};
    use crate::rng::Rng;
    use crate::time::Instant;

    const CONFIG: &str = r#"
[cluster]
name = "t"
key_file = "/etc/ha.key"
[[heartbeat.link]]
network = "10.0.0.0/24"
[[node]]
name = "a"
id = 1
addrs = ["10.0.0.1"]
[[node]]
name = "b"
id = 2
addrs = ["10.0.0.2"]
[[node]]
name = "c"
id = 3
addrs = ["10.0.0.3"]
[resource.ip]
agent = "ocf:heartbeat:IPaddr2"
params = { ip = "10.0.0.50" }
[resource.fs]
agent = "ocf:heartbeat:Filesystem"
[resource.db]
agent = "ocf:heartbeat:Dummy"
[group.stack]
resources = ["fs", "db"]
[[location]]
resource = "ip"
node = "b"
score = 50
[defaults]
migration_threshold = 3
"#;

    /// Goal: the memo in `place_with_policy` never changes an answer.
    /// Method: 3,000 random DC views (two configs, eligible nodes, where things run,
    /// roles, fail-counts, moves and bans, target roles), each changed a
    /// little from the previous so the memo both hits and misses; every
    /// answer must equal a fresh solver run, and some must be hits.
    #[test]
    fn memo_never_changes_the_answer() {
        // Two configs that differ only in the location's node.
        let configs: Vec<Config> = [
            CONFIG.to_string(),
            CONFIG.replace("node = \"b\"", "node = \"c\""),
        ]
        .iter()
        .map(|text| match crate::config::parse(text, "t.toml") {
            Ok(l) => l.config,
            Err(d) => panic!("{d:?}"),
        })
        .collect();
        assert_ne!(configs[0], configs[1]);
        let nodes = ["a", "b", "c"];
        let resources = ["ip", "fs", "db", "stack"];
        let mut rng = Rng::new(11);
        let mut cib = Cib::default();
        let mut eligible: BTreeSet<String> = nodes.iter().map(|n| n.to_string()).collect();
        let mut current: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut distinct = BTreeSet::new();
        for step in 0..3000 {
            let node = nodes[rng.below(3) as usize].to_string();
            let res = resources[rng.below(4) as usize].to_string();
            match rng.below(8) {
                0 => {
                    if !eligible.remove(&node) {
                        eligible.insert(node);
                    }
                }
                1 => {
                    let on = current.entry(res).or_default();
                    if !on.remove(&node) {
                        on.insert(node);
                    }
                }
                2 => {
                    let role =
                        [Role::Online, Role::Standby, Role::Maintenance][rng.below(3) as usize];
                    cib.set_role(&node, role);
                }
                3 => {
                    cib.record_failure(&res, &node, "monitor", 1, Instant::ZERO);
                }
                4 => cib.failcounts.clear(),
                5 => {
                    if cib.constraints.len() > 1 {
                        cib.constraints.clear();
                    } else {
                        cib.constraints.push(RuntimeConstraint {
                            resource: res,
                            node,
                            kind: if rng.chance(0.5) {
                                ConstraintKind::Move
                            } else {
                                ConstraintKind::Ban
                            },
                            expires: None,
                        });
                    }
                }
                6 => {
                    if cib.target_roles.remove(&res).is_none() {
                        cib.target_roles.insert(res, rng.chance(0.5));
                    }
                }
                _ => {} // same view again: a hit
            }
            let config = &configs[usize::from(rng.chance(0.1))];
            let got = place_with_policy(config, &cib, &eligible, &current);
            let want = solve_uncached(config, &cib, &eligible, &current);
            assert_eq!(got, want, "step {step}");
            distinct.insert(format!("{want:?}"));
        }
        assert!(
            distinct.len() > 5,
            "the views must lead to several placements"
        );
    }
}
