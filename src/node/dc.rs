//! The DC's side of `Node`: reigns, reports, unclean nodes and fencing,
//! and the commands it sends members. Placement steps are in `plan`.

use std::collections::{BTreeMap, BTreeSet};

use super::*;

impl Node {
    pub(super) fn begin_reign(&mut self, now: Instant, members: &BTreeSet<NodeId>) {
        self.reign_counter += 1;
        // Any node outside the membership may still run anything: it is
        // unclean until fenced or waited out (pacemaker's startup fencing).
        // A fence job still running (issued by an earlier reign) counts as
        // this reign's attempt: its result resolves the node, and a second
        // one could power off the node after it rebooted.
        let fencing: BTreeSet<NodeId> = self
            .inflight
            .values()
            .filter_map(|f| match f.job {
                Job::Fence(t) => Some(t),
                _ => None,
            })
            .collect();
        let (mut unclean, mut gone, mut off) = (BTreeMap::new(), BTreeSet::new(), Vec::new());
        for n in self
            .config
            .nodes
            .iter()
            .filter(|n| !members.contains(&n.id))
        {
            // Nodes that left cleanly and were not heard since run nothing;
            // so do nodes a device confirmed off (resolved below).
            if self.ring.has_left(n.id) {
                gone.insert(n.id);
                continue;
            }
            if self.confirmed_off(n.id) {
                off.push(n.id);
            }
            let u = Unclean {
                since: now,
                fence_at: now,
                fencing: fencing.contains(&n.id),
                force: false,
                in_flight: BTreeSet::new(),
            };
            unclean.insert(n.id, u);
        }
        self.reign = Some(Reign {
            token: (self.incarnation << 24) | (self.reign_counter & 0xff_ffff),
            members: members.clone(),
            reports: BTreeMap::new(),
            outstanding: BTreeMap::new(),
            unclean,
            gone,
            left: BTreeSet::new(),
            restart: BTreeSet::new(),
            blocked: BTreeMap::new(),
            next_id: 1,
            command_seq: 0,
            cib_sent: BTreeMap::new(),
            sent: BTreeMap::new(),
            resend: BTreeSet::new(),
            synced: false,
        });
        // Confirmed off between reigns: resolved like a fence result now.
        for id in off {
            self.resolve_unclean(id);
        }
        let ids: Vec<NodeId> = self
            .reign
            .as_ref()
            .map(|r| r.unclean.keys().copied().collect())
            .unwrap_or_default();
        for id in ids {
            self.schedule_fence(now, id);
        }
        self.event(
            log::Level::Info,
            format!("dc: taking over view={}", self.view),
        );
    }

    /// Sends the state to every member now, after an operator's change,
    /// so that the change has left the DC by the time the answer "done"
    /// is read (the usual path waits for the next tick, and for 500 ms
    /// after the last copy sent to a member). A partition or crash right
    /// after the answer otherwise left the change on the DC alone, and the
    /// others went on without it (docs/simulator.md, "Lost acknowledged
    /// changes").
    pub(super) fn push_state(&mut self, now: Instant) {
        let Some(r) = self.reign.as_ref() else {
            return;
        };
        let to: Vec<NodeId> = r
            .members
            .iter()
            .copied()
            .filter(|m| *m != self.local)
            .collect();
        if to.is_empty() {
            return;
        }
        let bytes = self.cib.encode(now);
        for m in to {
            if let Some(r) = self.reign.as_mut() {
                r.cib_sent.insert(m, now);
            }
            self.send_msg(now, m, &Msg::Cib(bytes.clone()));
        }
    }

    /// Whether this reign's DC holds the newest state among its members:
    /// every member not counted gone has reported, and none has a copy
    /// with a higher key. Until then the DC changes nothing in the state
    /// (`bump`, `on_report`, `handle_request`, no plan), and a member
    /// with a newer copy pushes it (the DC's commands carry the key the
    /// reign began with). Pacemaker's new DC likewise syncs the CIB from
    /// the node with the newest before it changes anything. Before, the
    /// DC bumped the epoch at once (nodes lost, reports taken), and a
    /// member's newer copy, holding a change an operator was told was
    /// made, had the lower key and was never adopted (seed
    /// 12813020096918910864). Stays true for the rest of the reign.
    pub(super) fn synced(&mut self) -> bool {
        let key = self.cib.key();
        let Some(r) = self.reign.as_mut() else {
            return false;
        };
        if !r.synced {
            // A member to be fenced through its own watchdog gets no
            // commands, so it would never push: it is not waited for.
            r.synced = r.members.iter().all(|m| {
                r.gone.contains(m)
                    || r.unclean.get(m).is_some_and(|u| u.force)
                    || r.reports.get(m).is_some_and(|i| i.cib_key <= key)
            });
        }
        r.synced
    }

    /// A fence device confirmed `id` off and it was not heard alive after
    /// that. A packet from the incarnation the device powered off, delivered
    /// after the fence, was on its way when the power went: no sign of
    /// life (counting it cost a second fence, which after a fast reboot
    /// killed the fresh boot).
    fn confirmed_off(&self, id: NodeId) -> bool {
        let off_incarnation = self.fenced_incarnation.get(&id).copied().unwrap_or(0);
        // A member hearing a newer incarnation than the one powered off
        // means it rebooted since, even if we never heard it again (seed
        // 1990178844958060526: non-transitive views; the new DC took the
        // rebooted node for off and started its group elsewhere).
        let rebooted = self
            .ring
            .heard_by_members(id, self.now)
            .is_some_and(|inc| inc > off_incarnation);
        let heard_alive_after = |off: Instant| {
            self.ring.last_heard(id).is_some_and(|h| h >= off)
                && self
                    .ring
                    .heartbeat_of(id)
                    .is_none_or(|(_, inc)| inc > off_incarnation)
        };
        !rebooted
            && self
                .fenced
                .get(&id)
                .is_some_and(|off| !heard_alive_after(*off))
    }

    pub(super) fn schedule_fence(&mut self, now: Instant, id: NodeId) {
        let mut delay = self.fence_delay(id).unwrap_or(Duration::ZERO);
        if self.ring.heard(now).contains(&id) {
            // We hear it (it is booting or rejoining): give it time to
            // become a member and report, rather than fence a node that is
            // about to show us it is clean.
            delay = delay + self.config.heartbeat.timeout.saturating_mul(2);
        }
        if let Some(u) = self.reign.as_mut().and_then(|r| r.unclean.get_mut(&id)) {
            u.fence_at = now + delay;
        }
    }

    pub(super) fn mark_unclean(&mut self, now: Instant, id: NodeId, force: bool) {
        let has_device = self.fence_delay(id).is_some();
        let Some(reign) = self.reign.as_mut() else {
            return;
        };
        reign.gone.remove(&id);
        let mut in_flight = BTreeSet::new();
        reign.outstanding.retain(|_, p| {
            let there = p.node == id;
            if there {
                in_flight.insert(p.resource.clone());
            }
            !there
        });
        let entry = reign.unclean.entry(id).or_insert(Unclean {
            since: now,
            fence_at: now,
            fencing: false,
            force,
            in_flight: BTreeSet::new(),
        });
        entry.in_flight.append(&mut in_flight);
        // Lost after being unclean as a member (a failed stop, with a fence
        // device that has not confirmed yet): it was commanded, so it kept
        // its lease and fed its watchdog until now. The watchdog wait
        // starts at the loss, not when it became unclean (seed
        // 18040846197652746969: the wait was over at once and its resource
        // started elsewhere while it still ran). Only a member fenced
        // through its own watchdog (no device) stopped being commanded at
        // `since`.
        let self_fencing = entry.force && !has_device;
        if !force && !self_fencing {
            entry.since = now;
        }
        entry.force |= force;
        self.schedule_fence(now, id);
    }

    pub(super) fn on_report(&mut self, now: Instant, from: NodeId, incarnation: u64, r: Report) {
        let Some(reign) = self.reign.as_mut() else {
            return;
        };
        if !reign.members.contains(&from) {
            return;
        }
        if self
            .fenced_incarnation
            .get(&from)
            .is_some_and(|off| incarnation <= *off)
        {
            // Sent before a fence powered it off (see `fenced_incarnation`).
            return;
        }
        if r.view != reign.token {
            // It has not got this reign's command yet.
            reign.resend.insert(from);
            return;
        }
        let info = reign.reports.entry(from).or_default();
        if info.incarnation != incarnation {
            *info = MemberInfo {
                incarnation,
                ..MemberInfo::default()
            };
        } else if r.seq <= info.seq {
            // A repeat: it has not got the command that acknowledged it.
            reign.resend.insert(from);
            return;
        }
        info.probed = r.probed;
        info.leaving = r.leaving;
        info.hash = r.config_hash;
        info.cib_key = r.cib_key;
        info.states = r.states.iter().cloned().collect();
        if !self.synced() {
            // Kept unacknowledged: the member sends it again, and its
            // failures and requests are taken once the state is synced.
            return;
        }
        let reign = self.reign.as_mut().expect("checked above");
        let info = reign.reports.get_mut(&from).expect("inserted above");
        self.reports_taken += 1;
        info.seq = r.seq;
        let name = self.node_name(from);
        let mut changed = false;
        let mut stop_failed = false;
        for (id, outcome) in &r.results {
            let reign = self.reign.as_mut().expect("checked above");
            let Some(p) = reign.outstanding.remove(id) else {
                continue;
            };
            if p.node != from {
                reign.outstanding.insert(*id, p);
                continue;
            }
            if *outcome != Outcome::Ok {
                let op = if p.start { "start" } else { "stop" };
                self.cib
                    .record_failure(&p.resource, &name, op, outcome.rc(), now);
                if p.start {
                    // pacemaker's start-failure-is-fatal: ban the node at once.
                    if let Some(f) = self
                        .cib
                        .failcounts
                        .get_mut(&(p.resource.clone(), name.clone()))
                    {
                        f.count = f.count.max(crate::score::INFINITY as u32);
                    }
                } else {
                    stop_failed = true;
                }
                changed = true;
            }
        }
        let reign = self.reign.as_mut().expect("checked above");
        let info = reign.reports.get_mut(&from).expect("inserted above");
        let failures: Vec<_> = r
            .failures
            .iter()
            .filter(|f| f.0 > info.failures_ack)
            .cloned()
            .collect();
        info.failures_ack = info
            .failures_ack
            .max(r.failures.iter().map(|f| f.0).max().unwrap_or(0));
        let done = info
            .requests_ack
            .max(self.cib.applied_seq(&name, incarnation));
        let requests: Vec<_> = r.requests.iter().filter(|q| q.0 > done).cloned().collect();
        info.requests_ack = info
            .requests_ack
            .max(r.requests.iter().map(|q| q.0).max().unwrap_or(0));
        // A fresh report from a member is the truth about it, unless a
        // fence for it is already on its way: that will most likely land,
        // so nothing is placed there (or anywhere, while it is unclean)
        // until it has (pacemaker too waits for a fence it began; before,
        // the DC started a resource there that the fence killed a moment
        // later). A fence that fails then clears it (`on_fence_done`).
        let was_unclean = reign
            .unclean
            .get(&from)
            .is_some_and(|u| !u.force && !u.fencing);
        if was_unclean {
            reign.unclean.remove(&from);
        }
        for (_, res, op, rc) in failures {
            self.cib.record_failure(&res, &name, &op, rc, now);
            changed = true;
        }
        if let Some(last) = requests.iter().map(|q| q.0).max() {
            self.cib.applied.insert(name.clone(), (incarnation, last));
            changed = true;
        }
        for (_, text) in requests {
            if let Ok(req) = serde_json::from_str::<Request>(&text) {
                // The requester was told "submitted"; a refusal shows in
                // the DC's log.
                if let Err(why) = self.apply_request(now, req) {
                    self.event(
                        log::Level::Warn,
                        format!("request from {name} refused: {why}"),
                    );
                }
            }
        }
        if stop_failed
            || r.states
                .iter()
                .any(|(_, s)| *s == ResourceState::StopFailed)
        {
            if self.fencing_configured() {
                let already = self
                    .reign
                    .as_ref()
                    .is_some_and(|g| g.unclean.contains_key(&from));
                if !already {
                    self.event(
                        log::Level::Error,
                        format!("stop failed, fencing: target={name}"),
                    );
                    self.mark_unclean(now, from, true);
                }
            }
        }
        if changed {
            self.bump();
        }
    }

    pub(super) fn dc_tick(&mut self, now: Instant, members: &BTreeSet<NodeId>) {
        let Some(mut reign) = self.reign.take() else {
            return;
        };
        // Membership changes within the reign.
        let lost: Vec<NodeId> = reign.members.difference(members).copied().collect();
        for x in &reign.members.clone() {
            if !members.contains(x) {
                reign.reports.remove(x);
                reign.outstanding.retain(|_, p| p.node != *x);
                // Back as a member, it gets a command at once.
                reign.sent.remove(x);
            }
        }
        for x in members {
            if !reign.members.contains(x) {
                reign.gone.remove(x);
                reign.left.remove(x);
            }
        }
        reign.members = members.clone();
        self.reign = Some(reign);
        for x in lost {
            let left = self
                .reign
                .as_ref()
                .is_some_and(|r| r.left.contains(&x) || r.gone.contains(&x));
            let name = self.node_name(x);
            if left {
                self.event(log::Level::Info, format!("peer left cleanly: peer={name}"));
                self.resolve_unclean(x);
            } else if self.confirmed_off(x) {
                // Still a member only through heartbeats heard before a
                // fence that has since powered it off (it rebooted and was
                // fenced by a request from before the reboot).
                self.event(
                    log::Level::Info,
                    format!("peer lost, fenced after last heard: peer={name}"),
                );
                self.resolve_unclean(x);
            } else {
                self.event(log::Level::Warn, format!("peer lost, unclean: peer={name}"));
                self.mark_unclean(now, x, false);
            }
        }
        // Our own report, processed as any other.
        let token = self.reign.as_ref().map_or(0, |r| r.token);
        self.follow_reign((self.local, self.incarnation), token);
        let mut own = self.next_report();
        own.view = self.dc_token;
        self.last_command_at = Some(now);
        self.dc_hash = Some(self.config.hash);
        let own_seq = own.seq;
        if let Some(info) = self
            .reign
            .as_mut()
            .and_then(|r| r.reports.get_mut(&self.local))
        {
            if info.seq >= own_seq {
                info.seq = own_seq.saturating_sub(1);
            }
        }
        self.on_report(now, self.local, self.incarnation, own);
        self.fence_unclean(now);
        // Failures and runtime constraints that lapsed.
        let config = &self.config;
        if self
            .cib
            .expire(now, |r| config.effective_meta(r).failure_timeout)
        {
            self.bump();
        }
        // Where things run, from the reports.
        let mut changed = false;
        if let Some(r) = self.reign.as_ref() {
            for (n, i) in &r.reports {
                let name = name_of(&self.config, *n);
                changed |= self.cib.set_active_from(&name, &i.states);
            }
        }
        if changed {
            self.bump();
        }
        // Every member has reported, except one fenced since (it runs
        // nothing; its next report comes from a new incarnation).
        let ready = self.reign.as_ref().is_some_and(|r| {
            members
                .iter()
                .all(|m| r.gone.contains(m) || r.reports.get(m).is_some_and(|i| i.probed))
        });
        if ready && self.synced() {
            self.plan_if_changed(now);
        }
        // A node counted `gone` (fenced, waited out) that reports again as
        // a member is alive and may run what we start there: its next loss
        // must be fenced again, not taken as a clean leave. (Fencing a
        // member, e.g. after a failed stop, leaves it `gone` while still a
        // member; when it reboots faster than the timeout it never leaves
        // the membership, so the join path in this function never clears
        // it.) Reports are dropped when a node is resolved, so a report
        // here came after that.
        if let Some(r) = self.reign.as_mut() {
            let back: Vec<NodeId> = r
                .gone
                .iter()
                .copied()
                .filter(|x| members.contains(x) && r.reports.contains_key(x))
                .collect();
            for x in back {
                r.gone.remove(&x);
            }
        }
        self.send_commands(now);
    }

    pub(super) fn fence_unclean(&mut self, now: Instant) {
        let Some(reign) = self.reign.as_ref() else {
            return;
        };
        let todo: Vec<(NodeId, Unclean)> =
            reign.unclean.iter().map(|(n, u)| (*n, u.clone())).collect();
        let members = reign.members.clone();
        for (x, u) in todo {
            if members.contains(&x) && !u.force {
                continue;
            }
            if !self.fencing_configured() || self.unsafe_skip_fencing_wait {
                self.resolve_unclean(x);
                continue;
            }
            // The watchdog wait assumes the lost node cannot be quorate on
            // its own; with two_node (and last_man_standing) it can, so
            // only a device that confirms the fence may recover there.
            let lone_quorum_possible =
                self.config.quorum.two_node || self.config.quorum.last_man_standing;
            // A member forced unclean (its stop failed) with no device
            // for it is fenced through its own watchdog, as SBD's
            // watchdog-only fencing does: the DC sends it no more commands
            // (`send_commands`), so its lease runs out and, with something
            // still active (the failed stop), it stops feeding its
            // watchdog and is reset within lease + 1.5 x watchdog, before
            // the same 2 x watchdog wait as for a lost node ends. Without
            // this the wait never began for a node that stayed a member,
            // and the DC blocked every start forever.
            let self_fencing = u.force && self.fence_delay(x).is_none();
            if self_fencing && x == self.local && self.config.watchdog.is_some() {
                // The DC itself: nobody commands it, so it stops feeding
                // its watchdog directly; a new DC waits it out.
                if !self.watchdog_off {
                    self.watchdog_off = true;
                    self.event(
                        log::Level::Error,
                        "watchdog: this node is to be fenced (a failed stop or `ha node fence`) and has no fence device, stop feeding".to_string(),
                    );
                }
                continue;
            }
            if let Some(w) = self
                .config
                .watchdog
                .as_ref()
                .filter(|_| !lone_quorum_possible)
            {
                if (!members.contains(&x) || self_fencing)
                    && now >= u.since + w.timeout.saturating_mul(2)
                {
                    if members.contains(&x) {
                        // Reset meanwhile and back as a member (or about to
                        // reset). Its current incarnation may run what we
                        // start there, so it is not `gone`: that would make
                        // its next loss count as a clean leave and skip
                        // fencing (seed 16154220635599461040: split brain).
                        // While its report still shows the failed stop it
                        // has not reset yet: keep waiting.
                        let still_failed = self.reign.as_ref().is_some_and(|r| {
                            r.reports.get(&x).is_some_and(|i| {
                                i.states.values().any(|s| *s == ResourceState::StopFailed)
                            })
                        });
                        if still_failed {
                            continue;
                        }
                        let name = self.node_name(x);
                        self.event(
                            log::Level::Warn,
                            format!("watchdog wait over, member was reset: target={name}"),
                        );
                        if let Some(r) = self.reign.as_mut() {
                            r.unclean.remove(&x);
                        }
                        continue;
                    }
                    let name = self.node_name(x);
                    self.event(
                        log::Level::Warn,
                        format!("watchdog wait over, node presumed reset: target={name}"),
                    );
                    self.resolve_unclean(x);
                    continue;
                }
            }
            if self.fence_delay(x).is_some() && !u.fencing && now >= u.fence_at {
                if let Some(e) = self.reign.as_mut().and_then(|r| r.unclean.get_mut(&x)) {
                    e.fencing = true;
                }
                let name = self.node_name(x);
                self.event(log::Level::Warn, format!("fencing: target={name}"));
                self.start_job(Job::Fence(x), None, None);
            }
        }
    }

    pub(super) fn issue(&mut self, target: NodeId, resource: &str, start: bool) {
        let timeout = self.op_timeout(resource, if start { "start" } else { "stop" });
        let acting_dc = self.ring.acting_dc(self.now);
        let quorate = self.qs.quorate;
        let Some(reign) = self.reign.as_mut() else {
            return;
        };
        let id = reign.next_id;
        reign.next_id += 1;
        reign.outstanding.insert(
            id,
            Pending {
                node: target,
                resource: resource.to_string(),
                start,
                timeout,
            },
        );
        self.issued.push(Issued {
            target,
            resource: resource.to_string(),
            start,
            acting_dc,
            quorate,
        });
        let name = self.node_name(target);
        let op = if start { "start" } else { "stop" };
        self.event(
            log::Level::Info,
            format!("dc: {op} resource={resource} on={name}"),
        );
    }

    /// Whether the DC withholds its lease from member `m`: a member being
    /// fenced through its own watchdog (see `fence_unclean`) must see its
    /// lease lapse, so it gets neither commands nor heartbeat leases.
    fn withholds_lease(&self, reign: &Reign, m: NodeId) -> bool {
        m != self.local
            && reign.unclean.get(&m).is_some_and(|u| u.force)
            && self.fence_delay(m).is_none()
    }

    /// The members whose lease this round's heartbeat renews: the reign's
    /// members that are still members now, except those the DC withholds
    /// it from (and itself).
    pub(super) fn leases(&self, reign: &Reign, members: &BTreeSet<NodeId>) -> BTreeSet<NodeId> {
        reign
            .members
            .intersection(members)
            .copied()
            .filter(|m| *m != self.local && !self.withholds_lease(reign, *m))
            .collect()
    }

    /// Sends each member its command when it changed, while actions are
    /// outstanding there, when the member showed it lacks the last one
    /// (`Reign::resend`) or when the last is a heartbeat timeout old; an
    /// unchanged command in between is the heartbeat's lease (see
    /// `on_heartbeat`), which costs no packet of its own.
    pub(super) fn send_commands(&mut self, now: Instant) {
        let Some(reign) = self.reign.as_ref() else {
            return;
        };
        let key = self.cib.key();
        let resend_after = self.config.heartbeat.timeout;
        let mut out = Vec::new();
        let mut cib_to = Vec::new();
        for m in &reign.members {
            let info = reign.reports.get(m);
            // A member to be fenced through its own watchdog gets no more
            // commands (they would renew its lease), but still the cib:
            // its record of the requests the DC applied is how the member
            // learns to stop re-sending them. Without it a member that
            // asked `ha node fence` of the DC re-sent it to every next DC,
            // which reset itself every watchdog timeout forever (seed
            // 1310320537859563215).
            let lagging = info.is_some_and(|i| i.cib_key < key);
            let recently = reign
                .cib_sent
                .get(m)
                .is_some_and(|t| now.saturating_since(*t) < Duration::from_millis(500));
            if *m != self.local && lagging && !recently {
                cib_to.push(*m);
            }
            if self.withholds_lease(reign, *m) {
                continue;
            }
            let actions: Vec<RemoteAction> = reign
                .outstanding
                .iter()
                .filter(|(_, p)| p.node == *m)
                .map(|(id, p)| RemoteAction {
                    id: *id,
                    start: p.start,
                    resource: p.resource.clone(),
                    timeout_ms: p.timeout.as_millis(),
                })
                .collect();
            let command = Command {
                view: reign.token,
                seq: 0,
                config_hash: self.config.hash,
                cib_key: key,
                report_ack: info.map_or(0, |i| i.seq),
                failures_ack: info.map_or(0, |i| i.failures_ack),
                requests_ack: info.map_or(0, |i| i.requests_ack),
                actions,
                blocked: reign
                    .blocked
                    .iter()
                    .map(|(r, why)| (r.clone(), why.clone()))
                    .collect(),
            };
            let due = *m == self.local
                || !command.actions.is_empty()
                || reign.resend.contains(m)
                || reign.sent.get(m).is_none_or(|(last, at)| {
                    !same_but_cib_key(last, &command) || now.saturating_since(*at) >= resend_after
                });
            if due {
                out.push((*m, command));
            }
        }
        for (m, mut c) in out {
            if let Some(r) = self.reign.as_mut() {
                r.command_seq += 1;
                c.seq = r.command_seq;
            }
            let msg = Msg::Command(c);
            self.send_msg(now, m, &msg);
            if let (Some(r), Msg::Command(c)) = (self.reign.as_mut(), msg) {
                r.resend.remove(&m);
                r.sent.insert(m, (c, now));
            }
        }
        if !cib_to.is_empty() {
            let bytes = self.cib.encode(now);
            for m in cib_to {
                if let Some(r) = self.reign.as_mut() {
                    r.cib_sent.insert(m, now);
                }
                self.send_msg(now, m, &Msg::Cib(bytes.clone()));
            }
        }
    }
}

/// Commands equal but for the cib key: a member needs no command for a new
/// cib key alone (the DC pushes the cib itself to members whose reports
/// show an older one; the key in a command only lets a member with a newer
/// cib push it back, which a later command still does).
fn same_but_cib_key(a: &Command, b: &Command) -> bool {
    // Destructured so that a field added later is compared, not forgotten.
    let Command {
        view,
        seq: _,
        config_hash,
        cib_key: _,
        report_ack,
        failures_ack,
        requests_ack,
        actions,
        blocked,
    } = a;
    (
        *view,
        config_hash,
        *report_ack,
        *failures_ack,
        *requests_ack,
        actions,
        blocked,
    ) == (
        b.view,
        &b.config_hash,
        b.report_ack,
        b.failures_ack,
        b.requests_ack,
        &b.actions,
        &b.blocked,
    )
}
