//! The client end of the control socket: which socket to use, and one
//! request/response exchange over it (blocking; the CLI needs no runtime).

use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

use super::proto::{Request, Response};

/// The socket used when neither `-s` nor a readable config names one.
pub const DEFAULT_SOCKET: &str = "/run/ha.sock";

/// The socket to talk to (SPEC section 1): `-s` if given, else
/// `cluster.socket` of the config file, else `/run/ha.sock`.
///
/// Only `cluster.socket` is read from the config, as plain TOML: `ha
/// status` must still find the daemon while the file on disk has an
/// unrelated mistake (the daemon keeps running the old config then).
pub fn resolve_socket(socket: Option<&str>, config_path: &str) -> PathBuf {
    if let Some(socket) = socket {
        return PathBuf::from(socket);
    }
    std::fs::read_to_string(config_path)
        .ok()
        .and_then(|text| socket_from_config_text(&text))
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// `cluster.socket` of a config text, if it has one.
fn socket_from_config_text(text: &str) -> Option<PathBuf> {
    let table: toml::Table = text.parse().ok()?;
    let socket = table.get("cluster")?.get("socket")?.as_str()?;
    Some(PathBuf::from(socket))
}

/// Why the daemon could not be asked.
#[derive(Debug)]
pub enum ClientError {
    /// No daemon answered at the socket (exit code 3).
    Unreachable { socket: PathBuf, reason: String },
    /// The daemon answered something that is not a response.
    Protocol { socket: PathBuf, reason: String },
}

impl ClientError {
    /// The message for stderr, with a hint.
    pub fn message(&self) -> String {
        match self {
            ClientError::Unreachable { socket, reason } => format!(
                "ha: cannot reach the daemon at {}: {reason}\n  hint: is `ha run` running? pass the socket with -s SOCKET, \
                 or the config that names it (cluster.socket) with -c FILE",
                socket.display()
            ),
            ClientError::Protocol { socket, reason } => {
                format!(
                    "ha: the daemon at {} answered something unexpected: {reason}",
                    socket.display()
                )
            }
        }
    }
}

/// Explains a connect error in the terms of the control socket.
fn unreachable_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such socket".to_string(),
        io::ErrorKind::ConnectionRefused => {
            "connection refused (a stale socket: the daemon is not running)".to_string()
        }
        io::ErrorKind::PermissionDenied => {
            "permission denied (the socket is for root and its group; use sudo or join the group)"
                .to_string()
        }
        _ => e.to_string(),
    }
}

/// A connection to the daemon; several requests may share it (`--watch`).
pub struct Connection {
    socket: PathBuf,
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Connection {
    pub fn open(socket: &Path) -> Result<Connection, ClientError> {
        let unreachable = |e: io::Error| ClientError::Unreachable {
            socket: socket.to_path_buf(),
            reason: unreachable_reason(&e),
        };
        let stream = UnixStream::connect(socket).map_err(unreachable)?;
        // A daemon that accepts but never answers is as good as absent;
        // fencing and reload answer well within this.
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .map_err(unreachable)?;
        let writer = stream.try_clone().map_err(unreachable)?;
        Ok(Connection {
            socket: socket.to_path_buf(),
            reader: BufReader::new(stream),
            writer,
        })
    }

    pub fn request(&mut self, request: &Request) -> Result<Response, ClientError> {
        let unreachable = |e: io::Error| ClientError::Unreachable {
            socket: self.socket.clone(),
            reason: format!("the connection failed: {e}"),
        };
        let mut line = serde_json::to_string(request).expect("requests always serialize");
        line.push('\n');
        self.writer
            .write_all(line.as_bytes())
            .map_err(unreachable)?;
        let mut answer = String::new();
        let n = self.reader.read_line(&mut answer).map_err(unreachable)?;
        if n == 0 {
            return Err(ClientError::Unreachable {
                socket: self.socket.clone(),
                reason: "the daemon closed the connection without answering".to_string(),
            });
        }
        serde_json::from_str(answer.trim()).map_err(|e| ClientError::Protocol {
            socket: self.socket.clone(),
            reason: e.to_string(),
        })
    }
}

/// One request on a fresh connection.
pub fn request(socket: &Path, request: &Request) -> Result<Response, ClientError> {
    Connection::open(socket)?.request(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_comes_from_flag_then_config_then_default() {
        // Goal: SPEC section 1's order; an unreadable or socket-less config
        // falls back to /run/ha.sock, a broken-elsewhere config still works.
        let dir = std::env::temp_dir().join(format!("ha-client-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let with = dir.join("with.toml");
        std::fs::write(
            &with,
            "[cluster]\nname = \"web\"\nsocket = \"/tmp/web.sock\"\n[heartbeat]\nintervall = 1\n",
        )
        .unwrap();
        let without = dir.join("without.toml");
        std::fs::write(&without, "[cluster]\nname = \"web\"\n").unwrap();
        let garbage = dir.join("garbage.toml");
        std::fs::write(&garbage, "[cluster\n").unwrap();

        assert_eq!(
            resolve_socket(Some("/x.sock"), with.to_str().unwrap()),
            PathBuf::from("/x.sock")
        );
        assert_eq!(
            resolve_socket(None, with.to_str().unwrap()),
            PathBuf::from("/tmp/web.sock")
        );
        assert_eq!(
            resolve_socket(None, without.to_str().unwrap()),
            PathBuf::from(DEFAULT_SOCKET)
        );
        assert_eq!(
            resolve_socket(None, garbage.to_str().unwrap()),
            PathBuf::from(DEFAULT_SOCKET)
        );
        assert_eq!(
            resolve_socket(None, "/nonexistent/ha.toml"),
            PathBuf::from(DEFAULT_SOCKET)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unreachable_message_names_the_socket_and_hints() {
        let err = request(Path::new("/nonexistent/ha.sock"), &Request::Status).unwrap_err();
        let text = err.message();
        assert!(
            text.starts_with("ha: cannot reach the daemon at /nonexistent/ha.sock: no such socket"),
            "{text}"
        );
        assert!(text.contains("hint: is `ha run` running?"), "{text}");
    }
}
