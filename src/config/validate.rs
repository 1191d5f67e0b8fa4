//! Step two of loading: cross-references and whole-config rules.
//!
//! Input: a [`RawConfig`] (typed values with spans). Output: the validated
//! [`Config`], plus diagnostics for what only the whole file can show:
//! duplicate names and ids, references to unknown nodes and resources (with
//! the closest known name as a hint), group and clone structure, address
//! counts and families per heartbeat link, two_node with the wrong node
//! count, order cycles, and resources that no node can ever run (a warning).

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::Range;

use super::raw::*;
use super::read::Sp;
use super::report::Report;
use super::suggest::{closest, quoted_list};
use super::*;
use crate::score::Score;

/// Which kind of thing a resource-namespace id names.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Primitive,
    Group,
    Clone,
}

impl Kind {
    fn section(self, id: &str) -> String {
        match self {
            Kind::Primitive => format!("[resource.{id}]"),
            Kind::Group => format!("[group.{id}]"),
            Kind::Clone => format!("[clone.{id}]"),
        }
    }
}

/// Hint for an unknown name: the closest known one, then the full list.
fn unknown_hint(name: &str, known: &[&str], what: &str, extra: &str) -> String {
    let list = if known.len() > 12 {
        format!("{} known {what}", known.len())
    } else {
        format!("known {what}: {}", quoted_list(known.iter().copied()))
    };
    match closest(name, known.iter().copied()) {
        Some(near) => format!("did you mean \"{near}\"? {list}{extra}"),
        None => format!("{list}{extra}"),
    }
}

/// Builds the validated config; reports every cross-reference problem.
pub fn validate(r: &mut Report, raw: RawConfig, hash: [u8; 32]) -> Config {
    // ---- nodes -------------------------------------------------------
    let mut node_names: Vec<&str> = Vec::new();
    let mut seen_ids: BTreeMap<NodeId, usize> = BTreeMap::new();
    for node in &raw.nodes {
        if let Some(name) = &node.name {
            if node_names.contains(&name.get_ref().as_str()) {
                r.error(
                    name.span(),
                    format!(
                        "[[node]] name = \"{}\": duplicate node name",
                        name.get_ref()
                    ),
                    Some(String::from("every [[node]] needs its own name")),
                );
            } else {
                node_names.push(name.get_ref());
            }
        }
        if let Some(id) = &node.id {
            let (line, _) = r.position(id.span().start);
            match seen_ids.get(id.get_ref()) {
                Some(first) => r.error(
                    id.span(),
                    format!(
                        "[[node]] id = {}: duplicate node id (first used on line {first})",
                        id.get_ref()
                    ),
                    Some(String::from(
                        "node ids must be unique; they identify the sender of every packet",
                    )),
                ),
                None => {
                    seen_ids.insert(*id.get_ref(), line);
                }
            }
        }
    }
    if raw.nodes.is_empty() && !raw.nodes_written {
        r.error_nowhere(
            "no [[node]] configured",
            Some(String::from(
                "add one [[node]] table per cluster member, with name, id and addrs",
            )),
        );
    }
    check_links(r, &raw);

    // ---- heartbeat ---------------------------------------------------
    let hb = &raw.heartbeat;
    if hb.interval.get_ref() >= hb.timeout.get_ref() {
        r.error(
            hb.interval.span(),
            format!(
                "[heartbeat] interval ({}) must be shorter than timeout ({})",
                hb.interval.get_ref(),
                hb.timeout.get_ref()
            ),
            Some(String::from(
                "a peer is lost after `timeout` without heartbeats; allow several, e.g. interval = \"100ms\", timeout = \"1s\"",
            )),
        );
    }

    // ---- quorum ------------------------------------------------------
    let votes_total: u32 = raw.nodes.iter().map(|n| n.votes).sum();
    let two_node = raw.quorum.two_node.as_ref().is_some_and(|t| *t.get_ref());
    if let Some(t) = &raw.quorum.two_node
        && *t.get_ref()
        && raw.nodes.len() != 2
        && !raw.nodes.is_empty()
    {
        r.error(
            t.span(),
            format!(
                "[quorum] two_node = true needs exactly 2 nodes, found {}",
                raw.nodes.len()
            ),
            Some(String::from("remove two_node, or remove a node")),
        );
    }
    if !raw.nodes.is_empty() && votes_total == 0 {
        r.error(
            raw.nodes[0].span.clone(),
            "every node has votes = 0: the cluster can never be quorate",
            Some(String::from(
                "give at least one node a vote (the default is votes = 1)",
            )),
        );
    }
    let expected_votes = match &raw.quorum.expected_votes {
        Some(e) => {
            let ev = *e.get_ref();
            if votes_total > 0 && ev / 2 + 1 > votes_total {
                r.error(
                    e.span(),
                    format!(
                        "[quorum] expected_votes = {ev}: quorum would need {} votes, but all nodes together have {votes_total}",
                        ev / 2 + 1
                    ),
                    Some(format!("remove expected_votes (it defaults to the sum of node votes, {votes_total})")),
                );
            } else if ev < votes_total {
                r.warn(
                    e.span(),
                    format!("[quorum] expected_votes = {ev}: less than the {votes_total} votes of the configured nodes"),
                    Some(String::from("a minority of nodes may then be quorate; remove expected_votes to use the sum")),
                );
            }
            ev
        }
        None => votes_total.max(1),
    };

    // ---- resources, groups, clones: one namespace ---------------------
    let mut ids: BTreeMap<&str, (Kind, Range<usize>)> = BTreeMap::new();
    let all_ids = raw
        .resources
        .iter()
        .map(|x| (&x.id, Kind::Primitive))
        .chain(raw.groups.iter().map(|x| (&x.id, Kind::Group)))
        .chain(raw.clones.iter().map(|x| (&x.id, Kind::Clone)));
    for (id, kind) in all_ids {
        if let Some((other, span)) = ids.get(id.get_ref().as_str()) {
            let (line, _) = r.position(span.start);
            r.error(
                id.span(),
                format!(
                    "{}: id \"{}\" is already used by {} on line {line}",
                    kind.section(id.get_ref()),
                    id.get_ref(),
                    other.section(id.get_ref())
                ),
                Some(String::from(
                    "resources, groups and clones share one namespace; rename one",
                )),
            );
        } else {
            ids.insert(id.get_ref(), (kind, id.span()));
        }
    }
    let primitive_ids: Vec<&str> = raw
        .resources
        .iter()
        .map(|x| x.id.get_ref().as_str())
        .collect();
    let every_id: Vec<&str> = ids.keys().copied().collect();

    // Group membership.
    let mut member_of: BTreeMap<&str, &str> = BTreeMap::new();
    for g in &raw.groups {
        let section = Kind::Group.section(g.id.get_ref());
        if g.resources.is_empty() {
            r.error(
                g.id.span(),
                format!("{section}: a group needs at least one resource"),
                Some(String::from("list its members: resources = [\"a\", \"b\"]")),
            );
        }
        let mut in_this: Vec<&str> = Vec::new();
        for (i, m) in g.resources.iter().enumerate() {
            let name = m.get_ref().as_str();
            let label = format!("{section} resources[{i}] = \"{name}\"");
            match ids.get(name) {
                None => r.error(
                    m.span(),
                    format!("{label}: no such resource"),
                    Some(unknown_hint(name, &primitive_ids, "resources", "")),
                ),
                Some((Kind::Primitive, _)) => {
                    if in_this.contains(&name) {
                        r.error(
                            m.span(),
                            format!("{label}: listed twice in this group"),
                            Some(String::from("remove the repeat")),
                        );
                    } else if let Some(other) = member_of.get(name) {
                        r.error(
                            m.span(),
                            format!("{label}: already a member of [group.{other}]"),
                            Some(String::from("a resource can be in one group only")),
                        );
                    } else {
                        member_of.insert(name, g.id.get_ref());
                    }
                    in_this.push(name);
                }
                Some((kind, _)) => r.error(
                    m.span(),
                    format!(
                        "{label}: a group's members must be primitives, this is {}",
                        kind.section(name)
                    ),
                    Some(String::from(
                        "groups do not nest; list the primitives themselves",
                    )),
                ),
            }
        }
    }

    // Clones.
    let mut cloned: BTreeMap<&str, &str> = BTreeMap::new();
    for c in &raw.clones {
        let Some(res) = &c.resource else { continue };
        let name = res.get_ref().as_str();
        let label = format!(
            "{} resource = \"{name}\"",
            Kind::Clone.section(c.id.get_ref())
        );
        match ids.get(name) {
            None => {
                let candidates: Vec<&str> = ids
                    .iter()
                    .filter(|(_, (k, _))| *k != Kind::Clone)
                    .map(|(id, _)| *id)
                    .collect();
                r.error(
                    res.span(),
                    format!("{label}: no such resource or group"),
                    Some(unknown_hint(name, &candidates, "resources and groups", "")),
                );
            }
            Some((Kind::Clone, _)) => r.error(
                res.span(),
                format!("{label}: cannot clone a clone"),
                Some(String::from("clone the primitive or group itself")),
            ),
            Some((Kind::Primitive, _)) if member_of.contains_key(name) => r.error(
                res.span(),
                format!(
                    "{label}: \"{name}\" is a member of [group.{}]",
                    member_of[name]
                ),
                Some(format!(
                    "clone the whole group: resource = \"{}\"",
                    member_of[name]
                )),
            ),
            Some(_) => {
                if let Some(other) = cloned.get(name) {
                    r.error(
                        res.span(),
                        format!("{label}: already cloned by [clone.{other}]"),
                        Some(String::from("one clone per resource")),
                    );
                } else {
                    cloned.insert(name, c.id.get_ref());
                }
            }
        }
    }

    // ---- constraints -------------------------------------------------
    let check_ref = |r: &mut Report, label: &str, s: &Option<Sp<String>>| -> bool {
        let Some(s) = s else { return false };
        if ids.contains_key(s.get_ref().as_str()) {
            return true;
        }
        r.error(
            s.span(),
            format!("{label} = \"{}\": no such resource", s.get_ref()),
            Some(unknown_hint(s.get_ref(), &every_id, "resources", "")),
        );
        false
    };
    let check_node = |r: &mut Report, label: &str, s: &Sp<String>| -> bool {
        if node_names.contains(&s.get_ref().as_str()) {
            return true;
        }
        r.error(
            s.span(),
            format!("{label} = \"{}\": no such node", s.get_ref()),
            Some(unknown_hint(
                s.get_ref(),
                &node_names,
                "nodes",
                "; node names are case-sensitive",
            )),
        );
        false
    };
    for l in &raw.locations {
        check_ref(r, "[[location]] resource", &l.resource);
        if let Some(n) = &l.node {
            check_node(r, "[[location]] node", n);
        }
        if let Some(rule) = &l.rule {
            let attr = &rule.get_ref().attribute;
            let defined = raw.nodes.iter().any(|n| n.attributes.contains_key(attr));
            if !defined && rule.get_ref().op != RuleOp::NotDefined {
                let known: BTreeSet<&str> = raw
                    .nodes
                    .iter()
                    .flat_map(|n| n.attributes.keys().map(String::as_str))
                    .collect();
                let known: Vec<&str> = known.into_iter().collect();
                r.warn(
                    rule.span(),
                    format!("[[location]] rule: no node has attribute \"{attr}\""),
                    Some(unknown_hint(
                        attr,
                        &known,
                        "attributes",
                        "; set them in [[node]] attributes = { ... }",
                    )),
                );
            }
        }
    }
    for c in &raw.colocations {
        let a = check_ref(r, "[[colocation]] resource", &c.resource);
        let b = check_ref(r, "[[colocation]] with", &c.with);
        if let (true, true, Some(x), Some(y)) = (a, b, &c.resource, &c.with)
            && x.get_ref() == y.get_ref()
        {
            r.error(
                y.span(),
                format!(
                    "[[colocation]] with = \"{}\": a resource cannot be colocated with itself",
                    y.get_ref()
                ),
                Some(String::from(
                    "name another resource in `with`, or remove the constraint",
                )),
            );
        }
    }
    for o in &raw.orders {
        let a = check_ref(r, "[[order]] first", &o.first);
        let b = check_ref(r, "[[order]] then", &o.then);
        if let (true, true, Some(x), Some(y)) = (a, b, &o.first, &o.then)
            && x.get_ref() == y.get_ref()
        {
            r.error(
                y.span(),
                format!(
                    "[[order]] then = \"{}\": a resource cannot be ordered after itself",
                    y.get_ref()
                ),
                Some(String::from(
                    "name another resource in `then`, or remove the constraint",
                )),
            );
        }
    }
    check_order_cycles(r, &raw);

    // ---- fencing -----------------------------------------------------
    let mut fence_names: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &raw.fences {
        if let Some(name) = &f.name {
            let (line, _) = r.position(name.span().start);
            if let Some(first) = fence_names.get(name.get_ref().as_str()) {
                r.error(
                    name.span(),
                    format!("[[fence]] name = \"{}\": duplicate fence device name (first used on line {first})", name.get_ref()),
                    Some(String::from("give every [[fence]] its own name")),
                );
            } else {
                fence_names.insert(name.get_ref(), line);
            }
        }
        for (i, t) in f.targets.iter().enumerate() {
            check_node(r, &format!("[[fence]] targets[{i}]"), t);
        }
        if let Some(d) = &f.driver
            && *d.get_ref() == FenceDriver::Watchdog
            && raw.watchdog.is_none()
        {
            r.error(
                d.span(),
                "[[fence]] driver = \"watchdog\": needs a [watchdog] section",
                Some(String::from(
                    "add [watchdog] with device = \"/dev/watchdog\" and timeout = \"5s\"",
                )),
            );
        }
    }
    check_watchdog_devices(r, &raw);
    if raw.cluster.stonith_enabled && raw.fences.is_empty() && raw.watchdog.is_none() {
        r.warn(
            raw.cluster_span.clone(),
            "stonith_enabled = true but no [[fence]] device or [watchdog] is configured",
            Some(String::from(
                "a lost node cannot be fenced, so its resources are not recovered elsewhere; add a [[fence]] device or [watchdog], or set stonith_enabled = false",
            )),
        );
    }

    if raw.cluster.stonith_enabled && !raw.fences.is_empty() && raw.watchdog.is_none() {
        // Pacemaker refuses to recover from a node it cannot fence; say so
        // before that node is lost.
        let fenceable: BTreeSet<&str> = raw
            .fences
            .iter()
            .flat_map(|f| f.targets.iter().map(|t| t.get_ref().as_str()))
            .collect();
        for node in &raw.nodes {
            let Some(name) = &node.name else { continue };
            if !fenceable.contains(name.get_ref().as_str()) {
                r.warn(
                    name.span(),
                    format!("[[node]] name = \"{}\": no [[fence]] device can fence this node", name.get_ref()),
                    Some(String::from(
                        "add it to a device's targets, or add a [watchdog]; until then its resources are not recovered when it is lost",
                    )),
                );
            }
        }
    }

    check_placeable(r, &raw, &ids, &member_of, &node_names);

    // ---- assemble ----------------------------------------------------
    let links: Vec<Link> = raw
        .heartbeat
        .links
        .iter()
        .map(|l| Link {
            network: l.network.as_ref().map(|n| *n.get_ref()),
            port: l.port,
            mcast_group: *l.mcast_group.get_ref(),
        })
        .collect();
    Config {
        cluster: raw.cluster,
        heartbeat: Heartbeat {
            transport: *hb.transport.get_ref(),
            port: hb.port,
            interval: *hb.interval.get_ref(),
            timeout: *hb.timeout.get_ref(),
            mcast_group: *hb.mcast_group.get_ref(),
            ttl: hb.ttl,
            links,
        },
        quorum: Quorum {
            expected_votes,
            two_node,
            wait_for_all: raw.quorum.wait_for_all || two_node,
            last_man_standing: raw.quorum.last_man_standing,
            last_man_standing_window: raw.quorum.last_man_standing_window,
            auto_tie_breaker: raw.quorum.auto_tie_breaker,
        },
        nodes: raw
            .nodes
            .iter()
            .map(|n| Node {
                name: n
                    .name
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                id: n.id.as_ref().map_or(0, |i| *i.get_ref()),
                addrs: n.addrs.iter().flatten().map(|a| *a.get_ref()).collect(),
                votes: n.votes,
                attributes: n.attributes.clone(),
            })
            .collect(),
        defaults: raw.defaults.clone(),
        resources: raw
            .resources
            .iter()
            .map(|x| Resource {
                id: x.id.get_ref().clone(),
                agent: x.agent.clone().unwrap_or(Agent::Vip),
                params: x.params.clone(),
                ops: x.ops.clone(),
                meta: x.meta.clone(),
            })
            .collect(),
        groups: raw
            .groups
            .iter()
            .map(|g| Group {
                id: g.id.get_ref().clone(),
                resources: g.resources.iter().map(|m| m.get_ref().clone()).collect(),
                meta: g.meta.clone(),
            })
            .collect(),
        clones: raw
            .clones
            .iter()
            .map(|c| Clone {
                id: c.id.get_ref().clone(),
                resource: c
                    .resource
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                max: c.max,
                node_max: c.node_max,
                meta: c.meta.clone(),
            })
            .collect(),
        locations: raw
            .locations
            .iter()
            .map(|l| Location {
                resource: l
                    .resource
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                target: match (&l.node, &l.rule) {
                    (Some(n), _) => LocationTarget::Node(n.get_ref().clone()),
                    (None, Some(rule)) => LocationTarget::Rule(rule.get_ref().clone()),
                    (None, None) => LocationTarget::Node(String::new()),
                },
                score: l.score.as_ref().map_or(Score::ZERO, |s| *s.get_ref()),
            })
            .collect(),
        colocations: raw
            .colocations
            .iter()
            .map(|c| Colocation {
                resource: c
                    .resource
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                with: c
                    .with
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                score: c.score,
            })
            .collect(),
        orders: raw
            .orders
            .iter()
            .map(|o| Order {
                first: o
                    .first
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                then: o
                    .then
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                kind: o.kind,
                symmetrical: o.symmetrical,
            })
            .collect(),
        watchdog: raw.watchdog.as_ref().map(|w| w.get_ref().clone()),
        fences: raw
            .fences
            .iter()
            .map(|f| FenceDevice {
                name: f
                    .name
                    .as_ref()
                    .map(|s| s.get_ref().clone())
                    .unwrap_or_default(),
                driver: f
                    .driver
                    .as_ref()
                    .map_or(FenceDriver::External, |d| *d.get_ref()),
                targets: f.targets.iter().map(|t| t.get_ref().clone()).collect(),
                level: f.level,
                delay: f.delay,
                params: f.params.clone(),
            })
            .collect(),
        hash,
    }
}

/// Per heartbeat link: one address per node, one family, no two nodes on
/// the same address, inside `network` when given, and a usable group.
fn check_links(r: &mut Report, raw: &RawConfig) {
    let hb = &raw.heartbeat;
    let links = hb.links.len();
    for node in &raw.nodes {
        // No addrs key at all was reported as missing already.
        if node.addrs.len() != links && node.addrs_span != node.span {
            let who = node
                .name
                .as_ref()
                .map_or(String::new(), |n| format!(" \"{}\"", n.get_ref()));
            let hint = if hb.links_written || node.addrs.len() < links {
                String::from("give one address per [[heartbeat.link]], in link order")
            } else {
                String::from(
                    "one [[heartbeat.link]] table is needed per address; add them under [heartbeat]",
                )
            };
            r.error(
                node.addrs_span.clone(),
                format!(
                    "[[node]]{who} addrs: {} address{} for {links} heartbeat link{}",
                    node.addrs.len(),
                    if node.addrs.len() == 1 { "" } else { "es" },
                    if links == 1 { "" } else { "s" }
                ),
                Some(hint),
            );
        }
    }
    for (i, link) in hb.links.iter().enumerate() {
        let addrs: Vec<&Sp<IpAddr>> = raw
            .nodes
            .iter()
            .filter_map(|n| n.addrs.get(i).and_then(Option::as_ref))
            .collect();
        let v4 = addrs.iter().filter(|a| a.get_ref().is_ipv4()).count();
        let v6 = addrs.len() - v4;
        if v4 > 0 && v6 > 0 {
            // Point at the addresses of the minority family.
            let minority_v6 = v6 <= v4;
            for a in addrs
                .iter()
                .filter(|a| a.get_ref().is_ipv6() == minority_v6)
            {
                r.error(
                    a.span(),
                    format!(
                        "[[node]] addrs[{i}] = \"{}\": link {i} mixes IPv4 and IPv6 addresses",
                        a.get_ref()
                    ),
                    Some(String::from(
                        "all nodes' addresses on one heartbeat link must be of one family",
                    )),
                );
            }
        }
        let mut seen: BTreeSet<IpAddr> = BTreeSet::new();
        for a in &addrs {
            if !seen.insert(*a.get_ref()) {
                r.error(
                    a.span(),
                    format!(
                        "[[node]] addrs[{i}] = \"{}\": two nodes have this address on link {i}",
                        a.get_ref()
                    ),
                    Some(String::from(
                        "every node needs its own address on each link",
                    )),
                );
            }
            if a.get_ref().is_multicast() || a.get_ref().is_unspecified() {
                r.error(
                    a.span(),
                    format!(
                        "[[node]] addrs[{i}] = \"{}\": not a unicast address",
                        a.get_ref()
                    ),
                    Some(String::from("use the node's own address on this link")),
                );
            }
        }
        if let Some(net) = &link.network {
            for a in &addrs {
                if !net.get_ref().contains(*a.get_ref()) {
                    r.warn(
                        a.span(),
                        format!("[[node]] addrs[{i}] = \"{}\": outside link {i}'s network {}", a.get_ref(), net.get_ref()),
                        Some(String::from("the node binds to its address inside `network`; check the address or the network")),
                    );
                }
            }
        }
        if *hb.transport.get_ref() == Transport::Udp {
            let group = link.mcast_group.get_ref();
            // A link without its own group inherits the [heartbeat] one.
            let section = if link.mcast_group.span() == hb.mcast_group.span() {
                "[heartbeat]"
            } else {
                "[[heartbeat.link]]"
            };
            if !group.is_multicast() {
                r.error(
                    link.mcast_group.span(),
                    format!("{section} mcast_group = \"{group}\": not a multicast address (transport = \"udp\")"),
                    Some(String::from("use a group in 239.0.0.0/8 (IPv4) or ff00::/8 (IPv6), or transport = \"udpu\"")),
                );
            } else if (v4 > 0 && group.is_ipv6()) || (v6 > 0 && group.is_ipv4()) {
                r.error(
                    link.mcast_group.span(),
                    format!("{section} mcast_group = \"{group}\": link {i}'s node addresses are of the other IP family"),
                    Some(String::from("use an IPv4 group for IPv4 links and an IPv6 group for IPv6 links")),
                );
            }
        }
    }
}

/// Finds cycles among mandatory/optional order constraints (and the order
/// implied between consecutive group members), naming each cycle once.
fn check_order_cycles(r: &mut Report, raw: &RawConfig) {
    // Edges first -> then, with the span to point at and whether a group
    // implies the edge (its member order) rather than an [[order]].
    type Edge<'a> = (&'a str, Range<usize>, bool);
    let mut edges: BTreeMap<&str, Vec<Edge>> = BTreeMap::new();
    for o in &raw.orders {
        if o.kind == OrderKind::Serialize {
            continue; // serialize forbids overlap, it does not order.
        }
        if let (Some(a), Some(b)) = (&o.first, &o.then)
            && a.get_ref() != b.get_ref()
        {
            edges
                .entry(a.get_ref())
                .or_default()
                .push((b.get_ref(), a.span(), false));
        }
    }
    for g in &raw.groups {
        for pair in g.resources.windows(2) {
            if pair[0].get_ref() != pair[1].get_ref() {
                edges.entry(pair[0].get_ref()).or_default().push((
                    pair[1].get_ref(),
                    pair[1].span(),
                    true,
                ));
            }
        }
    }
    // Depth-first search; a back edge closes a cycle. Each vertex is
    // finished once, so each cycle is reported once.
    let mut done: BTreeSet<&str> = BTreeSet::new();
    let starts: Vec<&str> = edges.keys().copied().collect();
    for start in starts {
        if done.contains(start) {
            continue;
        }
        let mut path: Vec<(&str, usize)> = vec![(start, 0)];
        let mut spans: Vec<(Range<usize>, bool)> = Vec::new();
        while let Some(top) = path.len().checked_sub(1) {
            let (v, next) = path[top];
            let out = edges.get(v).map_or(&[][..], |e| e.as_slice());
            if next >= out.len() {
                done.insert(v);
                path.pop();
                spans.pop();
                continue;
            }
            let (w, span, implied) = &out[next];
            path[top].1 += 1;
            if let Some(pos) = path.iter().position(|(p, _)| p == w) {
                let mut names: Vec<&str> = path[pos..].iter().map(|(p, _)| *p).collect();
                names.push(w);
                let mut cycle: Vec<(Range<usize>, bool)> = spans[pos..].to_vec();
                cycle.push((span.clone(), *implied));
                // Point at the first [[order]] of the cycle, else at the
                // first group member involved.
                let first = |orders_only: bool| {
                    cycle
                        .iter()
                        .filter(|(_, implied)| !(orders_only && *implied))
                        .map(|(s, _)| s.clone())
                        .min_by_key(|s| s.start)
                };
                let at = first(true).or_else(|| first(false)).unwrap_or(0..0);
                let any_implied = cycle.iter().any(|(_, implied)| *implied);
                r.error(
                    at,
                    format!("order cycle: {}", names.join(" -> ")),
                    Some(if any_implied {
                        String::from("remove one of these [[order]] constraints; members of a group are ordered by their position")
                    } else {
                        String::from("remove one of these [[order]] constraints")
                    }),
                );
            } else if !done.contains(w) {
                spans.push((span.clone(), *implied));
                path.push((w, 0));
            }
        }
    }
}

/// Does `rule` match a node with these attributes? Numbers compare as
/// numbers when both sides are integers, as pacemaker's type="number".
pub fn rule_matches(rule: &Rule, attributes: &BTreeMap<String, String>) -> bool {
    let actual = attributes.get(&rule.attribute);
    let cmp = |a: &str, b: &str| match (a.parse::<i64>(), b.parse::<i64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    };
    match (rule.op, actual, &rule.value) {
        (RuleOp::Defined, a, _) => a.is_some(),
        (RuleOp::NotDefined, a, _) => a.is_none(),
        (_, None, _) | (_, _, None) => false,
        (RuleOp::Eq, Some(a), Some(v)) => a == v,
        (RuleOp::Ne, Some(a), Some(v)) => a != v,
        (RuleOp::Lt, Some(a), Some(v)) => cmp(a, v).is_lt(),
        (RuleOp::Gt, Some(a), Some(v)) => cmp(a, v).is_gt(),
        (RuleOp::Lte, Some(a), Some(v)) => cmp(a, v).is_le(),
        (RuleOp::Gte, Some(a), Some(v)) => cmp(a, v).is_ge(),
    }
}

/// Warns about resources that no node can run because of -inf locations,
/// an opt-in cluster without a location allowing them, or inf colocations
/// with something that cannot run anywhere; and about inf and -inf for the
/// same resource on the same node.
fn check_placeable(
    r: &mut Report,
    raw: &RawConfig,
    ids: &BTreeMap<&str, (Kind, Range<usize>)>,
    member_of: &BTreeMap<&str, &str>,
    node_names: &[&str],
) {
    if node_names.is_empty() {
        return;
    }
    let nodes: Vec<(&str, &BTreeMap<String, String>)> = raw
        .nodes
        .iter()
        .filter_map(|n| {
            n.name
                .as_ref()
                .map(|name| (name.get_ref().as_str(), &n.attributes))
        })
        .collect();
    // allowed[id] = nodes the item may run on.
    let start: BTreeSet<&str> = if raw.cluster.symmetric {
        nodes.iter().map(|n| n.0).collect()
    } else {
        BTreeSet::new()
    };
    let mut allowed: BTreeMap<&str, BTreeSet<&str>> =
        ids.keys().map(|id| (*id, start.clone())).collect();
    let mut banned: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut must: BTreeMap<(&str, &str), Range<usize>> = BTreeMap::new();
    for l in &raw.locations {
        let (Some(res), Some(score)) = (&l.resource, &l.score) else {
            continue;
        };
        let res = res.get_ref().as_str();
        if !ids.contains_key(res) {
            continue;
        }
        let score = *score.get_ref();
        for (name, attributes) in &nodes {
            let hit = match (&l.node, &l.rule) {
                (Some(n), _) => n.get_ref() == name,
                (None, Some(rule)) => rule_matches(rule.get_ref(), attributes),
                _ => false,
            };
            if !hit {
                continue;
            }
            if score.is_minus_infinite() {
                banned.entry(res).or_default().insert(name);
                if let Some(span) = must.get(&(res, *name)) {
                    let (line, _) = r.position(span.start);
                    r.warn(
                        l.span.clone(),
                        format!("[[location]]: \"{res}\" has score inf (line {line}) and -inf on node \"{name}\"; -inf wins"),
                        Some(String::from("remove one of the two constraints")),
                    );
                }
            } else {
                allowed.entry(res).or_default().insert(name);
                if score.is_infinite() {
                    must.insert((res, *name), l.span.clone());
                }
            }
        }
    }
    for (res, b) in &banned {
        if let Some(a) = allowed.get_mut(res) {
            a.retain(|n| !b.contains(n));
        }
    }
    // Constraints flow between a primitive and its group and clone, and
    // along inf colocations, until nothing changes.
    let mut links: Vec<(&str, &str, bool)> = Vec::new(); // (a, b, both ways)
    for (m, g) in member_of {
        links.push((m, g, true));
    }
    for c in &raw.clones {
        if let Some(res) = &c.resource {
            links.push((c.id.get_ref(), res.get_ref(), true));
        }
    }
    for c in &raw.colocations {
        if let (Some(a), Some(b)) = (&c.resource, &c.with)
            && c.score.is_infinite()
        {
            links.push((a.get_ref(), b.get_ref(), false));
        }
    }
    for _ in 0..=links.len() {
        let mut changed = false;
        for (a, b, both) in &links {
            let (Some(sa), Some(sb)) = (allowed.get(a).cloned(), allowed.get(b).cloned()) else {
                continue;
            };
            let meet: BTreeSet<&str> = sa.intersection(&sb).copied().collect();
            if meet.len() != sa.len() {
                allowed.insert(a, meet.clone());
                changed = true;
            }
            if *both && meet.len() != sb.len() {
                allowed.insert(b, meet);
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    for x in &raw.resources {
        let id = x.id.get_ref().as_str();
        if allowed.get(id).is_some_and(BTreeSet::is_empty)
            && x.meta.target_role != Some(TargetRole::Stopped)
        {
            let hint = if raw.cluster.symmetric {
                "check its -inf locations and rules, those of its group or clone, and its inf colocations"
            } else {
                "symmetric = false: a resource runs only where a [[location]] allows it; add one, or check its -inf constraints"
            };
            r.warn(
                x.id.span(),
                format!("[resource.{id}] cannot run on any node"),
                Some(String::from(hint)),
            );
        }
    }
}

/// A `driver = "watchdog"` device confirms no fence (it cannot see whether
/// another node is off). Recovery then rests on the core's watchdog wait,
/// which never applies where a lone node can stay quorate (`two_node`,
/// `last_man_standing`): there, a target no confirming device covers is
/// never recovered from. Say so at `ha check` time.
fn check_watchdog_devices(r: &mut Report, raw: &RawConfig) {
    let lone_quorum =
        raw.quorum.two_node.as_ref().is_some_and(|t| *t.get_ref()) || raw.quorum.last_man_standing;
    if !raw.cluster.stonith_enabled || !lone_quorum {
        return;
    }
    let confirming: BTreeSet<&str> = raw
        .fences
        .iter()
        .filter(|f| {
            f.driver
                .as_ref()
                .is_some_and(|d| matches!(d.get_ref(), FenceDriver::Ipmi | FenceDriver::External))
        })
        .flat_map(|f| f.targets.iter().map(|t| t.get_ref().as_str()))
        .collect();
    for f in &raw.fences {
        let Some(d) = f
            .driver
            .as_ref()
            .filter(|d| *d.get_ref() == FenceDriver::Watchdog)
        else {
            continue;
        };
        let uncovered: Vec<&str> = f
            .targets
            .iter()
            .map(|t| t.get_ref().as_str())
            .filter(|t| !confirming.contains(t))
            .collect();
        if uncovered.is_empty() {
            continue;
        }
        let mode = if raw.quorum.last_man_standing {
            "last_man_standing"
        } else {
            "two_node"
        };
        r.warn(
            d.span(),
            format!(
                "[[fence]] driver = \"watchdog\" cannot confirm a fence, and with {mode} a lone node can stay quorate: resources of a lost {} are never recovered",
                super::suggest::quoted_list(uncovered.iter().copied())
            ),
            Some(String::from(
                "add an ipmi or external [[fence]] device for these nodes; the [watchdog] still resets a node that loses quorum",
            )),
        );
    }
}
