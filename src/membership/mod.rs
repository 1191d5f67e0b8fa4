//! Membership: a heartbeat failure detector over several links.
//!
//! Decides which peers are alive (heard on at least one link within
//! `timeout`), which links to each peer work, which peers restarted, and
//! which peers are *members*: alive and reporting that they hear us (the
//! bidirectional set; a one-way link makes nobody a member).
//!
//! Inputs: decoded heartbeats (`handle_heartbeat`, with the link they came
//! in on and the sender's incarnation from the packet header) and timer
//! expiry (`handle_timeout`). Outputs: heartbeats to send
//! (`poll_heartbeat`), events (`poll_event`), the next deadline
//! (`poll_timeout`) and queries (`alive`, `link_up`, `members`). It never
//! does I/O or reads a clock; time is the `now` argument.
//!
//! Rules and why:
//! - A peer is lost when silent on every link for `timeout` (corosync's
//!   token timeout plays the same role). One working link keeps it alive.
//! - A higher incarnation from a live peer is a restart, not a delay:
//!   [`MembershipEvent::PeerRestarted`]. Its old resources are gone, so the
//!   node must treat it as lost then up. Lower incarnations are ignored.
//! - Local-health guard: if this node's own inputs stop for a long time
//!   (the process was paused or starved), silence from peers says nothing
//!   about them. Instead of declaring everyone dead on waking, every
//!   peer's last-heard times are reset to now, so each gets a full
//!   `timeout` to be heard again, and [`MembershipEvent::Paused`] tells the
//!   node (and election) that its knowledge is stale.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::config::NodeId;
use crate::time::{Duration, Instant};
use crate::wire::{Heard, Heartbeat};

/// Something membership noticed; drain with [`Membership::poll_event`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MembershipEvent {
    /// First heartbeat from a peer that was not alive.
    PeerUp { node: NodeId, incarnation: u64 },
    /// The peer was silent on every link for `timeout`.
    PeerLost { node: NodeId },
    /// A live peer now sends a higher incarnation: it restarted faster than
    /// the timeout. Treat as lost (its old resources are gone) then up.
    PeerRestarted { node: NodeId, old: u64, new: u64 },
    /// A link to a peer started working.
    LinkUp { node: NodeId, link: usize },
    /// A link to a peer was silent for `timeout`.
    LinkDown { node: NodeId, link: usize },
    /// This node's own inputs stopped for `gap` (paused, starved, suspended);
    /// peers' timers were reset instead of declaring them lost.
    Paused { gap: Duration },
    /// [`Membership::members`] changed; carries the new set.
    MembersChanged { members: BTreeSet<NodeId> },
}

#[derive(Clone, Debug)]
struct Peer {
    alive: bool,
    incarnation: Option<u64>,
    /// Per link: when last heard; `None` while the link is down.
    link_heard: Vec<Option<Instant>>,
    /// The highest heartbeat number taken into account in this incarnation.
    last_number: Option<u64>,
    /// The peer's latest heartbeat says it hears us (this incarnation).
    hears_us: bool,
    /// The peer's latest heartbeat (for election and status).
    report: Option<Heartbeat>,
}

impl Peer {
    fn new(links: usize) -> Peer {
        Peer {
            alive: false,
            incarnation: None,
            link_heard: vec![None; links],
            last_number: None,
            hears_us: false,
            report: None,
        }
    }
}

/// The failure detector of one node.
#[derive(Clone, Debug)]
pub struct Membership {
    local: NodeId,
    local_incarnation: Option<u64>,
    links: usize,
    interval: Duration,
    timeout: Duration,
    peers: BTreeMap<NodeId, Peer>,
    events: VecDeque<MembershipEvent>,
    next_heartbeat: Instant,
    heartbeat_number: u64,
    /// The latest `now` seen by any input, for the local-health guard.
    last_input: Instant,
    members: BTreeSet<NodeId>,
}

impl Membership {
    /// A detector for `local` among `nodes` (the local id may be included),
    /// over `links` links (1..=32; more are ignored), sending every
    /// `interval` (at least 1 ms), losing peers after `timeout` (at least
    /// `interval`). The first heartbeat is due at `now`.
    pub fn new(
        local: NodeId,
        nodes: &[NodeId],
        links: usize,
        interval: Duration,
        timeout: Duration,
        now: Instant,
    ) -> Membership {
        // Config validation should keep these in range; clamp rather than
        // panic so a config that slipped through degrades instead of
        // crashing: the `hears` bitmap has room for 32 links, and a zero
        // interval would make heartbeats due forever.
        let links = links.clamp(1, 32);
        let interval = interval.max(Duration::from_millis(1));
        let timeout = timeout.max(interval);
        let peers = nodes
            .iter()
            .filter(|n| **n != local)
            .map(|n| (*n, Peer::new(links)))
            .collect();
        Membership {
            local,
            local_incarnation: None,
            links,
            interval,
            timeout,
            peers,
            events: VecDeque::new(),
            next_heartbeat: now,
            heartbeat_number: 0,
            last_input: now,
            members: [local].into_iter().collect(),
        }
    }

    /// Sets this node's own incarnation, so a peer's "I hear you" about an
    /// earlier incarnation of us (from before our restart) does not make it
    /// a member. Without it, any incarnation is accepted.
    pub fn with_incarnation(mut self, incarnation: u64) -> Membership {
        self.local_incarnation = Some(incarnation);
        self
    }

    /// The gap between inputs beyond which this node assumes it was itself
    /// paused: half the timeout, but at least two intervals.
    pub fn pause_threshold(&self) -> Duration {
        Duration::from_millis(self.timeout.as_millis() / 2).max(self.interval.saturating_mul(2))
    }

    /// Runs the local-health guard: a long gap since the previous input
    /// means we, not our peers, were silent.
    fn observe(&mut self, now: Instant) {
        let gap = now.saturating_since(self.last_input);
        if now > self.last_input {
            self.last_input = now;
        }
        if gap > self.pause_threshold() {
            for peer in self.peers.values_mut() {
                for heard in peer.link_heard.iter_mut().flatten() {
                    *heard = now;
                }
            }
            self.events.push_back(MembershipEvent::Paused { gap });
            // Our own heartbeats are late too; send one right away.
            self.next_heartbeat = self.next_heartbeat.min(now);
        }
    }

    /// A heartbeat from `from`, received on `link`, sent by incarnation
    /// `incarnation` (from the authenticated packet header). Heartbeats
    /// from unknown nodes, ourselves, unknown links or older incarnations
    /// are ignored.
    pub fn handle_heartbeat(
        &mut self,
        now: Instant,
        link: usize,
        from: NodeId,
        incarnation: u64,
        hb: &Heartbeat,
    ) {
        self.observe(now);
        if link >= self.links {
            return;
        }
        let local = self.local;
        let local_incarnation = self.local_incarnation;
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        match peer.incarnation {
            Some(old) if incarnation < old => return,
            Some(old) if incarnation > old => {
                if peer.alive {
                    self.events.push_back(MembershipEvent::PeerRestarted {
                        node: from,
                        old,
                        new: incarnation,
                    });
                }
                // Forget what the old incarnation said, and which links it
                // used: the new one has to be heard on its own.
                *peer = Peer {
                    alive: peer.alive,
                    ..Peer::new(self.links)
                };
                peer.incarnation = Some(incarnation);
            }
            Some(_) => {}
            None => peer.incarnation = Some(incarnation),
        }
        if peer.link_heard[link].is_none() {
            self.events
                .push_back(MembershipEvent::LinkUp { node: from, link });
        }
        peer.link_heard[link] = Some(now);
        if !peer.alive {
            peer.alive = true;
            self.events.push_back(MembershipEvent::PeerUp {
                node: from,
                incarnation,
            });
        }
        // The same heartbeat arrives once per link, and links reorder: only
        // a newer one may change what we believe about the peer.
        if peer.last_number.is_none_or(|n| hb.number > n) {
            peer.last_number = Some(hb.number);
            peer.hears_us = hb
                .heard(local)
                .is_some_and(|h| local_incarnation.is_none_or(|i| i == h.incarnation));
            peer.report = Some(hb.clone());
        }
        self.update_members();
    }

    /// Expires links and peers whose silence reached `timeout`. An early
    /// call does nothing harmful.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.observe(now);
        for (node, peer) in self.peers.iter_mut() {
            for (link, heard) in peer.link_heard.iter_mut().enumerate() {
                if heard.is_some_and(|t| now.saturating_since(t) >= self.timeout) {
                    *heard = None;
                    self.events
                        .push_back(MembershipEvent::LinkDown { node: *node, link });
                }
            }
            if peer.alive && peer.link_heard.iter().all(Option::is_none) {
                peer.alive = false;
                peer.hears_us = false;
                peer.report = None;
                peer.last_number = None;
                self.events
                    .push_back(MembershipEvent::PeerLost { node: *node });
            }
        }
        self.update_members();
    }

    fn update_members(&mut self) {
        let members: BTreeSet<NodeId> = std::iter::once(self.local)
            .chain(
                self.peers
                    .iter()
                    .filter(|(_, p)| p.alive && p.hears_us)
                    .map(|(n, _)| *n),
            )
            .collect();
        if members != self.members {
            self.members = members.clone();
            self.events
                .push_back(MembershipEvent::MembersChanged { members });
        }
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<MembershipEvent> {
        self.events.pop_front()
    }

    /// The earliest instant at which `handle_timeout` or `poll_heartbeat`
    /// has work: the next heartbeat or the next link expiry.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiries = self
            .peers
            .values()
            .flat_map(|p| p.link_heard.iter().flatten().map(|t| *t + self.timeout));
        expiries.chain(std::iter::once(self.next_heartbeat)).min()
    }

    /// True when a heartbeat is due.
    pub fn should_send_heartbeat(&self, now: Instant) -> bool {
        now >= self.next_heartbeat
    }

    /// Records that a heartbeat was sent at `now`; the next is due one
    /// interval later.
    pub fn heartbeat_sent(&mut self, now: Instant) {
        self.next_heartbeat = now + self.interval;
    }

    /// If a heartbeat is due, the membership part of it (number, `hears`,
    /// `members`; election and the node fill the rest) and marks it sent.
    /// Send the same body on every link.
    pub fn poll_heartbeat(&mut self, now: Instant) -> Option<Heartbeat> {
        if !self.should_send_heartbeat(now) {
            return None;
        }
        self.heartbeat_sent(now);
        self.heartbeat_number += 1;
        Some(self.heartbeat_body())
    }

    /// What this node would say in a heartbeat now, without consuming a
    /// heartbeat number.
    pub fn heartbeat_body(&self) -> Heartbeat {
        let hears = self
            .peers
            .iter()
            .filter(|(_, p)| p.alive)
            .map(|(n, p)| Heard {
                node: *n,
                incarnation: p.incarnation.unwrap_or(0),
                links: p
                    .link_heard
                    .iter()
                    .enumerate()
                    .filter(|(_, h)| h.is_some())
                    .fold(0u32, |bits, (l, _)| bits | (1 << l)),
                acked: 0,
            })
            .collect();
        Heartbeat {
            number: self.heartbeat_number,
            hears,
            members: self.members.clone(),
            ..Heartbeat::default()
        }
    }

    /// We hear `node` on at least one link.
    pub fn alive(&self, node: NodeId) -> bool {
        node == self.local || self.peers.get(&node).is_some_and(|p| p.alive)
    }

    /// We heard `node` on `link` within the timeout.
    pub fn link_up(&self, node: NodeId, link: usize) -> bool {
        self.peers
            .get(&node)
            .and_then(|p| p.link_heard.get(link))
            .is_some_and(Option::is_some)
    }

    /// The local node plus every peer that is alive and hears us.
    pub fn members(&self) -> BTreeSet<NodeId> {
        self.members.clone()
    }

    /// The newest incarnation heard from `node`.
    pub fn incarnation(&self, node: NodeId) -> Option<u64> {
        if node == self.local {
            return self.local_incarnation;
        }
        self.peers.get(&node).and_then(|p| p.incarnation)
    }

    /// The latest heartbeat of a live peer.
    pub fn report(&self, node: NodeId) -> Option<&Heartbeat> {
        self.peers.get(&node).and_then(|p| p.report.as_ref())
    }

    /// When `node` was last heard on any link.
    pub fn last_heard(&self, node: NodeId) -> Option<Instant> {
        self.peers
            .get(&node)
            .and_then(|p| p.link_heard.iter().flatten().max().copied())
    }

    /// The local node id.
    pub fn local(&self) -> NodeId {
        self.local
    }

    /// Number of heartbeat links.
    pub fn links(&self) -> usize {
        self.links
    }

    /// The heartbeat interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The peer timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

#[cfg(test)]
mod tests;
