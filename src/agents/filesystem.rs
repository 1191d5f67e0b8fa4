//! The `filesystem` agent (ocf:heartbeat:Filesystem): a file system mounted
//! on this node.
//!
//! Input: the resource's params (`device`, `directory`, `fstype`,
//! `options`, `run_fsck`, `force_unmount`). Output: mount(2) / umount2(2)
//! calls, an optional fsck run (the host's `e2fsck` / `fsck.TYPE`, the one
//! host program this agent uses), and signals to processes that keep the
//! file system busy at stop. It reads the mount table of the calling
//! thread's mount namespace.
//!
//! It never mounts anything but the configured device on the configured
//! directory, and never signals its own process.

use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rustix::mount::{MountFlags, UnmountFlags};

use super::params::Params;
use super::proc_scan::{self, Holder, Match, MountEntry, mountinfo_entries};
use super::{Agent, AgentError, ParamInfo, failed, rc};
use crate::config::Resource;
use crate::node::Outcome;

/// The filesystem agent's parameters, as `ha agents filesystem` shows them.
pub(crate) const PARAMS: &[ParamInfo] = &[
    ParamInfo {
        name: "device",
        required: true,
        default: "",
        meaning: "block device (or UUID=..., LABEL=..., or a source such as server:/export)",
    },
    ParamInfo {
        name: "directory",
        required: true,
        default: "",
        meaning: "absolute mount point; created when missing",
    },
    ParamInfo {
        name: "fstype",
        required: true,
        default: "",
        meaning: "file system type passed to mount(2): ext4, xfs, ...",
    },
    ParamInfo {
        name: "options",
        required: false,
        default: "",
        meaning: "mount options as for mount -o; ro, noatime, nosuid, nodev, noexec, sync, ... become flags, the rest is passed to the file system",
    },
    ParamInfo {
        name: "run_fsck",
        required: false,
        default: "auto",
        meaning: "auto: fsck -p ext2/3/4 before mounting; force: for every type (fsck.TYPE); no: never",
    },
    ParamInfo {
        name: "force_unmount",
        required: false,
        default: "true",
        meaning: "at stop, TERM then KILL the processes keeping the mount busy; safe: match them by path only (no stat on the file system); false: fail the stop instead",
    },
];

/// How long stop waits for signalled processes to exit, per round.
const KILL_WAIT: Duration = Duration::from_secs(3);
/// Rounds of KILL after the first round of TERM.
const KILL_ROUNDS: usize = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fsck {
    Auto,
    Force,
    No,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ForceUnmount {
    No,
    Yes,
    Safe,
}

/// The `filesystem` agent for one resource.
pub struct Filesystem {
    id: String,
    node: String,
    device: String,
    directory: PathBuf,
    fstype: String,
    flags: MountFlags,
    data: String,
    run_fsck: Fsck,
    force_unmount: ForceUnmount,
}

impl Filesystem {
    /// Check the parameters of `resource`; `node` names the monitor's status file.
    pub fn new(resource: &Resource, node: &str) -> Result<Filesystem, AgentError> {
        let p = Params::new(&resource.id, "filesystem", &resource.params, PARAMS)?;
        let device = p.required_string("device")?.trim().to_string();
        let directory_text = p.required_string("directory")?;
        let directory = PathBuf::from(directory_text.trim());
        if !directory.is_absolute() || directory == Path::new("/") {
            return Err(p.error(
                "directory",
                format!("\"{directory_text}\" is not an absolute path below /"),
                "write the mount point as an absolute path, e.g. \"/srv/data\"",
            ));
        }
        let directory = normalize(&directory);
        let fstype = p.required_string("fstype")?.trim().to_string();
        if fstype.contains([',', ' ', '/']) {
            return Err(p.error(
                "fstype",
                format!("\"{fstype}\" is not a file system type"),
                "e.g. \"ext4\" or \"xfs\"",
            ));
        }
        let (flags, data) = split_options(&p.string("options")?.unwrap_or_default());
        let run_fsck = match p.choice("run_fsck", &["auto", "force", "no"])?.as_deref() {
            None | Some("auto") => Fsck::Auto,
            Some("force") => Fsck::Force,
            _ => Fsck::No,
        };
        let force_unmount = match p
            .choice("force_unmount", &["true", "false", "safe", "yes", "no"])?
            .as_deref()
        {
            None | Some("true") | Some("yes") => ForceUnmount::Yes,
            Some("safe") => ForceUnmount::Safe,
            _ => ForceUnmount::No,
        };
        Ok(Filesystem {
            id: resource.id.clone(),
            node: node.to_string(),
            device,
            directory,
            fstype,
            flags,
            data,
            run_fsck,
            force_unmount,
        })
    }

    /// The directory with symbolic links resolved, as the mount table
    /// shows it (mount(2) resolves them; comparing with the configured path
    /// would miss a mount made through a link and mount again on top).
    fn real_dir(&self) -> String {
        std::fs::canonicalize(&self.directory)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| self.dir())
    }

    fn dir(&self) -> String {
        self.directory.to_string_lossy().into_owned()
    }

    /// The device path, with UUID=/LABEL= resolved through /dev/disk.
    fn device_path(&self) -> PathBuf {
        if let Some(uuid) = self.device.strip_prefix("UUID=") {
            return Path::new("/dev/disk/by-uuid").join(uuid);
        }
        if let Some(label) = self.device.strip_prefix("LABEL=") {
            return Path::new("/dev/disk/by-label").join(label);
        }
        PathBuf::from(&self.device)
    }

    /// The block device's number, when the device is a block device.
    fn block_dev(&self) -> Option<(u32, u32)> {
        let meta = std::fs::metadata(self.device_path()).ok()?;
        meta.file_type().is_block_device().then(|| {
            (
                rustix::fs::major(meta.rdev()),
                rustix::fs::minor(meta.rdev()),
            )
        })
    }

    /// Is the device a source that names no local file (nfs, cifs, tmpfs)?
    fn is_network_or_virtual(&self) -> bool {
        !self.device.starts_with('/')
            && !self.device.starts_with("UUID=")
            && !self.device.starts_with("LABEL=")
    }

    /// The mount on our directory (the top one when stacked), if any.
    fn mounted(&self) -> Result<Option<MountEntry>, Outcome> {
        let entries = mountinfo_entries().map_err(|e| {
            failed(
                rc::ERR_GENERIC,
                format!("filesystem {}: reading the mount table: {e}", self.id),
            )
        })?;
        let dir = self.real_dir();
        Ok(entries.into_iter().rev().find(|e| e.mount_point == dir))
    }

    /// Is `entry` our device? By device number first; then by the source
    /// path with links resolved, since some file systems (btrfs) report an
    /// anonymous device number in the mount table, not the disk's.
    fn is_ours(&self, entry: &MountEntry) -> bool {
        if let Some((major, minor)) = self.block_dev()
            && entry.major == major
            && entry.minor == minor
        {
            return true;
        }
        if entry.source == self.device {
            return true;
        }
        match (
            std::fs::canonicalize(&entry.source),
            std::fs::canonicalize(self.device_path()),
        ) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }

    fn run_fsck_if_wanted(&self) -> Result<(), Outcome> {
        let ext = matches!(self.fstype.as_str(), "ext2" | "ext3" | "ext4");
        let wanted = match self.run_fsck {
            Fsck::No => false,
            Fsck::Auto => ext && !self.is_network_or_virtual(),
            Fsck::Force => true,
        };
        if !wanted {
            return Ok(());
        }
        let program = if ext {
            "e2fsck".to_string()
        } else {
            format!("fsck.{}", self.fstype)
        };
        let Some(path) = find_program(&program) else {
            return Err(failed(
                rc::ERR_INSTALLED,
                format!(
                    "filesystem {}: run_fsck needs {program}, which is not in PATH, /sbin or /usr/sbin; \
                     install it (e2fsprogs for ext2/3/4) or set run_fsck = \"no\"",
                    self.id
                ),
            ));
        };
        let device = self.device_path();
        let output = Command::new(&path)
            .arg("-p")
            .arg(&device)
            .output()
            .map_err(|e| {
                failed(
                    rc::ERR_GENERIC,
                    format!("filesystem {}: running {}: {e}", self.id, path.display()),
                )
            })?;
        // fsck exit codes: 0 clean, 1 errors corrected, 2 corrected and a
        // reboot is advised (only meaningful for the root fs); 4 and above
        // mean errors left uncorrected or fsck itself failed.
        let code = output.status.code().unwrap_or(8);
        log::info!(
            "fsck done: resource={} program={} device={} exit={code}",
            self.id,
            program,
            device.display()
        );
        if code >= 4 {
            let text = String::from_utf8_lossy(&output.stderr).trim().to_string();
            let text = if text.is_empty() {
                String::from_utf8_lossy(&output.stdout).trim().to_string()
            } else {
                text
            };
            let last: Vec<&str> = text.lines().rev().take(3).collect();
            return Err(failed(
                rc::ERR_GENERIC,
                format!(
                    "filesystem {}: {program} -p {} exited {code} (errors left uncorrected): {}; repair it by hand",
                    self.id,
                    device.display(),
                    last.into_iter().rev().collect::<Vec<_>>().join(" / ")
                ),
            ));
        }
        Ok(())
    }

    fn try_unmount(&self) -> Result<(), rustix::io::Errno> {
        match rustix::mount::unmount(&self.directory, UnmountFlags::empty()) {
            Ok(()) => Ok(()),
            // Not mounted (any more): the goal is reached.
            Err(rustix::io::Errno::INVAL) | Err(rustix::io::Errno::NOENT) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn holders(&self, entry: &MountEntry) -> Vec<Holder> {
        let dir = self.real_dir();
        let by = match self.force_unmount {
            ForceUnmount::Safe => Match::Path { mount_point: &dir },
            _ => Match::Device {
                major: entry.major,
                minor: entry.minor,
                mount_point: &dir,
            },
        };
        proc_scan::holders(by)
    }

    /// Unmount `entry`, killing the processes that keep it busy when allowed.
    fn unmount_one(&self, entry: &MountEntry) -> Result<(), Outcome> {
        match self.try_unmount() {
            Ok(()) => return Ok(()),
            Err(rustix::io::Errno::BUSY) => {}
            Err(e) => {
                return Err(failed(
                    rc::ERR_GENERIC,
                    format!("filesystem {}: umount {}: {e}", self.id, self.dir()),
                ));
            }
        }
        if self.force_unmount == ForceUnmount::No {
            let holders = self.holders(entry);
            return Err(failed(
                rc::ERR_GENERIC,
                format!(
                    "filesystem {}: umount {}: busy, held by {}; force_unmount = false, so nothing was killed \
                     (set force_unmount = true to kill them)",
                    self.id,
                    self.dir(),
                    describe(&holders)
                ),
            ));
        }
        // Round 0 asks politely (TERM); later rounds KILL, as Filesystem does.
        for round in 0..=KILL_ROUNDS {
            let holders = self.holders(entry);
            let signal = if round == 0 {
                rustix::process::Signal::TERM
            } else {
                rustix::process::Signal::KILL
            };
            for h in &holders {
                log::warn!(
                    "filesystem busy, signalling: resource={} dir={} pid={} command={} signal={signal:?} how=\"{}\"",
                    self.id,
                    self.dir(),
                    h.pid,
                    h.command,
                    h.how
                );
                if let Some(pid) = rustix::process::Pid::from_raw(h.pid) {
                    // ESRCH: it exited meanwhile, which is what we want.
                    let _ = rustix::process::kill_process(pid, signal);
                }
            }
            let begin = std::time::Instant::now();
            while holders.iter().any(|h| proc_scan::alive(h.pid)) && begin.elapsed() < KILL_WAIT {
                std::thread::sleep(Duration::from_millis(20));
            }
            match self.try_unmount() {
                Ok(()) => return Ok(()),
                Err(rustix::io::Errno::BUSY) => continue,
                Err(e) => {
                    return Err(failed(
                        rc::ERR_GENERIC,
                        format!("filesystem {}: umount {}: {e}", self.id, self.dir()),
                    ));
                }
            }
        }
        let holders = self.holders(entry);
        Err(failed(
            rc::ERR_GENERIC,
            format!(
                "filesystem {}: umount {}: still busy after TERM and {KILL_ROUNDS} rounds of KILL; held by {}",
                self.id,
                self.dir(),
                describe(&holders)
            ),
        ))
    }

    /// Depth 10: read the first block of the device, bypassing the page
    /// cache where the device allows it, so a dead disk is noticed.
    fn check_device_readable(&self) -> Result<(), Outcome> {
        if self.is_network_or_virtual() {
            return Ok(());
        }
        let path = self.device_path();
        let read = |direct: bool| -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.read(true);
            if direct {
                options.custom_flags(rustix::fs::OFlags::DIRECT.bits() as i32);
            }
            let mut file = options.open(&path)?;
            let mut buffer = AlignedBlock::new();
            let n = file.read(buffer.as_mut())?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the device is empty",
                ));
            }
            Ok(())
        };
        let result = match read(true) {
            Err(e) if e.raw_os_error() == Some(rustix::io::Errno::INVAL.raw_os_error()) => {
                read(false)
            }
            other => other,
        };
        result.map_err(|e| {
            failed(
                rc::ERR_GENERIC,
                format!(
                    "filesystem {}: device {} is not readable: {e}",
                    self.id,
                    path.display()
                ),
            )
        })
    }

    /// Depth 20: write a status file under the mount and read it back.
    fn check_status_file(&self) -> Result<(), Outcome> {
        let path = self.directory.join(format!(".ha_monitor_{}", self.node));
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let content = format!(
            "ha monitor node={} at={}.{:09}\n",
            self.node,
            stamp.as_secs(),
            stamp.subsec_nanos()
        );
        let result = (|| -> std::io::Result<String> {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .custom_flags(rustix::fs::OFlags::SYNC.bits() as i32)
                .open(&path)?;
            file.write_all(content.as_bytes())?;
            file.sync_all()?;
            drop(file);
            std::fs::read_to_string(&path)
        })();
        match result {
            Ok(back) if back == content => Ok(()),
            Ok(back) => Err(failed(
                rc::ERR_GENERIC,
                format!(
                    "filesystem {}: status file {} read back {:?}, wrote {:?}",
                    self.id,
                    path.display(),
                    back,
                    content
                ),
            )),
            Err(e) => Err(failed(
                rc::ERR_GENERIC,
                format!(
                    "filesystem {}: cannot write and read back {}: {e}",
                    self.id,
                    path.display()
                ),
            )),
        }
    }
}

impl Agent for Filesystem {
    fn start(&self) -> Outcome {
        match self.mounted() {
            Err(outcome) => return outcome,
            Ok(Some(entry)) if self.is_ours(&entry) => return Outcome::Ok,
            Ok(Some(entry)) => {
                return failed(
                    rc::ERR_GENERIC,
                    format!(
                        "filesystem {}: {} is already mounted on {}, not {}",
                        self.id,
                        entry.source,
                        self.dir(),
                        self.device
                    ),
                );
            }
            Ok(None) => {}
        }
        if !self.is_network_or_virtual() && !self.device_path().exists() {
            return failed(
                rc::ERR_INSTALLED,
                format!(
                    "filesystem {}: device {} does not exist on this node",
                    self.id,
                    self.device_path().display()
                ),
            );
        }
        if let Err(e) = std::fs::create_dir_all(&self.directory) {
            return failed(
                rc::ERR_GENERIC,
                format!(
                    "filesystem {}: creating mount point {}: {e}",
                    self.id,
                    self.dir()
                ),
            );
        }
        if let Err(outcome) = self.run_fsck_if_wanted() {
            return outcome;
        }
        let data = match CString::new(self.data.clone()) {
            Ok(d) => d,
            Err(_) => {
                return failed(
                    rc::ERR_CONFIGURED,
                    format!("filesystem {}: options contain a NUL byte", self.id),
                );
            }
        };
        let source = self.device_path();
        match rustix::mount::mount(
            &source,
            &self.directory,
            self.fstype.as_str(),
            self.flags,
            data.as_c_str(),
        ) {
            Ok(()) => {
                log::info!(
                    "filesystem mounted: resource={} device={} dir={} fstype={}",
                    self.id,
                    source.display(),
                    self.dir(),
                    self.fstype
                );
                Outcome::Ok
            }
            Err(e) => {
                let why = match e {
                    rustix::io::Errno::NODEV => format!(
                        "the kernel does not know file system type \"{}\"",
                        self.fstype
                    ),
                    rustix::io::Errno::BUSY => {
                        "the device is busy (mounted or in use elsewhere)".to_string()
                    }
                    rustix::io::Errno::INVAL => format!(
                        "invalid argument: no {} file system on the device, or an option it does not accept (options: \"{}\")",
                        self.fstype, self.data
                    ),
                    rustix::io::Errno::PERM | rustix::io::Errno::ACCESS => {
                        "permission denied (needs CAP_SYS_ADMIN)".to_string()
                    }
                    other => other.to_string(),
                };
                failed(
                    rc::ERR_GENERIC,
                    format!(
                        "filesystem {}: mount {} on {}: {why}",
                        self.id,
                        source.display(),
                        self.dir()
                    ),
                )
            }
        }
    }

    fn stop(&self) -> Outcome {
        // Only our device comes off: a foreign file system on the directory
        // is left alone (stop then succeeds when ours is not there at all).
        // Stacked mounts of our device come off one by one.
        for _ in 0..8 {
            let entries = match mountinfo_entries() {
                Ok(e) => e,
                Err(e) => {
                    return failed(
                        rc::ERR_GENERIC,
                        format!("filesystem {}: reading the mount table: {e}", self.id),
                    );
                }
            };
            let dir = self.real_dir();
            let here: Vec<&MountEntry> = entries.iter().filter(|e| e.mount_point == dir).collect();
            let Some(top) = here.last() else {
                return Outcome::Ok;
            };
            if !self.is_ours(top) {
                if here.iter().any(|e| self.is_ours(e)) {
                    return failed(
                        rc::ERR_GENERIC,
                        format!(
                            "filesystem {}: {} is mounted on {} on top of {}; unmount it first",
                            self.id,
                            top.source,
                            self.dir(),
                            self.device
                        ),
                    );
                }
                return Outcome::Ok;
            }
            if let Err(outcome) = self.unmount_one(top) {
                return outcome;
            }
            log::info!(
                "filesystem unmounted: resource={} dir={}",
                self.id,
                self.dir()
            );
        }
        failed(
            rc::ERR_GENERIC,
            format!(
                "filesystem {}: {} is still mounted after 8 unmounts",
                self.id,
                self.dir()
            ),
        )
    }

    fn monitor(&self, depth: u32) -> Outcome {
        match self.mounted() {
            Err(outcome) => return outcome,
            Ok(None) => return Outcome::NotRunning,
            Ok(Some(entry)) if !self.is_ours(&entry) => {
                return failed(
                    rc::ERR_GENERIC,
                    format!(
                        "filesystem {}: {} is mounted on {} instead of {}",
                        self.id,
                        entry.source,
                        self.dir(),
                        self.device
                    ),
                );
            }
            Ok(Some(_)) => {}
        }
        if depth >= 10
            && let Err(outcome) = self.check_device_readable()
        {
            return outcome;
        }
        if depth >= 20
            && let Err(outcome) = self.check_status_file()
        {
            return outcome;
        }
        Outcome::Ok
    }

    fn validate(&self) -> Outcome {
        if !self.is_network_or_virtual() && !self.device_path().exists() {
            return failed(
                rc::ERR_INSTALLED,
                format!(
                    "filesystem {}: device {} does not exist on this node",
                    self.id,
                    self.device_path().display()
                ),
            );
        }
        if self.directory.exists() && !self.directory.is_dir() {
            return failed(
                rc::ERR_CONFIGURED,
                format!(
                    "filesystem {}: {} exists and is not a directory",
                    self.id,
                    self.dir()
                ),
            );
        }
        let ext = matches!(self.fstype.as_str(), "ext2" | "ext3" | "ext4");
        let needs_fsck = match self.run_fsck {
            Fsck::No => None,
            Fsck::Auto if ext && !self.is_network_or_virtual() => Some("e2fsck".to_string()),
            Fsck::Auto => None,
            Fsck::Force if ext => Some("e2fsck".to_string()),
            Fsck::Force => Some(format!("fsck.{}", self.fstype)),
        };
        if let Some(program) = needs_fsck
            && find_program(&program).is_none()
        {
            return failed(
                rc::ERR_INSTALLED,
                format!(
                    "filesystem {}: run_fsck needs {program}, which is not installed; set run_fsck = \"no\" or install it",
                    self.id
                ),
            );
        }
        Outcome::Ok
    }
}

fn describe(holders: &[Holder]) -> String {
    if holders.is_empty() {
        return "no process found (a kernel user, a bind mount or a process in another mount namespace?)".to_string();
    }
    let shown: Vec<String> = holders.iter().take(5).map(|h| h.to_string()).collect();
    let more = if holders.len() > 5 {
        format!(" and {} more", holders.len() - 5)
    } else {
        String::new()
    };
    format!("{}{more}", shown.join("; "))
}

/// Remove "." components, repeated and trailing slashes, so the path
/// compares equal to mountinfo's.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for part in path.components() {
        if let std::path::Component::Normal(p) = part {
            out.push(p);
        }
    }
    out
}

/// Split mount -o text into mount(2) flags and the data string for the
/// file system, as mount(8) does. Words that only mean something in fstab
/// (defaults, auto, nofail, _netdev, ...) are dropped.
fn split_options(options: &str) -> (MountFlags, String) {
    let mut flags = MountFlags::empty();
    let mut data = Vec::new();
    for word in options.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        match word {
            "ro" => flags |= MountFlags::RDONLY,
            "rw" => flags &= !MountFlags::RDONLY,
            "nosuid" => flags |= MountFlags::NOSUID,
            "suid" => flags &= !MountFlags::NOSUID,
            "nodev" => flags |= MountFlags::NODEV,
            "dev" => flags &= !MountFlags::NODEV,
            "noexec" => flags |= MountFlags::NOEXEC,
            "exec" => flags &= !MountFlags::NOEXEC,
            "sync" => flags |= MountFlags::SYNCHRONOUS,
            "async" => flags &= !MountFlags::SYNCHRONOUS,
            "dirsync" => flags |= MountFlags::DIRSYNC,
            "noatime" => flags |= MountFlags::NOATIME,
            "nodiratime" => flags |= MountFlags::NODIRATIME,
            "relatime" => flags |= MountFlags::RELATIME,
            "strictatime" => flags |= MountFlags::STRICTATIME,
            "lazytime" => flags |= MountFlags::LAZYTIME,
            "nosymfollow" => flags |= MountFlags::NOSYMFOLLOW,
            "silent" => flags |= MountFlags::SILENT,
            "bind" => flags |= MountFlags::BIND,
            "rbind" => flags |= MountFlags::BIND | MountFlags::REC,
            "defaults" | "auto" | "noauto" | "nofail" | "_netdev" | "user" | "nouser" | "users"
            | "owner" => {}
            other => data.push(other),
        }
    }
    (flags, data.join(","))
}

/// A program in PATH or the sbin directories (PATH of a daemon started by
/// hand often lacks them).
fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    path.split(':')
        .filter(|d| !d.is_empty())
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"])
        .map(|d| Path::new(d).join(name))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.mode() & 0o111 != 0)
        })
}

/// A 4096-byte buffer aligned to 4096, as O_DIRECT reads need.
struct AlignedBlock {
    storage: Vec<u8>,
    offset: usize,
}

impl AlignedBlock {
    fn new() -> AlignedBlock {
        let storage = vec![0u8; 8192];
        let offset = storage.as_ptr().align_offset(4096);
        AlignedBlock { storage, offset }
    }

    fn as_mut(&mut self) -> &mut [u8] {
        &mut self.storage[self.offset..self.offset + 4096]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Agent as Kind, Meta};

    fn resource(params: &[(&str, toml::Value)]) -> Resource {
        Resource {
            id: "data".to_string(),
            agent: Kind::Filesystem,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            ops: Vec::new(),
            meta: Meta::default(),
        }
    }

    // Goal: mount -o words become flags or data as mount(8) splits them.
    #[test]
    fn options_split_into_flags_and_data() {
        let (flags, data) = split_options(
            "ro,noatime,nosuid,nodev,noexec,sync,errors=remount-ro,defaults,data=ordered",
        );
        assert!(flags.contains(MountFlags::RDONLY | MountFlags::NOATIME | MountFlags::NOSUID));
        assert!(flags.contains(MountFlags::NODEV | MountFlags::NOEXEC | MountFlags::SYNCHRONOUS));
        assert_eq!(data, "errors=remount-ro,data=ordered");
        let (flags, data) = split_options("ro,rw");
        assert!(!flags.contains(MountFlags::RDONLY));
        assert_eq!(data, "");
    }

    // Goal: bad parameters name the resource and the parameter.
    #[test]
    fn bad_params_are_named() {
        let base = [
            ("device", toml::Value::from("/dev/sdb1")),
            ("fstype", "ext4".into()),
        ];
        let cases: &[(&[(&str, toml::Value)], &str, &str)] = &[
            (&[("directory", "srv".into())], "\"directory\"", "absolute"),
            (&[("directory", "/".into())], "\"directory\"", "absolute"),
            (
                &[
                    ("directory", "/srv".into()),
                    ("run_fsck", "sometimes".into()),
                ],
                "\"run_fsck\"",
                "auto, force, no",
            ),
            (
                &[
                    ("directory", "/srv".into()),
                    ("force_unmount", "maybe".into()),
                ],
                "\"force_unmount\"",
                "safe",
            ),
        ];
        for (extra, param, words) in cases {
            let mut params: Vec<(&str, toml::Value)> = base.to_vec();
            params.extend(extra.iter().cloned());
            let text = Filesystem::new(&resource(&params), "n1")
                .err()
                .expect("must fail")
                .to_string();
            assert!(text.contains("resource \"data\""), "{text}");
            assert!(
                text.contains(param) && text.contains(words),
                "{extra:?}: {text}"
            );
        }
        let missing = Filesystem::new(&resource(&[("device", "/dev/x".into())]), "n1")
            .err()
            .expect("must fail")
            .to_string();
        assert!(
            missing.contains("\"directory\"") && missing.contains("missing"),
            "{missing}"
        );
        let ok = Filesystem::new(
            &resource(&[
                ("device", "/dev/x".into()),
                ("fstype", "ext4".into()),
                ("directory", "/srv//data/".into()),
            ]),
            "n1",
        )
        .expect("valid");
        assert_eq!(ok.directory, PathBuf::from("/srv/data"));
        assert_eq!(
            (ok.run_fsck, ok.force_unmount),
            (Fsck::Auto, ForceUnmount::Yes)
        );
    }
}
