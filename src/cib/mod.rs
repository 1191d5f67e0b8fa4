//! The replicated cluster state (pacemaker's CIB status and runtime parts).
//!
//! Decides nothing about placement; it records what the cluster has agreed
//! on at run time, on top of the static config:
//! - node roles (online / standby / maintenance, `ha node ...`),
//! - runtime location constraints (`ha resource move/ban`, optional expiry;
//!   a move without a lifetime lasts until the move has happened, when the
//!   DC drops it with [`Cib::clear_move`], see `node::plan`),
//! - runtime target roles (`ha resource start/stop`),
//! - fail-counts with the last failure (op, rc, time),
//! - where each resource is active, as last reported by each node.
//!
//! Only the DC changes it, and bumps `epoch` on every change. Every copy
//! carries `(quorate, epoch, view)`: after a partition heals, the copy with
//! the higher key wins wholesale, so the quorate side's state wins over a
//! minority that may have diverged ([`Cib::merge`]).
//!
//! Inputs: mutations from the DC, with `now`. Outputs: the state itself and
//! its persisted/wire form ([`Cib::encode`] / [`Cib::decode`]). Times are
//! monotonic and local to one node, so the encoded form stores ages and
//! remaining lifetimes relative to the encoder's `now`, and the decoder
//! rebases them on its own clock. This module does no I/O; the daemon writes
//! the encoded form with temp file + fsync + rename.

pub mod codec;

use std::collections::BTreeMap;

use crate::time::{Duration, Instant};
use codec::{Reader, Writer};

/// A node's administrative role (`ha node standby|online|maintenance`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    #[default]
    Online,
    /// Runs no resources; they move away.
    Standby,
    /// Resources on it are left alone: neither started, stopped nor monitored.
    Maintenance,
}

/// A runtime location constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConstraintKind {
    /// `ha resource move`: prefer the node with INFINITY.
    Move,
    /// `ha resource ban`: -INFINITY on the node.
    Ban,
}

/// One runtime constraint from `ha resource move|ban`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConstraint {
    pub resource: String,
    pub node: String,
    pub kind: ConstraintKind,
    /// When the constraint lapses (local monotonic time); `None` = never.
    pub expires: Option<Instant>,
}

impl RuntimeConstraint {
    /// A move without `--lifetime`: its only job is to get the resource
    /// there, so the DC drops it once the move has happened. A move with a
    /// lifetime stays until it expires; a ban stays until cleared.
    pub fn until_moved(&self) -> bool {
        self.kind == ConstraintKind::Move && self.expires.is_none()
    }
}

/// Failures of one resource on one node (pacemaker's fail-count and
/// last-failure attributes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailCount {
    pub count: u32,
    pub last_failure: Instant,
    /// The failed operation: start, stop, monitor, probe.
    pub op: String,
    pub rc: i32,
}

/// A resource's state on one node, as that node last reported it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResourceState {
    /// Not probed yet: may or may not run.
    #[default]
    Unknown,
    Stopped,
    Running,
    /// Active but its last start or monitor failed: needs recovery.
    Failed,
    /// A start is in flight.
    Starting,
    /// A stop is in flight.
    Stopping,
    /// A stop failed: the node must be fenced before anyone else runs it.
    StopFailed,
}

impl ResourceState {
    /// Whether the resource may be running there (anything but a confirmed stop).
    pub fn may_be_active(self) -> bool {
        !matches!(self, ResourceState::Stopped)
    }

    fn code(self) -> u8 {
        match self {
            ResourceState::Unknown => 0,
            ResourceState::Stopped => 1,
            ResourceState::Running => 2,
            ResourceState::Failed => 3,
            ResourceState::Starting => 4,
            ResourceState::Stopping => 5,
            ResourceState::StopFailed => 6,
        }
    }

    fn from_code(c: u8) -> Option<ResourceState> {
        Some(match c {
            0 => ResourceState::Unknown,
            1 => ResourceState::Stopped,
            2 => ResourceState::Running,
            3 => ResourceState::Failed,
            4 => ResourceState::Starting,
            5 => ResourceState::Stopping,
            6 => ResourceState::StopFailed,
            _ => return None,
        })
    }

    /// Encodes for the node's messages.
    pub fn encode(self, w: &mut Writer) {
        w.u8(self.code());
    }

    /// Decodes what [`ResourceState::encode`] wrote.
    pub fn decode(r: &mut Reader) -> Option<ResourceState> {
        ResourceState::from_code(r.u8()?)
    }
}

/// The ordering key of a copy: the higher one wins a merge.
pub type CibKey = (bool, u64, u64);

/// The replicated state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cib {
    /// Bumped by the DC on every change.
    pub epoch: u64,
    /// The view of the DC that last changed it.
    pub view: u64,
    /// Whether that DC held quorum.
    pub quorate: bool,
    /// Roles other than `Online`, by node name.
    pub roles: BTreeMap<String, Role>,
    pub constraints: Vec<RuntimeConstraint>,
    /// Runtime target roles by resource id (`true` = started).
    pub target_roles: BTreeMap<String, bool>,
    /// By (resource, node).
    pub failcounts: BTreeMap<(String, String), FailCount>,
    /// By node, then resource.
    pub active: BTreeMap<String, BTreeMap<String, ResourceState>>,
    /// Control requests forwarded to a DC and applied, by requesting node:
    /// `(incarnation, highest sequence applied)`. A member re-sends a
    /// request until a DC acks it; when that DC dies first, the next one
    /// would apply it again (a `fence` request then reset its target over
    /// and over: seed 3301608880512052361). With this record, replicated
    /// like everything here, a later DC skips what was applied.
    pub applied: BTreeMap<String, (u64, u64)>,
}

/// Why a persisted or received state could not be decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CibError {
    /// Too short, bad tag, or bad UTF-8.
    Malformed,
    /// Written by a newer ha.
    Version(u8),
}

impl std::fmt::Display for CibError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CibError::Malformed => write!(f, "replicated state is truncated or malformed"),
            CibError::Version(v) => write!(
                f,
                "replicated state has format version {v}, expected {VERSION}"
            ),
        }
    }
}

/// 2 added [`Cib::applied`]; version 1 copies (without it) still load.
const VERSION: u8 = 2;

impl Cib {
    /// `(quorate, epoch, view)`: a copy written by a quorate DC beats any
    /// minority copy; among equals the later epoch, then the later view.
    pub fn key(&self) -> CibKey {
        (self.quorate, self.epoch, self.view)
    }

    /// Adopts `other` if its key is higher; returns whether it did.
    /// The active map is kept from `self` for nodes `other` knows nothing
    /// about, since every node's own report is the truth about that node and
    /// the DC refreshes it anyway.
    pub fn merge(&mut self, other: Cib) -> bool {
        if other.key() <= self.key() {
            return false;
        }
        let mut active = std::mem::take(&mut self.active);
        *self = other;
        for (node, states) in std::mem::take(&mut self.active) {
            active.insert(node, states);
        }
        self.active = active;
        true
    }

    /// Marks a change by the DC of `view`.
    pub fn bump(&mut self, view: u64, quorate: bool) {
        self.epoch += 1;
        self.view = self.view.max(view);
        self.quorate = quorate;
    }

    /// A node's role (`Online` unless set).
    pub fn role(&self, node: &str) -> Role {
        self.roles.get(node).copied().unwrap_or_default()
    }

    /// Sets a node's role; returns whether it changed.
    pub fn set_role(&mut self, node: &str, role: Role) -> bool {
        let old = self.role(node);
        if role == Role::Online {
            self.roles.remove(node);
        } else {
            self.roles.insert(node.to_string(), role);
        }
        old != role
    }

    /// Adds a constraint. A move replaces earlier moves of the same resource
    /// (pacemaker's cli-prefer is one per resource).
    pub fn add_constraint(&mut self, c: RuntimeConstraint) {
        if c.kind == ConstraintKind::Move {
            self.constraints
                .retain(|o| !(o.resource == c.resource && o.kind == ConstraintKind::Move));
        }
        self.constraints
            .retain(|o| !(o.resource == c.resource && o.node == c.node && o.kind == c.kind));
        self.constraints.push(c);
    }

    /// `ha resource clear`: drops every runtime constraint of `resource`.
    pub fn clear(&mut self, resource: &str) -> bool {
        let before = self.constraints.len();
        self.constraints.retain(|c| c.resource != resource);
        before != self.constraints.len()
    }

    /// Drops the until-moved preference of `resource` for `node` (the move
    /// has happened); a move with a lifetime and bans are kept. Returns
    /// whether there was one.
    pub fn clear_move(&mut self, resource: &str, node: &str) -> bool {
        let before = self.constraints.len();
        self.constraints
            .retain(|c| !(c.until_moved() && c.resource == resource && c.node == node));
        before != self.constraints.len()
    }

    /// Counts one failure of `op` of `resource` on `node`.
    pub fn record_failure(&mut self, resource: &str, node: &str, op: &str, rc: i32, now: Instant) {
        let entry = self
            .failcounts
            .entry((resource.to_string(), node.to_string()))
            .or_insert(FailCount {
                count: 0,
                last_failure: now,
                op: String::new(),
                rc: 0,
            });
        entry.count = entry.count.saturating_add(1);
        entry.last_failure = now;
        entry.op = op.to_string();
        entry.rc = rc;
    }

    /// `ha resource cleanup`: forgets failures of `resource` (on `node`, or everywhere).
    pub fn cleanup(&mut self, resource: &str, node: Option<&str>) -> bool {
        let before = self.failcounts.len();
        self.failcounts
            .retain(|(r, n), _| !(r == resource && node.is_none_or(|want| want == n)));
        before != self.failcounts.len()
    }

    /// The fail-count of `resource` on `node`.
    pub fn failcount(&self, resource: &str, node: &str) -> u32 {
        self.failcounts
            .get(&(resource.to_string(), node.to_string()))
            .map_or(0, |f| f.count)
    }

    /// Drops constraints whose lifetime ended and failures older than the
    /// resource's `failure_timeout` (given per resource; zero = never).
    /// Returns whether anything changed.
    pub fn expire(&mut self, now: Instant, failure_timeout: impl Fn(&str) -> Duration) -> bool {
        let before = (self.constraints.len(), self.failcounts.len());
        self.constraints
            .retain(|c| c.expires.is_none_or(|t| t > now));
        self.failcounts.retain(|(r, _), f| {
            let timeout = failure_timeout(r);
            timeout.is_zero() || now.saturating_since(f.last_failure) < timeout
        });
        before != (self.constraints.len(), self.failcounts.len())
    }

    /// Records the state of every resource on `node` as that node reported it.
    /// Returns whether anything changed.
    pub fn set_active(&mut self, node: &str, states: BTreeMap<String, ResourceState>) -> bool {
        if self.active.get(node) == Some(&states) {
            return false;
        }
        self.active.insert(node.to_string(), states);
        true
    }

    /// [`Cib::set_active`] from a borrowed map, copied only if it differs.
    pub fn set_active_from(
        &mut self,
        node: &str,
        states: &BTreeMap<String, ResourceState>,
    ) -> bool {
        if self.active.get(node) == Some(states) {
            return false;
        }
        self.active.insert(node.to_string(), states.clone());
        true
    }

    /// Nodes where `resource` may be active (anything but a confirmed stop).
    pub fn active_on(&self, resource: &str) -> Vec<String> {
        self.active
            .iter()
            .filter(|(_, states)| {
                states
                    .get(resource)
                    .is_some_and(|s| *s != ResourceState::Stopped && *s != ResourceState::Unknown)
            })
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// The persisted and wire form. Times are written relative to `now`.
    pub fn encode(&self, now: Instant) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(VERSION);
        w.u64(self.epoch);
        w.u64(self.view);
        w.bool(self.quorate);
        w.u32(self.roles.len() as u32);
        for (node, role) in &self.roles {
            w.str(node);
            w.u8(match role {
                Role::Online => 0,
                Role::Standby => 1,
                Role::Maintenance => 2,
            });
        }
        w.u32(self.constraints.len() as u32);
        for c in &self.constraints {
            w.str(&c.resource);
            w.str(&c.node);
            w.u8(match c.kind {
                ConstraintKind::Move => 0,
                ConstraintKind::Ban => 1,
            });
            w.opt_u64(c.expires.map(|t| t.saturating_since(now).as_millis()));
        }
        w.u32(self.target_roles.len() as u32);
        for (r, started) in &self.target_roles {
            w.str(r);
            w.bool(*started);
        }
        w.u32(self.failcounts.len() as u32);
        for ((r, n), f) in &self.failcounts {
            w.str(r);
            w.str(n);
            w.u32(f.count);
            w.u64(now.saturating_since(f.last_failure).as_millis());
            w.str(&f.op);
            w.i32(f.rc);
        }
        w.u32(self.active.len() as u32);
        for (node, states) in &self.active {
            w.str(node);
            w.u32(states.len() as u32);
            for (r, s) in states {
                w.str(r);
                s.encode(&mut w);
            }
        }
        w.u32(self.applied.len() as u32);
        for (node, (incarnation, seq)) in &self.applied {
            w.str(node);
            w.u64(*incarnation);
            w.u64(*seq);
        }
        w.buf
    }

    /// Reads what [`Cib::encode`] wrote, rebasing times on `now`.
    pub fn decode(bytes: &[u8], now: Instant) -> Result<Cib, CibError> {
        let mut r = Reader::new(bytes);
        let version = r.u8().ok_or(CibError::Malformed)?;
        if version == 0 || version > VERSION {
            return Err(CibError::Version(version));
        }
        Cib::decode_body(&mut r, now, version)
            .filter(|_| r.is_empty())
            .ok_or(CibError::Malformed)
    }

    fn decode_body(r: &mut Reader, now: Instant, version: u8) -> Option<Cib> {
        // A remaining lifetime / age becomes an instant on our clock. An age
        // older than our origin saturates to the origin.
        let back = |ms: u64| Instant::from_millis(now.as_millis().saturating_sub(ms));
        let mut cib = Cib {
            epoch: r.u64()?,
            view: r.u64()?,
            quorate: r.bool()?,
            ..Cib::default()
        };
        for _ in 0..r.count()? {
            let node = r.str()?;
            let role = match r.u8()? {
                0 => Role::Online,
                1 => Role::Standby,
                2 => Role::Maintenance,
                _ => return None,
            };
            cib.roles.insert(node, role);
        }
        for _ in 0..r.count()? {
            let resource = r.str()?;
            let node = r.str()?;
            let kind = match r.u8()? {
                0 => ConstraintKind::Move,
                1 => ConstraintKind::Ban,
                _ => return None,
            };
            let expires = r.opt_u64()?.map(|ms| now + Duration::from_millis(ms));
            cib.constraints.push(RuntimeConstraint {
                resource,
                node,
                kind,
                expires,
            });
        }
        for _ in 0..r.count()? {
            let res = r.str()?;
            let started = r.bool()?;
            cib.target_roles.insert(res, started);
        }
        for _ in 0..r.count()? {
            let res = r.str()?;
            let node = r.str()?;
            let count = r.u32()?;
            let last_failure = back(r.u64()?);
            let op = r.str()?;
            let rc = r.i32()?;
            cib.failcounts.insert(
                (res, node),
                FailCount {
                    count,
                    last_failure,
                    op,
                    rc,
                },
            );
        }
        for _ in 0..r.count()? {
            let node = r.str()?;
            let mut states = BTreeMap::new();
            for _ in 0..r.count()? {
                let res = r.str()?;
                states.insert(res, ResourceState::decode(r)?);
            }
            cib.active.insert(node, states);
        }
        if version >= 2 {
            for _ in 0..r.count()? {
                let node = r.str()?;
                let incarnation = r.u64()?;
                let seq = r.u64()?;
                cib.applied.insert(node, (incarnation, seq));
            }
        }
        Some(cib)
    }

    /// The highest sequence of `node`'s forwarded requests applied while
    /// it ran as `incarnation` (0: none).
    pub fn applied_seq(&self, node: &str, incarnation: u64) -> u64 {
        match self.applied.get(node) {
            Some((i, seq)) if *i == incarnation => *seq,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(now: Instant) -> Cib {
        let mut cib = Cib::default();
        cib.set_role("n2", Role::Standby);
        cib.set_role("n3", Role::Maintenance);
        cib.add_constraint(RuntimeConstraint {
            resource: "web".into(),
            node: "n1".into(),
            kind: ConstraintKind::Move,
            expires: Some(now + Duration::from_secs(60)),
        });
        cib.add_constraint(RuntimeConstraint {
            resource: "db".into(),
            node: "n2".into(),
            kind: ConstraintKind::Ban,
            expires: None,
        });
        cib.target_roles.insert("db".into(), false);
        cib.record_failure("web", "n2", "monitor", 7, now);
        cib.set_active(
            "n1",
            BTreeMap::from([
                ("web".to_string(), ResourceState::Running),
                ("db".to_string(), ResourceState::Stopped),
            ]),
        );
        cib.applied.insert("n3".into(), (7, 2));
        cib.bump(4, true);
        cib
    }

    #[test]
    fn a_version_1_copy_loads_without_the_applied_requests() {
        // Goal: state persisted by the ha before format 2 still loads (an
        // upgrade keeps roles, constraints and fail-counts). Method: a
        // version-1 copy is a version-2 one without the last section.
        let now = Instant::from_millis(10);
        let mut cib = sample(now);
        cib.applied.clear();
        let mut bytes = cib.encode(now);
        bytes.truncate(bytes.len() - 4);
        bytes[0] = 1;
        assert_eq!(Cib::decode(&bytes, now), Ok(cib));
        assert_eq!(sample(now).applied_seq("n3", 7), 2);
        assert_eq!(sample(now).applied_seq("n3", 8), 0, "another incarnation");
    }

    #[test]
    fn encode_decode_round_trip_rebases_times() {
        // Goal: the persisted form reads back equal; times keep their
        // distance to `now` even when the reader's clock differs.
        let now = Instant::from_millis(100_000);
        let cib = sample(now);
        let bytes = cib.encode(now);
        assert_eq!(Cib::decode(&bytes, now).unwrap(), cib);
        let later = Instant::from_millis(500_000);
        let moved = Cib::decode(&bytes, later).unwrap();
        assert_eq!(
            moved.constraints[0].expires,
            Some(later + Duration::from_secs(60))
        );
        assert_eq!(
            moved.failcounts[&("web".to_string(), "n2".to_string())].last_failure,
            later
        );
    }

    #[test]
    fn decode_rejects_garbage_without_panicking() {
        // Goal: every truncation and a wrong version are errors, not panics.
        let now = Instant::from_millis(10);
        let bytes = sample(now).encode(now);
        for cut in 0..bytes.len() {
            assert!(Cib::decode(&bytes[..cut], now).is_err(), "cut {cut}");
        }
        let mut bad = bytes.clone();
        bad[0] = 9;
        assert_eq!(Cib::decode(&bad, now), Err(CibError::Version(9)));
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(Cib::decode(&long, now), Err(CibError::Malformed));
    }

    #[test]
    fn merge_prefers_quorate_then_epoch_then_view() {
        // Goal: after a partition heals the quorate side's copy wins even if
        // the minority bumped its epoch more often.
        let now = Instant::ZERO;
        let mut majority = sample(now);
        majority.quorate = true;
        majority.epoch = 5;
        let mut minority = sample(now);
        minority.quorate = false;
        minority.epoch = 50;
        minority.set_role("n1", Role::Standby);
        let mut m = minority.clone();
        assert!(m.merge(majority.clone()));
        assert_eq!(m.role("n1"), Role::Online);
        let mut q = majority.clone();
        assert!(!q.merge(minority));
        let mut newer = majority.clone();
        newer.epoch = 6;
        newer.set_role("n2", Role::Online);
        assert!(q.merge(newer));
        assert_eq!(q.role("n2"), Role::Online);
        let mut same_epoch_later_view = q.clone();
        same_epoch_later_view.view += 1;
        assert!(q.merge(same_epoch_later_view));
    }

    #[test]
    fn constraints_failures_expire() {
        // Goal: a move with a lifetime lapses; failures expire after
        // failure_timeout; a second move of a resource replaces the first.
        let t0 = Instant::from_millis(1000);
        let mut cib = sample(t0);
        cib.add_constraint(RuntimeConstraint {
            resource: "web".into(),
            node: "n3".into(),
            kind: ConstraintKind::Move,
            expires: Some(t0 + Duration::from_secs(10)),
        });
        assert_eq!(
            cib.constraints
                .iter()
                .filter(|c| c.resource == "web")
                .count(),
            1
        );
        assert!(!cib.expire(t0 + Duration::from_secs(5), |_| Duration::ZERO));
        assert!(cib.expire(t0 + Duration::from_secs(11), |_| Duration::ZERO));
        assert!(cib.constraints.iter().all(|c| c.resource != "web"));
        assert_eq!(cib.failcount("web", "n2"), 1);
        assert!(cib.expire(t0 + Duration::from_secs(31), |_| Duration::from_secs(30)));
        assert_eq!(cib.failcount("web", "n2"), 0);
        assert!(cib.clear("db"));
        cib.record_failure("db", "n1", "start", 1, t0);
        cib.record_failure("db", "n2", "start", 1, t0);
        assert!(cib.cleanup("db", Some("n1")));
        assert_eq!(cib.failcount("db", "n2"), 1);
        assert!(cib.cleanup("db", None));
        assert!(cib.failcounts.is_empty());
    }

    #[test]
    fn clear_move_drops_only_the_until_moved_preference() {
        // Goal: the automatic clear after a move removes the move without a
        // lifetime of that resource to that node, and nothing else: a ban,
        // a move with a lifetime, another resource's move stay.
        let t0 = Instant::from_millis(1000);
        let mv = |r: &str, n: &str, expires: Option<Instant>| RuntimeConstraint {
            resource: r.into(),
            node: n.into(),
            kind: ConstraintKind::Move,
            expires,
        };
        let mut cib = Cib::default();
        cib.add_constraint(mv("web", "n2", None));
        cib.add_constraint(mv("db", "n3", Some(t0 + Duration::from_secs(60))));
        cib.add_constraint(RuntimeConstraint {
            resource: "web".into(),
            node: "n1".into(),
            kind: ConstraintKind::Ban,
            expires: None,
        });
        assert!(cib.constraints[0].until_moved());
        assert!(!cib.constraints[1].until_moved());
        assert!(!cib.constraints[2].until_moved());
        assert!(!cib.clear_move("web", "n3"), "no move of web to n3");
        assert!(!cib.clear_move("db", "n3"), "a move with a lifetime stays");
        assert!(!cib.clear_move("web", "n1"), "a ban stays");
        assert!(cib.clear_move("web", "n2"));
        assert_eq!(cib.constraints.len(), 2);
        assert!(cib.constraints.iter().all(|c| !c.until_moved()));
        // Survives the persisted form unchanged (no lifetime = until moved).
        let back = Cib::decode(&cib.encode(t0), t0).unwrap();
        assert_eq!(back.constraints, cib.constraints);
        cib.add_constraint(mv("web", "n3", None));
        let back = Cib::decode(&cib.encode(t0), t0).unwrap();
        assert!(
            back.constraints
                .iter()
                .any(|c| c.until_moved() && c.node == "n3")
        );
    }
}
