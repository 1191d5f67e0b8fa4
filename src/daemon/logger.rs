//! The daemon's `log` backend: stderr, syslog (`/dev/log`) or a file, as
//! `cluster.log` says.
//!
//! Lines follow STYLE.md section 6 and get the wall-clock time in UTC and the
//! local node's name, e.g.
//! `2026-11-25T13:02:11.204Z ha[n1] warn: peer down: node=n2 ...`.
//! syslog lines carry no time of their own: the syslog daemon adds it.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LogTarget;

enum Sink {
    Stderr,
    File(std::fs::File),
    Syslog(UnixDatagram),
}

struct Logger {
    node: String,
    sink: Mutex<Sink>,
}

/// Installs the logger. Returns a warning to log once it is up, when the
/// requested target could not be opened and stderr is used instead.
pub fn init(target: &LogTarget, level: log::LevelFilter, node: &str) -> Option<String> {
    let mut warning = None;
    let sink = match target {
        LogTarget::Stderr => Sink::Stderr,
        LogTarget::File(path) => {
            match OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o640)
                .open(path)
            {
                Ok(file) => Sink::File(file),
                Err(e) => {
                    warning = Some(format!(
                        "log: cannot open {}: {e}; logging to stderr",
                        path.display()
                    ));
                    Sink::Stderr
                }
            }
        }
        LogTarget::Syslog => {
            match UnixDatagram::unbound().and_then(|s| s.connect("/dev/log").map(|_| s)) {
                Ok(socket) => Sink::Syslog(socket),
                Err(e) => {
                    warning = Some(format!(
                        "log: cannot reach syslog at /dev/log: {e}; logging to stderr"
                    ));
                    Sink::Stderr
                }
            }
        }
    };
    let logger = Logger {
        node: node.to_string(),
        sink: Mutex::new(sink),
    };
    // A second init (only possible in tests) keeps the first logger.
    if log::set_boxed_logger(Box::new(logger)).is_ok() {
        log::set_max_level(level);
    }
    warning
}

impl log::Log for Logger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = record.level().as_str().to_ascii_lowercase();
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *sink {
            Sink::Stderr => {
                let line = format!(
                    "{} ha[{}] {}: {}\n",
                    utc_now(),
                    self.node,
                    level,
                    record.args()
                );
                let _ = std::io::stderr().write_all(line.as_bytes());
            }
            Sink::File(file) => {
                let line = format!(
                    "{} ha[{}] {}: {}\n",
                    utc_now(),
                    self.node,
                    level,
                    record.args()
                );
                let _ = file.write_all(line.as_bytes());
            }
            Sink::Syslog(socket) => {
                // Facility daemon (3); RFC 3164 severities.
                let severity = match record.level() {
                    log::Level::Error => 3,
                    log::Level::Warn => 4,
                    log::Level::Info => 6,
                    log::Level::Debug | log::Level::Trace => 7,
                };
                let line = format!(
                    "<{}>ha[{}]: {}: {}",
                    3 * 8 + severity,
                    std::process::id(),
                    self.node,
                    record.args()
                );
                if socket.send(line.as_bytes()).is_err() {
                    let _ = writeln!(
                        std::io::stderr(),
                        "{} ha[{}] {}: {}",
                        utc_now(),
                        self.node,
                        level,
                        record.args()
                    );
                }
            }
        }
    }

    fn flush(&self) {
        let mut sink = self.sink.lock().unwrap_or_else(|e| e.into_inner());
        if let Sink::File(file) = &mut *sink {
            let _ = file.flush();
        }
    }
}

/// The current UTC time as RFC 3339 with milliseconds.
pub fn utc_now() -> String {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format_utc(since.as_millis() as u64)
}

/// Formats milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (year, month, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's
/// well-known algorithm, written out here).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_through(sink: Sink, level: log::Level, message: &str) {
        use log::Log;
        log::set_max_level(log::LevelFilter::Trace);
        let logger = Logger {
            node: "n1".to_string(),
            sink: Mutex::new(sink),
        };
        logger.log(
            &log::Record::builder()
                .level(level)
                .args(format_args!("{message}"))
                .build(),
        );
        logger.flush();
    }

    #[test]
    fn syslog_lines_carry_priority_pid_and_node() {
        // Goal: a syslog datagram is `<facility*8+severity>ha[pid]: node: msg`
        // (facility daemon), read back from a socket standing in for /dev/log.
        let path = std::env::temp_dir().join(format!("ha-log-test-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let server = UnixDatagram::bind(&path).unwrap();
        let client = UnixDatagram::unbound().unwrap();
        client.connect(&path).unwrap();
        record_through(Sink::Syslog(client), log::Level::Warn, "peer down: node=n2");
        let mut buffer = [0u8; 256];
        let n = server.recv(&mut buffer).unwrap();
        let line = String::from_utf8_lossy(&buffer[..n]).into_owned();
        assert_eq!(
            line,
            format!("<28>ha[{}]: n1: peer down: node=n2", std::process::id())
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn file_lines_carry_time_node_and_level() {
        let path = std::env::temp_dir().join(format!("ha-log-test-{}.log", std::process::id()));
        let _ = std::fs::remove_file(&path);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .open(&path)
            .unwrap();
        record_through(
            Sink::File(file),
            log::Level::Info,
            "dc: n1 -> n2 reason=election",
        );
        let text = std::fs::read_to_string(&path).unwrap();
        // 2026-11-25T13:02:11.204Z ha[n1] info: dc: ...
        assert_eq!(
            text.len(),
            24 + " ha[n1] info: dc: n1 -> n2 reason=election\n".len(),
            "{text}"
        );
        assert!(
            text[..24].ends_with('Z') && text.as_bytes()[10] == b'T',
            "{text}"
        );
        assert!(
            text.ends_with(" ha[n1] info: dc: n1 -> n2 reason=election\n"),
            "{text}"
        );
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn utc_formatting_matches_known_dates() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
        // 2026-11-25T12:00:00Z, a date from SPEC section 3.
        assert_eq!(
            format_utc(1_795_608_000_000 + 7),
            "2026-11-25T12:00:00.007Z"
        );
        // A leap day.
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
