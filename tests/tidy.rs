//! Style rules that a grep can check (TigerBeetle's tidy.zig does the same).
//!
//! The pure core must stay free of I/O, clocks and ambient randomness so the
//! simulator can drive it deterministically (DESIGN.md). This test reads the
//! core's sources and fails on any forbidden name, pointing at file:line.

use std::fs;
use std::path::Path;

const PURE: &[&str] = &[
    "src/wire",
    "src/membership",
    "src/quorum",
    "src/election",
    "src/cib",
    "src/policy",
    "src/transition",
    "src/node",
];

const FORBIDDEN: &[&str] = &[
    "std::net",
    "std::fs",
    "std::process",
    "smol::",
    "Instant::now",
    "SystemTime::now",
    "thread_rng",
    "std::thread",
    "std::env",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn pure_core_does_no_io() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in PURE {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(!files.is_empty(), "no core sources found under {:?}", PURE);
    let mut hits = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for word in FORBIDDEN {
                if code.contains(word) {
                    hits.push(format!("{}:{}: {}", file.display(), n + 1, word));
                }
            }
        }
    }
    assert!(
        hits.is_empty(),
        "I/O or clock in the pure core:\n{}",
        hits.join("\n")
    );
}

#[test]
fn no_stubs_left_in_src() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut hits = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.contains("todo!(") || line.contains("unimplemented!(") {
                hits.push(format!("{}:{}", file.display(), n + 1));
            }
        }
    }
    assert!(hits.is_empty(), "stubs left:\n{}", hits.join("\n"));
}
