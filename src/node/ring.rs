//! The node's view of who is there: sealing, heartbeats, membership and the
//! DC choice, behind one small interface so `Node` does not care which
//! module implements each part.
//!
//! Packets are sealed and opened with `wire` (authenticated, replay
//! protected). Membership here is a plain heartbeat failure detector: a peer
//! is a member while it was heard on some link within `timeout` and its
//! latest heartbeat says it hears this node's current incarnation (so only
//! links that work both ways count). The DC candidate is the lowest member
//! id; a node acts as DC only when every member's latest heartbeat names it
//! too, which rules out two acting DCs whose member sets overlap (the case
//! of non-transitive partitions). Inputs: datagrams and ticks with `now`.
//! Outputs: heartbeat transmits, opened non-heartbeat bodies, member sets.

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
    /// After a stall of this node, it listens until then before acting.
    listen_until: Instant,
    pub events: VecDeque<RingEvent>,
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
            listen_until: Instant::ZERO,
            events: VecDeque::new(),
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
        let stalled = self
            .last_tick
            .is_some_and(|t| now.saturating_since(t) > self.timeout);
        self.last_tick = Some(now);
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
        stalled
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
            let heard = p.last_heard.iter().any(|t| self.fresh(*t, now));
            let hears_us = p.heartbeat.as_ref().is_some_and(|(hb, at)| {
                self.fresh(Some(*at), now)
                    && hb
                        .hears
                        .iter()
                        .any(|h| h.node == self.local && h.incarnation == self.incarnation)
            });
            if heard && hears_us {
                out.insert(*id);
            }
        }
        out
    }

    /// The DC this node follows: the lowest member id.
    pub fn candidate(&self, now: Instant) -> NodeId {
        self.members(now).into_iter().next().unwrap_or(self.local)
    }

    /// Whether this node may act as DC: it is the candidate, every member's
    /// latest heartbeat names it, and it is not listening after a stall.
    pub fn acting_dc(&self, now: Instant) -> bool {
        if self.listening(now) {
            return false;
        }
        let members = self.members(now);
        if members.iter().next() != Some(&self.local) {
            return false;
        }
        // A DC steps down two intervals before its peers can declare it
        // lost, so an old and a new DC never act at the same time.
        let margin = self
            .timeout
            .as_millis()
            .saturating_sub(2 * self.interval.as_millis());
        members.iter().filter(|n| **n != self.local).all(|n| {
            self.peers[n].heartbeat.as_ref().is_some_and(|(hb, at)| {
                hb.dc == Some(self.local) && now.saturating_since(*at).as_millis() < margin
            })
        })
    }

    /// The heartbeat to send this round.
    pub fn heartbeat(
        &mut self,
        now: Instant,
        quorate: bool,
        view: u64,
        config_hash: [u8; 32],
    ) -> Vec<u8> {
        self.number += 1;
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
                })
            })
            .collect();
        let hb = Heartbeat {
            number: self.number,
            hears,
            dc: members.iter().next().copied(),
            members: members.clone(),
            view,
            view_members: members,
            quorate,
            config_hash,
            ..Heartbeat::default()
        };
        let body = hb.encode();
        self.seal(Kind::HEARTBEAT, &body)
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
