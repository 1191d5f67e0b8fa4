//! The `ha status` document, built from the node's state.

use std::collections::BTreeMap;

use super::*;

impl Node {
    /// The document behind `ha status`.
    pub fn status(&self, now: Instant) -> Status {
        let members = self.ring.members(now);
        let heard = self.ring.heard(now);
        let dc = if self.reign.is_some() {
            Some(self.name.clone())
        } else {
            self.dc_ident
                .filter(|(d, _)| {
                    *d == self.ring.candidate()
                        && self
                            .last_command_at
                            .is_some_and(|t| now.saturating_since(t) < self.lease())
                })
                .map(|(d, _)| self.node_name(d))
        };
        let nodes = self
            .config
            .nodes
            .iter()
            .map(|n| {
                let unclean = self
                    .reign
                    .as_ref()
                    .is_some_and(|r| r.unclean.contains_key(&n.id));
                let state = if unclean {
                    "unclean"
                } else if members.contains(&n.id) {
                    match self.cib.role(&n.name) {
                        Role::Online => "online",
                        Role::Standby => "standby",
                        Role::Maintenance => "maintenance",
                    }
                } else if heard.contains(&n.id) {
                    "pending"
                } else {
                    "offline"
                };
                let links = n
                    .addrs
                    .iter()
                    .enumerate()
                    .map(|(l, a)| LinkStatus {
                        addr: a.to_string(),
                        up: self.ring.link_up(n.id, l, now),
                    })
                    .collect();
                NodeStatus {
                    name: n.name.clone(),
                    id: n.id,
                    state: state.to_string(),
                    links,
                }
            })
            .collect();
        let blocked = self.blocked();
        let resources = self
            .config
            .resources
            .iter()
            .map(|r| {
                let meta = self.config.effective_meta(&r.id);
                let started = self
                    .cib
                    .target_roles
                    .get(&r.id)
                    .copied()
                    .unwrap_or(meta.target_role == crate::config::TargetRole::Started);
                let mut failcounts = BTreeMap::new();
                let mut failures = Vec::new();
                for ((res, node), f) in &self.cib.failcounts {
                    if *res == r.id {
                        failcounts.insert(node.clone(), f.count);
                        failures.push(Failure {
                            node: node.clone(),
                            op: f.op.clone(),
                            rc: f.rc,
                            // The core has no wall clock: the age on this node's clock.
                            at: format!("-{}", now.saturating_since(f.last_failure)),
                        });
                    }
                }
                let failed_on = self
                    .cib
                    .active
                    .iter()
                    .filter(|(_, s)| {
                        matches!(
                            s.get(&r.id),
                            Some(ResourceState::Failed | ResourceState::StopFailed)
                        )
                    })
                    .map(|(n, _)| n.clone())
                    .collect();
                ResourceStatus {
                    id: r.id.clone(),
                    agent: agent_name(&r.agent),
                    group: self.config.group_of(&r.id).map(|g| g.id.clone()),
                    clone: self
                        .config
                        .clone_of(&r.id)
                        .or_else(|| {
                            self.config
                                .group_of(&r.id)
                                .and_then(|g| self.config.clone_of(&g.id))
                        })
                        .map(|c| c.id.clone()),
                    target_role: if started { "started" } else { "stopped" }.to_string(),
                    managed: meta.managed,
                    active_on: self.cib.active_on(&r.id),
                    failcounts,
                    failed_on,
                    failures,
                    blocked: blocked.get(&r.id).cloned(),
                }
            })
            .collect();
        let mut warnings = Vec::new();
        if !self.hash_ok() {
            warnings.push(
                "config differs from the dc's (config_hash mismatch): this node runs no resources"
                    .to_string(),
            );
        }
        warnings.extend(self.hash_warnings(now));
        if !self.config.cluster.stonith_enabled {
            warnings.push(
                "stonith_enabled = false: a lost node's resources are recovered without fencing"
                    .to_string(),
            );
        } else if !self.fencing_configured() {
            warnings.push(
                "no [[fence]] device and no [watchdog]: lost nodes cannot be fenced".to_string(),
            );
        }
        if self.watchdog_off {
            warnings.push("watchdog no longer fed: this node will be reset".to_string());
        }
        Status {
            cluster: self.config.cluster.name.clone(),
            local_node: self.name.clone(),
            dc,
            quorum: QuorumStatus {
                quorate: self.qs.quorate,
                votes: self.qs.votes,
                expected_votes: self.qs.expected_votes,
            },
            config_hash: hex(&self.config.hash),
            epoch: self.cib.epoch,
            nodes,
            resources,
            warnings,
            drops: self.ring.drops(),
            constraints: self.constraint_status(now),
        }
    }
}

fn agent_name(agent: &crate::config::Agent) -> String {
    use crate::config::Agent;
    match agent {
        Agent::Vip => "vip".to_string(),
        Agent::Filesystem => "filesystem".to_string(),
        Agent::Nfs => "nfs".to_string(),
        Agent::Systemd(u) => format!("systemd:{u}"),
        Agent::Ocf { provider, kind } => format!("ocf:{provider}:{kind}"),
        Agent::Lsb(n) => format!("lsb:{n}"),
    }
}
