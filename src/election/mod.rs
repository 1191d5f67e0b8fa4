//! Election: which nodes form the current view, and which of them is DC.
//!
//! Decides, from what this node hears itself (membership's bidirectional
//! member set) and what its peers report in their heartbeats (their member
//! sets, their proposed views), a [`View`]: a set of nodes that all hear each
//! other and all agree on being that set, a view number that only grows, and
//! the DC (the lowest node id of the view). Inputs: `update` with
//! membership's members, `handle_heartbeat` with each peer's heartbeat,
//! `handle_pause` after membership reports a local pause. Outputs: the view
//! (`view`, `dc`, `is_dc`), the member set quorum must count
//! (`quorum_members`), what to put in our heartbeat (`fill_heartbeat`), and
//! events. No I/O, no clock, no randomness: the choice is deterministic so
//! every node of a view computes the same DC without extra messages.
//!
//! The protocol, in three steps per node i:
//! 1. Graph: i knows an edge i-j for every member j (membership already
//!    checked both directions), and an edge j-k between two members when
//!    each reports the other among its members.
//! 2. Proposal: the largest clique of that graph containing i; among
//!    equally large ones, the lexicographically smallest id list. Every
//!    member of the globally best clique computes that same clique (any
//!    clique it prefers would be a better global one), so in a stable
//!    network one view always forms, also under non-transitive partitions
//!    (A-B, B-C, no A-C gives {A, B}; C is left out and loses quorum).
//! 3. Agreement: the proposal is *settled* when every other node in it
//!    proposes exactly the same set. A settled proposal is installed as the
//!    view (a new number when the set changes); its DC is its lowest id.
//!
//! Safety (DESIGN.md invariant "at most one DC in a quorate partition"):
//! a DC exists only for a settled view, settled means every member
//! proposes that set, and a node proposes one set at a time. Two views
//! settled at the same instant therefore share no node; with majority
//! quorum counted on the view's own members, two disjoint views cannot both
//! be quorate. Heartbeats are only snapshots, so two timing rules make
//! "at the same instant" hold although a peer's proposal is known late:
//! - Lease: a peer's report counts for `lease` (timeout / 2) after it was
//!   received, no longer. A DC whose members fall silent stops being DC
//!   after the lease even before membership declares them lost.
//! - Hold-down: after its proposal changes, a node advertises an empty
//!   proposal (supports nothing) for `hold_down` (3/4 of the timeout)
//!   before advertising the new one. Any report of its old proposal was
//!   sent before the change, so it expires (lease) before anyone can hold a
//!   report of its new one, as long as a packet takes less than
//!   `hold_down - lease` (a quarter timeout) to arrive.
//! - Pause: after a local pause, reports received in the following
//!   `lease` are not counted (they may have queued in the socket during the
//!   pause and be old), so a paused DC cannot resume on stale support.
//! The price is failover time: a view change settles at the earliest
//! `hold_down` after the change was noticed (timeout + 3/4 timeout +
//! an interval after a peer died, with the defaults 1 s + 0.75 s + 0.1 s).
//!
//! The node composes: membership -> `Election::update(members)` ->
//! `Votequorum::update(quorum_members())`; it acts as DC only when
//! `is_dc()` and the quorum state is quorate.

/// The composed protocol for one node.
pub mod protocol;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::NodeId;
use crate::time::{Duration, Instant};
use crate::wire::Heartbeat;

pub use protocol::{HeartbeatTransmit, Protocol, ProtocolEvent};

/// An installed view: who is in it, its number, and its DC.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// Grows with every new member set; persisted by the node so it keeps
    /// growing across restarts.
    pub number: u64,
    pub members: BTreeSet<NodeId>,
    /// The lowest node id of `members`; `None` before the first view.
    pub dc: Option<NodeId>,
}

/// What the election noticed; drain with [`Election::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElectionEvent {
    /// A view was installed or its number raised to match peers; persist
    /// `view.number`.
    ViewInstalled { view: View },
    /// [`Election::dc`] changed (`None`: no settled view right now).
    DcChanged {
        old: Option<NodeId>,
        new: Option<NodeId>,
    },
}

/// What a peer last told us (from its newest heartbeat).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Report {
    received: Instant,
    incarnation: u64,
    number: u64,
    members: BTreeSet<NodeId>,
    proposal: BTreeSet<NodeId>,
    view: u64,
    view_members: BTreeSet<NodeId>,
}

/// The election state of one node.
#[derive(Clone, Debug)]
pub struct Election {
    local: NodeId,
    timeout: Duration,
    view: View,
    /// The current proposal equals the installed view and is agreed.
    settled: bool,
    proposal: BTreeSet<NodeId>,
    members: BTreeSet<NodeId>,
    reports: BTreeMap<NodeId, Report>,
    /// Reports received before this instant do not count (local pause).
    quiet_until: Option<Instant>,
    /// When the current proposal was first computed; it is advertised (and
    /// counts) only from `proposal_since + hold_down`.
    proposal_since: Option<Instant>,
    /// The hold-down of the current proposal is over.
    ready: bool,
    events: VecDeque<ElectionEvent>,
    last_dc: Option<NodeId>,
}

impl Election {
    /// `timeout` is membership's peer timeout; `view_number` the last view
    /// number this node persisted (0 on first start).
    pub fn new(local: NodeId, timeout: Duration, view_number: u64) -> Election {
        Election {
            local,
            timeout,
            view: View {
                number: view_number,
                members: BTreeSet::new(),
                dc: None,
            },
            settled: false,
            proposal: [local].into_iter().collect(),
            members: [local].into_iter().collect(),
            reports: BTreeMap::new(),
            quiet_until: None,
            proposal_since: None,
            ready: false,
            events: VecDeque::new(),
            last_dc: None,
        }
    }

    /// Records a peer's heartbeat (`incarnation` from the packet header) and
    /// re-evaluates. Older heartbeats and older incarnations are ignored.
    pub fn handle_heartbeat(
        &mut self,
        now: Instant,
        from: NodeId,
        incarnation: u64,
        hb: &Heartbeat,
    ) {
        if from == self.local {
            return;
        }
        if let Some(old) = self.reports.get(&from) {
            if incarnation < old.incarnation
                || (incarnation == old.incarnation && hb.number <= old.number)
            {
                return;
            }
        }
        let report = Report {
            received: now,
            incarnation,
            number: hb.number,
            members: hb.members.clone(),
            proposal: hb.proposal.clone(),
            view: hb.view,
            view_members: hb.view_members.clone(),
        };
        self.reports.insert(from, report);
        self.evaluate(now);
    }

    /// Feeds membership's current member set (`Membership::members`, which
    /// includes the local node) and re-evaluates. Call after every
    /// membership change.
    pub fn update(&mut self, now: Instant, members: &BTreeSet<NodeId>) -> &View {
        let mut members = members.clone();
        members.insert(self.local);
        // Reports of peers that are no longer members are stale by
        // definition; a returning peer must report afresh.
        self.reports.retain(|n, _| members.contains(n));
        self.members = members;
        self.evaluate(now);
        &self.view
    }

    /// Forgets what `node` reported (it restarted: its old proposals say
    /// nothing about the new process).
    pub fn forget(&mut self, now: Instant, node: NodeId) {
        self.reports.remove(&node);
        self.evaluate(now);
    }

    /// This node was paused (`MembershipEvent::Paused`): forget every report
    /// and ignore those received during the next `lease`, so heartbeats that
    /// queued up during the pause cannot confirm a view the peers have left.
    pub fn handle_pause(&mut self, now: Instant) {
        self.reports.clear();
        self.quiet_until = Some(now + self.lease());
        self.evaluate(now);
    }

    /// How long a peer's report counts after it was received: half the
    /// timeout.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.timeout.as_millis() / 2)
    }

    /// How long a changed proposal is withheld before it is advertised:
    /// three quarters of the timeout (the lease plus a quarter timeout of
    /// tolerated packet delay).
    pub fn hold_down(&self) -> Duration {
        Duration::from_millis(self.timeout.as_millis() * 3 / 4)
    }

    /// The next instant at which the election changes on its own: the end
    /// of the hold-down, or of a lease the settled view depends on. (The
    /// end of a post-pause quiet period needs no timer: only reports
    /// arriving after it change anything.)
    pub fn poll_timeout(&self) -> Option<Instant> {
        let hold = self
            .proposal_since
            .filter(|_| !self.ready)
            .map(|t| t + self.hold_down());
        let leases = self
            .settled
            .then(|| {
                self.proposal
                    .iter()
                    .filter_map(|n| self.reports.get(n))
                    .map(|r| r.received + self.lease())
                    .min()
            })
            .flatten();
        [hold, leases].into_iter().flatten().min()
    }

    /// Re-evaluates at a deadline from `poll_timeout`; an early call does
    /// nothing harmful.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.evaluate(now);
    }

    /// A peer's report that may count now: received within the lease and
    /// not during a post-pause quiet period.
    fn counts(&self, report: &Report, now: Instant) -> bool {
        now.saturating_since(report.received) < self.lease()
            && self.quiet_until.is_none_or(|q| report.received >= q)
    }

    fn evaluate(&mut self, now: Instant) {
        let proposal = best_clique(self.local, &self.members, |a, b| self.adjacent(a, b));
        if proposal != self.proposal || self.proposal_since.is_none() {
            self.proposal = proposal;
            self.proposal_since = Some(now);
        }
        self.ready = self
            .proposal_since
            .is_some_and(|t| now >= t + self.hold_down());
        if self.quiet_until.is_some_and(|q| now >= q + self.lease()) {
            // Every report from the quiet period has expired: forget it.
            self.quiet_until = None;
        }
        let agreed = self.ready
            && self.proposal.iter().filter(|n| **n != self.local).all(|n| {
                self.reports
                    .get(n)
                    .is_some_and(|r| r.proposal == self.proposal && self.counts(r, now))
            });
        if agreed {
            let peers_max = self
                .proposal
                .iter()
                .filter_map(|n| self.reports.get(n))
                .map(|r| r.view)
                .max()
                .unwrap_or(0);
            if self.proposal != self.view.members || self.view.dc.is_none() {
                self.view = View {
                    number: self.view.number.max(peers_max) + 1,
                    members: self.proposal.clone(),
                    dc: self.proposal.first().copied(),
                };
                self.events.push_back(ElectionEvent::ViewInstalled {
                    view: self.view.clone(),
                });
            } else {
                // Members that installed the same set under a higher number
                // (they saw a higher number somewhere): catch up, so one view
                // has one number.
                let same_view_max = self
                    .proposal
                    .iter()
                    .filter_map(|n| self.reports.get(n))
                    .filter(|r| r.view_members == self.view.members)
                    .map(|r| r.view)
                    .max()
                    .unwrap_or(0);
                if same_view_max > self.view.number {
                    self.view.number = same_view_max;
                    self.events.push_back(ElectionEvent::ViewInstalled {
                        view: self.view.clone(),
                    });
                }
            }
        }
        self.settled = agreed;
        let dc = self.dc();
        if dc != self.last_dc {
            self.events.push_back(ElectionEvent::DcChanged {
                old: self.last_dc,
                new: dc,
            });
            self.last_dc = dc;
        }
    }

    /// Whether `a` and `b` (both members) hear each other, as far as this
    /// node knows.
    fn adjacent(&self, a: NodeId, b: NodeId) -> bool {
        if a == self.local || b == self.local {
            return true;
        }
        let says =
            |x: NodeId, y: NodeId| self.reports.get(&x).is_some_and(|r| r.members.contains(&y));
        says(a, b) && says(b, a)
    }

    /// The installed view (possibly no longer settled; see [`Election::dc`]).
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The DC of the installed view while it is settled (every member
    /// proposes it); `None` during a change.
    pub fn dc(&self) -> Option<NodeId> {
        if self.settled { self.view.dc } else { None }
    }

    /// This node is the DC of a settled view. The node must also check that
    /// the view is quorate before acting as DC.
    pub fn is_dc(&self) -> bool {
        self.dc() == Some(self.local)
    }

    /// The view is settled: every member currently proposes it.
    pub fn settled(&self) -> bool {
        self.settled
    }

    /// What this node currently proposes (advertised only once its
    /// hold-down is over; see [`Election::advertised_proposal`]).
    pub fn proposal(&self) -> &BTreeSet<NodeId> {
        &self.proposal
    }

    /// What our heartbeats carry as proposal: the proposal once its
    /// hold-down is over, the empty set before.
    pub fn advertised_proposal(&self) -> BTreeSet<NodeId> {
        if self.ready {
            self.proposal.clone()
        } else {
            BTreeSet::new()
        }
    }

    /// The members quorum must count. While settled: the view. During a
    /// change: the installed view's members that are still members and have
    /// not moved on to a newer view without us; nodes that are joining are
    /// counted once the new view settles, nodes that left are dropped at
    /// once. So a join causes no quorum blip, and a node left out of its
    /// peers' new view (non-transitive partition) loses their votes.
    pub fn quorum_members(&self) -> BTreeSet<NodeId> {
        if self.settled {
            return self.view.members.clone();
        }
        let mut set: BTreeSet<NodeId> = self
            .view
            .members
            .iter()
            .copied()
            .filter(|n| self.members.contains(n))
            .filter(|n| {
                self.reports.get(n).is_none_or(|r| {
                    r.view <= self.view.number || r.view_members.contains(&self.local)
                })
            })
            .collect();
        set.insert(self.local);
        set
    }

    /// Sets the election fields of an outgoing heartbeat: proposal, view
    /// number and members, DC.
    pub fn fill_heartbeat(&self, hb: &mut Heartbeat) {
        hb.proposal = self.advertised_proposal();
        hb.view = self.view.number;
        hb.view_members = self.view.members.clone();
        hb.dc = self.dc();
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ElectionEvent> {
        self.events.pop_front()
    }

    /// The local node id.
    pub fn local(&self) -> NodeId {
        self.local
    }
}

/// The largest clique of `members` that contains `local`, where `adjacent`
/// says which pairs hear each other; ties go to the lexicographically
/// smallest ascending id list. Deterministic: every node with the same graph
/// gets the same answer.
pub fn best_clique(
    local: NodeId,
    members: &BTreeSet<NodeId>,
    adjacent: impl Fn(NodeId, NodeId) -> bool,
) -> BTreeSet<NodeId> {
    let candidates: Vec<NodeId> = members.iter().copied().filter(|n| *n != local).collect();
    let mut best: Vec<NodeId> = Vec::new();
    let mut current: Vec<NodeId> = Vec::new();
    // Depth-first, trying "include the smallest candidate" before "skip it",
    // so same-size cliques are met in lexicographic order of the full
    // (sorted) id list and the first one of the best size is kept.
    fn search(
        current: &mut Vec<NodeId>,
        candidates: &[NodeId],
        best: &mut Vec<NodeId>,
        local: NodeId,
        adjacent: &dyn Fn(NodeId, NodeId) -> bool,
        found_any: &mut bool,
    ) {
        if current.len() + candidates.len() < best.len()
            || (*found_any && current.len() + candidates.len() == best.len())
        {
            return;
        }
        let Some((&first, rest)) = candidates.split_first() else {
            if !*found_any || current.len() > best.len() || is_lex_smaller(current, best, local) {
                *best = current.clone();
                *found_any = true;
            }
            return;
        };
        if current.iter().all(|c| adjacent(*c, first)) {
            current.push(first);
            search(current, rest, best, local, adjacent, found_any);
            current.pop();
        }
        search(current, rest, best, local, adjacent, found_any);
    }
    let mut found_any = false;
    search(
        &mut current,
        &candidates,
        &mut best,
        local,
        &adjacent,
        &mut found_any,
    );
    best.into_iter().chain(std::iter::once(local)).collect()
}

/// Same-size comparison of two cliques (each without `local`), as full
/// ascending id lists with `local` added.
fn is_lex_smaller(a: &[NodeId], b: &[NodeId], local: NodeId) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let full = |x: &[NodeId]| {
        let mut v: Vec<NodeId> = x.to_vec();
        v.push(local);
        v.sort_unstable();
        v
    };
    full(a) < full(b)
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod stack_tests;
