//! Membership: a heartbeat failure detector over several links.
//!
//! Decides, from authenticated packets and ticks, which peers are heard on
//! which links, which restarted, and which are *members*: heard on some
//! link within `timeout` and saying, in their latest heartbeat (also heard
//! within `timeout`), that they hear this node's current incarnation. That
//! is the bidirectional set: a one-way link makes nobody a member. No I/O,
//! no clock: time is the `now` argument; `node::ring` opens the packets and
//! feeds them here.
//!
//! Rules and why:
//! - A peer is lost when silent on every link for `timeout` (corosync's
//!   token timeout plays the same role). One working link keeps it.
//! - A higher incarnation is a restart, not a delay
//!   ([`MembershipEvent::Restarted`]): its per-link state starts over and
//!   its old heartbeat no longer counts. Lower incarnations never get here
//!   (the wire receiver drops them).
//! - A clean leave ([`Membership::peer_left`]) ends membership at once; only
//!   a heartbeat sealed after the leave brings the peer back, so late or
//!   reordered copies of older packets do not.
//! - Local-health guard: ticks come every `interval`. A gap between two
//!   inputs longer than that means this node was paused or starved, or its
//!   clock jumped; the excess counts as no time for what was heard
//!   ([`Membership::absorb_gap`]). A gap between ticks longer than the
//!   timeout is a stall: every peer gets a full timeout to be heard again
//!   and the node listens that long before it may act
//!   ([`Membership::tick`], [`Membership::listening`]). So a node that was
//!   itself paused does not declare everyone else dead on waking.

#[cfg(test)]
pub(crate) mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::{Config, NodeId};
use crate::time::{Duration, Instant};
use crate::wire::{Header, Heard, Heartbeat, Kind};

/// Something membership noticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MembershipEvent {
    /// A peer came back with a higher incarnation (it restarted).
    Restarted(NodeId),
}

/// What [`Membership::handle_packet`] made of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packet {
    /// A heartbeat, taken in (or ignored as older than the newest).
    Heartbeat,
    /// A heartbeat body that does not decode: count it as malformed.
    Malformed,
    /// Not a heartbeat: the body is for the node.
    Body,
    /// From a node that is not a peer of this cluster's config.
    Unknown,
}

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

/// The failure detector of one node.
pub struct Membership {
    local: NodeId,
    incarnation: u64,
    links: usize,
    interval: Duration,
    timeout: Duration,
    peers: BTreeMap<NodeId, Peer>,
    last_tick: Option<Instant>,
    /// The latest `tick` or `handle_packet` (see `absorb_gap`).
    last_input: Option<Instant>,
    /// After a stall of this node, it listens until then before acting.
    listen_until: Instant,
    pub events: VecDeque<MembershipEvent>,
    /// See `take_fresh_heartbeat`.
    fresh_heartbeat: Option<NodeId>,
}

impl Membership {
    pub fn new(config: &Config, local: NodeId, incarnation: u64) -> Membership {
        let links = config.heartbeat.links.len().max(1);
        Membership {
            local,
            incarnation,
            links,
            interval: config.heartbeat.interval,
            timeout: config.heartbeat.timeout,
            peers: config
                .nodes
                .iter()
                .filter(|n| n.id != local)
                .map(|n| (n.id, Peer::new(links)))
                .collect(),
            last_tick: None,
            last_input: None,
            listen_until: Instant::ZERO,
            events: VecDeque::new(),
            fresh_heartbeat: None,
        }
    }

    /// Takes in an opened packet that arrived on `link`: any packet is a
    /// sign of life on that link; a heartbeat body is kept as the peer's
    /// newest when it is.
    pub fn handle_packet(
        &mut self,
        now: Instant,
        link: usize,
        header: &Header,
        body: &[u8],
    ) -> Packet {
        self.fresh_heartbeat = None;
        let links = self.links;
        let Some(peer) = self.peers.get_mut(&header.sender) else {
            return Packet::Unknown;
        };
        if header.incarnation > peer.incarnation {
            if peer.incarnation != 0 {
                self.events
                    .push_back(MembershipEvent::Restarted(header.sender));
            }
            *peer = Peer {
                incarnation: header.incarnation,
                ..Peer::new(links)
            };
        }
        let heartbeat = header.kind == Kind::HEARTBEAT;
        if let Some(seq) = peer.left_at {
            let comes_back =
                heartbeat && header.incarnation == peer.incarnation && header.sequence > seq;
            if !comes_back {
                // Not evidence of life: a leave repeat or a packet older
                // than the leave. Bodies still go up (a repeated leave).
                return if heartbeat {
                    Packet::Heartbeat
                } else {
                    Packet::Body
                };
            }
            peer.left_at = None;
        }
        if let Some(at) = peer.last_heard.get_mut(link) {
            *at = Some(now);
        }
        if !heartbeat {
            return Packet::Body;
        }
        let Ok(hb) = Heartbeat::decode(body) else {
            return Packet::Malformed;
        };
        // Copies of one round on several links carry one number; keep
        // the newest only.
        if peer
            .heartbeat
            .as_ref()
            .is_none_or(|(old, _)| hb.number >= old.number)
        {
            peer.heartbeat = Some((hb, now));
            self.fresh_heartbeat = Some(header.sender);
        }
        Packet::Heartbeat
    }

    /// `node` told us, in an authenticated packet of `incarnation` with wire
    /// sequence `sequence`, that it left cleanly: it is no member from now
    /// on. None: not this incarnation, or not newer than a leave already
    /// taken. Some(news): taken; news is false for a repeat.
    pub fn peer_left(&mut self, node: NodeId, incarnation: u64, sequence: u64) -> Option<bool> {
        let links = self.links;
        let peer = self.peers.get_mut(&node)?;
        if incarnation != peer.incarnation || peer.left_at.is_some_and(|s| s >= sequence) {
            return None;
        }
        let news = peer.left_at.is_none();
        *peer = Peer {
            incarnation,
            left_at: Some(sequence),
            ..Peer::new(links)
        };
        Some(news)
    }

    /// Whether `node` left cleanly and has not been heard since.
    pub fn has_left(&self, node: NodeId) -> bool {
        self.peers.get(&node).is_some_and(|p| p.left_at.is_some())
    }

    /// Called every tick, after `absorb_gap`. Detects a stall of this node
    /// (its own ticks ran late by more than the timeout): then every peer
    /// gets one more timeout of grace, and the node listens that long
    /// before it may act, so a paused node neither declares everyone dead
    /// nor acts on a stale view. Returns whether a stall was detected.
    pub fn tick(&mut self, now: Instant) -> bool {
        let stalled = self
            .last_tick
            .is_some_and(|t| now.saturating_since(t) > self.timeout);
        self.last_tick = Some(now);
        if stalled {
            self.listen_until = now + self.timeout;
            self.shift_heard(|_| now);
        }
        stalled
    }

    /// Ticks come every interval, so a longer gap between two inputs means
    /// this node was paused, its timers ran late, or its clock jumped
    /// forward. Only the first two let real time pass, and the node cannot
    /// tell which; so the excess counts as no time for when it last heard
    /// each peer (and, in `election`, for the vote it gave a DC). A real
    /// pause costs at most the excess in later loss detection. Returns the
    /// excess, if any.
    pub fn absorb_gap(&mut self, now: Instant) -> Option<Duration> {
        let last = self
            .last_input
            .replace(now.max(self.last_input.unwrap_or(now)))?;
        let gap = now.saturating_since(last).as_millis();
        let excess = gap
            .checked_sub(self.interval.as_millis())
            .filter(|e| *e > 0)
            .map(Duration::from_millis)?;
        self.shift_heard(|t| (t + excess).min(now));
        Some(excess)
    }

    /// Moves every last-heard time (per link and of the newest heartbeat).
    fn shift_heard(&mut self, f: impl Fn(Instant) -> Instant) {
        for p in self.peers.values_mut() {
            for l in p.last_heard.iter_mut().flatten() {
                *l = f(*l);
            }
            if let Some((_, at)) = p.heartbeat.as_mut() {
                *at = f(*at);
            }
        }
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
        out.extend(self.member_heartbeats(now).map(|(n, _)| n));
        out
    }

    /// The peers that are members now, with their latest heartbeat.
    pub fn member_heartbeats(&self, now: Instant) -> impl Iterator<Item = (NodeId, &Heartbeat)> {
        self.peers
            .iter()
            .filter(move |(_, p)| self.is_member(p, now))
            .filter_map(|(n, p)| p.heartbeat.as_ref().map(|(hb, _)| (*n, hb)))
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
            .values()
            .filter(|p| self.is_member(p, now))
            .filter_map(|p| {
                let heard = p.last_heard.iter().flatten().max()?;
                let (_, at) = p.heartbeat.as_ref()?;
                Some((*heard).min(*at) + self.timeout)
            })
            .min()
    }

    /// Whom this node hears, for its next heartbeat: per peer heard on some
    /// link within the timeout, its incarnation, the links, and the newest
    /// heartbeat number received from it (the ack `election` relies on).
    pub fn hears(&self, now: Instant) -> Vec<Heard> {
        self.peers
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
            .collect()
    }

    /// The peer whose heartbeat the last `handle_packet` took as its
    /// newest, once.
    pub fn take_fresh_heartbeat(&mut self) -> Option<NodeId> {
        self.fresh_heartbeat.take()
    }

    /// `node`'s newest heartbeat, when it arrived, and `node`'s incarnation.
    pub fn heartbeat_of(&self, node: NodeId) -> Option<(&Heartbeat, Instant, u64)> {
        let p = self.peers.get(&node)?;
        p.heartbeat
            .as_ref()
            .map(|(hb, at)| (hb, *at, p.incarnation))
    }

    /// `node`'s newest heartbeat if it arrived within the timeout.
    pub fn fresh_heartbeat_of(&self, node: NodeId, now: Instant) -> Option<&Heartbeat> {
        let (hb, at, _) = self.heartbeat_of(node)?;
        self.fresh(Some(at), now).then_some(hb)
    }
}

impl Peer {
    fn new(links: usize) -> Peer {
        Peer {
            last_heard: vec![None; links],
            ..Peer::default()
        }
    }
}
