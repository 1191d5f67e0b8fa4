//! The DC choice on the small network of `membership::tests`: real
//! heartbeat bodies, virtual time. Whole clusters with quorum, fencing and
//! faults are in the simulator (tests/sim.rs).

use super::*;
use crate::membership::tests::{INTERVAL, Net, TIMEOUT, config};

/// Goal: a cluster names nobody for its first timeout (a restarted node
/// must not help elect while its old vote may count), then the lowest id;
/// only that node may act, once every member acks one of its heartbeats.
#[test]
fn the_lowest_member_is_named_after_one_timeout_and_acts() {
    let mut net = Net::new(&config(3, 1, ""));
    net.rounds(5);
    for id in 1..=3 {
        assert_eq!(net.e(id).named(), None, "n{id} names nobody yet");
        assert_eq!(net.e(id).candidate(), id);
    }
    net.rounds(10);
    for id in 1..=3 {
        assert_eq!(net.e(id).named(), Some(1), "n{id}");
    }
    let now = net.now;
    assert!(net.e(1).acting_dc(now, net.m(1)));
    assert!(!net.e(2).acting_dc(now, net.m(2)));
    // While acting, the node knows when its lease could run out next.
    net.elections[0].set_acting(true);
    let expiry = net.e(1).next_lease_expiry(now, net.m(1)).expect("acting");
    let lease = TIMEOUT.as_millis() - INTERVAL.as_millis();
    assert!(expiry > now && (expiry - now).as_millis() <= lease);
}

/// Goal: the DC's lease from a silent member ends before that member could
/// declare it lost and back another DC; until then it keeps acting.
#[test]
fn the_dc_lease_ends_before_a_silent_member_could_drop_it() {
    let mut net = Net::new(&config(2, 1, "two_node = true"));
    net.rounds(15);
    net.elections[0].set_acting(true);
    net.rounds(2);
    net.stopped.insert(2);
    let now = net.now;
    let expiry = net.e(1).next_lease_expiry(now, net.m(1)).expect("acting");
    let drop_at = net.m(2).last_heard(1).expect("n2 heard n1") + TIMEOUT;
    assert!(expiry < drop_at, "the lease ends before n2 drops n1");
    let before = now + crate::time::Duration::from_millis((expiry - now).as_millis() - 1);
    assert!(net.e(1).acting_dc(before, net.m(1)));
    assert!(!net.e(1).acting_dc(expiry, net.m(1)));
    assert!(net.m(1).members(expiry).contains(&2), "n2 still a member");
}

/// Goal: a member whose acks went stale stops the DC only if the fresh
/// backers might not be a quorum or the rest might be one; with two_node
/// or last_man_standing any stale member stops it.
#[test]
fn stale_members_stop_the_dc_only_when_another_quorum_could_form() {
    let cases: [(u16, &str, &[NodeId], bool); 4] = [
        (5, "", &[4, 5], true),
        (4, "", &[3, 4], false),
        (2, "two_node = true", &[2], false),
        // By configured votes {n1, n2} is a majority, but last_man_standing
        // can make n3 alone quorate.
        (3, "last_man_standing = true", &[3], false),
    ];
    for (n, quorum, silent, acts) in cases {
        let mut net = Net::new(&config(n, 1, quorum));
        net.rounds(15);
        net.elections[0].set_acting(true);
        net.rounds(2);
        net.stopped.extend(silent.iter().copied());
        // Past the lease of the silent ones' last acks, before their loss.
        net.rounds(8);
        let members = net.members_of(1);
        assert!(silent.iter().all(|s| members.contains(s)), "{n} nodes");
        let now = net.now;
        assert_eq!(
            net.e(1).acting_dc(now, net.m(1)),
            acts,
            "{n} nodes, {silent:?} silent"
        );
    }
}

/// Goal: a lower id that joins does not unseat a DC that acts (each new
/// reign fences the nodes outside its view; handing over to every
/// rebooted lower id fed a fence war, seed 7169718369075013140): in its
/// first timeout it backs only that DC, after it too, the others keep
/// naming it, and the DC keeps naming itself. Once the DC stops acting,
/// all name the lowest id.
#[test]
fn a_joining_lower_id_backs_the_acting_dc_for_as_long_as_it_acts() {
    let mut net = Net::new(&config(3, 1, ""));
    net.stopped.insert(1);
    net.rounds(15);
    assert_eq!(net.e(3).named(), Some(2));
    net.elections[1].set_acting(true);
    net.stopped.remove(&1);
    // Round 3 is the first in which n1 hears heartbeats that hear it.
    net.rounds(3);
    assert_eq!(net.e(1).named(), Some(2), "n1 backs the acting DC");
    assert_eq!(net.e(3).named(), Some(2), "n3 stays with it");
    // Long after n1's first timeout, nobody hands over.
    net.rounds(30);
    for id in 1..=3 {
        assert_eq!(net.e(id).named(), Some(2), "n{id} still names n2");
    }
    let now = net.now;
    assert!(net.e(2).acting_dc(now, net.m(2)));
    net.elections[1].set_acting(false);
    net.rounds(15);
    for id in 1..=3 {
        assert_eq!(net.e(id).named(), Some(1), "n{id}");
    }
    let now = net.now;
    assert!(net.e(1).acting_dc(now, net.m(1)));
}

/// Goal: a stalled node does not act while it listens, even when it names
/// itself and its members' acks are recent.
#[test]
fn a_stalled_dc_does_not_act_while_it_listens() {
    let mut net = Net::new(&config(3, 1, ""));
    net.rounds(15);
    net.stopped.insert(1);
    net.rounds(20);
    net.stopped.remove(&1);
    net.rounds(1);
    let now = net.now;
    assert!(net.m(1).listening(now));
    assert!(!net.e(1).acting_dc(now, net.m(1)));
}
