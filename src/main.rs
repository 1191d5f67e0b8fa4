//! The `ha` command line: parses arguments with argh and hands each command to
//! the module that owns it. Exit codes (SPEC section 1): 0 success, 1 the
//! request failed at run time, 2 usage or config error, 3 daemon unreachable.

use argh::FromArgs;
use ha::{agents, config, ctl, daemon, policy};

/// ha: a high-availability cluster in one binary. Heartbeat, membership,
/// quorum, placement, resource management and fencing for two or more
/// appliances, configured by /etc/ha.toml.
#[derive(FromArgs, Debug)]
struct Ha {
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs, Debug)]
#[argh(subcommand)]
enum Command {
    Run(daemon::RunArgs),
    Status(ctl::cli::StatusArgs),
    Check(config::cli::CheckArgs),
    Keygen(config::cli::KeygenArgs),
    Simulate(policy::simulate::SimulateArgs),
    Node(ctl::cli::NodeArgs),
    Resource(ctl::cli::ResourceArgs),
    Agents(agents::AgentsArgs),
    Fence(ctl::cli::FenceArgs),
    Reload(ctl::cli::ReloadArgs),
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let strs: Vec<&str> = args.iter().map(String::as_str).collect();
    let name = strs
        .first()
        .map(|s| s.rsplit('/').next().unwrap_or(s))
        .unwrap_or("ha");
    let ha = match Ha::from_args(&[name], strs.get(1..).unwrap_or(&[])) {
        Ok(ha) => ha,
        Err(early) => {
            // --help prints to stdout and succeeds; a usage error exits 2.
            if early.status.is_ok() {
                print!("{}", early.output);
                std::process::exit(0);
            }
            eprint!("{}", early.output);
            std::process::exit(2);
        }
    };
    let code = match ha.command {
        Command::Run(a) => daemon::run(a),
        Command::Status(a) => ctl::cli::status(a),
        Command::Check(a) => config::cli::check(a),
        Command::Keygen(a) => config::cli::keygen(a),
        Command::Simulate(a) => {
            // The policy engine does no I/O: the state file and the wall
            // clock (for failure_timeout) are handed to it from here.
            let read = |path: &str| std::fs::read_to_string(path).map_err(|e| e.to_string());
            let now_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            policy::simulate::run(a, &read, now_ms)
        }
        Command::Node(a) => ctl::cli::node(a),
        Command::Resource(a) => ctl::cli::resource(a),
        Command::Agents(a) => agents::run(a),
        Command::Fence(a) => ctl::cli::fence(a),
        Command::Reload(a) => ctl::cli::reload(a),
    };
    std::process::exit(code);
}
