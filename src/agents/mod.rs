//! Resource agents (to be written).

use argh::FromArgs;

/// List the built-in agents, or one agent's parameters and defaults.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "agents")]
pub struct AgentsArgs {
    /// agent name (vip, filesystem, nfs, systemd, ocf, lsb)
    #[argh(positional)]
    pub name: Option<String>,
}

pub fn run(args: AgentsArgs) -> i32 {
    let _ = args;
    eprintln!("ha agents: not written yet");
    1
}
