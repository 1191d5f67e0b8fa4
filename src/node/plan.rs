//! The DC turns the solver's target placement into start/stop actions,
//! one step at a time (groups in order, nothing while a node is unclean).

use std::collections::{BTreeMap, BTreeSet};

use super::*;

impl Node {
    pub(super) fn plan(&mut self, now: Instant) {
        let _ = now;
        let Some(reign) = self.reign.clone() else {
            return;
        };
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
                    if want.contains(&hname) && st == ResourceState::Running && !restarting {
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
                    self.issue(h, r, false);
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
                    self.issue(tid, r, true);
                    break;
                }
            }
        }
        if let Some(reign) = self.reign.as_mut() {
            for r in restart_done {
                reign.restart.remove(&r);
            }
        }
    }
}
