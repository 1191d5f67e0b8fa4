//! Scenario tests for the failure detector, and the small in-memory network
//! that `election`'s tests share: nodes exchange real heartbeat bodies once
//! per round, with virtual time and cuttable links.

use super::*;
use crate::election::Election;
use crate::time::Duration;
use crate::wire::Header;

pub const INTERVAL: Duration = Duration::from_millis(100);
pub const TIMEOUT: Duration = Duration::from_millis(1000);

/// Nodes 1..=n, each with its membership and election.
pub struct Net {
    pub members: Vec<Membership>,
    pub elections: Vec<Election>,
    pub incarnations: Vec<u64>,
    pub now: Instant,
    /// (from, to, link) that drop everything.
    pub cut: BTreeSet<(NodeId, NodeId, usize)>,
    /// Nodes that neither tick nor send nor hear (paused or dead).
    pub stopped: BTreeSet<NodeId>,
    sequence: u64,
}

/// Config text for `n` nodes on `links` links, with extra `[quorum]` lines.
pub fn config(n: u16, links: usize, quorum: &str) -> Config {
    let mut t = format!(
        "[cluster]\nname = \"t\"\nkey_file = \"/k\"\n[heartbeat]\ninterval = \"{}ms\"\ntimeout = \"{}ms\"\n",
        INTERVAL.as_millis(),
        TIMEOUT.as_millis()
    );
    for l in 0..links {
        t += &format!("[[heartbeat.link]]\nnetwork = \"10.{l}.0.0/16\"\n");
    }
    t += &format!("[quorum]\n{quorum}\n");
    for i in 1..=n {
        let addrs: Vec<String> = (0..links).map(|l| format!("\"10.{l}.0.{i}\"")).collect();
        t += &format!(
            "[[node]]\nname = \"n{i}\"\nid = {i}\naddrs = [{}]\n",
            addrs.join(", ")
        );
    }
    crate::sim::random::parse(&t)
}

impl Net {
    pub fn new(config: &Config) -> Net {
        let ids: Vec<NodeId> = config.nodes.iter().map(|n| n.id).collect();
        Net {
            members: ids.iter().map(|i| Membership::new(config, *i, 1)).collect(),
            elections: ids.iter().map(|i| Election::new(config, *i, 1)).collect(),
            incarnations: vec![1; ids.len()],
            now: Instant::ZERO,
            cut: BTreeSet::new(),
            stopped: BTreeSet::new(),
            sequence: 0,
        }
    }

    pub fn m(&self, id: NodeId) -> &Membership {
        &self.members[id as usize - 1]
    }

    pub fn e(&self, id: NodeId) -> &Election {
        &self.elections[id as usize - 1]
    }

    fn ids(&self) -> Vec<NodeId> {
        (1..=self.members.len() as NodeId).collect()
    }

    /// Restarts `id` with a higher incarnation and fresh state.
    pub fn restart(&mut self, config: &Config, id: NodeId) {
        let i = id as usize - 1;
        self.incarnations[i] += 1;
        self.members[i] = Membership::new(config, id, self.incarnations[i]);
        self.elections[i] = Election::new(config, id, self.incarnations[i]);
    }

    /// `n` rounds, one interval apart: every running node ticks, then each
    /// one's heartbeat reaches every running peer over the links not cut.
    pub fn rounds(&mut self, n: usize) {
        for _ in 0..n {
            self.now = self.now + INTERVAL;
            let now = self.now;
            let mut sent = Vec::new();
            for id in self.ids() {
                if self.stopped.contains(&id) {
                    continue;
                }
                let i = id as usize - 1;
                let (m, e) = (&mut self.members[i], &mut self.elections[i]);
                if let Some(excess) = m.absorb_gap(now) {
                    e.absorb_gap(excess);
                }
                m.tick(now);
                e.tick(now, m);
                let mut hb = Heartbeat::default();
                e.fill_heartbeat(now, m, &mut hb);
                hb.hears = m.hears(now);
                sent.push((id, hb.encode()));
            }
            for (from, body) in sent {
                self.deliver(from, &body, Kind::HEARTBEAT);
            }
        }
    }

    /// Hands `body` from `from` to every running peer, once per open link.
    pub fn deliver(&mut self, from: NodeId, body: &[u8], kind: Kind) -> Vec<Packet> {
        self.sequence += 1;
        let header = Header {
            kind,
            sender: from,
            incarnation: self.incarnations[from as usize - 1],
            sequence: self.sequence,
        };
        let mut out = Vec::new();
        for to in self.ids() {
            if to == from || self.stopped.contains(&to) {
                continue;
            }
            let links = self.m(to).links;
            for link in 0..links {
                if !self.cut.contains(&(from, to, link)) {
                    let now = self.now;
                    out.push(self.members[to as usize - 1].handle_packet(now, link, &header, body));
                }
            }
        }
        out
    }

    pub fn members_of(&self, id: NodeId) -> BTreeSet<NodeId> {
        self.m(id).members(self.now)
    }

    pub fn cut_both_ways(&mut self, a: NodeId, b: NodeId, link: usize) {
        self.cut.insert((a, b, link));
        self.cut.insert((b, a, link));
    }
}

fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
    ids.iter().copied().collect()
}

/// Goal: nodes that hear each other become members of each other.
#[test]
fn connected_nodes_become_members_of_each_other() {
    let mut net = Net::new(&config(3, 1, ""));
    net.rounds(3);
    for id in 1..=3 {
        assert_eq!(net.members_of(id), set(&[1, 2, 3]), "n{id}");
    }
}

/// Goal: one working link keeps a peer; it is lost only when silent on
/// every link for the timeout, and not an interval before.
#[test]
fn peer_is_lost_only_when_silent_on_every_link_for_the_timeout() {
    let mut net = Net::new(&config(2, 2, "two_node = true"));
    net.rounds(3);
    net.cut_both_ways(1, 2, 0);
    net.rounds(20);
    assert_eq!(net.members_of(1), set(&[1, 2]), "link 1 still works");
    assert!(!net.m(1).link_up(2, 0, net.now), "link 0 is down");
    assert!(net.m(1).link_up(2, 1, net.now));
    net.cut_both_ways(1, 2, 1);
    let silent_from = net.now;
    let expiry = net.m(1).next_expiry(net.now).expect("n2 is a member");
    assert_eq!(expiry, silent_from + TIMEOUT);
    net.rounds(9);
    assert_eq!(net.members_of(1), set(&[1, 2]), "9 intervals: not yet");
    net.rounds(1);
    assert_eq!(net.members_of(1), set(&[1]), "lost at the timeout");
}

/// Goal: a one-way link makes nobody a member: n2 hears n1, but n1's
/// heartbeats do not say it hears n2.
#[test]
fn one_way_link_gives_no_membership() {
    let mut net = Net::new(&config(2, 1, "two_node = true"));
    net.cut.insert((2, 1, 0));
    net.rounds(10);
    assert_eq!(net.m(2).heard(net.now), set(&[1]), "n2 hears n1");
    assert_eq!(net.members_of(2), set(&[2]));
    assert_eq!(net.members_of(1), set(&[1]));
}

/// Goal: a peer restarting faster than the timeout is a restart, not a
/// delay: an event, and its old heartbeat (which heard us) no longer counts
/// until the new incarnation hears us too.
#[test]
fn fast_restart_is_reported_as_restart_not_delay() {
    let c = config(3, 1, "");
    let mut net = Net::new(&c);
    net.rounds(5);
    net.restart(&c, 3);
    // n3's first heartbeat after the restart hears nobody yet.
    net.rounds(1);
    assert_eq!(
        net.m(1).events.front(),
        Some(&MembershipEvent::Restarted(3))
    );
    assert!(
        !net.members_of(1).contains(&3),
        "new n3 does not hear n1 yet"
    );
    net.rounds(2);
    assert!(net.members_of(1).contains(&3), "rejoined");
    assert_eq!(net.m(1).heartbeat_of(3).map(|(_, _, inc)| inc), Some(2));
}

/// Goal: a peer that still hears our old incarnation (we restarted) does
/// not count as hearing us.
#[test]
fn hearing_an_old_incarnation_of_us_does_not_count() {
    let c = config(2, 1, "two_node = true");
    let mut net = Net::new(&c);
    net.rounds(5);
    net.restart(&c, 1);
    // n2 does not hear the new n1; n1 hears n2's heartbeat, which still
    // names n1's first incarnation.
    net.cut.insert((1, 2, 0));
    net.rounds(1);
    let (hb, _, _) = net.m(1).heartbeat_of(2).expect("heard n2");
    assert_eq!(hb.heard(1).map(|h| h.incarnation), Some(1));
    assert_eq!(net.members_of(1), set(&[1]));
}

/// Goal: a node whose own ticks stopped for longer than the timeout does
/// not declare its peers lost on waking; it listens one timeout first
/// (and may not act meanwhile), and peers it still hears stay members.
#[test]
fn stalled_node_listens_again_before_declaring_peers_lost() {
    let mut net = Net::new(&config(3, 1, ""));
    net.rounds(5);
    // n1 is stalled for 3 s; the others keep going but n1 hears nothing.
    net.stopped.insert(1);
    net.rounds(30);
    net.stopped.remove(&1);
    let now = net.now + INTERVAL;
    assert!(net.members[0].tick(now), "a stall is detected");
    assert!(net.m(1).listening(now));
    assert_eq!(
        net.m(1).members(now),
        set(&[1, 2, 3]),
        "no one declared lost"
    );
    assert!(!net.m(1).listening(now + TIMEOUT));
}

/// Goal: a stalled node still loses peers that are really gone, one
/// timeout after it woke.
#[test]
fn stalled_node_still_loses_dead_peers_after_a_full_timeout() {
    let mut net = Net::new(&config(3, 1, ""));
    net.rounds(5);
    net.stopped.insert(1);
    net.stopped.insert(3);
    net.rounds(30);
    net.stopped.remove(&1);
    net.rounds(1);
    assert!(net.members_of(1).contains(&3), "grace after the stall");
    net.rounds(10);
    assert_eq!(net.members_of(1), set(&[1, 2]), "n3 is gone");
}

/// Goal: a clean leave ends membership at once; a heartbeat sealed before
/// the leave (late copy) does not bring the peer back, a later one does.
#[test]
fn a_leave_ends_membership_until_a_newer_heartbeat() {
    let mut net = Net::new(&config(3, 1, ""));
    net.rounds(5);
    let (old, _, _) = net.m(1).heartbeat_of(3).expect("heard n3");
    let old = old.encode();
    let header = |sequence| Header {
        kind: Kind::HEARTBEAT,
        sender: 3,
        incarnation: 1,
        sequence,
    };
    let m1 = &mut net.members[0];
    assert_eq!(m1.peer_left(3, 1, 1000), Some(true));
    assert_eq!(m1.peer_left(3, 1, 1000), None, "not newer: ignored");
    assert_eq!(m1.peer_left(3, 2, 2000), None, "another incarnation");
    assert!(m1.has_left(3));
    let now = net.now;
    assert!(!m1.members(now).contains(&3));
    m1.handle_packet(now, 0, &header(999), &old);
    assert!(m1.has_left(3), "an older heartbeat is no sign of life");
    m1.handle_packet(now, 0, &header(1001), &old);
    assert!(!m1.has_left(3));
    assert!(m1.members(now).contains(&3));
}

/// Goal: packets from unknown nodes and heartbeats that do not decode are
/// told apart for the drop counters; neither changes anything.
#[test]
fn unknown_senders_and_bad_heartbeats_are_flagged() {
    let mut net = Net::new(&config(2, 1, "two_node = true"));
    let out = net.deliver(1, &[1, 2, 3], Kind::HEARTBEAT);
    assert_eq!(out, vec![Packet::Malformed]);
    assert!(net.m(2).heartbeat_of(1).is_none());
    let header = Header {
        kind: Kind::HEARTBEAT,
        sender: 9,
        incarnation: 1,
        sequence: 1,
    };
    let p = net.members[0].handle_packet(net.now, 0, &header, &[]);
    assert_eq!(p, Packet::Unknown);
    // A body of another kind is passed up and counts as a sign of life.
    let out = net.deliver(1, b"request", Kind::REQUEST);
    assert_eq!(out, vec![Packet::Body]);
    assert!(net.m(2).link_up(1, 0, net.now));
}
