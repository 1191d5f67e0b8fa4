//! The protocol half composed end to end through [`Protocol`] (wire ->
//! membership -> election -> quorum) over a small simulated network with
//! delay, loss, partitions, pauses and restarts. The tests pin down timing
//! (failover, start-up) and check "at most one DC of a quorate view" after
//! every 10 ms step.

use std::collections::BTreeSet;

use super::protocol::Protocol;
use super::*;
use crate::config;
use crate::rng::Rng;
use crate::wire::Kind;

const TIMEOUT: Duration = Duration::from_millis(1000);
const STEP: Duration = Duration::from_millis(10);

/// A config with `n` nodes on two links, the default timers, and `quorum`
/// lines added to `[quorum]`.
fn config(n: u16, quorum: &str) -> config::Config {
    let mut text = String::from(
        "[cluster]\nname = \"stack\"\nkey_file = \"/etc/ha.key\"\n\n[[heartbeat.link]]\n[[heartbeat.link]]\n\n[quorum]\n",
    );
    text.push_str(quorum);
    for id in 1..=n {
        text.push_str(&format!(
            "\n[[node]]\nname = \"n{id}\"\nid = {id}\naddrs = [\"10.1.0.{id}\", \"10.2.0.{id}\"]\n"
        ));
    }
    match config::parse(&text, "stack.toml") {
        Ok(loaded) => loaded.config,
        Err(errors) => panic!("test config rejected: {errors:?}"),
    }
}

struct Stack {
    id: NodeId,
    protocol: Protocol,
    /// Paused: takes no input; packets for it wait in its socket buffer.
    paused: bool,
    /// Crashed: takes no input; packets for it are lost.
    down: bool,
}

impl Stack {
    fn new(
        config: &config::Config,
        id: NodeId,
        incarnation: u64,
        view_number: u64,
        now: Instant,
    ) -> Stack {
        let protocol = Protocol::new(config, id, incarnation, view_number, &[3u8; 32], now);
        Stack {
            id,
            protocol,
            paused: false,
            down: false,
        }
    }

    fn acting_dc(&self) -> bool {
        !self.paused && !self.down && self.protocol.acting_dc()
    }
}

struct Lab {
    config: config::Config,
    ids: Vec<NodeId>,
    nodes: Vec<Stack>,
    now: Instant,
    rng: Rng,
    /// (deliver at, to, link, bytes)
    in_flight: Vec<(Instant, NodeId, usize, Vec<u8>)>,
    /// Directed (from, to) pairs that drop everything.
    cut: BTreeSet<(NodeId, NodeId)>,
    loss: f64,
    max_delay_ms: u64,
    incarnations: Vec<u64>,
    /// Assert at most one acting DC after every step (off for two_node,
    /// where both halves of a split are quorate by design).
    single_dc: bool,
}

impl Lab {
    fn new(n: u16, seed: u64) -> Lab {
        Lab::with_quorum(n, seed, "")
    }

    fn with_quorum(n: u16, seed: u64, quorum: &str) -> Lab {
        let config = config(n, quorum);
        let ids: Vec<NodeId> = (1..=n).collect();
        let nodes = ids
            .iter()
            .map(|id| Stack::new(&config, *id, 1, 0, Instant::ZERO))
            .collect();
        Lab {
            config,
            ids,
            nodes,
            now: Instant::ZERO,
            rng: Rng::new(seed),
            in_flight: Vec::new(),
            cut: BTreeSet::new(),
            loss: 0.0,
            max_delay_ms: 2,
            incarnations: vec![1; n as usize],
            single_dc: true,
        }
    }

    fn node(&self, id: NodeId) -> &Stack {
        &self.nodes[id as usize - 1]
    }

    fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        for x in a {
            for y in b {
                self.cut.insert((*x, *y));
                self.cut.insert((*y, *x));
            }
        }
    }

    fn step(&mut self) {
        self.now += STEP;
        let now = self.now;
        let mut out = Vec::new();
        for node in self.nodes.iter_mut().filter(|n| !n.paused && !n.down) {
            if node.protocol.poll_timeout().is_some_and(|t| t <= now) {
                node.protocol.handle_timeout(now);
            }
            while let Some(t) = node.protocol.poll_transmit() {
                out.push((node.id, t.link, t.bytes));
            }
            while node.protocol.poll_event().is_some() {}
        }
        for (from, link, bytes) in out {
            for to in self.ids.clone() {
                if to == from || self.cut.contains(&(from, to)) || self.rng.chance(self.loss) {
                    continue;
                }
                let delay = Duration::from_millis(self.rng.range_inclusive(1, self.max_delay_ms));
                self.in_flight.push((now + delay, to, link, bytes.clone()));
            }
        }
        // Deliver in arrival order; a paused node's packets wait in its
        // buffer, a crashed node's are lost.
        self.in_flight.sort_by_key(|p| p.0);
        let mut waiting = Vec::new();
        for (at, to, link, bytes) in std::mem::take(&mut self.in_flight) {
            let node = &mut self.nodes[to as usize - 1];
            if at > now || node.paused {
                waiting.push((at, to, link, bytes));
            } else if !node.down {
                let other = node.protocol.handle_datagram(now, link, &bytes);
                assert!(other.is_none(), "only heartbeats are sent here");
            }
        }
        self.in_flight = waiting;
        let acting: Vec<NodeId> = self
            .nodes
            .iter()
            .filter(|n| n.acting_dc())
            .map(|n| n.id)
            .collect();
        assert!(
            acting.len() <= 1 || !self.single_dc,
            "two quorate DCs {acting:?} at {:?}",
            self.now
        );
    }

    fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.step();
        }
    }

    /// Runs until `cond` holds; returns the time it took.
    fn run_until(&mut self, limit: Duration, cond: impl Fn(&Lab) -> bool) -> Duration {
        let start = self.now;
        while !cond(self) {
            assert!(
                self.now - start < limit,
                "condition not reached within {limit}"
            );
            self.step();
        }
        self.now - start
    }

    fn crash(&mut self, id: NodeId) {
        self.nodes[id as usize - 1].down = true;
    }

    fn restart(&mut self, id: NodeId) {
        self.incarnations[id as usize - 1] += 1;
        let view = self.node(id).protocol.view().number;
        let incarnation = self.incarnations[id as usize - 1];
        self.nodes[id as usize - 1] = Stack::new(&self.config, id, incarnation, view, self.now);
    }

    /// Every node of `members` has the settled view `members` with DC
    /// `dc` and is quorate.
    fn dc_everywhere(&self, dc: NodeId, members: &[NodeId]) -> bool {
        let set: BTreeSet<NodeId> = members.iter().copied().collect();
        members.iter().all(|m| {
            let p = &self.node(*m).protocol;
            p.dc() == Some(dc) && p.view().members == set && p.quorum().quorate
        })
    }
}

/// Goal: a 3-node cluster forms from cold within the hold-down plus a few
/// intervals, with node 1 DC and everybody quorate. Prints the time.
#[test]
fn cluster_forms_within_hold_down_plus_a_few_intervals() {
    let mut lab = Lab::new(3, 1);
    let took = lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    println!("3-node cluster formed in {took}");
    assert!(took <= Duration::from_millis(750 + 400), "{took}");
}

/// Goal: failover timing. The DC crashes; the survivors must elect node 2
/// within timeout + hold-down + a few intervals (about 1.85 s at the
/// defaults), and never earlier than the timeout (no false suspicion).
#[test]
fn dc_crash_fails_over_within_timeout_plus_hold_down() {
    let mut lab = Lab::new(3, 2);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    lab.crash(1);
    let took = lab.run_until(Duration::from_secs(4), |l| l.dc_everywhere(2, &[2, 3]));
    println!("failover after a DC crash: {took}");
    assert!(
        took >= TIMEOUT && took <= Duration::from_millis(1000 + 750 + 300),
        "{took}"
    );
}

/// Goal: a paused DC wakes up after the others elected a new DC; it must
/// not act as DC of a quorate view at any step (checked by `step`), and
/// the cluster re-forms with node 1 as DC afterwards.
#[test]
fn paused_dc_wakes_up_without_a_second_dc() {
    let mut lab = Lab::new(3, 3);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    lab.nodes[0].paused = true;
    lab.run_until(Duration::from_secs(4), |l| l.dc_everywhere(2, &[2, 3]));
    lab.run_for(Duration::from_secs(1));
    lab.nodes[0].paused = false;
    lab.run_for(Duration::from_millis(50));
    assert!(!lab.node(1).protocol.election().is_dc(), "woke up not DC");
    lab.run_until(Duration::from_secs(5), |l| l.dc_everywhere(1, &[1, 2, 3]));
}

/// Goal: a node restarting faster than the timeout is seen as a restart
/// and the cluster re-forms with it; its view number keeps growing.
#[test]
fn node_restarting_faster_than_the_timeout_rejoins() {
    let mut lab = Lab::new(3, 4);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    let before = lab.node(3).protocol.view().number;
    lab.crash(3);
    lab.run_for(Duration::from_millis(300));
    lab.restart(3);
    lab.run_until(Duration::from_secs(4), |l| l.dc_everywhere(1, &[1, 2, 3]));
    assert!(lab.node(3).protocol.view().number > before);
    assert_eq!(lab.node(1).protocol.membership().incarnation(3), Some(2));
}

/// Goal: a 2|1 split keeps the majority side's DC, the minority loses
/// quorum; healing brings everyone back under node 1.
#[test]
fn split_and_heal() {
    let mut lab = Lab::new(3, 5);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    lab.partition(&[1], &[2, 3]);
    lab.run_until(Duration::from_secs(4), |l| {
        l.dc_everywhere(2, &[2, 3]) && !l.node(1).protocol.quorum().quorate
    });
    lab.cut.clear();
    lab.run_until(Duration::from_secs(4), |l| l.dc_everywhere(1, &[1, 2, 3]));
}

/// Goal: the safety invariant over random histories of the composed
/// stack. Method: 5 nodes, 40 seeds, 30 s each; every 1-3 s a fault is
/// drawn (random directed cuts, one-way or non-transitive included, loss
/// up to 30%, delay up to 60 ms, a pause of up to 3 s, a crash and
/// restart); `step` asserts at most one quorate DC after every 10 ms. At
/// the end faults stop and the cluster must converge to node 1 as DC
/// within 5 s.
#[test]
fn random_faults_never_give_two_quorate_dcs() {
    for seed in 0..40 {
        let mut lab = Lab::new(5, 100 + seed);
        let mut fault_rng = Rng::new(seed);
        let mut next_fault = Instant::from_millis(2000);
        let mut paused_until: Option<(NodeId, Instant)> = None;
        while lab.now < Instant::from_millis(30_000) {
            if let Some((id, until)) = paused_until {
                if lab.now >= until {
                    lab.nodes[id as usize - 1].paused = false;
                    paused_until = None;
                }
            }
            if lab.now >= next_fault {
                next_fault = lab.now + Duration::from_millis(fault_rng.range_inclusive(1000, 3000));
                match fault_rng.below(5) {
                    0 => {
                        lab.cut.clear();
                        for a in 1..=5u16 {
                            for b in 1..=5u16 {
                                if a != b && fault_rng.chance(0.25) {
                                    lab.cut.insert((a, b));
                                }
                            }
                        }
                    }
                    1 => lab.loss = fault_rng.below(31) as f64 / 100.0,
                    2 => lab.max_delay_ms = fault_rng.range_inclusive(1, 60),
                    3 if paused_until.is_none() => {
                        let id = 1 + fault_rng.below(5) as NodeId;
                        lab.nodes[id as usize - 1].paused = true;
                        paused_until = Some((
                            id,
                            lab.now + Duration::from_millis(fault_rng.range_inclusive(200, 3000)),
                        ));
                    }
                    _ => {
                        let id = 1 + fault_rng.below(5) as NodeId;
                        if !lab.node(id).paused {
                            lab.crash(id);
                            lab.run_for(Duration::from_millis(fault_rng.range_inclusive(10, 2000)));
                            lab.restart(id);
                        }
                    }
                }
            }
            lab.step();
        }
        if let Some((id, _)) = paused_until {
            lab.nodes[id as usize - 1].paused = false;
        }
        lab.cut.clear();
        lab.loss = 0.0;
        lab.max_delay_ms = 2;
        let took = lab.run_until(Duration::from_secs(5), |l| {
            l.dc_everywhere(1, &[1, 2, 3, 4, 5])
        });
        assert!(took <= Duration::from_secs(5), "seed {seed}");
    }
}

/// Goal: two_node cold start with one node: it must wait for its peer
/// (two_node implies wait_for_all) and never act; once both were seen,
/// a split leaves both halves quorate and acting, which is why two_node
/// needs fencing (the node's fence delay breaks the race).
#[test]
fn two_node_cold_start_waits_for_all_then_split_needs_fencing() {
    let mut lab = Lab::with_quorum(2, 6, "two_node = true\n");
    lab.single_dc = false;
    lab.crash(2);
    lab.run_for(Duration::from_secs(5));
    let alone = lab.node(1).protocol.quorum();
    assert!(!alone.quorate && alone.waiting_for_all, "{alone:?}");
    assert!(!lab.node(1).acting_dc());
    lab.restart(2);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2]));
    lab.partition(&[1], &[2]);
    lab.run_until(Duration::from_secs(4), |l| {
        l.node(1).acting_dc() && l.node(2).acting_dc()
    });
}

/// Goal: auto_tie_breaker on a 2|2 split of four nodes: the half with
/// node 1 keeps quorum and its DC, the other half loses quorum.
#[test]
fn two_two_split_with_auto_tie_breaker_keeps_the_lowest_id_half() {
    let mut lab = Lab::with_quorum(4, 7, "auto_tie_breaker = true\n");
    lab.run_until(Duration::from_secs(3), |l| {
        l.dc_everywhere(1, &[1, 2, 3, 4])
    });
    lab.partition(&[1, 2], &[3, 4]);
    lab.run_until(Duration::from_secs(4), |l| {
        l.dc_everywhere(1, &[1, 2])
            && !l.node(3).protocol.quorum().quorate
            && !l.node(4).protocol.quorum().quorate
    });
    assert!(lab.node(1).protocol.quorum().tie_breaker);
}

/// Goal: last_man_standing, 5 -> 3 -> 2 nodes: after each loss and a
/// stable window of 10 s, expected_votes follows the survivors, so the
/// last two stay quorate with their DC.
#[test]
fn five_to_three_to_two_nodes_with_last_man_standing() {
    let mut lab = Lab::with_quorum(5, 8, "wait_for_all = true\nlast_man_standing = true\n");
    lab.run_until(Duration::from_secs(3), |l| {
        l.dc_everywhere(1, &[1, 2, 3, 4, 5])
    });
    lab.crash(4);
    lab.crash(5);
    lab.run_until(Duration::from_secs(15), |l| {
        l.node(1).protocol.quorum().expected_votes == 3
    });
    assert!(lab.dc_everywhere(1, &[1, 2, 3]));
    lab.crash(3);
    lab.run_until(Duration::from_secs(4), |l| l.dc_everywhere(1, &[1, 2]));
    let q = lab.node(2).protocol.quorum();
    assert_eq!(
        (q.votes, q.expected_votes, q.quorum, q.quorate),
        (2, 3, 2, true)
    );
    lab.run_until(Duration::from_secs(15), |l| {
        l.node(2).protocol.quorum().expected_votes == 2
    });
    assert!(lab.dc_everywhere(1, &[1, 2]));
}

/// Goal: `Protocol` hands non-heartbeat packets to the node, consumes
/// heartbeats, counts a heartbeat body that does not decode as
/// `malformed`, and counts forged and replayed packets by name.
#[test]
fn protocol_routes_bodies_and_counts_bad_packets() {
    let config = config(2, "");
    let mut a = Protocol::new(&config, 1, 1, 0, &[3u8; 32], Instant::ZERO);
    let mut b = Protocol::new(&config, 2, 1, 0, &[3u8; 32], Instant::ZERO);
    let now = Instant::from_millis(5);
    let request = a.seal(Kind::REQUEST, b"start web");
    let (header, body) = b
        .handle_datagram(now, 0, &request)
        .expect("a request is returned");
    assert_eq!(
        (header.kind, header.sender, body.as_slice()),
        (Kind::REQUEST, 1, &b"start web"[..])
    );
    assert!(b.handle_datagram(now, 0, &request).is_none(), "replay");
    let garbage_heartbeat = a.seal(Kind::HEARTBEAT, b"\x01");
    assert!(b.handle_datagram(now, 0, &garbage_heartbeat).is_none());
    let mut forged = a.seal(Kind::REQUEST, b"stop web");
    let last = forged.len() - 1;
    forged[last] ^= 1;
    assert!(b.handle_datagram(now, 0, &forged).is_none());
    let drops = b.drops();
    assert_eq!(
        (drops["replay"], drops["malformed"], drops["bad_tag"]),
        (1, 1, 1)
    );
    a.handle_timeout(now);
    let hb = a.poll_transmit().expect("a heartbeat is due at start");
    assert!(
        b.handle_datagram(now, hb.link, &hb.bytes).is_none(),
        "heartbeats are consumed"
    );
    assert!(b.alive(1) && b.link_up(1, hb.link));
    assert_eq!(b.report(1).map(|r| r.config_hash), Some(config.hash));
}

/// Goal: replayed and forged packets. An attacker on the network records
/// node 3's heartbeats, node 3 crashes, and the attacker keeps replaying
/// them and sending forged ones (wrong key, higher incarnation) on every
/// 10 ms step: nodes 1 and 2 must still lose node 3 after the timeout and
/// settle on {1, 2}, counting the replays and forgeries.
#[test]
fn replayed_and_forged_heartbeats_do_not_keep_a_dead_node_alive() {
    let mut lab = Lab::new(3, 10);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    let mut recorded: Vec<(usize, Vec<u8>)> = Vec::new();
    for _ in 0..20 {
        recorded.extend(
            lab.in_flight
                .iter()
                .filter(|p| p.3[6..8] == [0, 3])
                .map(|p| (p.2, p.3.clone())),
        );
        lab.step();
    }
    assert!(!recorded.is_empty(), "captured node 3's heartbeats");
    let mut forger = Protocol::new(&lab.config, 3, 99, 0, &[4u8; 32], lab.now);
    lab.crash(3);
    let crashed_at = lab.now;
    while !lab.dc_everywhere(1, &[1, 2]) {
        assert!(
            lab.now - crashed_at < Duration::from_secs(4),
            "node 3 kept alive by replays"
        );
        let now = lab.now;
        forger.handle_timeout(now);
        let forged: Vec<(usize, Vec<u8>)> = std::iter::from_fn(|| forger.poll_transmit())
            .map(|t| (t.link, t.bytes))
            .collect();
        for node in &mut lab.nodes[0..2] {
            for (link, bytes) in recorded.iter().chain(&forged) {
                assert!(node.protocol.handle_datagram(now, *link, bytes).is_none());
            }
        }
        lab.step();
    }
    assert!(
        lab.now - crashed_at >= TIMEOUT,
        "lost only after the timeout"
    );
    for node in &lab.nodes[0..2] {
        let drops = node.protocol.drops();
        assert!(!node.protocol.alive(3));
        assert!(drops["replay"] > 100 && drops["bad_tag"] > 10, "{drops:?}");
    }
}

/// Goal: non-transitive partition (1-2 and 2-3 work, 1-3 does not): one
/// view {1, 2} with DC 1 forms, node 3 is left out and loses quorum.
#[test]
fn non_transitive_partition_leaves_one_view() {
    let mut lab = Lab::new(3, 11);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    lab.partition(&[1], &[3]);
    lab.run_until(Duration::from_secs(4), |l| {
        l.dc_everywhere(1, &[1, 2]) && !l.node(3).protocol.quorum().quorate
    });
    lab.run_for(Duration::from_secs(5));
    assert!(
        lab.dc_everywhere(1, &[1, 2]) && !lab.node(3).protocol.quorum().quorate,
        "stable"
    );
}

/// Goal: one-way partition (2 stops hearing 1, 1 still hears 2): 1 and 2
/// are no longer members of each other; node 3 hears both, so the view
/// becomes {1, 3} (largest clique, lowest ids) and node 2 loses quorum.
#[test]
fn one_way_partition_breaks_the_pair_both_ways() {
    let mut lab = Lab::new(3, 12);
    lab.run_until(Duration::from_secs(3), |l| l.dc_everywhere(1, &[1, 2, 3]));
    lab.cut.insert((1, 2));
    lab.run_until(Duration::from_secs(4), |l| {
        l.dc_everywhere(1, &[1, 3]) && !l.node(2).protocol.quorum().quorate
    });
    assert!(lab.node(1).protocol.alive(2), "1 still hears 2");
    assert!(
        !lab.node(1).protocol.members().contains(&2),
        "but 2 is not a member of 1"
    );
}
