//! `ha status` as text: one screen in the spirit of crm_mon, built from the
//! `Status` document alone (pure, so it is unit-tested without a daemon).

use std::fmt::Write;

use super::proto::Status;

/// Renders the status document for a terminal.
pub fn status_text(status: &Status) -> String {
    let mut out = String::new();
    let hash: String = status.config_hash.chars().take(8).collect();
    let _ = write!(out, "Cluster: {}", or_dash(&status.cluster));
    if !hash.is_empty() {
        let _ = write!(out, "  config {hash}");
    }
    let _ = writeln!(out, "  epoch {}", status.epoch);
    let _ = writeln!(out, "Local node: {}", or_dash(&status.local_node));
    let _ = writeln!(out, "DC: {}", status.dc.as_deref().unwrap_or("none"));
    let q = &status.quorum;
    let _ = writeln!(
        out,
        "Quorum: {} ({} of {} expected votes)",
        if q.quorate { "yes" } else { "NO" },
        q.votes,
        q.expected_votes
    );

    let _ = writeln!(out, "\nNodes ({}):", status.nodes.len());
    let name_width = status
        .nodes
        .iter()
        .map(|n| node_label(status, n).len())
        .max()
        .unwrap_or(0);
    let state_width = status
        .nodes
        .iter()
        .map(|n| n.state.len())
        .max()
        .unwrap_or(0);
    for node in &status.nodes {
        let mut line = format!(
            "  {:<name_width$}  id {:<5}  {:<state_width$}",
            node_label(status, node),
            node.id,
            node.state
        );
        for (index, link) in node.links.iter().enumerate() {
            let _ = write!(
                line,
                "  link{index} {} {}",
                link.addr,
                if link.up { "up" } else { "DOWN" }
            );
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }

    let _ = writeln!(out, "\nResources ({}):", status.resources.len());
    let id_width = status
        .resources
        .iter()
        .map(|r| r.id.len())
        .max()
        .unwrap_or(0);
    let agent_width = status
        .resources
        .iter()
        .map(|r| r.agent.len() + 2)
        .max()
        .unwrap_or(0);
    let mut fail_counts = Vec::new();
    let mut failures = Vec::new();
    for resource in &status.resources {
        let mut state = if resource.active_on.is_empty() {
            "stopped".to_string()
        } else {
            format!("started on {}", resource.active_on.join(", "))
        };
        if resource.target_role != "started" {
            let _ = write!(state, " (target {})", resource.target_role);
        }
        if !resource.managed {
            state.push_str(" (unmanaged)");
        }
        if !resource.failed_on.is_empty() {
            let _ = write!(state, " FAILED on {}", resource.failed_on.join(", "));
        }
        if let Some(why) = &resource.blocked {
            let _ = write!(state, " (blocked: {why})");
        }
        let mut parents = String::new();
        if let Some(group) = &resource.group {
            let _ = write!(parents, "  [group {group}]");
        }
        if let Some(clone) = &resource.clone {
            let _ = write!(parents, "  [clone {clone}]");
        }
        let agent = format!("({})", resource.agent);
        let line = format!(
            "  {:<id_width$}  {:<agent_width$}  {state}{parents}",
            resource.id, agent
        );
        let _ = writeln!(out, "{}", line.trim_end());
        let counts: Vec<String> = resource
            .failcounts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(node, n)| format!("{node}={n}"))
            .collect();
        if !counts.is_empty() {
            fail_counts.push(format!("  {}: {}", resource.id, counts.join(" ")));
        }
        for failure in &resource.failures {
            failures.push(format!(
                "  {} on {}: {} rc={} at {}",
                resource.id, failure.node, failure.op, failure.rc, failure.at
            ));
        }
    }
    if !status.constraints.is_empty() {
        let _ = writeln!(out, "\nRuntime constraints:");
        for c in &status.constraints {
            let what = if c.kind == "ban" {
                "ban from"
            } else {
                "move to"
            };
            let mut notes = Vec::new();
            if let Some(left) = &c.expires_in {
                notes.push(format!("expires in {left}"));
            } else if c.until_moved {
                notes.push("until it runs there".to_string());
            }
            notes.extend(c.note.iter().cloned());
            let _ = write!(out, "  {}: {what} {}", c.resource, c.node);
            if !notes.is_empty() {
                let _ = write!(out, " ({})", notes.join("; "));
            }
            let _ = writeln!(out);
        }
    }
    if !failures.is_empty() {
        let _ = writeln!(out, "\nFailed actions:\n{}", failures.join("\n"));
    }
    if !fail_counts.is_empty() {
        let _ = writeln!(out, "\nFail counts:\n{}", fail_counts.join("\n"));
    }
    if !status.warnings.is_empty() {
        let _ = writeln!(out, "\nWarnings:");
        for warning in &status.warnings {
            let _ = writeln!(out, "  ! {warning}");
        }
    }
    if !status.drops.is_empty() {
        let drops: Vec<String> = status
            .drops
            .iter()
            .map(|(why, n)| format!("{why}={n}"))
            .collect();
        let _ = writeln!(out, "\nDropped packets: {}", drops.join(" "));
    }
    out
}

/// A node's name with markers for the local node and the DC.
fn node_label(status: &Status, node: &super::proto::NodeStatus) -> String {
    let mut label = node.name.clone();
    if status.dc.as_deref() == Some(node.name.as_str()) {
        label.push_str(" (DC)");
    }
    if status.local_node == node.name {
        label.push_str(" *");
    }
    label
}

fn or_dash(text: &str) -> &str {
    if text.is_empty() { "-" } else { text }
}

#[cfg(test)]
mod tests {
    use super::super::proto::*;
    use super::*;
    use std::collections::BTreeMap;

    fn sample() -> Status {
        Status {
            cluster: "web".into(),
            local_node: "node1".into(),
            dc: Some("node2".into()),
            quorum: QuorumStatus {
                quorate: true,
                votes: 2,
                expected_votes: 3,
            },
            config_hash: "3f2a9c1e77aa".into(),
            epoch: 12,
            nodes: vec![
                NodeStatus {
                    name: "node1".into(),
                    id: 1,
                    state: "online".into(),
                    links: vec![LinkStatus {
                        addr: "10.1.0.11".into(),
                        up: true,
                    }],
                },
                NodeStatus {
                    name: "node2".into(),
                    id: 2,
                    state: "online".into(),
                    links: vec![LinkStatus {
                        addr: "10.1.0.12".into(),
                        up: true,
                    }],
                },
                NodeStatus {
                    name: "node3".into(),
                    id: 3,
                    state: "unclean".into(),
                    links: vec![LinkStatus {
                        addr: "10.1.0.13".into(),
                        up: false,
                    }],
                },
            ],
            resources: vec![
                ResourceStatus {
                    id: "webip".into(),
                    agent: "vip".into(),
                    group: Some("web".into()),
                    target_role: "started".into(),
                    managed: true,
                    active_on: vec!["node2".into()],
                    failcounts: BTreeMap::from([("node3".to_string(), 1)]),
                    failures: vec![Failure {
                        node: "node3".into(),
                        op: "monitor".into(),
                        rc: 7,
                        at: "2026-11-25T12:00:00Z".into(),
                    }],
                    ..ResourceStatus::default()
                },
                ResourceStatus {
                    id: "site".into(),
                    agent: "systemd:httpd".into(),
                    target_role: "stopped".into(),
                    managed: true,
                    ..ResourceStatus::default()
                },
            ],
            warnings: vec!["stonith_enabled = false: split brain is possible".into()],
            drops: BTreeMap::from([("bad_tag".to_string(), 3), ("replay".to_string(), 1)]),
            constraints: Vec::new(),
        }
    }

    #[test]
    fn status_text_is_one_readable_screen() {
        // Goal: every part of the document a user needs appears, aligned,
        // in the order crm_mon uses (summary, nodes, resources, failures).
        let expected = "\
Cluster: web  config 3f2a9c1e  epoch 12
Local node: node1
DC: node2
Quorum: yes (2 of 3 expected votes)

Nodes (3):
  node1 *     id 1      online   link0 10.1.0.11 up
  node2 (DC)  id 2      online   link0 10.1.0.12 up
  node3       id 3      unclean  link0 10.1.0.13 DOWN

Resources (2):
  webip  (vip)            started on node2  [group web]
  site   (systemd:httpd)  stopped (target stopped)

Failed actions:
  webip on node3: monitor rc=7 at 2026-11-25T12:00:00Z

Fail counts:
  webip: node3=1

Warnings:
  ! stonith_enabled = false: split brain is possible

Dropped packets: bad_tag=3 replay=1
";
        assert_eq!(status_text(&sample()), expected);
    }

    #[test]
    fn status_text_lists_runtime_constraints() {
        // Goal: `ha resource move|ban` leftovers are visible, with why a
        // move is still there and when a timed one ends.
        let mut status = sample();
        status.constraints = vec![
            ConstraintStatus {
                resource: "web".into(),
                node: "node3".into(),
                kind: "move".into(),
                until_moved: true,
                note: Some("waiting: node3 is standby".into()),
                ..ConstraintStatus::default()
            },
            ConstraintStatus {
                resource: "db".into(),
                node: "node1".into(),
                kind: "move".into(),
                expires_in: Some("9min".into()),
                ..ConstraintStatus::default()
            },
            ConstraintStatus {
                resource: "db".into(),
                node: "node2".into(),
                kind: "ban".into(),
                ..ConstraintStatus::default()
            },
        ];
        let text = status_text(&status);
        assert!(
            text.contains(
                "\nRuntime constraints:\n  web: move to node3 (until it runs there; waiting: \
                 node3 is standby)\n  db: move to node1 (expires in 9min)\n  db: ban from node2\n"
            ),
            "{text}"
        );
        assert!(!status_text(&sample()).contains("Runtime constraints"));
    }

    #[test]
    fn status_text_without_quorum_or_dc_says_so() {
        let mut status = sample();
        status.dc = None;
        status.quorum = QuorumStatus {
            quorate: false,
            votes: 1,
            expected_votes: 3,
        };
        status.drops.clear();
        let text = status_text(&status);
        assert!(text.contains("DC: none\n"), "{text}");
        assert!(
            text.contains("Quorum: NO (1 of 3 expected votes)\n"),
            "{text}"
        );
        assert!(!text.contains("Dropped packets"), "{text}");
    }
}
