//! The placement solver: where every resource should run, and why.
//!
//! Decides: for every primitive (group members one by one, clones as a set
//! of nodes) the node(s) it should be active on, following the rules of
//! "Pacemaker Explained" and the algorithm of pacemaker 2.1's scheduler
//! (`pcmk__primitive_assign`, `pcmk__group_assign`, `pcmk__clone_assign`),
//! so that a cluster converted from pacemaker makes the same decisions.
//!
//! Inputs: the validated [`Config`] and a [`ClusterState`] (node states,
//! where resources are active, fail-counts, failed resources, runtime
//! move/ban constraints, quorum, the wall-clock time for failure expiry).
//! Output: a [`Placement`] with, for every resource and node, the final
//! allocation score and the contributions that made it (location, stickiness,
//! colocation, fail-count, ...), for `ha simulate --scores` and
//! `ha resource scores`.
//!
//! Never does I/O, never reads a clock, never iterates a hash map: the same
//! inputs always give the same placement. `transition::plan` turns a
//! placement into actions.

pub mod explain;
pub(crate) mod index;
pub mod simulate;
mod solve;
pub mod state;

use std::collections::BTreeMap;

use crate::config::Config;
use crate::score::Score;

pub use explain::{scores_text, summary_text};
pub use state::{ClusterState, FailCount, NodeState, RuntimeConstraint, StateError};

/// The target placement computed by [`place`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Placement {
    /// Every primitive (group members one by one) and every clone (under
    /// its clone id, instances merged) to the nodes it should be active on,
    /// in config node order. An empty list means stopped.
    pub assigned: BTreeMap<String, Vec<String>>,
    /// Allocation scores, per resource, per node, in config node order.
    /// Keys are primitive ids, group ids, clone ids and clone instances
    /// (`ping:0`).
    pub scores: BTreeMap<String, Vec<NodeScore>>,
    /// Why a resource that should run got no node (for the text output).
    pub stopped_reason: BTreeMap<String, String>,
}

/// One resource's allocation score on one node, with its contributions.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeScore {
    pub node: String,
    /// The final score (pacemaker's "allocation score"). A node that was
    /// never allowed (opt-in cluster without a location) shows -INFINITY.
    pub score: Score,
    /// False when the node can run no resources (offline, standby,
    /// maintenance, unclean) whatever the score says.
    pub available: bool,
    /// What made the score, in the order it was applied.
    pub contributions: Vec<Contribution>,
}

/// One term of a score: where it came from and how much it added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution {
    /// Plain words: `location web-pref`, `stickiness`, `colocation with db`.
    pub source: String,
    pub delta: Score,
}

impl Placement {
    /// The nodes `resource` (a primitive or clone id) should be active on.
    pub fn nodes(&self, resource: &str) -> &[String] {
        self.assigned
            .get(resource)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// Computes the target placement of every resource in `config` given the
/// current `state`. Pure and deterministic.
pub fn place(config: &Config, state: &ClusterState) -> Placement {
    let mut placement = solve::Solver::new(config, state).run();
    apply_mandatory_orders(config, state, &mut placement);
    placement
}

/// Like [`place`] but without score explanations (`Placement::scores` is
/// empty): for callers that only need the nodes, such as the DC on every
/// change, and the benchmark.
pub fn place_nodes_only(config: &Config, state: &ClusterState) -> Placement {
    let mut placement = solve::Solver::new(config, state)
        .without_explanations()
        .run();
    apply_mandatory_orders(config, state, &mut placement);
    placement
}

/// Starts that cannot happen, as pacemaker's scheduler finds after
/// placement: a mandatory `[[order]]` never starts `then` unless `first`
/// runs ("Pacemaker Explained", ordering: kind=Mandatory), and a resource
/// colocated with INFINITY with something whose start is blocked cannot
/// start either (pacemaker blocks the starts of mandatory colocation
/// dependents). Only starts are blocked: a resource already running where
/// it is placed keeps running (crm_simulate 2.1.5 does not stop a running
/// `then` whose `first` cannot run). A blocked resource keeps no node. A
/// group or clone as `first`
/// runs when all its members have a node. Repeats until nothing changes,
/// so chains settle.
fn apply_mandatory_orders(config: &Config, state: &ClusterState, placement: &mut Placement) {
    use crate::config::OrderKind;
    // The placement keys (primitive or clone ids) an id stands for.
    let idx = index::Index::new(config);
    let keys = |id: &str| -> Vec<String> {
        if idx.clone.contains_key(id) {
            return vec![id.to_string()];
        }
        if let Some(g) = idx.group.get(id) {
            if let Some(c) = idx.clone_of(&g.id) {
                return vec![c.id.clone()];
            }
            return g.resources.clone();
        }
        match idx.clone_of(id) {
            Some(c) => vec![c.id.clone()],
            None => vec![id.to_string()],
        }
    };
    // Whether a placement key must start somewhere it does not run now.
    let needs_start = |key: &str, nodes: &[String]| -> bool {
        let running: Vec<&String> = state
            .active
            .get(key)
            .into_iter()
            .flatten()
            .filter(|n| state.node_state(n).keeps_resources())
            .collect();
        nodes.iter().any(|n| !running.contains(&n))
    };
    // (starts somewhere, stops somewhere) in the transition to `placement`,
    // counting the recovery of a failed resource as both.
    let changes = |placement: &Placement, key: &str| -> (bool, bool) {
        let target = placement.nodes(key);
        let running: Vec<&String> = state
            .active
            .get(key)
            .into_iter()
            .flatten()
            .filter(|n| state.node_state(n).keeps_resources())
            .collect();
        let failed = running
            .iter()
            .any(|n| state.failed.contains(&(key.to_string(), n.to_string())));
        let start = failed || target.iter().any(|n| !running.contains(&n));
        let stop = failed || running.iter().any(|n| !target.contains(n));
        (start, stop)
    };
    let mut blocked: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for _ in 0..=(config.orders.len() + config.colocations.len() + config.resources.len()) {
        let mut changed = false;
        let clear = |placement: &mut Placement,
                     key: &str,
                     why: String,
                     blocked: &mut std::collections::BTreeSet<String>| {
            if let Some(nodes) = placement.assigned.get_mut(key)
                && !nodes.is_empty()
            {
                nodes.clear();
                placement.stopped_reason.insert(key.to_string(), why);
                blocked.insert(key.to_string());
                return true;
            }
            false
        };
        for o in config
            .orders
            .iter()
            .filter(|o| o.kind == OrderKind::Mandatory)
        {
            if keys(&o.first)
                .iter()
                .all(|m| !placement.nodes(m).is_empty())
            {
                continue;
            }
            // `then` must (re)start, which it cannot, when: it starts
            // anywhere or changes at all (a group member stopping restarts
            // the group), when `first` starts somewhere (a mandatory order
            // restarts `then`), or, with symmetrical = true, when `first`
            // stops (crm_simulate: "Stop then due to required first start").
            let first_keys = keys(&o.first);
            let first_starts = first_keys.iter().any(|k| changes(placement, k).0);
            let first_stops = o.symmetrical && first_keys.iter().any(|k| changes(placement, k).1);
            let then_keys = keys(&o.then);
            let then_changes = then_keys.iter().any(|k| {
                let (start, stop) = changes(placement, k);
                start || stop
            });
            if first_starts || first_stops || then_changes {
                for m in then_keys {
                    changed |= clear(
                        placement,
                        &m,
                        format!("order: {} must run first", o.first),
                        &mut blocked,
                    );
                }
            }
        }
        for c in config.colocations.iter().filter(|c| c.score.is_infinite()) {
            let primary_blocked = keys(&c.with).iter().any(|k| blocked.contains(k));
            if !primary_blocked {
                continue;
            }
            for m in keys(&c.resource) {
                let nodes = placement.nodes(&m).to_vec();
                if needs_start(&m, &nodes) {
                    changed |= clear(
                        placement,
                        &m,
                        format!("colocated with {}, which cannot start", c.with),
                        &mut blocked,
                    );
                }
            }
        }
        // A group member that cannot start stops the members after it.
        for g in config
            .groups
            .iter()
            .filter(|g| idx.clone_of(&g.id).is_none())
        {
            let mut stop_rest = false;
            for m in &g.resources {
                if stop_rest {
                    changed |= clear(
                        placement,
                        m,
                        format!("group {}: an earlier member cannot run", g.id),
                        &mut blocked,
                    );
                } else if blocked.contains(m) {
                    stop_rest = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}
