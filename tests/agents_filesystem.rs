//! The `filesystem` agent against the real kernel: ext4 made with mkfs.ext4
//! on a loop device over a temp file, mounted by the agent on a thread that
//! has its own private mount namespace (unshare(CLONE_NEWNS) + make /
//! rprivate), so nothing the tests mount is visible to the host. The agent
//! reads /proc/thread-self/mountinfo, so it sees that thread's mounts.
//! Needs root (loop devices, mount); CI is root.

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ha::agents::{self, Agent, mountinfo_entries};
use ha::config::{Agent as Kind, Meta, Resource};
use ha::node::Outcome;

/// `[defaults] op_timeout` for the agents built here (only external
/// agents use it).
const OP_TIMEOUT: ha::time::Duration = ha::time::Duration::from_secs(20);

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (it makes loop devices and mounts file systems); run it as root, as CI does"
    );
}

fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} runs: {e}"));
    assert!(
        out.status.success(),
        "{program} {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// An ext4 file system on a loop device over a sparse temp file, with a
/// mount point path below the same temp directory; all removed on drop.
struct Disk {
    dir: PathBuf,
    device: String,
}

impl Disk {
    fn new() -> Disk {
        let dir = std::env::temp_dir().join(format!(
            "ha-agents-fs-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let image = dir.join("disk.img");
        let file = std::fs::File::create(&image).expect("image file");
        file.set_len(32 << 20).expect("sparse 32 MiB");
        drop(file);
        let image_text = image.to_string_lossy().into_owned();
        run("mkfs.ext4", &["-q", "-F", &image_text]);
        let device = run("losetup", &["-f", "--show", &image_text])
            .trim()
            .to_string();
        Disk { dir, device }
    }

    fn mount_point(&self) -> PathBuf {
        self.dir.join("mnt")
    }

    fn agent(&self, extra: &[(&str, &str)]) -> Box<dyn Agent> {
        self.agent_at(&self.mount_point(), extra)
    }

    fn agent_at(&self, directory: &Path, extra: &[(&str, &str)]) -> Box<dyn Agent> {
        let mut params: BTreeMap<String, toml::Value> = BTreeMap::new();
        params.insert("device".into(), self.device.clone().into());
        params.insert(
            "directory".into(),
            directory.to_string_lossy().into_owned().into(),
        );
        params.insert("fstype".into(), "ext4".into());
        for (k, v) in extra {
            params.insert(k.to_string(), toml::Value::String(v.to_string()));
        }
        let resource = Resource {
            id: "data".to_string(),
            agent: Kind::Filesystem,
            params,
            ops: Vec::new(),
            meta: Meta::default(),
        };
        agents::for_resource(&resource, "n1", OP_TIMEOUT).expect("valid filesystem params")
    }
}

impl Drop for Disk {
    fn drop(&mut self) {
        // The private mount namespace died with its thread, which detached
        // the mount; a lazy unmount here covers a mount that leaked anyway.
        let _ = rustix::mount::unmount(self.mount_point(), rustix::mount::UnmountFlags::DETACH);
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run `f` on a thread with its own private mount namespace.
fn in_private_mount_namespace<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| {
        s.spawn(|| {
            // SAFETY: CLONE_NEWNS (with the CLONE_FS it implies) only gives this
            // thread its own mount namespace and fs context; no file
            // descriptor table is unshared, so no Rust-owned fd goes stale.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
                .expect("unshare(CLONE_NEWNS)");
            rustix::mount::mount_change(
                "/",
                rustix::mount::MountPropagationFlags::REC
                    | rustix::mount::MountPropagationFlags::PRIVATE,
            )
            .expect("make / rprivate");
            f()
        })
        .join()
        .expect("test thread did not panic")
    })
}

/// How many mounts this thread sees on `dir`.
fn mounts_on(dir: &Path) -> usize {
    let dir = dir.to_string_lossy();
    mountinfo_entries()
        .expect("mountinfo")
        .iter()
        .filter(|e| e.mount_point == dir)
        .count()
}

// Goal: start, monitor at every depth, stop, all idempotent, and data
// written survives a stop/start. Method: real ext4 on a loop device; check
// the mount table after each step, and that the host never sees the mount.
#[test]
fn filesystem_lifecycle_monitor_depths_and_data_survives() {
    require_root();
    let disk = Disk::new();
    let agent = disk.agent(&[]);
    let mnt = disk.mount_point();
    in_private_mount_namespace(|| {
        assert_eq!(agent.validate(), Outcome::Ok);
        assert_eq!(agent.monitor(0), Outcome::NotRunning, "probe before start");
        assert_eq!(agent.start(), Outcome::Ok);
        assert!(mnt.is_dir(), "start creates the mount point");
        assert_eq!(mounts_on(&mnt), 1);
        assert_eq!(agent.start(), Outcome::Ok, "second start");
        assert_eq!(mounts_on(&mnt), 1, "not mounted twice");
        for depth in [0, 10, 20] {
            assert_eq!(agent.monitor(depth), Outcome::Ok, "depth {depth}");
        }
        let status = std::fs::read_to_string(mnt.join(".ha_monitor_n1"))
            .expect("depth 20 wrote its status file");
        assert!(status.contains("node=n1"), "{status}");
        std::fs::write(mnt.join("payload"), b"written before stop").expect("write");

        assert_eq!(agent.stop(), Outcome::Ok);
        assert_eq!(mounts_on(&mnt), 0);
        assert!(
            !mnt.join("payload").exists(),
            "the file lives on the file system, not the mount point"
        );
        assert_eq!(agent.monitor(0), Outcome::NotRunning);
        assert_eq!(agent.stop(), Outcome::Ok, "second stop");

        assert_eq!(agent.start(), Outcome::Ok);
        assert_eq!(
            std::fs::read(mnt.join("payload")).expect("read"),
            b"written before stop"
        );
        assert_eq!(agent.stop(), Outcome::Ok);
    });
    // The main thread is in the host's mount namespace: it never saw the mount.
    let host = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
    assert!(
        !host.contains(&*mnt.to_string_lossy()),
        "leaked into the host namespace"
    );
}

/// Start `sleep` with its cwd inside `dir`; return once the kernel shows it there.
fn busy_child(dir: &Path) -> std::process::Child {
    let child = Command::new("sleep")
        .arg("300")
        .current_dir(dir)
        .spawn()
        .expect("sleep runs");
    let cwd = format!("/proc/{}/cwd", child.id());
    let begin = Instant::now();
    while std::fs::read_link(&cwd).map(|p| p != dir).unwrap_or(true) {
        assert!(
            begin.elapsed() < Duration::from_secs(5),
            "child never reached {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

// Goal: a busy mount (a process with its cwd inside) is unmounted with
// force_unmount (the default): the holder gets SIGTERM and is gone.
#[test]
fn filesystem_busy_mount_force_unmount_kills_the_holder() {
    require_root();
    let disk = Disk::new();
    let agent = disk.agent(&[("force_unmount", "true")]);
    let mnt = disk.mount_point();
    in_private_mount_namespace(|| {
        assert_eq!(agent.start(), Outcome::Ok);
        let mut child = busy_child(&mnt);
        // The mount is really busy: a plain umount fails.
        assert_eq!(
            rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::empty()),
            Err(rustix::io::Errno::BUSY)
        );
        assert_eq!(agent.stop(), Outcome::Ok);
        assert_eq!(mounts_on(&mnt), 0);
        let status = child.wait().expect("reap the child");
        assert_eq!(
            status.signal(),
            Some(15),
            "holder ended by SIGTERM: {status:?}"
        );
    });
}

// Goal: a holder that ignores SIGTERM is KILLed. Method: a shell that traps
// TERM, cwd inside the mount.
#[test]
fn filesystem_busy_mount_escalates_to_kill() {
    require_root();
    let disk = Disk::new();
    let agent = disk.agent(&[]);
    let mnt = disk.mount_point();
    in_private_mount_namespace(|| {
        assert_eq!(agent.start(), Outcome::Ok);
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; while :; do sleep 0.05; done"])
            .current_dir(&mnt)
            .spawn()
            .expect("sh runs");
        std::thread::sleep(Duration::from_millis(100));
        let begin = Instant::now();
        assert_eq!(agent.stop(), Outcome::Ok);
        assert_eq!(mounts_on(&mnt), 0);
        let status = child.wait().expect("reap the child");
        assert_eq!(
            status.signal(),
            Some(9),
            "holder ended by SIGKILL: {status:?}"
        );
        assert!(
            begin.elapsed() < Duration::from_secs(10),
            "stop took {:?}",
            begin.elapsed()
        );
    });
}

// Goal: with force_unmount = false a busy stop fails with a clear error
// naming the holder, kills nothing, and succeeds once the holder is gone.
#[test]
fn filesystem_busy_mount_without_force_fails_clearly() {
    require_root();
    let disk = Disk::new();
    let agent = disk.agent(&[("force_unmount", "false")]);
    let mnt = disk.mount_point();
    in_private_mount_namespace(|| {
        assert_eq!(agent.start(), Outcome::Ok);
        let mut child = busy_child(&mnt);
        match agent.stop() {
            Outcome::Failed { rc: 1, reason } => {
                assert!(reason.contains("busy"), "{reason}");
                assert!(reason.contains(&format!("pid {}", child.id())), "{reason}");
                assert!(reason.contains("force_unmount"), "{reason}");
            }
            other => panic!("busy stop without force must fail, got {other:?}"),
        }
        assert_eq!(
            child.try_wait().expect("poll child"),
            None,
            "the holder was not killed"
        );
        assert_eq!(mounts_on(&mnt), 1);
        child.kill().expect("kill our child");
        child.wait().expect("reap");
        assert_eq!(agent.stop(), Outcome::Ok);
        assert_eq!(mounts_on(&mnt), 0);
    });
}

fn mount_count(device: &str) -> u32 {
    let text = run("dumpe2fs", &["-h", device]);
    let line = text
        .lines()
        .find(|l| l.starts_with("Mount count:"))
        .expect("dumpe2fs shows the mount count");
    line["Mount count:".len()..]
        .trim()
        .parse()
        .expect("a number")
}

// Goal: run_fsck = auto runs e2fsck -p before mounting and run_fsck = no
// does not. Method: tune2fs sets the mount count past the maximum, which
// makes `e2fsck -p` do a full check and reset the count; after one mount
// the count is then 1 with fsck and max+1 without.
#[test]
fn filesystem_run_fsck_runs_e2fsck_before_mount() {
    require_root();
    let disk = Disk::new();
    run("tune2fs", &["-c", "20", "-C", "50", &disk.device]);
    let without = disk.agent(&[("run_fsck", "no")]);
    in_private_mount_namespace(|| {
        assert_eq!(without.start(), Outcome::Ok);
        assert_eq!(without.stop(), Outcome::Ok);
    });
    assert_eq!(
        mount_count(&disk.device),
        51,
        "run_fsck = no: no check, the count went on"
    );
    let with = disk.agent(&[]);
    in_private_mount_namespace(|| {
        assert_eq!(with.start(), Outcome::Ok);
        assert_eq!(with.stop(), Outcome::Ok);
    });
    assert_eq!(
        mount_count(&disk.device),
        1,
        "run_fsck = auto: e2fsck checked and reset the count"
    );
}

// Goal: a missing fsck program and a missing device are clear, node-local
// failures (OCF_ERR_INSTALLED, rc 5) that mount nothing.
#[test]
fn filesystem_missing_fsck_program_or_device_is_clear() {
    require_root();
    let dir = std::env::temp_dir().join(format!("ha-agents-fs-missing-{}", std::process::id()));
    let resource = |params: &[(&str, &str)]| Resource {
        id: "data".to_string(),
        agent: Kind::Filesystem,
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), toml::Value::String(v.to_string())))
            .collect(),
        ops: Vec::new(),
        meta: Meta::default(),
    };
    let dir_text = dir.to_string_lossy().into_owned();
    let no_fsck = agents::for_resource(
        &resource(&[
            ("device", "tmpfs"),
            ("directory", &dir_text),
            ("fstype", "tmpfs"),
            ("run_fsck", "force"),
        ]),
        "n1",
        OP_TIMEOUT,
    )
    .expect("valid");
    let no_device = agents::for_resource(
        &resource(&[
            ("device", "/dev/ha-test-no-such-disk"),
            ("directory", &dir_text),
            ("fstype", "ext4"),
        ]),
        "n1",
        OP_TIMEOUT,
    )
    .expect("valid");
    in_private_mount_namespace(|| {
        match no_fsck.start() {
            Outcome::Failed { rc: 5, reason } => {
                assert!(
                    reason.contains("fsck.tmpfs") && reason.contains("run_fsck"),
                    "{reason}"
                )
            }
            other => panic!("missing fsck program: {other:?}"),
        }
        assert!(matches!(no_fsck.validate(), Outcome::Failed { rc: 5, .. }));
        match no_device.start() {
            Outcome::Failed { rc: 5, reason } => {
                assert!(reason.contains("/dev/ha-test-no-such-disk"), "{reason}")
            }
            other => panic!("missing device: {other:?}"),
        }
        assert_eq!(mounts_on(&dir), 0);
    });
    let _ = std::fs::remove_dir_all(&dir);
}

// Goal: mount options reach the kernel: ro and noatime show in the mount
// table, a write fails with EROFS, and monitor depth 20 reports it.
#[test]
fn filesystem_options_become_mount_flags() {
    require_root();
    let disk = Disk::new();
    let agent = disk.agent(&[("options", "ro,noatime,nosuid,nodev")]);
    let mnt = disk.mount_point();
    in_private_mount_namespace(|| {
        assert_eq!(agent.start(), Outcome::Ok);
        let dir = mnt.to_string_lossy().into_owned();
        let entries = mountinfo_entries().expect("mountinfo");
        let entry = entries
            .iter()
            .find(|e| e.mount_point == dir)
            .expect("mounted");
        for flag in ["ro", "noatime", "nosuid", "nodev"] {
            assert!(
                entry.options.split(',').any(|o| o == flag),
                "{flag} in {}",
                entry.options
            );
        }
        assert_eq!(agent.monitor(10), Outcome::Ok);
        match agent.monitor(20) {
            Outcome::Failed { rc: 1, reason } => {
                assert!(reason.contains(".ha_monitor_n1"), "{reason}")
            }
            other => panic!("depth 20 on a read-only mount must fail, got {other:?}"),
        }
        assert_eq!(agent.stop(), Outcome::Ok);
    });
}

// Goal: a mount point reached through a symbolic link is recognised as
// mounted (the kernel's table shows the resolved path), so a second start
// does not mount on top and stop unmounts it.
#[test]
fn filesystem_directory_through_symlink_is_recognised() {
    require_root();
    let disk = Disk::new();
    std::fs::create_dir_all(disk.dir.join("real/mnt")).expect("real dir");
    std::os::unix::fs::symlink(disk.dir.join("real"), disk.dir.join("link")).expect("symlink");
    let agent = disk.agent_at(&disk.dir.join("link/mnt"), &[]);
    let real = disk.dir.join("real/mnt");
    in_private_mount_namespace(|| {
        assert_eq!(agent.start(), Outcome::Ok);
        assert_eq!(agent.monitor(0), Outcome::Ok);
        assert_eq!(agent.start(), Outcome::Ok);
        assert_eq!(mounts_on(&real), 1, "mounted once");
        assert_eq!(agent.stop(), Outcome::Ok);
        assert_eq!(mounts_on(&real), 0);
    });
}

// Goal: another file system on the mount point is never taken for ours:
// start refuses to mount on top of it, monitor reports a failure, and stop
// leaves it alone.
#[test]
fn filesystem_other_device_on_the_mount_point_is_a_failure() {
    require_root();
    let disk = Disk::new();
    let agent = disk.agent(&[]);
    let mnt = disk.mount_point();
    std::fs::create_dir_all(&mnt).expect("mount point");
    in_private_mount_namespace(|| {
        rustix::mount::mount(
            "tmpfs",
            &mnt,
            "tmpfs",
            rustix::mount::MountFlags::empty(),
            None,
        )
        .expect("mount a tmpfs there");
        match agent.start() {
            Outcome::Failed { rc: 1, reason } => {
                assert!(reason.contains("already mounted"), "{reason}")
            }
            other => panic!("start over another mount: {other:?}"),
        }
        match agent.monitor(0) {
            Outcome::Failed { rc: 1, reason } => assert!(reason.contains("instead of"), "{reason}"),
            other => panic!("monitor with another mount: {other:?}"),
        }
        assert_eq!(mounts_on(&mnt), 1, "nothing mounted on top");
        assert_eq!(agent.stop(), Outcome::Ok, "ours is not mounted");
        assert_eq!(mounts_on(&mnt), 1, "stop left the foreign mount alone");
        rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::empty()).expect("unmount tmpfs");
    });
}

// Goal: a process holding only an open file (cwd elsewhere) is found too,
// and force_unmount = safe (path matching, no stat) finds it as well.
#[test]
fn filesystem_open_file_holder_found_in_safe_mode() {
    require_root();
    let disk = Disk::new();
    let agent = disk.agent(&[("force_unmount", "safe")]);
    let mnt = disk.mount_point();
    in_private_mount_namespace(|| {
        assert_eq!(agent.start(), Outcome::Ok);
        let held = mnt.join("held");
        let script = format!("exec 3<>'{}'; exec sleep 300", held.display());
        let mut child = Command::new("sh")
            .args(["-c", &script])
            .current_dir("/")
            .spawn()
            .expect("sh runs");
        let fd = format!("/proc/{}/fd/3", child.id());
        let begin = Instant::now();
        while std::fs::read_link(&fd).map(|p| p != held).unwrap_or(true) {
            assert!(
                begin.elapsed() < Duration::from_secs(5),
                "child never opened {}",
                held.display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            rustix::mount::unmount(&mnt, rustix::mount::UnmountFlags::empty()),
            Err(rustix::io::Errno::BUSY)
        );
        assert_eq!(agent.stop(), Outcome::Ok);
        assert_eq!(mounts_on(&mnt), 0);
        let status = child.wait().expect("reap the child");
        assert_eq!(
            status.signal(),
            Some(15),
            "holder ended by SIGTERM: {status:?}"
        );
    });
}
