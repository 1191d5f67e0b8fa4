//! The solver's view of the current cluster: a plain value, no I/O.
//!
//! [`ClusterState`] is what `policy::place` needs beyond the config: node
//! states, where resources are active, fail-counts, failed resources,
//! runtime move/ban constraints, runtime target roles, quorum, and the
//! wall-clock time used to expire fail-counts (`failure_timeout`). The
//! daemon builds it from the replicated CIB; `ha simulate` builds it from
//! the `ha status --json` document with [`ClusterState::from_status`].

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::config::{Config, TargetRole};
use crate::ctl::proto::Status;
use crate::score::Score;

/// A node's state as the solver sees it (SPEC section 3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum NodeState {
    #[default]
    Online,
    /// Down, cleanly: nothing runs there.
    Offline,
    /// Up, but runs no resources: they move away.
    Standby,
    /// Up; resources on it are left alone (unmanaged), nothing new starts.
    Maintenance,
    /// Lost and not yet fenced: may still run what it ran, so recovery
    /// elsewhere waits for fencing.
    Unclean,
    /// Seen, not yet a member: runs nothing.
    Pending,
}

impl NodeState {
    /// Parses the SPEC section 3 spelling.
    pub fn parse(text: &str) -> Option<NodeState> {
        Some(match text {
            "online" => NodeState::Online,
            "offline" => NodeState::Offline,
            "standby" => NodeState::Standby,
            "maintenance" => NodeState::Maintenance,
            "unclean" => NodeState::Unclean,
            "pending" => NodeState::Pending,
            _ => return None,
        })
    }

    /// The SPEC section 3 spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Online => "online",
            NodeState::Offline => "offline",
            NodeState::Standby => "standby",
            NodeState::Maintenance => "maintenance",
            NodeState::Unclean => "unclean",
            NodeState::Pending => "pending",
        }
    }

    /// Pacemaker's `can_run_resources`: only an online node takes resources.
    pub fn can_run(self) -> bool {
        self == NodeState::Online
    }

    /// Whether what the state says is active there is still active: a
    /// cleanly offline or pending node runs nothing; an unclean node may.
    pub fn keeps_resources(self) -> bool {
        !matches!(self, NodeState::Offline | NodeState::Pending)
    }
}

/// Fail-count of one resource on one node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailCount {
    pub count: u32,
    /// Wall-clock time of the last failure, milliseconds since the Unix
    /// epoch; `None` when unknown (then the count never expires).
    pub last_failure_ms: Option<u64>,
}

/// A runtime location constraint from `ha resource move|ban`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeConstraint {
    /// A primitive, group or clone id.
    pub resource: String,
    pub node: String,
    /// INFINITY for move, -INFINITY for ban.
    pub score: Score,
    /// Wall-clock expiry (ms since the Unix epoch); `None` = until cleared.
    pub expires_ms: Option<u64>,
}

/// Everything beyond the config that placement depends on.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterState {
    /// Every configured node. A node missing here counts as offline.
    pub nodes: BTreeMap<String, NodeState>,
    /// Primitive id (or clone id) to the nodes it is active on.
    pub active: BTreeMap<String, Vec<String>>,
    /// (primitive id, node) to its fail-count.
    pub failcounts: BTreeMap<(String, String), FailCount>,
    /// (primitive id, node): active there, but its last start or monitor
    /// failed, so it needs recovery.
    pub failed: BTreeSet<(String, String)>,
    /// Runtime move/ban constraints, applied after the configured ones.
    pub constraints: Vec<RuntimeConstraint>,
    /// Runtime target roles (`ha resource start|stop`), overriding meta.
    pub target_roles: BTreeMap<String, TargetRole>,
    pub quorate: bool,
    /// Wall-clock now, ms since the Unix epoch (fail-count expiry, move
    /// lifetimes). Only compared with the times above.
    pub now_ms: u64,
}

/// A state document that does not fit the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError {
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StateError {}

/// A hint listing the valid names.
pub(crate) fn known(what: &str, names: impl IntoIterator<Item = String>) -> String {
    let list: Vec<String> = names.into_iter().map(|n| format!("\"{n}\"")).collect();
    format!("known {what} are {}", list.join(", "))
}

impl ClusterState {
    /// Every configured node online, nothing active, quorate: what
    /// `ha simulate` assumes without `--state`.
    pub fn all_online(config: &Config) -> ClusterState {
        ClusterState {
            nodes: config
                .nodes
                .iter()
                .map(|n| (n.name.clone(), NodeState::Online))
                .collect(),
            quorate: true,
            ..ClusterState::default()
        }
    }

    /// Builds the state from the `ha status --json` document (SPEC
    /// section 3). Unknown nodes or resources are errors that name them.
    /// Failure times (`failures[].at`, RFC 3339 UTC) feed failure expiry.
    pub fn from_status(
        config: &Config,
        status: &Status,
        now_ms: u64,
    ) -> Result<ClusterState, StateError> {
        let mut state = ClusterState {
            quorate: status.quorum.quorate,
            now_ms,
            ..ClusterState::default()
        };
        let node_names = || config.nodes.iter().map(|n| n.name.clone());
        for node in &config.nodes {
            state.nodes.insert(node.name.clone(), NodeState::Offline);
        }
        for node in &status.nodes {
            if config.node(&node.name).is_none() {
                return Err(StateError {
                    message: format!("state: unknown node \"{}\" in nodes[]", node.name),
                    hint: Some(known("nodes", node_names())),
                });
            }
            let Some(s) = NodeState::parse(&node.state) else {
                return Err(StateError {
                    message: format!(
                        "state: node \"{}\" has unknown state \"{}\"",
                        node.name, node.state
                    ),
                    hint: Some(
                        "states are online, offline, standby, maintenance, unclean, pending".into(),
                    ),
                });
            };
            state.nodes.insert(node.name.clone(), s);
        }
        // Old documents may omit the quorum block; a state where every node
        // is listed but `quorum` is absent would otherwise mean "no quorum".
        if status.quorum == Default::default() {
            state.quorate = true;
        }
        let check_node = |rsc: &str, node: &str, field: &str| -> Result<(), StateError> {
            if config.node(node).is_none() {
                return Err(StateError {
                    message: format!("state: resource \"{rsc}\" {field} unknown node \"{node}\""),
                    hint: Some(known("nodes", node_names())),
                });
            }
            Ok(())
        };
        let idx = super::index::Index::new(config);
        for rsc in &status.resources {
            let id = rsc.id.as_str();
            let is_primitive = idx.resource.contains_key(id);
            let is_clone = idx.clone.contains_key(id);
            let is_group = idx.group.contains_key(id);
            if !is_primitive && !is_clone && !is_group {
                let mut names: Vec<String> =
                    config.resources.iter().map(|r| r.id.clone()).collect();
                names.extend(config.clones.iter().map(|c| c.id.clone()));
                return Err(StateError {
                    message: format!("state: unknown resource \"{id}\" in resources[]"),
                    hint: Some(known("resources", names)),
                });
            }
            for n in &rsc.active_on {
                check_node(id, n, "is active on")?;
            }
            for n in rsc.failed_on.iter() {
                check_node(id, n, "failed on")?;
            }
            for n in rsc.failcounts.keys() {
                check_node(id, n, "has a fail-count on")?;
            }
            if is_group {
                // A group is not active by itself; its members are listed.
                continue;
            }
            if !rsc.active_on.is_empty() {
                let entry = state.active.entry(id.to_string()).or_default();
                for n in &rsc.active_on {
                    if !entry.contains(n) {
                        entry.push(n.clone());
                    }
                }
            }
            for n in &rsc.failed_on {
                state.failed.insert((id.to_string(), n.clone()));
            }
            // Fail-counts belong to the primitive: a clone's entry counts
            // for the primitive it wraps.
            let fc_id = idx
                .clone
                .get(id)
                .map(|c| c.resource.clone())
                .filter(|r| idx.resource.contains_key(r.as_str()))
                .unwrap_or_else(|| id.to_string());
            for (n, count) in &rsc.failcounts {
                let last = rsc
                    .failures
                    .iter()
                    .filter(|f| &f.node == n)
                    .filter_map(|f| parse_rfc3339_ms(&f.at))
                    .max();
                state.failcounts.insert(
                    (fc_id.clone(), n.clone()),
                    FailCount {
                        count: *count,
                        last_failure_ms: last,
                    },
                );
            }
            if rsc.target_role == "stopped" {
                state
                    .target_roles
                    .insert(id.to_string(), TargetRole::Stopped);
            }
        }
        Ok(state)
    }

    /// The state of `node`; unknown nodes are offline.
    pub fn node_state(&self, node: &str) -> NodeState {
        self.nodes.get(node).copied().unwrap_or(NodeState::Offline)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.frac]Z` (UTC) to ms since the Unix epoch.
/// Returns `None` for anything else rather than guessing a zone.
pub fn parse_rfc3339_ms(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || (b[10] != b'T' && b[10] != b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' || !text.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, s) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let frac = &text[19..text.len() - 1];
    let ms = if frac.is_empty() {
        0
    } else {
        let digits = frac.strip_prefix('.')?;
        if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        let first3: String = digits.chars().chain("000".chars()).take(3).collect();
        first3.parse::<u64>().ok()?
    };
    // Days from civil (Howard Hinnant's algorithm), proleptic Gregorian.
    let (y, mo) = (y as i64, mo as i64);
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    if days < 0 {
        return None;
    }
    Some(((days as u64 * 86_400) + h * 3600 + mi * 60 + s) * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_parse_to_unix_ms() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2026-11-25T12:00:00Z"),
            Some(1_795_608_000_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2000-03-01T00:00:01.5Z"),
            Some(951_868_801_500)
        );
        assert_eq!(parse_rfc3339_ms("2026-11-25T12:00:00+01:00"), None);
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
