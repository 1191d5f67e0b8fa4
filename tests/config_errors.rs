//! Bad configs, one problem each: the loader must report exactly that one
//! error, with the exact message, at the exact LINE:COL, and with a hint.
//!
//! Method: most cases append a snippet to a small valid config (`BASE`);
//! their expected line is counted from the snippet's first line, so a case
//! reads on its own. Cases that must change the base itself give a whole
//! file. Warnings are checked the same way in their own table.

use ha::config::{Diagnostic, Severity, parse};

/// A valid config: two nodes, one link, two resources, fencing off so it
/// loads without warnings.
const BASE: &str = r#"[cluster]
name = "c"
key_file = "/etc/ha.key"
stonith_enabled = false

[[node]]
name = "n1"
id = 1
addrs = ["10.0.0.1"]

[[node]]
name = "n2"
id = 2
addrs = ["10.0.0.2"]

[resource.ip]
agent = "vip"
params = { ip = "10.0.0.100" }

[resource.srv]
agent = "systemd:srv"
"#;

/// (name, snippet appended to BASE, "LINE:COL: message" with LINE counted
/// from the snippet's first line, text the hint must contain).
const APPENDED: &[(&str, &str, &str, &str)] = &[
    (
        "unknown key with a close match",
        "[heartbeat]\nintervall = \"100ms\"\n",
        "2:1: unknown key \"intervall\" in [heartbeat]; did you mean \"interval\"?",
        "valid keys in [heartbeat]: transport, port, interval",
    ),
    (
        "unknown key without a close match",
        "[heartbeat]\ncolour = \"blue\"\n",
        "2:1: unknown key \"colour\" in [heartbeat]",
        "valid keys in [heartbeat]",
    ),
    (
        "unknown section",
        "[resources.x]\nagent = \"vip\"\n",
        "1:2: unknown key \"resources\" in the top level; did you mean \"resource\"?",
        "valid keys in the top level: cluster, heartbeat",
    ),
    (
        "unknown meta key in a resource",
        "[resource.web]\nagent = \"systemd:httpd\"\nstickyness = 100\n",
        "3:1: unknown key \"stickyness\" in [resource.web]; did you mean \"stickiness\"?",
        "stickiness",
    ),
    (
        "duration without a unit",
        "[heartbeat]\ninterval = \"100\"\n",
        "2:1: [heartbeat] interval = \"100\": a duration needs a unit",
        "write \"100ms\" or \"100s\"",
    ),
    (
        "duration with the ambiguous unit m",
        "[heartbeat]\ntimeout = \"1m\"\n",
        "2:1: [heartbeat] timeout = \"1m\": unit \"m\" is ambiguous",
        "\"1min\" for minutes",
    ),
    (
        "duration written as a number",
        "[heartbeat]\ntimeout = 5\n",
        "2:1: [heartbeat] timeout = 5: expected a duration string, found an integer",
        "timeout = \"5ms\"",
    ),
    (
        "fractional duration",
        "[heartbeat]\ntimeout = \"1.5s\"\n",
        "2:1: [heartbeat] timeout = \"1.5s\": durations are whole numbers",
        "\"1500ms\"",
    ),
    (
        "misspelt duration unit",
        "[defaults]\nfailure_timeout = \"10mins\"\n",
        "2:1: [defaults] failure_timeout = \"10mins\": unknown duration unit \"mins\"",
        "did you mean \"10min\"?",
    ),
    (
        "heartbeat interval out of range",
        "[heartbeat]\ninterval = \"5ms\"\n",
        "2:1: [heartbeat] interval = \"5ms\": out of range 10ms..=1min",
        "use a duration from 10ms to 1min",
    ),
    (
        "interval not shorter than timeout",
        "[heartbeat]\ninterval = \"2s\"\ntimeout = \"1s\"\n",
        "2:1: [heartbeat] interval (2s) must be shorter than timeout (1s)",
        "allow several",
    ),
    (
        "port as a string",
        "[heartbeat]\nport = \"5405\"\n",
        "2:1: [heartbeat] port = \"5405\": expected an integer, found a string",
        "remove the quotes: port = 5405",
    ),
    (
        "port zero",
        "[heartbeat]\nport = 0\n",
        "2:1: [heartbeat] port = 0: out of range 1..=65535",
        "use a value from 1 to 65535",
    ),
    (
        "transport typo",
        "[heartbeat]\ntransport = \"udpp\"\n",
        "2:1: [heartbeat] transport = \"udpp\": expected \"udpu\" or \"udp\"",
        "did you mean \"udpu\"?",
    ),
    (
        "udp with a unicast group",
        "[heartbeat]\ntransport = \"udp\"\nmcast_group = \"10.0.0.9\"\n",
        "3:1: [heartbeat] mcast_group = \"10.0.0.9\": not a multicast address (transport = \"udp\")",
        "239.0.0.0/8",
    ),
    (
        "udp with a group of the other family",
        "[heartbeat]\ntransport = \"udp\"\nmcast_group = \"ff15::1\"\n",
        "3:1: [heartbeat] mcast_group = \"ff15::1\": link 0's node addresses are of the other IP family",
        "IPv4 group for IPv4 links",
    ),
    (
        "bad link network",
        "[heartbeat]\n[[heartbeat.link]]\nnetwork = \"10.0.0.0/33\"\n",
        "3:1: [[heartbeat.link]] network = \"10.0.0.0/33\": not a network",
        "\"10.1.0.0/16\"",
    ),
    (
        "more addresses than links",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.3\", \"10.9.0.3\"]\n",
        "4:1: [[node]] \"n3\" addrs: 2 addresses for 1 heartbeat link",
        "one [[heartbeat.link]] table is needed per address",
    ),
    (
        "IPv4 and IPv6 on one link",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"fd00::3\"]\n",
        "4:10: [[node]] addrs[0] = \"fd00::3\": link 0 mixes IPv4 and IPv6 addresses",
        "of one family",
    ),
    (
        "two nodes with one address",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.2\"]\n",
        "4:10: [[node]] addrs[0] = \"10.0.0.2\": two nodes have this address on link 0",
        "its own address",
    ),
    (
        "not an IP address",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.300\"]\n",
        "4:10: [[node]] addrs[0] = \"10.0.0.300\": not an IP address",
        "IPv4 or IPv6",
    ),
    (
        "address with a prefix length",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.3/24\"]\n",
        "4:10: [[node]] addrs[0] = \"10.0.0.3/24\": not an IP address",
        "without a prefix length",
    ),
    (
        "node id zero",
        "[[node]]\nname = \"n3\"\nid = 0\naddrs = [\"10.0.0.3\"]\n",
        "3:1: [[node]] id = 0: node ids are 1..=65535",
        "0 is reserved",
    ),
    (
        "node id too large",
        "[[node]]\nname = \"n3\"\nid = 70000\naddrs = [\"10.0.0.3\"]\n",
        "3:1: [[node]] id = 70000: node ids are 1..=65535",
        "unique id",
    ),
    (
        "duplicate node id",
        "[[node]]\nname = \"n3\"\nid = 2\naddrs = [\"10.0.0.3\"]\n",
        "3:1: [[node]] id = 2: duplicate node id (first used on line 13)",
        "must be unique",
    ),
    (
        "duplicate node name",
        "[[node]]\nname = \"n2\"\nid = 3\naddrs = [\"10.0.0.3\"]\n",
        "2:1: [[node]] name = \"n2\": duplicate node name",
        "its own name",
    ),
    (
        "node name with a space",
        "[[node]]\nname = \"node 3\"\nid = 3\naddrs = [\"10.0.0.3\"]\n",
        "2:1: [[node]] name = \"node 3\": not a valid name",
        "letters, digits",
    ),
    (
        "node without an id",
        "[[node]]\nname = \"n3\"\naddrs = [\"10.0.0.3\"]\n",
        "1:1: missing required key \"id\" in [[node]]",
        "id = 1",
    ),
    (
        "votes out of range",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.3\"]\nvotes = 300\n",
        "5:1: [[node]] votes = 300: out of range 0..=255",
        "from 0 to 255",
    ),
    (
        "two_node with three nodes",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.3\"]\n[quorum]\ntwo_node = true\n",
        "6:1: [quorum] two_node = true needs exactly 2 nodes, found 3",
        "remove two_node, or remove a node",
    ),
    (
        "expected_votes beyond reach",
        "[quorum]\nexpected_votes = 7\n",
        "2:1: [quorum] expected_votes = 7: quorum would need 4 votes, but all nodes together have 2",
        "remove expected_votes",
    ),
    (
        "unknown agent close to a built-in",
        "[resource.x]\nagent = \"vipp\"\n",
        "2:1: [resource.x] agent = \"vipp\": unknown agent",
        "did you mean \"vip\"?",
    ),
    (
        "pacemaker agent name",
        "[resource.x]\nagent = \"IPaddr2\"\n",
        "2:1: [resource.x] agent = \"IPaddr2\": unknown agent",
        "the built-in \"vip\" agent is IPaddr2",
    ),
    (
        "malformed ocf agent",
        "[resource.x]\nagent = \"ocf:heartbeat\"\n",
        "2:1: [resource.x] agent = \"ocf:heartbeat\": malformed ocf agent",
        "ocf:PROVIDER:TYPE",
    ),
    (
        "malformed systemd agent",
        "[resource.x]\nagent = \"systemd:\"\n",
        "2:1: [resource.x] agent = \"systemd:\": malformed systemd agent",
        "systemd:NAME",
    ),
    (
        "resource without an agent",
        "[resource.x]\nparams = { a = 1 }\n",
        "1:11: missing required key \"agent\" in [resource.x]",
        "agent = \"vip\"",
    ),
    (
        "vip without ip",
        "[resource.x]\nagent = \"vip\"\nparams = { nic = \"eth0\" }\n",
        "3:1: [resource.x]: agent \"vip\" needs param \"ip\"",
        "params = { ip = ",
    ),
    (
        "filesystem without params",
        "[resource.fs]\nagent = \"filesystem\"\n",
        "1:11: [resource.fs]: agent \"filesystem\" needs params \"device\", \"directory\" and \"fstype\"",
        "fstype = \"ext4\"",
    ),
    (
        "nfs without exports",
        "[resource.share]\nagent = \"nfs\"\nparams = { nfs_shared_infodir = \"/srv/nfs/info\" }\n",
        "3:1: [resource.share]: agent \"nfs\" needs param \"exports\"",
        "exports = [",
    ),
    (
        "vip with a bad address",
        "[resource.x]\nagent = \"vip\"\nparams = { ip = \"10.0.0\" }\n",
        "3:12: [resource.x] params.ip = \"10.0.0\": not an IP address",
        "IPv4 or IPv6",
    ),
    (
        "relative filesystem directory",
        "[resource.fs]\nagent = \"filesystem\"\nparams = { device = \"/dev/sdb1\", directory = \"srv\", fstype = \"ext4\" }\n",
        "3:34: [resource.fs] params.directory = \"srv\": not an absolute path",
        "start with /",
    ),
    (
        "unknown op name",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"monitr\", interval = \"10s\" } ]\n",
        "3:11: [resource.x] ops[0] name = \"monitr\": expected one of \"start\", \"stop\", \"monitor\", \"probe\" or \"validate\"",
        "did you mean \"monitor\"?",
    ),
    (
        "unknown on_fail",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"monitor\", interval = \"10s\", on_fail = \"reboot\" } ]\n",
        "3:47: [resource.x] ops[0] on_fail = \"reboot\": expected one of \"ignore\", \"block\", \"stop\", \"restart\", \"standby\" or \"fence\"",
        "use \"ignore\"",
    ),
    (
        "monitor depth not a check level",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"monitor\", interval = \"10s\", depth = 15 } ]\n",
        "3:47: [resource.x] ops[0] depth = 15: a monitor depth is 0, 10 or 20",
        "OCF_CHECK_LEVEL",
    ),
    (
        "depth on a start op",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"start\", depth = 10 } ]\n",
        "3:27: [resource.x] ops[0] depth = 10: only monitor takes a depth, not start",
        "probes and other operations run at depth 0",
    ),
    (
        "monitor depth as a string",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"monitor\", interval = \"10s\", depth = \"10\" } ]\n",
        "3:47: [resource.x] ops[0] depth = \"10\": expected an integer, found a string",
        "depth = 10",
    ),
    (
        "monitor without interval",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"monitor\" } ]\n",
        "3:9: missing required key \"interval\" in [resource.x] ops[0]",
        "interval = \"10s\"",
    ),
    (
        "monitor with a zero interval",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"monitor\", interval = \"0s\" } ]\n",
        "3:29: [resource.x] ops[0] interval = \"0s\": a monitor needs a non-zero interval",
        "probe",
    ),
    (
        "start with an interval",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"start\", interval = \"10s\" } ]\n",
        "3:27: [resource.x] ops[0] interval = \"10s\": only monitor repeats; start takes no interval",
        "remove interval",
    ),
    (
        "the same op twice",
        "[resource.x]\nagent = \"systemd:x\"\nops = [\n  { name = \"monitor\", interval = \"10s\" },\n  { name = \"monitor\", interval = \"10s\" },\n]\n",
        "5:3: [resource.x] ops: a second monitor op with interval 10s",
        "once",
    ),
    (
        "op timeout of zero",
        "[resource.x]\nagent = \"systemd:x\"\nops = [ { name = \"start\", timeout = \"0s\" } ]\n",
        "3:27: [resource.x] ops[0] timeout = \"0s\": out of range 1s..=24h",
        "use a duration from 1s to 24h",
    ),
    (
        "capitalised target_role",
        "[resource.x]\nagent = \"systemd:x\"\ntarget_role = \"Started\"\n",
        "3:1: [resource.x] target_role = \"Started\": expected \"started\" or \"stopped\"",
        "did you mean \"started\"?",
    ),
    (
        "migration_threshold zero",
        "[defaults]\nmigration_threshold = 0\n",
        "2:1: [defaults] migration_threshold = 0: migration_threshold must be at least 1",
        "use \"inf\"",
    ),
    (
        "boolean in quotes",
        "[resource.x]\nagent = \"systemd:x\"\nmanaged = \"false\"\n",
        "3:1: [resource.x] managed = \"false\": expected a boolean, found a string",
        "remove the quotes: managed = false",
    ),
    (
        "a group with the id of a resource",
        "[group.ip]\nresources = [\"srv\"]\n",
        "1:8: [group.ip]: id \"ip\" is already used by [resource.ip] on line 16",
        "share one namespace",
    ),
    (
        "group member unknown",
        "[group.g]\nresources = [\"ip\", \"srvv\"]\n",
        "2:20: [group.g] resources[1] = \"srvv\": no such resource",
        "did you mean \"srv\"? known resources: \"ip\" and \"srv\"",
    ),
    (
        "resource in two groups",
        "[group.g1]\nresources = [\"ip\"]\n[group.g2]\nresources = [\"srv\", \"ip\"]\n",
        "4:21: [group.g2] resources[1] = \"ip\": already a member of [group.g1]",
        "one group only",
    ),
    (
        "group member listed twice",
        "[group.g]\nresources = [\"ip\", \"ip\"]\n",
        "2:20: [group.g] resources[1] = \"ip\": listed twice in this group",
        "remove the repeat",
    ),
    (
        "group inside a group",
        "[group.g1]\nresources = [\"ip\"]\n[group.g2]\nresources = [\"g1\"]\n",
        "4:14: [group.g2] resources[0] = \"g1\": a group's members must be primitives, this is [group.g1]",
        "do not nest",
    ),
    (
        "empty group",
        "[group.g]\nresources = []\n",
        "1:8: [group.g]: a group needs at least one resource",
        "resources = [",
    ),
    (
        "clone of an unknown resource",
        "[clone.c]\nresource = \"srvv\"\n",
        "2:1: [clone.c] resource = \"srvv\": no such resource or group",
        "did you mean \"srv\"?",
    ),
    (
        "clone of a group member",
        "[group.g]\nresources = [\"ip\", \"srv\"]\n[clone.c]\nresource = \"srv\"\n",
        "4:1: [clone.c] resource = \"srv\": \"srv\" is a member of [group.g]",
        "clone the whole group: resource = \"g\"",
    ),
    (
        "clone of a clone",
        "[clone.c1]\nresource = \"srv\"\n[clone.c2]\nresource = \"c1\"\n",
        "4:1: [clone.c2] resource = \"c1\": cannot clone a clone",
        "the primitive or group itself",
    ),
    (
        "clone max zero",
        "[clone.c]\nresource = \"srv\"\nmax = 0\n",
        "3:1: [clone.c] max = 0: out of range 1..=65535",
        "from 1 to 65535",
    ),
    (
        "location on an unknown resource",
        "[[location]]\nresource = \"ipp\"\nnode = \"n1\"\nscore = 10\n",
        "2:1: [[location]] resource = \"ipp\": no such resource",
        "did you mean \"ip\"?",
    ),
    (
        "location on an unknown node",
        "[[location]]\nresource = \"ip\"\nnode = \"N1\"\nscore = 10\n",
        "3:1: [[location]] node = \"N1\": no such node",
        "did you mean \"n1\"? known nodes: \"n1\" and \"n2\"; node names are case-sensitive",
    ),
    (
        "location without node or rule",
        "[[location]]\nresource = \"ip\"\nscore = 10\n",
        "1:1: [[location]] needs node or rule",
        "rule = {",
    ),
    (
        "location with node and rule",
        "[[location]]\nresource = \"ip\"\nnode = \"n1\"\nrule = { attribute = \"a\", op = \"defined\" }\nscore = 10\n",
        "1:1: [[location]] has both node and rule",
        "two [[location]] tables",
    ),
    (
        "location without a score",
        "[[location]]\nresource = \"ip\"\nnode = \"n1\"\n",
        "1:1: missing required key \"score\" in [[location]]",
        "score = \"inf\"",
    ),
    (
        "misspelt infinity",
        "[[location]]\nresource = \"ip\"\nnode = \"n1\"\nscore = \"infinity\"\n",
        "4:1: [[location]] score = \"infinity\": not a score",
        "did you mean \"INFINITY\"?",
    ),
    (
        "score out of range",
        "[[location]]\nresource = \"ip\"\nnode = \"n1\"\nscore = 2000000\n",
        "4:1: [[location]] score = 2000000: score out of range",
        "\"inf\" / \"-inf\"",
    ),
    (
        "fractional score",
        "[[location]]\nresource = \"ip\"\nnode = \"n1\"\nscore = 1.5\n",
        "4:1: [[location]] score = 1.5: scores are whole numbers",
        "integers from -1000000 to 1000000",
    ),
    (
        "unknown rule operator",
        "[[location]]\nresource = \"ip\"\nrule = { attribute = \"site\", op = \"equals\", value = \"a\" }\nscore = 10\n",
        "3:30: [[location]] rule op = \"equals\": expected one of \"eq\", \"ne\", \"lt\", \"gt\", \"lte\", \"gte\", \"defined\" or \"not_defined\"",
        "use \"eq\"",
    ),
    (
        "rule comparison without a value",
        "[[location]]\nresource = \"ip\"\nrule = { attribute = \"site\", op = \"eq\" }\nscore = 10\n",
        "3:1: missing required key \"value\" in [[location]] rule",
        "value = \"...\"",
    ),
    (
        "rule defined with a value",
        "[[location]]\nresource = \"ip\"\nrule = { attribute = \"site\", op = \"defined\", value = \"a\" }\nscore = 10\n",
        "3:46: [[location]] rule value = \"a\": defined and not_defined take no value",
        "remove value",
    ),
    (
        "colocation with itself",
        "[[colocation]]\nresource = \"ip\"\nwith = \"ip\"\nscore = \"inf\"\n",
        "3:1: [[colocation]] with = \"ip\": a resource cannot be colocated with itself",
        "another resource in `with`",
    ),
    (
        "colocation without a score",
        "[[colocation]]\nresource = \"ip\"\nwith = \"srv\"\n",
        "1:1: missing required key \"score\" in [[colocation]]",
        "\"-inf\" to keep them apart",
    ),
    (
        "order on an unknown resource (the SPEC example)",
        "[[order]]\nfirst = \"ipp\"\nthen = \"srv\"\n",
        "2:1: [[order]] first = \"ipp\": no such resource",
        "did you mean \"ip\"?",
    ),
    (
        "order of a resource after itself",
        "[[order]]\nfirst = \"ip\"\nthen = \"ip\"\n",
        "3:1: [[order]] then = \"ip\": a resource cannot be ordered after itself",
        "another resource in `then`",
    ),
    (
        "order kind typo",
        "[[order]]\nfirst = \"ip\"\nthen = \"srv\"\nkind = \"mandatary\"\n",
        "4:1: [[order]] kind = \"mandatary\": expected one of \"mandatory\", \"optional\" or \"serialize\"",
        "did you mean \"mandatory\"?",
    ),
    (
        "order cycle of three",
        "[resource.db]\nagent = \"systemd:db\"\n[[order]]\nfirst = \"ip\"\nthen = \"srv\"\n[[order]]\nfirst = \"srv\"\nthen = \"db\"\n[[order]]\nfirst = \"db\"\nthen = \"ip\"\n",
        "4:1: order cycle: db -> ip -> srv -> db",
        "remove one of these [[order]] constraints",
    ),
    (
        "order cycle through a group",
        "[group.g]\nresources = [\"ip\", \"srv\"]\n[[order]]\nfirst = \"srv\"\nthen = \"ip\"\n",
        "4:1: order cycle: ip -> srv -> ip",
        "members of a group are ordered by their position",
    ),
    (
        "fence on an unknown node",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\", \"n3\"]\nparams = { host = \"10.0.0.9\" }\n",
        "4:18: [[fence]] targets[1] = \"n3\": no such node",
        "known nodes: \"n1\" and \"n2\"",
    ),
    (
        "fence driver typo",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmitool\"\ntargets = [\"n1\"]\n",
        "3:1: [[fence]] driver = \"ipmitool\": expected one of \"ipmi\", \"sbd\", \"watchdog\" or \"external\"",
        "use \"ipmi\"",
    ),
    (
        "duplicate fence names",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { host = \"10.0.0.9\" }\n[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n2\"]\nparams = { host = \"10.0.0.9\" }\n",
        "7:1: [[fence]] name = \"f\": duplicate fence device name (first used on line 23)",
        "its own name",
    ),
    (
        "watchdog fencing without a watchdog",
        "[[fence]]\nname = \"f\"\ndriver = \"watchdog\"\ntargets = [\"n1\", \"n2\"]\n",
        "3:1: [[fence]] driver = \"watchdog\": needs a [watchdog] section",
        "device = \"/dev/watchdog\"",
    ),
    (
        "fence level zero",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nlevel = 0\nparams = { host = \"10.0.0.9\" }\n",
        "5:1: [[fence]] level = 0: out of range 1..=9",
        "from 1 to 9",
    ),
    (
        "fence without targets",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = []\nparams = { host = \"10.0.0.9\" }\n",
        "4:1: [[fence]] targets = []: no targets",
        "list the nodes",
    ),
    (
        "ipmi device without host",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { username = \"admin\" }\n",
        "5:1: missing required key \"host\" in [[fence]] params (driver = \"ipmi\")",
        "host is the BMC's address",
    ),
    (
        "ipmi device without params",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\n",
        "1:1: missing required key \"host\" in [[fence]] params (driver = \"ipmi\")",
        "host is the BMC's address",
    ),
    (
        "ipmi port out of range",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { host = \"10.0.0.9\", port = 70000 }\n",
        "5:31: [[fence]] params.port = 70000: out of range 1..=65535",
        "1 to 65535",
    ),
    (
        "ipmi param typo",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { host = \"10.0.0.9\", pasword_file = \"/etc/p\" }\n",
        "5:31: unknown key \"pasword_file\" in [[fence]] params; did you mean \"password_file\"?",
        "valid keys in [[fence]] params: host, port",
    ),
    (
        "ipmi password in the config",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { host = \"10.0.0.9\", password = \"secret\" }\n",
        "5:31: [[fence]] params.password: ha does not take passwords in the config",
        "set password_file",
    ),
    (
        "ipmi with fence_ipmilan's ip",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { ip = \"10.0.0.9\" }\n",
        "5:12: unknown key \"ip\" in [[fence]] params; did you mean \"host\"?",
        "fence_ipmilan's ip is host here",
    ),
    (
        "ipmi password_file relative",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { host = \"10.0.0.9\", password_file = \"ipmi.pass\" }\n",
        "5:31: [[fence]] params.password_file = \"ipmi.pass\": not an absolute path",
        "start with /",
    ),
    (
        "ipmi host that looks like an option",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { host = \"-oProxy\" }\n",
        "5:12: [[fence]] params.host = \"-oProxy\": may not start with - or contain blanks",
        "as is",
    ),
    (
        "ipmi privlvl typo",
        "[[fence]]\nname = \"f\"\ndriver = \"ipmi\"\ntargets = [\"n1\"]\nparams = { host = \"10.0.0.9\", privlvl = \"admin\" }\n",
        "5:31: [[fence]] params.privlvl = \"admin\": expected one of \"callback\", \"user\", \"operator\" or \"administrator\"",
        "administrator",
    ),
    (
        "external agent sets the plug",
        "[[fence]]\nname = \"f\"\ndriver = \"external\"\ntargets = [\"n1\"]\nparams = { agent = \"fence_x\", plug = \"3\" }\n",
        "5:31: [[fence]] params.plug: set by ha, which sends action=, plug=, port= and nodename= itself",
        "target's node name",
    ),
    (
        "external agent with a list value",
        "[[fence]]\nname = \"f\"\ndriver = \"external\"\ntargets = [\"n1\"]\nparams = { agent = \"fence_x\", ips = [\"a\"] }\n",
        "5:31: [[fence]] params.ips = [\"a\"]: expected a string, number or boolean",
        "one key=value per line",
    ),
    (
        "external agent with a relative path",
        "[[fence]]\nname = \"f\"\ndriver = \"external\"\ntargets = [\"n1\"]\nparams = { agent = \"bin/fence_x\" }\n",
        "5:12: [[fence]] params.agent = \"bin/fence_x\": a relative path",
        "absolute path",
    ),
    (
        "watchdog timeout in milliseconds",
        "[watchdog]\ntimeout = \"1500ms\"\n",
        "2:1: [watchdog] timeout = \"1500ms\": the watchdog counts whole seconds",
        "timeout = \"5s\"",
    ),
    (
        "TOML syntax error",
        "[heartbeat\nport = 1\n",
        "1:11: TOML syntax: unclosed table, expected `]`",
        "toml.io",
    ),
    (
        "the same key twice",
        "[resource.x]\nagent = \"vip\"\nagent = \"nfs\"\n",
        "3:1: TOML syntax: duplicate key",
        "toml.io",
    ),
];

/// (name, whole file, "LINE:COL: message" (0:0: no single place), hint part).
const WHOLE: &[(&str, &str, &str, &str)] = &[
    (
        "no [cluster] section",
        "[[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
        "0:0: missing [cluster] section",
        "start the file with [cluster]",
    ),
    (
        "cluster without a name",
        "[cluster]\nkey_file = \"/etc/ha.key\"\nstonith_enabled = false\n[[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
        "1:2: missing required key \"name\" in [cluster]",
        "name = \"mycluster\"",
    ),
    (
        "relative key_file",
        "[cluster]\nname = \"c\"\nkey_file = \"ha.key\"\nstonith_enabled = false\n[[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
        "3:1: [cluster] key_file = \"ha.key\": not an absolute path",
        "start with /",
    ),
    (
        "no_quorum_policy typo",
        "[cluster]\nname = \"c\"\nkey_file = \"/k\"\nstonith_enabled = false\nno_quorum_policy = \"stopp\"\n[[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
        "5:1: [cluster] no_quorum_policy = \"stopp\": expected one of \"stop\", \"freeze\", \"ignore\" or \"suicide\"",
        "did you mean \"stop\"?",
    ),
    (
        "log target typo",
        "[cluster]\nname = \"c\"\nkey_file = \"/k\"\nstonith_enabled = false\nlog = \"sylog\"\n[[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
        "5:1: [cluster] log = \"sylog\": expected \"stderr\", \"syslog\" or an absolute file path",
        "did you mean \"syslog\"?",
    ),
    (
        "no nodes",
        "[cluster]\nname = \"c\"\nkey_file = \"/k\"\nstonith_enabled = false\n",
        "0:0: no [[node]] configured",
        "one [[node]] table per cluster member",
    ),
    (
        "[node] instead of [[node]]",
        "[cluster]\nname = \"c\"\nkey_file = \"/k\"\nstonith_enabled = false\n[node]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
        "5:2: [node] must be an array of tables",
        "write [[node]] (double brackets)",
    ),
    (
        "cluster name with a slash",
        "[cluster]\nname = \"a/b\"\nkey_file = \"/k\"\nstonith_enabled = false\n[[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n",
        "2:1: [cluster] name = \"a/b\": not a valid name",
        "letters, digits",
    ),
];

/// (name, snippet appended to BASE, "LINE:COL: message", hint part): the
/// config loads, with exactly this warning.
const WARNINGS: &[(&str, &str, &str, &str)] = &[
    (
        "resource banned from every node",
        "[[location]]\nresource = \"srv\"\nnode = \"n1\"\nscore = \"-inf\"\n[[location]]\nresource = \"srv\"\nnode = \"n2\"\nscore = \"-inf\"\n",
        "-1:11: [resource.srv] cannot run on any node",
        "-inf locations",
    ),
    (
        "banned by its group on one node and by itself on the other",
        "[group.g]\nresources = [\"ip\"]\n[[location]]\nresource = \"g\"\nnode = \"n1\"\nscore = \"-inf\"\n[[location]]\nresource = \"ip\"\nnode = \"n2\"\nscore = \"-inf\"\n",
        "-5:11: [resource.ip] cannot run on any node",
        "its group or clone",
    ),
    (
        "inf and -inf for the same node",
        "[[location]]\nresource = \"ip\"\nnode = \"n1\"\nscore = \"inf\"\n[[location]]\nresource = \"ip\"\nnode = \"n1\"\nscore = \"-inf\"\n",
        "5:1: [[location]]: \"ip\" has score inf (line 22) and -inf on node \"n1\"; -inf wins",
        "remove one",
    ),
    (
        "external device without an agent",
        "[[fence]]\nname = \"f\"\ndriver = \"external\"\ntargets = [\"n1\"]\nparams = { ip = \"10.0.0.9\" }\n",
        "5:1: [[fence]] driver = \"external\" without params.agent: this device cannot fence anything",
        "agent is the fence-agents program",
    ),
    (
        "sbd device",
        "[[fence]]\nname = \"f\"\ndriver = \"sbd\"\ntargets = [\"n1\"]\nparams = { device = \"/dev/sdb\" }\n",
        "3:1: [[fence]] driver = \"sbd\": no sbd driver in this build; fencing through this device always fails",
        "at another level",
    ),
    (
        "unknown vip parameter",
        "[resource.x]\nagent = \"vip\"\nparams = { ip = \"10.0.0.7\", cidr_netmaks = 24 }\n",
        "3:29: [resource.x] params.cidr_netmaks: unknown parameter, ignored",
        "did you mean \"cidr_netmask\"?",
    ),
    (
        "rule on an attribute no node has",
        "[[location]]\nresource = \"ip\"\nrule = { attribute = \"site\", op = \"eq\", value = \"a\" }\nscore = 10\n",
        "3:1: [[location]] rule: no node has attribute \"site\"",
        "attributes = {",
    ),
    (
        "expected_votes below the node votes",
        "[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.3\"]\n[quorum]\nexpected_votes = 2\n",
        "6:1: [quorum] expected_votes = 2: less than the 3 votes of the configured nodes",
        "minority",
    ),
    (
        "an OCF agent with a built-in equivalent",
        "[resource.x]\nagent = \"ocf:heartbeat:IPaddr2\"\nparams = { ip = \"10.0.0.7\" }\n",
        "2:1: [resource.x] agent = \"ocf:heartbeat:IPaddr2\": the built-in agent \"vip\" does this without the script",
        "write agent = \"vip\"",
    ),
    (
        "address outside the link network",
        "[heartbeat]\n[[heartbeat.link]]\nnetwork = \"10.0.0.0/30\"\n[[node]]\nname = \"n3\"\nid = 3\naddrs = [\"10.0.0.9\"]\n",
        "7:10: [[node]] addrs[0] = \"10.0.0.9\": outside link 0's network 10.0.0.0/30",
        "check the address or the network",
    ),
];

fn base_lines() -> usize {
    BASE.lines().count()
}

fn show(ds: &[Diagnostic]) -> String {
    ds.iter()
        .map(|d| format!("  {}:{}: {} [{:?}]\n", d.line, d.col, d.message, d.hint))
        .collect()
}

/// Splits "LINE:COL: message" into its parts.
fn split(want: &str) -> (i64, usize, &str) {
    let mut parts = want.splitn(3, ':');
    let line = parts.next().unwrap().parse().unwrap();
    let col = parts.next().unwrap().parse().unwrap();
    (line, col, parts.next().unwrap().trim_start())
}

fn check_one(
    name: &str,
    diagnostics: &[Diagnostic],
    severity: Severity,
    line: usize,
    col: usize,
    message: &str,
    hint: &str,
) -> Result<(), String> {
    let found: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.severity == severity)
        .collect();
    if found.len() != 1 {
        return Err(format!(
            "{name}: expected exactly one {severity:?}, got:\n{}",
            show(diagnostics)
        ));
    }
    let d = found[0];
    if (d.line, d.col, d.message.as_str()) != (line, col, message) {
        return Err(format!(
            "{name}:\n  want {line}:{col}: {message}\n  got  {}:{}: {}\n",
            d.line, d.col, d.message
        ));
    }
    match &d.hint {
        Some(h) if h.contains(hint) && !h.is_empty() => Ok(()),
        other => Err(format!("{name}: hint {other:?} lacks {hint:?}")),
    }
}

// Goal: every appended bad snippet yields exactly its one error, at the
// exact place, with the exact message and a hint. All failures are listed
// together so one run shows every drifted message.
#[test]
fn bad_snippets_report_exact_errors() {
    let mut failures = Vec::new();
    for (name, snippet, want, hint) in APPENDED {
        let text = format!("{BASE}{snippet}");
        let (line, col, message) = split(want);
        match parse(&text, "ha.toml") {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(ds) => {
                let line = (line + base_lines() as i64) as usize;
                if let Err(e) = check_one(name, &ds, Severity::Error, line, col, message, hint) {
                    failures.push(e);
                }
                assert!(ds.iter().all(|d| d.file == "ha.toml"), "{name}");
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        APPENDED.len(),
        failures.join("\n")
    );
}

// Goal: the same for problems that need a whole file (a missing section).
#[test]
fn bad_files_report_exact_errors() {
    let mut failures = Vec::new();
    for (name, text, want, hint) in WHOLE {
        let (line, col, message) = split(want);
        match parse(text, "ha.toml") {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(ds) => {
                if let Err(e) = check_one(
                    name,
                    &ds,
                    Severity::Error,
                    line as usize,
                    col,
                    message,
                    hint,
                ) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        WHOLE.len(),
        failures.join("\n")
    );
}

// Goal: suspicious but legal configs load, with exactly one warning each.
// A negative line counts back into BASE (-1 is BASE's last line).
#[test]
fn suspicious_configs_load_with_exact_warnings() {
    let mut failures = Vec::new();
    for (name, snippet, want, hint) in WARNINGS {
        let text = format!("{BASE}{snippet}");
        let (line, col, message) = split(want);
        let line = if line < 0 {
            (base_lines() as i64 + line) as usize
        } else {
            line as usize + base_lines()
        };
        match parse(&text, "ha.toml") {
            Err(ds) => failures.push(format!("{name}: rejected:\n{}", show(&ds))),
            Ok(loaded) => {
                if let Err(e) = check_one(
                    name,
                    &loaded.warnings,
                    Severity::Warning,
                    line,
                    col,
                    message,
                    hint,
                ) {
                    failures.push(e);
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        WARNINGS.len(),
        failures.join("\n")
    );
}

// Goal: the base itself is clean, so each case's single diagnostic is its own.
#[test]
fn base_config_is_clean() {
    let loaded = parse(BASE, "ha.toml").unwrap_or_else(|ds| panic!("{}", show(&ds)));
    assert!(loaded.warnings.is_empty(), "{}", show(&loaded.warnings));
    assert!(
        APPENDED.len() + WHOLE.len() >= 40,
        "the issue asks for at least 40 bad-config cases"
    );
}

// Goal: problems are all reported in one run, sorted by place, and printed
// as `error: FILE:LINE:COL: message` with the hint on its own line.
#[test]
fn every_error_is_reported_in_order() {
    let text = format!(
        "{BASE}[heartbeat]\nport = 0\nintervall = \"1s\"\n[[order]]\nfirst = \"ipp\"\nthen = \"srv\"\n[[location]]\nresource = \"ip\"\nnode = \"n9\"\nscore = 1\n"
    );
    let ds = parse(&text, "ha.toml").unwrap_err();
    let places: Vec<(usize, usize)> = ds.iter().map(|d| (d.line, d.col)).collect();
    let b = base_lines();
    assert_eq!(
        places,
        [(b + 2, 1), (b + 3, 1), (b + 5, 1), (b + 9, 1)],
        "{}",
        show(&ds)
    );
    assert_eq!(
        ds[2].to_string(),
        format!(
            "error: ha.toml:{}:1: [[order]] first = \"ipp\": no such resource\n  hint: did you mean \"ip\"? known resources: \"ip\" and \"srv\"",
            b + 5
        )
    );
}
