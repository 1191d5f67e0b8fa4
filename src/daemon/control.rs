//! The server end of the control socket (`cluster.socket`): a unix stream
//! socket speaking JSON lines (`ctl::proto`).
//!
//! Anyone who can connect (the socket is mode 0660: root and its group) may
//! ask read-only questions (`status`, `scores`). Requests that change the
//! cluster are accepted only from uid 0 or the daemon's own uid (who could
//! signal or ptrace the daemon anyway), checked with SO_PEERCRED. A
//! malformed or oversized line gets `Response::Error`, never a crash.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use smol::Async;
use smol::channel::{Sender, bounded};
use smol::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::Input;
use crate::ctl::proto::{Request, Response};

/// Longest request line accepted; real requests are a few hundred bytes.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Binds the control socket at `path` with mode 0660. A stale socket left by
/// a crashed daemon is removed; a live one (something answers) is an error,
/// so two daemons never fight over one socket.
pub fn bind(path: &Path) -> io::Result<Async<UnixListener>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    if std::fs::symlink_metadata(path).is_ok() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                format!("another daemon is listening on {}", path.display()),
            ));
        }
        log::info!("control socket: removing stale {}", path.display());
        std::fs::remove_file(path)?;
    }
    // The umask closes the window between bind and chmod in which others
    // could connect.
    let old = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o117));
    let bound = UnixListener::bind(path);
    rustix::process::umask(old);
    let listener = bound?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660))?;
    Async::new(listener)
}

/// True for the requests any local user in the socket's group may send.
pub fn is_read_only(request: &Request) -> bool {
    matches!(request, Request::Status | Request::Scores { .. })
}

/// Accepts connections forever, one task each.
pub async fn serve(listener: Async<UnixListener>, inputs: Sender<Input>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                smol::spawn(connection(stream, inputs.clone())).detach();
            }
            Err(e) => {
                log::warn!("control socket: accept failed: {e}");
                smol::Timer::after(std::time::Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one client: any number of request lines, one response line each.
async fn connection(stream: Async<UnixStream>, inputs: Sender<Input>) {
    let uid = rustix::net::sockopt::socket_peercred(&stream)
        .map(|c| c.uid.as_raw())
        .ok();
    let own_uid = rustix::process::geteuid().as_raw();
    let mut reader = BufReader::new(&stream);
    let mut writer = &stream;
    loop {
        let line = match read_line(&mut reader).await {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                let sent = send(
                    &mut writer,
                    &Response::Error {
                        message: e.to_string(),
                    },
                )
                .await;
                // An oversized line was read to its end: serve the next.
                if e.kind() == io::ErrorKind::InvalidData && sent.is_ok() {
                    continue;
                }
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let response = match serde_json::from_str::<Request>(line.trim()) {
            Err(e) => Response::Error {
                message: format!(
                    "malformed request: {e}; expected one JSON object per line such as {{\"request\":\"status\"}}"
                ),
            },
            Ok(request) if !is_read_only(&request) && uid != Some(0) && uid != Some(own_uid) => {
                log::warn!(
                    "control: refused {request:?} from uid={}",
                    uid.map_or("unknown".to_string(), |u| u.to_string())
                );
                Response::Error {
                    message: "permission denied: this request changes the cluster and needs root"
                        .to_string(),
                }
            }
            Ok(request) => {
                let (reply, answer) = bounded(1);
                if inputs
                    .send(Input::Control { request, reply })
                    .await
                    .is_err()
                {
                    return;
                }
                match answer.recv().await {
                    Ok(response) => response,
                    Err(_) => Response::Error {
                        message: "the daemon is shutting down".to_string(),
                    },
                }
            }
        };
        if send(&mut writer, &response).await.is_err() {
            return;
        }
    }
}

async fn send(writer: &mut &Async<UnixStream>, response: &Response) -> io::Result<()> {
    let mut line = serde_json::to_string(response).map_err(io::Error::other)?;
    line.push('\n');
    writer.write_all(line.as_bytes()).await?;
    writer.flush().await
}

/// One line without its newline; `None` at end of stream. A line longer
/// than `MAX_LINE_BYTES` is read to its end and dropped, and is an
/// `InvalidData` error: the connection goes on with the next line. (It
/// used to end the connection, so a client still writing the rest of the
/// line could fail with a broken pipe instead of reading the reply.)
async fn read_line<R: AsyncBufReadExt + Unpin>(reader: &mut R) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut too_long = false;
    let too_long_error = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("request line longer than {MAX_LINE_BYTES} bytes"),
        )
    };
    loop {
        let chunk = reader.fill_buf().await?;
        if chunk.is_empty() {
            if too_long {
                return Err(too_long_error());
            }
            return Ok(if line.is_empty() {
                None
            } else {
                Some(String::from_utf8_lossy(&line).into_owned())
            });
        }
        if let Some(end) = chunk.iter().position(|&b| b == b'\n') {
            if !too_long {
                line.extend_from_slice(&chunk[..end]);
            }
            reader.consume(end + 1);
            if too_long || line.len() > MAX_LINE_BYTES {
                return Err(too_long_error());
            }
            return Ok(Some(String::from_utf8_lossy(&line).into_owned()));
        }
        let n = chunk.len();
        if !too_long {
            line.extend_from_slice(chunk);
        }
        reader.consume(n);
        if line.len() > MAX_LINE_BYTES {
            // Keep reading to the newline, holding nothing.
            too_long = true;
            line = Vec::new();
        }
    }
}
