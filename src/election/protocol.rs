//! `Protocol`: wire, membership, election and quorum composed, for one node.
//!
//! Decides everything about "who is there": opens and seals packets,
//! consumes heartbeats, sends its own, and keeps membership, the view, the
//! DC and quorum consistent with each other. Inputs: datagrams
//! (`handle_datagram`) and timer expiry (`handle_timeout`). Outputs:
//! heartbeat datagrams for every link (`poll_transmit`), events
//! (`poll_event`), the next deadline (`poll_timeout`), non-heartbeat
//! bodies (returned by `handle_datagram`) and queries. No I/O.
//!
//! The composition is the one docs/protocol.md describes, in this order
//! after every input:
//! 1. membership events: a local pause goes to `Election::handle_pause`, a
//!    peer restart to `Election::forget`;
//! 2. `Election::update(membership.members())`;
//! 3. `Votequorum::update(election.quorum_members())` (quorum is counted
//!    on the election's member set, not raw membership: that is what makes
//!    a node left out by a non-transitive partition lose quorum);
//! 4. the node may act as DC iff [`Protocol::acting_dc`].
//!
//! `Node` can use this type instead of driving the four machines itself.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use super::{Election, ElectionEvent, View};
use crate::config::{Config, NodeId};
use crate::membership::{Membership, MembershipEvent};
use crate::quorum::{QuorumState, Votequorum};
use crate::time::Instant;
use crate::wire::{self, Header, Heartbeat, Keys, Kind, Receiver, Sender};

/// Something the protocol noticed, for logs, `ha status` and the node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtocolEvent {
    Membership(MembershipEvent),
    Election(ElectionEvent),
    /// The quorum state changed (any field).
    Quorum(QuorumState),
}

/// A heartbeat datagram to send on `link` to every node (multicast group or
/// each node's address on that link).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeartbeatTransmit {
    pub link: usize,
    pub bytes: Vec<u8>,
}

/// Wire + membership + election + quorum for one node.
#[derive(Clone, Debug)]
pub struct Protocol {
    keys: Keys,
    sender: Sender,
    receiver: Receiver,
    membership: Membership,
    election: Election,
    quorum: Votequorum,
    state: QuorumState,
    config_hash: [u8; 32],
    events: VecDeque<ProtocolEvent>,
    transmits: VecDeque<HeartbeatTransmit>,
}

impl Protocol {
    /// `incarnation`: this boot's counter (persisted, higher than any
    /// before); `view_number`: the last persisted view number; `key`: the
    /// key file's 32 bytes.
    pub fn new(
        config: &Config,
        local: NodeId,
        incarnation: u64,
        view_number: u64,
        key: &[u8; 32],
        now: Instant,
    ) -> Protocol {
        let ids: Vec<NodeId> = config.nodes.iter().map(|n| n.id).collect();
        let links = config.heartbeat.links.len().max(1);
        let timeout = config.heartbeat.timeout;
        let membership =
            Membership::new(local, &ids, links, config.heartbeat.interval, timeout, now)
                .with_incarnation(incarnation);
        let quorum = Votequorum::from_config(config);
        let mut p = Protocol {
            keys: Keys::new(key, &config.cluster.name),
            sender: Sender::new(local, incarnation),
            receiver: Receiver::new(local, &ids),
            membership,
            election: Election::new(local, timeout, view_number),
            state: quorum.state(),
            quorum,
            config_hash: config.hash,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
        };
        p.settle(now);
        p
    }

    /// Opens a datagram that arrived on `link`. Heartbeats are consumed;
    /// any other authentic packet is returned for the node to decode (if
    /// that fails, call [`Protocol::count_malformed`]). Bad packets are
    /// counted and dropped.
    pub fn handle_datagram(
        &mut self,
        now: Instant,
        link: usize,
        bytes: &[u8],
    ) -> Option<(Header, Vec<u8>)> {
        let (header, body) = self.receiver.open(&self.keys, bytes).ok()?;
        if header.kind != Kind::HEARTBEAT {
            // Any authentic packet is also a sign of life on this link, but
            // only heartbeats carry what membership needs; the next
            // heartbeat follows within an interval.
            self.settle(now);
            return Some((header, body));
        }
        match Heartbeat::decode(&body) {
            Ok(hb) => {
                self.membership
                    .handle_heartbeat(now, link, header.sender, header.incarnation, &hb);
                self.election
                    .handle_heartbeat(now, header.sender, header.incarnation, &hb);
            }
            Err(_) => self.receiver.count(wire::Drop::Malformed),
        }
        self.settle(now);
        None
    }

    /// Runs whatever timers are due and queues a heartbeat when one is due.
    /// An early call does nothing harmful.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.membership.poll_timeout().is_some_and(|t| t <= now) {
            self.membership.handle_timeout(now);
        }
        if self.election.poll_timeout().is_some_and(|t| t <= now) {
            self.election.handle_timeout(now);
        }
        if self.quorum.poll_timeout().is_some_and(|t| t <= now) {
            self.quorum.handle_timeout(now);
        }
        self.settle(now);
        if let Some(mut hb) = self.membership.poll_heartbeat(now) {
            self.election.fill_heartbeat(&mut hb);
            hb.quorate = self.state.quorate;
            hb.config_hash = self.config_hash;
            let body = hb.encode();
            for link in 0..self.membership.links() {
                let bytes = self.sender.seal(&self.keys, Kind::HEARTBEAT, &body);
                self.transmits.push_back(HeartbeatTransmit { link, bytes });
            }
        }
    }

    /// Routes membership events, then membership -> election -> quorum.
    fn settle(&mut self, now: Instant) {
        while let Some(e) = self.membership.poll_event() {
            match &e {
                MembershipEvent::Paused { .. } => self.election.handle_pause(now),
                MembershipEvent::PeerRestarted { node, .. } => self.election.forget(now, *node),
                _ => {}
            }
            self.events.push_back(ProtocolEvent::Membership(e));
        }
        self.election.update(now, &self.membership.members());
        while let Some(e) = self.election.poll_event() {
            self.events.push_back(ProtocolEvent::Election(e));
        }
        let state = self.quorum.update(now, &self.election.quorum_members());
        if state != self.state {
            self.state = state;
            self.events.push_back(ProtocolEvent::Quorum(state));
        }
    }

    /// The next heartbeat datagram to send.
    pub fn poll_transmit(&mut self) -> Option<HeartbeatTransmit> {
        self.transmits.pop_front()
    }

    /// The next event, oldest first.
    pub fn poll_event(&mut self) -> Option<ProtocolEvent> {
        self.events.pop_front()
    }

    /// The earliest deadline of any of the machines.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.membership.poll_timeout(),
            self.election.poll_timeout(),
            self.quorum.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Seals a non-heartbeat body as the next packet of this incarnation.
    pub fn seal(&mut self, kind: Kind, body: &[u8]) -> Vec<u8> {
        self.sender.seal(&self.keys, kind, body)
    }

    /// Counts a returned body that did not decode.
    pub fn count_malformed(&mut self) {
        self.receiver.count(wire::Drop::Malformed);
    }

    /// This node may act as DC now: DC of a settled view, and quorate.
    pub fn acting_dc(&self) -> bool {
        self.election.is_dc() && self.state.quorate
    }

    /// The DC of the settled view (None during a view change).
    pub fn dc(&self) -> Option<NodeId> {
        self.election.dc()
    }

    /// The installed view (persist `view().number`).
    pub fn view(&self) -> &View {
        self.election.view()
    }

    /// The current quorum state.
    pub fn quorum(&self) -> QuorumState {
        self.state
    }

    /// Bidirectionally reachable nodes, the local one included.
    pub fn members(&self) -> BTreeSet<NodeId> {
        self.membership.members()
    }

    /// The nodes quorum counts (see [`Election::quorum_members`]).
    pub fn quorum_members(&self) -> BTreeSet<NodeId> {
        self.election.quorum_members()
    }

    /// We hear `node` on some link.
    pub fn alive(&self, node: NodeId) -> bool {
        self.membership.alive(node)
    }

    /// We hear `node` on `link`.
    pub fn link_up(&self, node: NodeId, link: usize) -> bool {
        self.membership.link_up(node, link)
    }

    /// A live peer's latest heartbeat (its config hash, its view, its DC).
    pub fn report(&self, node: NodeId) -> Option<&Heartbeat> {
        self.membership.report(node)
    }

    /// Drop counters by name (`bad_tag`, `replay`, ...).
    pub fn drops(&self) -> BTreeMap<String, u64> {
        self.receiver
            .drop_counts()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), *v))
            .collect()
    }

    /// The membership machine, for status queries.
    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    /// The election machine, for status queries.
    pub fn election(&self) -> &Election {
        &self.election
    }

    /// The quorum machine, for status queries.
    pub fn votequorum(&self) -> &Votequorum {
        &self.quorum
    }
}
