//! `ha resource move` in the simulator: a move without `--lifetime` drops
//! its preference by itself once the whole group runs on the target (so a
//! later standby + online of the target does not pull the group back), a
//! move with a lifetime and a ban stay, a move that cannot happen yet keeps
//! its preference until it can, a move that would be undone by the
//! placement keeps it, and a move to where the group already runs is
//! refused. Requests go through `Sim::request` (`Node::handle_request`), as `ha` sends them
//! over the control socket; a non-DC node forwards them to the DC.

use ha::cib::Cib;
use ha::ctl::proto::{NodeRole, Request, Response};
use ha::sim::{Sim, check, random};
use ha::time::Duration;

const GROUP: &str = "[resource.a]\nagent = \"ocf:sim:dummy\"\n\
    [resource.b]\nagent = \"ocf:sim:dummy\"\n\
    [group.web]\nresources = [\"a\", \"b\"]\n";

fn cluster(extra: &str) -> Sim {
    let mut t = String::from(
        "[cluster]\nname = \"t\"\nkey_file = \"/k\"\n[heartbeat]\ninterval = \"100ms\"\ntimeout = \"1s\"\n[[heartbeat.link]]\n",
    );
    for i in 1..=3 {
        t += &format!("[[node]]\nname = \"n{i}\"\nid = {i}\naddrs = [\"10.0.0.{i}\"]\n");
        t += &format!("[[fence]]\nname = \"f{i}\"\ndriver = \"external\"\ntargets = [\"n{i}\"]\n");
    }
    t += GROUP;
    t += extra;
    let mut s = Sim::new(random::parse(&t), 11);
    s.start_all();
    s
}

/// Converged, and still converged a second later: the DC is not about to
/// act again (a clear, then a re-placement).
fn settle(s: &mut Sim) {
    check::settle(s, Duration::from_millis(250), Duration::from_secs(1));
}

/// The node running the whole group (both members, nowhere else).
fn group_on(s: &Sim) -> String {
    let a = s.running_on("a");
    let b = s.running_on("b");
    assert!(
        a.len() == 1 && a == b,
        "group split: a on {a:?}, b on {b:?}"
    );
    a[0].clone()
}

fn request(s: &mut Sim, via: &str, req: Request) -> Response {
    let i = s.index(via);
    s.request(i, req).expect("node is up")
}

fn ok(s: &mut Sim, via: &str, req: Request) {
    let what = format!("{req:?}");
    match request(s, via, req) {
        Response::Ok { .. } => {}
        other => panic!("{what} via {via}: {other:?}"),
    }
}

fn mv(resource: &str, node: &str, lifetime_ms: Option<u64>) -> Request {
    Request::Move {
        resource: resource.into(),
        node: node.into(),
        lifetime_ms,
    }
}

fn role(node: &str, role: NodeRole) -> Request {
    Request::NodeRole {
        node: node.into(),
        role,
    }
}

/// The DC's replicated state.
fn dc_cib(s: &Sim) -> Cib {
    let dc = s.dc().expect("one DC");
    s.nodes[dc].node.as_ref().expect("up").cib().clone()
}

/// A node that is neither `x` nor `y` (requests go through it).
fn third(x: &str, y: &str) -> String {
    ["n1", "n2", "n3"]
        .into_iter()
        .find(|n| *n != x && *n != y)
        .expect("three nodes")
        .to_string()
}

/// The constraints of a copy without their expiry instants, which each
/// node rebases on its own clock when it receives the copy.
fn shape(cib: &Cib) -> Vec<(String, String, String, bool)> {
    cib.constraints
        .iter()
        .map(|c| {
            let kind = format!("{:?}", c.kind);
            (c.resource.clone(), c.node.clone(), kind, c.until_moved())
        })
        .collect()
}

/// Every live node's copy and the DC's persisted state agree on the
/// constraints, and `ha status` on every node shows them.
fn constraints_everywhere(s: &Sim) -> usize {
    let dc = s.dc().expect("one DC");
    let want = shape(&dc_cib(s));
    for n in &s.nodes {
        let node = n.node.as_ref().expect("up");
        assert_eq!(
            shape(node.cib()),
            want,
            "{} has another copy of the constraints than the DC",
            n.name
        );
        assert_eq!(
            node.status(s.now).constraints.len(),
            want.len(),
            "{}",
            n.name
        );
    }
    let persisted = s.nodes[dc].persisted.as_deref().expect("DC persisted");
    let back = Cib::decode(persisted, s.now).expect("persisted state decodes");
    assert_eq!(shape(&back), want, "persisted constraints differ");
    want.len()
}

/// Standby then online `target`; returns where the group runs after both.
fn standby_and_back(s: &mut Sim, via: &str, target: &str) -> String {
    ok(s, via, role(target, NodeRole::Standby));
    settle(s);
    let away = group_on(s);
    assert_ne!(away, target, "standby left the group on {target}");
    ok(s, via, role(target, NodeRole::Online));
    settle(s);
    group_on(s)
}

#[test]
fn move_without_lifetime_clears_itself_once_the_group_runs_there() {
    // Goal: after `ha resource move web T` the whole group runs on T, the
    // preference is gone from every node's copy, from the persisted state
    // and from `ha status`; a later standby + online of T does not pull the
    // group back.
    let mut s = cluster("");
    settle(&mut s);
    let h = group_on(&s);
    let t = if h == "n1" { "n2" } else { "n1" }.to_string();
    let via = third(&h, &t);
    let epoch = dc_cib(&s).epoch;
    ok(&mut s, &via, mv("web", &t, None));
    settle(&mut s);
    assert_eq!(group_on(&s), t, "the move did not happen");
    assert_eq!(
        constraints_everywhere(&s),
        0,
        "{:?}",
        dc_cib(&s).constraints
    );
    assert!(
        dc_cib(&s).epoch > epoch,
        "the clear was not a replicated change"
    );
    let after = standby_and_back(&mut s, &via, &t);
    assert_ne!(
        after, t,
        "the group went back to {t}: the preference was not cleared"
    );
}

#[test]
fn move_with_lifetime_stays_and_pulls_the_group_back() {
    // Goal: the control for the test above: a move with --lifetime keeps
    // its preference after the move, so the group returns to T when T is
    // online again.
    let mut s = cluster("");
    settle(&mut s);
    let h = group_on(&s);
    let t = if h == "n1" { "n2" } else { "n1" }.to_string();
    let via = third(&h, &t);
    ok(&mut s, &via, mv("web", &t, Some(3_600_000)));
    settle(&mut s);
    assert_eq!(group_on(&s), t);
    assert_eq!(constraints_everywhere(&s), 1);
    let status = s.nodes[s.index(&via)].node.as_ref().unwrap().status(s.now);
    let c = &status.constraints[0];
    assert!(c.kind == "move" && !c.until_moved, "{c:?}");
    // Whole seconds left of the hour, e.g. "3598s" (or "59min" when even).
    let left = c.expires_in.as_deref().unwrap_or_default();
    let secs: u64 = match left.strip_suffix("min") {
        Some(m) => m.parse::<u64>().unwrap_or(0) * 60,
        None => left
            .strip_suffix('s')
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
    };
    assert!((3000..3600).contains(&secs), "{left}");
    assert_eq!(standby_and_back(&mut s, &via, &t), t);
    assert_eq!(constraints_everywhere(&s), 1);
}

#[test]
fn move_to_a_standby_node_waits_then_clears() {
    // Goal: a move that cannot happen keeps its preference, and `ha status`
    // says why; once the target is online the group moves there and the
    // preference goes.
    let mut s = cluster("");
    settle(&mut s);
    let h = group_on(&s);
    let t = if h == "n1" { "n2" } else { "n1" }.to_string();
    let via = third(&h, &t);
    ok(&mut s, &via, role(&t, NodeRole::Standby));
    settle(&mut s);
    ok(&mut s, &via, mv("web", &t, None));
    settle(&mut s);
    assert_ne!(group_on(&s), t);
    assert_eq!(constraints_everywhere(&s), 1);
    let status = s.nodes[s.index(&via)].node.as_ref().unwrap().status(s.now);
    let c = &status.constraints[0];
    assert!(c.until_moved, "{c:?}");
    assert_eq!(
        c.note.as_deref(),
        Some(format!("waiting: {t} is standby").as_str())
    );
    ok(&mut s, &via, role(&t, NodeRole::Online));
    settle(&mut s);
    assert_eq!(group_on(&s), t);
    assert_eq!(constraints_everywhere(&s), 0);
}

#[test]
fn ban_is_never_cleared_automatically() {
    // Goal: `ha resource ban` moves the group away and stays.
    let mut s = cluster("");
    settle(&mut s);
    let h = group_on(&s);
    let via = third(&h, "");
    ok(
        &mut s,
        &via,
        Request::Ban {
            resource: "web".into(),
            node: h.clone(),
        },
    );
    settle(&mut s);
    assert_ne!(group_on(&s), h);
    assert_eq!(constraints_everywhere(&s), 1);
    assert_eq!(dc_cib(&s).constraints[0].node, h);
}

#[test]
fn move_that_the_placement_would_undo_keeps_its_preference() {
    // Goal: with a location score for n1 and stickiness 0, dropping the
    // preference would send the group straight back to n1, so it stays
    // (as pcs does) and `ha status` says so; `ha resource clear` then
    // lets the group go back.
    let mut s = cluster("[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = 100\n");
    settle(&mut s);
    assert_eq!(group_on(&s), "n1");
    ok(&mut s, "n3", mv("web", "n2", None));
    settle(&mut s);
    assert_eq!(group_on(&s), "n2");
    assert_eq!(constraints_everywhere(&s), 1);
    let status = s.nodes[2].node.as_ref().unwrap().status(s.now);
    let note = status.constraints[0].note.clone().unwrap_or_default();
    assert!(note.starts_with("kept: web runs on n2"), "{note}");
    ok(
        &mut s,
        "n3",
        Request::Clear {
            resource: "web".into(),
        },
    );
    settle(&mut s);
    assert_eq!(group_on(&s), "n1");
    assert_eq!(constraints_everywhere(&s), 0);
}

#[test]
fn move_with_stickiness_against_a_location_score_clears() {
    // Goal: the same move with stickiness above the location score: the
    // group stays on n2 without the preference, so it is dropped.
    let mut s = cluster(
        "[[location]]\nresource = \"web\"\nnode = \"n1\"\nscore = 100\n\
         [defaults]\nstickiness = 200\n",
    );
    settle(&mut s);
    assert_eq!(group_on(&s), "n1");
    ok(&mut s, "n3", mv("a", "n2", None));
    settle(&mut s);
    assert_eq!(group_on(&s), "n2", "moving a member moves the group");
    assert_eq!(constraints_everywhere(&s), 0);
}

#[test]
fn move_to_where_the_group_already_runs_is_refused() {
    // Goal: like crm_resource ("already active"), a move without a lifetime
    // to the node running the group is an error that says what to do; with
    // --lifetime it pins the group there and is accepted.
    let mut s = cluster("");
    settle(&mut s);
    let h = group_on(&s);
    let via = third(&h, "");
    for who in ["web", "b"] {
        match request(&mut s, &via, mv(who, &h, None)) {
            Response::Error { message } => {
                assert!(
                    message.starts_with(&format!("{who} already runs on {h}: nothing to move")),
                    "{message}"
                );
                assert!(message.contains("hint:"), "{message}");
            }
            other => panic!("move {who} to its own node accepted: {other:?}"),
        }
    }
    settle(&mut s);
    assert_eq!(constraints_everywhere(&s), 0);
    ok(&mut s, &via, mv("web", &h, Some(60_000)));
    settle(&mut s);
    assert_eq!(group_on(&s), h);
    assert_eq!(constraints_everywhere(&s), 1);
}
