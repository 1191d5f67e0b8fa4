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

use crate::config::{Config, NodeId};
use crate::ctl::proto::{Request, Response, Status};
use crate::time::{Duration, Instant};

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
    Start { resource: String },
    Stop { resource: String },
    /// One run of a monitor; recurring monitors are re-issued by the node.
    Monitor { resource: String },
    /// A one-shot monitor to learn the current state (after start-up).
    Probe { resource: String },
    /// Fence `target` through the configured devices, in level order.
    Fence { target: String },
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

/// Something worth logging or showing; the daemon logs it with `log`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub level: log::Level,
    pub message: String,
}

/// One node's view of the cluster. Performs no I/O.
pub struct Node {
    config: Config,
    local: NodeId,
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
        let _ = (incarnation, key, persisted, seed, now);
        Node { config, local }
    }

    /// A datagram arrived on heartbeat link `link`.
    pub fn handle_datagram(&mut self, now: Instant, link: usize, bytes: &[u8]) {
        let _ = (now, link, bytes);
    }

    /// The earliest deadline from `poll_timeout` has passed (an early call
    /// does nothing).
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// An action from `poll_action` finished.
    pub fn handle_action_done(&mut self, now: Instant, id: ActionId, outcome: Outcome) {
        let _ = (now, id, outcome);
    }

    /// A control-socket request.
    pub fn handle_request(&mut self, now: Instant, request: Request) -> Response {
        let _ = now;
        match request {
            Request::Status => Response::Status(Box::new(self.status(now))),
            _ => Response::Error { message: "not supported yet".to_string() },
        }
    }

    /// The configuration changed (`ha reload`, SIGHUP); already validated.
    pub fn handle_reload(&mut self, now: Instant, config: Config) {
        let _ = now;
        self.config = config;
    }

    /// SIGTERM: stop local resources in order and tell the peers we leave.
    pub fn handle_shutdown(&mut self, now: Instant) {
        let _ = now;
    }

    /// True once a requested shutdown has finished (resources stopped, peers told).
    pub fn is_shut_down(&self) -> bool {
        true
    }

    pub fn poll_transmit(&mut self, now: Instant) -> Option<Transmit> {
        let _ = now;
        None
    }

    pub fn poll_action(&mut self) -> Option<Action> {
        None
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        None
    }

    /// Replicated state to write to `state_dir` (atomically) before anything
    /// that depends on it is acted upon.
    pub fn poll_persist(&mut self) -> Option<Vec<u8>> {
        None
    }

    /// The earliest armed timer.
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Whether the watchdog may be fed now. False once this node has lost
    /// quorum and could not stop its resources in time (self-fencing).
    pub fn watchdog_may_feed(&self, now: Instant) -> bool {
        let _ = now;
        true
    }

    /// The document behind `ha status`.
    pub fn status(&self, now: Instant) -> Status {
        let _ = now;
        Status {
            cluster: self.config.cluster.name.clone(),
            local_node: self.config.node_by_id(self.local).map(|n| n.name.clone()).unwrap_or_default(),
            ..Status::default()
        }
    }
}
