//! Operator requests (`ha node ...`, `ha resource ...`, `ha status`) and
//! configuration reloads, as seen by the core.
//!
//! `ha resource move RSC NODE` without `--lifetime` records a preference
//! that lasts until the move has happened (the DC then drops it, see
//! `plan`); with `--lifetime` it lasts until it expires. A move without
//! `--lifetime` to the node where the resource already runs (and no other
//! move of it pending) is refused, as crm_resource refuses it ("already
//! active"): it would change nothing and be dropped at once.

use std::collections::{BTreeMap, BTreeSet};

use super::*;
use crate::ctl::proto::ConstraintStatus;

impl Node {
    /// Applies an operator request on the DC.
    pub(super) fn apply_request(
        &mut self,
        now: Instant,
        request: Request,
    ) -> Result<String, String> {
        let msg = match request {
            Request::NodeRole { node, role } => {
                let role = match role {
                    NodeRole::Standby => Role::Standby,
                    NodeRole::Maintenance => Role::Maintenance,
                    NodeRole::Online | NodeRole::Ready => Role::Online,
                };
                self.cib.set_role(&node, role);
                format!("node {node} is now {role:?}").to_lowercase()
            }
            Request::Move {
                resource,
                node,
                lifetime_ms,
            } => {
                let expires = lifetime_ms.map(|ms| now + Duration::from_millis(ms));
                self.cib.add_constraint(RuntimeConstraint {
                    resource: resource.clone(),
                    node: node.clone(),
                    kind: ConstraintKind::Move,
                    expires,
                });
                format!("moving {resource} to {node}")
            }
            Request::Ban { resource, node } => {
                self.cib.add_constraint(RuntimeConstraint {
                    resource: resource.clone(),
                    node: node.clone(),
                    kind: ConstraintKind::Ban,
                    expires: None,
                });
                format!("banned {resource} from {node}")
            }
            Request::Clear { resource } => {
                self.cib.clear(&resource);
                format!("cleared constraints of {resource}")
            }
            Request::Cleanup { resource, node } => {
                // Fail-counts are kept per primitive: a group or clone
                // cleans up its members, as crm_resource --cleanup does.
                for p in self.config.primitives(&resource) {
                    self.cib.cleanup(&p, node.as_deref());
                }
                format!("cleaned up {resource}")
            }
            Request::TargetRole { resource, started } => {
                self.cib.target_roles.insert(resource.clone(), started);
                format!(
                    "{resource} target role {}",
                    if started { "started" } else { "stopped" }
                )
            }
            Request::Restart { resource } => {
                // The plan restarts primitives: a group or clone restarts
                // its members (a group id alone was never taken off the
                // list, so the DC never settled again: found by the
                // simulator's operator requests).
                let prims = self.config.primitives(&resource);
                for p in &prims {
                    if !self.config.effective_meta(p).managed {
                        return Err(format!(
                            "{p} is unmanaged (managed = false); the cluster does not restart it"
                        ));
                    }
                    if let Some(n) = self
                        .cib
                        .active_on(p)
                        .into_iter()
                        .find(|n| self.cib.role(n) == Role::Maintenance)
                    {
                        return Err(format!(
                            "{p} runs on {n}, which is in maintenance; run 'ha node ready {n}' first"
                        ));
                    }
                }
                if let Some(r) = self.reign.as_mut() {
                    r.restart.extend(prims);
                }
                format!("restarting {resource}")
            }
            Request::Fence { node } => {
                let Some(id) = self.node_id(&node) else {
                    return Err(format!("no such node: {node}"));
                };
                if !self.fencing_configured() {
                    return Err("no fence device or watchdog is configured".to_string());
                }
                self.mark_unclean(now, id, true);
                format!("fencing {node}")
            }
            Request::Status | Request::Scores { .. } | Request::Reload => {
                return Err("not a state change".to_string());
            }
        };
        self.bump();
        Ok(msg)
    }

    pub(super) fn validate_request(&self, request: &Request) -> Result<(), String> {
        let node_ok = |n: &str| {
            self.config.node(n).map(|_| ()).ok_or_else(|| {
                let known: Vec<&str> = self.config.nodes.iter().map(|n| n.name.as_str()).collect();
                format!("no such node: {n} (known nodes: {})", known.join(", "))
            })
        };
        let rsc_ok = |r: &str| {
            let known = self.config.resource(r).is_some()
                || self.config.groups.iter().any(|g| g.id == r)
                || self.config.clones.iter().any(|c| c.id == r);
            if known {
                Ok(())
            } else {
                Err(format!("no such resource: {r}"))
            }
        };
        match request {
            Request::NodeRole { node, .. } | Request::Fence { node } => node_ok(node),
            Request::Move {
                resource,
                node,
                lifetime_ms,
            } => {
                rsc_ok(resource)?;
                node_ok(node)?;
                if lifetime_ms.is_none() && self.already_moved(resource, node) {
                    return Err(format!(
                        "{resource} already runs on {node}: nothing to move\n  hint: a move \
                         without --lifetime ends once the resource runs there; use --lifetime \
                         DUR to pin it on {node} for a while, or `ha resource ban {resource} \
                         OTHER_NODE` to keep it off another node"
                    ));
                }
                Ok(())
            }
            Request::Ban { resource, node } => {
                rsc_ok(resource)?;
                node_ok(node)
            }
            Request::Cleanup { resource, node } => {
                rsc_ok(resource)?;
                node.as_deref().map_or(Ok(()), node_ok)
            }
            Request::Clear { resource }
            | Request::TargetRole { resource, .. }
            | Request::Restart { resource } => rsc_ok(resource),
            _ => Ok(()),
        }
    }

    /// Whether the unit of `resource` runs wholly on `node` and nowhere
    /// else (a clone: an instance there), as the replicated state says, with
    /// no move of it pending to another node: a move there changes nothing.
    fn already_moved(&self, resource: &str, node: &str) -> bool {
        let units = place::units(&self.config);
        let Some(unit) = plan::unit_of(&self.config, &units, resource) else {
            return false;
        };
        let running_there = unit.members.iter().all(|m| {
            self.cib
                .active
                .get(node)
                .and_then(|s| s.get(m))
                .is_some_and(|s| *s == ResourceState::Running)
        });
        let elsewhere = unit.clone_max.is_none()
            && unit
                .members
                .iter()
                .any(|m| self.cib.active_on(m).iter().any(|n| n != node));
        let other_move = self.cib.constraints.iter().any(|c| {
            c.kind == ConstraintKind::Move
                && c.node != node
                && plan::unit_of(&self.config, &units, &c.resource).map(|u| &u.id) == Some(&unit.id)
        });
        running_there && !elsewhere && !other_move
    }

    /// The runtime constraints for `ha status`, with a note on each move
    /// without a lifetime saying why it is still there.
    pub(super) fn constraint_status(&self, now: Instant) -> Vec<ConstraintStatus> {
        let members = self.ring.members(now);
        let units = place::units(&self.config);
        self.cib
            .constraints
            .iter()
            .map(|c| ConstraintStatus {
                resource: c.resource.clone(),
                node: c.node.clone(),
                kind: match c.kind {
                    ConstraintKind::Move => "move",
                    ConstraintKind::Ban => "ban",
                }
                .to_string(),
                // Whole seconds, rounded up, read better than "596761ms".
                expires_in: c.expires.map(|t| {
                    let ms = t.saturating_since(now).as_millis();
                    Duration::from_secs(ms.div_ceil(1000)).to_string()
                }),
                until_moved: c.until_moved(),
                note: c.until_moved().then(|| self.move_note(c, &units, &members)),
            })
            .collect()
    }

    /// Why the until-moved preference `c` is still in place.
    fn move_note(
        &self,
        c: &RuntimeConstraint,
        units: &[place::Unit],
        members: &BTreeSet<NodeId>,
    ) -> String {
        let (r, n) = (&c.resource, &c.node);
        let Some(id) = self.node_id(n) else {
            return format!("waiting: {n} is not in the config");
        };
        if !members.contains(&id) {
            return format!("waiting: {n} is offline");
        }
        match self.cib.role(n) {
            Role::Standby => return format!("waiting: {n} is standby"),
            Role::Maintenance => return format!("waiting: {n} is in maintenance"),
            Role::Online => {}
        }
        let Some(unit) = plan::unit_of(&self.config, units, r) else {
            return format!("waiting: {r} is not in the config");
        };
        let banned = self.cib.constraints.iter().any(|b| {
            b.kind == ConstraintKind::Ban
                && b.node == *n
                && plan::unit_of(&self.config, units, &b.resource).map(|u| &u.id) == Some(&unit.id)
        });
        if banned {
            return format!("waiting: {r} is banned from {n} (ha resource clear {r})");
        }
        if let Some(m) = unit.members.iter().find(|m| self.cib.failcount(m, n) > 0) {
            return format!("waiting: {m} failed on {n} (ha resource cleanup {m})");
        }
        let there = unit.members.iter().all(|m| {
            self.cib
                .active
                .get(n)
                .and_then(|s| s.get(m))
                .is_some_and(|s| *s == ResourceState::Running)
        });
        if there {
            format!(
                "kept: {r} runs on {n} but would move away without it (location score or \
                 stickiness 0); set stickiness, or ha resource clear {r} to let it go"
            )
        } else {
            format!("waiting for {r} to run on {n}")
        }
    }

    /// A control-socket request.
    pub fn handle_request(&mut self, now: Instant, request: Request) -> Response {
        // Overdue timers first, as if they had fired before the request
        // came in. After a pause (or between ticks) a DC whose peers went
        // quiet still has its reign until a tick looks; the others may
        // have named a new DC meanwhile, whose state wins, and a change
        // made here would be undone after the operator was told "done"
        // (found by the simulator's count of lost acknowledged changes:
        // seed 5960738862814670952, a DC paused for 4 s applied a request
        // 2 s in). The tick notices the stall and steps down, and the
        // request goes to the DC the way a member's does.
        self.handle_timeout(now);
        self.now = now;
        match request {
            Request::Status => return Response::Status(Box::new(self.status(now))),
            Request::Reload => {
                return Response::Error {
                    message: "reload is done by the daemon (ha reload / SIGHUP)".to_string(),
                };
            }
            Request::Scores { resource } => {
                let text = self.scores_text(resource.as_deref());
                return Response::Scores { text };
            }
            _ => {}
        }
        if let Err(message) = self.validate_request(&request) {
            return Response::Error { message };
        }
        // A DC still syncing (see `synced`) takes its own requests as a
        // member's: queued, and applied once it has the newest state.
        let response = if self.reign.is_some() && self.synced() {
            match self.apply_request(now, request) {
                Ok(message) => {
                    self.push_state(now);
                    Response::Ok { message }
                }
                Err(message) => Response::Error { message },
            }
        } else if !self.qs.quorate {
            Response::Error {
                message: "this node has no quorum; run the command on a quorate node".to_string(),
            }
        } else {
            self.request_seq += 1;
            let text = serde_json::to_string(&request).unwrap_or_default();
            self.requests.push((self.request_seq, text));
            let dc = self.node_name(self.ring.candidate());
            Response::Ok {
                message: format!("submitted to the dc ({dc})"),
            }
        };
        self.flush_loopback(now);
        response
    }

    pub(super) fn scores_text(&self, resource: Option<&str>) -> String {
        let eligible: BTreeSet<String> = self
            .last_members
            .iter()
            .map(|m| self.node_name(*m))
            .filter(|n| self.cib.role(n) == Role::Online)
            .collect();
        let current: BTreeMap<String, BTreeSet<String>> = self
            .config
            .resources
            .iter()
            .map(|r| {
                (
                    r.id.clone(),
                    self.cib.active_on(&r.id).into_iter().collect(),
                )
            })
            .collect();
        place::scores_text(&self.config, &self.cib, &eligible, &current, resource)
    }

    /// The configuration changed (`ha reload`, SIGHUP); already validated.
    pub fn handle_reload(&mut self, now: Instant, config: Config) {
        self.now = now;
        self.config = config;
        self.probe_all();
        self.event(
            log::Level::Info,
            format!("config reloaded: hash={}", &hex(&self.config.hash)[..16]),
        );
    }

    /// One warning per member whose config hash (from its heartbeats)
    /// differs from the DC's: the DC places nothing there, so every node's
    /// `ha status` says so, not only the differing node's.
    pub(super) fn hash_warnings(&self, now: Instant) -> Vec<String> {
        let dc = if self.reign.is_some() {
            Some(self.local)
        } else {
            self.dc_ident
                .map(|(d, _)| d)
                .filter(|d| *d == self.ring.candidate())
        };
        let Some(dc) = dc else {
            return Vec::new();
        };
        let own = self.config.hash;
        let dc_hash = if dc == self.local {
            Some(own)
        } else {
            // What the DC's commands carry, else its heartbeats.
            self.dc_hash.or_else(|| self.ring.config_hash(dc, now, own))
        };
        let Some(dc_hash) = dc_hash else {
            return Vec::new();
        };
        let short = |h: &[u8; 32]| hex(&h[..4]);
        self.ring
            .members(now)
            .into_iter()
            .filter_map(|m| {
                let h = self.ring.config_hash(m, now, own)?;
                (h != dc_hash).then(|| {
                    let name = self.node_name(m);
                    format!(
                        "config of {name} differs from the DC's (hash {} vs {}): {name} runs no \
                         resources; copy the same ha.toml to every node",
                        short(&h),
                        short(&dc_hash)
                    )
                })
            })
            .collect()
    }
}
