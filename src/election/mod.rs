//! Election: which node is DC, and when it may act as one.
//!
//! Takes what `membership` knows (members, their latest heartbeats) and
//! decides whom this node names as DC in its heartbeats, and whether this
//! node may act as DC now. No I/O, no clock: time is the `now` argument.
//! There is no election round and no waiting out a previous DC: the choice
//! is deterministic, and a lease built from heartbeat acks makes sure a DC
//! has stopped before its members may back another.
//!
//! - Naming: every heartbeat names the sender's DC: a member that says it
//!   acts as DC (the one already named first; itself, while it acts), else
//!   the lowest member. So a rejoining lower id neither pulls members away
//!   from a working DC nor unseats it: a new reign fences every node
//!   outside its view, and handing over to each rebooted lower id fed a
//!   fence war with slow devices. For one timeout after it boots a node
//!   names only a DC that already acts (a restarted node must not help
//!   elect a new DC while its previous incarnation's vote may still count
//!   for the old one).
//! - Acks: every heartbeat acks the newest heartbeat number it received
//!   from each peer (`Heard::acked`, filled by membership); each node
//!   remembers when it sent each number. A DC acts only while every member's
//!   latest heartbeat names it and acks one of its heartbeats sent within
//!   the lease (`timeout - interval`). A member's ack refers to a heartbeat
//!   it received, so it declares the DC lost (one timeout after that) only
//!   after the lease that ack gave has run out: when members switch to a
//!   new DC because the old one went silent, the old one has already
//!   stopped acting, and the new one may act at once.
//! - Votes: a node that stops naming a DC names nobody until the acks it
//!   gave that DC have run out: an older heartbeat naming the old DC,
//!   arriving late, must not count there while a new DC counts the newer
//!   ones. When the old DC went silent its acks ran out already, so this
//!   costs time only in odd cases (one-way cuts, heavy loss). The vote
//!   outlasts the lease by one interval, for a clock jump that the gap
//!   rule cannot see in full (`Election::absorb_gap`).
//! - A member that is not fresh (dead, cut off) does not stop the DC when
//!   the fresh members (itself included) could be quorate by votes and all
//!   the other configured nodes together could not: another DC needs its
//!   own fresh backers to be such a set, and the two are disjoint. With
//!   `two_node` or `last_man_standing` a single node can be quorate, so
//!   there every member must be fresh.
//!
//! The reign token (the DC's view number, which only grows) is kept by the
//! node (`node::dc`), which also requires quorum before it acts.

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{Config, NodeId};
use crate::membership::Membership;
use crate::time::{Duration, Instant};
use crate::wire::Heartbeat;

/// The DC choice of one node.
pub struct Election {
    local: NodeId,
    incarnation: u64,
    interval: Duration,
    timeout: Duration,
    /// The number of this node's latest heartbeat.
    number: u64,
    /// When each recent heartbeat number was sent, oldest first.
    sent: VecDeque<(u64, Instant)>,
    /// No DC is named before this (one timeout after boot).
    vote_from: Option<Instant>,
    /// The DC this node names in its heartbeats.
    named: Option<NodeId>,
    /// Until `.1` a vote this node gave DC `.0` may still count there
    /// (see `tick`).
    vote: Option<(NodeId, Instant)>,
    /// Whether this node acts as DC (told in heartbeats).
    acting: bool,
    /// What a member that is not fresh may not be part of: a possible
    /// quorum elsewhere (see the module docs).
    votes: BTreeMap<NodeId, u32>,
    expected_votes: u32,
    auto_tie_breaker: bool,
    /// `two_node` or `last_man_standing`: one node may be quorate alone.
    lone_quorum: bool,
}

impl Election {
    pub fn new(config: &Config, local: NodeId, incarnation: u64) -> Election {
        Election {
            local,
            incarnation,
            interval: config.heartbeat.interval,
            timeout: config.heartbeat.timeout,
            number: 0,
            sent: VecDeque::new(),
            vote_from: None,
            named: None,
            vote: None,
            acting: false,
            votes: config.nodes.iter().map(|n| (n.id, n.votes)).collect(),
            expected_votes: config.quorum.expected_votes,
            auto_tie_breaker: config.quorum.auto_tie_breaker,
            lone_quorum: config.quorum.two_node || config.quorum.last_man_standing,
        }
    }

    /// Called every tick, after membership's: chooses the DC to name.
    pub fn tick(&mut self, now: Instant, m: &Membership) {
        let vote_from = *self.vote_from.get_or_insert(now + self.timeout);
        let choice = self.choose_dc(now, vote_from, m);
        // A heartbeat that named another DC gave it a lease until the vote
        // expires (its ack was of a heartbeat we received then). It may
        // reach that DC late, after newer ones that named someone else,
        // and count there; so name nobody else before it expired.
        let pending = self
            .vote
            .filter(|(d, until)| now < *until && choice != Some(*d));
        self.named = if pending.is_some() { None } else { choice };
    }

    /// The excess of a gap between inputs counts as no time for the vote
    /// (see `Membership::absorb_gap`): the DC's lease relies on it, so a
    /// clock jump must not end it early (seed 10536220447359988322 had two
    /// quorate DCs). Our own send times (our lease as DC) are not shifted:
    /// that lease may only end early.
    ///
    /// The excess leaves one interval of the gap counted as time, since
    /// ticks come that often; but a jump just after an input took almost
    /// no time at all. So a gap of more than two intervals, which no late
    /// timer explains, counts as no time in full; and a smaller jump,
    /// which may still take up to one interval off the vote, is covered by
    /// the interval the vote outlasts the lease by (see `fill_heartbeat`;
    /// seed 2030928757461717612 had two quorate DCs when a 2.9 s jump came
    /// 29 ms after an input and cut 71 ms off a vote with 197 ms to go).
    pub fn absorb_gap(&mut self, excess: Duration) {
        let shift = if excess > self.interval {
            excess + self.interval
        } else {
            excess
        };
        if let Some((_, until)) = self.vote.as_mut() {
            *until = *until + shift;
        }
    }

    /// `node` left cleanly, having stepped down first: our vote for it
    /// counts nowhere.
    pub fn peer_left(&mut self, node: NodeId) {
        if self.vote.is_some_and(|(d, _)| d == node) {
            self.vote = None;
        }
    }

    /// The DC to name now (see the module docs).
    fn choose_dc(&self, now: Instant, vote_from: Instant, m: &Membership) -> Option<NodeId> {
        let says_it_acts = |d: NodeId| m.heartbeat_of(d).is_some_and(|(hb, _, _)| acts(hb, d));
        let members = m.members(now);
        if now < vote_from {
            // Joining a DC that already acts cannot make a second one.
            return members.iter().copied().find(|d| says_it_acts(*d));
        }
        // A DC that acts keeps its role when a lower id joins, and so does
        // everyone backing it: each change of DC starts a reign, which
        // fences every node outside its view (startup fencing), and with
        // slow fences and quick reboots handing over to a rebooted lower
        // id turned into a fence war (seed 7169718369075013140).
        if self.acting && members.contains(&self.local) {
            return Some(self.local);
        }
        if let Some(d) = self
            .named
            .filter(|d| *d != self.local && members.contains(d))
        {
            if says_it_acts(d) {
                return Some(d);
            }
        }
        members
            .iter()
            .copied()
            .find(|d| *d != self.local && says_it_acts(*d))
            .or(members.first().copied())
    }

    /// How long an ack keeps this node's DC lease: one interval less than
    /// the timeout after which the acking peer would declare it lost.
    fn lease(&self) -> Duration {
        let t = self.timeout.as_millis();
        Duration::from_millis(t.saturating_sub(self.interval.as_millis()).max(t / 2))
    }

    /// When we sent the heartbeat of ours that `hb` (a peer's latest) acks
    /// (None: it acks none of this incarnation's recent ones).
    fn acked_sent_at(&self, hb: &Heartbeat) -> Option<Instant> {
        let h = hb.heard(self.local)?;
        if h.incarnation != self.incarnation {
            return None;
        }
        let i = self.sent.partition_point(|(n, _)| *n < h.acked);
        self.sent
            .get(i)
            .filter(|(n, _)| *n == h.acked)
            .map(|(_, at)| *at)
    }

    /// While acting as DC: the first instant after `now` at which a
    /// member's ack ages out of the lease. The node looks again then: a DC
    /// whose lease ran out must stop at once, not at its next tick (a
    /// member's vote may go to a new DC from that instant on; seed
    /// 10914138742949313913 had two acting DCs for the rest of a tick).
    pub fn next_lease_expiry(&self, now: Instant, m: &Membership) -> Option<Instant> {
        if !self.acting {
            return None;
        }
        m.member_heartbeats(now)
            .filter_map(|(_, hb)| self.acked_sent_at(hb))
            .map(|at| at + self.lease())
            .filter(|t| *t > now)
            .min()
    }

    /// Whether the nodes in `set` could be quorate somewhere, by votes.
    fn could_be_quorate(&self, set: &BTreeSet<NodeId>) -> bool {
        let votes: u32 = set
            .iter()
            .map(|n| self.votes.get(n).copied().unwrap_or(0))
            .sum();
        let expected = self.expected_votes;
        if votes > expected / 2 {
            return true;
        }
        let lowest = self.votes.keys().next();
        self.auto_tie_breaker && votes * 2 == expected && lowest.is_some_and(|l| set.contains(l))
    }

    /// The DC this node follows (itself while it names none).
    pub fn candidate(&self) -> NodeId {
        self.named.unwrap_or(self.local)
    }

    /// Tells peers, from the next heartbeat on, whether this node acts as DC.
    pub fn set_acting(&mut self, acting: bool) {
        self.acting = acting;
    }

    /// Whether this node may act as DC: it names itself, every member
    /// that matters names it with a recent ack (see the module docs), and
    /// it is not listening after a stall.
    pub fn acting_dc(&self, now: Instant, m: &Membership) -> bool {
        if m.listening(now) || self.named != Some(self.local) {
            return false;
        }
        let mut stale: BTreeSet<NodeId> = BTreeSet::new();
        for (n, hb) in m.member_heartbeats(now) {
            let recent = self
                .acked_sent_at(hb)
                .is_some_and(|at| now.saturating_since(at) < self.lease());
            if hb.dc != Some(self.local) || !recent {
                stale.insert(n);
            }
        }
        if stale.is_empty() {
            return true;
        }
        if self.lone_quorum {
            return false;
        }
        // The members that back us, and everyone else: only if the first
        // could be a quorum and the second could not can no other DC act.
        let backers: BTreeSet<NodeId> = m.members(now).difference(&stale).copied().collect();
        let others: BTreeSet<NodeId> = self
            .votes
            .keys()
            .filter(|n| !backers.contains(n))
            .copied()
            .collect();
        self.could_be_quorate(&backers) && !self.could_be_quorate(&others)
    }

    /// Starts a heartbeat round at `now`: its number, recorded with the
    /// time for the lease; and the vote this round gives the DC it names.
    /// Fills the heartbeat's election part (number, dc, acting).
    pub fn fill_heartbeat(&mut self, now: Instant, m: &Membership, hb: &mut Heartbeat) {
        self.number += 1;
        self.sent.push_back((self.number, now));
        while self
            .sent
            .front()
            .is_some_and(|(_, at)| now.saturating_since(*at) >= self.timeout)
        {
            self.sent.pop_front();
        }
        // The DC's lease from this ack ends at most `lease` after we
        // received the heartbeat it acks; the vote lasts one interval
        // longer, for what a small clock jump may take off it unseen (see
        // `absorb_gap`). A DC gone silent is declared lost no sooner.
        if let Some(d) = self.named.filter(|d| *d != self.local) {
            if let Some((_, at, _)) = m.heartbeat_of(d) {
                self.vote = Some((d, at + self.lease() + self.interval));
            }
        }
        hb.number = self.number;
        hb.dc = self.named;
        hb.acting = self.acting;
    }

    /// The DC this node's heartbeats last named, and until when that vote
    /// may count there (see `tick`).
    #[cfg(test)]
    pub fn vote(&self) -> Option<(NodeId, Instant)> {
        self.vote
    }

    /// The DC this node names in its heartbeats.
    #[cfg(test)]
    pub fn named(&self) -> Option<NodeId> {
        self.named
    }
}

/// Whether `hb`, from `d`, says `d` acts as DC.
fn acts(hb: &Heartbeat, d: NodeId) -> bool {
    hb.acting && hb.dc == Some(d)
}
