//! Property test of the config loader: whatever the input (random bytes,
//! valid configs with random mutations, random documents built from the
//! config's own keys with random values), `parse` returns without
//! panicking, and its answer is well formed: an `Err` holds at least one
//! error, an `Ok` holds only warnings, and every diagnostic points inside
//! the text.
//!
//! Method: a small seeded generator (xorshift), so a failure prints the
//! seed and case number and replays exactly. Iteration counts are below;
//! the whole test takes a few seconds in a debug build.

use ha::config::{Diagnostic, Severity, parse};

const RANDOM_BYTES: usize = 3_000;
const MUTATIONS: usize = 12_000;
const GENERATED: usize = 6_000;

/// xorshift64*: tiny, seeded, good enough to drive a fuzzer.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Asserts the shape of one answer; `what` identifies the case.
fn check(text: &str, what: &str) {
    let lines = text.split('\n').count();
    let well_placed =
        |d: &Diagnostic| d.line <= lines && (d.line == 0 || d.col >= 1) && d.file == "fuzz.toml";
    match parse(text, "fuzz.toml") {
        Ok(loaded) => {
            for w in &loaded.warnings {
                assert_eq!(
                    w.severity,
                    Severity::Warning,
                    "{what}: error in an accepted config: {w}"
                );
                assert!(
                    well_placed(w),
                    "{what}: {w:?} outside the text ({lines} lines)"
                );
            }
            // An accepted config is self-consistent.
            let c = &loaded.config;
            assert!(!c.nodes.is_empty(), "{what}: accepted without nodes");
            assert!(c.heartbeat.interval < c.heartbeat.timeout, "{what}");
            for n in &c.nodes {
                assert_eq!(n.addrs.len(), c.heartbeat.links.len(), "{what}");
                assert!(n.id >= 1, "{what}");
            }
            for g in &c.groups {
                for m in &g.resources {
                    assert!(c.resource(m).is_some(), "{what}: group member {m} unknown");
                }
            }
        }
        Err(diagnostics) => {
            assert!(
                diagnostics.iter().any(|d| d.severity == Severity::Error),
                "{what}: rejected without an error: {diagnostics:?}"
            );
            for d in &diagnostics {
                assert!(
                    well_placed(d),
                    "{what}: {d:?} outside the text ({lines} lines)"
                );
                assert!(!d.message.is_empty(), "{what}");
            }
        }
    }
}

fn seeds() -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    texts.sort();
    assert!(texts.len() >= 3, "the example configs seed the mutations");
    texts
}

/// Fragments that tend to break parsers and validators.
const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "{",
    "}",
    "\"",
    "'",
    "=",
    ",",
    ".",
    "\n",
    " ",
    "#",
    "\\",
    "\"\"\"",
    "inf",
    "-inf",
    "INFINITY",
    "0",
    "-1",
    "65535",
    "65536",
    "99999999999999999999",
    "1.5",
    "nan",
    "true",
    "false",
    "0s",
    "1ms",
    "10min",
    "1h",
    "5m",
    "\u{e9}",
    "\u{1F600}",
    "\0",
    "node",
    "resource",
    "group",
    "clone",
    "order",
    "location",
    "colocation",
    "fence",
    "heartbeat",
    "link",
    "quorum",
    "cluster",
    "[[node]]",
    "[resource.x]",
    "[group.g]",
    "[[order]]",
    "first = \"x\"",
    "then = \"x\"",
    "resources = [\"x\", \"x\"]",
    "two_node = true",
    "addrs = [\"fd00::1\"]",
    "id = 0",
    "1979-05-27T07:32:00Z",
    "0x10",
    "1_000",
];

fn mutate(rng: &mut Rng, text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.below(6) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(4) {
            0 if !bytes.is_empty() => {
                let end = (at + 1 + rng.below(12)).min(bytes.len());
                bytes.drain(at.min(end)..end);
            }
            1 => {
                let token = rng.pick(TOKENS).as_bytes();
                bytes.splice(at..at, token.iter().copied());
            }
            2 if !bytes.is_empty() => {
                let i = at.min(bytes.len() - 1);
                bytes[i] = rng.next() as u8;
            }
            _ => {
                // Duplicate a slice elsewhere: repeated keys and tables.
                let start = rng.below(bytes.len());
                let end = (start + rng.below(80)).min(bytes.len());
                let piece = bytes[start..end].to_vec();
                let at = at.min(bytes.len());
                bytes.splice(at..at, piece);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

const KEYS: &[(&str, &[&str])] = &[
    (
        "cluster",
        &[
            "name",
            "key_file",
            "state_dir",
            "socket",
            "no_quorum_policy",
            "symmetric",
            "stonith_enabled",
            "log",
            "log_level",
            "nmae",
        ],
    ),
    (
        "heartbeat",
        &[
            "transport",
            "port",
            "interval",
            "timeout",
            "mcast_group",
            "ttl",
        ],
    ),
    (
        "quorum",
        &[
            "expected_votes",
            "two_node",
            "wait_for_all",
            "last_man_standing",
            "last_man_standing_window",
            "auto_tie_breaker",
        ],
    ),
    (
        "defaults",
        &[
            "stickiness",
            "migration_threshold",
            "failure_timeout",
            "op_timeout",
        ],
    ),
    ("watchdog", &["device", "timeout"]),
];
const ARRAYS: &[(&str, &[&str])] = &[
    ("node", &["name", "id", "addrs", "votes", "attributes"]),
    ("heartbeat.link", &["network", "port", "mcast_group"]),
    ("location", &["resource", "node", "rule", "score"]),
    ("colocation", &["resource", "with", "score"]),
    ("order", &["first", "then", "kind", "symmetrical"]),
    (
        "fence",
        &["name", "driver", "targets", "level", "delay", "params"],
    ),
];
const NAMED: &[(&str, &[&str])] = &[
    (
        "resource",
        &[
            "agent",
            "params",
            "ops",
            "stickiness",
            "migration_threshold",
            "failure_timeout",
            "target_role",
            "managed",
            "priority",
        ],
    ),
    ("group", &["resources", "stickiness", "managed"]),
    ("clone", &["resource", "max", "node_max", "priority"]),
];
const NAMES: &[&str] = &["a", "b", "n1", "n2", "web", "ip", "g"];

/// A random value, biased towards what the keys expect.
fn value(rng: &mut Rng, depth: usize) -> String {
    match rng.below(if depth > 2 { 10 } else { 13 }) {
        0 => format!("\"{}\"", rng.pick(NAMES)),
        1 => format!(
            "\"{}{}\"",
            rng.below(3000),
            rng.pick(&["ms", "s", "min", "h", "", "m"])
        ),
        2 => format!("{}", rng.next() as i64 % 70_000),
        3 => String::from(*rng.pick(&[
            "\"inf\"",
            "\"-inf\"",
            "\"+INFINITY\"",
            "\"-INFINITY\"",
            "1000001",
        ])),
        4 => String::from(*rng.pick(&["true", "false"])),
        5 => format!("\"10.0.0.{}\"", rng.below(300)),
        6 => String::from(*rng.pick(&[
            "\"fd00::1\"",
            "\"239.255.1.1\"",
            "\"ff15::1\"",
            "\"10.0.0.0/24\"",
        ])),
        7 => String::from(*rng.pick(&[
            "\"vip\"",
            "\"filesystem\"",
            "\"nfs\"",
            "\"systemd:x\"",
            "\"ocf:p:t\"",
            "\"lsb:x\"",
            "\"ocf::\"",
        ])),
        8 => String::from(*rng.pick(&[
            "\"udp\"",
            "\"udpu\"",
            "\"stop\"",
            "\"eq\"",
            "\"defined\"",
            "\"monitor\"",
            "\"ipmi\"",
            "\"watchdog\"",
        ])),
        9 => format!("\"/{}\"", rng.pick(NAMES)),
        10 => {
            let n = rng.below(4);
            let items: Vec<String> = (0..n).map(|_| value(rng, depth + 1)).collect();
            format!("[{}]", items.join(", "))
        }
        11 => {
            let keys = [
                "ip",
                "name",
                "interval",
                "timeout",
                "on_fail",
                "attribute",
                "op",
                "value",
                "exports",
                "directory",
            ];
            let start = rng.below(keys.len());
            let n = rng.below(4);
            let items: Vec<String> = (0..n)
                .map(|i| {
                    format!(
                        "{} = {}",
                        keys[(start + i) % keys.len()],
                        value(rng, depth + 1)
                    )
                })
                .collect();
            format!("{{ {} }}", items.join(", "))
        }
        _ => {
            // A list of op tables or export tables.
            let n = 1 + rng.below(2);
            let items: Vec<String> = (0..n)
                .map(|_| {
                    format!(
                        "{{ name = {}, interval = {}, directory = {} }}",
                        value(rng, depth + 3),
                        value(rng, depth + 3),
                        value(rng, depth + 3)
                    )
                })
                .collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// A random document built from the config's own sections and keys, so
/// most inputs get past the TOML parser and exercise validation.
fn generate(rng: &mut Rng) -> String {
    let mut out = String::new();
    let mut used_keys = std::collections::BTreeSet::new();
    for _ in 0..1 + rng.below(14) {
        match rng.below(3) {
            0 => {
                let (section, keys) = rng.pick(KEYS);
                if !used_keys.insert(section.to_string()) {
                    continue; // a table may be defined once
                }
                out.push_str(&format!("[{section}]\n"));
                let mut seen = std::collections::BTreeSet::new();
                for _ in 0..rng.below(5) {
                    let key = rng.pick(keys);
                    if seen.insert(*key) {
                        out.push_str(&format!("{key} = {}\n", value(rng, 0)));
                    }
                }
            }
            1 => {
                let (section, keys) = rng.pick(ARRAYS);
                out.push_str(&format!("[[{section}]]\n"));
                let mut seen = std::collections::BTreeSet::new();
                for _ in 0..rng.below(5) {
                    let key = rng.pick(keys);
                    if seen.insert(*key) {
                        out.push_str(&format!("{key} = {}\n", value(rng, 0)));
                    }
                }
            }
            _ => {
                let (section, keys) = rng.pick(NAMED);
                let id = rng.pick(NAMES);
                if !used_keys.insert(format!("{section}.{id}")) {
                    continue;
                }
                out.push_str(&format!("[{section}.{id}]\n"));
                let mut seen = std::collections::BTreeSet::new();
                for _ in 0..rng.below(5) {
                    let key = rng.pick(keys);
                    if seen.insert(*key) {
                        out.push_str(&format!("{key} = {}\n", value(rng, 0)));
                    }
                }
            }
        }
    }
    out
}

// Goal: random bytes (made text the way a file read would) never panic.
#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for case in 0..RANDOM_BYTES {
        let len = rng.below(400);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let text = String::from_utf8_lossy(&bytes);
        check(&text, &format!("random bytes case {case}"));
    }
}

// Goal: valid configs with random edits never panic, and the answer is
// well formed. Mutations keep most of the structure, so they reach deep
// into validation with almost-valid input.
#[test]
fn mutated_configs_never_panic() {
    let seeds = seeds();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut accepted = 0;
    for case in 0..MUTATIONS {
        let seed = rng.pick(&seeds).clone();
        let text = mutate(&mut rng, &seed);
        if parse(&text, "fuzz.toml").is_ok() {
            accepted += 1;
        }
        check(
            &text,
            &format!("mutation case {case} (seed 0xD1B54A32D192ED03)"),
        );
    }
    // Some mutations only touch comments or values; both outcomes occur.
    assert!(
        accepted > 0 && accepted < MUTATIONS,
        "accepted {accepted} of {MUTATIONS}"
    );
}

// Goal: random documents made of the config's own keys and plausible or
// wrong values never panic, and reach both outcomes.
#[test]
fn generated_configs_never_panic() {
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    let mut rejected = 0;
    for case in 0..GENERATED {
        let text = generate(&mut rng);
        if parse(&text, "fuzz.toml").is_err() {
            rejected += 1;
        }
        check(
            &text,
            &format!("generated case {case} (seed 0xA0761D6478BD642F):\n{text}"),
        );
    }
    assert!(rejected > 0, "the generator should produce bad configs too");
}

// Goal: pathological sizes and nesting stay errors, not crashes.
#[test]
fn deep_and_large_inputs() {
    check(&"[".repeat(10_000), "deep brackets");
    check(
        &format!("a = {}1{}", "[".repeat(5_000), "]".repeat(5_000)),
        "deep array",
    );
    check(
        &format!("a = {}", "{ b = ".repeat(3_000)),
        "deep inline tables",
    );
    let many = (1..=3000)
        .map(|i| {
            format!(
                "[[node]]\nname = \"n{i}\"\nid = {i}\naddrs = [\"10.{}.{}.1\"]\n",
                i / 256,
                i % 256
            )
        })
        .collect::<String>();
    check(
        &format!("[cluster]\nname = \"c\"\nkey_file = \"/k\"\n{many}"),
        "3000 nodes",
    );
}
