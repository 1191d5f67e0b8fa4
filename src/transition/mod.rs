//! The transition: from where resources are to where the solver wants
//! them, as a graph of start/stop actions with order edges.
//!
//! Decides: which primitives start, stop, move, recover (after a failure)
//! or restart (because something they depend on restarts: an earlier group
//! member, or the `first` of a mandatory `[[order]]`), and in which order:
//! a resource stops before it starts elsewhere, group members start in
//! order and stop in reverse, `[[order]]` constraints order starts (and
//! stops in reverse when symmetrical), a node that must be fenced is
//! fenced before what ran there starts elsewhere. Everything the edges do
//! not order may run in parallel; [`Graph::runnable`] says what may run
//! now. When an action fails, the caller updates the state and plans
//! again (pacemaker's re-planning after a failed transition).
//!
//! Inputs: the config, the current [`ClusterState`], the target
//! [`Placement`]. Output: a [`Graph`]. No I/O; deterministic.

pub mod order;

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, OrderKind};
use crate::policy::index::Index;
use crate::policy::{ClusterState, NodeState, Placement};

/// What one action does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    Stop,
    Start,
    /// Fence a node that is unclean, before what ran there runs elsewhere.
    Fence,
}

/// One action of the graph.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    /// Index in [`Graph::actions`].
    pub id: usize,
    pub op: Op,
    /// The primitive id (a clone's instances: the clone id). Empty for fencing.
    pub resource: String,
    pub node: String,
    /// A stop on an unclean node: it completes when the node is fenced,
    /// nothing is run for it.
    pub implied_by_fencing: bool,
}

/// A change as a person reads it (crm_simulate's "Transition Summary").
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Start {
        resource: String,
        node: String,
    },
    Stop {
        resource: String,
        node: String,
    },
    Move {
        resource: String,
        from: String,
        to: String,
    },
    /// Stop after a failure and start again, on the same or another node.
    Recover {
        resource: String,
        from: String,
        to: String,
    },
    /// Stop and start in place because something it depends on restarts.
    Restart {
        resource: String,
        node: String,
        because: String,
    },
    Fence {
        node: String,
    },
}

impl Change {
    /// The resource this change is about (empty for fencing).
    pub fn resource(&self) -> &str {
        match self {
            Change::Start { resource, .. }
            | Change::Stop { resource, .. }
            | Change::Move { resource, .. }
            | Change::Recover { resource, .. }
            | Change::Restart { resource, .. } => resource,
            Change::Fence { .. } => "",
        }
    }
}

/// The action graph of one transition.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Graph {
    pub actions: Vec<Action>,
    /// `(before, after)`: `after` may run only once `before` completed.
    pub edges: Vec<(usize, usize)>,
    /// The same transition as changes, in an order that respects every edge.
    pub changes: Vec<Change>,
}

impl Graph {
    /// True when nothing has to happen.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// The actions not in `done` whose predecessors are all in `done`:
    /// what may run now, in parallel.
    pub fn runnable(&self, done: &BTreeSet<usize>) -> Vec<usize> {
        let mut blocked = vec![false; self.actions.len()];
        for &(before, after) in &self.edges {
            if !done.contains(&before) {
                blocked[after] = true;
            }
        }
        (0..self.actions.len())
            .filter(|i| !done.contains(i) && !blocked[*i])
            .collect()
    }

    /// All actions in an order that respects every edge (Kahn's algorithm,
    /// lowest id first, so the order is deterministic).
    pub fn topological_order(&self) -> Vec<usize> {
        let n = self.actions.len();
        let mut indegree = vec![0usize; n];
        let mut next: Vec<Vec<usize>> = vec![Vec::new(); n];
        for &(a, b) in &self.edges {
            indegree[b] += 1;
            next[a].push(b);
        }
        let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut out = Vec::with_capacity(n);
        while let Some(&i) = ready.iter().next() {
            ready.remove(&i);
            out.push(i);
            for &j in &next[i] {
                indegree[j] -= 1;
                if indegree[j] == 0 {
                    ready.insert(j);
                }
            }
        }
        // Edges are only ever added from stops to starts, along group
        // order and along [[order]]; config validation rejects order
        // cycles, so every action is reached.
        assert_eq!(out.len(), n, "transition graph has a cycle");
        out
    }
}

/// One schedulable thing: a primitive, or a clone's primitive per node.
struct Item<'a> {
    resource: &'a str,
    current: Vec<&'a str>,
    target: &'a [String],
    failed: Vec<&'a str>,
    managed: bool,
    clone: bool,
}

/// Plans the transition from `state` to `placement`.
pub fn plan(config: &Config, state: &ClusterState, placement: &Placement) -> Graph {
    // Everything below is keyed by borrowed ids and item numbers, so the
    // planner allocates strings only for what it outputs: the re-check on
    // every event (nothing to do) then costs a few lookups per resource.
    let mut items: Vec<Item> = Vec::with_capacity(config.resources.len());
    let mut index: BTreeMap<&str, usize> = BTreeMap::new();
    let failed_set: BTreeSet<(&str, &str)> = state
        .failed
        .iter()
        .map(|(r, n)| (r.as_str(), n.as_str()))
        .collect();
    let idx = Index::new(config);
    for r in &config.resources {
        let clone = idx.enclosing_clone(&r.id);
        let own = state.active.get(&r.id).map(Vec::as_slice).unwrap_or(&[]);
        let (name, current): (&str, Vec<&str>) = match clone {
            Some(c) => {
                let mut cur: Vec<&str> = state
                    .active
                    .get(&c.id)
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                for n in own {
                    if !cur.contains(&n.as_str()) {
                        cur.push(n);
                    }
                }
                let name = if idx.clone_of(&r.id).is_some() {
                    c.id.as_str()
                } else {
                    r.id.as_str()
                };
                (name, cur)
            }
            None => (r.id.as_str(), own.iter().map(String::as_str).collect()),
        };
        let mut current = current;
        current.retain(|n| state.node_state(n).keeps_resources());
        let target = match clone {
            Some(c) => placement.nodes(&c.id),
            None => placement.nodes(&r.id),
        };
        let failed: Vec<&str> = if failed_set.is_empty() {
            Vec::new()
        } else {
            current
                .iter()
                .filter(|n| {
                    failed_set.contains(&(r.id.as_str(), **n)) || failed_set.contains(&(name, **n))
                })
                .copied()
                .collect()
        };
        let on_maintenance = current
            .iter()
            .any(|n| state.node_state(n) == NodeState::Maintenance);
        let managed = idx.effective_meta(&r.id).managed && !on_maintenance;
        index.insert(r.id.as_str(), items.len());
        if name != r.id {
            index.insert(name, items.len());
        }
        items.push(Item {
            resource: name,
            current,
            target,
            failed,
            managed,
            clone: clone.is_some(),
        });
    }

    // Per item and node: stop and/or start.
    let mut stops: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); items.len()];
    let mut starts: Vec<BTreeSet<&str>> = vec![BTreeSet::new(); items.len()];
    let mut restart_reason: BTreeMap<(usize, &str), &str> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        if !it.managed {
            continue;
        }
        for &n in &it.current {
            if !it.target.iter().any(|t| t == n) || it.failed.contains(&n) {
                stops[i].insert(n);
            }
        }
        for n in it.target {
            let n = n.as_str();
            if !it.current.contains(&n) || it.failed.contains(&n) {
                starts[i].insert(n);
            }
        }
    }

    // Order pairs between items: group member order, then every
    // `[[order]]` expanded to the primitives it names (`order::pairs`).
    // Computed once; the restart propagation uses the mandatory ones (group
    // order is mandatory).
    let order_pairs: Vec<(usize, usize, OrderKind, bool)> = order::pairs(config)
        .into_iter()
        .filter_map(|p| {
            let (a, b) = (*index.get(p.first.as_str())?, *index.get(p.then.as_str())?);
            (a != b).then_some((a, b, p.kind, p.symmetrical))
        })
        .collect();

    // Who must restart when an item starts: the next group member, and
    // the `then` of every mandatory order.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for &(a, b, kind, _) in &order_pairs {
        if kind == OrderKind::Mandatory {
            dependents[a].push(b);
        }
    }
    let mut work: Vec<usize> = (0..items.len())
        .filter(|&i| !starts[i].is_empty())
        .collect();
    while let Some(i) = work.pop() {
        for k in 0..dependents[i].len() {
            let d = dependents[i][k];
            if !items[d].managed {
                continue;
            }
            let mut changed = false;
            for &n in &items[d].current {
                if items[d].target.iter().any(|t| t == n) && !starts[d].contains(n) {
                    stops[d].insert(n);
                    starts[d].insert(n);
                    restart_reason.insert((d, n), items[i].resource);
                    changed = true;
                }
            }
            if changed {
                work.push(d);
            }
        }
    }

    // Actions. Per item, its stop and start ids in node order.
    let mut g = Graph::default();
    let mut stop_ids: Vec<Vec<(&str, usize)>> = vec![Vec::new(); items.len()];
    let mut start_ids: Vec<Vec<(&str, usize)>> = vec![Vec::new(); items.len()];
    let mut fence_id: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        for &n in &stops[i] {
            let unclean = state.node_state(n) == NodeState::Unclean;
            if unclean && !fence_id.contains_key(n) {
                let id = g.actions.len();
                g.actions.push(Action {
                    id,
                    op: Op::Fence,
                    resource: String::new(),
                    node: n.to_string(),
                    implied_by_fencing: false,
                });
                fence_id.insert(n, id);
            }
            let id = g.actions.len();
            g.actions.push(Action {
                id,
                op: Op::Stop,
                resource: it.resource.to_string(),
                node: n.to_string(),
                implied_by_fencing: unclean,
            });
            if let Some(&f) = fence_id.get(n).filter(|_| unclean) {
                g.edges.push((f, id));
            }
            stop_ids[i].push((n, id));
        }
    }
    for (i, it) in items.iter().enumerate() {
        for &n in &starts[i] {
            let id = g.actions.len();
            g.actions.push(Action {
                id,
                op: Op::Start,
                resource: it.resource.to_string(),
                node: n.to_string(),
                implied_by_fencing: false,
            });
            start_ids[i].push((n, id));
            // A primitive stops before it starts anywhere; a clone
            // instance before it starts again on the same node.
            for &(m, s) in &stop_ids[i] {
                if !it.clone || m == n {
                    g.edges.push((s, id));
                }
            }
        }
    }
    for (a, b, kind, symmetrical) in order_pairs {
        for &(_, x) in &start_ids[a] {
            for &(_, y) in &start_ids[b] {
                g.edges.push((x, y));
            }
        }
        // Serialize only needs the two never to act at once; ordering its
        // stops like a symmetrical order keeps the graph acyclic when the
        // same pair also has a mandatory order.
        if symmetrical || kind == OrderKind::Serialize {
            for &(_, y) in &stop_ids[b] {
                for &(_, x) in &stop_ids[a] {
                    g.edges.push((y, x));
                }
            }
        }
    }
    g.edges.sort_unstable();
    g.edges.dedup();

    // Changes, ordered by the first action that makes them.
    let mut position = vec![0usize; g.actions.len()];
    for (pos, id) in g.topological_order().into_iter().enumerate() {
        position[id] = pos;
    }
    let id_on = |ids: &[(&str, usize)], n: &str| -> usize {
        ids.iter()
            .find(|(m, _)| *m == n)
            .map(|&(_, id)| id)
            .expect("every planned stop/start has an action")
    };
    let mut changes: Vec<(usize, Change)> = Vec::new();
    for (&n, &f) in &fence_id {
        changes.push((
            position[f],
            Change::Fence {
                node: n.to_string(),
            },
        ));
    }
    for (i, it) in items.iter().enumerate() {
        if stops[i].is_empty() && starts[i].is_empty() {
            continue;
        }
        let r = it.resource;
        let mut stop_left: Vec<&str> = stops[i]
            .iter()
            .filter(|n| !starts[i].contains(*n))
            .copied()
            .collect();
        let start_left: Vec<&str> = starts[i]
            .iter()
            .filter(|n| !stops[i].contains(*n))
            .copied()
            .collect();
        // Changes are listed by the position of their start (a stop alone
        // by its stop), so the list reads in start order.
        for &n in stops[i].intersection(&starts[i]) {
            let pos = position[id_on(&start_ids[i], n)];
            let change = if it.failed.contains(&n) {
                Change::Recover {
                    resource: r.to_string(),
                    from: n.to_string(),
                    to: n.to_string(),
                }
            } else {
                let because = restart_reason
                    .get(&(i, n))
                    .map(|s| s.to_string())
                    .unwrap_or_default();
                Change::Restart {
                    resource: r.to_string(),
                    node: n.to_string(),
                    because,
                }
            };
            changes.push((pos, change));
        }
        for to in start_left {
            let pos = position[id_on(&start_ids[i], to)];
            // Pair a start with a stop of the same primitive: a move.
            if !it.clone && !stop_left.is_empty() {
                let from = stop_left.remove(0);
                let change = if it.failed.contains(&from) {
                    Change::Recover {
                        resource: r.to_string(),
                        from: from.to_string(),
                        to: to.to_string(),
                    }
                } else {
                    Change::Move {
                        resource: r.to_string(),
                        from: from.to_string(),
                        to: to.to_string(),
                    }
                };
                changes.push((pos, change));
            } else {
                changes.push((
                    pos,
                    Change::Start {
                        resource: r.to_string(),
                        node: to.to_string(),
                    },
                ));
            }
        }
        for n in stop_left {
            changes.push((
                position[id_on(&stop_ids[i], n)],
                Change::Stop {
                    resource: r.to_string(),
                    node: n.to_string(),
                },
            ));
        }
    }
    changes.sort_by_key(|(pos, _)| *pos);
    g.changes = changes.into_iter().map(|(_, c)| c).collect();
    g
}
