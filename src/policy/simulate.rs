//! `ha simulate`: the placement solver on the command line, like crm_simulate.

use argh::FromArgs;

/// Run the placement solver offline and print the transition (like
/// crm_simulate). Without --state every configured node is online and
/// nothing runs.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "simulate")]
pub struct SimulateArgs {
    /// config file (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
    /// current state: the JSON of `ha status --json`
    #[argh(option)]
    pub state: Option<String>,
    /// what if node N comes up (repeatable)
    #[argh(option)]
    pub node_up: Vec<String>,
    /// what if node N goes down (repeatable)
    #[argh(option)]
    pub node_down: Vec<String>,
    /// what if node N is put in standby (repeatable)
    #[argh(option)]
    pub standby: Vec<String>,
    /// what if RSC's monitor fails on NODE, written RSC:NODE (repeatable)
    #[argh(option)]
    pub fail: Vec<String>,
    /// print each resource's per-node scores and what made them
    #[argh(switch)]
    pub scores: bool,
    /// print JSON (SPEC section 4) instead of text
    #[argh(switch)]
    pub json: bool,
}

/// Runs `ha simulate`; returns the exit code.
pub fn run(args: SimulateArgs) -> i32 {
    let _ = args;
    eprintln!("ha simulate: not written yet");
    1
}
