//! Loader tests on valid configs: every default, every section.
//! (Bad configs are table-tested in `tests/config_errors.rs`.)

use super::*;
use crate::score::Score;
use crate::time::Duration;

const MINIMAL: &str = r#"
[cluster]
name = "web"
key_file = "/etc/ha.key"

[[node]]
name = "node1"
id = 1
addrs = ["10.1.0.11"]

[[node]]
name = "node2"
id = 2
addrs = ["10.1.0.12"]
votes = 2
"#;

fn load(text: &str) -> Loaded {
    match parse(text, "ha.toml") {
        Ok(l) => l,
        Err(d) => panic!(
            "config rejected:\n{}",
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

// Goal: a config with only the required keys gets every documented default
// (SPEC section 2), and the hash is blake3 of the text.
#[test]
fn minimal_config_gets_every_default() {
    let loaded = load(MINIMAL);
    let c = &loaded.config;
    assert_eq!(c.cluster.name, "web");
    assert_eq!(c.cluster.key_file, PathBuf::from("/etc/ha.key"));
    assert_eq!(c.cluster.state_dir, PathBuf::from("/var/lib/ha"));
    assert_eq!(c.cluster.socket, PathBuf::from("/run/ha.sock"));
    assert_eq!(c.cluster.no_quorum_policy, NoQuorumPolicy::Stop);
    assert!(c.cluster.symmetric);
    assert!(c.cluster.stonith_enabled);
    assert_eq!(c.cluster.log, LogTarget::Stderr);
    assert_eq!(c.cluster.log_level, log::LevelFilter::Info);

    assert_eq!(c.heartbeat.transport, Transport::Udpu);
    assert_eq!(c.heartbeat.port, 5405);
    assert_eq!(c.heartbeat.interval, Duration::from_millis(100));
    assert_eq!(c.heartbeat.timeout, Duration::from_secs(1));
    assert_eq!(
        c.heartbeat.mcast_group,
        "239.255.100.1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(c.heartbeat.ttl, 1);
    assert_eq!(c.heartbeat.links.len(), 1, "one implicit link");
    assert_eq!(c.heartbeat.links[0].port, 5405);
    assert_eq!(c.heartbeat.links[0].network, None);

    assert_eq!(c.quorum.expected_votes, 3, "sum of votes 1 + 2");
    assert!(!c.quorum.two_node && !c.quorum.wait_for_all);
    assert!(!c.quorum.last_man_standing && !c.quorum.auto_tie_breaker);
    assert_eq!(c.quorum.last_man_standing_window, Duration::from_secs(10));

    assert_eq!(c.nodes.len(), 2);
    assert_eq!(c.nodes[0].votes, 1);
    assert_eq!(c.nodes[1].votes, 2);
    assert_eq!(c.node("node2").map(|n| n.id), Some(2));

    assert_eq!(c.defaults.stickiness, Score::ZERO);
    assert_eq!(c.defaults.migration_threshold, Score::INFINITY);
    assert_eq!(c.defaults.failure_timeout, Duration::ZERO);
    assert_eq!(c.defaults.op_timeout, Duration::from_secs(20));
    assert!(c.resources.is_empty() && c.watchdog.is_none() && c.fences.is_empty());

    assert_eq!(c.hash, *blake3::hash(MINIMAL.as_bytes()).as_bytes());
    // stonith is on without a device: the only warning.
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
    assert!(loaded.warnings[0].message.contains("stonith_enabled"));
}

const FULL: &str = r#"
[cluster]
name = "web"
key_file = "/etc/ha.key"
state_dir = "/srv/ha"
socket = "/run/ha/ctl.sock"
no_quorum_policy = "freeze"
symmetric = true
stonith_enabled = true
log = "/var/log/ha.log"
log_level = "debug"

[heartbeat]
transport = "udp"
port = 5999
interval = "50ms"
timeout = "2s"
mcast_group = "239.255.1.1"
ttl = 2

[[heartbeat.link]]
network = "10.1.0.0/16"

[[heartbeat.link]]
port = 6000
mcast_group = "239.255.2.2"

[quorum]
two_node = true
last_man_standing_window = "20s"
auto_tie_breaker = true

[[node]]
name = "node1"
id = 1
addrs = ["10.1.0.11", "192.168.5.11"]
attributes = { site = "a", rack = 3 }

[[node]]
name = "node2"
id = 2
addrs = ["10.1.0.12", "192.168.5.12"]
attributes = { site = "b" }

[defaults]
stickiness = 100
migration_threshold = 3
failure_timeout = "10min"
op_timeout = "30s"

[resource.webip]
agent = "vip"
params = { ip = "10.1.48.1", cidr_netmask = 16, nic = "eth0" }
ops = [
  { name = "monitor", interval = "10s", timeout = "20s", on_fail = "restart" },
  { name = "start", timeout = "40s" },
  { name = "stop" },
]
stickiness = "inf"
target_role = "started"
priority = 5

[resource.site]
agent = "systemd:httpd"
managed = false

[resource.data]
agent = "filesystem"
params = { device = "/dev/sdb1", directory = "/srv/www", fstype = "ext4" }

[resource.ping]
agent = "ocf:pacemaker:ping"
params = { host_list = "10.1.0.1" }

[resource.legacy]
agent = "lsb:legacyd"
target_role = "stopped"

[group.web]
resources = ["data", "webip", "site"]
migration_threshold = "inf"

[clone.gwping]
resource = "ping"
max = 2
node_max = 1

[[location]]
resource = "web"
node = "node1"
score = 50

[[location]]
resource = "web"
rule = { attribute = "site", op = "eq", value = "a" }
score = "+INFINITY"

[[location]]
resource = "legacy"
rule = { attribute = "rack", op = "not_defined" }
score = "-inf"

[[colocation]]
resource = "web"
with = "gwping"
score = "INFINITY"

[[order]]
first = "gwping"
then = "web"
kind = "optional"
symmetrical = false

[watchdog]
device = "/dev/watchdog0"
timeout = "10s"

[[fence]]
name = "ipmi-node1"
driver = "ipmi"
targets = ["node1"]
level = 2
delay = "5s"
params = { host = "10.0.0.11", username = "admin" }

[[fence]]
name = "wd"
driver = "watchdog"
targets = ["node1", "node2"]
"#;

// Goal: every section and key of SPEC section 2 is read into the Config
// with the written values; implied settings (two_node -> wait_for_all,
// link port/group defaults, op defaults) are filled in.
#[test]
fn full_config_reads_every_section() {
    let loaded = load(FULL);
    // The one warning: node2 has only the watchdog "device", which cannot
    // confirm a fence, and two_node lets a lone node stay quorate.
    let warnings: Vec<String> = loaded.warnings.iter().map(|w| w.message.clone()).collect();
    assert_eq!(
        warnings,
        [
            "[[fence]] driver = \"watchdog\" cannot confirm a fence, and with two_node a lone node can stay quorate: resources of a lost \"node2\" are never recovered"
        ],
        "{:?}",
        loaded.warnings
    );
    let c = &loaded.config;
    assert_eq!(c.cluster.state_dir, PathBuf::from("/srv/ha"));
    assert_eq!(c.cluster.no_quorum_policy, NoQuorumPolicy::Freeze);
    assert_eq!(
        c.cluster.log,
        LogTarget::File(PathBuf::from("/var/log/ha.log"))
    );
    assert_eq!(c.cluster.log_level, log::LevelFilter::Debug);

    let hb = &c.heartbeat;
    assert_eq!((hb.transport, hb.port, hb.ttl), (Transport::Udp, 5999, 2));
    assert_eq!(
        (hb.interval, hb.timeout),
        (Duration::from_millis(50), Duration::from_secs(2))
    );
    assert_eq!(hb.links.len(), 2);
    assert_eq!(hb.links[0].port, 5999);
    assert_eq!(
        hb.links[0].mcast_group,
        "239.255.1.1".parse::<IpAddr>().unwrap()
    );
    assert_eq!(hb.links[0].network, Some("10.1.0.0/16".parse().unwrap()));
    assert_eq!(hb.links[1].port, 6000);
    assert_eq!(
        hb.links[1].mcast_group,
        "239.255.2.2".parse::<IpAddr>().unwrap()
    );

    assert!(
        c.quorum.two_node && c.quorum.wait_for_all,
        "two_node implies wait_for_all"
    );
    assert_eq!(c.quorum.expected_votes, 2);
    assert_eq!(c.quorum.last_man_standing_window, Duration::from_secs(20));
    assert!(c.quorum.auto_tie_breaker);

    assert_eq!(
        c.nodes[0].attributes.get("rack").map(String::as_str),
        Some("3")
    );
    assert_eq!(
        c.nodes[1].addrs[1],
        "192.168.5.12".parse::<IpAddr>().unwrap()
    );

    assert_eq!(c.defaults.stickiness, Score::new(100));
    assert_eq!(c.defaults.migration_threshold, Score::new(3));
    assert_eq!(c.defaults.failure_timeout, Duration::from_secs(600));

    let ids: Vec<&str> = c.resources.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["webip", "site", "data", "ping", "legacy"],
        "config order"
    );
    let webip = c.resource("webip").unwrap();
    assert_eq!(webip.agent, Agent::Vip);
    assert_eq!(
        webip.params.get("cidr_netmask"),
        Some(&toml::Value::Integer(16))
    );
    assert_eq!(webip.ops.len(), 3);
    assert_eq!(
        webip.ops[0],
        Op {
            name: "monitor".into(),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(20),
            on_fail: OnFail::Restart,
            depth: 0,
        }
    );
    assert_eq!(webip.ops[1].timeout, Duration::from_secs(40));
    assert_eq!(
        webip.ops[2].timeout,
        Duration::from_secs(30),
        "op_timeout default"
    );
    assert_eq!(
        webip.ops[2].on_fail,
        OnFail::Fence,
        "a failed stop fences when stonith is on"
    );
    assert_eq!(webip.meta.stickiness, Some(Score::INFINITY));
    assert_eq!(webip.meta.priority, Some(5));
    assert_eq!(
        c.resource("site").unwrap().agent,
        Agent::Systemd("httpd".into())
    );
    assert_eq!(c.resource("site").unwrap().meta.managed, Some(false));
    assert_eq!(
        c.resource("ping").unwrap().agent,
        Agent::Ocf {
            provider: "pacemaker".into(),
            kind: "ping".into()
        }
    );
    assert_eq!(
        c.resource("legacy").unwrap().agent,
        Agent::Lsb("legacyd".into())
    );

    assert_eq!(c.groups[0].resources, ["data", "webip", "site"]);
    assert_eq!(c.group_of("site").map(|g| g.id.as_str()), Some("web"));
    assert_eq!(c.clones[0].max, Some(2));
    assert_eq!(c.clone_of("ping").map(|g| g.id.as_str()), Some("gwping"));

    let meta = c.effective_meta("site");
    assert_eq!(meta.stickiness, Score::new(100), "from [defaults]");
    assert_eq!(meta.migration_threshold, Score::INFINITY, "from the group");
    assert!(!meta.managed);

    assert_eq!(c.locations.len(), 3);
    assert_eq!(c.locations[0].target, LocationTarget::Node("node1".into()));
    assert_eq!(c.locations[1].score, Score::INFINITY);
    assert_eq!(
        c.locations[2].target,
        LocationTarget::Rule(Rule {
            attribute: "rack".into(),
            op: RuleOp::NotDefined,
            value: None
        })
    );
    assert_eq!(c.colocations[0].score, Score::INFINITY);
    assert_eq!(c.orders[0].kind, OrderKind::Optional);
    assert!(!c.orders[0].symmetrical);

    let wd = c.watchdog.as_ref().unwrap();
    assert_eq!(
        (wd.device.as_path(), wd.timeout),
        (Path::new("/dev/watchdog0"), Duration::from_secs(10))
    );
    assert_eq!(c.fences.len(), 2);
    assert_eq!(c.fences[0].driver, FenceDriver::Ipmi);
    assert_eq!(
        (c.fences[0].level, c.fences[0].delay),
        (2, Duration::from_secs(5))
    );
    assert_eq!(c.fences[1].level, 1);
    assert_eq!(c.fences[1].delay, Duration::ZERO);
    assert_eq!(
        c.fences[0].params.get("username"),
        Some(&toml::Value::String("admin".into()))
    );
}

// Goal: constraints default as documented: order kind mandatory and
// symmetrical; clone node_max 1 and max unset; fence level 1.
#[test]
fn constraint_defaults() {
    let text = format!(
        "{MINIMAL}\n[resource.a]\nagent = \"systemd:a\"\n[resource.b]\nagent = \"systemd:b\"\n\
         [clone.ca]\nresource = \"a\"\n[[order]]\nfirst = \"a\"\nthen = \"b\"\n"
    );
    let c = load(&text).config;
    assert_eq!(c.orders[0].kind, OrderKind::Mandatory);
    assert!(c.orders[0].symmetrical);
    assert_eq!((c.clones[0].max, c.clones[0].node_max), (None, 1));
}

// Goal: scores accept every spelling the SPEC lists.
#[test]
fn score_spellings() {
    for (text, want) in [
        ("\"inf\"", Score::INFINITY),
        ("\"+inf\"", Score::INFINITY),
        ("\"INFINITY\"", Score::INFINITY),
        ("\"-inf\"", Score::MINUS_INFINITY),
        ("\"-INFINITY\"", Score::MINUS_INFINITY),
        ("-20", Score::new(-20)),
        ("1000000", Score::INFINITY),
    ] {
        let c = load(&format!("{MINIMAL}\n[defaults]\nstickiness = {text}\n")).config;
        assert_eq!(c.defaults.stickiness, want, "{text}");
    }
}

// Goal: rules evaluate like pacemaker expressions (numbers as numbers).
#[test]
fn rules_match_attributes() {
    let attrs: BTreeMap<String, String> = [("rack".to_string(), "10".to_string())].into();
    let rule = |op, value: Option<&str>| Rule {
        attribute: "rack".into(),
        op,
        value: value.map(String::from),
    };
    assert!(
        rule_matches(&rule(RuleOp::Gt, Some("9")), &attrs),
        "10 > 9 as numbers"
    );
    assert!(rule_matches(&rule(RuleOp::Eq, Some("10")), &attrs));
    assert!(!rule_matches(&rule(RuleOp::Ne, Some("10")), &attrs));
    assert!(rule_matches(&rule(RuleOp::Lte, Some("10")), &attrs));
    assert!(rule_matches(&rule(RuleOp::Defined, None), &attrs));
    assert!(!rule_matches(&rule(RuleOp::NotDefined, None), &attrs));
    let none = BTreeMap::new();
    assert!(!rule_matches(&rule(RuleOp::Lt, Some("1")), &none));
    assert!(rule_matches(&rule(RuleOp::NotDefined, None), &none));
}

// Goal: with fencing on and devices configured, a node no device can fence
// is pointed out (pacemaker would not recover its resources).
#[test]
fn node_without_a_fence_device_is_warned_about() {
    let text = format!(
        "{MINIMAL}\n[[fence]]\nname = \"ipmi1\"\ndriver = \"ipmi\"\ntargets = [\"node1\"]\nparams = {{ host = \"10.0.0.11\" }}\n"
    );
    let loaded = load(&text);
    let messages: Vec<String> = loaded
        .warnings
        .iter()
        .map(|w| format!("{}:{}: {}", w.line, w.col, w.message))
        .collect();
    assert_eq!(
        messages,
        ["12:1: [[node]] name = \"node2\": no [[fence]] device can fence this node"]
    );
    // A watchdog covers every node.
    let loaded = load(&format!("{text}[watchdog]\n"));
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
}

// Goal: a watchdog [[fence]] device is pointed out where it cannot lead to
// recovery (two_node or last_man_standing, no confirming device for the
// node), naming exactly the uncovered nodes, and not otherwise.
#[test]
fn watchdog_device_without_a_confirming_device_is_warned_about_with_lone_quorum() {
    let wd = "[watchdog]\ntimeout = \"5s\"\n[[fence]]\nname = \"wd\"\ndriver = \"watchdog\"\ntargets = [\"node1\", \"node2\"]\n";
    let ipmi1 = "[[fence]]\nname = \"ipmi1\"\ndriver = \"ipmi\"\ntargets = [\"node1\"]\nparams = { host = \"10.0.0.11\" }\n";
    let messages = |text: String| -> Vec<String> {
        load(&text)
            .warnings
            .iter()
            .map(|w| w.message.clone())
            .collect()
    };
    let two_node = MINIMAL.replace("votes = 2\n", "") + "[quorum]\ntwo_node = true\n";
    assert_eq!(
        messages(format!("{two_node}{wd}{ipmi1}")),
        [
            "[[fence]] driver = \"watchdog\" cannot confirm a fence, and with two_node a lone node can stay quorate: resources of a lost \"node2\" are never recovered"
        ]
    );
    let lms = format!("{MINIMAL}[quorum]\nlast_man_standing = true\n");
    assert_eq!(messages(format!("{lms}{wd}")).len(), 1);
    assert!(messages(format!("{lms}{wd}"))[0].contains("with last_man_standing"));
    // Without lone quorum the core's watchdog wait recovers: no warning.
    assert!(messages(format!("{MINIMAL}{wd}")).is_empty());
}
