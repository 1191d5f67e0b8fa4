//! The DC turns the solver's target placement into start/stop actions,
//! one step at a time (groups in order, nothing while a node is unclean).
//!
//! It also ends `ha resource move` preferences given without `--lifetime`
//! once the move has happened ([`Node::clear_finished_moves`]): the whole
//! unit (group, or clone instance) reports Running on the target, nowhere
//! else, nothing in flight for it, and the placement without the
//! preference keeps it there. That last check is pcs's: if dropping the
//! preference would send the resource straight back (a location score
//! elsewhere, stickiness 0 and load spreading), the preference stays and
//! `ha status` says why. A move that cannot happen (target offline,
//! standby, banned, failed there) keeps its preference too; the user sees it
//! and can `ha resource clear`. Inputs: the reign's reports and the cib.
//! Output: the cib without the preference (bumped, so it is replicated and
//! persisted like any change).

use std::collections::{BTreeMap, BTreeSet};

use super::*;

impl Node {
    /// Runs [`Node::plan`] unless the last run found nothing to do on the
    /// same inputs. `plan` is a function of the reign and the cib only (the
    /// lease and quorum are checked when a step is issued, and issuing
    /// changes `outstanding`), so a state it left unchanged stays a fixed
    /// point until an input changes; re-planning it every tick only costs.
    pub(super) fn plan_if_changed(&mut self, now: Instant) {
        let before = self.plan_inputs();
        if self.planned == Some(before) {
            return;
        }
        self.plan(now);
        let after = self.plan_inputs();
        self.planned = (after == before).then_some(before);
    }

    /// A digest of what `plan` reads: the reign's members, reports (a
    /// report's content changes only with its sequence), steps in flight,
    /// unclean nodes and pending restarts, and the cib's key (every cib
    /// change bumps it).
    fn plan_inputs(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        if let Some(r) = &self.reign {
            r.token.hash(&mut h);
            r.members.hash(&mut h);
            for (n, i) in &r.reports {
                (n, i.incarnation, i.seq).hash(&mut h);
            }
            for (id, p) in &r.outstanding {
                (id, p.node).hash(&mut h);
            }
            for (n, u) in &r.unclean {
                (n, u.force).hash(&mut h);
            }
            r.restart.hash(&mut h);
        }
        self.cib.key().hash(&mut h);
        h.finish()
    }

    pub(super) fn plan(&mut self, now: Instant) {
        let _ = now;
        // Planned on the reign as it is now; the steps are issued after
        // (issuing touches only `outstanding`, which this pass must not
        // see change under it), so the reign is taken, not cloned.
        let Some(mut reign) = self.reign.take() else {
            return;
        };
        let mut steps: Vec<(NodeId, String, bool)> = Vec::new();
        let eligible: BTreeSet<String> = reign
            .members
            .iter()
            .filter(|m| {
                let name = self.node_name(**m);
                reign
                    .reports
                    .get(m)
                    .is_some_and(|i| i.hash == self.config.hash && !i.leaving)
                    && self.cib.role(&name) == Role::Online
                    && !reign.unclean.contains_key(m)
            })
            .map(|m| self.node_name(*m))
            .collect();
        let state_of = |n: NodeId, r: &str| -> ResourceState {
            reign
                .reports
                .get(&n)
                .and_then(|i| i.states.get(r).copied())
                .unwrap_or(ResourceState::Stopped)
        };
        let mut current: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (n, i) in &reign.reports {
            for (r, s) in &i.states {
                if matches!(s, ResourceState::Running | ResourceState::Starting) {
                    current
                        .entry(r.clone())
                        .or_default()
                        .insert(self.node_name(*n));
                }
            }
        }
        self.clear_finished_moves(&reign, &eligible, &current);
        let target = place::place(&self.config, &self.cib, &eligible, &current);
        let busy: BTreeSet<String> = reign
            .outstanding
            .values()
            .map(|p| p.resource.clone())
            .collect();
        let any_unclean = !reign.unclean.is_empty();
        let mut restart_done = Vec::new();
        for unit in place::units(&self.config) {
            for (i, r) in unit.members.iter().enumerate() {
                if busy.contains(r) || !self.config.effective_meta(r).managed {
                    continue;
                }
                let holders: BTreeMap<NodeId, ResourceState> = reign
                    .reports
                    .iter()
                    .filter_map(|(n, info)| info.states.get(r).map(|s| (*n, *s)))
                    .filter(|(_, s)| *s != ResourceState::Stopped)
                    .collect();
                let want = target.get(r).cloned().unwrap_or_default();
                let restarting = reign.restart.contains(r);
                if restarting && holders.is_empty() {
                    restart_done.push(r.clone());
                }
                for (&h, &st) in &holders {
                    let hname = self.node_name(h);
                    if self.cib.role(&hname) == Role::Maintenance {
                        continue;
                    }
                    // An earlier member failed here: the later ones stop
                    // first so it can be recovered (stopped, started again),
                    // as pacemaker restarts a group's dependent members.
                    // Without this a failed member whose later members run
                    // waits for them forever.
                    let earlier_failed = unit.members[..i]
                        .iter()
                        .any(|m| state_of(h, m) == ResourceState::Failed);
                    if want.contains(&hname)
                        && st == ResourceState::Running
                        && !restarting
                        && !earlier_failed
                    {
                        continue;
                    }
                    if !matches!(st, ResourceState::Running | ResourceState::Failed) {
                        continue;
                    }
                    // A group stops in reverse: only once later members are down here.
                    let later_up = unit.members[i + 1..]
                        .iter()
                        .any(|m| state_of(h, m) != ResourceState::Stopped || busy.contains(m));
                    if later_up {
                        continue;
                    }
                    steps.push((h, r.clone(), false));
                }
                if restarting || any_unclean {
                    continue;
                }
                for t in &want {
                    let Some(tid) = self.node_id(t) else { continue };
                    if holders.contains_key(&tid) {
                        continue;
                    }
                    match unit.clone_max {
                        None if !holders.is_empty() => continue,
                        Some(max) if holders.len() >= max => continue,
                        _ => {}
                    }
                    if i > 0 {
                        let prev = &unit.members[i - 1];
                        if state_of(tid, prev) != ResourceState::Running || busy.contains(prev) {
                            continue;
                        }
                    }
                    steps.push((tid, r.clone(), true));
                    break;
                }
            }
        }
        for r in restart_done {
            reign.restart.remove(&r);
        }
        self.reign = Some(reign);
        for (node, resource, start) in steps {
            self.issue(node, &resource, start);
        }
    }

    /// Drops every move preference without a lifetime whose move has
    /// happened (see the module docs); one event per preference dropped.
    pub(super) fn clear_finished_moves(
        &mut self,
        reign: &Reign,
        eligible: &BTreeSet<String>,
        current: &BTreeMap<String, BTreeSet<String>>,
    ) {
        let pending: Vec<RuntimeConstraint> = self
            .cib
            .constraints
            .iter()
            .filter(|c| c.until_moved())
            .cloned()
            .collect();
        if pending.is_empty() {
            return;
        }
        let units = place::units(&self.config);
        for c in pending {
            let Some(unit) = unit_of(&self.config, &units, &c.resource) else {
                continue;
            };
            let Some(target) = self.node_id(&c.node) else {
                continue;
            };
            if !move_happened(reign, unit, target) {
                continue;
            }
            let mut without = self.cib.clone();
            without.clear_move(&c.resource, &c.node);
            let placed = place::place(&self.config, &without, eligible, current);
            let stays = unit
                .members
                .iter()
                .all(|m| placed.get(m).is_some_and(|on| on.contains(&c.node)));
            if !stays {
                continue;
            }
            self.cib = without;
            self.event(
                log::Level::Info,
                format!(
                    "move done, preference cleared: resource={} on={}",
                    c.resource, c.node
                ),
            );
            self.bump();
        }
    }
}

/// The placement unit `resource` belongs to: a primitive, a group (by its id
/// or a member's), a clone (by its id, its group's or a member's).
pub(super) fn unit_of<'a>(
    config: &Config,
    units: &'a [place::Unit],
    resource: &str,
) -> Option<&'a place::Unit> {
    units.iter().find(|u| {
        u.id == resource
            || u.members
                .iter()
                .any(|m| m == resource || config.group_of(m).is_some_and(|g| g.id == resource))
    })
}

/// Whether every member of `unit` runs on `target` as the target reported
/// it, with no start or stop in flight for any member, and (unless it is a
/// clone, which runs elsewhere too) no other node reports any member in a
/// state other than stopped.
fn move_happened(reign: &Reign, unit: &place::Unit, target: NodeId) -> bool {
    let Some(there) = reign.reports.get(&target) else {
        return false;
    };
    if !unit
        .members
        .iter()
        .all(|m| there.states.get(m) == Some(&ResourceState::Running))
    {
        return false;
    }
    if reign
        .outstanding
        .values()
        .any(|p| unit.members.contains(&p.resource))
    {
        return false;
    }
    unit.clone_max.is_some()
        || reign.reports.iter().all(|(n, info)| {
            *n == target
                || unit.members.iter().all(|m| {
                    info.states
                        .get(m)
                        .is_none_or(|s| *s == ResourceState::Stopped)
                })
        })
}
