//! The node's view of who is there: sealing (`wire`), the failure
//! detector (`membership`) and the DC choice (`election`), composed behind
//! one small interface for `Node`.
//!
//! Inputs: datagrams and ticks with `now`. A datagram is opened here
//! (authenticated, replay protected; bad packets counted and dropped), then
//! membership takes it as a sign of life; heartbeats stay here, other
//! bodies go up to the node. A tick runs membership's stall guard, then the
//! DC choice on the members. Outputs: heartbeat bodies, member sets, the DC
//! this node follows and whether it may act as DC.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{Config, NodeId};
use crate::election::Election;
use crate::membership::{Membership, MembershipEvent, Packet};
use crate::time::Instant;
use crate::wire::{self, Heartbeat, Keys, Kind, Receiver, Sender};

/// Sealing, membership and DC choice for one node.
pub struct Ring {
    keys: Keys,
    sender: Sender,
    receiver: Receiver,
    local: NodeId,
    membership: Membership,
    election: Election,
}

impl Ring {
    pub fn new(config: &Config, local: NodeId, incarnation: u64, key: &[u8; 32]) -> Ring {
        let ids: Vec<NodeId> = config.nodes.iter().map(|n| n.id).collect();
        Ring {
            keys: Keys::new(key, &config.cluster.name),
            sender: Sender::new(local, incarnation),
            receiver: Receiver::new(local, &ids),
            local,
            membership: Membership::new(config, local, incarnation),
            election: Election::new(config, local, incarnation),
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
        let (header, body) = self.receiver.open(&self.keys, bytes).ok()?;
        match self.membership.handle_packet(now, link, &header, &body) {
            Packet::Body => Some((header, body)),
            Packet::Malformed => {
                self.receiver.count(wire::Drop::Malformed);
                None
            }
            Packet::Heartbeat | Packet::Unknown => None,
        }
    }

    /// Both halves take the excess of a gap between inputs as no time
    /// (see `Membership::absorb_gap`).
    fn absorb_gap(&mut self, now: Instant) {
        if let Some(excess) = self.membership.absorb_gap(now) {
            self.election.absorb_gap(excess);
        }
    }

    /// `node` told us, in an authenticated packet of `incarnation` with wire
    /// sequence `sequence`, that it left cleanly: it is no member from now
    /// on (see `Membership::peer_left`). Returns whether this is news (a
    /// leave of an older incarnation, or a repeat, changes nothing).
    pub fn peer_left(&mut self, node: NodeId, incarnation: u64, sequence: u64) -> bool {
        let Some(news) = self.membership.peer_left(node, incarnation, sequence) else {
            return false;
        };
        self.election.peer_left(node);
        news
    }

    /// Whether `node` left cleanly and has not been heard since.
    pub fn has_left(&self, node: NodeId) -> bool {
        self.membership.has_left(node)
    }

    /// The config hash in `node`'s latest heartbeat heard within the
    /// timeout (this node's own for `local`).
    pub fn config_hash(&self, node: NodeId, now: Instant, own: [u8; 32]) -> Option<[u8; 32]> {
        if node == self.local {
            return Some(own);
        }
        self.membership
            .fresh_heartbeat_of(node, now)
            .map(|hb| hb.config_hash)
    }

    /// Counts a body that opened but did not decode.
    pub fn count_malformed(&mut self) {
        self.receiver.count(wire::Drop::Malformed);
    }

    /// Called every tick: membership's stall guard, then the DC choice.
    /// Returns whether a stall of this node was detected.
    pub fn tick(&mut self, now: Instant) -> bool {
        self.absorb_gap(now);
        let stalled = self.membership.tick(now);
        self.election.tick(now, &self.membership);
        stalled
    }

    /// True while listening after a stall.
    pub fn listening(&self, now: Instant) -> bool {
        self.membership.listening(now)
    }

    /// Whether `node` is heard on `link` within the timeout.
    pub fn link_up(&self, node: NodeId, link: usize, now: Instant) -> bool {
        self.membership.link_up(node, link, now)
    }

    /// When `node` was last heard on any link, however long ago.
    pub fn last_heard(&self, node: NodeId) -> Option<Instant> {
        self.membership.last_heard(node)
    }

    /// The expected_votes in `node`'s latest heartbeat, if it gave one.
    pub fn expected_votes(&self, node: NodeId) -> Option<u32> {
        self.membership
            .heartbeat_of(node)
            .map(|(hb, _, _)| hb.expected_votes)
            .filter(|v| *v > 0)
    }

    /// The newest incarnation of `node` that a current member says it
    /// hears (in its latest heartbeat), if any does.
    pub fn heard_by_members(&self, node: NodeId, now: Instant) -> Option<u64> {
        self.membership
            .member_heartbeats(now)
            .flat_map(|(_, hb)| hb.hears.iter())
            .filter(|h| h.node == node)
            .map(|h| h.incarnation)
            .max()
    }

    /// Peers heard on some link within the timeout (members or not).
    pub fn heard(&self, now: Instant) -> BTreeSet<NodeId> {
        self.membership.heard(now)
    }

    /// The bidirectionally reachable set, the local node included.
    pub fn members(&self, now: Instant) -> BTreeSet<NodeId> {
        self.membership.members(now)
    }

    /// When the first current member would be lost (see
    /// `Membership::next_expiry`).
    pub fn next_expiry(&self, now: Instant) -> Option<Instant> {
        self.membership.next_expiry(now)
    }

    /// While acting: when a member's ack ages out of the DC lease (see
    /// `Election::next_lease_expiry`).
    pub fn next_lease_expiry(&self, now: Instant) -> Option<Instant> {
        self.election.next_lease_expiry(now, &self.membership)
    }

    /// The DC this node follows (itself while it names none).
    pub fn candidate(&self) -> NodeId {
        self.election.candidate()
    }

    /// Tells peers, from the next heartbeat on, whether this node acts as DC.
    pub fn set_acting(&mut self, acting: bool) {
        self.election.set_acting(acting);
    }

    /// Whether this node may act as DC (see `Election::acting_dc`).
    pub fn acting_dc(&self, now: Instant) -> bool {
        self.election.acting_dc(now, &self.membership)
    }

    /// The heartbeat body to send this round, on every link: the node's
    /// part (`own`: quorum, config hash, expected votes, reign and leases)
    /// completed with membership's and the DC choice. Every link carries
    /// these bytes (sealed apart), so one number per round.
    pub fn heartbeat(&mut self, now: Instant, mut own: Heartbeat) -> Vec<u8> {
        self.election
            .fill_heartbeat(now, &self.membership, &mut own);
        own.hears = self.membership.hears(now);
        own.encode()
    }

    /// The peer whose heartbeat the last `handle_datagram` took as its
    /// newest, once.
    pub fn take_fresh_heartbeat(&mut self) -> Option<NodeId> {
        self.membership.take_fresh_heartbeat()
    }

    /// A peer that restarted since the last call.
    pub fn take_restarted(&mut self) -> Option<NodeId> {
        let MembershipEvent::Restarted(n) = self.membership.events.pop_front()?;
        Some(n)
    }

    /// The DC this node's heartbeats last named, and until when that vote
    /// may count there.
    #[cfg(test)]
    pub fn vote(&self) -> Option<(NodeId, Instant)> {
        self.election.vote()
    }

    /// `node`'s newest heartbeat and its incarnation.
    pub fn heartbeat_of(&self, node: NodeId) -> Option<(&Heartbeat, u64)> {
        self.membership
            .heartbeat_of(node)
            .map(|(hb, _, inc)| (hb, inc))
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
    use crate::time::Duration;

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

    /// Three rings after 30 rounds 100 ms apart (all name n1), and the
    /// time of the last round.
    fn agreed_three() -> (Vec<Ring>, Instant) {
        let mut rings = three();
        let mut now = Instant::ZERO;
        for _ in 0..30 {
            now = now + Duration::from_millis(100);
            round(&mut rings, now);
        }
        (rings, now)
    }

    /// Goal: a forward jump of a node's clock, shorter than the stall
    /// threshold, neither shortens the vote it gave its DC (the DC's lease
    /// rests on it; seed 10536220447359988322 had two quorate DCs) nor ages
    /// what it heard from its peers. Method: three rings agree on n1; n3's
    /// clock then jumps 348 ms between two inputs 100 ms apart; its vote
    /// moves by the whole gap (more than two intervals: no late timer) and
    /// its peers' last-heard times by the jump.
    #[test]
    fn a_clock_jump_does_not_shorten_the_vote() {
        let (mut rings, now) = agreed_three();
        let r3 = &mut rings[2];
        assert_eq!(r3.election.named(), Some(1), "n3 names n1");
        let (dc, until) = r3.vote().expect("n3 voted for n1");
        assert_eq!(dc, 1);
        let heard = r3.last_heard(1).expect("n1 heard");
        // 100 ms of real time, shown as 448 ms by the jumped clock.
        let jumped = now + Duration::from_millis(448);
        r3.tick(jumped);
        let (_, later) = r3.vote().expect("still voted");
        assert_eq!(later, until + Duration::from_millis(448));
        assert_eq!(r3.last_heard(1), Some(heard + Duration::from_millis(348)));
        // Without a jump, an input one interval later shifts nothing.
        let (_, before) = r3.vote().expect("vote");
        r3.tick(jumped + Duration::from_millis(100));
        let (_, after) = r3.vote().expect("vote");
        assert!(after >= before, "a vote only moves forward");
        assert_eq!(r3.last_heard(1), Some(heard + Duration::from_millis(348)));
    }
    /// Goal: whatever its size, a clock jump that comes just after an
    /// input does not end a vote before the lease it gave the DC (seed
    /// 2030928757461717612: a 2.9 s jump 29 ms after an input took 71 ms
    /// off a vote, and the voter backed a second DC while the first still
    /// acted). Method: n3 names n1 and renews its vote on n1's heartbeat
    /// received at `now`, so n1's lease from that ack ends by `now + lease`
    /// in real time; 10 ms later n3's clock jumps by J; the vote, in n3's
    /// jumped clock, must last until at least `now + lease + J`.
    #[test]
    fn a_clock_jump_just_after_an_input_leaves_the_lease_covered() {
        let lease = Duration::from_millis(900);
        for jump in [60, 150, 190, 250, 2935] {
            let (mut rings, now) = agreed_three();
            let r3 = &mut rings[2];
            // Renew the vote on the heartbeat just received.
            r3.tick(now);
            r3.heartbeat(now, Heartbeat::default());
            let (dc, _) = r3.vote().expect("n3 voted");
            assert_eq!(dc, 1);
            let jumped = now + Duration::from_millis(10 + jump);
            r3.tick(jumped);
            let (_, until) = r3.vote().expect("still voted");
            let needed = now + lease + Duration::from_millis(jump);
            assert!(
                until >= needed,
                "jump of {jump} ms: vote until {until:?}, lease needs {needed:?}"
            );
        }
    }
}
