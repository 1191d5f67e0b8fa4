//! The commands that talk to a running daemon over the control socket:
//! `ha status`, `ha node`, `ha resource`, `ha fence`, `ha reload`.

use argh::FromArgs;

/// Show the cluster on one screen: quorum, DC, nodes, links, resources,
/// failures (like crm_mon). Exits 0 even when the cluster is degraded; 3 when
/// the daemon cannot be reached.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "status")]
pub struct StatusArgs {
    /// print the JSON document (SPEC section 3)
    #[argh(switch)]
    pub json: bool,
    /// redraw whenever something changes
    #[argh(switch)]
    pub watch: bool,
    /// control socket (default: cluster.socket of the config, else /run/ha.sock)
    #[argh(option, short = 's')]
    pub socket: Option<String>,
    /// config file used to find the socket (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
}

/// Change a node's role cluster-wide: standby, online, maintenance, ready.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "node")]
pub struct NodeArgs {
    /// standby | online | maintenance | ready
    #[argh(positional)]
    pub role: String,
    /// node name
    #[argh(positional)]
    pub node: String,
    /// control socket (default: cluster.socket of the config, else /run/ha.sock)
    #[argh(option, short = 's')]
    pub socket: Option<String>,
    /// config file used to find the socket (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
}

/// Manage a resource: move RSC NODE [--lifetime DUR], ban RSC NODE, clear
/// RSC, cleanup RSC [NODE], start|stop|restart RSC, scores [RSC].
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "resource")]
pub struct ResourceArgs {
    /// move | ban | clear | cleanup | start | stop | restart | scores
    #[argh(positional)]
    pub verb: String,
    /// resource id, then node name where the verb takes one
    #[argh(positional)]
    pub args: Vec<String>,
    /// for move: drop the preference after this long (e.g. "10min")
    #[argh(option)]
    pub lifetime: Option<String>,
    /// control socket (default: cluster.socket of the config, else /run/ha.sock)
    #[argh(option, short = 's')]
    pub socket: Option<String>,
    /// config file used to find the socket (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
}

/// Fence a node now through the configured devices (like stonith_admin -F).
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "fence")]
pub struct FenceArgs {
    /// node name
    #[argh(positional)]
    pub node: String,
    /// control socket (default: cluster.socket of the config, else /run/ha.sock)
    #[argh(option, short = 's')]
    pub socket: Option<String>,
    /// config file used to find the socket (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
}

/// Re-read the config on every node (also on SIGHUP). A config that fails
/// `ha check` is refused and the old one keeps running.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "reload")]
pub struct ReloadArgs {
    /// control socket (default: cluster.socket of the config, else /run/ha.sock)
    #[argh(option, short = 's')]
    pub socket: Option<String>,
    /// config file used to find the socket (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
}

/// Exit code: the daemon is not running or not reachable.
pub const EXIT_UNREACHABLE: i32 = 3;

pub fn status(args: StatusArgs) -> i32 {
    let _ = args;
    eprintln!("ha status: not written yet");
    EXIT_UNREACHABLE
}

pub fn node(args: NodeArgs) -> i32 {
    let _ = args;
    eprintln!("ha node: not written yet");
    EXIT_UNREACHABLE
}

pub fn resource(args: ResourceArgs) -> i32 {
    let _ = args;
    eprintln!("ha resource: not written yet");
    EXIT_UNREACHABLE
}

pub fn fence(args: FenceArgs) -> i32 {
    let _ = args;
    eprintln!("ha fence: not written yet");
    EXIT_UNREACHABLE
}

pub fn reload(args: ReloadArgs) -> i32 {
    let _ = args;
    eprintln!("ha reload: not written yet");
    EXIT_UNREACHABLE
}
