//! Files the daemon keeps in `state_dir`: the incarnation counter and the
//! replicated state. (The key is read by `config::check_key_file`.)
//!
//! Every write is atomic (a temp file in the same directory, fsync, rename,
//! fsync of the directory), so a crash leaves either the old or the new
//! content, never a mix. The state file is framed with a magic, a length and
//! a blake3 checksum: a corrupt or truncated file is detected here, renamed
//! aside as `state.corrupt-<n>` and reported, and the node starts without
//! it (its peers send the current state again). Corruption is never fatal.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// The first bytes of a state file written by this version.
const STATE_MAGIC: &[u8; 8] = b"HASTATE1";

/// Writes `bytes` to `path` atomically: temp file, fsync, rename, fsync of
/// the directory. The file gets `mode`.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("path has no file name"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(".tmp");
    let temp = dir.join(temp_name);
    {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&temp, path)?;
    // The rename itself is durable only once the directory is synced.
    File::open(dir)?.sync_all()
}

/// What reading a file in `state_dir` found.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded<T> {
    /// No file: the first boot.
    Missing,
    Ok(T),
    /// The file was damaged; it was renamed to `set_aside` (or could not be).
    Corrupt {
        reason: String,
        set_aside: Option<PathBuf>,
    },
}

/// Renames a damaged file to `NAME.corrupt-<n>` with the first free n, so an
/// operator can inspect it and nothing is lost.
fn set_aside(path: &Path) -> Option<PathBuf> {
    for n in 1..1000 {
        let mut name = path.as_os_str().to_owned();
        name.push(format!(".corrupt-{n}"));
        let aside = PathBuf::from(name);
        if !aside.exists() {
            return fs::rename(path, &aside).ok().map(|_| aside);
        }
    }
    None
}

/// The next incarnation: the stored one plus one. Without a readable file it
/// is the wall-clock second, so a node whose state directory was wiped still
/// comes back with a higher incarnation than its peers remember (as long as
/// its clock is sane); the counter is then written back before use.
pub fn next_incarnation(state_dir: &Path, wall_clock_secs: u64) -> io::Result<(u64, Loaded<u64>)> {
    let path = state_dir.join("incarnation");
    let found = match fs::read_to_string(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Loaded::Missing,
        Err(e) => return Err(e),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n < u64::MAX => Loaded::Ok(n),
            _ => Loaded::Corrupt {
                reason: format!(
                    "expected a decimal counter, found {:?}",
                    text.chars().take(40).collect::<String>()
                ),
                set_aside: set_aside(&path),
            },
        },
    };
    let next = match found {
        Loaded::Ok(n) => n + 1,
        _ => wall_clock_secs.max(1),
    };
    write_atomic(&path, format!("{next}\n").as_bytes(), 0o600)?;
    Ok((next, found))
}

/// Frames replicated state for the state file: magic, length, blake3, bytes.
pub fn encode_state(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(48 + bytes.len());
    out.extend_from_slice(STATE_MAGIC);
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(blake3::hash(bytes).as_bytes());
    out.extend_from_slice(bytes);
    out
}

/// Checks the framing of a state file and returns the state bytes.
pub fn decode_state(file: &[u8]) -> Result<&[u8], String> {
    if file.len() < 48 {
        return Err(format!(
            "truncated: {} bytes, the header alone is 48",
            file.len()
        ));
    }
    if &file[..8] != STATE_MAGIC {
        return Err("bad magic: not a state file of this ha version".to_string());
    }
    let len = u64::from_le_bytes(file[8..16].try_into().expect("8 bytes")) as usize;
    let body = &file[48..];
    if body.len() != len {
        return Err(format!(
            "truncated: header says {len} bytes of state, found {}",
            body.len()
        ));
    }
    if blake3::hash(body).as_bytes() != &file[16..48] {
        return Err("checksum mismatch".to_string());
    }
    Ok(body)
}

/// The replicated state persisted by an earlier run.
pub fn read_state(state_dir: &Path) -> io::Result<Loaded<Vec<u8>>> {
    let path = state_path(state_dir);
    match fs::read(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Loaded::Missing),
        Err(e) => Err(e),
        Ok(file) => Ok(match decode_state(&file) {
            Ok(body) => Loaded::Ok(body.to_vec()),
            Err(reason) => Loaded::Corrupt {
                reason,
                set_aside: set_aside(&path),
            },
        }),
    }
}

/// Persists replicated state atomically.
pub fn write_state(state_dir: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic(&state_path(state_dir), &encode_state(bytes), 0o600)
}

fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join("state")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ha-store-{}-{}", name, std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn state_round_trips_and_damage_is_set_aside() {
        // Goal: what is written reads back; a truncated or flipped file is
        // reported, renamed aside, and the next read finds nothing.
        let dir = temp_dir("state");
        write_state(&dir, b"epoch 7").unwrap();
        assert_eq!(read_state(&dir).unwrap(), Loaded::Ok(b"epoch 7".to_vec()));

        let mut file = fs::read(dir.join("state")).unwrap();
        file.truncate(file.len() - 2);
        fs::write(dir.join("state"), &file).unwrap();
        match read_state(&dir).unwrap() {
            Loaded::Corrupt { reason, set_aside } => {
                assert!(reason.contains("truncated"), "{reason}");
                assert_eq!(set_aside, Some(dir.join("state.corrupt-1")));
            }
            other => panic!("expected corrupt, got {other:?}"),
        }
        assert_eq!(read_state(&dir).unwrap(), Loaded::Missing);

        write_state(&dir, b"epoch 8").unwrap();
        let mut file = fs::read(dir.join("state")).unwrap();
        let last = file.len() - 1;
        file[last] ^= 1;
        fs::write(dir.join("state"), &file).unwrap();
        match read_state(&dir).unwrap() {
            Loaded::Corrupt { reason, set_aside } => {
                assert_eq!(reason, "checksum mismatch");
                assert_eq!(set_aside, Some(dir.join("state.corrupt-2")));
            }
            other => panic!("expected corrupt, got {other:?}"),
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn incarnation_counts_up_and_survives_garbage() {
        // Goal: each start gets a higher incarnation; a garbled counter falls
        // back to the wall clock (never lower than before) and is kept aside.
        let dir = temp_dir("inc");
        let (first, found) = next_incarnation(&dir, 1000).unwrap();
        assert_eq!((first, found), (1000, Loaded::Missing));
        let (second, found) = next_incarnation(&dir, 5).unwrap();
        assert_eq!((second, found), (1001, Loaded::Ok(1000)));
        fs::write(dir.join("incarnation"), "12x").unwrap();
        let (third, found) = next_incarnation(&dir, 2000).unwrap();
        assert_eq!(third, 2000);
        assert!(matches!(found, Loaded::Corrupt { .. }));
        assert!(dir.join("incarnation.corrupt-1").exists());
        assert_eq!(
            fs::read_to_string(dir.join("incarnation")).unwrap(),
            "2000\n"
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
