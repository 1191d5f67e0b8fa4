//! Scenario tests of the placement solver and the transition planner.
//!
//! Goal: every placement rule ha takes from pacemaker behaves as "Pacemaker
//! Explained" (Pacemaker 2.1) says. Method: each test builds a small
//! cluster from readable TOML, a state, runs `policy::place` and
//! `transition::plan`, and checks the outcome the cited rule predicts.
//! The expected values are worked out by hand from the rule, not copied
//! from the solver's output.

use std::collections::BTreeMap;

use ha::config::{self, Config, TargetRole};
use ha::policy::{self, ClusterState, FailCount, NodeState, Placement, RuntimeConstraint};
use ha::score::Score;
use ha::transition::{self, Change};

/// A config with `nodes` (attributes optional) and `body` (resources and
/// constraints). Panics with the diagnostics if the TOML is invalid.
fn cfg_with(cluster_extra: &str, nodes: &[(&str, &str)], body: &str) -> Config {
    let mut text = format!(
        "[cluster]\nname = \"t\"\nkey_file = \"/nonexistent/ha.key\"\nstonith_enabled = false\n{cluster_extra}\n\n[[heartbeat.link]]\n\n"
    );
    for (i, (name, attrs)) in nodes.iter().enumerate() {
        text.push_str(&format!(
            "[[node]]\nname = \"{name}\"\nid = {}\naddrs = [\"10.0.0.{}\"]\n",
            i + 1,
            i + 1
        ));
        if !attrs.is_empty() {
            text.push_str(&format!("attributes = {{ {attrs} }}\n"));
        }
        text.push('\n');
    }
    text.push_str(body);
    match config::parse(&text, "test.toml") {
        Ok(l) => l.config,
        Err(d) => panic!(
            "bad test config:\n{}\n{}",
            text,
            d.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn cfg(nodes: &[&str], body: &str) -> Config {
    let nodes: Vec<(&str, &str)> = nodes.iter().map(|n| (*n, "")).collect();
    cfg_with("", &nodes, body)
}

const N3: &[&str] = &["n1", "n2", "n3"];
const N2: &[&str] = &["n1", "n2"];

/// `n` dummy primitives named in order.
fn prims(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("[resource.{n}]\nagent = \"systemd:{n}\"\n\n"))
        .collect()
}

struct St(ClusterState);

impl St {
    fn new(c: &Config) -> St {
        St(ClusterState::all_online(c))
    }
    fn active(mut self, rsc: &str, nodes: &[&str]) -> St {
        self.0
            .active
            .insert(rsc.into(), nodes.iter().map(|s| s.to_string()).collect());
        self
    }
    fn node(mut self, node: &str, s: NodeState) -> St {
        self.0.nodes.insert(node.into(), s);
        self
    }
    fn failcount(mut self, rsc: &str, node: &str, count: u32, at_ms: Option<u64>) -> St {
        self.0.failcounts.insert(
            (rsc.into(), node.into()),
            FailCount {
                count,
                last_failure_ms: at_ms,
            },
        );
        self
    }
    fn failed(mut self, rsc: &str, node: &str) -> St {
        self.0.failed.insert((rsc.into(), node.into()));
        self
    }
    fn no_quorum(mut self) -> St {
        self.0.quorate = false;
        self
    }
    fn now(mut self, ms: u64) -> St {
        self.0.now_ms = ms;
        self
    }
    fn runtime(mut self, rsc: &str, node: &str, score: Score, expires_ms: Option<u64>) -> St {
        self.0.constraints.push(RuntimeConstraint {
            resource: rsc.into(),
            node: node.into(),
            score,
            expires_ms,
        });
        self
    }
    fn role(mut self, rsc: &str, role: TargetRole) -> St {
        self.0.target_roles.insert(rsc.into(), role);
        self
    }
}

fn place(c: &Config, s: &St) -> Placement {
    policy::place(c, &s.0)
}

fn on(p: &Placement, rsc: &str) -> Vec<String> {
    p.nodes(rsc).to_vec()
}

fn assert_on(p: &Placement, rsc: &str, nodes: &[&str]) {
    let want: Vec<String> = nodes.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        on(p, rsc),
        want,
        "placement of {rsc}; full placement: {:?}; scores: {:#?}",
        p.assigned,
        p.scores.get(rsc)
    );
}

fn score_of(p: &Placement, rsc: &str, node: &str) -> Score {
    p.scores[rsc].iter().find(|s| s.node == node).unwrap().score
}

fn changes(c: &Config, s: &St) -> Vec<Change> {
    let p = place(c, s);
    transition::plan(c, &s.0, &p).changes
}

// ---------------------------------------------------------------------
// Location constraints ("Pacemaker Explained", Constraints: "Deciding
// Which Nodes a Resource Can Run On")

#[test]
fn location_positive_score_prefers_the_node() {
    // Location Properties: a positive score is a preference for the node.
    let c = cfg(
        N3,
        &(prims(&["web"]) + "[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 100\n"),
    );
    assert_on(&place(&c, &St::new(&c)), "web", &["n2"]);
}

#[test]
fn location_minus_infinity_bans_the_node() {
    // Location Properties: -INFINITY means the resource must never run there.
    let c = cfg(
        N2,
        &(prims(&["web"]) + "[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = \"-inf\"\n"),
    );
    let p = place(&c, &St::new(&c));
    assert_on(&p, "web", &["n2"]);
    assert_eq!(score_of(&p, "web", "n1"), Score::MINUS_INFINITY);
}

#[test]
fn location_bans_on_every_node_stop_the_resource() {
    // Location Properties: with -INFINITY everywhere the resource cannot run.
    let body = prims(&["web"])
        + "[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = \"-inf\"\n\n[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = \"-inf\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "web", &[]);
    assert!(p.stopped_reason.contains_key("web"));
}

#[test]
fn location_negative_score_avoids_and_never_assigns() {
    // Location Properties: a negative score means "avoid"; and a resource is
    // never assigned to a node whose total score is negative, even when
    // that node is the only one left.
    let body = prims(&["web"]) + "[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = -100\n";
    let c = cfg(N2, &body);
    assert_on(&place(&c, &St::new(&c)), "web", &["n2"]);
    let s = St::new(&c).node("n2", NodeState::Offline);
    // Only n1 is left and its score is negative: pacemaker never assigns a
    // node with a negative score.
    assert_on(&place(&c, &s), "web", &[]);
}

#[test]
fn location_scores_add_up_on_one_node() {
    // Infinity Math: scores from several constraints are added.
    let body = prims(&["web"])
        + "[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = 60\n\n[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = 50\n\n[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 100\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_eq!(score_of(&p, "web", "n1"), Score::new(110));
    assert_on(&p, "web", &["n1"]);
}

#[test]
fn infinity_plus_minus_infinity_is_minus_infinity() {
    // Infinity Math: INFINITY + -INFINITY = -INFINITY.
    let body = prims(&["web"])
        + "[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = \"inf\"\n\n[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = \"-inf\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_eq!(score_of(&p, "web", "n1"), Score::MINUS_INFINITY);
    assert_on(&p, "web", &["n2"]);
}

#[test]
fn location_rule_on_node_attribute() {
    // Rules, Node Attribute Expressions: score applies where the expression holds.
    let nodes = [
        ("n1", "site = \"a\""),
        ("n2", "site = \"b\""),
        ("n3", "site = \"b\""),
    ];
    let body = prims(&["web"])
        + "[[location]]\nresource = \"web\"\nrule = { attribute = \"site\", op = \"eq\", value = \"b\" }\nscore = 100\n";
    let c = cfg_with("", &nodes, &body);
    let p = place(&c, &St::new(&c));
    assert_eq!(score_of(&p, "web", "n2"), Score::new(100));
    assert_eq!(score_of(&p, "web", "n3"), Score::new(100));
    assert_eq!(score_of(&p, "web", "n1"), Score::ZERO);
    assert_on(&p, "web", &["n2"]);
}

#[test]
fn location_rule_compares_numbers_as_numbers() {
    // Node Attribute Expressions: lt/gt compare numerically when both sides
    // are numbers ("10" > "9"), not as strings.
    let nodes = [("n1", "rack = \"9\""), ("n2", "rack = \"10\"")];
    let body = prims(&["web"])
        + "[[location]]\nresource = \"web\"\nrule = { attribute = \"rack\", op = \"gt\", value = \"9\" }\nscore = 100\n";
    let c = cfg_with("", &nodes, &body);
    assert_on(&place(&c, &St::new(&c)), "web", &["n2"]);
}

#[test]
fn location_rule_not_defined() {
    // Node Attribute Expressions: not_defined matches nodes without the attribute.
    let nodes = [("n1", "ssd = \"yes\""), ("n2", "")];
    let body = prims(&["web"])
        + "[[location]]\nresource = \"web\"\nrule = { attribute = \"ssd\", op = \"not_defined\" }\nscore = \"-inf\"\n";
    let c = cfg_with("", &nodes, &body);
    assert_on(&place(&c, &St::new(&c)), "web", &["n1"]);
}

#[test]
fn opt_in_cluster_runs_resources_only_where_allowed() {
    // Opt-In Clusters: with symmetric-cluster=false a resource runs only on
    // nodes a location constraint enables.
    let body =
        prims(&["web", "db"]) + "[[location]]\nresource = \"web\"\nnode = \"n3\"\nscore = 10\n";
    let c = cfg_with(
        "symmetric = false",
        &[("n1", ""), ("n2", ""), ("n3", "")],
        &body,
    );
    let p = place(&c, &St::new(&c));
    assert_on(&p, "web", &["n3"]);
    assert_on(&p, "db", &[]);
    assert_eq!(score_of(&p, "db", "n1"), Score::MINUS_INFINITY);
}

#[test]
fn opt_in_cluster_zero_score_location_allows_the_node() {
    // Opt-In Clusters: a location with score 0 still enables the node.
    let body = prims(&["web"]) + "[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 0\n";
    let c = cfg_with("symmetric = false", &[("n1", ""), ("n2", "")], &body);
    assert_on(&place(&c, &St::new(&c)), "web", &["n2"]);
}

#[test]
fn opt_in_cluster_ignores_stickiness_where_not_allowed() {
    // Opt-In Clusters + stickiness: stickiness only counts on an enabled
    // node, so a resource leaves a node no location allows any more.
    let body = prims(&["web"]) + "[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 10\n";
    let c = cfg_with(
        "symmetric = false\n[defaults]\nstickiness = 1000",
        &[("n1", ""), ("n2", "")],
        &body,
    );
    let s = St::new(&c).active("web", &["n1"]);
    assert_on(&place(&c, &s), "web", &["n2"]);
}

#[test]
fn runtime_move_prefers_node_with_infinity() {
    // crm_resource --move creates a location with INFINITY on the node.
    let c = cfg(N3, &prims(&["web"]));
    let s = St::new(&c)
        .active("web", &["n1"])
        .runtime("web", "n3", Score::INFINITY, None);
    assert_on(&place(&c, &s), "web", &["n3"]);
    assert_eq!(
        changes(&c, &s),
        vec![Change::Move {
            resource: "web".into(),
            from: "n1".into(),
            to: "n3".into()
        }]
    );
}

#[test]
fn runtime_ban_and_its_expiry() {
    // crm_resource --ban creates -INFINITY; a lifetime makes it expire.
    let c = cfg(N2, &prims(&["web"]));
    let s = St::new(&c).active("web", &["n1"]).now(5_000).runtime(
        "web",
        "n1",
        Score::MINUS_INFINITY,
        Some(10_000),
    );
    assert_on(&place(&c, &s), "web", &["n2"]);
    let s = s.now(10_000);
    assert_on(&place(&c, &s), "web", &["n1"]);
}

// ---------------------------------------------------------------------
// Stickiness and ties ("Resource Meta-Attributes": resource-stickiness;
// "Utilization and Placement Strategy": allocation details)

#[test]
fn stickiness_keeps_resource_on_current_node() {
    // resource-stickiness: how much a resource prefers to stay where it is.
    let body = prims(&["web"])
        + "stickiness = 200\n[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 100\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).active("web", &["n1"]);
    let p = place(&c, &s);
    assert_on(&p, "web", &["n1"]);
    assert_eq!(score_of(&p, "web", "n1"), Score::new(200));
    assert!(changes(&c, &s).is_empty());
}

#[test]
fn location_stronger_than_stickiness_moves_resource() {
    // resource-stickiness vs location: the higher total wins.
    let body = prims(&["web"])
        + "stickiness = 50\n[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 100\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).active("web", &["n1"]);
    assert_on(&place(&c, &s), "web", &["n2"]);
}

#[test]
fn default_stickiness_comes_from_defaults() {
    // rsc_defaults: resource-stickiness set once for all resources.
    let body = prims(&["web"]) + "[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 100\n";
    let c = cfg_with(
        "\n[defaults]\nstickiness = 150",
        &[("n1", ""), ("n2", "")],
        &body,
    );
    let s = St::new(&c).active("web", &["n1"]);
    assert_on(&place(&c, &s), "web", &["n1"]);
}

#[test]
fn tie_goes_to_node_with_fewer_assigned_resources() {
    // Allocation details: among equal scores the node with the fewest
    // resources assigned so far is chosen, spreading resources.
    let c = cfg(N3, &prims(&["a", "b", "c"]));
    let p = place(&c, &St::new(&c));
    assert_on(&p, "a", &["n1"]);
    assert_on(&p, "b", &["n2"]);
    assert_on(&p, "c", &["n3"]);
}

#[test]
fn tie_prefers_the_node_already_running_it() {
    // Allocation details: with equal score and load, stay where it runs.
    let c = cfg(N3, &prims(&["a"]));
    let s = St::new(&c).active("a", &["n3"]);
    assert_on(&place(&c, &s), "a", &["n3"]);
}

#[test]
fn tie_finally_broken_by_node_name() {
    // SPEC section 4: last tie-breaker is the node name in byte order
    // (config order does not matter).
    let c = cfg(&["zeta", "alpha", "mid"], &prims(&["a"]));
    assert_on(&place(&c, &St::new(&c)), "a", &["alpha"]);
}

#[test]
fn running_resources_do_not_count_as_load_before_they_are_placed() {
    // Allocation details: load counts assignments made in this run, so
    // without stickiness, resources already on n2 spread out again.
    let c = cfg(N2, &prims(&["a", "b", "c"]));
    let s = St::new(&c)
        .active("a", &["n2"])
        .active("b", &["n2"])
        .active("c", &["n2"]);
    let p = place(&c, &s);
    assert_on(&p, "a", &["n2"]);
    assert_on(&p, "b", &["n1"]);
    assert_on(&p, "c", &["n2"]);
}

// ---------------------------------------------------------------------
// Colocation ("Placing Resources Relative to other Resources")

#[test]
fn mandatory_colocation_follows_the_primary() {
    // Mandatory Placement: score INFINITY, the dependent runs where `with` runs.
    let body = prims(&["ip", "web"])
        + "[[location]]\nresource = \"ip\"\nnode = \"n3\"\nscore = 100\n\n[[colocation]]\nresource = \"web\"\nwith = \"ip\"\nscore = \"inf\"\n";
    let c = cfg(N3, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "ip", &["n3"]);
    assert_on(&p, "web", &["n3"]);
}

#[test]
fn mandatory_colocation_dependent_stops_when_primary_cannot_run() {
    // Mandatory Placement: if `with` cannot run anywhere, neither can the dependent.
    let body = prims(&["ip", "web"])
        + "target_role = \"stopped\"\n[[colocation]]\nresource = \"ip\"\nwith = \"web\"\nscore = \"inf\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "web", &[]);
    assert_on(&p, "ip", &[]);
}

#[test]
fn dependent_ban_is_folded_into_the_primary() {
    // Mandatory Placement: the primary is placed first, but with the
    // dependent's scores folded in, so a node the dependent may not use is
    // avoided by the primary too.
    let body = prims(&["ip", "web"])
        + "[[location]]\nresource = \"ip\"\nnode = \"n1\"\nscore = 100\n\n[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = \"-inf\"\n\n[[colocation]]\nresource = \"web\"\nwith = \"ip\"\nscore = \"inf\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    // The dependent's -INFINITY is folded into ip's scores (n1 -inf), so ip
    // goes to n2 and web follows: pacemaker lets the dependent's
    // preferences influence the primary.
    assert_on(&p, "ip", &["n2"]);
    assert_on(&p, "web", &["n2"]);
}

#[test]
fn anti_colocation_minus_infinity_keeps_apart() {
    // Mandatory Placement with -INFINITY: never on the same node.
    let body = prims(&["a", "b"])
        + "[[location]]\nresource = \"a\"\nnode = \"n1\"\nscore = 10\n\n[[location]]\nresource = \"b\"\nnode = \"n1\"\nscore = 50\n\n[[colocation]]\nresource = \"b\"\nwith = \"a\"\nscore = \"-inf\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_ne!(on(&p, "a"), on(&p, "b"));
    assert_eq!(on(&p, "a").len(), 1);
}

#[test]
fn anti_colocation_with_no_other_node_stops_dependent() {
    // Mandatory Placement with -INFINITY: if the only node runs `with`,
    // the dependent cannot run.
    let body =
        prims(&["a", "b"]) + "[[colocation]]\nresource = \"b\"\nwith = \"a\"\nscore = \"-inf\"\n";
    let c = cfg(&["n1"], &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "a", &["n1"]);
    assert_on(&p, "b", &[]);
}

#[test]
fn optional_colocation_adds_score_on_primary_node() {
    // Advisory Placement: a finite score is added on the node of `with`.
    let body = prims(&["a", "b"])
        + "[[location]]\nresource = \"a\"\nnode = \"n2\"\nscore = 10\n\n[[location]]\nresource = \"b\"\nnode = \"n1\"\nscore = 50\n\n[[colocation]]\nresource = \"b\"\nwith = \"a\"\nscore = 100\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    // a: n2 10 + merged b preference (0.0001*50 -> 1 on n1): n2 11 vs n1 1.
    assert_on(&p, "a", &["n2"]);
    assert_eq!(score_of(&p, "b", "n2"), Score::new(100));
    assert_on(&p, "b", &["n2"]);
}

#[test]
fn optional_colocation_loses_to_stronger_location() {
    // Advisory Placement: the dependent may run elsewhere if other
    // preferences are stronger.
    let body = prims(&["a", "b"])
        + "[[location]]\nresource = \"a\"\nnode = \"n2\"\nscore = 10\n\n[[location]]\nresource = \"b\"\nnode = \"n1\"\nscore = 500\n\n[[colocation]]\nresource = \"b\"\nwith = \"a\"\nscore = 100\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "a", &["n2"]);
    assert_on(&p, "b", &["n1"]);
}

#[test]
fn optional_negative_colocation_avoids_primary_node() {
    // Advisory Placement with a negative score: prefer another node.
    let body =
        prims(&["a", "b"]) + "[[colocation]]\nresource = \"b\"\nwith = \"a\"\nscore = -100\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).active("a", &["n1"]).active("b", &["n1"]);
    let p = place(&c, &s);
    assert_on(&p, "a", &["n1"]);
    assert_on(&p, "b", &["n2"]);
}

#[test]
fn optional_negative_colocation_is_rolled_back_when_nothing_else_fits() {
    // Advisory Placement: an optional constraint never makes a resource
    // unable to run; if it would, it is ignored.
    let body = prims(&["a", "b"])
        + "[[location]]\nresource = \"b\"\nnode = \"n2\"\nscore = \"-inf\"\n\n[[colocation]]\nresource = \"b\"\nwith = \"a\"\nscore = -100\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).active("a", &["n1"]);
    let p = place(&c, &s);
    assert_on(&p, "b", &["n1"]);
}

#[test]
fn dependent_preference_pulls_the_primary() {
    // Colocation: the dependent's preferences are folded into the primary
    // (scaled by score/INFINITY) before the primary is placed.
    let body = prims(&["a", "b"])
        + "[[location]]\nresource = \"b\"\nnode = \"n2\"\nscore = 300\n\n[[colocation]]\nresource = \"b\"\nwith = \"a\"\nscore = \"inf\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_eq!(score_of(&p, "a", "n2"), Score::new(300));
    assert_on(&p, "a", &["n2"]);
    assert_on(&p, "b", &["n2"]);
}

#[test]
fn colocation_with_a_group_uses_the_whole_group() {
    // Group Constraints: a resource colocated with a group runs with it.
    let body = prims(&["ip", "site", "mon"])
        + "[group.web]\nresources = [\"ip\", \"site\"]\n\n[[location]]\nresource = \"web\"\nnode = \"n2\"\nscore = 100\n\n[[colocation]]\nresource = \"mon\"\nwith = \"web\"\nscore = \"inf\"\n";
    let c = cfg(N3, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "ip", &["n2"]);
    assert_on(&p, "site", &["n2"]);
    assert_on(&p, "mon", &["n2"]);
}

#[test]
fn group_colocated_with_primitive_follows_it() {
    // Group Constraints: a group as dependent follows `with` as a whole.
    let body = prims(&["db", "ip", "site"])
        + "[group.web]\nresources = [\"ip\", \"site\"]\n\n[[location]]\nresource = \"db\"\nnode = \"n3\"\nscore = 100\n\n[[colocation]]\nresource = \"web\"\nwith = \"db\"\nscore = \"inf\"\n";
    let c = cfg(N3, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "db", &["n3"]);
    assert_on(&p, "ip", &["n3"]);
    assert_on(&p, "site", &["n3"]);
}

// ---------------------------------------------------------------------
// Groups ("Groups - A Syntactic Shortcut")

#[test]
fn group_members_share_a_node() {
    // Groups: members are colocated; the group's location applies to all.
    let body = prims(&["ip", "fs", "app"])
        + "[group.web]\nresources = [\"ip\", \"fs\", \"app\"]\n\n[[location]]\nresource = \"web\"\nnode = \"n3\"\nscore = 50\n";
    let c = cfg(N3, &body);
    let p = place(&c, &St::new(&c));
    for m in ["ip", "fs", "app"] {
        assert_on(&p, m, &["n3"]);
    }
}

#[test]
fn group_members_start_in_order_and_stop_in_reverse() {
    // Groups: "resources are started in the order they appear, stopped in
    // the reverse order".
    let body = prims(&["ip", "fs", "app"]) + "[group.web]\nresources = [\"ip\", \"fs\", \"app\"]\n";
    let c = cfg(N2, &body);
    let s = St::new(&c);
    let p = place(&c, &s);
    let g = transition::plan(&c, &s.0, &p);
    let order: Vec<&str> = g.changes.iter().map(|c| c.resource()).collect();
    assert_eq!(order, vec!["ip", "fs", "app"]);
    // Stop: set target role stopped on the group.
    let s = St::new(&c)
        .active("ip", &["n1"])
        .active("fs", &["n1"])
        .active("app", &["n1"])
        .role("web", TargetRole::Stopped);
    let p = place(&c, &s);
    let g = transition::plan(&c, &s.0, &p);
    let order: Vec<&str> = g.changes.iter().map(|c| c.resource()).collect();
    assert_eq!(order, vec!["app", "fs", "ip"]);
}

#[test]
fn group_member_that_cannot_run_stops_the_members_after_it() {
    // Groups: if a member cannot run, the members after it cannot either
    // (implied colocation + order), the ones before it still run.
    let body = prims(&["ip", "fs", "app"])
        + "[group.web]\nresources = [\"ip\", \"fs\", \"app\"]\n\n[[location]]\nresource = \"fs\"\nnode = \"n1\"\nscore = \"-inf\"\n\n[[location]]\nresource = \"fs\"\nnode = \"n2\"\nscore = \"-inf\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_eq!(on(&p, "ip").len(), 1);
    assert_on(&p, "fs", &[]);
    assert_on(&p, "app", &[]);
}

#[test]
fn group_stickiness_counts_once_per_active_member() {
    // Group Stickiness: stickiness of a group is the sum of its active
    // members' stickiness (3 members x 40 = 120 > 100).
    let body = prims(&["a", "b", "c"])
        + "[group.g]\nresources = [\"a\", \"b\", \"c\"]\nstickiness = 40\n\n[[location]]\nresource = \"g\"\nnode = \"n2\"\nscore = 100\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("a", &["n1"])
        .active("b", &["n1"])
        .active("c", &["n1"]);
    let p = place(&c, &s);
    assert_eq!(score_of(&p, "a", "n1"), Score::new(120));
    assert_on(&p, "c", &["n1"]);
    // With two members active the sum is 80 < 100: the group moves.
    let s = St::new(&c).active("a", &["n1"]).active("b", &["n1"]);
    assert_on(&place(&c, &s), "a", &["n2"]);
}

#[test]
fn group_location_counts_once_not_per_member() {
    // Group Constraints: a location on a group is a location on the group
    // as a whole (carried by its first member).
    let body = prims(&["a", "b"])
        + "[group.g]\nresources = [\"a\", \"b\"]\n\n[[location]]\nresource = \"g\"\nnode = \"n2\"\nscore = 100\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_eq!(score_of(&p, "a", "n2"), Score::new(100));
    assert_eq!(score_of(&p, "g", "n2"), Score::new(100));
}

#[test]
fn group_member_failure_threshold_moves_whole_group() {
    // Failure Response: a member banned by migration-threshold pulls the
    // group to another node (its ban is folded into the first member).
    let body = prims(&["ip", "app"])
        + "migration_threshold = 2\n[group.web]\nresources = [\"ip\", \"app\"]\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("ip", &["n1"])
        .active("app", &["n1"])
        .failcount("app", "n1", 2, None);
    let p = place(&c, &s);
    assert_on(&p, "ip", &["n2"]);
    assert_on(&p, "app", &["n2"]);
}

#[test]
fn restarting_a_group_member_restarts_later_members() {
    // Groups (implied ordering): when a member restarts, the members
    // after it restart too.
    let body = prims(&["ip", "fs", "app"]) + "[group.web]\nresources = [\"ip\", \"fs\", \"app\"]\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("ip", &["n1"])
        .active("fs", &["n1"])
        .active("app", &["n1"])
        .failed("fs", "n1")
        .failcount("fs", "n1", 1, None);
    let ch = changes(&c, &s);
    assert_eq!(
        ch,
        vec![
            Change::Recover {
                resource: "fs".into(),
                from: "n1".into(),
                to: "n1".into()
            },
            Change::Restart {
                resource: "app".into(),
                node: "n1".into(),
                because: "fs".into()
            },
        ]
    );
}

// ---------------------------------------------------------------------
// Clones ("Clones - Resources That Can Have Multiple Active Instances")

#[test]
fn clone_runs_one_instance_per_node_by_default() {
    // Clone Options: clone-max defaults to the number of nodes, clone-node-max to 1.
    let body = prims(&["ping"]) + "[clone.pings]\nresource = \"ping\"\n";
    let c = cfg(N3, &body);
    assert_on(&place(&c, &St::new(&c)), "pings", &["n1", "n2", "n3"]);
}

#[test]
fn clone_max_limits_instances() {
    // Clone Options: clone-max is the number of instances cluster-wide.
    let body = prims(&["ping"]) + "[clone.pings]\nresource = \"ping\"\nmax = 2\n";
    let c = cfg(N3, &body);
    assert_eq!(on(&place(&c, &St::new(&c)), "pings").len(), 2);
}

#[test]
fn anonymous_clone_runs_at_most_one_instance_per_node() {
    // Clone Options: anonymous clones are identical on every node, so
    // pacemaker runs at most one instance per node even with
    // clone-node-max > 1 (crm_simulate 2.1.5 places 3 of max=6 on 3 nodes).
    let body = prims(&["w"]) + "[clone.ws]\nresource = \"w\"\nmax = 4\nnode_max = 2\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "ws", &["n1", "n2"]);
    let scores = &p.scores;
    let placed: usize = (0..4)
        .filter(|i| {
            scores[&format!("w:{i}")]
                .iter()
                .any(|s| s.score.value() >= 0)
        })
        .count();
    assert_eq!(placed, 2, "{scores:?}");
}

#[test]
fn clone_instances_stay_where_they_run() {
    // Clone Stickiness: running instances are kept where they are.
    let body = prims(&["ping"]) + "[clone.pings]\nresource = \"ping\"\nmax = 2\n";
    let c = cfg(N3, &body);
    let s = St::new(&c).active("pings", &["n2", "n3"]);
    assert_on(&place(&c, &s), "pings", &["n2", "n3"]);
    assert!(changes(&c, &s).is_empty());
}

#[test]
fn clone_skips_banned_and_standby_nodes() {
    // Clones follow location constraints and node standby like primitives.
    let body = prims(&["ping"])
        + "[clone.pings]\nresource = \"ping\"\n\n[[location]]\nresource = \"pings\"\nnode = \"n1\"\nscore = \"-inf\"\n";
    let c = cfg(N3, &body);
    let s = St::new(&c).node("n3", NodeState::Standby);
    assert_on(&place(&c, &s), "pings", &["n2"]);
}

#[test]
fn primitive_colocated_with_clone_runs_only_where_an_instance_runs() {
    // Clone Constraints: colocation with a clone means with any instance.
    let body = prims(&["ping", "web"])
        + "[clone.pings]\nresource = \"ping\"\nmax = 1\n\n[[location]]\nresource = \"pings\"\nnode = \"n2\"\nscore = 100\n\n[[colocation]]\nresource = \"web\"\nwith = \"pings\"\nscore = \"inf\"\n";
    let c = cfg(N3, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "pings", &["n2"]);
    assert_on(&p, "web", &["n2"]);
}

#[test]
fn clone_failure_threshold_bans_the_clone_on_that_node() {
    // Failure Response with anonymous clones: the whole clone leaves the node.
    let body = prims(&["ping"]) + "migration_threshold = 1\n[clone.pings]\nresource = \"ping\"\n";
    let c = cfg(N3, &body);
    let s = St::new(&c)
        .active("pings", &["n1", "n2", "n3"])
        .failcount("ping", "n2", 1, None);
    assert_on(&place(&c, &s), "pings", &["n1", "n3"]);
}

// ---------------------------------------------------------------------
// Priority and target role ("Resource Meta-Attributes")

#[test]
fn higher_priority_resource_is_placed_first() {
    // priority: higher-priority resources are assigned first, so when
    // scores tie they get the first pick of the nodes (the emptiest).
    let body = "[resource.low]\nagent = \"systemd:low\"\n\n[resource.high]\nagent = \"systemd:high\"\npriority = 10\n";
    let c = cfg(N2, body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "high", &["n1"]);
    assert_on(&p, "low", &["n2"]);
}

#[test]
fn equal_priority_keeps_config_order() {
    // Allocation details: resources with equal priority are assigned in
    // configuration order.
    let c = cfg(N2, &prims(&["second", "first"]));
    let p = place(&c, &St::new(&c));
    assert_on(&p, "second", &["n1"]);
    assert_on(&p, "first", &["n2"]);
}

#[test]
fn colocation_primary_is_assigned_before_its_dependent_whatever_the_priority() {
    // Colocation: "the cluster decides where to put `with` first", even
    // when the dependent has the higher priority.
    let body = "[resource.dep]\nagent = \"systemd:d\"\npriority = 10\n\n[resource.prim]\nagent = \"systemd:p\"\n\n[[colocation]]\nresource = \"dep\"\nwith = \"prim\"\nscore = \"-inf\"\n";
    let c = cfg(&["n1"], body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "prim", &["n1"]);
    assert_on(&p, "dep", &[]);
}

#[test]
fn target_role_stopped_stops_the_resource() {
    // target-role=Stopped: the cluster keeps the resource stopped.
    let body = prims(&["web"]) + "target_role = \"stopped\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).active("web", &["n1"]);
    assert_on(&place(&c, &s), "web", &[]);
    assert_eq!(
        changes(&c, &s),
        vec![Change::Stop {
            resource: "web".into(),
            node: "n1".into()
        }]
    );
}

#[test]
fn runtime_target_role_overrides_config() {
    // crm_resource --meta target-role: `ha resource start` wins over the file.
    let body = prims(&["web"]) + "target_role = \"stopped\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).role("web", TargetRole::Started);
    assert_eq!(on(&place(&c, &s), "web").len(), 1);
}

#[test]
fn group_target_role_is_inherited_by_members() {
    // Resource Meta-Attributes are inherited by group members.
    let body =
        prims(&["a", "b"]) + "[group.g]\nresources = [\"a\", \"b\"]\ntarget_role = \"stopped\"\n";
    let c = cfg(N2, &body);
    let p = place(&c, &St::new(&c));
    assert_on(&p, "a", &[]);
    assert_on(&p, "b", &[]);
}

#[test]
fn unmanaged_resource_is_left_where_it_is() {
    // is-managed=false: the cluster neither starts, stops nor moves it.
    let body = prims(&["web"])
        + "managed = false\n[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = \"-inf\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).active("web", &["n1"]);
    assert_on(&place(&c, &s), "web", &["n1"]);
    assert!(changes(&c, &s).is_empty());
}

// ---------------------------------------------------------------------
// Nodes ("Node Attributes": standby; node health and membership)

#[test]
fn standby_node_runs_nothing() {
    // standby: a node in standby cannot run resources; they move away.
    let c = cfg(N2, &prims(&["web"]));
    let s = St::new(&c)
        .active("web", &["n1"])
        .node("n1", NodeState::Standby);
    assert_on(&place(&c, &s), "web", &["n2"]);
    assert_eq!(
        changes(&c, &s),
        vec![Change::Move {
            resource: "web".into(),
            from: "n1".into(),
            to: "n2".into()
        }]
    );
}

#[test]
fn offline_node_resources_start_elsewhere() {
    // A cleanly offline node runs nothing: its resources start elsewhere.
    let c = cfg(N2, &prims(&["web"]));
    let s = St::new(&c)
        .active("web", &["n1"])
        .node("n1", NodeState::Offline);
    assert_eq!(
        changes(&c, &s),
        vec![Change::Start {
            resource: "web".into(),
            node: "n2".into()
        }]
    );
}

#[test]
fn unclean_node_is_fenced_before_recovery_elsewhere() {
    // Fencing: resources of a lost node are recovered only after it is fenced.
    let c = cfg(N2, &prims(&["web"]));
    let s = St::new(&c)
        .active("web", &["n1"])
        .node("n1", NodeState::Unclean);
    let p = place(&c, &s);
    let g = transition::plan(&c, &s.0, &p);
    assert_eq!(g.changes[0], Change::Fence { node: "n1".into() });
    let start = g
        .actions
        .iter()
        .find(|a| a.op == transition::Op::Start)
        .unwrap();
    // Nothing but the fence may run first; the start waits for it.
    let first = g.runnable(&Default::default());
    assert!(!first.contains(&start.id));
    assert_eq!(g.actions[first[0]].op, transition::Op::Fence);
}

#[test]
fn maintenance_node_resources_are_left_alone() {
    // maintenance: resources on the node are unmanaged; nothing moves.
    let c = cfg(N2, &prims(&["web"]));
    let s = St::new(&c)
        .active("web", &["n1"])
        .node("n1", NodeState::Maintenance);
    assert!(changes(&c, &s).is_empty());
}

// ---------------------------------------------------------------------
// Failures ("Handling Resource Failure": migration-threshold, failure-timeout)

#[test]
fn failed_resource_recovers_in_place_below_threshold() {
    // Failure Response: a failed resource is recovered (stop + start) on
    // the same node until migration-threshold is reached.
    let body = prims(&["web"]) + "migration_threshold = 3\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("web", &["n1"])
        .failed("web", "n1")
        .failcount("web", "n1", 1, None);
    assert_eq!(
        changes(&c, &s),
        vec![Change::Recover {
            resource: "web".into(),
            from: "n1".into(),
            to: "n1".into()
        }]
    );
}

#[test]
fn failcount_reaching_threshold_bans_the_node() {
    // migration-threshold: after N failures the resource may not run there.
    let body = prims(&["web"]) + "migration_threshold = 3\nstickiness = 1000\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("web", &["n1"])
        .failed("web", "n1")
        .failcount("web", "n1", 3, None);
    let p = place(&c, &s);
    assert_on(&p, "web", &["n2"]);
    assert_eq!(score_of(&p, "web", "n1"), Score::MINUS_INFINITY);
    assert_eq!(
        changes(&c, &s),
        vec![Change::Recover {
            resource: "web".into(),
            from: "n1".into(),
            to: "n2".into()
        }]
    );
}

#[test]
fn failure_timeout_expires_failcounts() {
    // failure-timeout: after this much time without a new failure the
    // fail-count is ignored and the node is usable again.
    let body = prims(&["web"])
        + "migration_threshold = 1\nfailure_timeout = \"60s\"\n[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = 10\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .failcount("web", "n1", 1, Some(1_000_000))
        .now(1_030_000);
    assert_on(&place(&c, &s), "web", &["n2"]);
    let s = s.now(1_061_000);
    assert_on(&place(&c, &s), "web", &["n1"]);
}

#[test]
fn migration_threshold_infinity_never_bans() {
    // migration-threshold=INFINITY (the default) never forces a resource
    // away, however many failures.
    let body = prims(&["web"]) + "migration_threshold = \"inf\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("web", &["n1"])
        .failcount("web", "n1", 50, None);
    assert_on(&place(&c, &s), "web", &["n1"]);
}

// ---------------------------------------------------------------------
// Quorum ("Cluster Options": no-quorum-policy)

#[test]
fn no_quorum_stop_stops_everything() {
    // no-quorum-policy=stop: stop all resources in the partition.
    let c = cfg(N2, &prims(&["web"]));
    let s = St::new(&c).active("web", &["n1"]).no_quorum();
    assert_on(&place(&c, &s), "web", &[]);
}

#[test]
fn no_quorum_freeze_keeps_running_starts_nothing() {
    // no-quorum-policy=freeze: continue running resources, start nothing
    // that is not running.
    let c = cfg_with(
        "no_quorum_policy = \"freeze\"",
        &[("n1", ""), ("n2", "")],
        &prims(&["a", "b"]),
    );
    let s = St::new(&c).active("a", &["n2"]).no_quorum();
    let p = place(&c, &s);
    assert_on(&p, "a", &["n2"]);
    assert_on(&p, "b", &[]);
    // A running resource is still placed as usual (crm_simulate moves it
    // off a standby node under freeze).
    let s = St::new(&c)
        .active("a", &["n2"])
        .node("n2", NodeState::Standby)
        .no_quorum();
    assert_on(&place(&c, &s), "a", &["n1"]);
}

#[test]
fn no_quorum_ignore_carries_on() {
    // no-quorum-policy=ignore: continue all resource management.
    let c = cfg_with(
        "no_quorum_policy = \"ignore\"",
        &[("n1", ""), ("n2", "")],
        &prims(&["a"]),
    );
    let s = St::new(&c).no_quorum();
    assert_eq!(on(&place(&c, &s), "a").len(), 1);
}

#[test]
fn no_quorum_suicide_stops_everything_like_stop() {
    // no-quorum-policy=suicide: the partition fences itself; nothing runs.
    let c = cfg_with(
        "no_quorum_policy = \"suicide\"",
        &[("n1", ""), ("n2", "")],
        &prims(&["a"]),
    );
    let s = St::new(&c).active("a", &["n1"]).no_quorum();
    assert_on(&place(&c, &s), "a", &[]);
}

// ---------------------------------------------------------------------
// Ordering ("Specifying the Order in which Resources Should Start/Stop")

fn position(ch: &[Change], rsc: &str) -> usize {
    ch.iter()
        .position(|c| c.resource() == rsc)
        .unwrap_or_else(|| panic!("{rsc} not in {ch:?}"))
}

#[test]
fn mandatory_order_starts_first_before_then() {
    // Ordering: kind=Mandatory, then starts only after first started.
    let body =
        prims(&["app", "db"]) + "[[order]]\nfirst = \"db\"\nthen = \"app\"\nkind = \"mandatory\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c);
    let p = place(&c, &s);
    let g = transition::plan(&c, &s.0, &p);
    let start = |r: &str| g.actions.iter().find(|a| a.resource == r).unwrap().id;
    assert!(g.edges.contains(&(start("db"), start("app"))));
    let first = g.runnable(&Default::default());
    assert!(first.contains(&start("db")) && !first.contains(&start("app")));
    let done = [start("db")].into_iter().collect();
    assert!(g.runnable(&done).contains(&start("app")));
}

#[test]
fn symmetrical_order_stops_in_reverse() {
    // Ordering: symmetrical=true, then stops before first.
    let body = prims(&["db", "app"]) + "[[order]]\nfirst = \"db\"\nthen = \"app\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("db", &["n1"])
        .active("app", &["n1"])
        .role("db", TargetRole::Stopped);
    let ch = changes(&c, &s);
    assert!(position(&ch, "app") < position(&ch, "db"), "{ch:?}");
}

#[test]
fn mandatory_order_restarts_then_when_first_restarts() {
    // Ordering: with kind=Mandatory, if first restarts, then restarts too.
    let body = prims(&["db", "app"]) + "[[order]]\nfirst = \"db\"\nthen = \"app\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("db", &["n1"])
        .active("app", &["n2"])
        .failed("db", "n1")
        .failcount("db", "n1", 1, None);
    let ch = changes(&c, &s);
    assert_eq!(
        ch,
        vec![
            Change::Recover {
                resource: "db".into(),
                from: "n1".into(),
                to: "n1".into()
            },
            Change::Restart {
                resource: "app".into(),
                node: "n2".into(),
                because: "db".into()
            },
        ]
    );
}

#[test]
fn optional_order_does_not_restart_then() {
    // Ordering: kind=Optional only orders actions that happen anyway.
    let body =
        prims(&["db", "app"]) + "[[order]]\nfirst = \"db\"\nthen = \"app\"\nkind = \"optional\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c)
        .active("db", &["n1"])
        .active("app", &["n2"])
        .failed("db", "n1");
    let ch = changes(&c, &s);
    assert_eq!(ch.len(), 1, "{ch:?}");
}

#[test]
fn mandatory_order_then_cannot_start_without_first() {
    // Ordering: kind=Mandatory, "the then action will never be initiated
    // unless the first action completed": first stopped keeps then from
    // starting; a then that already runs is left running (only starts are
    // blocked, as crm_simulate shows).
    let body = prims(&["db", "app"]) + "[[order]]\nfirst = \"db\"\nthen = \"app\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).role("db", TargetRole::Stopped);
    let p = place(&c, &s);
    assert_on(&p, "db", &[]);
    assert_on(&p, "app", &[]);
    assert!(
        p.stopped_reason["app"].contains("db"),
        "{:?}",
        p.stopped_reason
    );
    let s = St::new(&c)
        .role("db", TargetRole::Stopped)
        .active("app", &["n2"]);
    assert_on(&place(&c, &s), "app", &["n2"]);
}

#[test]
fn mandatory_colocation_dependent_cannot_start_when_primary_start_is_blocked() {
    // Colocation + ordering: the start of a resource colocated (INFINITY)
    // with one whose start is blocked is blocked too.
    let body = prims(&["db", "app", "ip"])
        + "[[order]]\nfirst = \"db\"\nthen = \"app\"\n\n[[colocation]]\nresource = \"ip\"\nwith = \"app\"\nscore = \"inf\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).role("db", TargetRole::Stopped);
    let p = place(&c, &s);
    assert_on(&p, "app", &[]);
    assert_on(&p, "ip", &[]);
}

#[test]
fn serialize_order_never_runs_both_actions_at_once() {
    // Ordering: kind=Serialize, the two actions never run concurrently.
    let body =
        prims(&["a", "b"]) + "[[order]]\nfirst = \"a\"\nthen = \"b\"\nkind = \"serialize\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c);
    let p = place(&c, &s);
    let g = transition::plan(&c, &s.0, &p);
    assert_eq!(g.runnable(&Default::default()).len(), 1);
}

#[test]
fn unrelated_actions_run_in_parallel() {
    // Transition graph: actions without an order between them may run at once.
    let c = cfg(N3, &prims(&["a", "b", "c"]));
    let s = St::new(&c);
    let p = place(&c, &s);
    let g = transition::plan(&c, &s.0, &p);
    assert_eq!(g.runnable(&Default::default()).len(), 3);
}

#[test]
fn move_stops_before_it_starts() {
    // A move is a stop on the old node then a start on the new one.
    let c = cfg(N2, &prims(&["web"]));
    let s = St::new(&c)
        .active("web", &["n1"])
        .node("n1", NodeState::Standby);
    let p = place(&c, &s);
    let g = transition::plan(&c, &s.0, &p);
    assert_eq!(g.actions.len(), 2);
    let stop = g
        .actions
        .iter()
        .find(|a| a.op == transition::Op::Stop)
        .unwrap()
        .id;
    let start = g
        .actions
        .iter()
        .find(|a| a.op == transition::Op::Start)
        .unwrap()
        .id;
    assert_eq!(g.runnable(&Default::default()), vec![stop]);
    assert_eq!(g.runnable(&[stop].into_iter().collect()), vec![start]);
}

// ---------------------------------------------------------------------
// Explanations and determinism

#[test]
fn scores_text_names_each_contribution() {
    // crm_simulate -s shows allocation scores; ha also says what made them.
    let body = prims(&["db", "web"])
        + "stickiness = 50\n[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = 100\n\n[[colocation]]\nresource = \"web\"\nwith = \"db\"\nscore = \"-inf\"\n";
    let c = cfg(N2, &body);
    let s = St::new(&c).active("web", &["n1"]).active("db", &["n2"]);
    let text = policy::scores_text(&c, &s.0, Some("web"));
    assert!(text.contains("location web on n1 +100"), "{text}");
    assert!(text.contains("stickiness +50"), "{text}");
    assert!(text.contains("colocation with db -INFINITY"), "{text}");
    let unknown = policy::scores_text(&c, &s.0, Some("nope"));
    assert!(
        unknown.contains("no such resource \"nope\"") && unknown.contains("\"web\""),
        "{unknown}"
    );
}

#[test]
fn same_inputs_give_same_output() {
    // Determinism: no hash-map order leaks into decisions.
    let body = prims(&["a", "b", "c", "d"]) + "[group.g]\nresources = [\"b\", \"c\"]\n";
    let c = cfg(N3, &body);
    let s = St::new(&c).active("a", &["n2"]);
    let first = place(&c, &s);
    for _ in 0..10 {
        assert_eq!(place(&c, &s), first);
    }
    let _: BTreeMap<String, Vec<String>> = first.assigned.clone();
}

#[test]
fn second_transition_can_move_a_primary_like_pacemaker() {
    // Colocation (pacemaker's merge of the dependent's scores into the
    // primary): r1 avoids r2 (-500); r1 is banned from n1 and runs on n1,
    // so it moves to n2 next to r2; in the next transition r1's stickiness
    // (100, scaled by 500/INFINITY to 1) now counts against r2 on n2, and r2
    // moves to n1. crm_simulate 2.1.5 makes the same two moves.
    let nodes = [("n1", "site = \"a\""), ("n2", "site = \"b\"")];
    let body = "[resource.r1]\nagent = \"systemd:r1\"\nstickiness = 100\n\n[resource.r2]\nagent = \"systemd:r2\"\n\n[[location]]\nresource = \"r1\"\nrule = { attribute = \"site\", op = \"eq\", value = \"a\" }\nscore = \"-inf\"\n\n[[colocation]]\nresource = \"r1\"\nwith = \"r2\"\nscore = -500\n";
    let c = cfg_with("", &nodes, body);
    let s = St::new(&c).active("r1", &["n1"]).active("r2", &["n2"]);
    assert_eq!(
        changes(&c, &s),
        vec![Change::Move {
            resource: "r1".into(),
            from: "n1".into(),
            to: "n2".into()
        }]
    );
    let s = St::new(&c).active("r1", &["n2"]).active("r2", &["n2"]);
    let p = place(&c, &s);
    assert_eq!(score_of(&p, "r2", "n2"), Score::new(-1));
    assert_eq!(
        changes(&c, &s),
        vec![Change::Move {
            resource: "r2".into(),
            from: "n2".into(),
            to: "n1".into()
        }]
    );
}

#[test]
fn state_document_clone_failcounts_count_for_the_primitive() {
    // SPEC section 3: a clone's fail-counts are listed under the clone; they
    // are the primitive's fail-counts, so migration-threshold applies.
    let body = prims(&["ping"]) + "migration_threshold = 2\n[clone.pings]\nresource = \"ping\"\n";
    let c = cfg(N3, &body);
    let text = r#"{"quorum": {"quorate": true, "votes": 3, "expected_votes": 3},
        "nodes": [{"name": "n1", "state": "online"}, {"name": "n2", "state": "online"}, {"name": "n3", "state": "online"}],
        "resources": [{"id": "pings", "active_on": ["n1", "n2", "n3"], "failcounts": {"n2": 3}}]}"#;
    let status: ha::ctl::proto::Status = serde_json::from_str(text).unwrap();
    let st = ClusterState::from_status(&c, &status, 0).unwrap();
    assert_on(&policy::place(&c, &st), "pings", &["n1", "n3"]);
    let bad = r#"{"nodes": [{"name": "nx", "state": "online"}], "resources": []}"#;
    let status: ha::ctl::proto::Status = serde_json::from_str(bad).unwrap();
    let err = ClusterState::from_status(&c, &status, 0)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unknown node \"nx\"") && err.contains("\"n1\""),
        "{err}"
    );
}
