//! The cluster key file: reading and checking it, and writing a fresh one.
//!
//! The key authenticates and encrypts every packet, so it must be exactly 32
//! bytes and readable by root only (mode 0600 or stricter), as corosync
//! insists for its authkey. `ha run` refuses a key that breaks these rules
//! ([`check_key_file`]); `ha check` only warns ([`key_file_warnings`]), since
//! a config is often checked on a machine that does not hold the key.
//! [`write_key`] is `ha keygen`: OS randomness, written atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::{Config, Diagnostic, Severity};

/// Bytes in a key file.
pub const KEY_LEN: usize = 32;

fn diagnostic(
    severity: Severity,
    file: &str,
    place: (usize, usize),
    message: String,
    hint: &str,
) -> Diagnostic {
    Diagnostic {
        severity,
        file: file.to_string(),
        line: place.0,
        col: place.1,
        message,
        hint: Some(hint.to_string()),
    }
}

/// Problems with the key file, each as an error; `place` is where
/// `key_file` is written in the config (0, 0 when unknown).
fn key_problems(
    config: &Config,
    file: &str,
    place: (usize, usize),
) -> Result<[u8; KEY_LEN], Diagnostic> {
    let path = &config.cluster.key_file;
    let shown = path.display();
    let err = |message: String, hint: &str| diagnostic(Severity::Error, file, place, message, hint);
    let mut f = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => err(
            format!("key_file {shown} does not exist"),
            "create it with `ha keygen -o KEYFILE` and copy it to every node",
        ),
        _ => err(
            format!("key_file {shown}: {e}"),
            "ha needs to read the key; run as root",
        ),
    })?;
    let meta = f
        .metadata()
        .map_err(|e| err(format!("key_file {shown}: {e}"), "check the file"))?;
    if !meta.is_file() {
        return Err(err(
            format!("key_file {shown} is not a regular file"),
            "point key_file at the file `ha keygen` wrote",
        ));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(err(
            format!("key_file {shown} has mode {mode:04o}, wider than 0600"),
            &format!("anyone who reads the key can join the cluster; run chmod 600 {shown}"),
        ));
    }
    let mut key = [0u8; KEY_LEN];
    let mut rest = Vec::new();
    f.read_to_end(&mut rest)
        .map_err(|e| err(format!("key_file {shown}: {e}"), "check the file"))?;
    if rest.len() != KEY_LEN {
        return Err(err(
            format!(
                "key_file {shown} holds {} bytes, expected {KEY_LEN}",
                rest.len()
            ),
            "write a fresh key with `ha keygen` (corosync's authkey is not compatible)",
        ));
    }
    key.copy_from_slice(&rest);
    Ok(key)
}

/// Where `key_file` is written in `text`, for pointing diagnostics at it.
fn key_file_place(text: Option<&str>) -> (usize, usize) {
    let Some(text) = text else { return (0, 0) };
    let Ok(root) = toml::de::DeTable::parse(text) else {
        return (0, 0);
    };
    let Some(cluster) = root
        .get_ref()
        .get("cluster")
        .and_then(|c| c.get_ref().as_table())
    else {
        return (0, 0);
    };
    let Some((key, _)) = cluster.get_key_value("key_file") else {
        return (0, 0);
    };
    super::report::Report::new("", text).position(key.span().start)
}

/// Reads the key for `ha run`: an error when the file is missing, not
/// exactly 32 bytes, or readable by group or others. `file` is the config
/// file name for the message.
pub fn check_key_file(config: &Config, file: &str) -> Result<[u8; KEY_LEN], Diagnostic> {
    let text = fs::read_to_string(file).ok();
    key_problems(config, file, key_file_place(text.as_deref()))
}

/// The same checks for `ha check`, as warnings. `text` is the config text,
/// used to point at the `key_file` line.
pub fn key_file_warnings(config: &Config, file: &str, text: &str) -> Vec<Diagnostic> {
    match key_problems(config, file, key_file_place(Some(text))) {
        Ok(_) => Vec::new(),
        Err(mut d) => {
            d.severity = Severity::Warning;
            if let Some(hint) = &mut d.hint {
                hint.push_str("; `ha run` refuses to start until this is fixed");
            }
            vec![d]
        }
    }
}

/// Why `ha keygen` failed.
#[derive(Debug)]
pub enum KeygenError {
    /// The file exists and `--force` was not given.
    Exists(PathBuf),
    /// The OS random number generator failed.
    Random(String),
    /// Creating, writing, syncing or renaming failed.
    Io(PathBuf, io::Error),
}

impl std::fmt::Display for KeygenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeygenError::Exists(p) => write!(
                f,
                "{} already exists; pass --force to replace it",
                p.display()
            ),
            KeygenError::Random(e) => write!(f, "the OS random number generator failed: {e}"),
            KeygenError::Io(p, e) => write!(f, "{}: {e}", p.display()),
        }
    }
}

/// Writes 32 fresh random bytes to `path`, mode 0600, atomically: a
/// temporary file created 0600 in the same directory is written and
/// fsynced, then moved into place, so a reader sees either no key, the old
/// key, or the whole new key. Without `force` an existing file is kept
/// (the move is a hard link, which fails if the name exists).
pub fn write_key(path: &Path, force: bool) -> Result<(), KeygenError> {
    let io_err = |p: &Path| {
        let p = p.to_path_buf();
        move |e: io::Error| KeygenError::Io(p, e)
    };
    if !force && fs::symlink_metadata(path).is_ok() {
        return Err(KeygenError::Exists(path.to_path_buf()));
    }
    let mut key = [0u8; KEY_LEN];
    getrandom::fill(&mut key).map_err(|e| KeygenError::Random(e.to_string()))?;

    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| String::from("key"));
    let tmp = dir.join(format!(".{name}.tmp.{}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io_err(path))?;
        f.write_all(&key).map_err(io_err(path))?;
        f.sync_all().map_err(io_err(path))?;
        if force {
            fs::rename(&tmp, path).map_err(io_err(path))?;
        } else {
            fs::hard_link(&tmp, path).map_err(|e| match e.kind() {
                io::ErrorKind::AlreadyExists => KeygenError::Exists(path.to_path_buf()),
                _ => KeygenError::Io(path.to_path_buf(), e),
            })?;
            fs::remove_file(&tmp).map_err(io_err(&tmp))?;
        }
        // The rename is durable only once the directory is synced.
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ha-key-test-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn config_with_key(path: &Path) -> Config {
        let text = format!(
            "[cluster]\nname = \"c\"\nkey_file = \"{}\"\n[[node]]\nname = \"a\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
            path.display()
        );
        super::super::parse(&text, "ha.toml").unwrap().config
    }

    // Goal: keygen writes 32 bytes with mode 0600, refuses to overwrite
    // without force, replaces with force, and leaves no temporary file.
    #[test]
    fn keygen_writes_a_private_key_once() {
        let dir = scratch("keygen");
        let path = dir.join("ha.key");
        write_key(&path, false).unwrap();
        let first = fs::read(&path).unwrap();
        assert_eq!(first.len(), KEY_LEN);
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(matches!(
            write_key(&path, false),
            Err(KeygenError::Exists(_))
        ));
        assert_eq!(fs::read(&path).unwrap(), first, "kept without --force");
        write_key(&path, true).unwrap();
        let second = fs::read(&path).unwrap();
        assert_ne!(first, second, "a fresh key");
        let names: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: the daemon's check reads a good key and rejects a missing,
    // wide-open or wrongly sized one with a message naming the problem.
    #[test]
    fn key_file_checks() {
        let dir = scratch("check");
        let path = dir.join("ha.key");
        let config = config_with_key(&path);
        let e = check_key_file(&config, "ha.toml").unwrap_err();
        assert!(e.message.ends_with("does not exist"), "{e}");
        write_key(&path, false).unwrap();
        assert_eq!(
            check_key_file(&config, "ha.toml").unwrap().to_vec(),
            fs::read(&path).unwrap()
        );
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = check_key_file(&config, "ha.toml").unwrap_err();
        assert!(e.message.contains("mode 0644, wider than 0600"), "{e}");
        assert_eq!(e.severity, Severity::Error);
        let w = key_file_warnings(&config, "ha.toml", "");
        assert_eq!(w[0].severity, Severity::Warning);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, b"short").unwrap();
        let e = check_key_file(&config, "ha.toml").unwrap_err();
        assert!(e.message.contains("holds 5 bytes, expected 32"), "{e}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
