//! Random clusters and fault histories, all drawn from one seed.
//!
//! [`config_text`] writes an ha.toml (nodes, links, quorum options,
//! resources and groups, fencing by devices and/or watchdog); [`run`] boots
//! it in a [`Sim`], injects random faults for a while, then stops faulting,
//! heals everything and checks that the cluster converges within the bound
//! of [`check::convergence_bound`].

use super::{AgentModel, FenceBehaviour, LinkModel, Sim, check};
use crate::cib::Role;
use crate::config;
use crate::ctl::proto::{NodeRole, Request, Response};
use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// The outcome of one seeded history.
#[derive(Debug)]
pub struct Outcome {
    pub seed: u64,
    /// `Some(report)` on an invariant violation or a failure to converge.
    pub failure: Option<String>,
    pub steps: u64,
    /// [`Sim::sealed`] and [`Sim::opened`] at the end.
    pub sealed: u64,
    pub opened: u64,
    pub bound: Duration,
    pub simulated: Duration,
    /// [`Sim::digest`] at the end: equal for two runs of one seed.
    pub digest: u64,
    /// Operator changes a DC answered "done" that the converged cluster
    /// no longer holds ([`Acked`]); measured, not yet an invariant.
    pub lost_acks: Vec<String>,
}

/// Changes an operator was told a DC made (a node's role, a resource's
/// target role), each the last asked of its object: after the faults, the
/// converged DC's state should still hold them. Only counted in histories
/// that keep persisted state (a node that loses its disk loses what it
/// alone had) and only for objects no later request touched (one
/// submitted through a member may be applied after, or never).
#[derive(Default)]
struct Acked(std::collections::BTreeMap<Changed, Option<Value>>);

/// What an operator's change was about.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Changed {
    RoleOf(String),
    TargetRoleOf(String),
}

/// The value an operator asked for: a node role, or a target role.
#[derive(Debug, PartialEq)]
enum Value {
    Role(Role),
    Started(Option<bool>),
}

impl Acked {
    fn asked(request: &Request) -> Option<(Changed, Value)> {
        match request {
            Request::NodeRole { node, role } => {
                let role = match role {
                    NodeRole::Standby => Role::Standby,
                    NodeRole::Maintenance => Role::Maintenance,
                    NodeRole::Online | NodeRole::Ready => Role::Online,
                };
                Some((Changed::RoleOf(node.clone()), Value::Role(role)))
            }
            Request::TargetRole { resource, started } => Some((
                Changed::TargetRoleOf(resource.clone()),
                Value::Started(Some(*started)),
            )),
            _ => None,
        }
    }

    fn note(&mut self, request: &Request, response: Option<&Response>) {
        let Some((changed, value)) = Acked::asked(request) else {
            return;
        };
        match response {
            Some(Response::Ok { message }) if message.starts_with("submitted") => {
                self.0.insert(changed, None);
            }
            Some(Response::Ok { .. }) => {
                self.0.insert(changed, Some(value));
            }
            _ => {}
        }
    }

    fn lost(&self, cib: &crate::cib::Cib) -> Vec<String> {
        self.0
            .iter()
            .filter_map(|(changed, want)| {
                let want = want.as_ref()?;
                let have = match changed {
                    Changed::RoleOf(node) => Value::Role(cib.role(node)),
                    Changed::TargetRoleOf(r) => Value::Started(cib.target_roles.get(r).copied()),
                };
                (*want != have).then(|| format!("{changed:?}: told {want:?}, now {have:?}"))
            })
            .collect()
    }
}

/// A random cluster config, as ha.toml text; with `big`, 1 in 100 has 8 to
/// 16 nodes (the most ha supports; each costs about as much as 10 small
/// histories, so they stay rare).
pub fn config_text(rng: &mut Rng, big: bool) -> String {
    let mut n = match rng.below(10) {
        0 => 1,
        1..=3 => 2,
        4..=6 => 3,
        7 | 8 => 5,
        _ => 2 + rng.below(6) as usize,
    };
    // From a copy of the generator: the rest of the config is drawn as
    // without big clusters.
    let mut b = rng.clone().fork();
    if big && b.chance(0.01) {
        n = 8 + b.below(9) as usize;
    }
    let links = if rng.chance(0.3) { 2 } else { 1 };
    let interval = [100, 200][rng.below(2) as usize];
    let timeout = interval * (5 + rng.below(4));
    let two_node = n == 2 && rng.chance(0.7);
    let devices = two_node || rng.chance(0.6);
    let watchdog = !devices || rng.chance(0.3);
    let mut t = String::new();
    t += "[cluster]\nname = \"sim\"\nkey_file = \"/etc/ha.key\"\n";
    t += &format!("[heartbeat]\ninterval = \"{interval}ms\"\ntimeout = \"{timeout}ms\"\n");
    for l in 0..links {
        t += &format!("[[heartbeat.link]]\nnetwork = \"10.{l}.0.0/16\"\n");
    }
    t += "[quorum]\n";
    if two_node {
        t += "two_node = true\n";
    } else {
        if rng.chance(0.2) {
            t += "wait_for_all = true\n";
        }
        if n >= 3 && devices && rng.chance(0.2) {
            t += "last_man_standing = true\nlast_man_standing_window = \"3s\"\n";
        }
        if n % 2 == 0 && rng.chance(0.3) {
            t += "auto_tie_breaker = true\n";
        }
    }
    for i in 1..=n {
        let addrs: Vec<String> = (0..links).map(|l| format!("\"10.{l}.0.{i}\"")).collect();
        t += &format!(
            "[[node]]\nname = \"n{i}\"\nid = {i}\naddrs = [{}]\n",
            addrs.join(", ")
        );
    }
    let prims = 1 + rng.below(3);
    for r in 0..prims {
        t += &format!(
            "[resource.r{r}]\nagent = \"ocf:sim:dummy\"\nops = [{{ name = \"monitor\", interval = \"2s\", timeout = \"3s\" }}, {{ name = \"start\", timeout = \"3s\" }}, {{ name = \"stop\", timeout = \"3s\" }}]\n"
        );
    }
    let group = rng.chance(0.5);
    if group {
        // Group members are monitored too, so a member can die under a
        // running later one (the DC must stop that one first).
        let ops = "ops = [{ name = \"monitor\", interval = \"2s\", timeout = \"3s\" }]\n";
        t += &format!(
            "[resource.g0]\nagent = \"ocf:sim:dummy\"\n{ops}[resource.g1]\nagent = \"ocf:sim:dummy\"\n{ops}[group.grp]\nresources = [\"g0\", \"g1\"]\n"
        );
    }
    // Order constraints, drawn from a copy of the generator so everything
    // after them draws what it drew before orders were generated (seeds
    // without orders keep their histories).
    let mut o = rng.clone().fork();
    let mut ids: Vec<String> = (0..prims).map(|r| format!("r{r}")).collect();
    if group {
        ids.push("grp".to_string());
    }
    if ids.len() >= 2 && o.chance(0.4) {
        for _ in 0..1 + o.below(2) {
            // first before then in `ids`: never a cycle.
            let a = o.below(ids.len() as u64 - 1) as usize;
            let b = a + 1 + o.below((ids.len() - a - 1) as u64) as usize;
            let kind = [
                "mandatory",
                "mandatory",
                "mandatory",
                "optional",
                "serialize",
            ][o.below(5) as usize];
            let symmetrical = kind != "serialize" && o.chance(0.7);
            t += &format!(
                "[[order]]\nfirst = \"{}\"\nthen = \"{}\"\nkind = \"{kind}\"\nsymmetrical = {symmetrical}\n",
                ids[a], ids[b]
            );
        }
    }
    t += "[defaults]\nop_timeout = \"3s\"\n";
    if watchdog {
        // The watchdog must outlast the lease and the heartbeat timeout
        // (see docs/simulator.md); 5x the timeout keeps a margin.
        t += &format!(
            "[watchdog]\ndevice = \"/dev/watchdog\"\ntimeout = \"{}s\"\n",
            (timeout * 5).div_ceil(1000).max(3)
        );
    }
    if devices {
        for i in 1..=n {
            // In a two-node cluster node 1 is protected by a delay, so a
            // fence race leaves node 1 standing.
            let delay = if two_node && i == 1 { "3s" } else { "0s" };
            t += &format!(
                "[[fence]]\nname = \"ipmi-n{i}\"\ndriver = \"external\"\ntargets = [\"n{i}\"]\ndelay = \"{delay}\"\nparams = {{ agent = \"fence_sim\" }}\n"
            );
        }
    }
    t
}

/// One request an operator might make (crmsh's everyday commands), on a
/// random resource or node of `config`. Requests go to a random node,
/// quorate or not, DC or not, as they would.
pub fn operator_request(config: &config::Config, rng: &mut Rng) -> Request {
    let pick = |rng: &mut Rng, n: usize| rng.below(n as u64) as usize;
    let node = config.nodes[pick(rng, config.nodes.len())].name.clone();
    // Primitives and groups, as a user names them.
    let mut ids: Vec<String> = config
        .resources
        .iter()
        .filter(|r| config.group_of(&r.id).is_none())
        .map(|r| r.id.clone())
        .collect();
    ids.extend(config.groups.iter().map(|g| g.id.clone()));
    let resource = ids[pick(rng, ids.len())].clone();
    match rng.below(14) {
        0 => Request::NodeRole {
            node,
            role: NodeRole::Standby,
        },
        1 | 2 => Request::NodeRole {
            node,
            role: NodeRole::Online,
        },
        3 => Request::Move {
            resource,
            node,
            lifetime_ms: if rng.chance(0.5) {
                Some(1000 + rng.below(20_000))
            } else {
                None
            },
        },
        4 => Request::Ban { resource, node },
        5 | 6 => Request::Clear { resource },
        7 => Request::TargetRole {
            resource,
            started: false,
        },
        8 | 9 => Request::TargetRole {
            resource,
            started: true,
        },
        10 => {
            if rng.chance(0.5) {
                Request::Restart { resource }
            } else {
                Request::Cleanup {
                    resource,
                    node: Some(node),
                }
            }
        }
        11 => Request::Fence { node },
        12 => Request::NodeRole {
            node,
            role: NodeRole::Maintenance,
        },
        _ => Request::NodeRole {
            node,
            role: NodeRole::Ready,
        },
    }
}

/// Parses config text the way `ha check` does; panics with every
/// diagnostic if it does not validate (a bug in the generator).
pub fn parse(text: &str) -> config::Config {
    match config::parse(text, "sim.toml") {
        Ok(loaded) => loaded.config,
        Err(d) => panic!(
            "simulated config does not validate:\n{}\n---\n{text}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

/// What a history may do besides network, node, agent and fence faults.
#[derive(Clone, Copy, Debug)]
pub struct Extras {
    /// An operator at work during the faults, on random nodes: standby and
    /// online, maintenance and ready, move, ban, clear, stop and start,
    /// restart, cleanup, fence
    /// ([`operator_request`]), as users of crmsh do.
    pub operator: bool,
    /// Now and then a cluster of 8 to 16 nodes ([`config_text`]).
    pub big_clusters: bool,
    /// Every node built with the test-only `unsafe_skip_fencing_wait` (to
    /// show that the checker catches it).
    pub unsafe_skip_fencing_wait: bool,
}

impl Extras {
    /// What [`run`] uses.
    pub const ALL: Extras = Extras {
        operator: true,
        big_clusters: true,
        unsafe_skip_fencing_wait: false,
    };
    /// Histories as they were before operator requests and big clusters
    /// were drawn: seeds found then replay the history that found them.
    pub const NO_OPERATOR: Extras = Extras {
        operator: false,
        big_clusters: false,
        unsafe_skip_fencing_wait: false,
    };
}

/// Runs one seeded history: random config, faults (and operator requests)
/// for `fault_time`, then heal and require convergence within the bound.
pub fn run(seed: u64, fault_time: Duration) -> Outcome {
    run_with(seed, fault_time, Extras::ALL)
}

/// [`run`] with a choice of [`Extras`].
pub fn run_with(seed: u64, fault_time: Duration, extras: Extras) -> Outcome {
    let mut rng = Rng::new(seed ^ 0x5eed_5eed);
    let text = config_text(&mut rng, extras.big_clusters);
    let config = parse(&text);
    let mut sim = Sim::new(config, seed);
    if sim.verbose {
        println!("{text}---");
    }
    sim.agent = AgentModel {
        op_ms: (5, 300),
        start_fail: if rng.chance(0.3) { 0.1 } else { 0.0 },
        stop_fail: if rng.chance(0.2) { 0.05 } else { 0.0 },
        hang: if rng.chance(0.2) { 0.03 } else { 0.0 },
        die: if rng.chance(0.3) { 0.05 } else { 0.0 },
    };
    sim.fence = if rng.chance(0.2) {
        FenceBehaviour::Works {
            latency_ms: 2000 + rng.below(3000),
        }
    } else {
        FenceBehaviour::Works {
            latency_ms: 50 + rng.below(500),
        }
    };
    let fence_flaky = rng.chance(0.2);
    sim.keep_persisted = rng.chance(0.7);
    for n in sim.nodes.iter_mut() {
        n.unsafe_skip_fencing_wait = extras.unsafe_skip_fencing_wait;
    }
    // Operator requests come from a copy of the generator, so the faults
    // are those the seed drew before requests existed.
    let mut ops = rng.clone().fork();
    let operator = extras.operator && ops.chance(0.5);
    let mut acked = Acked::default();
    sim.start_all();
    let n = sim.nodes.len();
    let faults_end = Instant::ZERO + Duration::from_secs(3) + fault_time;
    while sim.now < faults_end && sim.violation.is_none() {
        let gap = Duration::from_millis(200 + rng.below(3000));
        let until = (sim.now + gap).min(faults_end);
        sim.run_until(until);
        if sim.violation.is_some() || sim.now >= faults_end {
            break;
        }
        inject_fault(&mut sim, &mut rng, n, fence_flaky);
        if operator && ops.chance(0.3) {
            let at = ops.below(n as u64) as usize;
            let request = operator_request(&sim.config, &mut ops);
            let what = format!("{request:?}");
            let response = sim.request(at, request.clone());
            acked.note(&request, response.as_ref());
            match response {
                Some(response) => {
                    sim.note(format!("operator on n{}: {what} -> {response:?}", at + 1))
                }
                None => sim.note(format!("operator on n{}: {what} -> node down", at + 1)),
            }
        }
    }
    // Faults stop: heal the network, wake and restart everything, make
    // agents and fence devices reliable again.
    sim.heal();
    sim.agent = AgentModel {
        op_ms: sim.agent.op_ms,
        ..AgentModel::default()
    };
    if let FenceBehaviour::Fails { latency_ms } = sim.fence {
        sim.fence = FenceBehaviour::Works { latency_ms };
    }
    sim.reboot_after = Some(Duration::from_secs(1));
    // A machine powered off by a fence device stays off until the fences
    // asked because it went off have landed (a real power cycle takes
    // minutes, a fence seconds). Back sooner, it is shot again by a fence
    // asked by a DC that is itself powered off meanwhile by one asked
    // before: with a slow device two DCs shot each other every 3.6 s
    // for ever (seed 10003440877657712702). The device's delay is not
    // added: a node is fenced again only when heard alive after its fence
    // (`Node::confirmed_off`; seed 16853105276787414024 needed the delay
    // while a heartbeat in flight counted). While faults run, faster
    // reboots stay: their races are worth exploring.
    let latency = match sim.fence {
        FenceBehaviour::Works { latency_ms } | FenceBehaviour::Fails { latency_ms } => latency_ms,
    };
    sim.power_cycle = Some(
        Duration::from_secs(1)
            + Duration::from_millis(latency)
            + sim.config.heartbeat.timeout.saturating_mul(2),
    );
    for i in 0..n {
        if sim.nodes[i].node.is_none() {
            sim.boot(i);
        }
        // A pause still running is a fault too: the bound below counts
        // from now (seed 3946959557019728428 spent 7 s of its 11 s bound
        // paused).
        sim.resume(i);
    }
    let bound = check::convergence_bound(&sim);
    let healed_at = sim.now;
    let deadline = healed_at + bound;
    // Converged: twice in a row, 500 ms apart, with no action issued in
    // between (a DC ticks at least every 200 ms, so one about to act
    // again is not taken for settled).
    // The second look may fall after the deadline; the first must not.
    let mut converged_at = None;
    let mut candidate: Option<(Instant, u64)> = None;
    let confirm = Duration::from_millis(500);
    while sim.violation.is_none() && sim.now < deadline + confirm {
        let until = sim.now + confirm;
        sim.run_until(until.min(deadline + confirm));
        if check::converged(&sim).is_some() {
            candidate = None;
            continue;
        }
        let issued = sim.checks.issued_count;
        match candidate {
            Some((at, before)) if before == issued => {
                converged_at = Some(at);
                break;
            }
            _ if sim.now <= deadline => candidate = Some((sim.now, issued)),
            _ => break,
        }
    }
    let failure = if let Some(v) = sim.violation.clone() {
        Some(sim.report(&v))
    } else if converged_at.is_none() {
        let why = check::converged(&sim).unwrap_or_default();
        Some(sim.report(&format!(
            "invariant 4: not converged {bound} after faults stopped: {why}"
        )))
    } else {
        None
    };
    let lost_acks = match (&failure, sim.dc()) {
        (None, Some(dc)) if sim.keep_persisted => sim.nodes[dc]
            .node
            .as_ref()
            .map(|n| {
                let q = &sim.config.quorum;
                let kind = if q.two_node {
                    "two_node"
                } else if q.last_man_standing {
                    "last_man_standing"
                } else {
                    "majority"
                };
                acked
                    .lost(n.cib())
                    .into_iter()
                    .map(|l| format!("{l} ({kind})"))
                    .collect()
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Outcome {
        seed,
        failure,
        lost_acks,
        steps: sim.steps,
        sealed: sim.sealed,
        opened: sim.opened,
        bound,
        simulated: Duration::from_millis(sim.now.as_millis()),
        digest: sim.digest,
    }
}

fn inject_fault(sim: &mut Sim, rng: &mut Rng, n: usize, fence_flaky: bool) {
    let pick = |rng: &mut Rng| rng.below(n as u64) as usize;
    match rng.below(12) {
        0 | 1 => {
            // Symmetric split into two random sides.
            let mut side: Vec<usize> = (0..n).collect();
            rng.shuffle(&mut side);
            let cut = 1 + rng.below(n.max(2) as u64 - 1) as usize;
            let (a, b) = side.split_at(cut.min(n));
            sim.partition(&[a, b]);
        }
        2 => {
            let (a, b) = (pick(rng), pick(rng));
            sim.set_reach(&[a], &[b], false);
            sim.note(format!("one-way cut n{} -> n{}", a + 1, b + 1));
        }
        3 => {
            // Non-transitive: cut one pair, leave the rest.
            let (a, b) = (pick(rng), pick(rng));
            sim.set_reach(&[a], &[b], false);
            sim.set_reach(&[b], &[a], false);
            sim.note(format!("cut pair n{} <-> n{}", a + 1, b + 1));
        }
        4 => sim.heal(),
        5 => {
            let loss = [0.05, 0.2, 0.5][rng.below(3) as usize];
            let model = LinkModel {
                loss,
                delay_ms: 1 + rng.below(20),
                jitter_ms: rng.below(40),
                duplicate: 0.05,
            };
            for l in sim.links.iter_mut() {
                for row in l.iter_mut() {
                    for m in row.iter_mut().flatten() {
                        *m = model;
                    }
                }
            }
            sim.note(format!("lossy network {model:?}"));
        }
        6 => {
            let i = pick(rng);
            sim.crash(i);
        }
        7 => {
            let i = pick(rng);
            let d = Duration::from_millis(500 + rng.below(8000));
            sim.pause(i, d);
        }
        8 => {
            let i = pick(rng);
            sim.clock_jump(i, Duration::from_millis(100 + rng.below(5000)));
        }
        9 => {
            // Link flap: one link down for everyone.
            let l = rng.below(sim.links.len() as u64) as usize;
            for row in sim.links[l].iter_mut() {
                for m in row.iter_mut() {
                    *m = None;
                }
            }
            sim.note(format!("link {l} down"));
        }
        10 => {
            if fence_flaky {
                sim.fence = FenceBehaviour::Fails { latency_ms: 200 };
                sim.note("fence device failing".to_string());
            }
        }
        _ => {
            if let FenceBehaviour::Fails { .. } = sim.fence {
                sim.fence = FenceBehaviour::Works { latency_ms: 200 };
                sim.note("fence device working".to_string());
            }
        }
    }
}
