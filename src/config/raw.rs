//! Step one of loading: the TOML tree into raw structs that keep spans.
//!
//! Input: the parser's spanned tree. Output: [`RawConfig`], whose values are
//! already typed and range-checked (durations, scores, addresses, enum
//! choices, agent parameters) and defaulted, but whose names and references
//! still carry the place they were written, so that `validate` can report
//! cross-reference problems (an unknown node, a cycle) at a line and column.
//! Every problem found here is reported and reading carries on; values that
//! failed get a placeholder that never escapes (any error fails the load).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::path::PathBuf;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::read::{Field, Section, Sp, to_value};
use super::report::Report;
use super::suggest::{closest, quoted_list};
use super::*;
use crate::score::Score;
use crate::time::Duration;

/// The whole file, typed, with spans on everything `validate` checks.
pub struct RawConfig {
    pub cluster: Cluster,
    /// Where `[cluster]` is (or the start of the file).
    pub cluster_span: Range<usize>,
    pub heartbeat: RawHeartbeat,
    pub quorum: RawQuorum,
    pub nodes: Vec<RawNode>,
    /// True when a `node` key exists, even if it was malformed.
    pub nodes_written: bool,
    pub defaults: Defaults,
    pub resources: Vec<RawResource>,
    pub groups: Vec<RawGroup>,
    pub clones: Vec<RawClone>,
    pub locations: Vec<RawLocation>,
    pub colocations: Vec<RawColocation>,
    pub orders: Vec<RawOrder>,
    pub watchdog: Option<Sp<Watchdog>>,
    pub fences: Vec<RawFence>,
}

pub struct RawHeartbeat {
    pub transport: Sp<Transport>,
    pub port: u16,
    pub interval: Sp<Duration>,
    pub timeout: Sp<Duration>,
    pub mcast_group: Sp<IpAddr>,
    pub ttl: u32,
    pub links: Vec<RawLink>,
    /// False when no `[[heartbeat.link]]` was written and one default link
    /// stands in (corosync likewise needs no interface section).
    pub links_written: bool,
}

pub struct RawLink {
    pub network: Option<Sp<ipnetwork::IpNetwork>>,
    pub port: u16,
    pub mcast_group: Sp<IpAddr>,
}

pub struct RawQuorum {
    pub expected_votes: Option<Sp<u32>>,
    pub two_node: Option<Sp<bool>>,
    pub wait_for_all: bool,
    pub last_man_standing: bool,
    pub last_man_standing_window: Duration,
    pub auto_tie_breaker: bool,
}

pub struct RawNode {
    pub span: Range<usize>,
    pub name: Option<Sp<String>>,
    pub id: Option<Sp<NodeId>>,
    /// In link order; `None` where an address failed to parse (reported).
    pub addrs: Vec<Option<Sp<IpAddr>>>,
    /// Where `addrs` is, or the node's table when absent.
    pub addrs_span: Range<usize>,
    pub votes: u32,
    pub attributes: BTreeMap<String, String>,
}

pub struct RawResource {
    pub id: Sp<String>,
    pub agent: Option<Agent>,
    pub params: BTreeMap<String, toml::Value>,
    pub ops: Vec<Op>,
    pub meta: Meta,
}

pub struct RawGroup {
    pub id: Sp<String>,
    pub resources: Vec<Sp<String>>,
    pub meta: Meta,
}

pub struct RawClone {
    pub id: Sp<String>,
    pub resource: Option<Sp<String>>,
    pub max: Option<u32>,
    pub node_max: u32,
    pub meta: Meta,
}

pub struct RawLocation {
    pub span: Range<usize>,
    pub resource: Option<Sp<String>>,
    pub node: Option<Sp<String>>,
    pub rule: Option<Sp<Rule>>,
    pub score: Option<Sp<Score>>,
}

pub struct RawColocation {
    pub resource: Option<Sp<String>>,
    pub with: Option<Sp<String>>,
    pub score: Score,
}

pub struct RawOrder {
    pub first: Option<Sp<String>>,
    pub then: Option<Sp<String>>,
    pub kind: OrderKind,
    pub symmetrical: bool,
}

pub struct RawFence {
    pub name: Option<Sp<String>>,
    pub driver: Option<Sp<FenceDriver>>,
    pub targets: Vec<Sp<String>>,
    pub level: u32,
    pub delay: Duration,
    pub params: BTreeMap<String, toml::Value>,
}

const TOP_KEYS: &[&str] = &[
    "cluster",
    "heartbeat",
    "quorum",
    "node",
    "defaults",
    "resource",
    "group",
    "clone",
    "location",
    "colocation",
    "order",
    "watchdog",
    "fence",
];
const CLUSTER_KEYS: &[&str] = &[
    "name",
    "key_file",
    "state_dir",
    "socket",
    "no_quorum_policy",
    "symmetric",
    "stonith_enabled",
    "log",
    "log_level",
];
const HEARTBEAT_KEYS: &[&str] = &[
    "transport",
    "port",
    "interval",
    "timeout",
    "mcast_group",
    "ttl",
    "link",
];
const LINK_KEYS: &[&str] = &["network", "port", "mcast_group"];
const QUORUM_KEYS: &[&str] = &[
    "expected_votes",
    "two_node",
    "wait_for_all",
    "last_man_standing",
    "last_man_standing_window",
    "auto_tie_breaker",
];
const NODE_KEYS: &[&str] = &["name", "id", "addrs", "votes", "attributes"];
const DEFAULTS_KEYS: &[&str] = &[
    "stickiness",
    "migration_threshold",
    "failure_timeout",
    "op_timeout",
];
const META_KEYS: &[&str] = &[
    "stickiness",
    "migration_threshold",
    "failure_timeout",
    "target_role",
    "managed",
    "priority",
];
const OP_KEYS: &[&str] = &["name", "interval", "timeout", "on_fail", "depth"];
const LOCATION_KEYS: &[&str] = &["resource", "node", "rule", "score"];
const RULE_KEYS: &[&str] = &["attribute", "op", "value"];
const COLOCATION_KEYS: &[&str] = &["resource", "with", "score"];
const ORDER_KEYS: &[&str] = &["first", "then", "kind", "symmetrical"];
const WATCHDOG_KEYS: &[&str] = &["device", "timeout"];
const FENCE_KEYS: &[&str] = &["name", "driver", "targets", "level", "delay", "params"];

/// Longest duration accepted anywhere: a week. Longer values are typos.
const MAX_DURATION: Duration = Duration::from_millis(7 * 24 * 3_600_000);

fn keys_with_meta(base: &[&'static str]) -> Vec<&'static str> {
    base.iter().chain(META_KEYS).copied().collect()
}

/// Reads the whole document.
pub fn read(r: &mut Report, root: &DeTable<'_>) -> RawConfig {
    let top = Section::open(r, "the top level", 0..0, root, TOP_KEYS);

    // [cluster] first: op defaults depend on stonith_enabled.
    let (cluster, cluster_span) = read_cluster(r, &top);
    let heartbeat = read_heartbeat(r, &top);
    let quorum = read_quorum(r, &top);
    let nodes = array_of_tables(r, &top, "node", "[[node]]", NODE_KEYS, read_node);
    let defaults = read_defaults(r, &top);

    let mut resources = Vec::new();
    for (id, section) in named_tables(
        r,
        &top,
        "resource",
        &keys_with_meta(&["agent", "params", "ops"]),
    ) {
        resources.push(read_resource(
            r,
            id,
            &section,
            &defaults,
            cluster.stonith_enabled,
        ));
    }
    let mut groups = Vec::new();
    for (id, section) in named_tables(r, &top, "group", &keys_with_meta(&["resources"])) {
        let resources = section
            .require(
                r,
                "resources",
                "list the member resources in start order: resources = [\"a\", \"b\"]",
            )
            .and_then(|f| f.names(r))
            .unwrap_or_default();
        groups.push(RawGroup {
            id,
            resources,
            meta: read_meta(r, &section),
        });
    }
    let mut clones = Vec::new();
    for (id, section) in named_tables(
        r,
        &top,
        "clone",
        &keys_with_meta(&["resource", "max", "node_max"]),
    ) {
        let resource = section
            .require(
                r,
                "resource",
                "name the primitive or group to clone: resource = \"ID\"",
            )
            .and_then(|f| f.name(r));
        let max = section
            .get("max")
            .and_then(|f| f.integer(r, 1, 65535))
            .map(|v| v as u32);
        let node_max = section
            .get("node_max")
            .and_then(|f| f.integer(r, 1, 65535))
            .map_or(1, |v| v as u32);
        clones.push(RawClone {
            id,
            resource,
            max,
            node_max,
            meta: read_meta(r, &section),
        });
    }

    let locations = array_of_tables(
        r,
        &top,
        "location",
        "[[location]]",
        LOCATION_KEYS,
        read_location,
    );
    let colocations = array_of_tables(
        r,
        &top,
        "colocation",
        "[[colocation]]",
        COLOCATION_KEYS,
        |r, s| RawColocation {
            resource: s
                .require(
                    r,
                    "resource",
                    "resource = \"ID\": the resource being placed",
                )
                .and_then(|f| f.name(r)),
            with: s
                .require(
                    r,
                    "with",
                    "with = \"ID\": the resource it is placed relative to",
                )
                .and_then(|f| f.name(r)),
            score: s
                .require(
                    r,
                    "score",
                    "score = \"inf\" to keep them together, \"-inf\" to keep them apart",
                )
                .and_then(|f| f.score(r))
                .unwrap_or(Score::ZERO),
        },
    );
    let orders = array_of_tables(r, &top, "order", "[[order]]", ORDER_KEYS, |r, s| RawOrder {
        first: s
            .require(r, "first", "first = \"ID\": the resource started first")
            .and_then(|f| f.name(r)),
        then: s
            .require(r, "then", "then = \"ID\": the resource started after it")
            .and_then(|f| f.name(r)),
        kind: s
            .get("kind")
            .and_then(|f| {
                f.choice(
                    r,
                    &[
                        ("mandatory", OrderKind::Mandatory),
                        ("optional", OrderKind::Optional),
                        ("serialize", OrderKind::Serialize),
                    ],
                )
            })
            .unwrap_or(OrderKind::Mandatory),
        symmetrical: s
            .get("symmetrical")
            .and_then(|f| f.boolean(r))
            .unwrap_or(true),
    });
    let watchdog = read_watchdog(r, &top);
    let fences = array_of_tables(r, &top, "fence", "[[fence]]", FENCE_KEYS, read_fence);

    RawConfig {
        cluster,
        cluster_span,
        heartbeat,
        quorum,
        nodes,
        nodes_written: top.has("node"),
        defaults,
        resources,
        groups,
        clones,
        locations,
        colocations,
        orders,
        watchdog,
        fences,
    }
}

/// Opens the table `[key]` of the top level, if present.
fn sub_table<'t, 'i>(
    r: &mut Report,
    parent: &Section<'t, 'i>,
    key: &str,
    name: &str,
    allowed: &[&str],
) -> Option<Section<'t, 'i>> {
    let field = parent.get(key)?;
    match field.value {
        DeValue::Table(t) => Some(Section::open(r, name, field.span.clone(), t, allowed)),
        DeValue::Array(_) => {
            field.bad(
                r,
                "expected a table, found an array",
                Some(format!("write {name} once")),
            );
            None
        }
        _ => {
            r.error(
                field.span.clone(),
                format!(
                    "{key} = {}: expected a table {name}",
                    super::read::render(field.value)
                ),
                Some(format!("write the settings under a {name} header")),
            );
            None
        }
    }
}

/// Reads every `[[key]]` table with `read_one`.
fn array_of_tables<'t, 'i, T>(
    r: &mut Report,
    top: &Section<'t, 'i>,
    key: &str,
    name: &str,
    allowed: &[&str],
    mut read_one: impl FnMut(&mut Report, &Section<'t, 'i>) -> T,
) -> Vec<T> {
    let Some(field) = top.get(key) else {
        return Vec::new();
    };
    let DeValue::Array(items) = field.value else {
        r.error(
            field.span.clone(),
            format!("[{key}] must be an array of tables"),
            Some(format!("write {name} (double brackets), one per entry")),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items.iter() {
        match item.get_ref() {
            DeValue::Table(t) => {
                let section = Section::open(r, name, item.span(), t, allowed);
                out.push(read_one(r, &section));
            }
            other => r.error(
                item.span(),
                format!(
                    "{key} entry {}: expected a table",
                    super::read::render(other)
                ),
                Some(format!("write {name} tables, or {key} = [{{ ... }}]")),
            ),
        }
    }
    out
}

/// Reads `[kind.ID]` tables: returns each id (with its span) and section.
fn named_tables<'t, 'i>(
    r: &mut Report,
    top: &Section<'t, 'i>,
    kind: &str,
    allowed: &[&str],
) -> Vec<(Sp<String>, Section<'t, 'i>)> {
    let Some(field) = top.get(kind) else {
        return Vec::new();
    };
    let DeValue::Table(table) = field.value else {
        r.error(
            field.span.clone(),
            format!(
                "{kind} = {}: expected tables [{kind}.ID]",
                super::read::render(field.value)
            ),
            Some(format!(
                "write one [{kind}.ID] table per {kind}, e.g. [{kind}.web]"
            )),
        );
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut entries: Vec<_> = table.iter().collect();
    entries.sort_by_key(|(k, _)| k.span().start);
    for (key, value) in entries {
        match value.get_ref() {
            DeValue::Table(t) => {
                let name = format!("[{kind}.{}]", key.get_ref());
                let id_value = DeValue::String(key.get_ref().clone());
                let id_check = Field {
                    label: format!("[{kind}] id"),
                    span: key.span(),
                    value: &id_value,
                };
                if id_check.name(r).is_none() {
                    continue;
                }
                out.push((
                    Spanned::new(key.span(), key.get_ref().to_string()),
                    Section::open(r, name, key.span(), t, allowed),
                ));
            }
            other => {
                let near = closest(key.get_ref(), allowed.iter().copied());
                let hint = match near {
                    Some(k) => {
                        format!("keys go in a [{kind}.ID] table: [{kind}.NAME] then {k} = ...")
                    }
                    None => format!("write one [{kind}.ID] table per {kind}"),
                };
                r.error(
                    key.span(),
                    format!(
                        "[{kind}] {} = {}: expected a table [{kind}.{}]",
                        key.get_ref(),
                        super::read::render(other),
                        key.get_ref()
                    ),
                    Some(hint),
                );
            }
        }
    }
    out
}

fn read_cluster(r: &mut Report, top: &Section) -> (Cluster, Range<usize>) {
    let mut cluster = Cluster {
        name: String::new(),
        key_file: PathBuf::from("/etc/ha.key"),
        state_dir: PathBuf::from("/var/lib/ha"),
        socket: PathBuf::from("/run/ha.sock"),
        no_quorum_policy: NoQuorumPolicy::Stop,
        symmetric: true,
        stonith_enabled: true,
        log: LogTarget::Stderr,
        log_level: log::LevelFilter::Info,
    };
    let Some(s) = sub_table(r, top, "cluster", "[cluster]", CLUSTER_KEYS) else {
        if !top.has("cluster") {
            r.error_nowhere(
                "missing [cluster] section",
                Some(String::from(
                    "start the file with [cluster], name = \"...\" and key_file = \"/etc/ha.key\"",
                )),
            );
        }
        return (cluster, 0..0);
    };
    if let Some(name) = s
        .require(
            r,
            "name",
            "name = \"mycluster\": every node of one cluster uses the same name",
        )
        .and_then(|f| f.name(r))
    {
        cluster.name = name.into_inner();
    }
    if let Some(p) = s
        .require(
            r,
            "key_file",
            "key_file = \"/etc/ha.key\", written by `ha keygen`",
        )
        .and_then(|f| f.path(r))
    {
        cluster.key_file = p;
    }
    if let Some(p) = s.get("state_dir").and_then(|f| f.path(r)) {
        cluster.state_dir = p;
    }
    if let Some(p) = s.get("socket").and_then(|f| f.path(r)) {
        cluster.socket = p;
    }
    if let Some(v) = s.get("no_quorum_policy").and_then(|f| {
        f.choice(
            r,
            &[
                ("stop", NoQuorumPolicy::Stop),
                ("freeze", NoQuorumPolicy::Freeze),
                ("ignore", NoQuorumPolicy::Ignore),
                ("suicide", NoQuorumPolicy::Suicide),
            ],
        )
    }) {
        cluster.no_quorum_policy = v;
    }
    if let Some(v) = s.get("symmetric").and_then(|f| f.boolean(r)) {
        cluster.symmetric = v;
    }
    if let Some(v) = s.get("stonith_enabled").and_then(|f| f.boolean(r)) {
        cluster.stonith_enabled = v;
    }
    if let Some(f) = s.get("log")
        && let Some(text) = f.string(r)
    {
        match text.get_ref().as_str() {
            "stderr" => cluster.log = LogTarget::Stderr,
            "syslog" => cluster.log = LogTarget::Syslog,
            p if p.starts_with('/') => cluster.log = LogTarget::File(PathBuf::from(p)),
            _ => f.bad(
                r,
                "expected \"stderr\", \"syslog\" or an absolute file path",
                closest(text.get_ref(), ["stderr", "syslog"])
                    .map(|n| format!("did you mean \"{n}\"?")),
            ),
        }
    }
    if let Some(v) = s.get("log_level").and_then(|f| {
        f.choice(
            r,
            &[
                ("off", log::LevelFilter::Off),
                ("error", log::LevelFilter::Error),
                ("warn", log::LevelFilter::Warn),
                ("info", log::LevelFilter::Info),
                ("debug", log::LevelFilter::Debug),
                ("trace", log::LevelFilter::Trace),
            ],
        )
    }) {
        cluster.log_level = v;
    }
    (cluster, s.span.clone())
}

fn read_heartbeat(r: &mut Report, top: &Section) -> RawHeartbeat {
    let default_group = IpAddr::V4(Ipv4Addr::new(239, 255, 100, 1));
    let section = sub_table(r, top, "heartbeat", "[heartbeat]", HEARTBEAT_KEYS);
    let span = section.as_ref().map_or(0..0, |s| s.span.clone());
    let mut hb = RawHeartbeat {
        transport: Spanned::new(span.clone(), Transport::Udpu),
        port: 5405,
        interval: Spanned::new(span.clone(), Duration::from_millis(100)),
        timeout: Spanned::new(span.clone(), Duration::from_secs(1)),
        mcast_group: Spanned::new(span.clone(), default_group),
        ttl: 1,
        links: Vec::new(),
        links_written: false,
    };
    if let Some(s) = &section {
        if let Some(f) = s.get("transport")
            && let Some(t) = f.choice(r, &[("udpu", Transport::Udpu), ("udp", Transport::Udp)])
        {
            hb.transport = Spanned::new(f.span.clone(), t);
        }
        if let Some(p) = s.get("port").and_then(|f| f.integer(r, 1, 65535)) {
            hb.port = p as u16;
        }
        if let Some(f) = s.get("interval")
            && let Some(d) = f.duration(r, Duration::from_millis(10), Duration::from_secs(60))
        {
            hb.interval = Spanned::new(f.span.clone(), d);
        }
        if let Some(f) = s.get("timeout")
            && let Some(d) = f.duration(r, Duration::from_millis(20), Duration::from_secs(600))
        {
            hb.timeout = Spanned::new(f.span.clone(), d);
        }
        if let Some(f) = s.get("mcast_group")
            && let Some(ip) = f.ip(r)
        {
            hb.mcast_group = Spanned::new(f.span.clone(), ip);
        }
        if let Some(t) = s.get("ttl").and_then(|f| f.integer(r, 1, 255)) {
            hb.ttl = t as u32;
        }
        hb.links = array_of_tables(r, s, "link", "[[heartbeat.link]]", LINK_KEYS, |r, l| {
            let network = l.get("network").and_then(|f| {
                let text = f.string(r)?;
                match text.get_ref().parse::<ipnetwork::IpNetwork>() {
                    Ok(n) => Some(Spanned::new(f.span.clone(), n)),
                    Err(_) => {
                        f.bad(
                            r,
                            "not a network",
                            Some(String::from(
                                "write an address and prefix, e.g. \"10.1.0.0/16\"",
                            )),
                        );
                        None
                    }
                }
            });
            let port = l
                .get("port")
                .and_then(|f| f.integer(r, 1, 65535))
                .map_or(hb.port, |p| p as u16);
            let mcast_group = l
                .get("mcast_group")
                .and_then(|f| f.ip(r).map(|ip| Spanned::new(f.span.clone(), ip)))
                .unwrap_or_else(|| hb.mcast_group.clone());
            RawLink {
                network,
                port,
                mcast_group,
            }
        });
        hb.links_written = s.has("link");
    }
    if hb.links.is_empty() && !hb.links_written {
        hb.links.push(RawLink {
            network: None,
            port: hb.port,
            mcast_group: hb.mcast_group.clone(),
        });
    }
    hb
}

fn read_quorum(r: &mut Report, top: &Section) -> RawQuorum {
    let section = sub_table(r, top, "quorum", "[quorum]", QUORUM_KEYS);
    let mut q = RawQuorum {
        expected_votes: None,
        two_node: None,
        wait_for_all: false,
        last_man_standing: false,
        last_man_standing_window: Duration::from_secs(10),
        auto_tie_breaker: false,
    };
    let Some(s) = section else { return q };
    if let Some(f) = s.get("expected_votes") {
        q.expected_votes = f
            .integer(r, 1, 1_000_000)
            .map(|v| Spanned::new(f.span.clone(), v as u32));
    }
    if let Some(f) = s.get("two_node") {
        q.two_node = f.boolean(r).map(|v| Spanned::new(f.span.clone(), v));
    }
    q.wait_for_all = s
        .get("wait_for_all")
        .and_then(|f| f.boolean(r))
        .unwrap_or(false);
    q.last_man_standing = s
        .get("last_man_standing")
        .and_then(|f| f.boolean(r))
        .unwrap_or(false);
    if let Some(d) = s
        .get("last_man_standing_window")
        .and_then(|f| f.duration(r, Duration::from_secs(1), MAX_DURATION))
    {
        q.last_man_standing_window = d;
    }
    q.auto_tie_breaker = s
        .get("auto_tie_breaker")
        .and_then(|f| f.boolean(r))
        .unwrap_or(false);
    q
}

fn read_node(r: &mut Report, s: &Section) -> RawNode {
    let name = s
        .require(
            r,
            "name",
            "name = \"node1\": the node's host name (uname -n)",
        )
        .and_then(|f| f.name(r));
    let id = s
        .require(r, "id", "id = 1: a unique number from 1 to 65535")
        .and_then(|f| {
            let v = match f.value {
                DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
                _ => None,
            };
            match v {
                Some(v) if !(1..=65535).contains(&v) => {
                    f.bad(
                        r,
                        "node ids are 1..=65535",
                        Some(String::from(
                            "0 is reserved; give every node a unique id from 1 to 65535",
                        )),
                    );
                    None
                }
                _ => f
                    .integer(r, 1, 65535)
                    .map(|v| Spanned::new(f.span.clone(), v as NodeId)),
            }
        });
    let (addrs, addrs_span) = match s.require(
        r,
        "addrs",
        "addrs = [\"10.1.0.11\"]: one address per heartbeat link",
    ) {
        Some(f) => {
            let items = f.array(r).unwrap_or_default();
            (
                items
                    .iter()
                    .map(|a| a.ip(r).map(|ip| Spanned::new(a.span.clone(), ip)))
                    .collect(),
                f.span.clone(),
            )
        }
        None => (Vec::new(), s.span.clone()),
    };
    let votes = s
        .get("votes")
        .and_then(|f| f.integer(r, 0, 255))
        .map_or(1, |v| v as u32);
    let mut attributes = BTreeMap::new();
    if let Some(f) = s.get("attributes")
        && let Some(t) = f.table(r)
    {
        let mut entries: Vec<_> = t.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (k, v) in entries {
            let field = Field {
                label: format!("{}.{}", f.label, k.get_ref()),
                span: k.span(),
                value: v.get_ref(),
            };
            let text = match v.get_ref() {
                DeValue::String(s) => Some(s.to_string()),
                DeValue::Integer(i) => Some(i.to_string()),
                DeValue::Boolean(b) => Some(b.to_string()),
                _ => {
                    field.bad(
                        r,
                        "attribute values are strings, integers or booleans",
                        None,
                    );
                    None
                }
            };
            if let Some(text) = text {
                attributes.insert(k.get_ref().to_string(), text);
            }
        }
    }
    RawNode {
        span: s.span.clone(),
        name,
        id,
        addrs,
        addrs_span,
        votes,
        attributes,
    }
}

fn read_defaults(r: &mut Report, top: &Section) -> Defaults {
    let mut d = Defaults {
        stickiness: Score::ZERO,
        migration_threshold: Score::INFINITY,
        failure_timeout: Duration::ZERO,
        op_timeout: Duration::from_secs(20),
    };
    let Some(s) = sub_table(r, top, "defaults", "[defaults]", DEFAULTS_KEYS) else {
        return d;
    };
    if let Some(v) = s.get("stickiness").and_then(|f| f.score(r)) {
        d.stickiness = v;
    }
    if let Some(v) = s
        .get("migration_threshold")
        .and_then(|f| migration_threshold(r, &f))
    {
        d.migration_threshold = v;
    }
    if let Some(v) = s
        .get("failure_timeout")
        .and_then(|f| f.duration(r, Duration::ZERO, MAX_DURATION))
    {
        d.failure_timeout = v;
    }
    if let Some(v) = s
        .get("op_timeout")
        .and_then(|f| f.duration(r, Duration::from_secs(1), Duration::from_secs(86_400)))
    {
        d.op_timeout = v;
    }
    d
}

/// migration_threshold: a positive score. Pacemaker's "0 = disabled" is
/// spelled "inf" here, so that 0 cannot be read as "ban at once".
fn migration_threshold(r: &mut Report, f: &Field) -> Option<Score> {
    let v = f.score(r)?;
    if v.value() < 1 {
        f.bad(
            r,
            "migration_threshold must be at least 1",
            Some(String::from(
                "use \"inf\" to never move a resource away because of failures",
            )),
        );
        return None;
    }
    Some(v)
}

fn read_meta(r: &mut Report, s: &Section) -> Meta {
    Meta {
        stickiness: s.get("stickiness").and_then(|f| f.score(r)),
        migration_threshold: s
            .get("migration_threshold")
            .and_then(|f| migration_threshold(r, &f)),
        failure_timeout: s
            .get("failure_timeout")
            .and_then(|f| f.duration(r, Duration::ZERO, MAX_DURATION)),
        target_role: s.get("target_role").and_then(|f| {
            f.choice(
                r,
                &[
                    ("started", TargetRole::Started),
                    ("stopped", TargetRole::Stopped),
                ],
            )
        }),
        managed: s.get("managed").and_then(|f| f.boolean(r)),
        priority: s
            .get("priority")
            .and_then(|f| f.integer(r, -1_000_000, 1_000_000)),
    }
}

/// Parses an agent string; reports and returns `None` when malformed.
pub fn parse_agent(r: &mut Report, f: &Field) -> Option<Agent> {
    let text = f.string(r)?.into_inner();
    const FORMS: &str = "built-in agents are \"vip\", \"filesystem\" and \"nfs\"; others are written \"systemd:UNIT\", \"ocf:PROVIDER:TYPE\" or \"lsb:NAME\"";
    let part_ok = |p: &str| !p.is_empty() && !p.contains('/') && !p.contains(char::is_whitespace);
    let parts: Vec<&str> = text.split(':').collect();
    let agent = match parts.as_slice() {
        ["vip"] => Some(Agent::Vip),
        ["filesystem"] => Some(Agent::Filesystem),
        ["nfs"] => Some(Agent::Nfs),
        ["systemd", unit] if part_ok(unit) => Some(Agent::Systemd(unit.to_string())),
        ["lsb", name] if part_ok(name) => Some(Agent::Lsb(name.to_string())),
        ["ocf", provider, kind] if part_ok(provider) && part_ok(kind) => Some(Agent::Ocf {
            provider: provider.to_string(),
            kind: kind.to_string(),
        }),
        ["ocf", ..] => {
            f.bad(
                r,
                "malformed ocf agent",
                Some(String::from(
                    "write \"ocf:PROVIDER:TYPE\", e.g. \"ocf:heartbeat:apache\"",
                )),
            );
            return None;
        }
        ["systemd" | "lsb", ..] => {
            f.bad(
                r,
                format!("malformed {} agent", parts[0]),
                Some(format!(
                    "write \"{}:NAME\", e.g. \"{}:httpd\"",
                    parts[0], parts[0]
                )),
            );
            return None;
        }
        _ => None,
    };
    if let Some(Agent::Ocf { provider, kind }) = &agent {
        // Operators translating a crm config keep the OCF names; the
        // built-in agents do the same job without the scripts.
        let builtin = match (provider.as_str(), kind.as_str()) {
            ("heartbeat", "IPaddr2") => Some("vip"),
            ("heartbeat", "Filesystem") => Some("filesystem"),
            ("heartbeat", "nfsserver") => Some("nfs"),
            _ => None,
        };
        if let Some(builtin) = builtin {
            r.warn(
                f.span.clone(),
                format!("{} = \"{text}\": the built-in agent \"{builtin}\" does this without the script", f.label),
                Some(format!(
                    "write agent = \"{builtin}\"; it takes the same parameter names and needs no resource-agents package"
                )),
            );
        }
    }
    if agent.is_none() {
        let hint = match closest(&text, ["vip", "filesystem", "nfs"]) {
            Some(near) => format!("did you mean \"{near}\"? {FORMS}"),
            None => match text.as_str() {
                "IPaddr2" | "IPaddr" | "ocf:heartbeat:IPaddr2" => {
                    format!("the built-in \"vip\" agent is IPaddr2; {FORMS}")
                }
                "Filesystem" => format!("the built-in \"filesystem\" agent is Filesystem; {FORMS}"),
                _ => String::from(FORMS),
            },
        };
        f.bad(r, "unknown agent", Some(hint));
    }
    agent
}

/// Parameters each built-in agent requires (SPEC section 2 table) and the
/// parameters it knows (from the agents' own metadata, so `ha check` and
/// `ha agents` never disagree).
fn agent_params(agent: &Agent) -> Option<(&'static [&'static str], Vec<&'static str>)> {
    let (name, required): (&str, &'static [&'static str]) = match agent {
        Agent::Vip => ("vip", &["ip"]),
        Agent::Filesystem => ("filesystem", &["device", "directory", "fstype"]),
        Agent::Nfs => ("nfs", &["exports"]),
        _ => return None,
    };
    let mut known: Vec<&'static str> = required.to_vec();
    if let Some(info) = crate::agents::builtin_agents()
        .iter()
        .find(|a| a.name == name)
    {
        known.extend(
            info.params
                .iter()
                .map(|p| p.name)
                .filter(|n| !required.contains(n)),
        );
    }
    Some((required, known))
}

fn read_resource(
    r: &mut Report,
    id: Sp<String>,
    s: &Section,
    defaults: &Defaults,
    stonith_enabled: bool,
) -> RawResource {
    let agent = s
        .require(
            r,
            "agent",
            "agent = \"vip\" (or filesystem, nfs, systemd:UNIT, ocf:PROVIDER:TYPE, lsb:NAME)",
        )
        .and_then(|f| parse_agent(r, &f));
    let mut params = BTreeMap::new();
    let params_field = s.get("params");
    if let Some(f) = &params_field
        && let Some(t) = f.table(r)
    {
        let mut entries: Vec<_> = t.iter().collect();
        entries.sort_by_key(|(k, _)| k.span().start);
        for (k, v) in entries {
            let field = Field {
                label: format!("{}.{}", f.label, k.get_ref()),
                span: k.span(),
                value: v.get_ref(),
            };
            if let Some(agent) = &agent {
                check_param(r, agent, k.get_ref(), &field);
            }
            if let Some(value) = to_value(r, &field) {
                params.insert(k.get_ref().to_string(), value);
            }
        }
    }
    if let Some(agent) = &agent
        && let Some((required, _)) = agent_params(agent)
    {
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|p| !params.contains_key(*p))
            .collect();
        if !missing.is_empty() {
            let span = params_field
                .as_ref()
                .map_or(s.span.clone(), |f| f.span.clone());
            let agent_name = match agent {
                Agent::Vip => "vip",
                Agent::Filesystem => "filesystem",
                _ => "nfs",
            };
            let example = match agent {
                Agent::Vip => "params = { ip = \"10.1.48.1\" }",
                Agent::Filesystem => {
                    "params = { device = \"/dev/sdb1\", directory = \"/srv\", fstype = \"ext4\" }"
                }
                _ => {
                    "params = { exports = [ { directory = \"/srv/nfs\", clientspec = \"10.1.0.0/16\" } ] }"
                }
            };
            r.error(
                span,
                format!(
                    "{}: agent \"{agent_name}\" needs param{} {}",
                    s.name,
                    if missing.len() > 1 { "s" } else { "" },
                    quoted_list(missing.iter().copied())
                ),
                Some(format!("e.g. {example}")),
            );
        }
    }
    let ops = match s.get("ops") {
        Some(f) => read_ops(r, &f, defaults, stonith_enabled),
        None => Vec::new(),
    };
    RawResource {
        id,
        agent,
        params,
        ops,
        meta: read_meta(r, s),
    }
}

/// Checks one parameter of a built-in agent: unknown names are warned about
/// (the agent ignores them), known ones must have the right shape.
fn check_param(r: &mut Report, agent: &Agent, key: &str, f: &Field) {
    let Some((_, known)) = agent_params(agent) else {
        return;
    };
    if !known.contains(&key) {
        let hint = match closest(key, known.iter().copied()) {
            Some(near) => format!("did you mean \"{near}\"? known: {}", known.join(", ")),
            None => format!("known parameters: {}", known.join(", ")),
        };
        r.warn(
            f.span.clone(),
            format!("{}: unknown parameter, ignored", f.label),
            Some(hint),
        );
        return;
    }
    match (agent, key) {
        (Agent::Vip, "ip") => {
            if let Some(ip) = f.ip(r)
                && (ip.is_unspecified() || ip.is_multicast())
            {
                f.bad(r, "not a usable virtual IP", None);
            }
        }
        (Agent::Filesystem, "directory") | (Agent::Nfs, "nfs_shared_infodir") => {
            f.path(r);
        }
        (Agent::Filesystem, "device" | "fstype") => {
            f.string(r);
        }
        (Agent::Nfs, "exports") => {
            let Some(items) = f.array(r) else { return };
            if items.is_empty() {
                f.bad(
                    r,
                    "no exports",
                    Some(String::from(
                        "list at least one { directory = \"/srv/nfs\", clientspec = \"*\" }",
                    )),
                );
            }
            for item in items {
                let Some(t) = item.table(r) else { continue };
                let e = Section::open(
                    r,
                    item.label.clone(),
                    item.span.clone(),
                    t,
                    &["directory", "clientspec", "options", "fsid"],
                );
                e.require(
                    r,
                    "directory",
                    "directory = \"/srv/nfs\": the exported directory",
                )
                .and_then(|d| d.path(r));
                for key in ["clientspec", "options"] {
                    e.get(key).and_then(|v| v.string(r));
                }
                if let Some(fsid) = e.get("fsid")
                    && !matches!(fsid.value, DeValue::Integer(_) | DeValue::String(_))
                {
                    fsid.bad(r, "expected an integer or a string", None);
                }
            }
        }
        _ => {}
    }
}

fn read_ops(r: &mut Report, f: &Field, defaults: &Defaults, stonith_enabled: bool) -> Vec<Op> {
    let Some(items) = f.array(r) else {
        return Vec::new();
    };
    let mut ops: Vec<(Op, Range<usize>)> = Vec::new();
    for item in items {
        let Some(t) = item.table(r) else { continue };
        let s = Section::open(r, item.label.clone(), item.span.clone(), t, OP_KEYS);
        let Some(name) = s
            .require(
                r,
                "name",
                "name = \"monitor\" (or start, stop, probe, validate)",
            )
            .and_then(|n| {
                n.choice(
                    r,
                    &[
                        ("start", "start"),
                        ("stop", "stop"),
                        ("monitor", "monitor"),
                        ("probe", "probe"),
                        ("validate", "validate"),
                    ],
                )
            })
        else {
            continue;
        };
        let interval_field = s.get("interval");
        let interval = interval_field
            .as_ref()
            .and_then(|i| i.duration(r, Duration::ZERO, Duration::from_secs(86_400)))
            .unwrap_or(Duration::ZERO);
        if let Some(i) = &interval_field {
            if name == "monitor" && interval.is_zero() {
                i.bad(
                    r,
                    "a monitor needs a non-zero interval",
                    Some(String::from(
                        "e.g. interval = \"10s\"; a one-off check is name = \"probe\"",
                    )),
                );
            } else if name != "monitor" && !interval.is_zero() {
                i.bad(
                    r,
                    format!("only monitor repeats; {name} takes no interval"),
                    Some(String::from("remove interval, or use name = \"monitor\"")),
                );
            }
        } else if name == "monitor" {
            r.error(
                s.span.clone(),
                format!("missing required key \"interval\" in {}", s.name),
                Some(String::from(
                    "a monitor needs interval = \"10s\" (or similar)",
                )),
            );
        }
        let timeout = s
            .get("timeout")
            .and_then(|t| t.duration(r, Duration::from_secs(1), Duration::from_secs(86_400)))
            .unwrap_or(defaults.op_timeout);
        // Pacemaker's default on-fail: fence for a failed stop when fencing is
        // on (the resource's state is unknown), block when it is off,
        // restart for everything else.
        let default_on_fail = match name {
            "stop" if stonith_enabled => OnFail::Fence,
            "stop" => OnFail::Block,
            _ => OnFail::Restart,
        };
        let on_fail = s
            .get("on_fail")
            .and_then(|o| {
                o.choice(
                    r,
                    &[
                        ("ignore", OnFail::Ignore),
                        ("block", OnFail::Block),
                        ("stop", OnFail::Stop),
                        ("restart", OnFail::Restart),
                        ("standby", OnFail::Standby),
                        ("fence", OnFail::Fence),
                    ],
                )
            })
            .unwrap_or(default_on_fail);
        // OCF_CHECK_LEVEL: the levels resource-agents define are 0, 10
        // and 20; anything else is a typo that would silently run depth 0.
        let depth = match s.get("depth") {
            None => 0,
            Some(d) if name != "monitor" => {
                d.bad(
                    r,
                    format!("only monitor takes a depth, not {name}"),
                    Some(String::from(
                        "remove depth; probes and other operations run at depth 0",
                    )),
                );
                0
            }
            Some(d) => match d.integer(r, i64::MIN, i64::MAX) {
                Some(v @ (0 | 10 | 20)) => v as u32,
                Some(_) => {
                    d.bad(
                        r,
                        "a monitor depth is 0, 10 or 20",
                        Some(String::from(
                            "OCF_CHECK_LEVEL: 0 = cheap check, 10 = also the device, 20 = also a write test (filesystem)",
                        )),
                    );
                    0
                }
                None => 0,
            },
        };
        let op = Op {
            name: name.to_string(),
            interval,
            timeout,
            on_fail,
            depth,
        };
        if ops
            .iter()
            .any(|(o, _)| o.name == op.name && o.interval == op.interval)
        {
            r.error(
                item.span.clone(),
                format!(
                    "{}: a second {} op with interval {}",
                    f.label, op.name, op.interval
                ),
                Some(String::from("each (name, interval) pair may appear once")),
            );
            continue;
        }
        ops.push((op, item.span.clone()));
    }
    ops.into_iter().map(|(o, _)| o).collect()
}

fn read_location(r: &mut Report, s: &Section) -> RawLocation {
    let resource = s
        .require(r, "resource", "resource = \"ID\": the resource to place")
        .and_then(|f| f.name(r));
    let node = s.get("node").and_then(|f| f.name(r));
    let rule = s.get("rule").and_then(|f| {
        let t = f.table(r)?;
        let rs = Section::open(r, format!("{} rule", s.name), f.span.clone(), t, RULE_KEYS);
        let attribute = rs
            .require(r, "attribute", "attribute = \"site\": a node attribute")
            .and_then(|a| a.string(r));
        let op = rs
            .require(
                r,
                "op",
                "op = \"eq\" (or ne, lt, gt, lte, gte, defined, not_defined)",
            )
            .and_then(|o| {
                o.choice(
                    r,
                    &[
                        ("eq", RuleOp::Eq),
                        ("ne", RuleOp::Ne),
                        ("lt", RuleOp::Lt),
                        ("gt", RuleOp::Gt),
                        ("lte", RuleOp::Lte),
                        ("gte", RuleOp::Gte),
                        ("defined", RuleOp::Defined),
                        ("not_defined", RuleOp::NotDefined),
                    ],
                )
            });
        let value = rs.get("value").and_then(|v| match v.value {
            DeValue::String(s) => Some(s.to_string()),
            DeValue::Integer(i) => Some(i.to_string()),
            DeValue::Boolean(b) => Some(b.to_string()),
            _ => {
                v.bad(r, "expected a string, integer or boolean", None);
                None
            }
        });
        let op = op?;
        match (op, rs.has("value")) {
            (RuleOp::Defined | RuleOp::NotDefined, true) => {
                let v = rs.get("value")?;
                v.bad(
                    r,
                    "defined and not_defined take no value",
                    Some(String::from("remove value")),
                );
                return None;
            }
            (RuleOp::Defined | RuleOp::NotDefined, false) => {}
            (_, false) => {
                r.error(
                    rs.span.clone(),
                    format!("missing required key \"value\" in {}", rs.name),
                    Some(String::from("comparisons need value = \"...\"")),
                );
                return None;
            }
            (_, true) => {}
        }
        Some(Spanned::new(
            f.span.clone(),
            Rule {
                attribute: attribute?.into_inner(),
                op,
                value,
            },
        ))
    });
    match (s.has("node"), s.has("rule")) {
        (false, false) => r.error(
            s.span.clone(),
            format!("{} needs node or rule", s.name),
            Some(String::from(
                "node = \"node1\", or rule = { attribute = \"site\", op = \"eq\", value = \"a\" }",
            )),
        ),
        (true, true) => r.error(
            s.span.clone(),
            format!("{} has both node and rule", s.name),
            Some(String::from("write two [[location]] tables")),
        ),
        _ => {}
    }
    let score = s
        .require(
            r,
            "score",
            "score = \"inf\" (must run there), a number (prefer), or \"-inf\" (never there)",
        )
        .and_then(|f| f.score(r).map(|v| Spanned::new(f.span.clone(), v)));
    RawLocation {
        span: s.span.clone(),
        resource,
        node,
        rule,
        score,
    }
}

fn read_watchdog(r: &mut Report, top: &Section) -> Option<Sp<Watchdog>> {
    let s = sub_table(r, top, "watchdog", "[watchdog]", WATCHDOG_KEYS)?;
    let device = s
        .get("device")
        .and_then(|f| f.path(r))
        .unwrap_or_else(|| PathBuf::from("/dev/watchdog"));
    // The Linux watchdog API takes whole seconds.
    let timeout = match s.get("timeout") {
        Some(f) => {
            let d = f.duration(r, Duration::from_secs(1), Duration::from_secs(255))?;
            if d.as_millis() % 1000 != 0 {
                f.bad(
                    r,
                    "the watchdog counts whole seconds",
                    Some(String::from("e.g. timeout = \"5s\"")),
                );
                return None;
            }
            d
        }
        None => Duration::from_secs(5),
    };
    Some(Spanned::new(s.span.clone(), Watchdog { device, timeout }))
}

fn read_fence(r: &mut Report, s: &Section) -> RawFence {
    let name = s
        .require(
            r,
            "name",
            "name = \"ipmi-node1\": names the device in logs and `ha status`",
        )
        .and_then(|f| f.name(r));
    let driver = s
        .require(
            r,
            "driver",
            "driver = \"ipmi\" (or sbd, watchdog, external)",
        )
        .and_then(|f| {
            f.choice(
                r,
                &[
                    ("ipmi", FenceDriver::Ipmi),
                    ("sbd", FenceDriver::Sbd),
                    ("watchdog", FenceDriver::Watchdog),
                    ("external", FenceDriver::External),
                ],
            )
            .map(|d| Spanned::new(f.span.clone(), d))
        });
    let targets = match s.require(
        r,
        "targets",
        "targets = [\"node1\"]: the nodes this device can fence",
    ) {
        Some(f) => {
            let names = f.names(r).unwrap_or_default();
            if names.is_empty() && matches!(f.value, DeValue::Array(a) if a.is_empty()) {
                f.bad(
                    r,
                    "no targets",
                    Some(String::from("list the nodes this device can fence")),
                );
            }
            names
        }
        None => Vec::new(),
    };
    let level = s
        .get("level")
        .and_then(|f| f.integer(r, 1, 9))
        .map_or(1, |v| v as u32);
    let delay = s
        .get("delay")
        .and_then(|f| f.duration(r, Duration::ZERO, Duration::from_secs(3600)))
        .unwrap_or(Duration::ZERO);
    let mut params = BTreeMap::new();
    if let Some(f) = s.get("params")
        && let Some(t) = f.table(r)
    {
        for (k, v) in t.iter() {
            let field = Field {
                label: format!("{}.{}", f.label, k.get_ref()),
                span: k.span(),
                value: v.get_ref(),
            };
            if let Some(value) = to_value(r, &field) {
                params.insert(k.get_ref().to_string(), value);
            }
        }
    }
    if let Some(d) = &driver {
        super::fence_params::check(r, s, *d.get_ref(), d.span(), s.get("params").as_ref());
    }
    RawFence {
        name,
        driver,
        targets,
        level,
        delay,
        params,
    }
}
