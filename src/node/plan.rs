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
use crate::config::OrderKind;
use crate::transition::order::{self, Pair};

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
        let mut target = place::place(&self.config, &self.cib, &eligible, &current);
        // Busy: a step of ours in flight, or a start or stop a member
        // reports running (a step of an earlier reign, or one whose node
        // dropped out and came back): orders wait for those too (with a
        // serialize order a new DC started r0 while r1's start from the
        // last reign still ran). A step asked of a node now unclean may
        // still run there until it is fenced (seed 9796922523313297015:
        // `ha node fence n2` just after r1's start was sent to n2, and r2
        // was stopped while n2 still started r1).
        let busy: BTreeSet<String> = reign
            .outstanding
            .values()
            .map(|p| p.resource.clone())
            .chain(
                reign
                    .unclean
                    .values()
                    .flat_map(|u| u.in_flight.iter().cloned()),
            )
            .chain(reign.reports.values().flat_map(|i| {
                i.states
                    .iter()
                    .filter(|(_, s)| matches!(s, ResourceState::Starting | ResourceState::Stopping))
                    .map(|(r, _)| r.clone())
            }))
            .collect();
        let any_unclean = !reign.unclean.is_empty();
        let units = place::units(&self.config);
        // Group order is walked below per node; these are the [[order]]s.
        let pairs: Vec<Pair> = order::pairs(&self.config)
            .into_iter()
            .filter(|p| !p.same_node)
            .collect();
        let stay = self.hold_back_thens(&reign, &units, &pairs, &mut target);
        let active = |r: &str| {
            reign.reports.values().any(|i| {
                i.states
                    .get(r)
                    .is_some_and(|s| !matches!(s, ResourceState::Stopped))
            })
        };
        // The order gates (see `order`): a start of `r` waits for every
        // `first` it is ordered after; a stop of `r` (symmetrical orders)
        // waits for every `then` ordered after it, unless another instance
        // of `r` stays to keep them running. Serialize waits both ways.
        let may_start = |r: &str| {
            pairs.iter().all(|p| {
                if p.then == r {
                    match p.kind {
                        OrderKind::Mandatory => {
                            let up = stay.get(&p.first);
                            up.is_some_and(|s| !s.is_empty())
                                && !busy.contains(&p.first)
                                && target.get(&p.first).is_some_and(|t| {
                                    t.iter().all(|n| {
                                        self.node_id(n)
                                            .is_some_and(|id| up.is_some_and(|s| s.contains(&id)))
                                    })
                                })
                        }
                        OrderKind::Optional | OrderKind::Serialize => !busy.contains(&p.first),
                    }
                } else {
                    !(p.first == r && p.kind == OrderKind::Serialize && busy.contains(&p.then))
                }
            })
        };
        let may_stop = |h: NodeId, r: &str| {
            pairs.iter().all(|p| {
                if p.first == r && p.symmetrical {
                    match p.kind {
                        OrderKind::Mandatory => {
                            let another_stays =
                                stay.get(r).is_some_and(|s| s.iter().any(|n| *n != h));
                            // While a node is unclean its last state is
                            // unknown: `then` may still run there.
                            another_stays
                                || (!any_unclean && !active(&p.then) && !busy.contains(&p.then))
                        }
                        OrderKind::Optional | OrderKind::Serialize => !busy.contains(&p.then),
                    }
                } else if p.first == r && p.kind == OrderKind::Serialize {
                    !busy.contains(&p.then)
                } else {
                    !(p.then == r && p.kind == OrderKind::Serialize && busy.contains(&p.first))
                }
            })
        };
        // A stop that `may_stop` holds only because a `then` runs where the
        // cluster may not stop it waits for the operator, not for the
        // cluster: said once in the log and in `ha status` (pacemaker shows
        // such a resource as blocked).
        let blocked_by = |h: NodeId, r: &str| -> Option<String> {
            pairs.iter().find_map(|p| {
                if p.first != r || !p.symmetrical || p.kind != OrderKind::Mandatory {
                    return None;
                }
                let then_managed = self.config.effective_meta(&p.then).managed;
                let on: Vec<String> = reign
                    .reports
                    .iter()
                    .filter(|(_, i)| {
                        i.states
                            .get(&p.then)
                            .is_some_and(|s| !matches!(s, ResourceState::Stopped))
                    })
                    .map(|(n, _)| self.node_name(*n))
                    .collect();
                let held = !on.is_empty()
                    && !any_unclean
                    && !busy.contains(&p.then)
                    && (!then_managed || on.iter().all(|n| self.cib.role(n) == Role::Maintenance));
                held.then(|| {
                    format!(
                        "stop on {} waits for {} to stop, which runs unmanaged on {}",
                        self.node_name(h),
                        p.then,
                        on.join(",")
                    )
                })
            })
        };
        let mut blocked: BTreeMap<String, String> = BTreeMap::new();
        let mut restart_done = Vec::new();
        let mut given_up = Vec::new();
        for unit in &units {
            for (i, r) in unit.members.iter().enumerate() {
                let managed = self.config.effective_meta(r).managed;
                if busy.contains(r) || !managed {
                    if !managed && reign.restart.contains(r) {
                        // Unmanaged since the restart was asked: given up,
                        // as the cluster may not stop it now.
                        restart_done.push(r.clone());
                        given_up.push(format!("{r} is unmanaged"));
                    }
                    continue;
                }
                let holders: BTreeMap<NodeId, ResourceState> = reign
                    .reports
                    .iter()
                    .filter_map(|(n, info)| info.states.get(r).map(|s| (*n, *s)))
                    .filter(|(_, s)| *s != ResourceState::Stopped)
                    .collect();
                let want = target.get(r).cloned().unwrap_or_default();
                // A holder put in maintenance after the restart was asked
                // keeps its instance untouched: the restart is given up
                // (else it would wait, and the DC stay busy, until the
                // node is ready again).
                let in_maintenance = holders
                    .keys()
                    .any(|h| self.cib.role(&self.node_name(*h)) == Role::Maintenance);
                let restarting = reign.restart.contains(r) && !in_maintenance;
                if reign.restart.contains(r) && (holders.is_empty() || in_maintenance) {
                    restart_done.push(r.clone());
                    if in_maintenance {
                        given_up.push(format!("{r} runs on a node in maintenance"));
                    }
                }
                for (&h, &st) in &holders {
                    let hname = self.node_name(h);
                    if self.cib.role(&hname) == Role::Maintenance {
                        continue;
                    }
                    // A node to be fenced gets no stops: the fence stops
                    // everything there, and its report is stale (marking
                    // it unclean dropped the steps in flight there, so a
                    // group member starting there looked stopped and the
                    // member before it was stopped under it; seeds
                    // 6079262269682795406, 12175994785612567103: `ha node
                    // fence` of a member while g1 started there).
                    if reign.unclean.contains_key(&h) {
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
                    if !may_stop(h, r) {
                        if let Some(why) = blocked_by(h, r) {
                            blocked.insert(r.clone(), why);
                        }
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
                    if !may_start(r) {
                        break;
                    }
                    steps.push((tid, r.clone(), true));
                    break;
                }
            }
        }
        let steps = same_round(steps, &pairs);
        for r in restart_done {
            reign.restart.remove(&r);
        }
        let newly_blocked: Vec<String> = blocked
            .iter()
            .filter(|(r, why)| reign.blocked.get(*r) != Some(*why))
            .map(|(r, why)| format!("{r} blocked: {why}"))
            .collect();
        reign.blocked = blocked;
        self.reign = Some(reign);
        for what in newly_blocked {
            self.event(log::Level::Warn, what);
        }
        for why in given_up {
            self.event(log::Level::Warn, format!("restart given up: {why}"));
        }
        for (node, resource, start) in steps {
            self.issue(node, &resource, start);
        }
    }

    /// Mandatory orders: a `then` whose `first` has no instance that stays
    /// (running where it is wanted, not being restarted, no earlier group
    /// member failed beside it) is wanted nowhere, so it stops, and it does
    /// not start until its `first` runs again (pacemaker: "if first is
    /// stopping or cannot start, then must be stopped"). Repeated until
    /// nothing changes: a `then` held back leaves its own `then`s without a
    /// `first`. Returns, per ordered primitive, the nodes where it stays.
    fn hold_back_thens(
        &self,
        reign: &Reign,
        units: &[place::Unit],
        pairs: &[Pair],
        target: &mut BTreeMap<String, BTreeSet<String>>,
    ) -> BTreeMap<String, BTreeSet<NodeId>> {
        let stays = |r: &str, target: &BTreeMap<String, BTreeSet<String>>| -> BTreeSet<NodeId> {
            let earlier: &[String] = units
                .iter()
                .find_map(|u| {
                    let i = u.members.iter().position(|m| m == r)?;
                    Some(&u.members[..i])
                })
                .unwrap_or(&[]);
            let managed = self.config.effective_meta(r).managed;
            let want = target.get(r);
            reign
                .reports
                .iter()
                .filter(|(n, info)| {
                    let name = self.node_name(**n);
                    info.states.get(r) == Some(&ResourceState::Running)
                        && !reign.restart.contains(r)
                        && !earlier
                            .iter()
                            .any(|m| info.states.get(m) == Some(&ResourceState::Failed))
                        && (!managed
                            || want.is_some_and(|w| w.contains(&name))
                            || self.cib.role(&name) == Role::Maintenance)
                })
                .map(|(n, _)| *n)
                .collect()
        };
        loop {
            let mut changed = false;
            for p in pairs.iter().filter(|p| p.kind == OrderKind::Mandatory) {
                if target.get(&p.then).is_some_and(|t| !t.is_empty())
                    && stays(&p.first, target).is_empty()
                {
                    target.insert(p.then.clone(), BTreeSet::new());
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        let mut out = BTreeMap::new();
        for p in pairs {
            for r in [&p.first, &p.then] {
                if !out.contains_key(r) {
                    out.insert(r.clone(), stays(r, target));
                }
            }
        }
        out
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

/// Drops the steps of one round that order pairs say must not run
/// together: an optional `then` starting beside its `first`'s start, an
/// optional symmetrical `first` stopping beside its `then`'s stop, and the
/// later of a serialized pair. They are issued in a later round. Acyclic
/// orders always keep at least one step; should none be kept, the first
/// goes anyway, so the plan never stalls on its own filter.
fn same_round(steps: Vec<(NodeId, String, bool)>, pairs: &[Pair]) -> Vec<(NodeId, String, bool)> {
    if pairs.is_empty() || steps.len() < 2 {
        return steps;
    }
    let acting = |start: bool| -> BTreeSet<&str> {
        steps
            .iter()
            .filter(|s| s.2 == start)
            .map(|s| s.1.as_str())
            .collect()
    };
    let (starting, stopping) = (acting(true), acting(false));
    let mut kept = Vec::new();
    let mut acted: BTreeSet<&str> = BTreeSet::new();
    for step in &steps {
        let (r, start) = (step.1.as_str(), step.2);
        let wait = pairs.iter().any(|p| match p.kind {
            OrderKind::Optional if start => p.then == r && starting.contains(p.first.as_str()),
            OrderKind::Optional => {
                p.symmetrical && p.first == r && stopping.contains(p.then.as_str())
            }
            OrderKind::Serialize => {
                (p.first == r && acted.contains(p.then.as_str()))
                    || (p.then == r && acted.contains(p.first.as_str()))
            }
            OrderKind::Mandatory => false,
        });
        if !wait {
            acted.insert(r);
            kept.push(step.clone());
        }
    }
    if kept.is_empty() {
        kept.extend(steps.first().cloned());
    }
    kept
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(first: &str, then: &str, kind: OrderKind, symmetrical: bool) -> Pair {
        Pair {
            first: first.into(),
            then: then.into(),
            kind,
            symmetrical,
            same_node: false,
        }
    }

    fn steps(list: &[(NodeId, &str, bool)]) -> Vec<(NodeId, String, bool)> {
        list.iter()
            .map(|(n, r, s)| (*n, r.to_string(), *s))
            .collect()
    }

    #[test]
    fn one_round_keeps_optional_and_serialized_pairs_apart() {
        let pairs = [
            pair("a", "b", OrderKind::Optional, true),
            pair("c", "d", OrderKind::Serialize, false),
        ];
        // b waits for a's start; c waits for d, which acts first.
        let got = same_round(
            steps(&[
                (1, "b", true),
                (2, "a", true),
                (1, "d", false),
                (2, "c", true),
                (3, "x", true),
            ]),
            &pairs,
        );
        assert_eq!(
            got,
            steps(&[(2, "a", true), (1, "d", false), (3, "x", true)])
        );
        // Symmetrical: a stops only after b.
        let got = same_round(steps(&[(1, "a", false), (1, "b", false)]), &pairs);
        assert_eq!(got, steps(&[(1, "b", false)]));
        // Not symmetrical, or only one of them acting: nothing waits.
        let one_way = [pair("a", "b", OrderKind::Optional, false)];
        let both = steps(&[(1, "a", false), (1, "b", false)]);
        assert_eq!(same_round(both.clone(), &one_way), both);
        let alone = steps(&[(1, "b", true), (1, "a", false)]);
        assert_eq!(same_round(alone.clone(), &pairs), alone);
    }
}
