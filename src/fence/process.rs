//! Running a fence program (ipmitool, a fence agent) or an external
//! resource agent (OCF script, LSB init script) with a deadline.
//!
//! Input: a program, its arguments, optional bytes for its stdin, and the
//! instant by which it must have finished. Output: its exit code and what
//! it printed, or `Deadline` after the whole process group was killed.
//! The child gets a process group of its own so that a fence agent's own
//! children (a fence agent often runs ipmitool or ssh) die with it; nothing
//! outlives a timed-out attempt.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What a program printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Debug)]
pub enum RunError {
    /// The program could not be started.
    Spawn(std::io::Error),
    /// It was still running at the deadline and was killed.
    Deadline,
}

/// Output kept per stream: enough for a status line or an error message.
const OUTPUT_MAX: usize = 64 * 1024;

/// How long a program that is being written (ETXTBSY) is waited for.
const BUSY_WAIT: Duration = Duration::from_secs(1);

/// Spawns `command`, waiting a little while its program is busy
/// (ETXTBSY): someone still holds it open for writing, such as a package
/// upgrade replacing an agent, or, in a process that writes a script and
/// then runs it, another thread's child between fork and exec that
/// inherited the write descriptor. Both pass within milliseconds, so the
/// op should not fail for them.
fn spawn(command: &mut Command, deadline: Instant) -> std::io::Result<std::process::Child> {
    let give_up = deadline.min(Instant::now() + BUSY_WAIT);
    loop {
        match command.spawn() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                if Instant::now() >= give_up {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

/// Runs `program` with `args` and, besides the inherited environment,
/// `env`; writes `stdin` (then closes it), and waits until it exits or
/// `deadline` passes.
pub fn run(
    program: &Path,
    args: &[&OsStr],
    env: &[(String, String)],
    stdin: Option<&[u8]>,
    deadline: Instant,
) -> Result<Finished, RunError> {
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        // A pipe even when there is nothing to say: a minimal root may
        // have no /dev/null, and an empty, closed stdin reads as EOF.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = spawn(&mut command, deadline).map_err(RunError::Spawn)?;
    let group = child.id() as i32;
    if let Some(mut pipe) = child.stdin.take() {
        // A few hundred bytes fit the pipe buffer, so this cannot block; a
        // program that exits without reading gives EPIPE, which is its
        // business (its exit code says what happened). Dropping the pipe
        // closes it.
        let _ = pipe.write_all(stdin.unwrap_or_default());
    }
    let (tx, rx) = mpsc::channel::<(bool, Vec<u8>)>();
    for (is_err, stream) in [
        (
            false,
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
        (
            true,
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn Read + Send>),
        ),
    ] {
        let Some(mut stream) = stream else { continue };
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if out.len() < OUTPUT_MAX {
                    out.extend_from_slice(&buf[..n.min(OUTPUT_MAX - out.len())]);
                }
            }
            let _ = tx.send((is_err, out));
        });
    }
    drop(tx);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) => {}
            Err(e) => {
                kill_group(group);
                let _ = child.wait();
                return Err(RunError::Spawn(e));
            }
        }
        if Instant::now() >= deadline {
            kill_group(group);
            let _ = child.wait();
            return Err(RunError::Deadline);
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Anything the program left behind in its group goes too, so the
    // output pipes close and nothing keeps running after a fence attempt.
    kill_group(group);
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    // Readers end once every writer of the pipe is gone; a grandchild that
    // left the group could hold it open, so wait at most a moment.
    let limit = Instant::now() + Duration::from_millis(500);
    for _ in 0..2 {
        let left = limit.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((false, bytes)) => stdout = bytes,
            Ok((true, bytes)) => stderr = bytes,
            Err(_) => break,
        }
    }
    Ok(Finished {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    })
}

fn kill_group(group: i32) {
    if let Some(pid) = rustix::process::Pid::from_raw(group) {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
}

/// Finds a program: an absolute path as is, a bare name in `PATH`, then in
/// /usr/sbin and /sbin (where fence-agents and ipmitool are installed, and
/// which a service's PATH may lack).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let is_file = |p: &Path| p.metadata().map(|m| m.is_file()).unwrap_or(false);
    if name.contains('/') {
        let p = PathBuf::from(name);
        return is_file(&p).then_some(p);
    }
    let path = std::env::var("PATH")
        .unwrap_or_else(|_| String::from("/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"));
    path.split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| is_file(p))
}

/// The last non-empty line of `text`, shortened: the part of a program's
/// output worth putting into a log line or `ha status`.
pub fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    let mut short: String = line.chars().take(200).collect();
    if short.len() < line.len() {
        short.push_str("...");
    }
    short
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: exit codes, output, stdin and extra environment pass through,
    // and a program that overruns its deadline is killed together with its
    // children.
    #[test]
    fn runs_programs_and_kills_overruns() {
        let sh = find_program("sh").expect("sh");
        let far = Instant::now() + Duration::from_secs(10);
        let out = run(
            &sh,
            &[
                OsStr::new("-c"),
                OsStr::new("read a; echo got=$a$HA_TEST_X; echo oops >&2; exit 3"),
            ],
            &[("HA_TEST_X".to_string(), "+x".to_string())],
            Some(b"hello\n"),
            far,
        )
        .unwrap();
        assert_eq!(out.code, Some(3));
        assert_eq!(out.stdout.trim(), "got=hello+x");
        assert_eq!(last_line(&out.stderr), "oops");

        let started = Instant::now();
        let err = run(
            &sh,
            &[OsStr::new("-c"), OsStr::new("sleep 30 & sleep 30")],
            &[],
            None,
            Instant::now() + Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(matches!(err, RunError::Deadline), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));

        let missing = run(Path::new("/nonexistent/fence_x"), &[], &[], None, far).unwrap_err();
        assert!(matches!(missing, RunError::Spawn(_)));
        assert!(find_program("no-such-program-here").is_none());
    }

    // Goal: a program still open for writing (ETXTBSY) is waited for
    // while the writer finishes, and reported when the writer never does.
    #[test]
    fn a_program_being_written_is_waited_for() {
        use std::os::unix::fs::OpenOptionsExt;
        let dir = std::env::temp_dir().join(format!("ha-busy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("agent");
        let open_for_writing = || {
            std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o755)
                .open(&script)
                .unwrap()
        };
        let mut writer = open_for_writing();
        writer.write_all(b"#!/bin/sh\nexit 4\n").unwrap();
        let far = Instant::now() + Duration::from_secs(10);
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            drop(writer);
        });
        let done = run(&script, &[], &[], None, far);
        closer.join().unwrap();
        assert_eq!(done.unwrap().code, Some(4));

        let _held = open_for_writing();
        let started = Instant::now();
        let busy = run(&script, &[], &[], None, far).unwrap_err();
        assert!(
            matches!(&busy, RunError::Spawn(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy),
            "{busy:?}"
        );
        assert!(started.elapsed() >= BUSY_WAIT && started.elapsed() < Duration::from_secs(5));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
