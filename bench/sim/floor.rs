//! What one simulated history costs, and how much of it the packet
//! cipher alone takes.
//!
//!     cargo run --profile sim --example sim_floor -- [SEEDS] [ROUNDS]
//!
//! Every datagram a simulated node sends is sealed, and every one it
//! receives is opened, with the real `wire` code (XChaCha20-Poly1305), as
//! on an appliance. This times `wire::Sender::seal` and
//! `wire::Receiver::open` on bodies of a 3-node heartbeat's size and of a
//! 16-node DC heartbeat's, then runs SEEDS random histories (default 300)
//! on one thread ROUNDS times (default 5), counting the datagrams sealed
//! and opened. It prints medians with min-max: ms per history, the part
//! the cipher alone takes, and the most histories per second two cores
//! could run if everything but the cipher cost nothing. Not a test.

use std::time::Instant;

use ha::sim::random;
use ha::time::Duration;
use ha::wire::{Heard, Heartbeat, Keys, Kind, Receiver, Sender};

fn median_spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(|a, b| a.partial_cmp(b).expect("no NaN"));
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The body length of a heartbeat from a node that hears `peers` others,
/// naming a DC; `leases` members listed when it is the acting DC's.
fn heartbeat_len(peers: u16, leases: u16) -> usize {
    Heartbeat {
        hears: (2..2 + peers)
            .map(|node| Heard {
                node,
                incarnation: 1,
                links: 1,
                acked: 1,
            })
            .collect(),
        dc: Some(1),
        leases: (2..2 + leases).collect(),
        ..Heartbeat::default()
    }
    .encode()
    .len()
}

/// ns per seal and per open of a `len`-byte body, one round of `n` each.
fn cipher_round(len: usize, n: u64) -> (f64, f64) {
    let keys = Keys::new(&[7; 32], "floor");
    let mut sender = Sender::new(1, 1);
    let mut receiver = Receiver::new(2, &[1, 2]);
    let body = vec![0x5a; len];
    let t = Instant::now();
    let packets: Vec<Vec<u8>> = (0..n)
        .map(|_| sender.seal(&keys, Kind::HEARTBEAT, &body))
        .collect();
    let seal = t.elapsed().as_nanos() as f64 / n as f64;
    let t = Instant::now();
    for p in &packets {
        receiver.open(&keys, p).expect("opens");
    }
    let open = t.elapsed().as_nanos() as f64 / n as f64;
    (seal, open)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seeds: u64 = args.get(1).map_or(300, |s| s.parse().expect("SEEDS"));
    let rounds: usize = args.get(2).map_or(5, |s| s.parse().expect("ROUNDS"));
    // A 3-node member's heartbeat body, and a 16-node DC's.
    let mut per_size = Vec::new();
    let small = heartbeat_len(2, 0);
    for len in [small, heartbeat_len(15, 15)] {
        let (mut seals, mut opens) = (Vec::new(), Vec::new());
        for _ in 0..rounds {
            let (s, o) = cipher_round(len, 20_000);
            seals.push(s);
            opens.push(o);
        }
        let s = median_spread(seals);
        let o = median_spread(opens);
        println!(
            "cipher, {len}-byte body: seal {:.0} ns ({:.0}-{:.0}), open {:.0} ns ({:.0}-{:.0})",
            s.0, s.1, s.2, o.0, o.1, o.2
        );
        per_size.push((s.0, o.0));
    }
    let (mut ms, mut sealed, mut opened) = (Vec::new(), 0u64, 0u64);
    for _ in 0..rounds {
        let t = Instant::now();
        let (mut s, mut o) = (0, 0);
        for seed in 0..seeds {
            let out = random::run(seed, Duration::from_secs(40));
            assert!(out.failure.is_none(), "seed {seed} failed");
            s += out.sealed;
            o += out.opened;
        }
        ms.push(t.elapsed().as_secs_f64() * 1000.0 / seeds as f64);
        (sealed, opened) = (s / seeds, o / seeds);
    }
    let h = median_spread(ms);
    let (seal, open) = per_size[0];
    let floor_ms = (sealed as f64 * seal + opened as f64 * open) / 1e6;
    println!(
        "histories (seeds 0..{seeds}, one thread): {:.2} ms each ({:.2}-{:.2}); {sealed} datagrams sealed and {opened} opened each",
        h.0, h.1, h.2
    );
    println!(
        "cipher alone, at the {small}-byte cost: {floor_ms:.2} ms per history ({:.0}% of it); with nothing else, two cores could run at most {:.0} histories/s",
        100.0 * floor_ms / h.0,
        2.0 * 1000.0 / floor_ms
    );
}
