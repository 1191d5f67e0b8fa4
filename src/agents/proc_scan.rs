//! Reading the kernel's view of mounts and processes from /proc: the mount
//! table (`mountinfo`) and which processes hold a file system busy.
//!
//! Input: /proc. Output: parsed entries and `Holder`s. It never changes
//! anything; the filesystem agent decides whom to signal.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// One line of /proc/PID/mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountEntry {
    /// Device number of the mounted file system (st_dev of its files).
    pub major: u32,
    pub minor: u32,
    /// The mount point, unescaped.
    pub mount_point: String,
    pub fstype: String,
    /// The mount source as mount(2) got it (device path, "server:/export", ...).
    pub source: String,
    /// Per-mount options (ro/rw, nosuid, noatime, ...).
    pub options: String,
}

/// The mount table of the calling thread's mount namespace.
///
/// /proc/thread-self (not /proc/self, which is the thread-group leader)
/// because a thread may have its own mount namespace after
/// unshare(CLONE_NEWNS); the daemon and the tests both rely on that.
pub fn mountinfo_entries() -> std::io::Result<Vec<MountEntry>> {
    Ok(parse_mountinfo(&fs::read_to_string(
        "/proc/thread-self/mountinfo",
    )?))
}

/// Parse mountinfo text (proc(5)): `ID PARENT MAJ:MIN ROOT MOUNTPOINT
/// OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS`. Lines that do not
/// parse are skipped: the kernel writes this file, so that never happens.
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines().filter_map(parse_mountinfo_line).collect()
}

fn parse_mountinfo_line(line: &str) -> Option<MountEntry> {
    let fields: Vec<&str> = line.split(' ').collect();
    let (major, minor) = fields.get(2)?.split_once(':')?;
    let mount_point = unescape(fields.get(4)?);
    let options = fields.get(5)?.to_string();
    let dash = fields.iter().skip(6).position(|f| *f == "-")? + 6;
    Some(MountEntry {
        major: major.parse().ok()?,
        minor: minor.parse().ok()?,
        mount_point,
        options,
        fstype: fields.get(dash + 1)?.to_string(),
        source: unescape(fields.get(dash + 2)?),
    })
}

/// mountinfo escapes space, tab, newline and backslash as \ooo octal.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\'
            && i + 3 < bytes.len()
            && bytes[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let value =
                (bytes[i + 1] - b'0') * 64 + (bytes[i + 2] - b'0') * 8 + (bytes[i + 3] - b'0');
            out.push(value);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A process that keeps a file system busy, and how.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Holder {
    pub pid: i32,
    pub command: String,
    /// "cwd", "root", "fd 3 -> /mnt/x/log" or "mmap /mnt/x/lib.so".
    pub how: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} ({}) {}", self.pid, self.command, self.how)
    }
}

/// How to decide that a file belongs to the file system.
#[derive(Clone, Copy, Debug)]
pub enum Match<'a> {
    /// By device number, as `fuser -m` does: also finds files opened through
    /// another path or in another mount namespace. Needs stat(2) of every
    /// open file, which can hang on a dead network file system.
    Device {
        major: u32,
        minor: u32,
        mount_point: &'a str,
    },
    /// By path prefix of the link targets only (readlink never blocks on
    /// the file system): Filesystem's force_unmount=safe.
    Path { mount_point: &'a str },
}

impl Match<'_> {
    fn mount_point(&self) -> &str {
        match self {
            Match::Device { mount_point, .. } | Match::Path { mount_point } => mount_point,
        }
    }

    fn under(&self, target: &str) -> bool {
        let mp = self.mount_point();
        let target = target.strip_suffix(" (deleted)").unwrap_or(target);
        mp == "/"
            || target == mp
            || (target.starts_with(mp) && target.as_bytes().get(mp.len()) == Some(&b'/'))
    }

    /// Does the /proc magic link `link` (cwd, root, fd/N) point into the file system?
    fn link_matches(&self, link: &Path) -> Option<String> {
        let target = fs::read_link(link).ok()?;
        let target = target.to_string_lossy().into_owned();
        let hit = match self {
            Match::Device { major, minor, .. } => match fs::metadata(link) {
                Ok(meta) => {
                    let dev = meta.dev();
                    rustix::fs::major(dev) == *major && rustix::fs::minor(dev) == *minor
                }
                Err(_) => self.under(&target),
            },
            Match::Path { .. } => self.under(&target),
        };
        hit.then_some(target)
    }

    /// Does a /proc/PID/maps line map a file of the file system?
    fn map_matches(&self, line: &str) -> Option<String> {
        let mut fields = line.split_whitespace();
        let (_range, _perms, _offset) = (fields.next()?, fields.next()?, fields.next()?);
        let dev = fields.next()?;
        let inode = fields.next()?;
        let path: Vec<&str> = fields.collect();
        let path = path.join(" ");
        if inode == "0" {
            return None; // anonymous memory, heap, stack
        }
        let hit = match self {
            Match::Device { major, minor, .. } => {
                let (ma, mi) = dev.split_once(':')?;
                u32::from_str_radix(ma, 16).ok()? == *major
                    && u32::from_str_radix(mi, 16).ok()? == *minor
            }
            Match::Path { .. } => self.under(&path),
        };
        hit.then_some(path)
    }
}

/// Every process (but this one) whose cwd, root, open files or file
/// mappings are on the file system. Zombies hold nothing and are skipped.
pub fn holders(by: Match<'_>) -> Vec<Holder> {
    let me = rustix::process::getpid().as_raw_nonzero().get();
    let mut out = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me || !alive(pid) {
            continue;
        }
        let base = entry.path();
        let command = fs::read_to_string(base.join("comm"))
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let mut hows = Vec::new();
        for name in ["cwd", "root"] {
            if by.link_matches(&base.join(name)).is_some() {
                hows.push(name.to_string());
            }
        }
        if let Ok(fds) = fs::read_dir(base.join("fd")) {
            for fd in fds.flatten() {
                if let Some(target) = by.link_matches(&fd.path()) {
                    hows.push(format!(
                        "fd {} -> {target}",
                        fd.file_name().to_string_lossy()
                    ));
                }
            }
        }
        if let Ok(maps) = fs::read_to_string(base.join("maps")) {
            let mut seen = Vec::new();
            for line in maps.lines() {
                if let Some(path) = by.map_matches(line)
                    && !seen.contains(&path)
                {
                    hows.push(format!("mmap {path}"));
                    seen.push(path);
                }
            }
        }
        if !hows.is_empty() {
            out.push(Holder {
                pid,
                command,
                how: hows.join(", "),
            });
        }
    }
    out
}

/// Is `pid` a live (not zombie, not gone) process?
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command, which is in parentheses and may
        // itself contain ") ", so look after the last ')'.
        Ok(stat) => match stat.rfind(')') {
            Some(end) => !matches!(
                stat[end + 1..].trim_start().chars().next(),
                Some('Z') | Some('X')
            ),
            None => true,
        },
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: mountinfo lines parse, with optional fields, and escaped spaces
    // in mount points come back as spaces.
    #[test]
    fn mountinfo_lines() {
        let text = "36 35 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n\
                    40 36 7:3 / /srv/data rw,relatime - ext4 /dev/loop3 rw\n";
        let entries = parse_mountinfo(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].mount_point, "/mnt/with space");
        assert_eq!((entries[0].major, entries[0].minor), (98, 0));
        assert_eq!(entries[0].fstype, "ext3");
        assert_eq!(entries[1].source, "/dev/loop3");
        assert_eq!(entries[1].options, "rw,relatime");
    }

    // Goal: "under the mount point" means the mount point or below it,
    // never a sibling with the same prefix.
    #[test]
    fn path_prefix_is_component_wise() {
        let m = Match::Path {
            mount_point: "/srv/data",
        };
        assert!(m.under("/srv/data"));
        assert!(m.under("/srv/data/x/y"));
        assert!(m.under("/srv/data/gone (deleted)"));
        assert!(!m.under("/srv/database"));
        let line = "7f00-7f01 r-xp 00000000 07:03 1234 /srv/data/lib.so";
        assert_eq!(m.map_matches(line).as_deref(), Some("/srv/data/lib.so"));
        let d = Match::Device {
            major: 7,
            minor: 3,
            mount_point: "/elsewhere",
        };
        assert!(d.map_matches(line).is_some());
        assert!(
            d.map_matches("7f00-7f01 rw-p 00000000 00:00 0 [heap]")
                .is_none()
        );
    }

    // Goal: this process is alive and a made-up pid is not.
    #[test]
    fn alive_checks_proc() {
        assert!(alive(rustix::process::getpid().as_raw_nonzero().get()));
        assert!(!alive(i32::MAX));
    }
}
