//! Resource agents: the code that actually starts, stops and checks a
//! resource on this node, and `ha agents [NAME]`.
//!
//! Input: one validated `config::Resource` (its `agent` and `params`) and the
//! local node's name. Output: a [`Agent`] whose operations return
//! `node::Outcome` with OCF semantics (0 ok, 7 not running, other rc failed),
//! so the local resource manager can treat built-in and external agents alike.
//!
//! Operations block the calling thread. The daemon runs each one on its own
//! thread (`smol::unblock` or `std::thread::spawn`) with the op's timeout and
//! abandons an overrun op, reporting `Outcome::Timeout`. Blocking was chosen
//! over `async` because most of the work is blocking by nature (mount(2),
//! umount2(2), fsck, waiting for killed processes to exit) and because the
//! network namespace of a netlink or packet socket is the namespace of the
//! *thread* that opens it: an agent that opens its sockets on the calling
//! thread is correct both in the daemon and in tests that `setns` one thread.
//! Every internal wait is bounded, so an abandoned operation ends by itself.
//!
//! Agents never decide placement or recovery; they only report what they
//! found. Parameter names follow the ClusterLabs resource-agents (IPaddr2,
//! Filesystem) so crm configurations translate line by line.

use std::fmt;

use argh::FromArgs;

use crate::config::{self, Resource};
use crate::node::Outcome;

pub mod external;
mod filesystem;
mod packet;
mod params;
pub mod proc_scan;
mod vip;

pub use external::External;
pub use filesystem::Filesystem;
pub use proc_scan::{MountEntry, mountinfo_entries};
pub use vip::Vip;

/// OCF exit codes (the OCF resource agent API), used in `Outcome::Failed`.
pub mod rc {
    /// OCF_ERR_GENERIC: the operation failed.
    pub const ERR_GENERIC: i32 = 1;
    /// OCF_ERR_ARGS: bad parameters for this node.
    pub const ERR_ARGS: i32 = 2;
    /// OCF_ERR_UNIMPLEMENTED: the agent does not do this operation.
    pub const ERR_UNIMPLEMENTED: i32 = 3;
    /// OCF_ERR_PERM: not permitted (e.g. not root).
    pub const ERR_PERM: i32 = 4;
    /// OCF_ERR_INSTALLED: a program or kernel feature the agent needs is missing.
    pub const ERR_INSTALLED: i32 = 5;
    /// OCF_ERR_CONFIGURED: the configuration can never work.
    pub const ERR_CONFIGURED: i32 = 6;
    /// OCF_NOT_RUNNING: cleanly stopped (monitor and probe only).
    pub const NOT_RUNNING: i32 = 7;
}

/// One resource's agent, bound to its parameters.
///
/// Every operation blocks until done (see the module docs) and may run on
/// any thread; an agent keeps small state between calls (the interface it
/// found, when it last announced an address), hence `&self` + `Sync`.
pub trait Agent: Send + Sync {
    /// Bring the resource up. Idempotent: starting a started resource is `Ok`.
    fn start(&self) -> Outcome;
    /// Take the resource down. Idempotent: stopping a stopped resource is `Ok`.
    /// A failed stop is serious (pacemaker fences the node), so agents try
    /// hard before giving up.
    fn stop(&self) -> Outcome;
    /// Is it running? `Ok`, `NotRunning` (cleanly stopped) or `Failed`.
    /// `depth` is OCF_CHECK_LEVEL: 0 is the cheap check; agents that know
    /// deeper checks (filesystem: 10, 20) run every level up to `depth`.
    /// A probe is `monitor(0)`.
    fn monitor(&self, depth: u32) -> Outcome;
    /// Can this node run the resource (programs, devices, interfaces present)?
    /// Parameters were checked when the agent was built; this checks the host.
    fn validate(&self) -> Outcome;
}

/// Why an agent could not be built for a resource: bad parameters, or an
/// agent kind this build does not run yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AgentError {
    /// A parameter is missing, unknown, or has a bad value.
    Param {
        resource: String,
        param: String,
        problem: String,
        hint: String,
    },
    /// The agent kind is known but this build cannot run it.
    Unsupported { resource: String, agent: String },
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Param {
                resource,
                param,
                problem,
                hint,
            } => {
                write!(
                    f,
                    "resource \"{resource}\": parameter \"{param}\": {problem}"
                )?;
                if !hint.is_empty() {
                    write!(f, "\n  hint: {hint}")?;
                }
                Ok(())
            }
            AgentError::Unsupported { resource, agent } => write!(
                f,
                "resource \"{resource}\": agent \"{agent}\" is not available in this build\n  \
                 hint: vip, filesystem, ocf: and lsb: agents are; see `ha agents`"
            ),
        }
    }
}

impl std::error::Error for AgentError {}

impl AgentError {
    /// The OCF rc a failed `validate` of this resource reports.
    pub fn rc(&self) -> i32 {
        match self {
            AgentError::Param { .. } => rc::ERR_CONFIGURED,
            AgentError::Unsupported { .. } => rc::ERR_INSTALLED,
        }
    }
}

/// Build the agent for `resource` on the node named `node_name` (used for
/// per-node status files). Checks every parameter; the error names the
/// resource and parameter and gives a hint. `op_timeout` is `[defaults]
/// op_timeout`: external scripts are killed after their operation's
/// timeout, this one where the resource names none.
pub fn for_resource(
    resource: &Resource,
    node_name: &str,
    op_timeout: crate::time::Duration,
) -> Result<Box<dyn Agent>, AgentError> {
    let default_timeout = std::time::Duration::from_millis(op_timeout.as_millis());
    match &resource.agent {
        config::Agent::Vip => Ok(Box::new(Vip::new(resource)?)),
        config::Agent::Filesystem => Ok(Box::new(Filesystem::new(resource, node_name)?)),
        config::Agent::Ocf { provider, kind } => Ok(Box::new(External::ocf(
            resource,
            std::path::Path::new(external::OCF_ROOT),
            provider,
            kind,
            default_timeout,
        )?)),
        config::Agent::Lsb(name) => Ok(Box::new(External::lsb(
            resource,
            std::path::Path::new(external::LSB_DIR),
            name,
            default_timeout,
        )?)),
        other => Err(AgentError::Unsupported {
            resource: resource.id.clone(),
            agent: agent_name(other),
        }),
    }
}

/// The agent as written in the config (`vip`, `systemd:httpd`, ...).
pub fn agent_name(agent: &config::Agent) -> String {
    match agent {
        config::Agent::Vip => "vip".to_string(),
        config::Agent::Filesystem => "filesystem".to_string(),
        config::Agent::Nfs => "nfs".to_string(),
        config::Agent::Systemd(unit) => format!("systemd:{unit}"),
        config::Agent::Ocf { provider, kind } => format!("ocf:{provider}:{kind}"),
        config::Agent::Lsb(name) => format!("lsb:{name}"),
    }
}

/// One operation of an agent, as the local resource manager asks for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Start,
    Stop,
    /// A monitor or a probe (a probe is `Monitor { depth: 0 }`).
    Monitor {
        depth: u32,
    },
    Validate,
}

impl Operation {
    /// Run the operation on the calling thread.
    pub fn run(self, agent: &dyn Agent) -> Outcome {
        match self {
            Operation::Start => agent.start(),
            Operation::Stop => agent.stop(),
            Operation::Monitor { depth } => agent.monitor(depth),
            Operation::Validate => agent.validate(),
        }
    }
}

/// Run `operation` on a blocking thread (`smol::unblock`) and give up after
/// `timeout`, reporting `Outcome::Timeout` as pacemaker does for an overrun
/// op. The abandoned operation keeps running until its own bounded waits
/// end; the caller must not start another operation on the same resource
/// before treating the resource as failed (pacemaker's rule: an op that
/// timed out leaves the resource in an unknown state, so recovery stops it
/// or fences the node).
pub async fn run_with_timeout(
    agent: std::sync::Arc<dyn Agent>,
    operation: Operation,
    timeout: std::time::Duration,
) -> Outcome {
    let work = smol::unblock(move || operation.run(agent.as_ref()));
    smol::future::or(work, async move {
        smol::Timer::after(timeout).await;
        Outcome::Timeout
    })
    .await
}

/// Turns a failed operation into an `Outcome`; agents use it everywhere so
/// every failure carries its reason.
pub(crate) fn failed(rc: i32, reason: impl Into<String>) -> Outcome {
    Outcome::Failed {
        rc,
        reason: reason.into(),
    }
}

// ---------------------------------------------------------------------------
// Metadata and `ha agents`.

/// One parameter of a built-in agent, for `ha agents NAME` and the docs.
#[derive(Clone, Copy, Debug)]
pub struct ParamInfo {
    pub name: &'static str,
    pub required: bool,
    /// The default as the user would write it, or a description of how it is found.
    pub default: &'static str,
    pub meaning: &'static str,
}

/// A built-in agent kind.
#[derive(Clone, Copy, Debug)]
pub struct AgentInfo {
    /// As written after `agent =` (`systemd` stands for `systemd:UNIT`).
    pub name: &'static str,
    pub equivalent: &'static str,
    pub summary: &'static str,
    /// False when the kind is accepted by the config but this build cannot run it.
    pub available: bool,
    pub params: &'static [ParamInfo],
    pub monitor_depths: &'static str,
}

/// Every agent kind the config accepts, in the order `ha agents` lists them.
pub fn builtin_agents() -> &'static [AgentInfo] {
    &AGENTS
}

static AGENTS: [AgentInfo; 6] = [
    AgentInfo {
        name: "vip",
        equivalent: "ocf:heartbeat:IPaddr2",
        summary: "a virtual IPv4 or IPv6 address, added by netlink and announced by gratuitous ARP / unsolicited NA",
        available: true,
        params: vip::PARAMS,
        monitor_depths: "0: the address is on the interface and the interface is up (every depth is the same)",
    },
    AgentInfo {
        name: "filesystem",
        equivalent: "ocf:heartbeat:Filesystem",
        summary: "a file system mounted with mount(2), optionally checked with fsck first",
        available: true,
        params: filesystem::PARAMS,
        monitor_depths: "0: mounted; 10: also the device is readable; 20: also a status file under the mount can be written and read back",
    },
    AgentInfo {
        name: "nfs",
        equivalent: "ocf:heartbeat:nfsserver + exportfs",
        summary: "an NFS server and its exports",
        available: false,
        params: &[
            ParamInfo {
                name: "exports",
                required: true,
                default: "",
                meaning: "list of {directory, clientspec, options, fsid}",
            },
            ParamInfo {
                name: "nfs_shared_infodir",
                required: false,
                default: "",
                meaning: "directory on shared storage for NFS state (rmtab, v4 recovery)",
            },
        ],
        monitor_depths: "",
    },
    AgentInfo {
        name: "systemd",
        equivalent: "systemd:UNIT",
        summary: "a systemd unit, written agent = \"systemd:UNIT\"; runs systemctl",
        available: false,
        params: &[],
        monitor_depths: "",
    },
    AgentInfo {
        name: "ocf",
        equivalent: "ocf:PROVIDER:TYPE",
        summary: "an OCF resource agent script, written agent = \"ocf:PROVIDER:TYPE\"; params are passed as OCF_RESKEY_*",
        available: true,
        params: &[],
        monitor_depths: "passed to the script as OCF_CHECK_LEVEL",
    },
    AgentInfo {
        name: "lsb",
        equivalent: "lsb:NAME",
        summary: "an LSB init script /etc/init.d/NAME, written agent = \"lsb:NAME\"",
        available: true,
        params: &[],
        monitor_depths: "0: the script's status (every depth is the same)",
    },
];

/// Find an agent kind by the name a user may type: `vip`, `filesystem`,
/// the pacemaker name (`IPaddr2`, `ocf:heartbeat:Filesystem`), or the
/// prefix of an external agent (`systemd:httpd` -> systemd).
pub fn find_agent(name: &str) -> Option<&'static AgentInfo> {
    let lower = name.to_ascii_lowercase();
    let key = match lower.as_str() {
        "ipaddr2" | "ocf:heartbeat:ipaddr2" => "vip",
        "filesystem" | "ocf:heartbeat:filesystem" => "filesystem",
        "nfsserver" | "ocf:heartbeat:nfsserver" | "exportfs" => "nfs",
        other => match other.split_once(':') {
            Some((prefix, _)) => prefix,
            None => other,
        },
    };
    AGENTS.iter().find(|a| a.name == key)
}

/// List the built-in agents, or one agent's parameters and defaults.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "agents")]
pub struct AgentsArgs {
    /// agent name (vip, filesystem, nfs, systemd, ocf, lsb)
    #[argh(positional)]
    pub name: Option<String>,
}

/// `ha agents [NAME]`: exit 0, or 2 for an unknown name.
pub fn run(args: AgentsArgs) -> i32 {
    match args.name {
        None => {
            print!("{}", render_list());
            0
        }
        Some(name) => match find_agent(&name) {
            Some(info) => {
                print!("{}", render_agent(info));
                0
            }
            None => {
                let names: Vec<&str> = AGENTS.iter().map(|a| a.name).collect();
                eprintln!(
                    "error: unknown agent \"{name}\"\n  hint: built-in agents are {}",
                    names.join(", ")
                );
                2
            }
        },
    }
}

/// The text of `ha agents`.
pub fn render_list() -> String {
    let mut out = String::new();
    let width = AGENTS.iter().map(|a| a.name.len()).max().unwrap_or(0);
    let eq_width = AGENTS.iter().map(|a| a.equivalent.len()).max().unwrap_or(0);
    for a in &AGENTS {
        let state = if a.available {
            ""
        } else {
            " (not available in this build)"
        };
        out.push_str(&format!(
            "{:width$}  {:eq_width$}  {}{}\n",
            a.name, a.equivalent, a.summary, state
        ));
    }
    out
}

/// The text of `ha agents NAME`.
pub fn render_agent(info: &AgentInfo) -> String {
    let mut out = format!("{} ({})\n  {}\n", info.name, info.equivalent, info.summary);
    if !info.available {
        out.push_str(
            "  not available in this build: the config accepts it, the daemon cannot run it yet\n",
        );
    }
    if info.params.is_empty() {
        out.push_str("\nparameters: none of its own\n");
    } else {
        out.push_str("\nparameters:\n");
        let width = info.params.iter().map(|p| p.name.len()).max().unwrap_or(0);
        for p in info.params {
            let need = if p.required {
                "required".to_string()
            } else if p.default.is_empty() {
                "optional".to_string()
            } else {
                format!("default {}", p.default)
            };
            out.push_str(&format!(
                "  {:width$}  {}\n  {:width$}    {}\n",
                p.name, need, "", p.meaning
            ));
        }
    }
    if !info.monitor_depths.is_empty() {
        out.push_str(&format!(
            "\nmonitor depth (OCF_CHECK_LEVEL): {}\n",
            info.monitor_depths
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: every agent kind the config accepts is listed, and the names a
    // pacemaker user types find the right agent.
    #[test]
    fn list_names_every_kind_and_aliases_resolve() {
        let text = render_list();
        for name in ["vip", "filesystem", "nfs", "systemd", "ocf", "lsb"] {
            assert!(
                text.lines().any(|l| l.starts_with(name)),
                "{name} missing from:\n{text}"
            );
        }
        assert_eq!(find_agent("IPaddr2").map(|a| a.name), Some("vip"));
        assert_eq!(
            find_agent("ocf:heartbeat:Filesystem").map(|a| a.name),
            Some("filesystem")
        );
        assert_eq!(find_agent("systemd:httpd").map(|a| a.name), Some("systemd"));
        assert!(find_agent("ipaddr3").is_none());
    }

    /// An agent whose every operation sleeps, to test the timeout wrapper
    /// (the real agents are tested against the kernel in tests/agents_*.rs).
    struct Slow(std::time::Duration);

    impl Agent for Slow {
        fn start(&self) -> Outcome {
            std::thread::sleep(self.0);
            Outcome::Ok
        }
        fn stop(&self) -> Outcome {
            self.start()
        }
        fn monitor(&self, depth: u32) -> Outcome {
            std::thread::sleep(self.0);
            if depth == 0 {
                Outcome::NotRunning
            } else {
                Outcome::Ok
            }
        }
        fn validate(&self) -> Outcome {
            self.start()
        }
    }

    // Goal: an op that finishes in time reports its own outcome; one that
    // overruns reports Timeout at the deadline, not when it ends.
    #[test]
    fn run_with_timeout_reports_outcome_or_timeout() {
        use std::time::Duration;
        let fast: std::sync::Arc<dyn Agent> = std::sync::Arc::new(Slow(Duration::from_millis(10)));
        let op = Operation::Monitor { depth: 0 };
        let outcome = smol::block_on(run_with_timeout(fast, op, Duration::from_secs(5)));
        assert_eq!(outcome, Outcome::NotRunning);
        let slow: std::sync::Arc<dyn Agent> = std::sync::Arc::new(Slow(Duration::from_secs(3)));
        let begin = std::time::Instant::now();
        let outcome = smol::block_on(run_with_timeout(
            slow,
            Operation::Start,
            Duration::from_millis(100),
        ));
        assert_eq!(outcome, Outcome::Timeout);
        assert!(
            begin.elapsed() < Duration::from_secs(1),
            "took {:?}",
            begin.elapsed()
        );
    }

    // Goal: `ha agents vip` shows each parameter with required/default.
    #[test]
    fn vip_info_shows_required_and_defaults() {
        let text = render_agent(find_agent("vip").expect("vip exists"));
        assert!(text.contains("ip  "), "{text}");
        assert!(
            text.lines()
                .any(|l| l.trim_start().starts_with("ip ") && l.contains("required")),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.contains("arp_count ") && l.contains("default 5")),
            "{text}"
        );
        let fs = render_agent(find_agent("filesystem").expect("filesystem exists"));
        assert!(
            fs.lines()
                .any(|l| l.contains("force_unmount") && l.contains("default true")),
            "{fs}"
        );
        assert!(fs.contains("OCF_CHECK_LEVEL"), "{fs}");
    }
}
