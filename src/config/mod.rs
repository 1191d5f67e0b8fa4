//! `/etc/ha.toml`: text in, a validated [`Config`] out.
//!
//! Loading happens in steps. The TOML parser (`toml::de::DeTable`) gives a
//! tree in which every key and value keeps its byte span. `raw` walks that
//! tree section by section into structs whose names and references stay
//! `toml::Spanned`, checking keys against what each section allows (with a
//! "did you mean") and converting values (durations, scores, addresses,
//! enum words, agent strings) as it goes. `validate` then checks what only
//! the whole file can show (duplicates, unknown references, group and clone
//! structure, link addresses, order cycles, unplaceable resources) and
//! points at the line and column of each problem too. Every problem found
//! is reported, not only the first, as a [`Diagnostic`] with a hint. (A
//! serde derive with `deny_unknown_fields` would stop at the first unknown
//! key; walking the spanned tree keeps going.)
//!
//! The validated [`Config`] below is what the rest of ha consumes: it holds
//! no spans, only checked values, durations already converted to
//! [`Duration`] and scores to [`Score`]. [`parse`] is pure; files are read
//! only by [`load_file`], [`check_key_file`] and [`write_key`], which the
//! CLI and daemon call; the pure core receives a `Config` value.

pub mod cli;
pub mod fence_params;
mod key;
mod raw;
mod read;
mod report;
mod suggest;
mod validate;

pub use key::{KEY_LEN, KeygenError, check_key_file, write_key};
pub use validate::rule_matches;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::score::Score;
use crate::time::Duration;

/// A node id as configured: unique, 1..=65535.
pub type NodeId = u16;

/// A validated cluster configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    pub cluster: Cluster,
    pub heartbeat: Heartbeat,
    pub quorum: Quorum,
    /// In config order.
    pub nodes: Vec<Node>,
    pub defaults: Defaults,
    /// Primitives, in config order.
    pub resources: Vec<Resource>,
    pub groups: Vec<Group>,
    pub clones: Vec<Clone>,
    pub locations: Vec<Location>,
    pub colocations: Vec<Colocation>,
    pub orders: Vec<Order>,
    pub watchdog: Option<Watchdog>,
    pub fences: Vec<FenceDevice>,
    /// blake3 of the config text; nodes whose hashes differ run no resources.
    pub hash: [u8; 32],
}

/// `[cluster]`
#[derive(Clone, Debug, PartialEq)]
pub struct Cluster {
    pub name: String,
    pub key_file: PathBuf,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    pub no_quorum_policy: NoQuorumPolicy,
    pub symmetric: bool,
    pub stonith_enabled: bool,
    pub log: LogTarget,
    pub log_level: log::LevelFilter,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoQuorumPolicy {
    Stop,
    Freeze,
    Ignore,
    Suicide,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LogTarget {
    Stderr,
    Syslog,
    File(PathBuf),
}

/// `[heartbeat]` and its `[[heartbeat.link]]` tables.
#[derive(Clone, Debug, PartialEq)]
pub struct Heartbeat {
    pub transport: Transport,
    pub port: u16,
    pub interval: Duration,
    pub timeout: Duration,
    /// Default group for `udp`; a link may override it.
    pub mcast_group: IpAddr,
    pub ttl: u32,
    /// At least one.
    pub links: Vec<Link>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Unicast to every node's address on the link.
    Udpu,
    /// Multicast to the link's group.
    Udp,
}

/// One redundant heartbeat link (a corosync ring).
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// corosync's bindnetaddr: bind to the local address inside this network.
    pub network: Option<ipnetwork::IpNetwork>,
    /// The link's port (the heartbeat port unless overridden).
    pub port: u16,
    /// The link's group (the heartbeat group unless overridden); used by `udp`.
    pub mcast_group: IpAddr,
}

/// `[quorum]`: corosync votequorum options.
#[derive(Clone, Debug, PartialEq)]
pub struct Quorum {
    /// Already defaulted to the sum of all node votes when absent.
    pub expected_votes: u32,
    pub two_node: bool,
    /// True when configured or implied by `two_node`.
    pub wait_for_all: bool,
    pub last_man_standing: bool,
    pub last_man_standing_window: Duration,
    pub auto_tie_breaker: bool,
}

/// `[[node]]`
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    pub id: NodeId,
    /// One per heartbeat link, in link order.
    pub addrs: Vec<IpAddr>,
    pub votes: u32,
    pub attributes: BTreeMap<String, String>,
}

/// `[defaults]`: pacemaker's rsc_defaults and op_defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    pub stickiness: Score,
    /// Failures on a node before the resource is banned there; INFINITY = never.
    pub migration_threshold: Score,
    /// Zero: failures never expire.
    pub failure_timeout: Duration,
    pub op_timeout: Duration,
}

/// Meta attributes a resource, group or clone may set. `None` = inherit
/// (from the enclosing group/clone, then `[defaults]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Meta {
    pub stickiness: Option<Score>,
    pub migration_threshold: Option<Score>,
    pub failure_timeout: Option<Duration>,
    pub target_role: Option<TargetRole>,
    pub managed: Option<bool>,
    pub priority: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TargetRole {
    Started,
    Stopped,
}

/// `[resource.ID]`: a primitive.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub id: String,
    pub agent: Agent,
    /// Agent parameters as written; agents validate their own.
    pub params: BTreeMap<String, toml::Value>,
    pub ops: Vec<Op>,
    pub meta: Meta,
}

/// Which agent manages a primitive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Agent {
    Vip,
    Filesystem,
    Nfs,
    /// `systemd:UNIT`
    Systemd(String),
    /// `ocf:PROVIDER:TYPE`
    Ocf {
        provider: String,
        kind: String,
    },
    /// `lsb:NAME`
    Lsb(String),
}

/// One operation of a resource (`ops = [...]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// start | stop | monitor | probe | validate
    pub name: String,
    /// Zero for non-recurring operations.
    pub interval: Duration,
    pub timeout: Duration,
    pub on_fail: OnFail,
    /// Monitor depth, pacemaker's OCF_CHECK_LEVEL: 0 (the cheap check), 10
    /// or 20 (deeper checks, where the agent has them). Always 0 for other
    /// operations; probes run at depth 0.
    pub depth: u32,
}

/// What to do when an operation fails (pacemaker's on-fail).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnFail {
    Ignore,
    Block,
    Stop,
    Restart,
    Standby,
    Fence,
}

/// `[group.ID]`: members start in order, stop in reverse, all on one node.
#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub id: String,
    /// Primitive ids, in start order.
    pub resources: Vec<String>,
    pub meta: Meta,
}

/// `[clone.ID]`: an anonymous clone of a primitive or a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Clone {
    pub id: String,
    /// A primitive or group id.
    pub resource: String,
    /// clone-max; `None` = the number of nodes.
    pub max: Option<u32>,
    /// clone-node-max.
    pub node_max: u32,
    pub meta: Meta,
}

/// `[[location]]`
#[derive(Clone, Debug, PartialEq)]
pub struct Location {
    /// A primitive, group or clone id.
    pub resource: String,
    pub target: LocationTarget,
    pub score: Score,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LocationTarget {
    Node(String),
    Rule(Rule),
}

/// A node attribute expression, as pacemaker's `<expression>`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub attribute: String,
    pub op: RuleOp,
    /// Absent for `defined` / `not_defined`.
    pub value: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleOp {
    Eq,
    Ne,
    Lt,
    Gt,
    Lte,
    Gte,
    Defined,
    NotDefined,
}

/// `[[colocation]]`: place `resource` relative to `with`.
#[derive(Clone, Debug, PartialEq)]
pub struct Colocation {
    pub resource: String,
    pub with: String,
    pub score: Score,
}

/// `[[order]]`
#[derive(Clone, Debug, PartialEq)]
pub struct Order {
    pub first: String,
    pub then: String,
    pub kind: OrderKind,
    /// Stop in the reverse order too.
    pub symmetrical: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Mandatory,
    Optional,
    Serialize,
}

/// `[watchdog]`: software self-fencing.
#[derive(Clone, Debug, PartialEq)]
pub struct Watchdog {
    pub device: PathBuf,
    pub timeout: Duration,
}

/// `[[fence]]`: a STONITH device.
#[derive(Clone, Debug, PartialEq)]
pub struct FenceDevice {
    pub name: String,
    pub driver: FenceDriver,
    /// Node names this device can fence.
    pub targets: Vec<String>,
    /// Fencing topology: lower levels are tried first.
    pub level: u32,
    /// Static delay before fencing, to break fence races.
    pub delay: Duration,
    pub params: BTreeMap<String, toml::Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FenceDriver {
    Ipmi,
    Sbd,
    Watchdog,
    External,
}

impl Config {
    /// The node with this name.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The node with this id.
    pub fn node_by_id(&self, id: NodeId) -> Option<&Node> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The primitive with this id.
    pub fn resource(&self, id: &str) -> Option<&Resource> {
        self.resources.iter().find(|r| r.id == id)
    }

    /// The group that holds primitive `id`, if any.
    pub fn group_of(&self, id: &str) -> Option<&Group> {
        self.groups
            .iter()
            .find(|g| g.resources.iter().any(|m| m == id))
    }

    /// The primitives `id` names: a clone's primitive or group members, a
    /// group's members, or the primitive itself (what `ha resource restart`
    /// and `cleanup` act on when given a group or clone).
    pub fn primitives(&self, id: &str) -> Vec<String> {
        if let Some(c) = self.clones.iter().find(|c| c.id == id) {
            return self.primitives(&c.resource);
        }
        if let Some(g) = self.groups.iter().find(|g| g.id == id) {
            return g.resources.clone();
        }
        vec![id.to_string()]
    }

    /// The clone that wraps primitive or group `id`, if any.
    pub fn clone_of(&self, id: &str) -> Option<&Clone> {
        self.clones.iter().find(|c| c.resource == id)
    }

    /// The meta attributes in force for primitive `id`: its own, then its
    /// group's, then its clone's (of the primitive or of its group), then
    /// `[defaults]`. Pacemaker lets members inherit the meta of their parent.
    pub fn effective_meta(&self, id: &str) -> EffectiveMeta {
        let mut chain: Vec<&Meta> = Vec::new();
        if let Some(r) = self.resource(id) {
            chain.push(&r.meta);
        }
        let group = self.group_of(id);
        if let Some(g) = group {
            chain.push(&g.meta);
        }
        let clone = self
            .clone_of(id)
            .or_else(|| group.and_then(|g| self.clone_of(&g.id)));
        if let Some(c) = clone {
            chain.push(&c.meta);
        }
        EffectiveMeta::resolve(&chain, &self.defaults)
    }
}

/// Meta attributes after inheritance and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EffectiveMeta {
    pub stickiness: Score,
    pub migration_threshold: Score,
    pub failure_timeout: Duration,
    pub target_role: TargetRole,
    pub managed: bool,
    pub priority: i64,
}

impl EffectiveMeta {
    /// Resolves inheritance: the first block in `chain` (most specific
    /// first: primitive, group, clone) that sets a key wins, else `defaults`.
    pub fn resolve(chain: &[&Meta], d: &Defaults) -> EffectiveMeta {
        EffectiveMeta {
            stickiness: chain
                .iter()
                .find_map(|m| m.stickiness)
                .unwrap_or(d.stickiness),
            migration_threshold: chain
                .iter()
                .find_map(|m| m.migration_threshold)
                .unwrap_or(d.migration_threshold),
            failure_timeout: chain
                .iter()
                .find_map(|m| m.failure_timeout)
                .unwrap_or(d.failure_timeout),
            target_role: chain
                .iter()
                .find_map(|m| m.target_role)
                .unwrap_or(TargetRole::Started),
            managed: chain.iter().find_map(|m| m.managed).unwrap_or(true),
            priority: chain.iter().find_map(|m| m.priority).unwrap_or(0),
        }
    }
}

/// One problem found in a config, with where it is and what to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// The file name as given by the user (for `FILE:LINE:COL`).
    pub file: String,
    /// 1-based; 0 when the problem has no single place (e.g. a missing section).
    pub line: usize,
    /// 1-based.
    pub col: usize,
    pub message: String,
    /// Printed on its own line as `  hint: ...`.
    pub hint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    Error,
    Warning,
}

impl std::fmt::Display for Diagnostic {
    /// `error: FILE:LINE:COL: message` then `  hint: ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        if self.line == 0 {
            write!(f, "{level}: {}: {}", self.file, self.message)?;
        } else {
            write!(
                f,
                "{level}: {}:{}:{}: {}",
                self.file, self.line, self.col, self.message
            )?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// A config that passed validation, with the warnings found on the way.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
}

/// Parses and validates config text. `file` names the source in messages.
/// On failure returns every diagnostic found (errors and warnings), sorted
/// by position.
pub fn parse(text: &str, file: &str) -> Result<Loaded, Vec<Diagnostic>> {
    let mut report = report::Report::new(file, text);
    let (root, syntax_errors) = toml::de::DeTable::parse_recoverable(text);
    if !syntax_errors.is_empty() {
        // A broken tree makes every later check guess; report syntax only.
        for e in &syntax_errors {
            report.error(
                e.span().unwrap_or(0..0),
                format!("TOML syntax: {}", e.message().trim()),
                Some(String::from("see https://toml.io for the syntax")),
            );
        }
        return Err(sorted(report.diagnostics));
    }
    let raw = raw::read(&mut report, root.get_ref());
    let config = validate::validate(&mut report, raw, *blake3::hash(text.as_bytes()).as_bytes());
    if report.has_errors() {
        Err(sorted(report.diagnostics))
    } else {
        Ok(Loaded {
            config,
            warnings: sorted(report.diagnostics),
        })
    }
}

fn sorted(mut diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
    diagnostics.sort_by_key(|d| (d.line, d.col));
    diagnostics
}

/// Reads and parses a config file. An unreadable file is one diagnostic
/// naming the path and the reason.
pub fn load_file(path: &Path) -> Result<Loaded, Vec<Diagnostic>> {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        vec![Diagnostic {
            severity: Severity::Error,
            file: name.clone(),
            line: 0,
            col: 0,
            message: format!("cannot read the config: {e}"),
            hint: Some(match e.kind() {
                std::io::ErrorKind::NotFound => String::from("pass the config with -c FILE"),
                _ => String::from("check the path and its permissions"),
            }),
        }]
    })?;
    match String::from_utf8(bytes) {
        Ok(text) => parse(&text, &name),
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let mut report = report::Report::new(&name, &text);
            report.error(
                offset..offset,
                "the config is not valid UTF-8",
                Some(String::from("save the file as UTF-8")),
            );
            Err(report.diagnostics)
        }
    }
}

#[cfg(test)]
mod tests;
