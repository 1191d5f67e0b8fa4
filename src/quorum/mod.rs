//! Quorum: corosync votequorum rules, as a small state machine.
//!
//! Decides whether the local partition may run resources: given the nodes
//! and their votes from the config, the `[quorum]` options and the current
//! member set (from membership/election), it says whether the partition is
//! quorate and why ([`QuorumState`]). It never does I/O; time is an
//! argument, used only for the `last_man_standing` window.
//!
//! The rules follow votequorum(5), so operators' corosync habits carry over:
//!
//! - `quorum = expected_votes / 2 + 1`; with `two_node` and two expected
//!   votes, quorum is 1 (each half of a split stays quorate, so fencing must
//!   decide; `two_node` implies `wait_for_all`, which config validation sets).
//! - `expected_votes` starts at the configured value (the sum of all votes by
//!   default) and rises when the members together hold more votes.
//! - `wait_for_all`: not quorate until every configured node has been a
//!   member at the same time once since this process started.
//! - `last_man_standing`: once the member set has been unchanged for
//!   `last_man_standing_window` while quorate, `expected_votes` drops to the
//!   members' votes (never below 2 without `auto_tie_breaker`). A node that
//!   rejoins brings the configured `expected_votes` back, as in corosync,
//!   where the rejoining node advertises its configured value.
//! - Advertised expected votes: each node may pass the `expected_votes`
//!   its peers advertise ([`Votequorum::advertise`]); the partition then
//!   counts the highest value among its current members, as votequorum
//!   does (each node's nodeinfo message carries its expected_votes). So a
//!   node that lowered expected_votes by `last_man_standing` while a peer
//!   did not (its window restarted on a blip only it saw) is not quorate
//!   alone with that peer on the lowered value.
//! - `auto_tie_breaker`: on an exact 50% split of an even `expected_votes`,
//!   the half that holds the lowest node id (among the nodes that
//!   `expected_votes` counts) stays quorate. At most one half can hold it.
//!
//! Outputs: [`Votequorum::update`] and [`Votequorum::handle_timeout`] return
//! the new [`QuorumState`]; [`Votequorum::poll_timeout`] says when the
//! window timer wants to run.

use std::collections::{BTreeMap, BTreeSet};

use crate::config::{self, NodeId};
use crate::time::Instant;

/// The result of a quorum calculation, as `ha status` and `corosync-quorumtool`
/// show it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QuorumState {
    /// The partition may run resources.
    pub quorate: bool,
    /// Votes held by the current members.
    pub votes: u32,
    /// Votes the cluster expects (configured, raised by members, lowered by
    /// `last_man_standing`).
    pub expected_votes: u32,
    /// Votes needed to be quorate.
    pub quorum: u32,
    /// `wait_for_all` holds quorum back: not all nodes have been seen
    /// together yet since start.
    pub waiting_for_all: bool,
    /// Quorate only thanks to `auto_tie_breaker` (an exact 50% split).
    pub tie_breaker: bool,
}

/// votequorum for one node: remembers what the rules need from the past
/// (whether all nodes were seen together, the `last_man_standing` window).
#[derive(Clone, Debug)]
pub struct Votequorum {
    options: config::Quorum,
    /// Votes per configured node.
    nodes: BTreeMap<NodeId, u32>,
    /// The nodes whose votes `expected_votes` counts: all nodes, or the
    /// members at the last `last_man_standing` recalculation. The
    /// tie-breaker is the lowest voting node of this set.
    basis: BTreeSet<NodeId>,
    expected_votes: u32,
    waiting_for_all: bool,
    members: BTreeSet<NodeId>,
    /// When the `last_man_standing` window of the current member set ends.
    window_deadline: Option<Instant>,
    /// The expected_votes each peer last advertised (see [`Votequorum::advertise`]).
    advertised: BTreeMap<NodeId, u32>,
    state: QuorumState,
}

impl Votequorum {
    /// Starts with no members, as a freshly started node: not quorate, and
    /// (with `wait_for_all`) waiting to see all `nodes` (id, votes) together.
    pub fn new(options: &config::Quorum, nodes: &[(NodeId, u32)]) -> Votequorum {
        let nodes: BTreeMap<NodeId, u32> = nodes.iter().copied().collect();
        let mut q = Votequorum {
            options: options.clone(),
            basis: nodes.keys().copied().collect(),
            expected_votes: options.expected_votes.max(1),
            waiting_for_all: options.wait_for_all,
            members: BTreeSet::new(),
            window_deadline: None,
            advertised: BTreeMap::new(),
            nodes,
            state: QuorumState::default(),
        };
        q.state = q.compute();
        q
    }

    /// [`Votequorum::new`] with the `[quorum]` options and nodes of `config`.
    pub fn from_config(config: &config::Config) -> Votequorum {
        let nodes: Vec<(NodeId, u32)> = config.nodes.iter().map(|n| (n.id, n.votes)).collect();
        Votequorum::new(&config.quorum, &nodes)
    }

    /// Feeds the current member set (the local node included). Unknown
    /// node ids are ignored. A changed set restarts the
    /// `last_man_standing` window.
    pub fn update(&mut self, now: Instant, members: &BTreeSet<NodeId>) -> QuorumState {
        let known = members.iter().filter(|n| self.nodes.contains_key(n));
        // Called every tick; the set rarely changes, so compare first.
        if !known.clone().eq(self.members.iter()) {
            self.members = known.copied().collect();
            self.window_deadline = self
                .options
                .last_man_standing
                .then(|| now + self.options.last_man_standing_window);
        }
        if self.waiting_for_all && self.nodes.keys().all(|n| self.members.contains(n)) {
            self.waiting_for_all = false;
        }
        if !self.members.is_subset(&self.basis) {
            // A node outside the last_man_standing basis rejoined: like
            // corosync, where it advertises its configured expected_votes,
            // go back to counting every node.
            self.basis = self.nodes.keys().copied().collect();
            self.expected_votes = self.expected_votes.max(self.options.expected_votes);
        }
        let votes = self.member_votes();
        if votes > self.expected_votes {
            self.expected_votes = votes;
        }
        self.state = self.compute();
        self.state
    }

    /// Records the `expected_votes` that peer `node` advertises (its own
    /// [`Votequorum::expected_votes`], carried in its heartbeat). While
    /// `node` is a member, the partition counts the highest of its own and
    /// its members' advertised values, as votequorum does; takes effect at
    /// the next `update`. Unknown node ids are ignored.
    pub fn advertise(&mut self, node: NodeId, expected_votes: u32) {
        if self.nodes.contains_key(&node) {
            self.advertised.insert(node, expected_votes);
        }
    }

    /// This node's own expected_votes (configured, raised by members,
    /// lowered by `last_man_standing`): the value to advertise to peers.
    pub fn expected_votes(&self) -> u32 {
        self.expected_votes
    }

    /// When the `last_man_standing` window ends, if it is running.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.window_deadline
    }

    /// Runs the `last_man_standing` recalculation when its window has
    /// passed with an unchanged member set; an early call does nothing.
    pub fn handle_timeout(&mut self, now: Instant) -> QuorumState {
        let Some(deadline) = self.window_deadline else {
            return self.state;
        };
        if now < deadline {
            return self.state;
        }
        self.window_deadline = None;
        let votes = self.member_votes();
        // Only a quorate partition may lower expected_votes: otherwise a
        // minority would vote itself quorate.
        if self.state.quorate && votes < self.expected_votes {
            // votequorum(5): going from 2 to 1 needs auto_tie_breaker.
            let floor = if self.options.auto_tie_breaker { 1 } else { 2 };
            let lowered = votes.max(floor);
            if lowered < self.expected_votes {
                self.expected_votes = lowered;
                self.basis = self.members.clone();
            }
        }
        self.state = self.compute();
        self.state
    }

    /// The state computed by the last `update` or `handle_timeout`.
    pub fn state(&self) -> QuorumState {
        self.state
    }

    /// The member set last given to `update` (configured nodes only).
    pub fn members(&self) -> &BTreeSet<NodeId> {
        &self.members
    }

    fn member_votes(&self) -> u32 {
        self.members.iter().map(|n| self.nodes[n]).sum()
    }

    fn compute(&self) -> QuorumState {
        // votequorum: the highest expected_votes among the members counts.
        let expected_votes = self
            .members
            .iter()
            .filter_map(|n| self.advertised.get(n).copied())
            .fold(self.expected_votes, u32::max);
        let votes = self.member_votes();
        let quorum = if self.options.two_node && expected_votes == 2 {
            1
        } else {
            expected_votes / 2 + 1
        };
        let tie_breaker_node = self
            .basis
            .iter()
            .copied()
            .find(|n| self.nodes.get(n).copied().unwrap_or(0) > 0);
        let tie = self.options.auto_tie_breaker
            && votes < quorum
            && expected_votes % 2 == 0
            && votes * 2 == expected_votes
            && tie_breaker_node.is_some_and(|n| self.members.contains(&n));
        let has_votes = votes >= quorum || tie;
        QuorumState {
            quorate: has_votes && !self.waiting_for_all,
            votes,
            expected_votes,
            quorum,
            waiting_for_all: self.waiting_for_all,
            tie_breaker: tie && !self.waiting_for_all,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Duration;

    fn options(nodes: u32) -> config::Quorum {
        config::Quorum {
            expected_votes: nodes,
            two_node: false,
            wait_for_all: false,
            last_man_standing: false,
            last_man_standing_window: Duration::from_secs(10),
            auto_tie_breaker: false,
        }
    }

    fn ids(list: &[NodeId]) -> BTreeSet<NodeId> {
        list.iter().copied().collect()
    }

    fn one_vote_each(n: u16) -> Vec<(NodeId, u32)> {
        (1..=n).map(|id| (id, 1)).collect()
    }

    fn at(secs: u64) -> Instant {
        Instant::from_millis(secs * 1000)
    }

    /// Goal: plain majority quorum, as votequorum(5)'s 8-node example
    /// (expected 8, quorum 5: survives 3 failures, not 4). Method: a table of
    /// member sets and the expected (quorate, votes, quorum).
    #[test]
    fn majority_of_expected_votes_is_quorate() {
        let table: &[(&[NodeId], bool, u32, u32)] = &[
            (&[1, 2, 3, 4, 5, 6, 7, 8], true, 8, 5),
            (&[1, 2, 3, 4, 5], true, 5, 5),
            (&[4, 5, 6, 7, 8], true, 5, 5),
            (&[1, 2, 3, 4], false, 4, 5),
            (&[5, 6, 7, 8], false, 4, 5),
            (&[1], false, 1, 5),
            (&[], false, 0, 5),
        ];
        for &(members, quorate, votes, quorum) in table {
            let mut q = Votequorum::new(&options(8), &one_vote_each(8));
            let s = q.update(at(0), &ids(members));
            assert_eq!(
                (s.quorate, s.votes, s.expected_votes, s.quorum),
                (quorate, votes, 8, quorum),
                "members {members:?}"
            );
        }
    }

    /// Goal: weighted votes and an expected_votes that members exceed.
    /// Method: node 1 holds 3 votes; expected_votes configured too low is
    /// raised to the members' total, as corosync does.
    #[test]
    fn votes_are_weighted_and_expected_votes_rises_to_member_votes() {
        let nodes = [(1, 3), (2, 1), (3, 1)];
        let mut q = Votequorum::new(&options(5), &nodes);
        let s = q.update(at(0), &ids(&[1]));
        assert_eq!((s.quorate, s.votes, s.quorum), (true, 3, 3), "3 of 5 votes");
        let mut low = Votequorum::new(&options(2), &nodes);
        let s = low.update(at(0), &ids(&[1, 2, 3]));
        assert_eq!((s.expected_votes, s.quorum, s.quorate), (5, 3, true));
    }

    /// Goal: two_node (votequorum(5)): quorum is 1, so a lone survivor of a
    /// running pair stays quorate, but a node cold-starting alone waits for
    /// its peer (two_node implies wait_for_all).
    #[test]
    fn two_node_survivor_stays_quorate_but_cold_start_waits_for_all() {
        let mut o = options(2);
        o.two_node = true;
        o.wait_for_all = true;
        let mut q = Votequorum::new(&o, &one_vote_each(2));
        let s = q.update(at(0), &ids(&[1]));
        assert!(
            !s.quorate && s.waiting_for_all && s.quorum == 1,
            "cold start alone: {s:?}"
        );
        assert!(q.update(at(1), &ids(&[1, 2])).quorate);
        let s = q.update(at(2), &ids(&[2]));
        assert!(
            s.quorate && !s.waiting_for_all && s.votes == 1,
            "survivor: {s:?}"
        );
        let s = q.update(at(3), &ids(&[1]));
        assert!(s.quorate, "either survivor, fencing decides: {s:?}");
    }

    /// Goal: wait_for_all on a larger cluster: a majority at start-up is not
    /// enough until every node has been seen at the same time once; after
    /// that, plain majority rules apply. Seeing each node at different
    /// times does not count.
    #[test]
    fn wait_for_all_needs_all_nodes_together_once() {
        let mut o = options(5);
        o.wait_for_all = true;
        let mut q = Votequorum::new(&o, &one_vote_each(5));
        assert!(!q.update(at(0), &ids(&[1, 2, 3])).quorate);
        assert!(
            !q.update(at(1), &ids(&[1, 4, 5])).quorate,
            "every node seen, but never together"
        );
        assert!(q.update(at(2), &ids(&[1, 2, 3, 4, 5])).quorate);
        assert!(q.update(at(3), &ids(&[3, 4, 5])).quorate);
        assert!(!q.update(at(4), &ids(&[4, 5])).quorate);
    }

    /// Goal: last_man_standing, votequorum(5)'s documented chain on 8 nodes:
    /// 8 (q 5) -> 3 die -> window -> expected 5 (q 3) -> 2 die -> window ->
    /// expected 3 (q 2) -> 1 dies -> window -> expected 2 (q 2), and one
    /// more failure loses quorum without auto_tie_breaker.
    #[test]
    fn last_man_standing_lowers_expected_votes_in_steps() {
        let mut o = options(8);
        o.wait_for_all = true;
        o.last_man_standing = true;
        let mut q = Votequorum::new(&o, &one_vote_each(8));
        let window = Duration::from_secs(10);
        let mut now = at(0);
        let steps: &[(&[NodeId], (u32, u32), (u32, u32))] = &[
            // members, (expected, quorum) before the window, after it
            (&[1, 2, 3, 4, 5, 6, 7, 8], (8, 5), (8, 5)),
            (&[1, 2, 3, 4, 5], (8, 5), (5, 3)),
            (&[1, 2, 3], (5, 3), (3, 2)),
            (&[1, 2], (3, 2), (2, 2)),
        ];
        for &(members, before, after) in steps {
            let s = q.update(now, &ids(members));
            assert!(s.quorate, "{members:?} quorate before the window: {s:?}");
            assert_eq!((s.expected_votes, s.quorum), before, "{members:?} before");
            assert_eq!(q.poll_timeout(), Some(now + window));
            let early = q.handle_timeout(now + Duration::from_secs(9));
            assert_eq!(
                (early.expected_votes, early.quorum),
                before,
                "early timeout does nothing"
            );
            now = now + window;
            let s = q.handle_timeout(now);
            assert_eq!(
                (s.expected_votes, s.quorum),
                after,
                "{members:?} after the window"
            );
            assert!(s.quorate);
            assert_eq!(q.poll_timeout(), None);
            now = now + Duration::from_secs(1);
        }
        let s = q.update(now, &ids(&[1]));
        assert!(!s.quorate, "2 -> 1 needs auto_tie_breaker: {s:?}");
        q.handle_timeout(now + window);
        assert!(
            !q.state().quorate && q.state().expected_votes == 2,
            "an inquorate partition never lowers expected votes"
        );
    }

    /// Goal: the window restarts when the member set changes, so only a
    /// stable membership lowers expected_votes.
    #[test]
    fn last_man_standing_window_restarts_on_membership_change() {
        let mut o = options(5);
        o.last_man_standing = true;
        let mut q = Votequorum::new(&o, &one_vote_each(5));
        q.update(at(0), &ids(&[1, 2, 3, 4]));
        q.update(at(8), &ids(&[1, 2, 3]));
        let s = q.handle_timeout(at(10));
        assert_eq!(s.expected_votes, 5, "window restarted at 8 s");
        let s = q.handle_timeout(at(18));
        assert_eq!((s.expected_votes, s.quorum), (3, 2));
    }

    /// Goal: a node that rejoins after a last_man_standing reduction brings
    /// the configured expected_votes back (corosync: it advertises its own).
    #[test]
    fn rejoining_node_restores_configured_expected_votes() {
        let mut o = options(5);
        o.last_man_standing = true;
        let mut q = Votequorum::new(&o, &one_vote_each(5));
        q.update(at(0), &ids(&[1, 2, 3]));
        assert_eq!(q.handle_timeout(at(10)).expected_votes, 3);
        let s = q.update(at(11), &ids(&[1, 2, 3, 4]));
        assert_eq!((s.expected_votes, s.quorum, s.quorate), (5, 3, true));
    }

    /// Goal: votequorum counts the highest expected_votes among the
    /// members. Node 2 lowered expected_votes to 3 by last_man_standing
    /// over {1, 2, 3}; node 3 did not (its window restarted on a blip only
    /// it saw) and advertises 5. Alone with node 3, node 2 must not be
    /// quorate on its lowered value (votequorum: max(3, 5) = 5, quorum 3),
    /// else {2, 3} and {1, 4, 5} would both be quorate. Once node 3 lowered
    /// too, {2, 3} is quorate again, as in votequorum's chain.
    #[test]
    fn highest_advertised_expected_votes_among_members_counts() {
        let mut o = options(5);
        o.last_man_standing = true;
        let mut q = Votequorum::new(&o, &one_vote_each(5));
        q.update(at(0), &ids(&[1, 2, 3]));
        assert_eq!(q.handle_timeout(at(10)).expected_votes, 3);
        assert_eq!(q.expected_votes(), 3, "what node 2 advertises");
        let mut without = q.clone();
        let s = without.update(at(11), &ids(&[2, 3]));
        assert!(s.quorate, "no advertised values: own lowered value counts");
        q.advertise(3, 5);
        let s = q.update(at(11), &ids(&[2, 3]));
        assert_eq!((s.quorate, s.expected_votes, s.quorum), (false, 5, 3));
        q.advertise(3, 3);
        let s = q.update(at(12), &ids(&[2, 3]));
        assert_eq!((s.quorate, s.expected_votes, s.quorum), (true, 3, 2));
        // A non-member's advertised value does not count.
        q.advertise(4, 5);
        assert!(q.update(at(13), &ids(&[2, 3])).quorate);
        assert_eq!(q.expected_votes(), 3);
    }

    /// Goal: pin down last_man_standing's known limit, which votequorum
    /// shares: once {1, 2, 3} lowered expected_votes to 3 together, a split
    /// {1, 2} | {3, 4, 5} leaves both sides quorate ({1, 2}: 2 of 3; {3, 4,
    /// 5}: 4 and 5 advertise 5, 3 of 5). Only fencing keeps data safe
    /// there, which is why the simulator's invariant 1 exempts
    /// last_man_standing (invariant 2 still applies).
    #[test]
    fn last_man_standing_resplit_can_leave_two_quorate_sides_as_in_votequorum() {
        let mut o = options(5);
        o.last_man_standing = true;
        let lowered = |id: NodeId| {
            let mut q = Votequorum::new(&o, &one_vote_each(5));
            q.update(at(0), &ids(&[1, 2, 3]));
            assert_eq!(q.handle_timeout(at(10)).expected_votes, 3, "node {id}");
            q
        };
        let mut q1 = lowered(1);
        q1.advertise(2, 3);
        let a = q1.update(at(11), &ids(&[1, 2]));
        let mut q3 = lowered(3);
        q3.advertise(4, 5);
        q3.advertise(5, 5);
        let b = q3.update(at(11), &ids(&[3, 4, 5]));
        assert!(a.quorate && b.quorate, "{a:?} {b:?}");
        assert_eq!((a.expected_votes, b.expected_votes), (3, 5));
    }

    /// Goal: auto_tie_breaker on an even split (votequorum(5)): the half with
    /// the lowest node id stays quorate, the other half does not, and an
    /// uneven minority gets no help. Method: table over a 4-node cluster.
    #[test]
    fn auto_tie_breaker_keeps_the_half_with_the_lowest_id() {
        let mut o = options(4);
        o.auto_tie_breaker = true;
        let table: &[(&[NodeId], bool, bool)] = &[
            // members, quorate, by tie-breaker
            (&[1, 2], true, true),
            (&[3, 4], false, false),
            (&[1, 4], true, true),
            (&[2, 3], false, false),
            (&[1], false, false),
            (&[1, 2, 3], true, false),
        ];
        for &(members, quorate, tie) in table {
            let mut q = Votequorum::new(&o, &one_vote_each(4));
            let s = q.update(at(0), &ids(members));
            assert_eq!(
                (s.quorate, s.tie_breaker),
                (quorate, tie),
                "members {members:?}: {s:?}"
            );
        }
    }

    /// Goal: votequorum(5): with last_man_standing and auto_tie_breaker a
    /// cluster can go down to one node; the survivor of the last pair is the
    /// lower id of that pair.
    #[test]
    fn last_man_standing_with_tie_breaker_goes_down_to_one_node() {
        let mut o = options(4);
        o.last_man_standing = true;
        o.auto_tie_breaker = true;
        let mut q = Votequorum::new(&o, &one_vote_each(4));
        q.update(at(0), &ids(&[2, 3, 4]));
        assert_eq!(q.handle_timeout(at(10)).expected_votes, 3);
        q.update(at(11), &ids(&[3, 4]));
        assert_eq!(q.handle_timeout(at(21)).expected_votes, 2);
        let mut other = q.clone();
        let s = q.update(at(22), &ids(&[3]));
        assert!(
            s.quorate && s.tie_breaker,
            "3 is the lowest of the pair {{3, 4}}: {s:?}"
        );
        assert_eq!(q.handle_timeout(at(32)).expected_votes, 1);
        let s = other.update(at(22), &ids(&[4]));
        assert!(!s.quorate, "4 is not the tie-breaker: {s:?}");
    }

    /// Goal: safety across every split of a 6-node cluster with
    /// auto_tie_breaker: two disjoint partitions are never both quorate.
    /// Method: all 2^6 subsets against their complements.
    #[test]
    fn disjoint_partitions_are_never_both_quorate() {
        let mut o = options(6);
        o.auto_tie_breaker = true;
        for mask in 0u32..64 {
            let a: BTreeSet<NodeId> = (1..=6).filter(|i| mask & (1 << (i - 1)) != 0).collect();
            let b: BTreeSet<NodeId> = (1..=6).filter(|i| mask & (1 << (i - 1)) == 0).collect();
            let qa = Votequorum::new(&o, &one_vote_each(6))
                .update(at(0), &a)
                .quorate;
            let qb = Votequorum::new(&o, &one_vote_each(6))
                .update(at(0), &b)
                .quorate;
            assert!(!(qa && qb), "{a:?} and {b:?} both quorate");
        }
    }

    /// Goal: the split-brain property over random configurations: random
    /// votes (0..=3 per node, 1..=8 nodes), random auto_tie_breaker and
    /// wait_for_all, a random split into two disjoint sides after all were
    /// seen together: the two sides are never both quorate. (two_node is
    /// the documented exception and last_man_standing needs history;
    /// both have their own tests.) Method: 5,000 seeded cases.
    #[test]
    fn random_configs_never_make_two_disjoint_sides_quorate() {
        let mut rng = crate::rng::Rng::new(77);
        for case in 0..5000 {
            let n = 1 + rng.below(8) as u16;
            let nodes: Vec<(NodeId, u32)> =
                (1..=n).map(|id| (id * 3, rng.below(4) as u32)).collect();
            let total: u32 = nodes.iter().map(|(_, v)| v).sum();
            let mut o = options(total.max(1));
            o.auto_tie_breaker = rng.chance(0.5);
            o.wait_for_all = rng.chance(0.5);
            let all: BTreeSet<NodeId> = nodes.iter().map(|(id, _)| *id).collect();
            let side_a: BTreeSet<NodeId> =
                all.iter().copied().filter(|_| rng.chance(0.5)).collect();
            let side_b: BTreeSet<NodeId> = all.difference(&side_a).copied().collect();
            let mut qa = Votequorum::new(&o, &nodes);
            let mut qb = qa.clone();
            qa.update(at(0), &all);
            qb.update(at(0), &all);
            let a = qa.update(at(1), &side_a);
            let b = qb.update(at(1), &side_b);
            assert!(
                !(a.quorate && b.quorate),
                "case {case}: {nodes:?} {side_a:?}={a:?} {side_b:?}={b:?}"
            );
        }
    }
}
