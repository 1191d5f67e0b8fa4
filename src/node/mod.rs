//! `Node`: one cluster member's whole brain, with no I/O.
//!
//! It composes wire (sealing), membership, quorum, election, the replicated
//! state (cib), the placement solver and the transition engine. The daemon
//! and the simulator drive the very same object: they feed it inputs through
//! `handle_*` and, after every input, drain every `poll_*` until it returns
//! `None` (quinn-proto's `Connection` has the same shape).
//!
//! Time is always an argument; randomness comes from the seed given to
//! `new`. The node never opens a socket, reads a clock, spawns a process or
//! touches a file: transmits, agent actions, fence requests and state to
//! persist are values the caller carries out.
//!
//! How it decides, every tick (one heartbeat interval):
//! 1. membership -> quorum -> DC choice ([`ring`], `quorum`).
//! 2. Authority: a node may keep resources only while it is quorate and
//!    holds a fresh lease from its DC (a command received within the lease;
//!    the DC itself needs only quorum). Without authority it stops its
//!    resources per `no_quorum_policy`; with a `[watchdog]`, if anything is
//!    still active half a watchdog timeout after authority was lost, it
//!    stops feeding the watchdog, so the board resets it within another
//!    watchdog timeout (self-fencing).
//! 3. The acting DC (quorate, named by all its members) collects every
//!    member's report, treats every configured node outside its membership
//!    as `unclean` until fenced (a device confirmed `Ok`) or, with only a
//!    watchdog, until twice the watchdog timeout has passed, and only then
//!    lets placement start anything. It issues start/stops to members and
//!    re-sends them until their results come back in reports.
//! 4. Members run what the DC asks, monitor what runs, and report.
//!
//! Messages other than heartbeats are level-triggered (see [`msg`]).
//!
//! Graceful leave (SIGTERM, `handle_shutdown`): the node steps down as DC,
//! stops its resources, and only once nothing runs (and no action is in
//! flight) sends `Leave` to every peer, then no more heartbeats. A peer
//! that opens an authenticated leave drops the sender from membership at
//! once ([`ring`]), counts it clean (no fencing), and ticks immediately, so
//! the DC re-places its resources within milliseconds (a new DC, when the
//! leaver was the DC, takes over without the usual wait). The leaver is no
//! member again until heard with a heartbeat sealed after its leave or a
//! new incarnation. A lost leave leaves only the timeout path.

mod dc;
pub mod msg;
pub mod place;
mod plan;
mod requests;
mod ring;
mod status;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::cib::{Cib, ConstraintKind, ResourceState, Role, RuntimeConstraint};
use crate::config::{Config, NoQuorumPolicy, NodeId};
use crate::ctl::proto::{
    Failure, LinkStatus, NodeRole, NodeStatus, QuorumStatus, Request, ResourceStatus, Response,
    Status,
};
use crate::quorum::{QuorumState, Votequorum};
use crate::time::{Duration, Instant};
use crate::wire::{Heartbeat, Kind};
use msg::{Command, Fragment, Msg, Reassembly, RemoteAction, Report};
use ring::Ring;

/// A datagram to send on heartbeat link `link`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub link: usize,
    pub dest: Dest,
    pub bytes: Vec<u8>,
}

/// Where a datagram goes; the daemon maps it to a socket address from the
/// config (node address on the link, or the link's multicast group).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dest {
    Node(NodeId),
    /// Every node: the multicast group (`udp`), or each node in turn (`udpu`).
    All,
}

/// Identifies an action so its result can be matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(pub u64);

/// Something for the local resource manager or fencer to carry out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub id: ActionId,
    pub kind: ActionKind,
    /// Give up (and report `Outcome::Timeout`) after this long.
    pub timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    Start {
        resource: String,
    },
    Stop {
        resource: String,
    },
    /// One run of a monitor; recurring monitors are re-issued by the node.
    Monitor {
        resource: String,
    },
    /// A one-shot monitor to learn the current state (after start-up).
    Probe {
        resource: String,
    },
    /// Fence `target` through the configured devices, in level order. The
    /// node has already waited the device's `delay` before issuing it.
    Fence {
        target: String,
    },
}

/// The result of an action, as OCF defines it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Started, stopped, or (monitor/probe) running.
    Ok,
    /// Monitor/probe: cleanly not running (OCF_NOT_RUNNING, rc 7).
    NotRunning,
    /// The operation failed; `rc` is the OCF exit code.
    Failed { rc: i32, reason: String },
    /// The operation overran its timeout and was killed.
    Timeout,
}

impl Outcome {
    fn rc(&self) -> i32 {
        match self {
            Outcome::Ok => 0,
            Outcome::NotRunning => 7,
            Outcome::Failed { rc, .. } => *rc,
            // pacemaker shows a timed-out operation with its own code.
            Outcome::Timeout => 198,
        }
    }
}

/// Something worth logging or showing; the daemon logs it with `log`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub level: log::Level,
    pub message: String,
}

/// A start or stop the DC issued, recorded for the simulator's checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub target: NodeId,
    pub resource: String,
    pub start: bool,
    /// Whether the issuing node was the acting DC and quorate at the time.
    pub acting_dc: bool,
    pub quorate: bool,
}

#[derive(Clone, Debug, Default)]
struct LocalResource {
    state: ResourceState,
    busy: Option<ActionId>,
    next_monitor: Option<Instant>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Job {
    Start,
    Stop,
    Monitor,
    Probe,
    Fence(NodeId),
}

#[derive(Clone, Debug)]
struct Inflight {
    resource: Option<String>,
    job: Job,
    /// The DC's action id, when the DC asked for it, with the
    /// `executed_epoch` it was asked in.
    remote: Option<(u64, u64)>,
}

/// What the DC knows about one member from its reports.
#[derive(Clone, Debug, Default)]
struct MemberInfo {
    incarnation: u64,
    seq: u64,
    probed: bool,
    leaving: bool,
    hash: [u8; 32],
    cib_key: crate::cib::CibKey,
    states: BTreeMap<String, ResourceState>,
    failures_ack: u64,
    requests_ack: u64,
}

#[derive(Clone, Debug)]
struct Pending {
    node: NodeId,
    resource: String,
    start: bool,
    timeout: Duration,
}

#[derive(Clone, Debug)]
struct Unclean {
    since: Instant,
    /// When the fence may be issued (after the device delay).
    fence_at: Instant,
    fencing: bool,
    /// Fence even while a member (a failed stop, `ha fence`).
    force: bool,
    /// Resources whose start or stop we had asked of it and not heard
    /// the end of: still busy for the orders until it is fenced or
    /// reports (it may still be running that step).
    in_flight: BTreeSet<String>,
}

/// The state of this node's reign as DC; dropped when it stops acting.
#[derive(Clone, Debug)]
struct Reign {
    token: u64,
    members: BTreeSet<NodeId>,
    reports: BTreeMap<NodeId, MemberInfo>,
    outstanding: BTreeMap<u64, Pending>,
    unclean: BTreeMap<NodeId, Unclean>,
    /// Nodes confirmed to run nothing: fenced, waited out, or left cleanly.
    gone: BTreeSet<NodeId>,
    left: BTreeSet<NodeId>,
    restart: BTreeSet<String>,
    /// Resources whose stop the plan wants but may not issue, because a
    /// `then` ordered after them runs where the cluster may not stop it
    /// (unmanaged, or on a node in maintenance), with why (see `plan`).
    blocked: BTreeMap<String, String>,
    next_id: u64,
    /// The seq of the last command sent (`Command::seq`).
    command_seq: u64,
    cib_sent: BTreeMap<NodeId, Instant>,
    /// The last command sent to each member, and when (see `send_commands`).
    sent: BTreeMap<NodeId, (Command, Instant)>,
    /// Members whose last command must go again (a repeated report).
    resend: BTreeSet<NodeId>,
    /// Whether the DC has the newest state among its members (see
    /// `Node::synced`). Until then it changes nothing in the state: no
    /// epoch bump, no request or failure taken, no plan.
    synced: bool,
}

/// One node's view of the cluster. Performs no I/O.
pub struct Node {
    config: Config,
    local: NodeId,
    name: String,
    incarnation: u64,
    ring: Ring,
    quorum: Votequorum,
    qs: QuorumState,
    cib: Cib,
    lrm: BTreeMap<String, LocalResource>,
    next_action: u64,
    inflight: BTreeMap<ActionId, Inflight>,
    // Following a DC.
    dc_ident: Option<(NodeId, u64)>,
    dc_token: u64,
    dc_hash: Option<[u8; 32]>,
    last_command_at: Option<Instant>,
    executed: BTreeMap<u64, Option<Outcome>>,
    /// Counts the times `executed` was emptied (a new DC or reign: action
    /// ids restart), so that a step asked before does not land in it under
    /// an id the new reign uses for another step.
    executed_epoch: u64,
    /// The seq of the last command taken from the DC in this reign.
    command_seq: u64,
    /// What the DC's last command said is blocked (see `blocked`).
    dc_blocked: BTreeMap<String, String>,
    report_seq: u64,
    report_acked: u64,
    last_report: Option<Report>,
    failures: Vec<(u64, String, String, i32)>,
    failure_seq: u64,
    requests: Vec<(u64, String)>,
    request_seq: u64,
    cib_pushed_at: Option<Instant>,
    // Acting as DC.
    reign: Option<Reign>,
    reign_counter: u64,
    /// Member reports the DC accepted (not repeats): see `handle_datagram`.
    reports_taken: u64,
    /// `plan_inputs` of the last plan that changed nothing (see
    /// `plan_if_changed`).
    planned: Option<u64>,
    /// Nodes a fence device confirmed off, and when (this node's clock).
    /// Kept across reigns: a result that lands between two reigns still
    /// counts, so the next reign does not fence the node again (possibly
    /// right after it rebooted). Any packet heard from the node after that
    /// time voids the mark (see `begin_reign`).
    fenced: BTreeMap<NodeId, Instant>,
    /// Per node, the highest incarnation known when a fence device
    /// confirmed it off. Reports from it or an older one were sent by a
    /// process that no longer exists (in flight when the power went): they
    /// are ignored. A reboot comes back with a higher incarnation.
    fenced_incarnation: BTreeMap<NodeId, u64>,
    // Authority and self-fencing.
    last_authorized: Instant,
    unauthorized_since: Option<Instant>,
    watchdog_off: bool,
    // Shutdown.
    shutting_down: bool,
    leave_sent: u32,
    /// After a peer's leave, until then: re-check at once on every
    /// heartbeat whether this node can take over as DC (see `on_leave`).
    handover_until: Option<Instant>,
    // Outputs.
    transmits: VecDeque<Transmit>,
    actions: VecDeque<Action>,
    events: VecDeque<Event>,
    persist: Option<Vec<u8>>,
    loopback: VecDeque<Msg>,
    next_tick: Instant,
    msg_id: u64,
    reassembly: BTreeMap<NodeId, Reassembly>,
    view: u64,
    last_members: BTreeSet<NodeId>,
    issued: Vec<Issued>,
    unsafe_skip_fencing_wait: bool,
    /// The latest `now` seen, for encoding state outside a handler.
    now: Instant,
}

/// A node's configured name (its id for an unknown one), borrowed where
/// possible: `Node::node_name` copies it.
fn name_of(config: &Config, id: NodeId) -> std::borrow::Cow<'_, str> {
    match config.node_by_id(id) {
        Some(n) => n.name.as_str().into(),
        None => id.to_string().into(),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Node {
    /// A node of `config` whose id is `local`, booted for the `incarnation`th
    /// time (the daemon persists and increments it), with the cluster key and
    /// the previously persisted replicated state, if any.
    pub fn new(
        config: Config,
        local: NodeId,
        incarnation: u64,
        key: &[u8; 32],
        persisted: Option<&[u8]>,
        seed: u64,
        now: Instant,
    ) -> Node {
        let _ = seed;
        let name = config
            .node_by_id(local)
            .map(|n| n.name.clone())
            .unwrap_or_default();
        let mut events = VecDeque::new();
        let cib = match persisted.map(|b| Cib::decode(b, now)) {
            Some(Ok(mut cib)) => {
                // Our own copy says nothing reliable about where resources
                // run now; reports will tell.
                cib.active.clear();
                cib
            }
            Some(Err(e)) => {
                events.push_back(Event {
                    level: log::Level::Warn,
                    message: format!("persisted state ignored: node={name} error={e}"),
                });
                Cib::default()
            }
            None => Cib::default(),
        };
        let mut node = Node {
            ring: Ring::new(&config, local, incarnation, key),
            quorum: Votequorum::from_config(&config),
            qs: QuorumState::default(),
            cib,
            lrm: BTreeMap::new(),
            next_action: 1,
            inflight: BTreeMap::new(),
            fenced: BTreeMap::new(),
            fenced_incarnation: BTreeMap::new(),
            dc_ident: None,
            dc_token: 0,
            dc_hash: None,
            last_command_at: None,
            executed: BTreeMap::new(),
            executed_epoch: 0,
            command_seq: 0,
            dc_blocked: BTreeMap::new(),
            report_seq: 0,
            report_acked: 0,
            last_report: None,
            failures: Vec::new(),
            failure_seq: 0,
            requests: Vec::new(),
            request_seq: 0,
            cib_pushed_at: None,
            reign: None,
            reign_counter: 0,
            reports_taken: 0,
            planned: None,
            last_authorized: now,
            unauthorized_since: None,
            watchdog_off: false,
            shutting_down: false,
            leave_sent: 0,
            handover_until: None,
            transmits: VecDeque::new(),
            actions: VecDeque::new(),
            events,
            persist: None,
            loopback: VecDeque::new(),
            next_tick: now,
            msg_id: 0,
            reassembly: BTreeMap::new(),
            view: 0,
            last_members: BTreeSet::new(),
            issued: Vec::new(),
            unsafe_skip_fencing_wait: false,
            now,
            config,
            local,
            name,
            incarnation,
        };
        node.probe_all();
        node
    }

    /// TEST ONLY: recover a lost node's resources without waiting for
    /// fencing. Exists so the simulator can show that its checker catches
    /// the split brain this causes; nothing else may call it.
    pub fn set_unsafe_skip_fencing_wait(&mut self, on: bool) {
        self.unsafe_skip_fencing_wait = on;
    }

    fn event(&mut self, level: log::Level, message: String) {
        self.events.push_back(Event {
            level,
            message: format!("{} node={}", message, self.name),
        });
    }

    fn node_name(&self, id: NodeId) -> String {
        name_of(&self.config, id).into_owned()
    }

    fn node_id(&self, name: &str) -> Option<NodeId> {
        self.config.node(name).map(|n| n.id)
    }

    fn probe_all(&mut self) {
        let ids: Vec<String> = self.config.resources.iter().map(|r| r.id.clone()).collect();
        for id in ids {
            if !self.lrm.contains_key(&id) {
                self.lrm.insert(id.clone(), LocalResource::default());
                self.start_job(Job::Probe, Some(id), None);
            }
        }
    }

    fn op_timeout(&self, resource: &str, op: &str) -> Duration {
        self.config
            .resource(resource)
            .and_then(|r| r.ops.iter().find(|o| o.name == op))
            .map_or(self.config.defaults.op_timeout, |o| o.timeout)
    }

    fn monitor_interval(&self, resource: &str) -> Option<Duration> {
        self.config
            .resource(resource)
            .and_then(|r| {
                r.ops
                    .iter()
                    .find(|o| o.name == "monitor" && !o.interval.is_zero())
            })
            .map(|o| o.interval)
    }

    fn start_job(
        &mut self,
        job: Job,
        resource: Option<String>,
        remote: Option<(u64, u64)>,
    ) -> ActionId {
        let id = ActionId(self.next_action);
        self.next_action += 1;
        let (kind, timeout) = match (&job, &resource) {
            (Job::Start, Some(r)) => (
                ActionKind::Start {
                    resource: r.clone(),
                },
                self.op_timeout(r, "start"),
            ),
            (Job::Stop, Some(r)) => (
                ActionKind::Stop {
                    resource: r.clone(),
                },
                self.op_timeout(r, "stop"),
            ),
            (Job::Monitor, Some(r)) => (
                ActionKind::Monitor {
                    resource: r.clone(),
                },
                self.op_timeout(r, "monitor"),
            ),
            (Job::Probe, Some(r)) => (
                ActionKind::Probe {
                    resource: r.clone(),
                },
                self.op_timeout(r, "monitor"),
            ),
            (Job::Fence(target), _) => (
                ActionKind::Fence {
                    target: self.node_name(*target),
                },
                self.config.defaults.op_timeout.saturating_mul(3),
            ),
            _ => unreachable!("a resource job without a resource"),
        };
        if let Some(r) = &resource {
            let lr = self.lrm.entry(r.clone()).or_default();
            lr.busy = Some(id);
            match job {
                Job::Start => lr.state = ResourceState::Starting,
                Job::Stop => {
                    if lr.state != ResourceState::StopFailed {
                        lr.state = ResourceState::Stopping;
                    }
                }
                _ => {}
            }
        }
        self.inflight.insert(
            id,
            Inflight {
                resource,
                job,
                remote,
            },
        );
        self.actions.push_back(Action { id, kind, timeout });
        id
    }

    /// A datagram arrived on heartbeat link `link`.
    pub fn handle_datagram(&mut self, now: Instant, link: usize, bytes: &[u8]) {
        let Some((header, body)) = self.ring.handle_datagram(now, link, bytes) else {
            if let Some(from) = self.ring.take_fresh_heartbeat() {
                self.on_heartbeat(now, from);
            }
            // A heartbeat (or a dropped packet). During a handover, the
            // heartbeat that names us DC is what we wait for: act on it now
            // rather than at the next tick. Only while quorate: the tick
            // then begins the reign, so this fires once. Without quorum no
            // reign begins, and every peer's heartbeat would tick (and send
            // heartbeats) again: three such nodes fed each other a storm of
            // heartbeats without time passing (seed 17872173049859375713).
            if self.handover_until.is_some_and(|t| now < t)
                && self.reign.is_none()
                && !self.shutting_down
                && self.qs.quorate
                && self.ring.acting_dc(now)
            {
                self.tick(now);
            }
            return;
        };
        let Some(fragment) = Fragment::decode(&body) else {
            self.ring.count_malformed();
            return;
        };
        let whole = self
            .reassembly
            .entry(header.sender)
            .or_default()
            .add(fragment);
        if let Some(bytes) = whole {
            match Msg::decode(&bytes) {
                Some(Msg::Leave) => self.on_leave(now, header),
                Some(m) => {
                    let taken = self.reports_taken;
                    self.on_msg(now, header.sender, header.incarnation, m);
                    // During a handover, a member's new report (its probe,
                    // a start result) lets the DC take the next step at
                    // once instead of at the next tick: a group starts
                    // member after member within milliseconds. A repeat
                    // (sent until acknowledged) changes nothing.
                    if self.reports_taken != taken
                        && self.reign.is_some()
                        && self.handover_until.is_some_and(|t| now < t)
                    {
                        let members = self.ring.members(now);
                        // Only while still the acting DC: the lease is
                        // checked at every step that issues commands.
                        if members == self.last_members
                            && self.qs.quorate
                            && self.ring.acting_dc(now)
                        {
                            self.dc_tick(now, &members);
                        }
                    }
                }
                None => self.ring.count_malformed(),
            }
        }
        self.flush_loopback(now);
    }

    /// The earliest deadline from `poll_timeout` has passed (an early call
    /// does nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        // Measured from the last input, as `poll_timeout` did.
        let member_expires = self.ring.next_expiry(self.now).is_some_and(|t| t <= now);
        if now >= self.next_tick || member_expires {
            self.tick(now);
            return;
        }
        let lease_expires = self
            .ring
            .next_lease_expiry(self.now)
            .is_some_and(|t| t <= now);
        self.now = now;
        if self.quorum.poll_timeout().is_some_and(|t| t <= now) {
            // The last_man_standing window ended between ticks.
            self.qs = self.quorum.handle_timeout(now);
        }
        if lease_expires && self.reign.is_some() && !self.ring.acting_dc(now) {
            // The DC lease ran out between ticks: stop now (see `ring`).
            self.step_down();
        }
    }

    /// An action from `poll_action` finished.
    pub fn handle_action_done(&mut self, now: Instant, id: ActionId, outcome: Outcome) {
        let Some(done) = self.inflight.remove(&id) else {
            return;
        };
        if let Some(r) = &done.resource {
            let monitor_interval = self.monitor_interval(r);
            let Some(lr) = self.lrm.get_mut(r) else {
                return;
            };
            if lr.busy == Some(id) {
                lr.busy = None;
            }
            let ok = outcome == Outcome::Ok;
            let (op, new_state) = match done.job {
                Job::Start => (
                    "start",
                    if ok {
                        ResourceState::Running
                    } else {
                        ResourceState::Failed
                    },
                ),
                Job::Stop => (
                    "stop",
                    if ok {
                        ResourceState::Stopped
                    } else {
                        ResourceState::StopFailed
                    },
                ),
                Job::Monitor => (
                    "monitor",
                    match outcome {
                        Outcome::Ok => ResourceState::Running,
                        _ => ResourceState::Failed,
                    },
                ),
                Job::Probe => (
                    "probe",
                    match outcome {
                        Outcome::Ok => ResourceState::Running,
                        Outcome::NotRunning => ResourceState::Stopped,
                        _ => ResourceState::Failed,
                    },
                ),
                Job::Fence(_) => ("fence", lr.state),
            };
            // A monitor result for a resource that meanwhile stopped is stale.
            let stale_monitor = done.job == Job::Monitor && lr.state != ResourceState::Running;
            if !stale_monitor {
                lr.state = new_state;
            }
            lr.next_monitor = (lr.state == ResourceState::Running)
                .then(|| now + monitor_interval.unwrap_or(Duration::ZERO))
                .filter(|_| monitor_interval.is_some());
            let failed_monitor = done.job == Job::Monitor && !ok && !stale_monitor;
            if failed_monitor
                || (done.job == Job::Probe
                    && matches!(outcome, Outcome::Failed { .. } | Outcome::Timeout))
            {
                self.failure_seq += 1;
                self.failures
                    .push((self.failure_seq, r.clone(), op.to_string(), outcome.rc()));
            }
            if !ok && done.job != Job::Probe {
                self.event(
                    log::Level::Warn,
                    format!("action failed: resource={r} op={op} rc={}", outcome.rc()),
                );
            }
        }
        if let Some((epoch, id)) = done.remote
            && epoch == self.executed_epoch
        {
            self.executed.insert(id, Some(outcome.clone()));
        }
        if let Job::Fence(target) = done.job {
            self.on_fence_done(now, target, outcome);
        }
        // The last stop of a shutdown finished: leave now, not next tick.
        self.maybe_leave(now, 1);
        self.flush_loopback(now);
    }

    fn on_fence_done(&mut self, now: Instant, target: NodeId, outcome: Outcome) {
        let name = self.node_name(target);
        if outcome == Outcome::Ok {
            self.fenced.insert(target, now);
            let known = self
                .ring
                .heartbeat_of(target)
                .map(|(_, i)| i)
                .into_iter()
                .chain(
                    self.reign
                        .as_ref()
                        .and_then(|r| r.reports.get(&target))
                        .map(|i| i.incarnation),
                )
                .max()
                .unwrap_or(0);
            let e = self.fenced_incarnation.entry(target).or_insert(0);
            *e = (*e).max(known);
        }
        let Some(reign) = self.reign.as_mut() else {
            return;
        };
        let Some(u) = reign.unclean.get_mut(&target) else {
            if outcome == Outcome::Ok && reign.reports.contains_key(&target) {
                // Back as a member (it reported, so it was no longer
                // unclean) when a fence from before landed: it is off now,
                // and what it reported running is not (seed
                // 13633749887916871593: the DC started a group's next
                // member there after the power-off).
                self.event(
                    log::Level::Warn,
                    format!("fenced while a member: target={name}"),
                );
                self.resolve_unclean(target);
            }
            return;
        };
        u.fencing = false;
        if outcome == Outcome::Ok {
            self.event(log::Level::Warn, format!("fenced: target={name}"));
            self.resolve_unclean(target);
        } else if !u.force && reign.members.contains(&target) && reign.reports.contains_key(&target)
        {
            // Back as a member and reported while the fence ran (see
            // `on_report`): its report is the truth, no second try.
            reign.unclean.remove(&target);
            self.event(
                log::Level::Warn,
                format!(
                    "fencing failed, node is back as a member: target={name} rc={}",
                    outcome.rc()
                ),
            );
        } else {
            u.fence_at = now + Duration::from_secs(1);
            self.event(
                log::Level::Error,
                format!(
                    "fencing failed, retrying: target={name} rc={}",
                    outcome.rc()
                ),
            );
        }
    }

    /// The node no longer runs anything: it was fenced, waited out, or left.
    fn resolve_unclean(&mut self, target: NodeId) {
        let name = self.node_name(target);
        let Some(reign) = self.reign.as_mut() else {
            return;
        };
        reign.unclean.remove(&target);
        reign.gone.insert(target);
        reign.reports.remove(&target);
        reign.outstanding.retain(|_, p| p.node != target);
        let stopped: BTreeMap<String, ResourceState> = self
            .config
            .resources
            .iter()
            .map(|r| (r.id.clone(), ResourceState::Stopped))
            .collect();
        if self.cib.set_active(&name, stopped) {
            self.bump();
        }
    }

    fn bump(&mut self) {
        // While a new DC syncs, its key stays where the reign began, so a
        // member holding a newer copy still sees it behind and pushes that
        // copy (see `synced`); what changed meanwhile is where things run,
        // which a merge keeps, and what lapsed, which lapses again.
        if self.reign.as_ref().is_none_or(|r| r.synced) {
            self.cib.bump(self.view, self.qs.quorate);
        }
        self.persist = Some(self.cib.encode(self.now));
    }
}

// Membership, authority and the local resource manager.
impl Node {
    fn fencing_configured(&self) -> bool {
        self.config.cluster.stonith_enabled
            && (!self.config.fences.is_empty() || self.config.watchdog.is_some())
    }

    /// The fence delay for `target`: that of its first-level device.
    fn fence_delay(&self, target: NodeId) -> Option<Duration> {
        let name = self.node_name(target);
        self.config
            .fences
            .iter()
            .filter(|f| f.targets.contains(&name))
            .min_by_key(|f| f.level)
            .map(|f| f.delay)
    }

    /// How long a command from the DC keeps a member authorized. Bounded so
    /// that, with a watchdog, a cut-off member has stopped or reset by the
    /// time the DC recovers its resources (see docs/simulator.md).
    fn lease(&self) -> Duration {
        let timeout = self.config.heartbeat.timeout;
        let lease = timeout.saturating_mul(2);
        match &self.config.watchdog {
            Some(w) => {
                let cap = Duration::from_millis(
                    (w.timeout.as_millis() / 2).saturating_sub(timeout.as_millis()),
                );
                Duration::from_millis(
                    lease
                        .as_millis()
                        .min(cap.as_millis())
                        .max(timeout.as_millis() / 2),
                )
            }
            None => lease,
        }
    }

    fn hash_ok(&self) -> bool {
        self.dc_hash.is_none_or(|h| h == self.config.hash)
    }

    fn authorized(&self, now: Instant) -> bool {
        if !self.qs.quorate || self.ring.listening(now) || self.shutting_down || !self.hash_ok() {
            return false;
        }
        self.reign.is_some()
            || self
                .last_command_at
                .is_some_and(|t| now.saturating_since(t) < self.lease())
    }

    fn anything_active(&self) -> bool {
        self.lrm
            .values()
            .any(|l| !matches!(l.state, ResourceState::Stopped | ResourceState::Unknown))
    }

    fn tick(&mut self, now: Instant) {
        self.now = now;
        self.next_tick = now + self.config.heartbeat.interval;
        if self.ring.tick(now) {
            self.event(
                log::Level::Warn,
                "local stall detected, listening before acting".to_string(),
            );
        }
        let members = self.ring.members(now);
        for m in members.iter().filter(|m| **m != self.local) {
            if let Some(v) = self.ring.expected_votes(*m) {
                self.quorum.advertise(*m, v);
            }
        }
        self.qs = self.quorum.update(now, &members);
        if self.quorum.poll_timeout().is_some_and(|t| t <= now) {
            self.qs = self.quorum.handle_timeout(now);
        }
        if members != self.last_members {
            self.view += 1;
            let names: Vec<String> = members.iter().map(|m| self.node_name(*m)).collect();
            self.event(
                log::Level::Info,
                format!(
                    "membership: members={} quorate={} view={}",
                    names.join(","),
                    self.qs.quorate,
                    self.view
                ),
            );
            self.last_members = members.clone();
            // React to the new view at once (a new DC's first commands,
            // members' reports) rather than a tick later.
            self.handover_until = Some(now + self.config.heartbeat.timeout);
        }
        while let Some(peer) = self.ring.take_restarted() {
            let name = self.node_name(peer);
            self.event(log::Level::Info, format!("peer restarted: peer={name}"));
            if let Some(reign) = self.reign.as_mut() {
                reign.reports.remove(&peer);
                reign.outstanding.retain(|_, p| p.node != peer);
                reign.sent.remove(&peer);
            }
        }
        // Reign: start or end acting as DC. No waiting for a previous DC:
        // the ring's acks guarantee it stopped before its members named us
        // (see `ring`).
        let acting = self.qs.quorate && self.ring.acting_dc(now) && !self.shutting_down;
        match (acting, self.reign.is_some()) {
            (true, false) => self.begin_reign(now, &members),
            (false, true) => self.step_down(),
            _ => {}
        }
        self.ring.set_acting(self.reign.is_some());
        // Once the leave is out, no more heartbeats: a heartbeat sealed
        // after the leave would bring this node back as a member.
        let links = if self.leave_sent > 0 {
            0
        } else {
            self.config.heartbeat.links.len().max(1)
        };
        if links > 0 {
            let (reign, leases) = match &self.reign {
                Some(r) => (r.token, self.leases(r, &members)),
                None => (0, BTreeSet::new()),
            };
            let own = Heartbeat {
                quorate: self.qs.quorate,
                config_hash: self.config.hash,
                expected_votes: self.quorum.expected_votes(),
                reign,
                leases,
                ..Heartbeat::default()
            };
            let body = self.ring.heartbeat(now, own);
            for link in 0..links {
                let bytes = self.ring.seal(Kind::HEARTBEAT, &body);
                self.transmits.push_back(Transmit {
                    link,
                    dest: Dest::All,
                    bytes,
                });
            }
        }
        self.local_duties(now);
        if self.reign.is_some() {
            self.dc_tick(now, &members);
        } else {
            self.send_report(now);
        }
        self.flush_loopback(now);
    }

    fn step_down(&mut self) {
        self.reign = None;
        self.ring.set_acting(false);
        self.event(log::Level::Warn, "dc: stepping down".to_string());
    }

    fn local_duties(&mut self, now: Instant) {
        let authorized = self.authorized(now);
        if authorized {
            self.last_authorized = now;
            self.unauthorized_since = None;
        } else if self.unauthorized_since.is_none() {
            self.unauthorized_since = Some(self.last_authorized);
        }
        let maintenance = self.cib.role(&self.name) == Role::Maintenance;
        let policy = self.config.cluster.no_quorum_policy;
        let must_stop = !authorized
            && (self.shutting_down
                || !self.hash_ok()
                || matches!(policy, NoQuorumPolicy::Stop | NoQuorumPolicy::Suicide));
        // Self-fencing: see the module docs.
        if let (Some(w), Some(since)) = (&self.config.watchdog, self.unauthorized_since) {
            let budget = if policy == NoQuorumPolicy::Suicide {
                Duration::ZERO
            } else {
                Duration::from_millis(w.timeout.as_millis() / 2)
            };
            if !self.watchdog_off
                && now >= since + budget
                && self.anything_active()
                && self.fencing_configured()
            {
                self.watchdog_off = true;
                self.event(
                    log::Level::Error,
                    "watchdog: resources still active without quorum, stop feeding".to_string(),
                );
            }
        }
        let ids: Vec<String> = self.lrm.keys().cloned().collect();
        for r in ids {
            let lr = &self.lrm[&r];
            if lr.busy.is_some() {
                continue;
            }
            if must_stop && matches!(lr.state, ResourceState::Running | ResourceState::Failed) {
                self.start_job(Job::Stop, Some(r), None);
                continue;
            }
            if !maintenance
                && lr.state == ResourceState::Running
                && lr.next_monitor.is_some_and(|t| t <= now)
            {
                self.start_job(Job::Monitor, Some(r), None);
            }
        }
        self.maybe_leave(now, 3);
    }

    /// Tells every peer that this node leaves, once nothing runs here any
    /// more (never before: a peer takes over our resources on it, without
    /// fencing), at most `max` times in all. A lost leave costs only time:
    /// peers then notice the silence after `timeout` as for a crash.
    fn maybe_leave(&mut self, now: Instant, max: u32) {
        if !self.shutting_down
            || self.anything_active()
            || !self.inflight.is_empty()
            || self.leave_sent >= max
        {
            return;
        }
        self.leave_sent += 1;
        if self.leave_sent == 1 {
            self.event(
                log::Level::Info,
                "leaving: resources stopped, telling peers".to_string(),
            );
        }
        let peers: Vec<NodeId> = self
            .config
            .nodes
            .iter()
            .map(|n| n.id)
            .filter(|n| *n != self.local)
            .collect();
        for p in peers {
            self.send_msg(now, p, &Msg::Leave);
        }
    }

    /// An authenticated leave from a peer: it stopped all its resources, so
    /// it is gone at once and clean (no fencing). Acts immediately (a tick
    /// now) so the DC re-places its resources without waiting for the
    /// heartbeat timeout.
    fn on_leave(&mut self, now: Instant, header: crate::wire::Header) {
        let from = header.sender;
        if !self
            .ring
            .peer_left(from, header.incarnation, header.sequence)
        {
            return;
        }
        let name = self.node_name(from);
        self.event(log::Level::Info, format!("peer left: peer={name}"));
        if let Some(reign) = self.reign.as_mut() {
            reign.left.insert(from);
        }
        self.handover_until = Some(now + self.config.heartbeat.timeout);
        self.tick(now);
    }

    fn current_report(&self) -> Report {
        Report {
            view: self.dc_token,
            seq: 0,
            config_hash: self.config.hash,
            cib_key: self.cib.key(),
            probed: self.lrm.values().all(|l| l.state != ResourceState::Unknown),
            leaving: self.shutting_down,
            states: self.lrm.iter().map(|(r, l)| (r.clone(), l.state)).collect(),
            results: self
                .executed
                .iter()
                .filter_map(|(id, o)| o.clone().map(|o| (*id, o)))
                .collect(),
            failures: self.failures.clone(),
            requests: self.requests.clone(),
        }
    }

    /// Whether `old` says what `current_report` would say now (its
    /// sequence aside), compared field by field without building a new
    /// one: members call this every tick and it rarely changes.
    fn report_unchanged(&self, old: &Report) -> bool {
        let mut results = self
            .executed
            .iter()
            .filter_map(|(id, o)| o.as_ref().map(|o| (*id, o)));
        old.view == self.dc_token
            && old.config_hash == self.config.hash
            && old.cib_key == self.cib.key()
            && old.probed == self.lrm.values().all(|l| l.state != ResourceState::Unknown)
            && old.leaving == self.shutting_down
            && old.states.len() == self.lrm.len()
            && old
                .states
                .iter()
                .zip(&self.lrm)
                .all(|((a, s), (b, l))| a == b && *s == l.state)
            && old
                .results
                .iter()
                .all(|(id, o)| results.next() == Some((*id, o)))
            && results.next().is_none()
            && old.failures == self.failures
            && old.requests == self.requests
    }

    /// Brings `last_report` up to date, its sequence number bumped if
    /// anything changed, and returns that sequence number.
    fn refresh_report(&mut self) -> u64 {
        if !self
            .last_report
            .as_ref()
            .is_some_and(|old| self.report_unchanged(old))
        {
            self.report_seq += 1;
            let mut report = self.current_report();
            report.seq = self.report_seq;
            self.last_report = Some(report);
        }
        self.report_seq
    }

    /// The current report, with its sequence number bumped if anything
    /// changed.
    fn next_report(&mut self) -> Report {
        self.refresh_report();
        self.last_report.clone().expect("refresh_report fills it")
    }

    fn send_report(&mut self, now: Instant) {
        let seq = self.refresh_report();
        let dc = self.ring.candidate();
        if dc == self.local || self.dc_ident.is_none_or(|(d, _)| d != dc) {
            return;
        }
        if seq > self.report_acked {
            let report = self.last_report.clone().expect("refresh_report fills it");
            self.send_msg(now, dc, &Msg::Report(report));
        }
    }

    fn send_msg(&mut self, now: Instant, to: NodeId, m: &Msg) {
        if to == self.local {
            self.loopback.push_back(m.clone());
            return;
        }
        self.msg_id += 1;
        let kind = match m {
            Msg::Command(_) => Kind::REQUEST,
            Msg::Cib(_) => Kind::STATE,
            _ => Kind::REPLY,
        };
        let links = self.config.heartbeat.links.len().max(1);
        let up: Vec<usize> = (0..links)
            .filter(|l| self.ring.link_up(to, *l, now))
            .collect();
        let use_links = if up.is_empty() {
            (0..links).collect()
        } else {
            up
        };
        for f in msg::split(self.msg_id, &m.encode()) {
            let body = f.encode();
            for &link in &use_links {
                let bytes = self.ring.seal(kind, &body);
                self.transmits.push_back(Transmit {
                    link,
                    dest: Dest::Node(to),
                    bytes,
                });
            }
        }
    }

    fn flush_loopback(&mut self, now: Instant) {
        while let Some(m) = self.loopback.pop_front() {
            self.on_msg(now, self.local, self.incarnation, m);
        }
    }

    fn on_msg(&mut self, now: Instant, from: NodeId, incarnation: u64, m: Msg) {
        self.now = now;
        match m {
            Msg::Command(c) => self.on_command(now, from, incarnation, c),
            Msg::Report(r) => self.on_report(now, from, incarnation, r),
            Msg::Cib(bytes) => {
                let Ok(other) = Cib::decode(&bytes, now) else {
                    self.ring.count_malformed();
                    return;
                };
                let from_dc =
                    from == self.ring.candidate() && self.dc_ident.is_some_and(|(d, _)| d == from);
                if self.reign.is_some() {
                    let mut other = other;
                    // Where things run comes from reports, not from old copies.
                    other.active = self.cib.active.clone();
                    if self.cib.merge(other) {
                        self.bump();
                        self.event(
                            log::Level::Info,
                            "cib: adopted a newer copy from a member".to_string(),
                        );
                    }
                } else if from_dc && self.cib.merge(other) {
                    self.persist = Some(self.cib.encode(now));
                    // Requests a DC applied need no re-sending, even when
                    // no command acks them (a member being fenced gets none).
                    let done = self.cib.applied_seq(&self.name, self.incarnation);
                    self.requests.retain(|q| q.0 > done);
                }
            }
            Msg::Leave => {
                if let Some(reign) = self.reign.as_mut() {
                    reign.left.insert(from);
                }
            }
        }
    }

    /// A peer's new heartbeat. From the DC this node follows, in the reign
    /// of the commands it follows, with a lease for this node: renews the
    /// lease as an unchanged command would (the DC sends commands only when
    /// they change, see `send_commands`). Checked as `on_command` checks.
    fn on_heartbeat(&mut self, now: Instant, from: NodeId) {
        let Some((hb, incarnation)) = self.ring.heartbeat_of(from) else {
            return;
        };
        let renews = self.dc_ident == Some((from, incarnation))
            && hb.acting
            && hb.quorate
            && hb.reign != 0
            && hb.reign == self.dc_token
            && self.dc_hash == Some(hb.config_hash)
            && hb.leases.contains(&self.local);
        if renews && from == self.ring.candidate() && self.qs.quorate && !self.ring.listening(now) {
            self.last_command_at = Some(now);
        }
    }

    /// Takes reign `view` of DC `dc` (node, incarnation) as the one whose
    /// commands we follow. A new reign numbers its steps and commands from
    /// 1 again (two DCs' reigns can have the same token).
    fn follow_reign(&mut self, dc: (NodeId, u64), view: u64) {
        if self.dc_ident != Some(dc) || view != self.dc_token {
            self.dc_ident = Some(dc);
            self.dc_token = view;
            self.executed.clear();
            self.executed_epoch += 1;
            self.command_seq = 0;
            self.dc_blocked.clear();
        }
    }

    fn on_command(&mut self, now: Instant, from: NodeId, incarnation: u64, c: Command) {
        if from != self.ring.candidate() || !self.qs.quorate || self.ring.listening(now) {
            return;
        }
        let new_dc = self.dc_ident != Some((from, incarnation));
        if new_dc {
            // A new DC: forget what the previous one asked for.
            self.report_acked = 0;
            let name = self.node_name(from);
            self.event(log::Level::Info, format!("following dc: dc={name}"));
        } else if c.view < self.dc_token || (c.view == self.dc_token && c.seq <= self.command_seq) {
            return;
        }
        self.follow_reign((from, incarnation), c.view);
        self.command_seq = c.seq;
        self.dc_blocked = c.blocked.iter().cloned().collect();
        self.dc_hash = Some(c.config_hash);
        self.last_command_at = Some(now);
        // The DC's ack is the truth: a DC that forgot us (we were lost and
        // came back) acks 0 and must get our report again.
        self.report_acked = c.report_ack;
        self.failures.retain(|f| f.0 > c.failures_ack);
        self.requests.retain(|r| r.0 > c.requests_ack);
        if from != self.local
            && self.cib.key() > c.cib_key
            && self
                .cib_pushed_at
                .is_none_or(|t| now.saturating_since(t) >= Duration::from_secs(1))
        {
            self.cib_pushed_at = Some(now);
            let bytes = self.cib.encode(now);
            self.send_msg(now, from, &Msg::Cib(bytes));
        }
        let wanted: BTreeSet<u64> = c.actions.iter().map(|a| a.id).collect();
        self.executed
            .retain(|id, o| o.is_none() || wanted.contains(id));
        if !self.hash_ok() || self.shutting_down {
            return;
        }
        for a in c.actions {
            if self.executed.contains_key(&a.id) {
                continue;
            }
            let Some(lr) = self.lrm.get(&a.resource) else {
                continue;
            };
            if lr.busy.is_some() {
                continue;
            }
            self.executed.insert(a.id, None);
            let job = if a.start { Job::Start } else { Job::Stop };
            self.start_job(job, Some(a.resource), Some((self.executed_epoch, a.id)));
        }
        if from == self.local {
            return;
        }
        // Answer at once so results travel back without waiting a tick.
        self.send_report(now);
    }
}

// Shutdown, polls and queries.
impl Node {
    /// SIGTERM: stop local resources in order and tell the peers we leave.
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.now = now;
        if !self.shutting_down {
            self.shutting_down = true;
            self.event(
                log::Level::Info,
                "shutting down: stopping local resources".to_string(),
            );
            // Step down at once: peers take over on our leave without the
            // usual wait, which is safe only if we no longer act as DC.
            if self.reign.take().is_some() {
                self.event(log::Level::Info, "dc: stepping down to leave".to_string());
            }
        }
        self.local_duties(now);
    }

    /// True once a requested shutdown has finished (resources stopped, peers told).
    pub fn is_shut_down(&self) -> bool {
        self.shutting_down
            && !self.anything_active()
            && self.inflight.is_empty()
            && (self.leave_sent > 0 || self.last_members.len() <= 1)
    }

    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let _ = now;
        self.transmits.pop_front()
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// Replicated state to write to `state_dir` (atomically) before anything
    /// that depends on it is acted upon.
    pub fn poll_persist(&mut self) -> Option<Vec<u8>> {
        self.persist.take()
    }

    /// The earliest armed timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let q = self.quorum.poll_timeout();
        let mut next = q.map_or(self.next_tick, |q| q.min(self.next_tick));
        if let Some(e) = self.ring.next_expiry(self.now) {
            next = next.min(e);
        }
        if let Some(e) = self.ring.next_lease_expiry(self.now) {
            next = next.min(e);
        }
        Some(next)
    }

    /// Whether the watchdog may be fed now. False once this node has lost
    /// quorum and could not stop its resources in time (self-fencing).
    pub fn watchdog_may_feed(&self, now: Instant) -> bool {
        let _ = now;
        !self.watchdog_off
    }

    /// Whether this node currently acts as DC (quorate, named by all members).
    pub fn is_acting_dc(&self) -> bool {
        self.reign.is_some()
    }

    /// The last quorum calculation.
    pub fn quorum_state(&self) -> QuorumState {
        self.qs
    }

    /// The expected_votes this node advertises in its heartbeats (its own:
    /// configured, raised by members, lowered by last_man_standing); the
    /// one in `quorum_state` is the highest among the members.
    pub fn advertised_expected_votes(&self) -> u32 {
        self.quorum.expected_votes()
    }

    /// Starts and stops this node issued as DC since the last call.
    pub fn take_issued(&mut self) -> Vec<Issued> {
        std::mem::take(&mut self.issued)
    }

    /// The local resource states (what this node's agents last reported).
    pub fn local_states(&self) -> BTreeMap<String, ResourceState> {
        self.lrm.iter().map(|(r, l)| (r.clone(), l.state)).collect()
    }

    /// The replicated state as this node holds it.
    pub fn cib(&self) -> &Cib {
        &self.cib
    }
}

impl Node {
    /// True when this node is the acting DC and has nothing left to do:
    /// every member reported, nobody unclean, no action outstanding. The
    /// simulator's convergence check uses it.
    pub fn settled(&self) -> bool {
        self.reign.is_some() && self.unsettled().is_none()
    }

    /// What keeps a DC from being [`settled`](Node::settled), for people
    /// (the simulator's convergence report); None when settled or not DC.
    pub fn unsettled(&self) -> Option<String> {
        let r = self.reign.as_ref()?;
        let names = |ids: &mut dyn Iterator<Item = NodeId>| -> String {
            ids.map(|id| self.node_name(id))
                .collect::<Vec<_>>()
                .join(",")
        };
        if !r.unclean.is_empty() {
            return Some(format!(
                "unclean: {}",
                names(&mut r.unclean.keys().copied())
            ));
        }
        if !r.outstanding.is_empty() {
            return Some(format!("{} actions outstanding", r.outstanding.len()));
        }
        if !r.restart.is_empty() {
            let list: Vec<&str> = r.restart.iter().map(String::as_str).collect();
            return Some(format!("restart pending: {}", list.join(",")));
        }
        let mut missing = r
            .members
            .iter()
            .copied()
            .filter(|m| !r.reports.get(m).is_some_and(|i| i.probed))
            .peekable();
        missing.peek()?;
        Some(format!("no probed report from {}", names(&mut missing)))
    }

    /// Resources whose recovery waits for the operator, with why (a stop
    /// held by a `then` that runs unmanaged; see `plan`): the DC's own
    /// finding, or on a member what the DC's last command said, while
    /// it has quorum and that command is recent (the DC resends within a
    /// heartbeat timeout).
    pub fn blocked(&self) -> BTreeMap<String, String> {
        match &self.reign {
            Some(r) => r.blocked.clone(),
            None if self.qs.quorate
                && self.last_command_at.is_some_and(|t| {
                    self.now.saturating_since(t) < self.config.heartbeat.timeout.saturating_mul(2)
                }) =>
            {
                self.dc_blocked.clone()
            }
            None => BTreeMap::new(),
        }
    }

    /// Whether action `id`, running here, was asked by a DC (not begun by
    /// this node on its own, as the stops after it lost quorum are).
    pub fn is_commanded(&self, id: ActionId) -> bool {
        self.inflight.get(&id).is_some_and(|i| i.remote.is_some())
    }

    /// This node's membership view number: it grows by one each time
    /// [`Node::members`] changes.
    pub fn view(&self) -> u64 {
        self.view
    }

    /// The members of the current view (the local node included).
    pub fn members(&self) -> &BTreeSet<NodeId> {
        &self.last_members
    }
}
