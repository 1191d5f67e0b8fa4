//! The `vip` agent against the real kernel: every test creates its own
//! network namespaces (`ip netns add`), runs the agent on a thread that
//! joined one of them with setns(2) (the network namespace is per thread,
//! and the agent opens its netlink and packet sockets on the calling
//! thread), and checks the result with `ip -n NS ...` from outside.
//! Needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN); CI is root.

use std::collections::BTreeMap;
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ha::agents::{self, Agent};
use ha::config::{Agent as Kind, Meta, Resource};
use ha::node::Outcome;

/// `[defaults] op_timeout` for the agents built here (only external
/// agents use it).
const OP_TIMEOUT: ha::time::Duration = ha::time::Duration::from_secs(20);

fn require_root() {
    assert!(
        rustix::process::geteuid().is_root(),
        "this test needs root (it creates network namespaces and veth pairs); run it as root, as CI does"
    );
}

/// Run `ip ARGS`, panic with its stderr on failure, return stdout.
fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .expect("the `ip` tool (iproute2) runs");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// A named network namespace, deleted on drop (also when the test fails).
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!(
            "hav{}{}{}",
            tag,
            std::process::id(),
            NEXT.fetch_add(1, Ordering::SeqCst)
        );
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ip(&["-n", &ns.name, "link", "set", "lo", "up"]);
        ns
    }

    fn ip(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Run `f` on a thread that has joined this namespace.
    fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::File::open(&path).expect("netns file exists");
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .expect("setns into the test namespace");
                f()
            })
            .join()
            .expect("agent thread did not panic")
        })
    }

    fn mac(&self, dev: &str) -> String {
        let text = self.ip(&["link", "show", "dev", dev]);
        let at = text.find("link/ether ").expect("an ethernet link");
        text[at + 11..at + 28].to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn vip(params: &[(&str, &str)]) -> Box<dyn Agent> {
    let params: BTreeMap<String, toml::Value> = params
        .iter()
        .map(|(k, v)| (k.to_string(), toml::Value::String(v.to_string())))
        .collect();
    let resource = Resource {
        id: "webip".to_string(),
        agent: Kind::Vip,
        params,
        ops: Vec::new(),
        meta: Meta::default(),
    };
    agents::for_resource(&resource, "n1", OP_TIMEOUT).expect("valid vip params")
}

/// The line of `text` containing `needle`, or "".
fn line_with<'t>(text: &'t str, needle: &str) -> &'t str {
    text.lines().find(|l| l.contains(needle)).unwrap_or("")
}

/// Poll `check` for up to `limit`.
fn eventually(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let begin = Instant::now();
    while begin.elapsed() < limit {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    check()
}

// Goal: the whole IPaddr2 life cycle on one interface, nic and prefix found
// from the connected route. Method: a veth interface with 10.77.0.1/24;
// start twice, monitor, remove the address by hand, monitor, stop twice,
// and look at `ip addr` after each step.
#[test]
fn vip_ipv4_lifecycle_with_discovered_nic_and_prefix() {
    require_root();
    let ns = Netns::new("a");
    // A veth pair inside one namespace: this kernel has no dummy driver.
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d0p"]);
    ns.ip(&["link", "set", "d0p", "up"]);
    ns.ip(&["addr", "add", "10.77.0.1/24", "dev", "d0"]);
    ns.ip(&["link", "set", "d0", "up"]);
    let agent = vip(&[("ip", "10.77.0.50"), ("iflabel", "web")]);
    ns.run(|| {
        assert_eq!(agent.validate(), Outcome::Ok);
        assert_eq!(agent.monitor(0), Outcome::NotRunning, "probe before start");
        assert_eq!(agent.start(), Outcome::Ok);
        let shown = ns.ip(&["-4", "addr", "show", "dev", "d0"]);
        assert!(
            shown.contains("inet 10.77.0.50/24"),
            "prefix from the route:\n{shown}"
        );
        assert!(shown.contains("d0:web"), "label:\n{shown}");
        assert_eq!(agent.start(), Outcome::Ok, "second start");
        let shown = ns.ip(&["-4", "addr", "show", "dev", "d0"]);
        assert_eq!(
            shown.matches("10.77.0.50/").count(),
            1,
            "added once:\n{shown}"
        );
        assert_eq!(agent.monitor(0), Outcome::Ok);

        ns.ip(&["addr", "del", "10.77.0.50/24", "dev", "d0"]);
        assert_eq!(agent.monitor(0), Outcome::NotRunning, "removed by hand");

        assert_eq!(agent.start(), Outcome::Ok);
        ns.ip(&["link", "set", "d0", "down"]);
        match agent.monitor(0) {
            Outcome::Failed { rc: 1, reason } => {
                assert!(reason.contains("d0") && reason.contains("down"), "{reason}")
            }
            other => panic!("interface down must fail the monitor, got {other:?}"),
        }
        ns.ip(&["link", "set", "d0", "up"]);
        assert_eq!(agent.stop(), Outcome::Ok);
        let shown = ns.ip(&["-4", "addr", "show", "dev", "d0"]);
        assert!(!shown.contains("10.77.0.50"), "stop removes it:\n{shown}");
        assert!(
            shown.contains("10.77.0.1/24"),
            "stop leaves other addresses:\n{shown}"
        );
        assert_eq!(agent.stop(), Outcome::Ok, "second stop");
        assert_eq!(agent.monitor(0), Outcome::NotRunning);
    });
}

// Goal: explicit nic and cidr_netmask are used as given; an interface that
// does not exist is a clear, node-local failure (rc 5), and stop of a VIP on
// a missing interface succeeds (nothing to remove).
#[test]
fn vip_explicit_nic_and_missing_interface() {
    require_root();
    let ns = Netns::new("b");
    ns.ip(&["link", "add", "d1", "type", "veth", "peer", "name", "d1p"]);
    ns.ip(&["link", "set", "d1p", "up"]);
    let agent = vip(&[
        ("ip", "192.168.200.7"),
        ("nic", "d1"),
        ("cidr_netmask", "28"),
    ]);
    let missing = vip(&[("ip", "192.168.201.7"), ("nic", "nosuch0")]);
    let unroutable = vip(&[("ip", "192.168.202.7")]);
    ns.run(|| {
        assert_eq!(
            agent.start(),
            Outcome::Ok,
            "start brings d1 up and adds the address"
        );
        let shown = ns.ip(&["-4", "addr", "show", "dev", "d1"]);
        assert!(shown.contains("inet 192.168.200.7/28"), "{shown}");
        assert!(shown.contains(",UP"), "d1 brought up:\n{shown}");
        assert_eq!(agent.stop(), Outcome::Ok);
        match missing.start() {
            Outcome::Failed { rc: 5, reason } => assert!(reason.contains("nosuch0"), "{reason}"),
            other => panic!("missing nic: {other:?}"),
        }
        assert_eq!(missing.stop(), Outcome::Ok);
        match unroutable.start() {
            Outcome::Failed { rc: 6, reason } => assert!(reason.contains("set nic"), "{reason}"),
            other => panic!("no route: {other:?}"),
        }
    });
}

/// Two namespaces joined by a veth pair: `a` holds va, `b` holds vb.
struct Pair {
    a: Netns,
    b: Netns,
}

fn pair(tag: &str) -> Pair {
    let a = Netns::new(&format!("{tag}a"));
    let b = Netns::new(&format!("{tag}b"));
    a.ip(&[
        "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", &b.name,
    ]);
    a.ip(&["link", "set", "va", "up"]);
    b.ip(&["link", "set", "vb", "up"]);
    Pair { a, b }
}

// Goal: the gratuitous ARP reaches the neighbours. Method: namespace b
// holds a stale neighbour entry for the VIP with a made-up MAC (as after a
// failover from another node); after start in namespace a, b's entry must
// switch to va's MAC. Then b is made stale again and a monitor with
// arp_refresh_interval = 0s must fix it again (periodic re-announcement).
#[test]
fn vip_gratuitous_arp_updates_peer_neighbour_entry() {
    require_root();
    let p = pair("g");
    p.a.ip(&["addr", "add", "10.78.0.1/24", "dev", "va"]);
    p.b.ip(&["addr", "add", "10.78.0.2/24", "dev", "vb"]);
    let stale = "02:00:00:00:00:99";
    p.b.ip(&[
        "neigh",
        "replace",
        "10.78.0.50",
        "lladdr",
        stale,
        "dev",
        "vb",
        "nud",
        "stale",
    ]);
    let mac = p.a.mac("va");
    let agent = vip(&[
        ("ip", "10.78.0.50"),
        ("arp_count", "3"),
        ("arp_interval", "100"),
        ("arp_refresh_interval", "0s"),
    ]);
    let neighbour = || p.b.ip(&["neigh", "show", "10.78.0.50", "dev", "vb"]);
    // Control: without announcements the kernel tells b nothing, so the
    // change below is the agent's doing.
    let silent = vip(&[
        ("ip", "10.78.0.50"),
        ("arp_count", "0"),
        ("arp_count_refresh", "0"),
    ]);
    p.a.run(|| assert_eq!(silent.start(), Outcome::Ok));
    std::thread::sleep(Duration::from_millis(300));
    assert!(neighbour().contains(stale), "control: {}", neighbour());
    p.a.run(|| assert_eq!(silent.stop(), Outcome::Ok));
    p.a.run(|| {
        assert_eq!(agent.start(), Outcome::Ok);
    });
    assert!(
        eventually(Duration::from_secs(3), || neighbour().contains(&mac)),
        "b still has {}",
        neighbour()
    );

    // Let the start's background announcements finish first.
    std::thread::sleep(Duration::from_millis(400));
    p.b.ip(&[
        "neigh",
        "replace",
        "10.78.0.50",
        "lladdr",
        stale,
        "dev",
        "vb",
        "nud",
        "stale",
    ]);
    assert!(neighbour().contains(stale), "reset: {}", neighbour());
    p.a.run(|| assert_eq!(agent.monitor(0), Outcome::Ok));
    assert!(
        eventually(Duration::from_secs(2), || neighbour().contains(&mac)),
        "refresh: b has {}",
        neighbour()
    );
    p.a.run(|| assert_eq!(agent.stop(), Outcome::Ok));
    assert!(!p.a.ip(&["-4", "addr"]).contains("10.78.0.50"));
}

// Goal: IPv6: start waits until duplicate address detection is over (the
// address is no longer tentative when start returns), then the unsolicited
// NA updates the peer's neighbour entry; stop removes the address.
#[test]
fn vip_ipv6_waits_for_dad_then_sends_unsolicited_na() {
    require_root();
    let p = pair("s");
    p.a.ip(&["-6", "addr", "add", "fd00:78::1/64", "dev", "va", "nodad"]);
    p.b.ip(&["-6", "addr", "add", "fd00:78::2/64", "dev", "vb", "nodad"]);
    let stale = "02:00:00:00:00:98";
    p.b.ip(&[
        "-6",
        "neigh",
        "replace",
        "fd00:78::50",
        "lladdr",
        stale,
        "dev",
        "vb",
        "nud",
        "stale",
    ]);
    let mac = p.a.mac("va");
    let agent = vip(&[
        ("ip", "fd00:78::50"),
        ("arp_count", "2"),
        ("arp_interval", "100"),
    ]);
    let neighbour = || p.b.ip(&["-6", "neigh", "show", "fd00:78::50", "dev", "vb"]);
    // Control: the kernel's own DAD traffic does not update b's entry, so
    // the change below is the agent's NA.
    let silent = vip(&[
        ("ip", "fd00:78::50"),
        ("arp_count", "0"),
        ("arp_count_refresh", "0"),
    ]);
    p.a.run(|| assert_eq!(silent.start(), Outcome::Ok));
    std::thread::sleep(Duration::from_millis(300));
    assert!(neighbour().contains(stale), "control: {}", neighbour());
    p.a.run(|| assert_eq!(silent.stop(), Outcome::Ok));
    let begin = Instant::now();
    p.a.run(|| assert_eq!(agent.start(), Outcome::Ok));
    let took = begin.elapsed();
    let shown = p.a.ip(&["-6", "addr", "show", "dev", "va"]);
    let line = line_with(&shown, "fd00:78::50/");
    assert!(
        line.contains("inet6 fd00:78::50/64"),
        "prefix from the route:\n{shown}"
    );
    assert!(
        !line.contains("tentative"),
        "start returned before DAD ended:\n{shown}"
    );
    assert!(
        took >= Duration::from_millis(300),
        "DAD takes time; start took only {took:?}"
    );
    assert!(
        eventually(Duration::from_secs(2), || neighbour().contains(&mac)),
        "b still has {}",
        neighbour()
    );
    p.a.run(|| {
        assert_eq!(agent.monitor(0), Outcome::Ok);
        assert_eq!(agent.stop(), Outcome::Ok);
        assert_eq!(agent.monitor(0), Outcome::NotRunning);
    });
    assert!(!p.a.ip(&["-6", "addr"]).contains("fd00:78::50"));
}

// Goal: with nodad = true an IPv6 VIP is usable at once (no DAD wait).
#[test]
fn vip_ipv6_nodad_starts_without_waiting() {
    require_root();
    let p = pair("n");
    p.a.ip(&["-6", "addr", "add", "fd00:79::1/64", "dev", "va", "nodad"]);
    let agent = vip(&[("ip", "fd00:79::50"), ("nodad", "true"), ("arp_count", "1")]);
    let begin = Instant::now();
    p.a.run(|| assert_eq!(agent.start(), Outcome::Ok));
    assert!(
        begin.elapsed() < Duration::from_millis(500),
        "took {:?}",
        begin.elapsed()
    );
    let shown = p.a.ip(&["-6", "addr", "show", "dev", "va"]);
    let line = line_with(&shown, "fd00:79::50/");
    assert!(
        line.contains("fd00:79::50/64") && !line.contains("tentative"),
        "{shown}"
    );
    p.a.run(|| assert_eq!(agent.stop(), Outcome::Ok));
}
