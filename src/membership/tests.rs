//! Scenario tests for the failure detector: a few `Membership`s joined by a
//! tiny in-memory network with virtual time.

use super::*;

const INTERVAL: Duration = Duration::from_millis(100);
const TIMEOUT: Duration = Duration::from_millis(1000);

/// Nodes 1..=n with `links` links each, plus who can reach whom.
struct Cluster {
    nodes: Vec<Membership>,
    now: Instant,
    /// (from, to, link) pairs that drop everything.
    cut: BTreeSet<(NodeId, NodeId, usize)>,
    /// Nodes that are paused (take no input, send nothing).
    paused: BTreeSet<NodeId>,
    events: BTreeMap<NodeId, Vec<MembershipEvent>>,
}

impl Cluster {
    fn new(n: u16, links: usize) -> Cluster {
        let ids: Vec<NodeId> = (1..=n).collect();
        let nodes = ids
            .iter()
            .map(|id| {
                Membership::new(*id, &ids, links, INTERVAL, TIMEOUT, Instant::ZERO)
                    .with_incarnation(1)
            })
            .collect();
        Cluster {
            nodes,
            now: Instant::ZERO,
            cut: BTreeSet::new(),
            paused: BTreeSet::new(),
            events: BTreeMap::new(),
        }
    }

    fn node(&self, id: NodeId) -> &Membership {
        &self.nodes[id as usize - 1]
    }

    fn cut_link(&mut self, a: NodeId, b: NodeId, link: usize) {
        self.cut.insert((a, b, link));
        self.cut.insert((b, a, link));
    }

    fn cut_one_way(&mut self, from: NodeId, to: NodeId) {
        for link in 0..self.nodes[0].links() {
            self.cut.insert((from, to, link));
        }
    }

    fn heal(&mut self) {
        self.cut.clear();
    }

    /// Advances virtual time in 10 ms steps, delivering heartbeats at once.
    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(10);
            let now = self.now;
            let mut sent = Vec::new();
            for m in self.nodes.iter_mut() {
                if self.paused.contains(&m.local()) {
                    continue;
                }
                if m.poll_timeout().is_some_and(|t| t <= now) {
                    m.handle_timeout(now);
                }
                if let Some(mut hb) = m.poll_heartbeat(now) {
                    hb.members = m.members();
                    sent.push((m.local(), m.incarnation(m.local()).unwrap(), hb));
                }
            }
            for (from, incarnation, hb) in sent {
                for m in self.nodes.iter_mut() {
                    let to = m.local();
                    if to == from || self.paused.contains(&to) {
                        continue;
                    }
                    for link in 0..m.links() {
                        if !self.cut.contains(&(from, to, link)) {
                            m.handle_heartbeat(now, link, from, incarnation, &hb);
                        }
                    }
                }
            }
            for m in self.nodes.iter_mut() {
                while let Some(e) = m.poll_event() {
                    self.events.entry(m.local()).or_default().push(e);
                }
            }
        }
    }

    fn take_events(&mut self, id: NodeId) -> Vec<MembershipEvent> {
        self.events.remove(&id).unwrap_or_default()
    }

    fn restart(&mut self, id: NodeId, incarnation: u64) {
        let ids: Vec<NodeId> = (1..=self.nodes.len() as u16).collect();
        let links = self.nodes[0].links();
        self.nodes[id as usize - 1] = Membership::new(id, &ids, links, INTERVAL, TIMEOUT, self.now)
            .with_incarnation(incarnation);
    }
}

fn set(ids: &[NodeId]) -> BTreeSet<NodeId> {
    ids.iter().copied().collect()
}

/// Goal: a cluster that can talk converges to everyone being a member
/// within a couple of intervals, and a heartbeat goes out every interval.
#[test]
fn connected_nodes_become_members_of_each_other() {
    let mut c = Cluster::new(3, 2);
    c.run_for(Duration::from_millis(250));
    for id in 1..=3 {
        assert_eq!(c.node(id).members(), set(&[1, 2, 3]), "node {id}");
        assert!(c.node(id).link_up(if id == 1 { 2 } else { 1 }, 1));
    }
    let events = c.take_events(1);
    assert!(events.contains(&MembershipEvent::PeerUp {
        node: 2,
        incarnation: 1
    }));
    assert!(events.contains(&MembershipEvent::LinkUp { node: 3, link: 1 }));
    assert_eq!(
        events.last(),
        Some(&MembershipEvent::MembersChanged {
            members: set(&[1, 2, 3])
        }),
        "membership settles after the ups: {events:?}"
    );
    let mut m = Membership::new(1, &[1, 2], 1, INTERVAL, TIMEOUT, Instant::ZERO);
    assert_eq!(m.poll_heartbeat(Instant::ZERO).map(|h| h.number), Some(1));
    assert_eq!(m.poll_heartbeat(Instant::from_millis(50)), None);
    assert_eq!(m.poll_timeout(), Some(Instant::from_millis(100)));
}

/// Goal: one dead link of two keeps the peer alive (and reports the link
/// down); silence on all links for `timeout` loses it, not earlier.
#[test]
fn peer_is_lost_only_when_silent_on_every_link_for_the_timeout() {
    let mut c = Cluster::new(2, 2);
    c.run_for(Duration::from_millis(300));
    c.take_events(1);
    c.cut_link(1, 2, 0);
    c.run_for(Duration::from_millis(1500));
    assert!(c.node(1).alive(2) && !c.node(1).link_up(2, 0) && c.node(1).link_up(2, 1));
    assert_eq!(
        c.take_events(1),
        vec![MembershipEvent::LinkDown { node: 2, link: 0 }]
    );
    c.cut_link(1, 2, 1);
    c.run_for(Duration::from_millis(900));
    assert!(c.node(1).alive(2), "silent for less than the timeout");
    c.run_for(Duration::from_millis(200));
    assert!(!c.node(1).alive(2));
    assert_eq!(c.node(1).members(), set(&[1]));
    let events = c.take_events(1);
    assert!(
        events.contains(&MembershipEvent::PeerLost { node: 2 }),
        "{events:?}"
    );
    c.heal();
    c.run_for(Duration::from_millis(300));
    assert_eq!(c.node(1).members(), set(&[1, 2]), "heals");
}

/// Goal: a one-way link (1 hears 2, 2 does not hear 1) makes neither a
/// member of the other: membership needs both directions.
#[test]
fn one_way_link_gives_no_membership() {
    let mut c = Cluster::new(3, 1);
    c.cut_one_way(1, 2);
    c.run_for(Duration::from_millis(500));
    assert!(c.node(1).alive(2), "1 hears 2");
    assert!(!c.node(2).alive(1), "2 does not hear 1");
    assert_eq!(c.node(1).members(), set(&[1, 3]));
    assert_eq!(c.node(2).members(), set(&[2, 3]));
    assert_eq!(
        c.node(3).members(),
        set(&[1, 2, 3]),
        "3 hears both ways with each"
    );
}

/// Goal: a peer that restarts faster than the timeout is reported as a
/// restart (old and new incarnation), so its old resources are known gone;
/// packets from the old incarnation arriving late are ignored.
#[test]
fn fast_restart_is_reported_as_restart_not_delay() {
    let mut c = Cluster::new(2, 1);
    c.run_for(Duration::from_millis(300));
    c.take_events(1);
    c.restart(2, 2);
    c.run_for(Duration::from_millis(300));
    let events = c.take_events(1);
    assert!(
        events.contains(&MembershipEvent::PeerRestarted {
            node: 2,
            old: 1,
            new: 2
        }),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, MembershipEvent::PeerLost { .. }))
    );
    assert_eq!(c.node(1).incarnation(2), Some(2));
    assert_eq!(c.node(1).members(), set(&[1, 2]));
    // A delayed heartbeat of the old incarnation changes nothing.
    let stale = Heartbeat {
        number: 999,
        ..Heartbeat::default()
    };
    let now = c.now;
    c.nodes[0].handle_heartbeat(now, 0, 2, 1, &stale);
    assert_eq!(c.node(1).members(), set(&[1, 2]), "old incarnation ignored");
}

/// Goal: after a restart, a peer's "I hear you" about our previous
/// incarnation does not count; only hearing the current one does.
#[test]
fn hearing_an_old_incarnation_of_us_does_not_count() {
    let mut m =
        Membership::new(1, &[1, 2], 1, INTERVAL, TIMEOUT, Instant::ZERO).with_incarnation(5);
    let about_old = Heartbeat {
        number: 1,
        hears: vec![Heard {
            node: 1,
            incarnation: 4,
            links: 1,
            acked: 0,
        }],
        ..Heartbeat::default()
    };
    m.handle_heartbeat(Instant::from_millis(10), 0, 2, 1, &about_old);
    assert!(m.alive(2) && m.members() == set(&[1]));
    let about_new = Heartbeat {
        number: 2,
        hears: vec![Heard {
            node: 1,
            incarnation: 5,
            links: 1,
            acked: 0,
        }],
        ..Heartbeat::default()
    };
    m.handle_heartbeat(Instant::from_millis(20), 0, 2, 1, &about_new);
    assert_eq!(m.members(), set(&[1, 2]));
    // An older heartbeat (reordered across links) does not undo it.
    m.handle_heartbeat(Instant::from_millis(30), 0, 2, 1, &about_old);
    assert_eq!(m.members(), set(&[1, 2]));
}

/// Goal: the local-health guard. A node paused for longer than the timeout
/// wakes up, does not declare its (healthy) peers lost, reports the pause,
/// and keeps them once their heartbeats arrive. Meanwhile the peers, which
/// really did not hear it, lost it.
#[test]
fn paused_node_listens_again_before_declaring_peers_lost() {
    let mut c = Cluster::new(3, 1);
    c.run_for(Duration::from_millis(300));
    c.take_events(1);
    c.paused.insert(1);
    c.run_for(Duration::from_secs(3));
    assert!(!c.node(2).alive(1), "peers lost the paused node");
    c.paused.clear();
    c.run_for(Duration::from_millis(10));
    let events = c.take_events(1);
    assert!(
        matches!(events.first(), Some(MembershipEvent::Paused { gap }) if gap.as_millis() >= 3000),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, MembershipEvent::PeerLost { .. })),
        "{events:?}"
    );
    c.run_for(Duration::from_millis(300));
    assert_eq!(c.node(1).members(), set(&[1, 2, 3]));
    assert!(
        !c.take_events(1)
            .iter()
            .any(|e| matches!(e, MembershipEvent::PeerLost { .. }))
    );
}

/// Goal: a paused node whose peers really died meanwhile still finds out,
/// one full timeout after waking.
#[test]
fn paused_node_still_loses_dead_peers_after_listening_a_full_timeout() {
    let mut c = Cluster::new(2, 1);
    c.run_for(Duration::from_millis(300));
    c.paused.insert(1);
    c.paused.insert(2);
    c.run_for(Duration::from_secs(2));
    c.paused.remove(&1);
    c.run_for(Duration::from_millis(900));
    assert!(c.node(1).alive(2), "listening again");
    c.run_for(Duration::from_millis(200));
    assert!(!c.node(1).alive(2), "lost after a full timeout of silence");
}

/// Goal: heartbeats from unknown nodes, ourselves or unknown links are
/// ignored rather than trusted or panicking.
#[test]
fn heartbeats_from_unknown_nodes_or_links_are_ignored() {
    let mut m = Membership::new(1, &[1, 2], 1, INTERVAL, TIMEOUT, Instant::ZERO);
    let hb = Heartbeat {
        number: 1,
        ..Heartbeat::default()
    };
    m.handle_heartbeat(Instant::from_millis(1), 0, 9, 1, &hb);
    m.handle_heartbeat(Instant::from_millis(1), 0, 1, 1, &hb);
    m.handle_heartbeat(Instant::from_millis(1), 5, 2, 1, &hb);
    assert!(!m.alive(2) && !m.alive(9));
    assert_eq!(m.poll_event(), None);
}

/// Goal: settings outside the supported range degrade instead of
/// panicking: more than 32 links are clamped (the `hears` bitmap holds 32),
/// a zero interval becomes 1 ms.
#[test]
fn out_of_range_settings_are_clamped_not_panicking() {
    let mut m = Membership::new(
        1,
        &[1, 2],
        40,
        Duration::ZERO,
        Duration::ZERO,
        Instant::ZERO,
    );
    assert_eq!(m.links(), 32);
    assert_eq!(m.interval(), Duration::from_millis(1));
    assert!(m.timeout() >= m.interval());
    assert!(m.poll_heartbeat(Instant::ZERO).is_some());
    assert!(
        m.poll_heartbeat(Instant::ZERO).is_none(),
        "not due again at once"
    );
    let hb = Heartbeat {
        number: 1,
        ..Heartbeat::default()
    };
    m.handle_heartbeat(Instant::ZERO, 35, 2, 1, &hb);
    assert!(!m.alive(2), "a link beyond the clamp is ignored");
}
