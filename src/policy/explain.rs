//! Text for people: allocation scores with their contributions
//! (`ha simulate --scores`, `ha resource scores`), and the transition
//! summary plus revised status in the style of crm_simulate.
//!
//! Inputs: config, state, placement, graph. Output: strings. No I/O.

use std::fmt::Write;

use super::state::known;
use super::{ClusterState, NodeState, Placement};
use crate::config::Config;
use crate::transition::{Change, Graph};

/// Allocation scores per node with what made them, for every primitive
/// and clone, or for one resource (a group lists its members). An unknown
/// resource gives a one-line message with the known names.
pub fn scores_text(config: &Config, state: &ClusterState, resource: Option<&str>) -> String {
    let placement = super::place(config, state);
    let mut ids: Vec<String> = Vec::new();
    match resource {
        None => {
            for r in &config.resources {
                let id = config
                    .clone_of(&r.id)
                    .or_else(|| config.group_of(&r.id).and_then(|g| config.clone_of(&g.id)))
                    .map(|c| c.id.clone())
                    .unwrap_or_else(|| r.id.clone());
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        Some(id) => {
            if let Some(g) = config.groups.iter().find(|g| g.id == id) {
                ids.extend(g.resources.iter().cloned());
            } else if config.resource(id).is_some() || config.clones.iter().any(|c| c.id == id) {
                let id = config
                    .clone_of(id)
                    .map(|c| c.id.clone())
                    .unwrap_or_else(|| id.to_string());
                ids.push(id);
            } else {
                let mut names: Vec<String> =
                    config.resources.iter().map(|r| r.id.clone()).collect();
                names.extend(config.groups.iter().map(|g| g.id.clone()));
                names.extend(config.clones.iter().map(|c| c.id.clone()));
                return format!("no such resource \"{id}\"; {}\n", known("resources", names));
            }
        }
    }
    let mut out = String::new();
    for id in ids {
        let nodes = placement.nodes(&id);
        let placed = if nodes.is_empty() {
            "stopped".to_string()
        } else {
            format!("on {}", nodes.join(" "))
        };
        let _ = writeln!(out, "{id}: {placed}");
        let Some(scores) = placement.scores.get(&id) else {
            continue;
        };
        for s in scores {
            let terms: Vec<String> = s
                .contributions
                .iter()
                .map(|c| format!("{} {}", c.source, signed(c.delta.to_string())))
                .collect();
            let avail = if s.available {
                String::new()
            } else {
                format!(" [{}]", state.node_state(&s.node).as_str())
            };
            let why = if terms.is_empty() {
                String::new()
            } else {
                format!(" ({})", terms.join(", "))
            };
            let _ = writeln!(
                out,
                "  {:<12} {:>10}{avail}{why}",
                s.node,
                s.score.to_string()
            );
        }
    }
    out
}

fn signed(s: String) -> String {
    if s.starts_with('-') || s.starts_with('+') {
        s
    } else {
        format!("+{s}")
    }
}

/// crm_simulate's "Transition Summary" followed by the revised status.
pub fn summary_text(
    config: &Config,
    state: &ClusterState,
    placement: &Placement,
    graph: &Graph,
) -> String {
    let mut out = String::from("Transition Summary:\n");
    if graph.changes.is_empty() {
        out.push_str("  (nothing to do)\n");
    }
    for c in &graph.changes {
        let line = match c {
            Change::Start { resource, node } => format!("  * Start      {resource:<12} ( {node} )"),
            Change::Stop { resource, node } => format!("  * Stop       {resource:<12} ( {node} )"),
            Change::Move { resource, from, to } => {
                format!("  * Move       {resource:<12} ( {from} -> {to} )")
            }
            Change::Recover { resource, from, to } if from == to => {
                format!("  * Recover    {resource:<12} ( {from} )")
            }
            Change::Recover { resource, from, to } => {
                format!("  * Recover    {resource:<12} ( {from} -> {to} )")
            }
            Change::Restart {
                resource,
                node,
                because,
            } if because.is_empty() => {
                format!("  * Restart    {resource:<12} ( {node} )")
            }
            Change::Restart {
                resource,
                node,
                because,
            } => {
                format!("  * Restart    {resource:<12} ( {node} )  due to required {because} start")
            }
            Change::Fence { node } => format!("  * Fence      {node}  (unclean)"),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str("\nRevised Cluster Status:\n");
    let mut by_state: Vec<(NodeState, Vec<&str>)> = Vec::new();
    for n in &config.nodes {
        let s = state.node_state(&n.name);
        match by_state.iter_mut().find(|(k, _)| *k == s) {
            Some((_, v)) => v.push(&n.name),
            None => by_state.push((s, vec![&n.name])),
        }
    }
    by_state.sort_by_key(|(k, _)| *k);
    for (s, names) in by_state {
        let label = match s {
            NodeState::Online => "Online",
            NodeState::Offline => "OFFLINE",
            NodeState::Standby => "Standby",
            NodeState::Maintenance => "Maintenance",
            NodeState::Unclean => "UNCLEAN (offline)",
            NodeState::Pending => "Pending",
        };
        let _ = writeln!(out, "  * {label}: [ {} ]", names.join(" "));
    }
    if !state.quorate {
        let _ = writeln!(
            out,
            "  * no quorum: no_quorum_policy = {:?}",
            config.cluster.no_quorum_policy
        );
    }
    let mut seen: Vec<&str> = Vec::new();
    for r in &config.resources {
        if let Some(c) = config
            .clone_of(&r.id)
            .or_else(|| config.group_of(&r.id).and_then(|g| config.clone_of(&g.id)))
        {
            if seen.contains(&c.id.as_str()) {
                continue;
            }
            seen.push(&c.id);
            let nodes = placement.nodes(&c.id);
            if nodes.is_empty() {
                let _ = writeln!(out, "  * Clone {}: Stopped", c.id);
            } else {
                let _ = writeln!(out, "  * Clone {}: Started: [ {} ]", c.id, nodes.join(" "));
            }
            continue;
        }
        if let Some(g) = config.group_of(&r.id)
            && !seen.contains(&g.id.as_str())
        {
            seen.push(&g.id);
            let _ = writeln!(out, "  * Resource Group {}:", g.id);
        }
        let indent = if config.group_of(&r.id).is_some() {
            "    "
        } else {
            "  "
        };
        let nodes = placement.nodes(&r.id);
        let status = if nodes.is_empty() {
            match placement.stopped_reason.get(&r.id) {
                Some(why) => format!("Stopped ({why})"),
                None => "Stopped".to_string(),
            }
        } else {
            format!("Started {}", nodes.join(" "))
        };
        let _ = writeln!(out, "{indent}* {}\t{}", r.id, status);
    }
    out
}
