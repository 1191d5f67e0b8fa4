//! `ha check` and `ha keygen`.

use argh::FromArgs;

/// Validate a config without running it (like crm_verify). Prints every
/// problem as FILE:LINE:COL: message, with a hint. Exit 0 when valid
/// (warnings allowed), 2 on any error.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "check")]
pub struct CheckArgs {
    /// config file (default /etc/ha.toml)
    #[argh(option, short = 'c', default = "String::from(\"/etc/ha.toml\")")]
    pub config: String,
}

/// Write a fresh 32-byte cluster key from the OS RNG, mode 0600 (like
/// corosync-keygen). Copy the same key to every node.
#[derive(FromArgs, Debug)]
#[argh(subcommand, name = "keygen")]
pub struct KeygenArgs {
    /// where to write the key (default /etc/ha.key)
    #[argh(option, short = 'o', default = "String::from(\"/etc/ha.key\")")]
    pub output: String,
    /// overwrite an existing key file
    #[argh(switch)]
    pub force: bool,
}

/// Runs `ha check`; returns the exit code.
pub fn check(args: CheckArgs) -> i32 {
    let _ = args;
    eprintln!("ha check: not written yet");
    1
}

/// Runs `ha keygen`; returns the exit code.
pub fn keygen(args: KeygenArgs) -> i32 {
    let _ = args;
    eprintln!("ha keygen: not written yet");
    1
}
