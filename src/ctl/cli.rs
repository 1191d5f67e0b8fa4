//! The commands that talk to a running daemon over the control socket:
//! `ha status`, `ha node`, `ha resource`, `ha fence`, `ha reload`.

use std::io::Write;

use argh::FromArgs;

use super::client::{self, resolve_socket};
use super::proto::{NodeRole, Request, Response, Status};
use super::render;

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

/// Exit code: the request failed at run time.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: a usage error (unknown verb, missing argument).
pub const EXIT_USAGE: i32 = 2;
/// Exit code: the daemon is not running or not reachable.
pub const EXIT_UNREACHABLE: i32 = 3;

/// `ha status`.
pub fn status(args: StatusArgs) -> i32 {
    let socket = resolve_socket(args.socket.as_deref(), &args.config);
    if args.watch {
        return watch(&socket, args.json);
    }
    match client::request(&socket, &Request::Status) {
        Ok(Response::Status(status)) => {
            print!("{}", show_status(&status, args.json));
            0
        }
        Ok(other) => answer(other),
        Err(e) => client_error(e),
    }
}

fn show_status(status: &Status, json: bool) -> String {
    if json {
        let mut text =
            serde_json::to_string_pretty(status).expect("the status document always serializes");
        text.push('\n');
        text
    } else {
        render::status_text(status)
    }
}

/// `ha status --watch`: asks twice a second on one connection and redraws
/// the screen only when the answer changed. Ends with Ctrl-C, or exit 3 when
/// the daemon goes away.
fn watch(socket: &std::path::Path, json: bool) -> i32 {
    let mut connection = match client::Connection::open(socket) {
        Ok(c) => c,
        Err(e) => return client_error(e),
    };
    let mut shown = String::new();
    loop {
        let text = match connection.request(&Request::Status) {
            Ok(Response::Status(status)) => show_status(&status, json),
            Ok(other) => return answer(other),
            Err(e) => return client_error(e),
        };
        if text != shown {
            // Clear the screen and home the cursor, as watch(1) does.
            print!("\x1b[H\x1b[2J{text}");
            let _ = std::io::stdout().flush();
            shown = text;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
}

/// `ha node standby|online|maintenance|ready NODE`.
pub fn node(args: NodeArgs) -> i32 {
    let role = match parse_role(&args.role) {
        Ok(role) => role,
        Err(message) => return usage(&message),
    };
    let socket = resolve_socket(args.socket.as_deref(), &args.config);
    send(
        &socket,
        &Request::NodeRole {
            node: args.node,
            role,
        },
    )
}

fn parse_role(role: &str) -> Result<NodeRole, String> {
    match role {
        "standby" => Ok(NodeRole::Standby),
        "online" => Ok(NodeRole::Online),
        "maintenance" => Ok(NodeRole::Maintenance),
        "ready" => Ok(NodeRole::Ready),
        other => Err(format!(
            "ha node: unknown role \"{other}\"\n  hint: use one of standby, online, maintenance, ready"
        )),
    }
}

/// `ha resource VERB ...`.
pub fn resource(args: ResourceArgs) -> i32 {
    let request = match resource_request(&args.verb, &args.args, args.lifetime.as_deref()) {
        Ok(request) => request,
        Err(message) => return usage(&message),
    };
    let socket = resolve_socket(args.socket.as_deref(), &args.config);
    send(&socket, &request)
}

/// Turns `ha resource VERB ARGS [--lifetime DUR]` into a request, or a
/// usage message.
pub fn resource_request(
    verb: &str,
    args: &[String],
    lifetime: Option<&str>,
) -> Result<Request, String> {
    let shape: &[&str] = match verb {
        "move" | "ban" => &["RSC", "NODE"],
        "clear" | "start" | "stop" | "restart" => &["RSC"],
        "cleanup" => &["RSC", "[NODE]"],
        "scores" => &["[RSC]"],
        other => {
            return Err(format!(
                "ha resource: unknown verb \"{other}\"\n  hint: use one of move, ban, clear, cleanup, start, stop, restart, scores"
            ));
        }
    };
    let required = shape.iter().filter(|s| !s.starts_with('[')).count();
    if args.len() < required || args.len() > shape.len() {
        return Err(format!(
            "ha resource {verb}: expected {}, got {} argument(s)\n  hint: ha resource {verb} {}",
            shape.join(" "),
            args.len(),
            shape.join(" ")
        ));
    }
    if lifetime.is_some() && verb != "move" {
        return Err(format!(
            "ha resource {verb}: --lifetime applies to move only"
        ));
    }
    let arg = |i: usize| args.get(i).cloned();
    let first = || args[0].clone();
    Ok(match verb {
        "move" => Request::Move {
            resource: first(),
            node: args[1].clone(),
            lifetime_ms: lifetime
                .map(parse_duration_ms)
                .transpose()
                .map_err(|e| format!("ha resource move: --lifetime: {e}"))?,
        },
        "ban" => Request::Ban {
            resource: first(),
            node: args[1].clone(),
        },
        "clear" => Request::Clear { resource: first() },
        "cleanup" => Request::Cleanup {
            resource: first(),
            node: arg(1),
        },
        "start" => Request::TargetRole {
            resource: first(),
            started: true,
        },
        "stop" => Request::TargetRole {
            resource: first(),
            started: false,
        },
        "restart" => Request::Restart { resource: first() },
        _ => Request::Scores { resource: arg(0) },
    })
}

/// Parses a duration the way ha.toml spells them ("500ms", "30s",
/// "10min", "1h") into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let hint = "write a number with a unit: ms, s, min or h, e.g. \"10min\"";
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    if number.is_empty() {
        return Err(format!("\"{text}\" is not a duration; {hint}"));
    }
    let factor = match unit {
        "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        "" => return Err(format!("\"{text}\" has no unit; {hint}")),
        other => return Err(format!("unknown unit \"{other}\" in \"{text}\"; {hint}")),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("\"{text}\" is too long a duration"))
}

/// `ha fence NODE`.
pub fn fence(args: FenceArgs) -> i32 {
    let socket = resolve_socket(args.socket.as_deref(), &args.config);
    send(&socket, &Request::Fence { node: args.node })
}

/// `ha reload`.
pub fn reload(args: ReloadArgs) -> i32 {
    let socket = resolve_socket(args.socket.as_deref(), &args.config);
    send(&socket, &Request::Reload)
}

/// Sends one request and prints the answer; returns the exit code.
fn send(socket: &std::path::Path, request: &Request) -> i32 {
    match client::request(socket, request) {
        Ok(response) => answer(response),
        Err(e) => client_error(e),
    }
}

/// Prints a response; exit 1 for `Response::Error`.
fn answer(response: Response) -> i32 {
    match response {
        Response::Ok { message } => {
            println!("{message}");
            0
        }
        Response::Status(status) => {
            print!("{}", render::status_text(&status));
            0
        }
        Response::Scores { text } => {
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
            0
        }
        Response::Error { message } => {
            eprintln!("ha: {message}");
            EXIT_FAILED
        }
    }
}

fn client_error(error: client::ClientError) -> i32 {
    eprintln!("{}", error.message());
    match error {
        client::ClientError::Unreachable { .. } => EXIT_UNREACHABLE,
        client::ClientError::Protocol { .. } => EXIT_FAILED,
    }
}

fn usage(message: &str) -> i32 {
    eprintln!("{message}");
    EXIT_USAGE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn durations_parse_like_the_config() {
        assert_eq!(parse_duration_ms("10min"), Ok(600_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms("2s"), Ok(2000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert!(parse_duration_ms("10").unwrap_err().contains("has no unit"));
        assert!(
            parse_duration_ms("10 days")
                .unwrap_err()
                .contains("unknown unit \" days\"")
        );
        assert!(
            parse_duration_ms("min")
                .unwrap_err()
                .contains("is not a duration")
        );
        assert!(
            parse_duration_ms("99999999999999999999h")
                .unwrap_err()
                .contains("too long")
        );
    }

    #[test]
    fn resource_verbs_become_requests() {
        // Goal: each verb maps to its request; wrong shapes are usage errors.
        assert_eq!(
            resource_request("move", &strings(&["web", "n2"]), Some("10min")),
            Ok(Request::Move {
                resource: "web".into(),
                node: "n2".into(),
                lifetime_ms: Some(600_000)
            })
        );
        assert_eq!(
            resource_request("cleanup", &strings(&["web"]), None),
            Ok(Request::Cleanup {
                resource: "web".into(),
                node: None
            })
        );
        assert_eq!(
            resource_request("stop", &strings(&["web"]), None),
            Ok(Request::TargetRole {
                resource: "web".into(),
                started: false
            })
        );
        assert_eq!(
            resource_request("scores", &[], None),
            Ok(Request::Scores { resource: None })
        );
        assert!(
            resource_request("mvoe", &strings(&["web"]), None)
                .unwrap_err()
                .contains("unknown verb \"mvoe\"")
        );
        let missing = resource_request("ban", &strings(&["web"]), None).unwrap_err();
        assert!(
            missing.contains("expected RSC NODE, got 1 argument(s)"),
            "{missing}"
        );
        assert!(resource_request("clear", &strings(&["a", "b"]), None).is_err());
        assert!(
            resource_request("ban", &strings(&["a", "b"]), Some("1h"))
                .unwrap_err()
                .contains("move only")
        );
        assert!(
            resource_request("move", &strings(&["a", "b"]), Some("10"))
                .unwrap_err()
                .contains("--lifetime")
        );
    }

    #[test]
    fn node_roles_parse() {
        assert_eq!(parse_role("standby"), Ok(NodeRole::Standby));
        assert_eq!(parse_role("ready"), Ok(NodeRole::Ready));
        assert!(
            parse_role("offline")
                .unwrap_err()
                .contains("unknown role \"offline\"")
        );
    }
}
