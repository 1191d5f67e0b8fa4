//! The node's view of who is there: sealing, heartbeats, membership and the
//! DC choice, behind one small interface so `Node` does not care which
//! module implements each part.
//!
//! Packets are sealed and opened with `wire` (authenticated, replay
//! protected). Membership here is a plain heartbeat failure detector: a peer
//! is a member while it was heard on some link within `timeout` and its
//! latest heartbeat says it hears this node's current incarnation (so only
//! links that work both ways count). Inputs: datagrams and ticks with
//! `now`. Outputs: heartbeat transmits, opened non-heartbeat bodies, member
//! sets and the DC choice.
//!
//! DC choice, without waiting out a previous DC:
//! - Every heartbeat names the sender's DC: the lowest member, except that
//!   a node keeps naming a DC that still is its member and says it acts
//!   (so a rejoining lower id does not pull a member away from a working
//!   DC), and for one timeout after it boots names only a DC that already
//!   acts (a restarted node must not help elect a new DC while its previous
//!   incarnation's vote may still count for the old one).
//! - Every heartbeat acks the newest heartbeat number it received from each
//!   peer; each node remembers when it sent each number. A DC acts only
//!   while every member's latest heartbeat names it and acks one of its
//!   heartbeats sent within the lease (`timeout - interval`). A member's
//!   ack refers to a heartbeat it received, so it declares the DC lost (one
//!   timeout after that) only after the lease that ack gave has run out:
//!   when members switch to a new DC because the old one went silent, the
//!   old one has already stopped acting, and the new one may act at once.
//! - A node that stops naming a DC names nobody until the acks it gave
//!   that DC have run out: an older heartbeat naming the old DC, arriving
//!   late, must not count there while a new DC counts the newer ones. When
//!   the old DC went silent its acks ran out already, so this costs time
//!   only in odd cases (one-way cuts, heavy loss).
//! - A member that is not fresh (dead, cut off) does not stop the DC when
//!   the fresh members (itself included) could be quorate by votes and all
//!   the other configured nodes together could not: another DC needs its
//!   own fresh backers to be such a set, and the two are disjoint. With `two_node` or `last_man_standing` a single
//!   node can be quorate, so there every member must be fresh.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{Config, NodeId};
use crate::time::{Duration, Instant};
use crate::wire::{self, Heard, Heartbeat, Keys, Kind, Receiver, Sender};

#[derive(Clone, Debug, Default)]
struct Peer {
    incarnation: u64,
    /// Per link: when we last heard anything from it.
    last_heard: Vec<Option<Instant>>,
    /// The newest heartbeat, with the time it arrived.
    heartbeat: Option<(Heartbeat, Instant)>,
    /// Set by an authenticated leave: the wire sequence of that packet.
    /// The peer is no member until it is heard with a heartbeat sent after
    /// it (a higher sequence) or with a higher incarnation; packets sealed
    /// before the leave (late, reordered copies) do not bring it back.
    left_at: Option<u64>,
}

/// Something membership noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingEvent {
    /// A peer came back with a higher incarnation (it restarted).
    Restarted(NodeId),
}

/// Sealing, membership and DC choice for one node.
pub struct Ring {
    keys: Keys,
    sender: Sender,
    receiver: Receiver,
    local: NodeId,
    incarnation: u64,
    links: usize,
    interval: Duration,
    timeout: Duration,
    peers: BTreeMap<NodeId, Peer>,
    number: u64,
    last_tick: Option<Instant>,
    /// The latest `tick` or `handle_datagram` (see `absorb_gap`).
    last_input: Option<Instant>,
    /// After a stall of this node, it listens until then before acting.
    listen_until: Instant,
    /// No DC is named before this (one timeout after boot).
    vote_from: Option<Instant>,
    /// The DC this node names in its heartbeats.
    named: Option<NodeId>,
    /// Until `.1` a vote this node gave DC `.0` may still count there
    /// (see `tick`).
    vote: Option<(NodeId, Instant)>,
    /// Whether this node acts as DC (told in heartbeats).
    acting: bool,
    /// When each recent heartbeat number was sent, oldest first.
    sent: VecDeque<(u64, Instant)>,
    /// What a member that is not fresh may not be part of: a possible
    /// quorum elsewhere (see the module docs).
    votes: BTreeMap<NodeId, u32>,
    expected_votes: u32,
    auto_tie_breaker: bool,
    /// `two_node` or `last_man_standing`: one node may be quorate alone.
    lone_quorum: bool,
    pub events: VecDeque<RingEvent>,
    /// See `take_fresh_heartbeat`.
    fresh_heartbeat: Option<NodeId>,
}

impl Ring {
    pub fn new(config: &Config, local: NodeId, incarnation: u64, key: &[u8; 32]) -> Ring {
        let ids: Vec<NodeId> = config.nodes.iter().map(|n| n.id).collect();
        let links = config.heartbeat.links.len().max(1);
        Ring {
            keys: Keys::new(key, &config.cluster.name),
            sender: Sender::new(local, incarnation),
            receiver: Receiver::new(local, &ids),
            local,
            incarnation,
            links,
            interval: config.heartbeat.interval,
            timeout: config.heartbeat.timeout,
            peers: ids
                .iter()
                .filter(|n| **n != local)
                .map(|n| {
                    (
                        *n,
                        Peer {
                            last_heard: vec![None; links],
                            ..Peer::default()
                        },
                    )
                })
                .collect(),
            number: 0,
            last_tick: None,
            last_input: None,
            listen_until: Instant::ZERO,
            vote_from: None,
            named: None,
            vote: None,
            acting: false,
            sent: VecDeque::new(),
            votes: config.nodes.iter().map(|n| (n.id, n.votes)).collect(),
            expected_votes: config.quorum.expected_votes,
            auto_tie_breaker: config.quorum.auto_tie_breaker,
            lone_quorum: config.quorum.two_node || config.quorum.last_man_standing,
            events: VecDeque::new(),
            fresh_heartbeat: None,
        }
    }

    /// Seals a body of `kind`.
    pub fn seal(&mut self, kind: Kind, body: &[u8]) -> Vec<u8> {
        self.sender.seal(&self.keys, kind, body)
    }

    /// Opens a datagram. Heartbeats are consumed here; other bodies are
    /// returned with their header. Bad packets are counted and dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        link: usize,
        bytes: &[u8],
    ) -> Option<(wire::Header, Vec<u8>)> {
        self.absorb_gap(now);
        self.fresh_heartbeat = None;
        let (header, body) = self.receiver.open(&self.keys, bytes).ok()?;
        let links = self.links;
        let peer = self.peers.get_mut(&header.sender)?;
        if header.incarnation > peer.incarnation {
            if peer.incarnation != 0 {
                self.events.push_back(RingEvent::Restarted(header.sender));
            }
            *peer = Peer {
                incarnation: header.incarnation,
                last_heard: vec![None; links],
                heartbeat: None,
                left_at: None,
            };
        }
        if let Some(seq) = peer.left_at {
            let comes_back = header.kind == Kind::HEARTBEAT
                && header.incarnation == peer.incarnation
                && header.sequence > seq;
            if !comes_back {
                // Not evidence of life: a leave repeat or a packet older
                // than the leave. Bodies still go up (a repeated leave).
                if header.kind == Kind::HEARTBEAT {
                    return None;
                }
                return Some((header, body));
            }
            peer.left_at = None;
        }
        if link < peer.last_heard.len() {
            peer.last_heard[link] = Some(now);
        }
        if header.kind == Kind::HEARTBEAT {
            match Heartbeat::decode(&body) {
                Ok(hb) => {
                    // Copies of one round on several links carry one number;
                    // keep the newest only.
                    if peer
                        .heartbeat
                        .as_ref()
                        .is_none_or(|(old, _)| hb.number >= old.number)
                    {
                        peer.heartbeat = Some((hb, now));
                        self.fresh_heartbeat = Some(header.sender);
                    }
                }
                Err(_) => self.receiver.count(wire::Drop::Malformed),
            }
            return None;
        }
        Some((header, body))
    }

    /// `node` told us, in an authenticated packet of `incarnation` with wire
    /// sequence `sequence`, that it left cleanly: it is no member from now
    /// on (see `Peer::left_at`). Returns whether this is news (a leave of
    /// an older incarnation, or a repeat, changes nothing).
    pub fn peer_left(&mut self, node: NodeId, incarnation: u64, sequence: u64) -> bool {
        let links = self.links;
        let Some(peer) = self.peers.get_mut(&node) else {
            return false;
        };
        if incarnation != peer.incarnation || peer.left_at.is_some_and(|s| s >= sequence) {
            return false;
        }
        let news = peer.left_at.is_none();
        peer.left_at = Some(sequence);
        // It stepped down before it left: our vote for it counts nowhere.
        if self.vote.is_some_and(|(d, _)| d == node) {
            self.vote = None;
        }
        peer.last_heard = vec![None; links];
        peer.heartbeat = None;
        news
    }

    /// Whether `node` left cleanly and has not been heard since.
    pub fn has_left(&self, node: NodeId) -> bool {
        self.peers.get(&node).is_some_and(|p| p.left_at.is_some())
    }

    /// The config hash in `node`'s latest heartbeat heard within the
    /// timeout (this node's own for `local`).
    pub fn config_hash(&self, node: NodeId, now: Instant, own: [u8; 32]) -> Option<[u8; 32]> {
        if node == self.local {
            return Some(own);
        }
        let (hb, at) = self.peers.get(&node)?.heartbeat.as_ref()?;
        self.fresh(Some(*at), now).then_some(hb.config_hash)
    }

    /// Counts a body that opened but did not decode.
    pub fn count_malformed(&mut self) {
        self.receiver.count(wire::Drop::Malformed);
    }

    /// Called every tick. Detects a stall of this node (its own timers ran
    /// late by more than the timeout): then every peer gets one more
    /// timeout of grace, and the node listens that long before it may act,
    /// so a paused node neither declares everyone dead nor acts on a stale
    /// view. Returns whether a stall was detected.
    pub fn tick(&mut self, now: Instant) -> bool {
        self.absorb_gap(now);
        let stalled = self
            .last_tick
            .is_some_and(|t| now.saturating_since(t) > self.timeout);
        self.last_tick = Some(now);
        let vote_from = *self.vote_from.get_or_insert(now + self.timeout);
        if stalled {
            self.listen_until = now + self.timeout;
            for p in self.peers.values_mut() {
                for l in p.last_heard.iter_mut().flatten() {
                    *l = now;
                }
                if let Some((_, at)) = p.heartbeat.as_mut() {
                    *at = now;
                }
            }
        }
        let choice = self.choose_dc(now, vote_from);
        // A heartbeat that named another DC gave it a lease until the vote
        // expires (its ack was of a heartbeat we received then). It may
        // reach that DC late, after newer ones that named someone else,
        // and count there; so name nobody else before it expired.
        let pending = self
            .vote
            .filter(|(d, until)| now < *until && choice != Some(*d));
        self.named = if pending.is_some() { None } else { choice };
        stalled
    }

    /// Ticks come every interval, so a longer gap between two inputs means
    /// this node was paused, its timers ran late, or its clock jumped
    /// forward. Only the first two let real time pass, and the node cannot
    /// tell which; so the excess counts as no time for what must not run
    /// out early because of a jump: the vote it gave a DC (which that DC's
    /// lease relies on) and when it last heard each peer. Its own send
    /// times (its lease as DC) are not shifted: that lease may only end
    /// early. A real pause costs at most the excess in later loss
    /// detection and a later switch to a new DC.
    fn absorb_gap(&mut self, now: Instant) {
        let last = self
            .last_input
            .replace(now.max(self.last_input.unwrap_or(now)));
        let Some(last) = last else {
            return;
        };
        let gap = now.saturating_since(last).as_millis();
        let Some(excess) = gap
            .checked_sub(self.interval.as_millis())
            .filter(|e| *e > 0)
            .map(Duration::from_millis)
        else {
            return;
        };
        if let Some((_, until)) = self.vote.as_mut() {
            *until = *until + excess;
        }
        for p in self.peers.values_mut() {
            for l in p.last_heard.iter_mut().flatten() {
                *l = (*l + excess).min(now);
            }
            if let Some((_, at)) = p.heartbeat.as_mut() {
                *at = (*at + excess).min(now);
            }
        }
    }

    /// The DC to name now (see the module docs).
    fn choose_dc(&self, now: Instant, vote_from: Instant) -> Option<NodeId> {
        let members = self.members(now);
        if now < vote_from {
            // Joining a DC that already acts cannot make a second one.
            return members.iter().copied().find(|d| {
                self.peers.get(d).is_some_and(|p| {
                    p.heartbeat
                        .as_ref()
                        .is_some_and(|(hb, _)| hb.acting && hb.dc == Some(*d))
                })
            });
        }
        let lowest = members.first().copied();
        match self.named {
            Some(d) if d != self.local && Some(d) != lowest && members.contains(&d) => {
                let acts = self.peers[&d]
                    .heartbeat
                    .as_ref()
                    .is_some_and(|(hb, _)| hb.acting && hb.dc == Some(d));
                if acts { Some(d) } else { lowest }
            }
            _ => lowest,
        }
    }

    /// How long an ack keeps this node's DC lease: one interval less than
    /// the timeout after which the acking peer would declare it lost.
    fn lease(&self) -> Duration {
        let t = self.timeout.as_millis();
        Duration::from_millis(t.saturating_sub(self.interval.as_millis()).max(t / 2))
    }

    /// When we sent the heartbeat of ours that `peer`'s latest heartbeat
    /// acks (None: it acks none of this incarnation's recent ones).
    fn acked_sent_at(&self, peer: &Peer) -> Option<Instant> {
        let (hb, _) = peer.heartbeat.as_ref()?;
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

    /// Whether `peer`'s latest heartbeat acks one of ours sent within the lease.
    fn acks_recent(&self, peer: &Peer, now: Instant) -> bool {
        self.acked_sent_at(peer)
            .is_some_and(|at| now.saturating_since(at) < self.lease())
    }

    /// While acting as DC: the first instant after `now` at which a
    /// member's ack ages out of the lease. The node looks again then: a DC
    /// whose lease ran out must stop at once, not at its next tick (a
    /// member's vote may go to a new DC from that instant on; seed
    /// 10914138742949313913 had two acting DCs for the rest of a tick).
    pub fn next_lease_expiry(&self, now: Instant) -> Option<Instant> {
        if !self.acting {
            return None;
        }
        self.peers
            .iter()
            .filter(|(n, p)| **n != self.local && self.is_member(p, now))
            .filter_map(|(_, p)| self.acked_sent_at(p))
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

    /// True while listening after a stall.
    pub fn listening(&self, now: Instant) -> bool {
        now < self.listen_until
    }

    fn fresh(&self, t: Option<Instant>, now: Instant) -> bool {
        t.is_some_and(|t| now.saturating_since(t) < self.timeout)
    }

    /// Whether `node` is heard on `link` within the timeout.
    pub fn link_up(&self, node: NodeId, link: usize, now: Instant) -> bool {
        if node == self.local {
            return true;
        }
        self.peers
            .get(&node)
            .is_some_and(|p| self.fresh(p.last_heard.get(link).copied().flatten(), now))
    }

    /// When `node` was last heard on any link, however long ago (None:
    /// not since this boot, its restart or its leave).
    pub fn last_heard(&self, node: NodeId) -> Option<Instant> {
        self.peers
            .get(&node)
            .and_then(|p| p.last_heard.iter().flatten().max().copied())
    }

    /// The expected_votes in `node`'s latest heartbeat, if it gave one.
    pub fn expected_votes(&self, node: NodeId) -> Option<u32> {
        self.peers
            .get(&node)
            .and_then(|p| p.heartbeat.as_ref())
            .map(|(hb, _)| hb.expected_votes)
            .filter(|v| *v > 0)
    }

    /// Peers heard on some link within the timeout (members or not).
    pub fn heard(&self, now: Instant) -> BTreeSet<NodeId> {
        self.peers
            .iter()
            .filter(|(_, p)| p.last_heard.iter().any(|t| self.fresh(*t, now)))
            .map(|(n, _)| *n)
            .collect()
    }

    /// The bidirectionally reachable set, the local node included.
    pub fn members(&self, now: Instant) -> BTreeSet<NodeId> {
        let mut out = BTreeSet::from([self.local]);
        for (id, p) in &self.peers {
            if self.is_member(p, now) {
                out.insert(*id);
            }
        }
        out
    }

    /// Heard within the timeout, and its latest heartbeat (also fresh)
    /// hears this incarnation.
    fn is_member(&self, p: &Peer, now: Instant) -> bool {
        let heard = p.last_heard.iter().any(|t| self.fresh(*t, now));
        heard
            && p.heartbeat.as_ref().is_some_and(|(hb, at)| {
                self.fresh(Some(*at), now)
                    && hb
                        .hears
                        .iter()
                        .any(|h| h.node == self.local && h.incarnation == self.incarnation)
            })
    }

    /// When the first current member would be lost if nothing more is
    /// heard from it: the node ticks then, so loss is noticed at the
    /// timeout rather than up to an interval later.
    pub fn next_expiry(&self, now: Instant) -> Option<Instant> {
        self.peers
            .iter()
            .filter(|(n, p)| **n != self.local && self.is_member(p, now))
            .filter_map(|(_, p)| {
                let heard = p.last_heard.iter().flatten().max()?;
                let (_, at) = p.heartbeat.as_ref()?;
                Some((*heard).min(*at) + self.timeout)
            })
            .min()
    }

    /// The DC this node follows (itself while it names none).
    pub fn candidate(&self, now: Instant) -> NodeId {
        let _ = now;
        self.named.unwrap_or(self.local)
    }

    /// Tells peers, from the next heartbeat on, whether this node acts as DC.
    pub fn set_acting(&mut self, acting: bool) {
        self.acting = acting;
    }

    /// Whether this node may act as DC: it names itself, every member
    /// that matters names it with a recent ack (see the module docs), and
    /// it is not listening after a stall.
    pub fn acting_dc(&self, now: Instant) -> bool {
        if self.listening(now) || self.named != Some(self.local) {
            return false;
        }
        let members = self.members(now);
        let mut stale: BTreeSet<NodeId> = BTreeSet::new();
        for n in members.iter().filter(|n| **n != self.local) {
            let p = &self.peers[n];
            let names_us = p
                .heartbeat
                .as_ref()
                .is_some_and(|(hb, _)| hb.dc == Some(self.local));
            if !names_us || !self.acks_recent(p, now) {
                stale.insert(*n);
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
        let backers: BTreeSet<NodeId> = members.difference(&stale).copied().collect();
        let others: BTreeSet<NodeId> = self
            .votes
            .keys()
            .filter(|n| !backers.contains(n))
            .copied()
            .collect();
        self.could_be_quorate(&backers) && !self.could_be_quorate(&others)
    }

    /// The heartbeat body to send this round, on every link: the node's
    /// part (`own`: quorum, view, config hash, expected votes, reign and
    /// leases) completed with membership's and the DC choice. Every link
    /// carries these bytes (sealed apart), so one number per round.
    pub fn heartbeat(&mut self, now: Instant, own: Heartbeat) -> Vec<u8> {
        self.number += 1;
        self.sent.push_back((self.number, now));
        while self
            .sent
            .front()
            .is_some_and(|(_, at)| now.saturating_since(*at) >= self.timeout)
        {
            self.sent.pop_front();
        }
        if let Some(d) = self.named.filter(|d| *d != self.local) {
            if let Some((_, at)) = self.peers.get(&d).and_then(|p| p.heartbeat.as_ref()) {
                self.vote = Some((d, *at + self.lease()));
            }
        }
        let members = self.members(now);
        let hears = self
            .peers
            .iter()
            .filter_map(|(id, p)| {
                let mut links = 0u32;
                for (l, t) in p.last_heard.iter().enumerate() {
                    if self.fresh(*t, now) && l < 32 {
                        links |= 1 << l;
                    }
                }
                (links != 0).then_some(Heard {
                    node: *id,
                    incarnation: p.incarnation,
                    links,
                    acked: p.heartbeat.as_ref().map_or(0, |(hb, _)| hb.number),
                })
            })
            .collect();
        let hb = Heartbeat {
            number: self.number,
            hears,
            dc: self.named,
            acting: self.acting,
            members: members.clone(),
            view_members: members,
            ..own
        };
        hb.encode()
    }

    /// The peer whose heartbeat the last `handle_datagram` took as its
    /// newest, once.
    pub fn take_fresh_heartbeat(&mut self) -> Option<NodeId> {
        self.fresh_heartbeat.take()
    }

    /// The DC this node's heartbeats last named, and until when that vote
    /// may count there (see `tick`).
    #[cfg(test)]
    pub fn vote(&self) -> Option<(NodeId, Instant)> {
        self.vote
    }

    /// `node`'s newest heartbeat and its incarnation.
    pub fn heartbeat_of(&self, node: NodeId) -> Option<(&Heartbeat, u64)> {
        let p = self.peers.get(&node)?;
        p.heartbeat.as_ref().map(|(hb, _)| (hb, p.incarnation))
    }

    /// Packets dropped, by reason.
    pub fn drops(&self) -> BTreeMap<String, u64> {
        self.receiver
            .drop_counts()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), *v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<Ring> {
        let mut t = String::from(
            "[cluster]\nname = \"t\"\nkey_file = \"/k\"\n[heartbeat]\ninterval = \"100ms\"\ntimeout = \"1s\"\n[[heartbeat.link]]\n",
        );
        for i in 1..=3 {
            t += &format!("[[node]]\nname = \"n{i}\"\nid = {i}\naddrs = [\"10.0.0.{i}\"]\n");
        }
        let config = crate::sim::random::parse(&t);
        (1..=3)
            .map(|i| Ring::new(&config, i, 1, &[7; 32]))
            .collect()
    }

    /// One heartbeat round at `now`: every ring ticks, then every ring
    /// hears every other one's heartbeat.
    fn round(rings: &mut [Ring], now: Instant) {
        let mut sent = Vec::new();
        for (i, r) in rings.iter_mut().enumerate() {
            r.tick(now);
            let own = Heartbeat {
                quorate: true,
                view: 1,
                expected_votes: 3,
                ..Heartbeat::default()
            };
            let body = r.heartbeat(now, own);
            sent.push((i, r.seal(Kind::HEARTBEAT, &body)));
        }
        for (i, bytes) in &sent {
            for (j, r) in rings.iter_mut().enumerate() {
                if *i != j {
                    assert!(r.handle_datagram(now, 0, bytes).is_none());
                }
            }
        }
    }

    /// Goal: a forward jump of a node's clock, shorter than the stall
    /// threshold, neither shortens the vote it gave its DC (the DC's lease
    /// rests on it; seed 10536220447359988322 had two quorate DCs) nor ages
    /// what it heard from its peers. Method: three rings agree on n1; n3's
    /// clock then jumps 348 ms between two inputs; its vote and its
    /// peers' last-heard times move by the jump.
    #[test]
    fn a_clock_jump_does_not_shorten_the_vote() {
        let mut rings = three();
        let mut now = Instant::ZERO;
        for _ in 0..30 {
            now = now + Duration::from_millis(100);
            round(&mut rings, now);
        }
        let r3 = &mut rings[2];
        assert_eq!(r3.named, Some(1), "n3 names n1");
        let (dc, until) = r3.vote.expect("n3 voted for n1");
        assert_eq!(dc, 1);
        let heard = r3.last_heard(1).expect("n1 heard");
        // 100 ms of real time, shown as 448 ms by the jumped clock.
        let jumped = now + Duration::from_millis(448);
        r3.tick(jumped);
        let (_, later) = r3.vote.expect("still voted");
        assert_eq!(later, until + Duration::from_millis(348));
        assert_eq!(r3.last_heard(1), Some(heard + Duration::from_millis(348)));
        // Without a jump, an input one interval later shifts nothing.
        let (_, before) = r3.vote.expect("vote");
        r3.tick(jumped + Duration::from_millis(100));
        let (_, after) = r3.vote.expect("vote");
        assert!(after >= before, "a vote only moves forward");
        assert_eq!(r3.last_heard(1), Some(heard + Duration::from_millis(348)));
    }
}
