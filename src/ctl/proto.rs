//! Messages on the control socket, and the `ha status --json` document.
//!
//! One JSON object per line each way. The status document is the contract of
//! SPEC section 3: field names here are promises to users and tests; add
//! fields, never rename them. It is also the `--state` input of
//! `ha simulate`, so everything beyond the required fields has a default.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A request from the CLI to the daemon.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    Status,
    /// `ha node standby|online|maintenance|ready NODE`
    NodeRole {
        node: String,
        role: NodeRole,
    },
    /// `ha resource move RSC NODE [--lifetime DUR]` (lifetime in ms)
    Move {
        resource: String,
        node: String,
        lifetime_ms: Option<u64>,
    },
    Ban {
        resource: String,
        node: String,
    },
    Clear {
        resource: String,
    },
    Cleanup {
        resource: String,
        node: Option<String>,
    },
    /// `ha resource start|stop`
    TargetRole {
        resource: String,
        started: bool,
    },
    Restart {
        resource: String,
    },
    Scores {
        resource: Option<String>,
    },
    Fence {
        node: String,
    },
    Reload,
}

/// The roles `ha node` can set.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRole {
    Standby,
    Online,
    Maintenance,
    /// Leave maintenance (crm node ready).
    Ready,
}

/// The daemon's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "response", rename_all = "snake_case")]
pub enum Response {
    Ok {
        message: String,
    },
    Status(Box<Status>),
    Scores {
        text: String,
    },
    /// The request failed; `message` says why (exit code 1 in the CLI).
    Error {
        message: String,
    },
}

/// `ha status --json` (SPEC section 3).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Status {
    #[serde(default)]
    pub cluster: String,
    #[serde(default)]
    pub local_node: String,
    #[serde(default)]
    pub dc: Option<String>,
    #[serde(default)]
    pub quorum: QuorumStatus,
    #[serde(default)]
    pub config_hash: String,
    #[serde(default)]
    pub epoch: u64,
    pub nodes: Vec<NodeStatus>,
    pub resources: Vec<ResourceStatus>,
    /// Cluster-wide warnings (stonith disabled, config hash mismatch, ...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Packets dropped by this node, by reason (bad_tag, replay, ...).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub drops: BTreeMap<String, u64>,
    /// Runtime constraints from `ha resource move|ban` (crmsh's cli-prefer
    /// and cli-ban), as this node's copy of the replicated state has them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<ConstraintStatus>,
}

/// One runtime constraint in `ha status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConstraintStatus {
    /// The resource, group or clone named on the command line.
    pub resource: String,
    pub node: String,
    /// "move" (prefer the node, INFINITY) | "ban" (-INFINITY there).
    pub kind: String,
    /// A move with `--lifetime`: time left in whole seconds, e.g. "597s".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<String>,
    /// A move without `--lifetime`: the DC drops it once the move has happened.
    #[serde(default)]
    pub until_moved: bool,
    /// Why an until-moved preference is still there, e.g. "waiting: n2 is standby".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumStatus {
    pub quorate: bool,
    pub votes: u32,
    pub expected_votes: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub name: String,
    #[serde(default)]
    pub id: u16,
    /// online | offline | standby | maintenance | unclean | pending
    pub state: String,
    #[serde(default)]
    pub links: Vec<LinkStatus>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkStatus {
    pub addr: String,
    pub up: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceStatus {
    pub id: String,
    #[serde(default)]
    pub agent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clone: Option<String>,
    #[serde(default = "started")]
    pub target_role: String,
    #[serde(default = "yes")]
    pub managed: bool,
    pub active_on: Vec<String>,
    #[serde(default)]
    pub failcounts: BTreeMap<String, u32>,
    #[serde(default)]
    pub failed_on: Vec<String>,
    #[serde(default)]
    pub failures: Vec<Failure>,
    /// Set by the DC when the resource's recovery waits for the operator
    /// (its stop is held by a resource ordered after it that runs
    /// unmanaged); says why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked: Option<String>,
}

fn started() -> String {
    "started".to_string()
}

fn yes() -> bool {
    true
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub node: String,
    pub op: String,
    pub rc: i32,
    /// RFC 3339 UTC.
    pub at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_state_document_is_accepted() {
        // SPEC section 3: only names, states, ids, active_on and failcounts are required.
        let text = r#"{"nodes":[{"name":"n1","state":"online"}],
            "resources":[{"id":"ip","active_on":["n1"],"failcounts":{}}]}"#;
        let status: Status = serde_json::from_str(text).unwrap();
        assert_eq!(status.nodes[0].name, "n1");
        assert_eq!(status.resources[0].active_on, vec!["n1".to_string()]);
        assert!(status.resources[0].managed);
    }

    #[test]
    fn requests_round_trip() {
        let r = Request::Move {
            resource: "web".into(),
            node: "n2".into(),
            lifetime_ms: Some(60_000),
        };
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&line).unwrap(), r);
    }
}
