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
struct Item {
    resource: String,
    current: Vec<String>,
    target: Vec<String>,
    failed: Vec<String>,
    managed: bool,
    clone: bool,
}

/// Plans the transition from `state` to `placement`.
pub fn plan(config: &Config, state: &ClusterState, placement: &Placement) -> Graph {
    let mut items: Vec<Item> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let live = |nodes: &[String]| -> Vec<String> {
        nodes
            .iter()
            .filter(|n| state.node_state(n).keeps_resources())
            .cloned()
            .collect()
    };
    let idx = Index::new(config);
    for r in &config.resources {
        let clone = idx.enclosing_clone(&r.id);
        let (name, current) = match clone {
            Some(c) => {
                let mut cur = state.active.get(&c.id).cloned().unwrap_or_default();
                for n in state.active.get(&r.id).into_iter().flatten() {
                    if !cur.contains(n) {
                        cur.push(n.clone());
                    }
                }
                let name = if idx.clone_of(&r.id).is_some() {
                    c.id.clone()
                } else {
                    r.id.clone()
                };
                (name, cur)
            }
            None => (
                r.id.clone(),
                state.active.get(&r.id).cloned().unwrap_or_default(),
            ),
        };
        let current = live(&current);
        let target = match clone {
            Some(c) => placement.nodes(&c.id).to_vec(),
            None => placement.nodes(&r.id).to_vec(),
        };
        let failed: Vec<String> = current
            .iter()
            .filter(|n| {
                state.failed.contains(&(r.id.clone(), n.to_string()))
                    || state.failed.contains(&(name.clone(), n.to_string()))
            })
            .cloned()
            .collect();
        let on_maintenance = current
            .iter()
            .any(|n| state.node_state(n) == NodeState::Maintenance);
        let managed = idx.effective_meta(&r.id).managed && !on_maintenance;
        index.insert(r.id.clone(), items.len());
        if name != r.id {
            index.insert(name.clone(), items.len());
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
    let mut stops: Vec<BTreeSet<String>> = vec![BTreeSet::new(); items.len()];
    let mut starts: Vec<BTreeSet<String>> = vec![BTreeSet::new(); items.len()];
    let mut restart_reason: BTreeMap<(usize, String), String> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        if !it.managed {
            continue;
        }
        for n in &it.current {
            if !it.target.contains(n) || it.failed.contains(n) {
                stops[i].insert(n.clone());
            }
        }
        for n in &it.target {
            if !it.current.contains(n) || it.failed.contains(n) {
                starts[i].insert(n.clone());
            }
        }
    }

    // Who must restart when an item starts: the next group member, and
    // the `then` of every mandatory order.
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); items.len()];
    for g in &config.groups {
        for pair in g.resources.windows(2) {
            if let (Some(&a), Some(&b)) = (index.get(&pair[0]), index.get(&pair[1])) {
                dependents[a].push(b);
            }
        }
    }
    for o in &config.orders {
        if o.kind != OrderKind::Mandatory {
            continue;
        }
        for first in members(&idx, &o.first) {
            for then in members(&idx, &o.then) {
                if let (Some(&a), Some(&b)) = (index.get(&first), index.get(&then))
                    && a != b
                {
                    dependents[a].push(b);
                }
            }
        }
    }
    let mut work: Vec<usize> = (0..items.len())
        .filter(|&i| !starts[i].is_empty())
        .collect();
    while let Some(i) = work.pop() {
        for &d in &dependents[i].clone() {
            if !items[d].managed {
                continue;
            }
            let mut changed = false;
            for n in items[d].current.clone() {
                if items[d].target.contains(&n) && !starts[d].contains(&n) {
                    stops[d].insert(n.clone());
                    starts[d].insert(n.clone());
                    restart_reason.insert((d, n), items[i].resource.clone());
                    changed = true;
                }
            }
            if changed {
                work.push(d);
            }
        }
    }

    // Actions.
    let mut g = Graph::default();
    let mut stop_id: BTreeMap<(usize, String), usize> = BTreeMap::new();
    let mut start_id: BTreeMap<(usize, String), usize> = BTreeMap::new();
    let mut fence_id: BTreeMap<String, usize> = BTreeMap::new();
    for (i, it) in items.iter().enumerate() {
        for n in &stops[i] {
            let unclean = state.node_state(n) == NodeState::Unclean;
            if unclean && !fence_id.contains_key(n) {
                let id = g.actions.len();
                g.actions.push(Action {
                    id,
                    op: Op::Fence,
                    resource: String::new(),
                    node: n.clone(),
                    implied_by_fencing: false,
                });
                fence_id.insert(n.clone(), id);
            }
            let id = g.actions.len();
            g.actions.push(Action {
                id,
                op: Op::Stop,
                resource: it.resource.clone(),
                node: n.clone(),
                implied_by_fencing: unclean,
            });
            if let Some(&f) = fence_id.get(n).filter(|_| unclean) {
                g.edges.push((f, id));
            }
            stop_id.insert((i, n.clone()), id);
        }
    }
    for (i, it) in items.iter().enumerate() {
        for n in &starts[i] {
            let id = g.actions.len();
            g.actions.push(Action {
                id,
                op: Op::Start,
                resource: it.resource.clone(),
                node: n.clone(),
                implied_by_fencing: false,
            });
            start_id.insert((i, n.clone()), id);
            // A primitive stops before it starts anywhere; a clone
            // instance before it starts again on the same node.
            for (&(j, ref m), &s) in stop_id.range((i, String::new())..) {
                if j != i {
                    break;
                }
                if !it.clone || m == n {
                    g.edges.push((s, id));
                }
            }
        }
    }
    let ids_of = |map: &BTreeMap<(usize, String), usize>, i: usize| -> Vec<usize> {
        map.range((i, String::new())..)
            .take_while(|((j, _), _)| *j == i)
            .map(|(_, &id)| id)
            .collect()
    };
    let mut order_pairs: Vec<(usize, usize, OrderKind, bool)> = Vec::new();
    for grp in &config.groups {
        for pair in grp.resources.windows(2) {
            if let (Some(&a), Some(&b)) = (index.get(&pair[0]), index.get(&pair[1])) {
                order_pairs.push((a, b, OrderKind::Mandatory, true));
            }
        }
    }
    for o in &config.orders {
        for first in members(&idx, &o.first) {
            for then in members(&idx, &o.then) {
                if let (Some(&a), Some(&b)) = (index.get(&first), index.get(&then))
                    && a != b
                {
                    order_pairs.push((a, b, o.kind, o.symmetrical));
                }
            }
        }
    }
    for (a, b, kind, symmetrical) in order_pairs {
        for x in ids_of(&start_id, a) {
            for y in ids_of(&start_id, b) {
                g.edges.push((x, y));
            }
        }
        // Serialize only needs the two never to act at once; ordering its
        // stops like a symmetrical order keeps the graph acyclic when the
        // same pair also has a mandatory order.
        if symmetrical || kind == OrderKind::Serialize {
            for y in ids_of(&stop_id, b) {
                for x in ids_of(&stop_id, a) {
                    g.edges.push((y, x));
                }
            }
        }
    }
    g.edges.sort();
    g.edges.dedup();

    // Changes, ordered by the first action that makes them.
    let position: BTreeMap<usize, usize> = g
        .topological_order()
        .into_iter()
        .enumerate()
        .map(|(pos, id)| (id, pos))
        .collect();
    let mut changes: Vec<(usize, Change)> = Vec::new();
    for (n, &f) in &fence_id {
        changes.push((position[&f], Change::Fence { node: n.clone() }));
    }
    for (i, it) in items.iter().enumerate() {
        let r = it.resource.clone();
        let mut stop_left: Vec<String> = stops[i]
            .iter()
            .filter(|n| !starts[i].contains(*n))
            .cloned()
            .collect();
        let start_left: Vec<String> = starts[i]
            .iter()
            .filter(|n| !stops[i].contains(*n))
            .cloned()
            .collect();
        // Changes are listed by the position of their start (a stop alone
        // by its stop), so the list reads in start order.
        for n in stops[i].intersection(&starts[i]) {
            let pos = position[&start_id[&(i, n.clone())]];
            let change = if it.failed.contains(n) {
                Change::Recover {
                    resource: r.clone(),
                    from: n.clone(),
                    to: n.clone(),
                }
            } else {
                let because = restart_reason
                    .get(&(i, n.clone()))
                    .cloned()
                    .unwrap_or_default();
                Change::Restart {
                    resource: r.clone(),
                    node: n.clone(),
                    because,
                }
            };
            changes.push((pos, change));
        }
        for to in start_left {
            let pos = position[&start_id[&(i, to.clone())]];
            // Pair a start with a stop of the same primitive: a move.
            if !it.clone && !stop_left.is_empty() {
                let from = stop_left.remove(0);
                let change = if it.failed.contains(&from) {
                    Change::Recover {
                        resource: r.clone(),
                        from,
                        to,
                    }
                } else {
                    Change::Move {
                        resource: r.clone(),
                        from,
                        to,
                    }
                };
                changes.push((pos, change));
            } else {
                changes.push((
                    pos,
                    Change::Start {
                        resource: r.clone(),
                        node: to,
                    },
                ));
            }
        }
        for n in stop_left {
            changes.push((
                position[&stop_id[&(i, n.clone())]],
                Change::Stop {
                    resource: r.clone(),
                    node: n,
                },
            ));
        }
    }
    changes.sort_by_key(|(pos, _)| *pos);
    g.changes = changes.into_iter().map(|(_, c)| c).collect();
    g
}

/// The primitives an order constraint names: a group's members, a clone's
/// primitive(s), or the primitive itself.
fn members(idx: &Index, id: &str) -> Vec<String> {
    if let Some(c) = idx.clone.get(id) {
        return members(idx, &c.resource);
    }
    if let Some(g) = idx.group.get(id) {
        return g.resources.clone();
    }
    vec![id.to_string()]
}
