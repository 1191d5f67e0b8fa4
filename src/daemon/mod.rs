//! The daemon (`ha run`): smol glue around `node::Node` (to be written).

use argh::FromArgs;

/// Run the cluster daemon in the foreground (corosync + pacemakerd in one).
/// Logs to stderr, syslog or a file per the config.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "run")]
pub struct RunArgs {
    /// config file (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
    /// this node's name (default: the host name, `uname -n`)
    #[argh(option)]
    pub node: Option<String>,
}

/// Runs the daemon until it is told to stop; returns the exit code.
pub fn run(args: RunArgs) -> i32 {
    let _ = args;
    eprintln!("ha run: not written yet");
    1
}
