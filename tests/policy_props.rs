//! Property tests of the placement solver over random configs and states.
//!
//! Goal: invariants that must hold for every input, not just the hand-made
//! scenarios: the solver is deterministic; never places a resource on a
//! node with a negative score or on a node that cannot run resources;
//! respects mandatory colocations (+/-INFINITY) and bans; keeps a group's
//! members on one node with the running members a prefix of the group; and
//! once the transition is applied, solving again yields no actions.
//! Method: a seeded generator (fixed seeds, so a failure replays) writes
//! random TOML (nodes, primitives, groups, clones, locations, colocations,
//! orders, stickiness, thresholds) and a random state (node states, active
//! resources, fail-counts, failed resources) and checks every property.

use std::collections::BTreeSet;

use ha::config::{self, Config};
use ha::policy::{self, ClusterState, FailCount, NodeState};
use ha::transition;

/// splitmix64: small, seeded, good enough to draw test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

struct Case {
    config: Config,
    state: ClusterState,
    /// (dependent, primary, score) as written, ids of primitives/groups.
    colocations: Vec<(String, String, String)>,
    /// (resource, node) with -inf.
    bans: Vec<(String, String)>,
    groups: Vec<Vec<String>>,
    clones: Vec<String>,
    text: String,
}

fn generate(seed: u64) -> Case {
    let mut rng = Rng(seed);
    let n_nodes = 2 + rng.below(4);
    let nodes: Vec<String> = (1..=n_nodes).map(|i| format!("n{i}")).collect();
    let mut t = String::from(
        "[cluster]\nname = \"p\"\nkey_file = \"/nonexistent/ha.key\"\nstonith_enabled = false\n",
    );
    if rng.chance(20) {
        t.push_str("symmetric = false\n");
    }
    t.push_str("\n[[heartbeat.link]]\n\n");
    for (i, n) in nodes.iter().enumerate() {
        let site = if rng.chance(50) { "a" } else { "b" };
        t.push_str(&format!(
            "[[node]]\nname = \"{n}\"\nid = {}\naddrs = [\"10.0.0.{}\"]\nattributes = {{ site = \"{site}\" }}\n\n",
            i + 1,
            i + 1
        ));
    }
    t.push_str(&format!(
        "[defaults]\nstickiness = {}\n\n",
        rng.pick(&[0, 0, 50, 100, 1000])
    ));
    let k = 2 + rng.below(8);
    let prims: Vec<String> = (1..=k).map(|i| format!("r{i}")).collect();
    for p in &prims {
        t.push_str(&format!("[resource.{p}]\nagent = \"systemd:{p}\"\n"));
        if rng.chance(15) {
            t.push_str(&format!("stickiness = {}\n", rng.pick(&[0, 30, 100, 500])));
        }
        if rng.chance(15) {
            t.push_str(&format!("migration_threshold = {}\n", 1 + rng.below(3)));
        }
        if rng.chance(10) {
            t.push_str(&format!("priority = {}\n", 1 + rng.below(5)));
        }
        if rng.chance(4) {
            t.push_str("target_role = \"stopped\"\n");
        }
        t.push('\n');
    }
    // Groups of consecutive primitives; one clone of a lone primitive.
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut i = 0;
    while i < k {
        if rng.chance(30) && i + 1 < k {
            let size = (2 + rng.below(2)).min(k - i);
            groups.push(prims[i..i + size].to_vec());
            i += size;
        } else {
            i += 1;
        }
    }
    for (gi, g) in groups.iter().enumerate() {
        let members: Vec<String> = g.iter().map(|m| format!("\"{m}\"")).collect();
        t.push_str(&format!(
            "[group.g{}]\nresources = [{}]\n\n",
            gi + 1,
            members.join(", ")
        ));
    }
    let grouped: BTreeSet<&String> = groups.iter().flatten().collect();
    let singles: Vec<String> = prims
        .iter()
        .filter(|p| !grouped.contains(p))
        .cloned()
        .collect();
    let mut clones = Vec::new();
    if !singles.is_empty() && rng.chance(30) {
        let child = rng.pick(&singles).clone();
        t.push_str(&format!("[clone.{child}-clone]\nresource = \"{child}\"\n"));
        if rng.chance(50) {
            t.push_str(&format!("max = {}\n", 1 + rng.below(n_nodes)));
        }
        t.push('\n');
        clones.push(child);
    }
    // Top-level ids: groups and lone primitives (not clones, to keep the
    // colocation checks simple); the clone id may be located.
    let mut tops: Vec<String> = (1..=groups.len()).map(|g| format!("g{g}")).collect();
    tops.extend(singles.iter().filter(|p| !clones.contains(p)).cloned());
    let mut bans = Vec::new();
    for _ in 0..rng.below(5) {
        let mut targets = tops.clone();
        targets.extend(clones.iter().map(|c| format!("{c}-clone")));
        let rsc = rng.pick(&targets).clone();
        let score = *rng.pick(&["\"-inf\"", "-100", "50", "100", "1000", "\"inf\""]);
        if rng.chance(25) {
            t.push_str(&format!(
                "[[location]]\nresource = \"{rsc}\"\nrule = {{ attribute = \"site\", op = \"eq\", value = \"a\" }}\nscore = {score}\n\n"
            ));
        } else {
            let node = rng.pick(&nodes).clone();
            if score == "\"-inf\"" {
                bans.push((rsc.clone(), node.clone()));
            }
            t.push_str(&format!(
                "[[location]]\nresource = \"{rsc}\"\nnode = \"{node}\"\nscore = {score}\n\n"
            ));
        }
    }
    // Acyclic colocations: the dependent comes later in a random order.
    let mut perm = tops.clone();
    for i in (1..perm.len()).rev() {
        let j = rng.below(i + 1);
        perm.swap(i, j);
    }
    let mut colocations = Vec::new();
    if perm.len() >= 2 {
        for _ in 0..rng.below(4) {
            let a = rng.below(perm.len() - 1);
            let b = a + 1 + rng.below(perm.len() - a - 1);
            let (dep, prim) = (perm[b].clone(), perm[a].clone());
            if colocations
                .iter()
                .any(|(d, p, _): &(String, String, String)| *d == dep && *p == prim)
            {
                continue;
            }
            let score = rng
                .pick(&["\"-inf\"", "-500", "100", "\"inf\""])
                .to_string();
            t.push_str(&format!(
                "[[colocation]]\nresource = \"{dep}\"\nwith = \"{prim}\"\nscore = {score}\n\n"
            ));
            colocations.push((dep, prim, score));
        }
        for _ in 0..rng.below(3) {
            let a = rng.below(perm.len() - 1);
            let b = a + 1 + rng.below(perm.len() - a - 1);
            let kind = rng.pick(&["mandatory", "optional", "serialize"]);
            t.push_str(&format!(
                "[[order]]\nfirst = \"{}\"\nthen = \"{}\"\nkind = \"{kind}\"\n\n",
                perm[a], perm[b]
            ));
        }
    }
    let config = match config::parse(&t, "prop.toml") {
        Ok(l) => l.config,
        Err(d) => panic!("seed {seed}: generated config invalid:\n{t}\n{d:?}"),
    };
    // The state.
    let mut state = ClusterState::all_online(&config);
    for n in &nodes {
        let s = match rng.below(10) {
            0 => NodeState::Standby,
            1 => NodeState::Offline,
            _ => NodeState::Online,
        };
        state.nodes.insert(n.clone(), s);
    }
    let up: Vec<String> = nodes
        .iter()
        .filter(|n| state.node_state(n) != NodeState::Offline)
        .cloned()
        .collect();
    if !up.is_empty() {
        for g in &groups {
            if rng.chance(50) {
                let node = rng.pick(&up).clone();
                let upto = if rng.chance(85) {
                    g.len()
                } else {
                    1 + rng.below(g.len())
                };
                for m in &g[..upto] {
                    state.active.insert(m.clone(), vec![node.clone()]);
                }
            }
        }
        for p in &singles {
            if clones.contains(p) {
                let id = format!("{p}-clone");
                let on: Vec<String> = up.iter().filter(|_| rng.chance(50)).cloned().collect();
                state.active.insert(id, on);
            } else if rng.chance(50) {
                state.active.insert(p.clone(), vec![rng.pick(&up).clone()]);
            }
        }
        for p in &prims {
            if rng.chance(15) {
                let node = rng.pick(&nodes).clone();
                state.failcounts.insert(
                    (p.clone(), node.clone()),
                    FailCount {
                        count: 1 + rng.below(3) as u32,
                        last_failure_ms: None,
                    },
                );
                let key = if clones.contains(p) {
                    format!("{p}-clone")
                } else {
                    p.clone()
                };
                if state.active.get(&key).is_some_and(|v| v.contains(&node)) && rng.chance(50) {
                    state.failed.insert((key, node));
                }
            }
        }
    }
    Case {
        config,
        state,
        colocations,
        bans,
        groups,
        clones,
        text: t,
    }
}

/// The primitives an id stands for (a group's members).
fn members(case: &Case, id: &str) -> Vec<String> {
    match id.strip_prefix('g').and_then(|n| n.parse::<usize>().ok()) {
        Some(g) => case.groups[g - 1].clone(),
        None => vec![id.to_string()],
    }
}

fn nodes_of(p: &policy::Placement, case: &Case, id: &str) -> Vec<String> {
    let mut out: Vec<String> = members(case, id)
        .iter()
        .flat_map(|m| p.nodes(m).to_vec())
        .collect();
    out.sort();
    out.dedup();
    out
}

const SEEDS: u64 = 400;

#[test]
fn solver_is_deterministic() {
    // Same inputs, same placement and same transition, every time.
    for seed in 0..SEEDS {
        let case = generate(seed);
        let a = policy::place(&case.config, &case.state);
        let b = policy::place(&case.config, &case.state);
        assert_eq!(a, b, "seed {seed}");
        let ga = transition::plan(&case.config, &case.state, &a);
        let gb = transition::plan(&case.config, &case.state, &b);
        assert_eq!(ga, gb, "seed {seed}");
    }
}

#[test]
fn never_places_on_a_negative_score_or_unusable_node() {
    // A primitive (outside clones) is only ever assigned to a node where its
    // final score is >= 0 and which can run resources.
    for seed in 0..SEEDS {
        let case = generate(seed);
        let p = policy::place(&case.config, &case.state);
        for r in &case.config.resources {
            if case.clones.contains(&r.id) {
                continue;
            }
            for node in p.nodes(&r.id) {
                let s = p.scores[&r.id].iter().find(|s| &s.node == node).unwrap();
                assert!(
                    s.score.value() >= 0,
                    "seed {seed}: {} on {node} with score {}\n{}",
                    r.id,
                    s.score,
                    case.text
                );
                assert!(s.available, "seed {seed}: {} on unavailable {node}", r.id);
            }
        }
        for c in &case.clones {
            for node in p.nodes(&format!("{c}-clone")) {
                assert!(
                    case.state.node_state(node).can_run(),
                    "seed {seed}: clone on unavailable {node}"
                );
            }
        }
    }
}

#[test]
fn mandatory_colocations_and_bans_always_hold() {
    // +INFINITY: a placed dependent runs where its primary runs (a group
    // primary: where its members run). -INFINITY: never together. A
    // location ban keeps the resource (every member) off the node.
    for seed in 0..SEEDS {
        let case = generate(seed);
        let p = policy::place(&case.config, &case.state);
        for (dep, prim, score) in &case.colocations {
            let d = nodes_of(&p, &case, dep);
            let q = nodes_of(&p, &case, prim);
            match score.as_str() {
                "\"inf\"" => {
                    for n in &d {
                        assert!(
                            q.contains(n),
                            "seed {seed}: {dep} on {n} but {prim} on {q:?}\n{}",
                            case.text
                        );
                    }
                }
                "\"-inf\"" => {
                    for n in &d {
                        assert!(
                            !q.contains(n),
                            "seed {seed}: {dep} and {prim} both on {n}\n{}",
                            case.text
                        );
                    }
                }
                _ => {}
            }
        }
        for (rsc, node) in &case.bans {
            let on = match rsc.strip_suffix("-clone") {
                Some(_) => p.nodes(rsc).to_vec(),
                None => nodes_of(&p, &case, rsc),
            };
            assert!(
                !on.contains(node),
                "seed {seed}: {rsc} on banned {node}\n{}",
                case.text
            );
        }
    }
}

#[test]
fn group_members_share_a_node_and_run_as_a_prefix() {
    // A group's placed members are on one node, and they are the first
    // members in order (a member that cannot run stops those after it).
    for seed in 0..SEEDS {
        let case = generate(seed);
        let p = policy::place(&case.config, &case.state);
        for g in &case.groups {
            let placed: Vec<bool> = g.iter().map(|m| !p.nodes(m).is_empty()).collect();
            let first_gap = placed.iter().position(|x| !x).unwrap_or(placed.len());
            assert!(
                placed[first_gap..].iter().all(|x| !x),
                "seed {seed}: group {g:?} placed {placed:?}\n{}",
                case.text
            );
            let mut nodes: Vec<&String> = g.iter().flat_map(|m| p.nodes(m)).collect();
            nodes.dedup();
            assert!(
                nodes.len() <= 1,
                "seed {seed}: group {g:?} split over {nodes:?}\n{}",
                case.text
            );
        }
    }
}

/// The state once `placement` has been reached: resources run where
/// placed, recovered ones are no longer failed, fail-counts stay, unclean
/// nodes have been fenced.
fn apply(state: &ClusterState, placement: &policy::Placement) -> ClusterState {
    let mut after = state.clone();
    after.failed.clear();
    after.active.clear();
    for (rsc, nodes) in &placement.assigned {
        if !nodes.is_empty() {
            after.active.insert(rsc.clone(), nodes.clone());
        }
    }
    for s in after.nodes.values_mut() {
        if *s == NodeState::Unclean {
            *s = NodeState::Offline;
        }
    }
    after
}

#[test]
fn solving_again_after_the_transition_changes_nothing() {
    // Apply the transition and solve again: no actions. Pacemaker itself
    // is not always settled after one transition: the dependent of a
    // colocation is folded into its primary's scores with its current
    // stickiness, so once the dependent has moved, the primary may move in
    // the next transition (crm_simulate 2.1.5 does exactly that for seeds
    // 147 and 247 here; see `second_transition_can_move_a_primary_like_
    // pacemaker` in tests/policy.rs). So the property is: settled after
    // one transition unless a colocation is involved, always settled
    // within three, and settled after one in at least 95% of the seeds.
    let mut settled_first = 0;
    for seed in 0..SEEDS {
        let case = generate(seed);
        let mut state = case.state.clone();
        let mut steps = 0;
        loop {
            let p = policy::place(&case.config, &state);
            let g = transition::plan(&case.config, &state, &p);
            if g.changes.is_empty() {
                break;
            }
            steps += 1;
            assert!(
                steps <= 1 || !case.colocations.is_empty(),
                "seed {seed}: transition {steps} not empty: {:?}\n{}",
                g.changes,
                case.text
            );
            assert!(
                steps <= 3,
                "seed {seed}: not settled after 3 transitions: {:?}\n{}",
                g.changes,
                case.text
            );
            state = apply(&state, &p);
        }
        if steps <= 1 {
            settled_first += 1;
        }
    }
    eprintln!("settled after one transition: {settled_first} of {SEEDS} seeds");
    assert!(
        settled_first * 100 >= SEEDS * 95,
        "only {settled_first} of {SEEDS} settled after one transition"
    );
}
