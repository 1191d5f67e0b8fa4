//! The assignment algorithm, modelled step by step on pacemaker 2.1's
//! scheduler so that the same inputs give the same placement.
//!
//! Resources form a tree of units: primitives, groups (members in order),
//! clones (one instance unit per `max`). Every unit carries a score per
//! node (pacemaker's `allowed_nodes`; `ABSENT` = not in the table, which is
//! how an opt-in cluster keeps a resource off a node no location names).
//! Scores are filled in the order pacemaker applies them: the symmetric
//! default, location constraints (configured, then runtime), stickiness,
//! the fail-count threshold. Then top-level units are assigned one at a
//! time in priority order (stable: ties keep config order). Assigning a
//! unit first assigns what it is colocated with (its primaries) and
//! applies those colocations, then folds in the preferences of the units
//! colocated with it (pacemaker's "merge weights", scaled by
//! score/INFINITY, with roll-back when that would leave no node), then
//! picks the best node: highest score, then fewest resources assigned so
//! far, then the node it is active on, then node name byte order.

use std::collections::BTreeMap;

use super::index::Index;
use super::state::{ClusterState, NodeState};
use super::{Contribution, NodeScore, Placement};
use crate::config::{Config, LocationTarget, NoQuorumPolicy, Rule, RuleOp, TargetRole};
use crate::score::Score;

const INF: i64 = crate::score::INFINITY;
/// Not in the unit's allowed-node table.
const ABSENT: i64 = i64::MIN;
/// Pacemaker's INFINITY_HACK: a node a positive-only merge marked unusable.
const HACK: i64 = -2 * INF;

/// Pacemaker's `pe__add_scores`: -INFINITY wins, then +INFINITY, then a
/// sum clamped to +/-INFINITY.
fn add(a: i64, b: i64) -> i64 {
    if a <= -INF || b <= -INF {
        -INF
    } else if a >= INF || b >= INF {
        INF
    } else {
        (a + b).clamp(-INF, INF)
    }
}

#[derive(Clone, Copy, Debug)]
enum Src {
    Location(usize),
    /// A group's location constraint as seen by a member after the first
    /// (pacemaker gives them the node with score 0).
    GroupLocation(usize),
    Runtime(usize),
    Stickiness,
    FailLimit {
        count: u32,
        threshold: i64,
    },
    Coloc(usize),
    /// A clone primary colocated with +INFINITY: no instance on this node.
    ColocNoInstance(usize),
    Merge(usize),
    Stopped,
    NoQuorum,
    CloneParent,
    CloneFull,
    CloneLimit,
    Unavailable,
}

#[derive(Clone, Copy, Debug)]
struct Contrib {
    node: u16,
    src: Src,
    delta: i64,
}

#[derive(Clone, Debug)]
enum Kind {
    Primitive,
    Group(Vec<usize>),
    Clone {
        children: Vec<usize>,
        max: usize,
        node_max: usize,
    },
}

#[derive(Clone, Debug)]
struct Unit {
    /// Unique unit name: the config id, or `id:N` for clone instances.
    id: String,
    /// The config id this unit reports under (a clone's leaves report
    /// under the clone id).
    report: String,
    /// The config id of the primitive, group or clone this unit is.
    cfg: String,
    kind: Kind,
    parent: Option<usize>,
    w: Vec<i64>,
    contrib: Vec<Contrib>,
    running_on: Vec<u16>,
    failed: bool,
    stickiness: i64,
    priority: i64,
    stopped_role: bool,
    managed: bool,
    cons: Vec<usize>,
    cons_lhs: Vec<usize>,
    provisional: bool,
    allocating: bool,
    merging: bool,
    allocated_to: Option<u16>,
    /// Clones: instances assigned per node.
    count: Vec<u32>,
}

#[derive(Clone, Debug)]
struct Coloc {
    dep: usize,
    prim: usize,
    score: i64,
    /// Index into `config.colocations`, or `None` for a group's implied
    /// member-with-previous-member colocation.
    config: Option<usize>,
}

pub(super) struct Solver<'a> {
    cfg: &'a Config,
    idx: Index<'a>,
    state: &'a ClusterState,
    node_names: Vec<&'a str>,
    /// Node indices sorted by name (byte order), and each node's rank.
    name_rank: Vec<usize>,
    can_run: Vec<bool>,
    num_resources: Vec<u32>,
    units: Vec<Unit>,
    colocs: Vec<Coloc>,
    top: Vec<usize>,
    /// Config id (primitive, group, clone) to the units it maps to.
    by_cfg: BTreeMap<String, Vec<usize>>,
    stop_everything: bool,
    freeze: bool,
    explain: bool,
}

impl<'a> Solver<'a> {
    pub(super) fn new(cfg: &'a Config, state: &'a ClusterState) -> Solver<'a> {
        let node_names: Vec<&str> = cfg.nodes.iter().map(|n| n.name.as_str()).collect();
        let mut order: Vec<usize> = (0..node_names.len()).collect();
        order.sort_by(|&a, &b| node_names[a].as_bytes().cmp(node_names[b].as_bytes()));
        let mut name_rank = vec![0; node_names.len()];
        for (rank, &i) in order.iter().enumerate() {
            name_rank[i] = rank;
        }
        let can_run = node_names
            .iter()
            .map(|n| state.node_state(n).can_run())
            .collect();
        let policy = cfg.cluster.no_quorum_policy;
        Solver {
            cfg,
            idx: Index::new(cfg),
            state,
            num_resources: vec![0; node_names.len()],
            node_names,
            name_rank,
            can_run,
            units: Vec::new(),
            colocs: Vec::new(),
            top: Vec::new(),
            by_cfg: BTreeMap::new(),
            stop_everything: !state.quorate
                && matches!(policy, NoQuorumPolicy::Stop | NoQuorumPolicy::Suicide),
            freeze: !state.quorate && policy == NoQuorumPolicy::Freeze,
            explain: true,
        }
    }

    /// Skips recording contributions (for callers that only need nodes).
    pub(super) fn without_explanations(mut self) -> Self {
        self.explain = false;
        self
    }

    pub(super) fn run(mut self) -> Placement {
        self.build();
        self.apply_locations();
        self.apply_stickiness();
        self.apply_fail_limits();
        self.build_colocations();
        let mut order = self.top.clone();
        // Pacemaker sorts its resource list by priority (stable), so equal
        // priorities keep config order.
        order.sort_by_key(|&u| std::cmp::Reverse(self.units[u].priority));
        for u in order {
            self.assign(u, None);
        }
        self.result()
    }

    fn n(&self) -> usize {
        self.node_names.len()
    }

    fn node_index(&self, name: &str) -> Option<u16> {
        self.node_names
            .iter()
            .position(|n| *n == name)
            .map(|i| i as u16)
    }

    // ---- building the unit tree -------------------------------------

    fn build(&mut self) {
        let cfg = self.cfg;
        let mut seen: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
        for r in &cfg.resources {
            let top = if let Some(c) = self.idx.enclosing_clone(&r.id) {
                c.id.clone()
            } else if let Some(g) = self.idx.group_of(&r.id) {
                g.id.clone()
            } else {
                r.id.clone()
            };
            if !seen.insert(top.clone()) {
                continue;
            }
            let u = self.build_unit(&top, None, None, &top);
            self.top.push(u);
        }
    }

    fn build_unit(
        &mut self,
        id: &str,
        parent: Option<usize>,
        instance: Option<usize>,
        report: &str,
    ) -> usize {
        let cfg = self.cfg;
        let n = self.n();
        let name = match instance {
            Some(i) => format!("{id}:{i}"),
            None => id.to_string(),
        };
        let initial = if cfg.cluster.symmetric { 0 } else { ABSENT };
        let u = self.units.len();
        let (priority, stopped_role) = self.meta_of(id, parent);
        let prim_meta = self
            .idx
            .resource
            .get(id)
            .map(|_| self.idx.effective_meta(id));
        self.units.push(Unit {
            id: name,
            report: report.to_string(),
            cfg: id.to_string(),
            kind: Kind::Primitive,
            parent,
            w: vec![initial; n],
            contrib: Vec::new(),
            running_on: Vec::new(),
            failed: false,
            stickiness: prim_meta.map(|m| m.stickiness.value()).unwrap_or(0),
            priority,
            stopped_role,
            managed: prim_meta.map(|m| m.managed).unwrap_or(true),
            cons: Vec::new(),
            cons_lhs: Vec::new(),
            provisional: true,
            allocating: false,
            merging: false,
            allocated_to: None,
            count: Vec::new(),
        });
        self.by_cfg.entry(id.to_string()).or_default().push(u);
        if let Some(c) = self.idx.clone.get(id).copied() {
            let max = c.max.map(|m| m as usize).unwrap_or(n);
            let mut children = Vec::new();
            for i in 0..max {
                let child = c.resource.clone();
                children.push(self.build_unit(&child, Some(u), Some(i), report));
            }
            self.units[u].count = vec![0; n];
            self.units[u].kind = Kind::Clone {
                children,
                max,
                // Pacemaker runs at most one instance of an anonymous clone
                // per node, whatever clone-node-max says (crm_simulate
                // places 3 instances of max=6 node_max=2 on 3 nodes), and
                // ha's clones are anonymous.
                node_max: 1,
            };
        } else if let Some(g) = self.idx.group.get(id).copied() {
            let mut children = Vec::new();
            for m in &g.resources {
                let rep = if report == id { m.as_str() } else { report };
                children.push(self.build_unit(m, Some(u), instance, rep));
            }
            self.units[u].kind = Kind::Group(children);
        } else {
            self.init_primitive(u, id, report);
        }
        u
    }

    /// Priority and target role of a unit: its own meta, then its parents'.
    fn meta_of(&self, id: &str, parent: Option<usize>) -> (i64, bool) {
        let own = self.idx.own_meta(id);
        let parent_priority = parent.map(|p| self.units[p].priority).unwrap_or(0);
        let parent_stopped = parent.map(|p| self.units[p].stopped_role).unwrap_or(false);
        let priority = own.and_then(|m| m.priority).unwrap_or(parent_priority);
        let role = own.and_then(|m| m.target_role);
        let mut stopped = match role {
            Some(r) => r == TargetRole::Stopped,
            None => parent_stopped,
        };
        match self.state.target_roles.get(id) {
            Some(TargetRole::Stopped) => stopped = true,
            Some(TargetRole::Started) => stopped = false,
            None => {}
        }
        (priority, stopped)
    }

    /// Where a primitive unit is active, and whether it failed there.
    fn init_primitive(&mut self, u: usize, id: &str, report: &str) {
        let st = self.state;
        let key = if report != id && st.active.get(id).is_none() {
            report
        } else {
            id
        };
        let mut nodes: Vec<u16> = st
            .active
            .get(key)
            .into_iter()
            .flatten()
            .filter_map(|n| self.node_index(n))
            .filter(|&n| st.node_state(self.node_names[n as usize]).keeps_resources())
            .collect();
        nodes.sort();
        nodes.dedup();
        let is_instance = self.idx.enclosing_clone(id).is_some();
        if is_instance {
            // Anonymous clone instances: instance i runs on the i-th node
            // (config order) that runs the clone, as pacemaker numbers them
            // while reading the status section.
            let index: usize = self.units[u]
                .id
                .rsplit(':')
                .next()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            nodes = nodes.get(index).copied().into_iter().collect();
        }
        let failed = nodes.iter().any(|&n| {
            st.failed
                .contains(&(id.to_string(), self.node_names[n as usize].to_string()))
                || st
                    .failed
                    .contains(&(key.to_string(), self.node_names[n as usize].to_string()))
        });
        // Resources on a maintenance node are left alone (unmanaged).
        if nodes
            .iter()
            .any(|&n| st.node_state(self.node_names[n as usize]) == NodeState::Maintenance)
        {
            self.units[u].managed = false;
        }
        self.units[u].running_on = nodes;
        self.units[u].failed = failed;
    }

    // ---- scores before assignment -----------------------------------

    fn bump(&mut self, u: usize, node: u16, delta: i64, src: Src) {
        let w = &mut self.units[u].w[node as usize];
        if *w == ABSENT {
            *w = 0;
        }
        *w = add(*w, delta);
        if self.explain && delta != 0 {
            self.units[u].contrib.push(Contrib { node, src, delta });
        }
    }

    /// Pacemaker's `resource_location`: the unit and all its descendants.
    fn location_recursive(&mut self, u: usize, node: u16, delta: i64, src: Src) {
        if let Kind::Group(ch) | Kind::Clone { children: ch, .. } = self.units[u].kind.clone() {
            for c in ch {
                self.location_recursive(c, node, delta, src);
            }
        }
        self.bump(u, node, delta, src);
    }

    /// A location constraint on a unit: a group gives the score to its
    /// first member and a zero (but allowing) score to the others; a clone
    /// passes it to itself and every instance.
    fn apply_location(&mut self, u: usize, node: u16, score: i64, src: Src, zero_src: Src) {
        self.bump(u, node, score, src);
        match self.units[u].kind.clone() {
            Kind::Primitive => {}
            Kind::Group(ch) => {
                for (i, c) in ch.into_iter().enumerate() {
                    if i == 0 {
                        self.apply_location(c, node, score, src, zero_src);
                    } else {
                        self.apply_location(c, node, 0, zero_src, zero_src);
                    }
                }
            }
            Kind::Clone { children, .. } => {
                for c in children {
                    self.apply_location(c, node, score, src, zero_src);
                }
            }
        }
    }

    fn constrained_units(&self, id: &str) -> Vec<usize> {
        // A constraint on the primitive or group inside a clone means the
        // clone (pacemaker resolves the id to the clone's instances).
        let wrapped = self.idx.enclosing_clone(id);
        if let Some(c) = wrapped {
            return self.by_cfg.get(&c.id).cloned().unwrap_or_default();
        }
        self.by_cfg.get(id).cloned().unwrap_or_default()
    }

    fn apply_locations(&mut self) {
        let cfg = self.cfg;
        for (i, loc) in cfg.locations.iter().enumerate() {
            let nodes: Vec<u16> = match &loc.target {
                LocationTarget::Node(name) => self.node_index(name).into_iter().collect(),
                LocationTarget::Rule(rule) => (0..self.n() as u16)
                    .filter(|&n| rule_matches(rule, &cfg.nodes[n as usize]))
                    .collect(),
            };
            for u in self.constrained_units(&loc.resource) {
                for &n in &nodes {
                    self.apply_location(
                        u,
                        n,
                        loc.score.value(),
                        Src::Location(i),
                        Src::GroupLocation(i),
                    );
                }
            }
        }
        for (i, rc) in self.state.constraints.iter().enumerate() {
            if rc.expires_ms.is_some_and(|e| self.state.now_ms >= e) {
                continue;
            }
            let Some(n) = self.node_index(&rc.node) else {
                continue;
            };
            for u in self.constrained_units(&rc.resource) {
                self.apply_location(u, n, rc.score.value(), Src::Runtime(i), Src::Runtime(i));
            }
        }
    }

    fn apply_stickiness(&mut self) {
        let symmetric = self.cfg.cluster.symmetric;
        for u in 0..self.units.len() {
            let unit = &self.units[u];
            if !matches!(unit.kind, Kind::Primitive)
                || !unit.managed
                || unit.stickiness < 1
                || unit.running_on.len() != 1
            {
                continue;
            }
            let node = unit.running_on[0];
            // In an opt-in cluster stickiness only counts where a location
            // still allows the resource, so it is not kept somewhere it is
            // no longer enabled.
            if !symmetric && unit.w[node as usize] == ABSENT {
                continue;
            }
            let s = unit.stickiness;
            self.bump(u, node, s, Src::Stickiness);
        }
    }

    fn apply_fail_limits(&mut self) {
        let st = self.state;
        for ((id, node), fc) in &st.failcounts {
            let Some(n) = self.node_index(node) else {
                continue;
            };
            let meta = self.idx.effective_meta(id);
            let threshold = meta.migration_threshold.value();
            // migration_threshold = 0 means never force the resource away.
            if threshold <= 0 {
                continue;
            }
            let timeout = meta.failure_timeout.as_millis();
            let expired = timeout > 0
                && fc
                    .last_failure_ms
                    .is_some_and(|last| st.now_ms > last.saturating_add(timeout));
            if expired || fc.count == 0 || (fc.count as i64) < threshold {
                continue;
            }
            let src = Src::FailLimit {
                count: fc.count,
                threshold,
            };
            if let Some(c) = self.idx.enclosing_clone(id) {
                // An anonymous clone instance bans the whole clone there.
                for u in self.by_cfg.get(&c.id).cloned().unwrap_or_default() {
                    self.location_recursive(u, n, -INF, src);
                }
                continue;
            }
            for u in self.by_cfg.get(id.as_str()).cloned().unwrap_or_default() {
                if matches!(self.units[u].kind, Kind::Primitive) {
                    self.location_recursive(u, n, -INF, src);
                }
            }
        }
    }

    fn build_colocations(&mut self) {
        let cfg = self.cfg;
        for (i, c) in cfg.colocations.iter().enumerate() {
            let (Some(&dep), Some(&prim)) = (
                self.constrained_units(&c.resource).first(),
                self.constrained_units(&c.with).first(),
            ) else {
                continue;
            };
            if c.score.value() == 0 || dep == prim {
                continue;
            }
            self.add_coloc(Coloc {
                dep,
                prim,
                score: c.score.value(),
                config: Some(i),
            });
        }
        // A group implies each member is colocated (INFINITY) with the one
        // before it.
        for g in 0..self.units.len() {
            if let Kind::Group(ch) = self.units[g].kind.clone() {
                for pair in ch.windows(2) {
                    self.add_coloc(Coloc {
                        dep: pair[1],
                        prim: pair[0],
                        score: INF,
                        config: None,
                    });
                }
            }
        }
    }

    fn add_coloc(&mut self, c: Coloc) {
        let idx = self.colocs.len();
        let (dep, prim) = (c.dep, c.prim);
        self.colocs.push(c);
        // Pacemaker keeps these lists sorted by the other side's priority,
        // then clones before groups before primitives, then id; a new entry
        // goes before equal ones.
        let key = |s: &Solver, other: usize| {
            let o = &s.units[other];
            let variant = match o.kind {
                Kind::Clone { .. } => 0,
                Kind::Group(_) => 1,
                Kind::Primitive => 2,
            };
            (std::cmp::Reverse(o.priority), variant, o.id.clone())
        };
        let k = key(self, prim);
        let pos = self.units[dep]
            .cons
            .iter()
            .position(|&e| key(self, self.colocs[e].prim) >= k)
            .unwrap_or(self.units[dep].cons.len());
        self.units[dep].cons.insert(pos, idx);
        let k = key(self, dep);
        let pos = self.units[prim]
            .cons_lhs
            .iter()
            .position(|&e| key(self, self.colocs[e].dep) >= k)
            .unwrap_or(self.units[prim].cons_lhs.len());
        self.units[prim].cons_lhs.insert(pos, idx);
    }

    // ---- assignment -------------------------------------------------

    fn assign(&mut self, u: usize, prefer: Option<u16>) -> Option<u16> {
        match self.units[u].kind {
            Kind::Primitive => self.assign_primitive(u, prefer),
            Kind::Group(_) => self.assign_group(u, prefer),
            Kind::Clone { .. } => self.assign_clone(u),
        }
    }

    fn can_run_any_w(&self, w: &[i64]) -> bool {
        w.iter()
            .enumerate()
            .any(|(n, &s)| s != ABSENT && s >= 0 && self.can_run[n])
    }

    fn assign_primitive(&mut self, u: usize, prefer: Option<u16>) -> Option<u16> {
        if let Some(p) = self.units[u].parent
            && !self.units[p].allocating
        {
            // Children are never assigned on their own.
            self.assign(p, prefer);
            return self.units[u].allocated_to;
        }
        if !self.units[u].provisional {
            return self.units[u].allocated_to;
        }
        if self.units[u].allocating {
            return None; // dependency loop
        }
        self.units[u].allocating = true;

        let cons = self.units[u].cons.clone();
        for c in cons {
            let (prim, score) = (self.colocs[c].prim, self.colocs[c].score);
            let archive = (score < 0 && score > -INF)
                .then(|| (self.units[u].w.clone(), self.units[u].contrib.len()));
            self.assign(prim, None);
            self.coloc_lh(u, prim, c);
            if let Some((w, len)) = archive
                && !self.can_run_any_w(&self.units[u].w)
            {
                self.units[u].w = w;
                self.units[u].contrib.truncate(len);
            }
        }

        let lhs = self.units[u].cons_lhs.clone();
        for c in lhs {
            let (dep, score) = (self.colocs[c].dep, self.colocs[c].score);
            let before = self.units[u].w.clone();
            let after = self.merge(dep, before.clone(), score as f32 / INF as f32, true, false);
            self.record_merge(u, &before, &after, c);
            self.units[u].w = after;
        }

        let unit = &self.units[u];
        if unit.stopped_role {
            for n in 0..self.n() as u16 {
                self.bump(u, n, -INF, Src::Stopped);
            }
        }
        let unit = &self.units[u];
        let result = if !unit.managed {
            let node = unit.running_on.first().copied();
            self.assign_node(u, node, true)
        } else if self.stop_everything {
            self.assign_node(u, None, true)
        } else if self.freeze && unit.running_on.is_empty() {
            // Without quorum, `freeze` starts nothing that is not running
            // (pacemaker bans a resource whose next role is above its
            // current one); what runs is placed as usual.
            for n in 0..self.n() as u16 {
                self.bump(u, n, -INF, Src::NoQuorum);
            }
            self.assign_node(u, None, true)
        } else {
            let node = self.choose_node(u, prefer);
            self.assign_node(u, node, false)
        };
        self.units[u].allocating = false;
        result
    }

    /// Pacemaker's `native_choose_node` with its node order
    /// (`sort_node_weight`): score, then fewest resources assigned so far,
    /// then the current node, then name; except that a positive score on
    /// the current node equal to the best keeps the resource where it is.
    fn choose_node(&self, u: usize, prefer: Option<u16>) -> Option<u16> {
        let unit = &self.units[u];
        let current = unit.running_on.first().copied();
        let eff = |n: u16| {
            if self.can_run[n as usize] {
                unit.w[n as usize]
            } else {
                -INF
            }
        };
        // Only the first node of pacemaker's order matters: one pass.
        let best = (0..self.n() as u16)
            .filter(|&n| unit.w[n as usize] != ABSENT)
            .min_by(|&a, &b| {
                eff(b)
                    .cmp(&eff(a))
                    .then(self.num_resources[a as usize].cmp(&self.num_resources[b as usize]))
                    .then((Some(b) == current).cmp(&(Some(a) == current)))
                    .then(self.name_rank[a as usize].cmp(&self.name_rank[b as usize]))
            })?;
        if let Some(p) = prefer
            && unit.w[p as usize] != ABSENT
            && unit.w[p as usize] >= unit.w[best as usize]
            && self.can_run[p as usize]
        {
            return Some(p);
        }
        // A resource stays on its current node when that node is as good
        // as the best one and the score is positive, even if the best is
        // less loaded: crm_simulate 2.1.5 keeps two resources with score
        // 1 (or 100, or INFINITY) on both nodes together, but spreads two
        // with score 0.
        if let Some(running) = current
            && self.can_run[running as usize]
            && unit.w[running as usize] != ABSENT
            && unit.w[running as usize] == unit.w[best as usize]
            && unit.w[running as usize] > 0
        {
            return Some(running);
        }
        Some(best)
    }

    fn assign_node(&mut self, u: usize, node: Option<u16>, force: bool) -> Option<u16> {
        let node = node
            .filter(|&n| force || (self.units[u].w[n as usize] >= 0 && self.can_run[n as usize]));
        self.units[u].provisional = false;
        self.units[u].allocated_to = node;
        if let Some(n) = node {
            self.num_resources[n as usize] += 1;
        }
        node
    }

    fn deallocate(&mut self, u: usize) {
        if let Some(n) = self.units[u].allocated_to.take() {
            self.num_resources[n as usize] -= 1;
        }
        self.units[u].provisional = true;
        if let Kind::Group(ch) = self.units[u].kind.clone() {
            for c in ch {
                self.deallocate(c);
            }
        }
    }

    fn assign_group(&mut self, u: usize, prefer: Option<u16>) -> Option<u16> {
        if !self.units[u].provisional || self.units[u].allocating {
            return None;
        }
        let Kind::Group(children) = self.units[u].kind.clone() else {
            return None;
        };
        if children.is_empty() {
            self.units[u].provisional = false;
            return None;
        }
        self.units[u].allocating = true;
        // The group's own colocations act through its first member (as
        // dependent) and its last member (as primary).
        let cons = std::mem::take(&mut self.units[u].cons);
        self.units[children[0]].cons.extend(cons);
        let lhs = std::mem::take(&mut self.units[u].cons_lhs);
        let last = *children.last().expect("non-empty");
        self.units[last].cons_lhs.extend(lhs);
        let mut group_node = None;
        for (i, c) in children.iter().enumerate() {
            let node = self.assign(*c, prefer);
            if i == 0 {
                group_node = node;
            }
        }
        self.units[u].allocating = false;
        self.units[u].provisional = false;
        self.units[u].allocated_to = group_node;
        group_node
    }

    /// Applies colocation `c` to the dependent `dep` being assigned, with
    /// `prim` already assigned.
    fn coloc_lh(&mut self, dep: usize, prim: usize, c: usize) {
        match self.units[prim].kind.clone() {
            Kind::Primitive => self.coloc_native(dep, prim, c),
            Kind::Group(ch) => {
                if self.units[prim].provisional || ch.is_empty() {
                    return;
                }
                // A mandatory colocation needs the whole group (its last
                // member); an optional one is fine with its first.
                let member = if self.colocs[c].score >= INF {
                    *ch.last().unwrap()
                } else {
                    ch[0]
                };
                self.coloc_native(dep, member, c);
            }
            Kind::Clone { children, .. } => {
                if self.units[prim].provisional {
                    return;
                }
                if self.colocs[c].score >= INF {
                    let hosts: Vec<u16> =
                        children.iter().filter_map(|&i| self.unit_node(i)).collect();
                    for n in 0..self.n() as u16 {
                        let w = self.units[dep].w[n as usize];
                        if w != ABSENT && !hosts.contains(&n) && w != -INF {
                            self.units[dep].w[n as usize] = -INF;
                            if self.explain {
                                self.units[dep].contrib.push(Contrib {
                                    node: n,
                                    src: Src::ColocNoInstance(c),
                                    delta: -INF,
                                });
                            }
                        }
                    }
                    return;
                }
                for i in children {
                    self.coloc_native(dep, i, c);
                }
            }
        }
    }

    /// The node a unit was assigned (a group: its first member's).
    fn unit_node(&self, u: usize) -> Option<u16> {
        match &self.units[u].kind {
            Kind::Group(ch) => ch.first().and_then(|&c| self.units[c].allocated_to),
            _ => self.units[u].allocated_to,
        }
    }

    /// Pacemaker's `colocation_match`.
    fn coloc_native(&mut self, dep: usize, prim: usize, c: usize) {
        let score = self.colocs[c].score;
        if self.units[prim].provisional || !self.units[dep].provisional {
            return;
        }
        let target = self.units[prim].allocated_to;
        if target.is_none() && score < 0 {
            return;
        }
        let mut work = self.units[dep].w.clone();
        let mut notes = Vec::new();
        for n in 0..self.n() {
            if work[n] == ABSENT {
                continue;
            }
            if target == Some(n as u16) {
                if score < INF {
                    work[n] = add(score, work[n]);
                    notes.push(Contrib {
                        node: n as u16,
                        src: Src::Coloc(c),
                        delta: score,
                    });
                }
            } else if score >= INF {
                work[n] = -INF;
                notes.push(Contrib {
                    node: n as u16,
                    src: Src::Coloc(c),
                    delta: -INF,
                });
            }
        }
        if self.can_run_any_w(&work) || score <= -INF || score >= INF {
            self.units[dep].w = work;
            if self.explain {
                self.units[dep].contrib.extend(notes);
            }
        }
    }

    fn record_merge(&mut self, u: usize, before: &[i64], after: &[i64], c: usize) {
        if !self.explain {
            return;
        }
        for n in 0..self.n() {
            if before[n] != after[n] && after[n] != ABSENT {
                let b = if before[n] == ABSENT { 0 } else { before[n] };
                let delta = if after[n] >= INF || after[n] <= -INF {
                    after[n]
                } else {
                    after[n] - b
                };
                self.units[u].contrib.push(Contrib {
                    node: n as u16,
                    src: Src::Merge(c),
                    delta,
                });
            }
        }
    }

    /// Pacemaker's `pcmk__native_merge_weights`: folds `rsc`'s scores
    /// (times `factor`) into `nodes`, then recursively those of whatever is
    /// colocated with `rsc`; rolls back a step that leaves no usable node.
    fn merge(
        &mut self,
        rsc: usize,
        nodes: Vec<i64>,
        factor: f32,
        rollback: bool,
        positive: bool,
    ) -> Vec<i64> {
        if self.units[rsc].merging {
            return nodes;
        }
        self.units[rsc].merging = true;
        let group_children = match &self.units[rsc].kind {
            Kind::Group(ch) if !ch.is_empty() => Some(ch.clone()),
            _ => None,
        };
        let mut work = match &group_children {
            Some(ch) => self.merge(ch[0], nodes.clone(), factor, rollback, positive),
            None => {
                let mut work = nodes.clone();
                self.add_scores_matching(&mut work, rsc, factor, positive);
                work
            }
        };
        if self.can_run_any_w(&work) {
            let list = match &group_children {
                Some(ch) => self.units[*ch.last().unwrap()].cons_lhs.clone(),
                None => self.units[rsc].cons_lhs.clone(),
            };
            let multiplier: i64 = if factor < 0.0 { -1 } else { 1 };
            for c in list {
                let other = self.colocs[c].dep;
                let f = (multiplier * self.colocs[c].score) as f32 / INF as f32;
                work = self.merge(other, work, f, true, positive);
            }
        } else if rollback {
            self.units[rsc].merging = false;
            return nodes;
        }
        if positive {
            for w in work.iter_mut() {
                if *w == HACK {
                    *w = 1;
                }
            }
        }
        self.units[rsc].merging = false;
        work
    }

    /// Pacemaker's `add_node_scores_matching_attr` (attribute `#uname`).
    fn add_scores_matching(&self, work: &mut [i64], rsc: usize, factor: f32, only_positive: bool) {
        let w = &self.units[rsc].w;
        for n in 0..work.len() {
            if work[n] == ABSENT {
                continue;
            }
            let score = if w[n] != ABSENT && self.can_run[n] {
                w[n]
            } else {
                -INF
            };
            if factor < 0.0 && score < 0 {
                continue; // a double negative never becomes a preference
            }
            if work[n] == HACK {
                continue;
            }
            let weight_f = factor * score as f32;
            let mut weight = if weight_f < 0.0 {
                (weight_f - 0.5) as i64
            } else {
                (weight_f + 0.5) as i64
            };
            // Small factors must not erase small scores entirely.
            if weight == 0 && score != 0 {
                weight = if factor > 0.0 {
                    1
                } else if factor < 0.0 {
                    -1
                } else {
                    0
                };
            }
            let new = add(weight, work[n]);
            if only_positive && new < 0 && work[n] > 0 {
                work[n] = HACK;
                continue;
            }
            if only_positive && new < 0 && work[n] == 0 {
                continue;
            }
            work[n] = new;
        }
    }

    // ---- clones -----------------------------------------------------

    fn assign_clone(&mut self, u: usize) -> Option<u16> {
        if !self.units[u].provisional || self.units[u].allocating {
            return None;
        }
        self.units[u].allocating = true;
        for c in self.units[u].cons.clone() {
            let prim = self.colocs[c].prim;
            self.assign(prim, None);
        }
        for c in self.units[u].cons_lhs.clone() {
            let (dep, score) = (self.colocs[c].dep, self.colocs[c].score);
            let before = self.units[u].w.clone();
            let after = self.merge(dep, before.clone(), score as f32 / INF as f32, true, true);
            self.record_merge(u, &before, &after, c);
            self.units[u].w = after;
        }
        let Kind::Clone {
            children,
            max,
            node_max,
        } = self.units[u].kind.clone()
        else {
            return None;
        };
        // Instances that run where they may keep running sort first, then
        // those on unusable nodes, then failed ones, then stopped ones
        // (pacemaker's `sort_clone_instance`), stable by instance number.
        let mut order = children.clone();
        order.sort_by_key(|&c| self.instance_rank(c));
        self.distribute(u, &order, max, node_max);
        self.units[u].allocating = false;
        self.units[u].provisional = false;
        None
    }

    fn instance_rank(&self, c: usize) -> u8 {
        let leaves = self.leaves(c);
        let running = leaves
            .iter()
            .find_map(|&l| self.units[l].running_on.first().copied());
        let failed = leaves.iter().any(|&l| self.units[l].failed);
        match running {
            Some(n) if self.can_run[n as usize] && !failed => 0,
            Some(_) if !failed => 1,
            Some(_) => 2,
            None => 3,
        }
    }

    fn leaves(&self, u: usize) -> Vec<usize> {
        match &self.units[u].kind {
            Kind::Primitive => vec![u],
            Kind::Group(ch) | Kind::Clone { children: ch, .. } => {
                ch.iter().flat_map(|&c| self.leaves(c)).collect()
            }
        }
    }

    fn current_node(&self, u: usize) -> Option<u16> {
        self.leaves(u)
            .iter()
            .find_map(|&l| self.units[l].running_on.first().copied())
    }

    /// Pacemaker's `distribute_children`.
    fn distribute(&mut self, clone: usize, order: &[usize], max: usize, node_max: usize) {
        for n in 0..self.n() {
            self.units[clone].count[n] = 0;
        }
        let available = (0..self.n())
            .filter(|&n| self.can_run[n] && self.units[clone].w[n] != ABSENT)
            .count();
        let all_coloc = max < available;
        let loop_max = if available > 0 {
            (max / available).max(1)
        } else {
            1
        };
        let mut allocated = 0;
        // Keep running instances where they are, up to an even share.
        for &child in order {
            if allocated >= max {
                break;
            }
            let failed = self.leaves(child).iter().any(|&l| self.units[l].failed);
            let Some(node) = self.current_node(child) else {
                continue;
            };
            if !self.units[child].provisional || failed {
                continue;
            }
            if !self.can_run[node as usize] {
                continue;
            }
            let local = self.units[clone].w[node as usize];
            if local != ABSENT && self.units[clone].count[node as usize] as usize >= loop_max {
                continue;
            }
            if self.assign_instance(clone, child, Some(node), all_coloc, node_max) {
                allocated += 1;
            }
        }
        for &child in order {
            if !self.units[child].provisional {
                continue;
            }
            if allocated >= max {
                for n in 0..self.n() as u16 {
                    self.location_recursive(child, n, -INF, Src::CloneLimit);
                }
                self.assign_none_recursive(child);
            } else if self.assign_instance(clone, child, None, all_coloc, node_max) {
                allocated += 1;
            }
        }
    }

    fn assign_none_recursive(&mut self, u: usize) {
        self.units[u].provisional = false;
        self.units[u].allocated_to = None;
        if let Kind::Group(ch) = self.units[u].kind.clone() {
            for c in ch {
                self.assign_none_recursive(c);
            }
        }
    }

    /// Pacemaker's `allocate_instance`.
    fn assign_instance(
        &mut self,
        clone: usize,
        child: usize,
        prefer: Option<u16>,
        all: bool,
        limit: usize,
    ) -> bool {
        if !self.units[child].provisional {
            return self.unit_node(child).is_some();
        }
        if self.units[child].allocating {
            return false;
        }
        // Only include the clone's optional colocations when not every
        // node gets an instance (append_parent_colocation).
        for c in self.units[clone].cons.clone() {
            let s = self.colocs[c].score;
            if all || s < 0 || s == INF {
                self.units[child].cons.insert(0, c);
            }
        }
        for c in self.units[clone].cons_lhs.clone() {
            if all || self.colocs[c].score < 0 {
                self.units[child].cons_lhs.insert(0, c);
            }
        }
        if let Some(p) = prefer {
            let w = self.units[child].w[p as usize];
            if w == ABSENT || w < 0 {
                return false;
            }
        }
        for n in 0..self.n() as u16 {
            if self.units[child].w[n as usize] == ABSENT {
                continue;
            }
            let parent_w = self.units[clone].w[n as usize];
            if !self.can_run[n as usize] {
                self.location_recursive(child, n, -INF, Src::Unavailable);
            } else if parent_w == ABSENT {
                self.location_recursive(child, n, -INF, Src::CloneParent);
            } else if parent_w < 0 {
                self.location_recursive(child, n, parent_w, Src::CloneParent);
            } else if self.units[clone].count[n as usize] as usize >= limit {
                self.location_recursive(child, n, -INF, Src::CloneFull);
            }
        }
        let backup = (self.units[child].w.clone(), self.units[child].contrib.len());
        let mut chosen = self.assign(child, prefer);
        if let Kind::Group(_) = self.units[child].kind {
            chosen = self.unit_node(child);
        }
        if let (Some(c), Some(p)) = (chosen, prefer)
            && c != p
        {
            self.units[child].w = backup.0;
            self.units[child].contrib.truncate(backup.1);
            self.deallocate(child);
            chosen = None;
        }
        if let Some(c) = chosen {
            self.units[clone].count[c as usize] += 1;
        }
        chosen.is_some()
    }

    // ---- output -----------------------------------------------------

    fn result(&self) -> Placement {
        let mut p = Placement::default();
        for u in 0..self.units.len() {
            let unit = &self.units[u];
            if matches!(unit.kind, Kind::Primitive) {
                let entry = p.assigned.entry(unit.report.clone()).or_default();
                if let Some(n) = unit.allocated_to {
                    let name = self.node_names[n as usize].to_string();
                    if !entry.contains(&name) {
                        entry.push(name);
                    }
                }
                if unit.allocated_to.is_none() && !unit.stopped_role && unit.report == unit.cfg {
                    p.stopped_reason
                        .insert(unit.report.clone(), self.why_stopped(u));
                }
            }
            if self.explain {
                p.scores.insert(unit.id.clone(), self.node_scores(u));
            }
        }
        let rank: BTreeMap<&str, usize> = self
            .node_names
            .iter()
            .enumerate()
            .map(|(i, n)| (*n, i))
            .collect();
        for nodes in p.assigned.values_mut() {
            nodes.sort_by_key(|n| rank.get(n.as_str()).copied().unwrap_or(usize::MAX));
        }
        p
    }

    fn why_stopped(&self, u: usize) -> String {
        if self.stop_everything {
            return "no quorum (no_quorum_policy = stop)".into();
        }
        if self.freeze {
            return "no quorum (no_quorum_policy = freeze): nothing new starts".into();
        }
        if !self.units[u].managed {
            return "unmanaged and not active".into();
        }
        let w = &self.units[u].w;
        if (0..self.n()).all(|n| !self.can_run[n]) {
            return "no node can run resources".into();
        }
        if !(0..self.n()).any(|n| w[n] != ABSENT && self.can_run[n]) {
            return "no usable node allows it".into();
        }
        "every usable node has a negative score".into()
    }

    fn node_scores(&self, u: usize) -> Vec<NodeScore> {
        let unit = &self.units[u];
        (0..self.n())
            .map(|n| {
                let mut contributions: Vec<Contribution> = unit
                    .contrib
                    .iter()
                    .filter(|c| c.node as usize == n)
                    .map(|c| Contribution {
                        source: self.label(c.src),
                        delta: Score::new(c.delta),
                    })
                    .collect();
                if unit.w[n] == ABSENT {
                    contributions.push(Contribution {
                        source: "symmetric = false and no location allows it".into(),
                        delta: Score::MINUS_INFINITY,
                    });
                }
                NodeScore {
                    node: self.node_names[n].to_string(),
                    score: if unit.w[n] == ABSENT {
                        Score::MINUS_INFINITY
                    } else {
                        Score::new(unit.w[n])
                    },
                    available: self.can_run[n],
                    contributions,
                }
            })
            .collect()
    }

    fn label(&self, src: Src) -> String {
        let cfg = self.cfg;
        let loc_label = |i: usize| {
            let l = &cfg.locations[i];
            match &l.target {
                LocationTarget::Node(n) => format!("location {} on {}", l.resource, n),
                LocationTarget::Rule(r) => {
                    format!(
                        "location {} rule {} {}{}",
                        l.resource,
                        r.attribute,
                        op_name(r.op),
                        r.value
                            .as_deref()
                            .map(|v| format!(" {v}"))
                            .unwrap_or_default()
                    )
                }
            }
        };
        match src {
            Src::Location(i) => loc_label(i),
            Src::GroupLocation(i) => {
                format!("{} (group: the first member carries it)", loc_label(i))
            }
            Src::Runtime(i) => {
                let rc = &self.state.constraints[i];
                if rc.score.value() < 0 {
                    format!("ha resource ban {} {}", rc.resource, rc.node)
                } else {
                    format!("ha resource move {} {}", rc.resource, rc.node)
                }
            }
            Src::Stickiness => "stickiness".into(),
            Src::FailLimit { count, threshold } => {
                format!(
                    "fail-count {count} reached migration_threshold {}",
                    Score::new(threshold)
                )
            }
            Src::Coloc(c) | Src::ColocNoInstance(c) => {
                let co = &self.colocs[c];
                match co.config {
                    Some(_) => format!("colocation with {}", self.units[co.prim].cfg),
                    None => format!("group member after {}", self.units[co.prim].cfg),
                }
            }
            Src::Merge(c) => {
                let co = &self.colocs[c];
                match co.config {
                    Some(_) => format!("colocation of {} with it", self.units[co.dep].cfg),
                    None => format!("group members from {} on", self.units[co.dep].cfg),
                }
            }
            Src::Stopped => "target_role = stopped".into(),
            Src::NoQuorum => "no quorum (no_quorum_policy = freeze)".into(),
            Src::CloneParent => "clone score".into(),
            Src::CloneFull => "clone node_max reached".into(),
            Src::CloneLimit => "clone max reached".into(),
            Src::Unavailable => "node cannot run resources".into(),
        }
    }
}

fn op_name(op: RuleOp) -> &'static str {
    match op {
        RuleOp::Eq => "eq",
        RuleOp::Ne => "ne",
        RuleOp::Lt => "lt",
        RuleOp::Gt => "gt",
        RuleOp::Lte => "lte",
        RuleOp::Gte => "gte",
        RuleOp::Defined => "defined",
        RuleOp::NotDefined => "not_defined",
    }
}

/// A node attribute expression, as pacemaker evaluates it: numbers compare
/// as numbers when both sides parse, otherwise as strings. `#uname` is the
/// node name.
fn rule_matches(rule: &Rule, node: &crate::config::Node) -> bool {
    let actual = if rule.attribute == "#uname" {
        Some(node.name.as_str())
    } else {
        node.attributes.get(&rule.attribute).map(String::as_str)
    };
    match rule.op {
        RuleOp::Defined => return actual.is_some(),
        RuleOp::NotDefined => return actual.is_none(),
        _ => {}
    }
    let (Some(a), Some(v)) = (actual, rule.value.as_deref()) else {
        return false;
    };
    let ord = match (a.parse::<f64>(), v.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y),
        _ => Some(a.cmp(v)),
    };
    let Some(ord) = ord else { return false };
    use std::cmp::Ordering::*;
    match rule.op {
        RuleOp::Eq => ord == Equal,
        RuleOp::Ne => ord != Equal,
        RuleOp::Lt => ord == Less,
        RuleOp::Gt => ord == Greater,
        RuleOp::Lte => ord != Greater,
        RuleOp::Gte => ord != Less,
        RuleOp::Defined | RuleOp::NotDefined => unreachable!("handled above"),
    }
}
