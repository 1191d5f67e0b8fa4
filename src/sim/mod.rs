//! A deterministic simulator: whole clusters of [`Node`]s in one process.
//!
//! Everything is drawn from one seed: the network (per-link loss, delay,
//! jitter and so reordering, duplication; symmetric, one-way and
//! non-transitive partitions; link flaps), node faults (crash and restart
//! with a new incarnation and the persisted state kept or lost, pauses that
//! freeze a node and resume it with stale timers, forward clock jumps),
//! simulated agents (start/stop/monitor take time, can fail or hang) and
//! fence devices (succeed, fail, slow). The simulated agents are the ground
//! truth of what runs where; a crashed or fenced node's resources are gone.
//! A node's hardware watchdog resets it when it was not fed for the
//! watchdog timeout.
//!
//! After every step [`check`] verifies the safety invariants; a violation
//! stops the run with a message that names the seed (`HA_SIM_SEED=...`) so
//! it replays exactly. [`random`] builds a random cluster and fault
//! schedule from a seed; tests drive [`Sim`] directly for named scenarios.
//! This module does no I/O.

pub mod check;
pub mod random;

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::rc::Rc;

use crate::config::{Config, NodeId};
use crate::ctl::proto::{Request, Response};
use crate::node::{Action, ActionId, ActionKind, Dest, Node, Outcome};
use crate::rng::Rng;
use crate::time::{Duration, Instant};

/// Network conditions of one directed link.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LinkModel {
    pub loss: f64,
    pub delay_ms: u64,
    pub jitter_ms: u64,
    pub duplicate: f64,
}

impl Default for LinkModel {
    fn default() -> LinkModel {
        LinkModel {
            loss: 0.0,
            delay_ms: 1,
            jitter_ms: 2,
            duplicate: 0.0,
        }
    }
}

/// How a simulated fence device behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceBehaviour {
    /// Powers the target off after `latency`, then reports Ok.
    Works { latency_ms: u64 },
    /// Reports failure after `latency`; the target is untouched.
    Fails { latency_ms: u64 },
}

/// Agent fault knobs, per resource operation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AgentModel {
    pub op_ms: (u64, u64),
    pub start_fail: f64,
    pub stop_fail: f64,
    pub hang: f64,
    /// Chance per monitor that the resource has died meanwhile.
    pub die: f64,
}

impl Default for AgentModel {
    fn default() -> AgentModel {
        AgentModel {
            op_ms: (10, 200),
            start_fail: 0.0,
            stop_fail: 0.0,
            hang: 0.0,
            die: 0.0,
        }
    }
}

#[derive(Debug)]
enum Ev {
    /// The bytes are shared by every receiver of one broadcast.
    Deliver {
        to: usize,
        link: usize,
        bytes: Rc<Vec<u8>>,
    },
    /// Boxed: rare, and large; the heap moves every event on push and pop.
    Done(Box<Done>),
    Restart {
        node: usize,
    },
    Resume {
        node: usize,
    },
}

#[derive(Debug)]
struct Done {
    node: usize,
    incarnation: u64,
    id: ActionId,
    outcome: Outcome,
    effect: Effect,
    /// The resource of a start or stop a DC asked for, and whether it is
    /// a start (invariant 3's serialize and optional order checks).
    op: Option<(String, bool)>,
}

/// A scheduled event, ordered by time and then by scheduling order (`seq`
/// is unique), so equal instants run first-scheduled first.
#[derive(Debug)]
struct Queued {
    at: Instant,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Queued {
    fn eq(&self, other: &Queued) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}

impl Eq for Queued {}

impl PartialOrd for Queued {
    fn partial_cmp(&self, other: &Queued) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Queued {
    fn cmp(&self, other: &Queued) -> std::cmp::Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug, Clone)]
enum Effect {
    None,
    Stopped(String),
    /// A failed start leaves it running or not.
    StartFailed(String, bool),
    /// A start succeeded or a monitor found it running (invariant 3 holds
    /// `then` starts to this).
    Confirmed(String),
    PowerOff(usize),
}

/// More steps than this at one instant, or more events than this queued,
/// is a runaway history (see `Sim::steps_now`). Real histories take a few
/// dozen steps per instant and queue a few hundred events.
const RUNAWAY_STEPS: u64 = 100_000;
const RUNAWAY_QUEUE: usize = 1_000_000;

/// One simulated machine.
pub struct SimNode {
    pub id: NodeId,
    pub name: String,
    pub node: Option<Node>,
    pub incarnation: u64,
    pub persisted: Option<Vec<u8>>,
    pub paused: bool,
    /// Local clock = simulated time + offset (jumps only go forward).
    pub clock_offset: u64,
    /// Ground truth: resources whose processes run on this machine. Read
    /// it freely; change it only through `Sim`, which tells the checker.
    pub running: BTreeSet<String>,
    pub fed_at: Instant,
    /// Packets and results that arrived while paused.
    inbox: Vec<Ev>,
    /// `node.poll_timeout()` as of the last `drain`: a node's timers change
    /// only when it handles an input, and every input is followed by a
    /// drain, so `next_at` need not ask every node on every step.
    timer: Option<Instant>,
    pub unsafe_skip_fencing_wait: bool,
}

/// The simulator.
pub struct Sim {
    pub seed: u64,
    pub rng: Rng,
    pub now: Instant,
    pub config: Config,
    key: [u8; 32],
    pub nodes: Vec<SimNode>,
    queue: BinaryHeap<Reverse<Queued>>,
    seq: u64,
    /// `links[l][from][to]`: None = cut.
    pub links: Vec<Vec<Vec<Option<LinkModel>>>>,
    pub agent: AgentModel,
    pub fence: FenceBehaviour,
    /// Restart crashed/fenced nodes after this long (None: stay down).
    pub reboot_after: Option<Duration>,
    /// A machine a fence device powered off boots after this long instead
    /// (None: as after a crash, `reboot_after`). See `random`: once
    /// faults stop, a power cycle takes longer than fencing does.
    pub power_cycle: Option<Duration>,
    /// Keep the persisted state across a crash.
    pub keep_persisted: bool,
    pub log: Vec<String>,
    /// FNV-1a over every event line and every step's instant: two runs of
    /// one seed must end with the same digest (replay check).
    pub digest: u64,
    pub verbose: bool,
    pub violation: Option<String>,
    pub steps: u64,
    /// Steps taken at the current instant: a livelock (nodes answering
    /// each other without time passing) must end as a failure with its
    /// seed, not as a hung run.
    steps_now: u64,
    /// Datagrams the nodes sealed and datagrams handed to a node to open:
    /// each is one AEAD operation (docs/simulator.md, the cost floor).
    pub sealed: u64,
    pub opened: u64,
    /// Faults injected from outside (the random driver) make the checker
    /// allow two quorate DCs for two_node only.
    pub checks: check::Checks,
    /// When set, every datagram sent is also recorded here (from, to, link, bytes).
    pub record: Option<Vec<(usize, usize, usize, Vec<u8>)>>,
    /// Set whenever a machine's `running` set changes; invariant 2 depends
    /// on nothing else, so the checker re-counts only then.
    running_changed: bool,
    scratch_transmits: Vec<crate::node::Transmit>,
    scratch_actions: Vec<Action>,
}

impl Sim {
    /// A cluster of every node in `config`, all started at time zero.
    pub fn new(config: Config, seed: u64) -> Sim {
        let mut rng = Rng::new(seed);
        let mut key = [0u8; 32];
        rng.fill(&mut key);
        let n = config.nodes.len();
        let links = config.heartbeat.links.len().max(1);
        let mut sim = Sim {
            seed,
            rng,
            now: Instant::ZERO,
            key,
            nodes: Vec::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            links: vec![vec![vec![Some(LinkModel::default()); n]; n]; links],
            agent: AgentModel::default(),
            fence: FenceBehaviour::Works { latency_ms: 300 },
            reboot_after: Some(Duration::from_secs(5)),
            power_cycle: None,
            keep_persisted: true,
            log: Vec::new(),
            digest: 0xcbf2_9ce4_8422_2325,
            verbose: std::env::var_os("HA_SIM_VERBOSE").is_some(),
            violation: None,
            steps: 0,
            steps_now: 0,
            sealed: 0,
            opened: 0,
            checks: check::Checks::default(),
            record: None,
            running_changed: false,
            scratch_transmits: Vec::new(),
            scratch_actions: Vec::new(),
            config,
        };
        for i in 0..n {
            let c = &sim.config.nodes[i];
            sim.nodes.push(SimNode {
                id: c.id,
                name: c.name.clone(),
                node: None,
                incarnation: 0,
                persisted: None,
                paused: false,
                clock_offset: 0,
                running: BTreeSet::new(),
                fed_at: Instant::ZERO,
                inbox: Vec::new(),
                timer: None,
                unsafe_skip_fencing_wait: false,
            });
        }
        sim
    }

    /// Boots every node that is down.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            if self.nodes[i].node.is_none() {
                self.boot(i);
            }
        }
    }

    pub fn index(&self, name: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"))
    }

    fn local_now(&self, i: usize) -> Instant {
        self.now + Duration::from_millis(self.nodes[i].clock_offset)
    }

    pub fn note(&mut self, text: String) {
        let line = format!("{:>8}ms {text}", self.now.as_millis());
        self.mix(line.as_bytes());
        if self.verbose {
            eprintln!("{line}");
        }
        self.log.push(line);
        if self.log.len() > 400 {
            self.log.drain(..200);
        }
    }

    /// Boots node `i` with a new incarnation.
    pub fn boot(&mut self, i: usize) {
        let n = &mut self.nodes[i];
        n.incarnation += 1;
        n.paused = false;
        n.inbox.clear();
        let seed = self.rng.next_u64();
        let now = self.now + Duration::from_millis(n.clock_offset);
        let mut node = Node::new(
            self.config.clone(),
            n.id,
            n.incarnation,
            &self.key,
            n.persisted.as_deref(),
            seed,
            now,
        );
        node.set_unsafe_skip_fencing_wait(n.unsafe_skip_fencing_wait);
        n.node = Some(node);
        n.fed_at = self.now;
        let name = n.name.clone();
        let inc = n.incarnation;
        self.note(format!("boot {name} incarnation={inc}"));
        self.drain(i);
    }

    /// Hands node `i` a control request, as `ha` does over the local
    /// socket; None while it is down.
    pub fn request(&mut self, i: usize, request: Request) -> Option<Response> {
        let lnow = self.local_now(i);
        let response = self.nodes[i].node.as_mut()?.handle_request(lnow, request);
        self.drain(i);
        Some(response)
    }

    /// The process of `resource` on node `i` dies (its next monitor finds
    /// it not running); the node itself stays up.
    pub fn kill(&mut self, i: usize, resource: &str) {
        if self.nodes[i].running.remove(resource) {
            self.running_changed = true;
            let name = self.nodes[i].name.clone();
            self.note(format!("{resource} dies on {name}"));
        }
    }

    /// Node `i` crashes (or is powered off): its processes are gone.
    pub fn crash(&mut self, i: usize) {
        self.crash_then(i, self.reboot_after);
    }

    /// Node `i` goes down and boots again after `reboot` (None: stays down).
    fn crash_then(&mut self, i: usize, reboot: Option<Duration>) {
        if self.nodes[i].node.is_none() {
            return;
        }
        self.checks.crashed(i);
        let n = &mut self.nodes[i];
        n.node = None;
        self.running_changed |= !n.running.is_empty();
        n.running.clear();
        n.paused = false;
        n.inbox.clear();
        if !self.keep_persisted {
            n.persisted = None;
        }
        let name = n.name.clone();
        self.note(format!("crash {name}"));
        if let Some(after) = reboot {
            self.push(self.now + after, Ev::Restart { node: i });
        }
    }

    /// Freezes node `i` for `d` (SIGSTOP; its hardware watchdog keeps counting).
    pub fn pause(&mut self, i: usize, d: Duration) {
        if self.nodes[i].node.is_none() || self.nodes[i].paused {
            return;
        }
        self.nodes[i].paused = true;
        let name = self.nodes[i].name.clone();
        self.note(format!("pause {name} for {d}"));
        self.push(self.now + d, Ev::Resume { node: i });
    }

    /// Node `i`'s monotonic clock jumps forward.
    pub fn clock_jump(&mut self, i: usize, d: Duration) {
        self.nodes[i].clock_offset += d.as_millis();
        let name = self.nodes[i].name.clone();
        self.note(format!("clock jump {name} +{d}"));
    }

    /// Cuts or restores traffic from every node in `from` to every node in
    /// `to`, on every link.
    pub fn set_reach(&mut self, from: &[usize], to: &[usize], up: bool) {
        for l in 0..self.links.len() {
            for &a in from {
                for &b in to {
                    if a != b {
                        self.links[l][a][b] = if up { Some(LinkModel::default()) } else { None };
                    }
                }
            }
        }
    }

    /// Splits the cluster into groups that cannot talk to each other.
    pub fn partition(&mut self, groups: &[&[usize]]) {
        for (x, a) in groups.iter().enumerate() {
            for (y, b) in groups.iter().enumerate() {
                if x != y {
                    self.set_reach(a, b, false);
                }
            }
        }
        self.note(format!("partition {groups:?}"));
    }

    /// Restores every link to the default model.
    pub fn heal(&mut self) {
        let all: Vec<usize> = (0..self.nodes.len()).collect();
        self.set_reach(&all, &all, true);
        self.note("heal".to_string());
    }

    fn mix(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.digest = (self.digest ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn push(&mut self, at: Instant, ev: Ev) {
        self.seq += 1;
        self.queue.push(Reverse(Queued {
            at,
            seq: self.seq,
            ev,
        }));
    }

    /// Drains node `i`'s outputs into the network and the agents.
    fn drain(&mut self, i: usize) {
        let lnow = self.local_now(i);
        let Some(node) = self.nodes[i].node.as_mut() else {
            return;
        };
        // Reused buffers: drain runs after every input.
        let mut transmits = std::mem::take(&mut self.scratch_transmits);
        while let Some(t) = node.poll_transmit(lnow) {
            transmits.push(t);
        }
        let mut actions = std::mem::take(&mut self.scratch_actions);
        while let Some(a) = node.poll_action() {
            actions.push(a);
        }
        let mut lines = Vec::new();
        while let Some(e) = node.poll_event() {
            lines.push(e.message);
        }
        let persist = node.poll_persist();
        let issued = node.take_issued();
        // The issuer's members, for invariant 3 (only when it issued).
        let members = (!issued.is_empty()).then(|| node.members().clone());
        let feed = node.watchdog_may_feed(lnow);
        self.nodes[i].timer = node.poll_timeout();
        if let Some(p) = persist {
            self.nodes[i].persisted = Some(p);
        }
        if feed && !self.nodes[i].paused {
            self.nodes[i].fed_at = self.now;
        }
        for l in lines {
            self.note(l);
        }
        if let Some(members) = members {
            for is in issued {
                check::issued(self, i, &is, &members);
            }
        }
        self.sealed += transmits.len() as u64;

        for t in transmits.drain(..) {
            let bytes = Rc::new(t.bytes);
            match t.dest {
                Dest::All => {
                    // Every other node, in index order.
                    for j in (0..self.nodes.len()).filter(|j| *j != i) {
                        self.send(i, j, t.link, bytes.clone());
                    }
                }
                Dest::Node(id) => {
                    if let Some(j) = self.nodes.iter().position(|n| n.id == id) {
                        self.send(i, j, t.link, bytes);
                    }
                }
            }
        }
        self.scratch_transmits = transmits;
        for a in actions.drain(..) {
            self.run_action(i, a);
        }
        self.scratch_actions = actions;
    }

    fn send(&mut self, from: usize, to: usize, link: usize, bytes: Rc<Vec<u8>>) {
        if let Some(r) = self.record.as_mut() {
            r.push((from, to, link, bytes.to_vec()));
        }
        let Some(model) = self.links.get(link).and_then(|l| l[from][to]) else {
            return;
        };
        if self.rng.chance(model.loss) {
            return;
        }
        let copies = if self.rng.chance(model.duplicate) {
            2
        } else {
            1
        };
        for _ in 0..copies {
            let d = model.delay_ms + self.rng.below(model.jitter_ms + 1);
            self.push(
                self.now + Duration::from_millis(d),
                Ev::Deliver {
                    to,
                    link,
                    bytes: bytes.clone(),
                },
            );
        }
    }

    /// Injects raw bytes as if received by node `to` on `link`.
    pub fn inject(&mut self, to: usize, link: usize, bytes: Vec<u8>) {
        self.push(
            self.now,
            Ev::Deliver {
                to,
                link,
                bytes: Rc::new(bytes),
            },
        );
    }

    fn run_action(&mut self, i: usize, a: Action) {
        if self.verbose {
            // Agent runs are not events of the history (not in the digest);
            // shown only to read a replay.
            let (now, name) = (self.now.as_millis(), &self.nodes[i].name);
            eprintln!("{now:>8}ms   agent on {name}: {:?}", a.kind);
        }
        let m = self.agent;
        let inc = self.nodes[i].incarnation;
        let mut took = self.rng.range_inclusive(m.op_ms.0, m.op_ms.1);
        let hang = !matches!(a.kind, ActionKind::Fence { .. }) && self.rng.chance(m.hang);
        if hang {
            took = a.timeout.as_millis();
        }
        let commanded = self.nodes[i]
            .node
            .as_ref()
            .is_some_and(|n| n.is_commanded(a.id));
        let op = match &a.kind {
            ActionKind::Start { resource } | ActionKind::Stop { resource } if commanded => {
                let start = matches!(a.kind, ActionKind::Start { .. });
                self.checks.op_begins(i, inc, resource, start);
                Some((resource.clone(), start))
            }
            _ => None,
        };
        let (outcome, effect) = match &a.kind {
            ActionKind::Start { resource } => {
                // Conservative ground truth: a starting resource may be up
                // from the moment its start begins.
                self.nodes[i].running.insert(resource.clone());
                self.running_changed = true;
                if hang {
                    (
                        Outcome::Timeout,
                        Effect::StartFailed(resource.clone(), self.rng.chance(0.5)),
                    )
                } else if self.rng.chance(m.start_fail) {
                    (
                        Outcome::Failed {
                            rc: 1,
                            reason: "simulated".into(),
                        },
                        Effect::StartFailed(resource.clone(), self.rng.chance(0.5)),
                    )
                } else {
                    (Outcome::Ok, Effect::Confirmed(resource.clone()))
                }
            }
            ActionKind::Stop { resource } => {
                self.checks.stop_runs(i, resource);
                if hang {
                    (Outcome::Timeout, Effect::None)
                } else if self.rng.chance(m.stop_fail) {
                    (
                        Outcome::Failed {
                            rc: 1,
                            reason: "simulated".into(),
                        },
                        Effect::None,
                    )
                } else {
                    (Outcome::Ok, Effect::Stopped(resource.clone()))
                }
            }
            ActionKind::Monitor { resource } | ActionKind::Probe { resource } => {
                if self.nodes[i].running.contains(resource) && self.rng.chance(m.die) {
                    self.nodes[i].running.remove(resource);
                    self.running_changed = true;
                }
                if hang {
                    (Outcome::Timeout, Effect::None)
                } else if self.nodes[i].running.contains(resource) {
                    (Outcome::Ok, Effect::Confirmed(resource.clone()))
                } else {
                    (Outcome::NotRunning, Effect::None)
                }
            }
            ActionKind::Fence { target } => {
                let t = self.index(target);
                match self.fence {
                    FenceBehaviour::Works { latency_ms } => {
                        took = latency_ms;
                        (Outcome::Ok, Effect::PowerOff(t))
                    }
                    FenceBehaviour::Fails { latency_ms } => {
                        took = latency_ms;
                        (
                            Outcome::Failed {
                                rc: 1,
                                reason: "simulated device failure".into(),
                            },
                            Effect::None,
                        )
                    }
                }
            }
        };
        self.push(
            self.now + Duration::from_millis(took),
            Ev::Done(Box::new(Done {
                node: i,
                incarnation: inc,
                id: a.id,
                outcome,
                effect,
                op,
            })),
        );
    }

    /// The next instant something happens: an event or a node timer.
    fn next_at(&self) -> Option<(Instant, Option<usize>)> {
        let mut best: Option<(Instant, Option<usize>)> =
            self.queue.peek().map(|Reverse(q)| (q.at, None));
        for (i, n) in self.nodes.iter().enumerate() {
            if n.paused {
                continue;
            }
            if n.node.is_some() {
                if let Some(t) = n.timer {
                    let global = Instant::from_millis(t.as_millis().saturating_sub(n.clock_offset))
                        .max(self.now);
                    if best.is_none_or(|(b, _)| global < b) {
                        best = Some((global, Some(i)));
                    }
                }
            }
            if let Some(w) = &self.config.watchdog {
                if n.node.is_some() {
                    let fire = n.fed_at + w.timeout + Duration::from_millis(1);
                    if best.is_none_or(|(b, _)| fire < b) {
                        best = Some((fire.max(self.now), None));
                    }
                }
            }
        }
        best
    }

    /// Runs one step: the earliest event or timer. Returns false when
    /// nothing is left to do before `until`.
    pub fn step(&mut self, until: Instant) -> bool {
        let Some((at, timer)) = self.next_at() else {
            return false;
        };
        if at > until {
            self.now = until;
            return false;
        }
        self.steps_now = if at == self.now {
            self.steps_now + 1
        } else {
            0
        };
        if self.steps_now > RUNAWAY_STEPS || self.queue.len() > RUNAWAY_QUEUE {
            self.violation = Some(format!(
                "runaway: {} steps at {}ms without time passing, {} events queued",
                self.steps_now,
                at.as_millis(),
                self.queue.len()
            ));
            return false;
        }
        self.now = at;
        self.steps += 1;
        self.mix(&at.as_millis().to_le_bytes());
        // Hardware watchdogs.
        if let Some(w) = self.config.watchdog.clone() {
            for i in 0..self.nodes.len() {
                if self.nodes[i].node.is_some()
                    && self.now.saturating_since(self.nodes[i].fed_at) > w.timeout
                {
                    let name = self.nodes[i].name.clone();
                    self.note(format!("watchdog reset {name}"));
                    self.crash(i);
                }
            }
        }
        if let Some(i) = timer {
            let lnow = self.local_now(i);
            if let Some(node) = self.nodes[i].node.as_mut() {
                node.handle_timeout(lnow);
            }
            self.drain(i);
        } else if self.queue.peek().is_some_and(|Reverse(q)| q.at <= self.now) {
            let Reverse(q) = self.queue.pop().expect("peeked");
            self.dispatch(q.ev);
        }
        check::after_step(self);
        true
    }

    fn dispatch(&mut self, ev: Ev) {
        match ev {
            Ev::Deliver { to, .. } if self.nodes[to].paused => {
                self.nodes[to].inbox.push(ev);
            }
            Ev::Done(ref d) if self.nodes[d.node].paused => {
                self.nodes[d.node].inbox.push(ev);
            }
            Ev::Deliver { to, link, bytes } => {
                let lnow = self.local_now(to);
                if let Some(node) = self.nodes[to].node.as_mut() {
                    self.opened += 1;
                    node.handle_datagram(lnow, link, &bytes);
                    self.drain(to);
                }
            }
            Ev::Done(done) => {
                let Done {
                    node: i,
                    incarnation,
                    id,
                    outcome,
                    effect,
                    op,
                } = *done;
                if let Some((r, start)) = &op {
                    self.checks.op_ends(i, incarnation, r, *start);
                }
                if self.verbose {
                    let (now, name) = (self.now.as_millis(), &self.nodes[i].name);
                    eprintln!("{now:>8}ms   agent on {name}: done {outcome:?} {effect:?}");
                }
                // The effect on the world happens even if the node that
                // asked died meanwhile (a power-off does not care).
                match &effect {
                    Effect::None => {}
                    Effect::Stopped(r) if self.nodes[i].incarnation == incarnation => {
                        self.running_changed |= self.nodes[i].running.remove(r);
                    }
                    Effect::StartFailed(r, still_up)
                        if self.nodes[i].incarnation == incarnation && !still_up =>
                    {
                        self.running_changed |= self.nodes[i].running.remove(r);
                    }
                    Effect::Confirmed(r) if self.nodes[i].incarnation == incarnation => {
                        self.checks.confirmed(i, r);
                    }
                    Effect::PowerOff(t) => {
                        // Only a DC that asked, and is still there to hear
                        // the result, knows the node is off (seed
                        // 16117355766830267320: a fence asked by a DC that
                        // crashed since lands unannounced).
                        let told = self.nodes[i].incarnation == incarnation
                            && self.nodes[i]
                                .node
                                .as_ref()
                                .is_some_and(|n| n.is_acting_dc());
                        if told {
                            self.checks.powered_off(*t);
                        }
                        let name = self.nodes[*t].name.clone();
                        self.note(format!("fence device powers off {name}"));
                        self.crash_then(*t, self.power_cycle.or(self.reboot_after));
                    }
                    _ => {}
                }
                if self.nodes[i].incarnation == incarnation {
                    let lnow = self.local_now(i);
                    if let Some(node) = self.nodes[i].node.as_mut() {
                        node.handle_action_done(lnow, id, outcome);
                        self.drain(i);
                    }
                }
            }
            Ev::Restart { node } => {
                if self.nodes[node].node.is_none() {
                    self.boot(node);
                }
            }
            Ev::Resume { node } => self.resume(node),
        }
    }

    /// A paused node `i` runs again (SIGCONT); nothing if it is not paused.
    pub fn resume(&mut self, i: usize) {
        if !self.nodes[i].paused {
            return;
        }
        self.nodes[i].paused = false;
        let name = self.nodes[i].name.clone();
        self.note(format!("resume {name}"));
        // Stale timers first, then what queued up in the socket.
        let lnow = self.local_now(i);
        if let Some(n) = self.nodes[i].node.as_mut() {
            n.handle_timeout(lnow);
        }
        self.drain(i);
        let inbox = std::mem::take(&mut self.nodes[i].inbox);
        for ev in inbox {
            self.dispatch(ev);
        }
    }

    /// Runs until `until` or a violation.
    pub fn run_until(&mut self, until: Instant) {
        while self.violation.is_none() && self.step(until) {}
        if self.violation.is_none() {
            self.now = self.now.max(until);
        }
    }

    /// Runs for `d` of simulated time.
    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// The node acting as DC, if exactly one does.
    pub fn dc(&self) -> Option<usize> {
        let dcs: Vec<usize> = (0..self.nodes.len())
            .filter(|i| {
                !self.nodes[*i].paused
                    && self.nodes[*i]
                        .node
                        .as_ref()
                        .is_some_and(|n| n.is_acting_dc())
            })
            .collect();
        (dcs.len() == 1).then(|| dcs[0])
    }

    /// Nodes whose agents run `resource` (ground truth).
    pub fn running_on(&self, resource: &str) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| n.running.contains(resource))
            .map(|n| n.name.clone())
            .collect()
    }

    /// The failure report: seed, replay command, last log lines.
    pub fn report(&self, what: &str) -> String {
        let tail: Vec<&String> = self
            .log
            .iter()
            .rev()
            .take(60)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        format!(
            "{what}\nHA_SIM_SEED={seed}\nreplay: HA_SIM_SEED={seed} HA_SIM_VERBOSE=1 cargo test --test sim random_seeds -- --nocapture\nlast events:\n{}",
            tail.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
            seed = self.seed
        )
    }
}
