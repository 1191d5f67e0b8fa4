//! Order constraints as primitive pairs: the edges of a transition graph
//! ([`super::plan`]), what the DC's level-triggered plan (`node::plan`)
//! obeys, and what the simulator's checker (invariant 3) holds it to.
//!
//! A group orders its members (each after the one before it, stopped in
//! reverse, on the node they share: a mandatory, symmetrical pair). An `[[order]]` naming a group
//! or a clone orders every primitive inside it, so "first = a group" means
//! "after all its members", as in `transition::plan`.
//!
//! What each kind means (pacemaker's semantics, level-triggered):
//! - mandatory: `then` starts only while `first` runs and nothing is in
//!   flight for it; when no instance of `first` stays (stopping, failed,
//!   moving, not wanted), `then` must stop too; when symmetrical, `first`
//!   stops only after `then` is stopped everywhere.
//! - optional: only when both act at once: `then` does not start while
//!   `first` is starting (symmetrical: `first` does not stop while `then`
//!   is stopping).
//! - serialize: the two never have a start or stop in flight at once.

use crate::config::{Config, OrderKind};

/// `then` is ordered after `first`; both are primitive ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub first: String,
    pub then: String,
    pub kind: OrderKind,
    pub symmetrical: bool,
    /// Members of one group: ordered on the node they share (the DC's
    /// group walk in `plan` keeps this order itself).
    pub same_node: bool,
}

/// Every ordered pair of primitives in `config`: group members first, then
/// each `[[order]]` in config order. Config validation rejects cycles among
/// mandatory and optional pairs, so following `first -> then` terminates.
pub fn pairs(config: &Config) -> Vec<Pair> {
    let mut out = Vec::new();
    for g in &config.groups {
        for w in g.resources.windows(2) {
            out.push(Pair {
                first: w[0].clone(),
                then: w[1].clone(),
                kind: OrderKind::Mandatory,
                symmetrical: true,
                same_node: true,
            });
        }
    }
    for o in &config.orders {
        for first in config.primitives(&o.first) {
            for then in config.primitives(&o.then) {
                if first != then {
                    out.push(Pair {
                        first: first.clone(),
                        then,
                        kind: o.kind,
                        symmetrical: o.symmetrical,
                        same_node: false,
                    });
                }
            }
        }
    }
    out
}

/// The longest chain of primitives linked by ordered pairs (serialize
/// included: it also makes actions wait for each other). At least 1. The
/// simulator's convergence bound walks this many resources down and up.
pub fn depth(config: &Config) -> usize {
    let pairs = pairs(config);
    // Longest path ending at each primitive, relaxed once per primitive:
    // enough for any acyclic chain. A serialize pair may close a cycle
    // with other pairs; the bound then stops at the number of primitives.
    let mut longest: std::collections::BTreeMap<&str, usize> = config
        .resources
        .iter()
        .map(|r| (r.id.as_str(), 1))
        .collect();
    for _ in 0..config.resources.len() {
        let mut changed = false;
        for p in &pairs {
            let from = longest.get(p.first.as_str()).copied().unwrap_or(1);
            let to = longest.entry(p.then.as_str()).or_insert(1);
            if from + 1 > *to && from < config.resources.len() {
                *to = from + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    longest.values().copied().max().unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(extra: &str) -> Config {
        let text = format!(
            "[cluster]\nname = \"t\"\nkey_file = \"/k\"\n[[heartbeat.link]]\n\
             [[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n\
             [[node]]\nname = \"n2\"\nid = 2\naddrs = [\"10.0.0.2\"]\n\
             [resource.a]\nagent = \"ocf:sim:dummy\"\n[resource.b]\nagent = \"ocf:sim:dummy\"\n\
             [resource.c]\nagent = \"ocf:sim:dummy\"\n[resource.d]\nagent = \"ocf:sim:dummy\"\n{extra}"
        );
        crate::sim::random::parse(&text)
    }

    #[test]
    fn a_group_named_in_an_order_stands_for_all_its_members() {
        let c = config(
            "[group.g]\nresources = [\"b\", \"c\"]\n\
             [[order]]\nfirst = \"a\"\nthen = \"g\"\n\
             [[order]]\nfirst = \"g\"\nthen = \"d\"\nkind = \"optional\"\nsymmetrical = false\n",
        );
        let got: Vec<(String, String, OrderKind, bool)> = pairs(&c)
            .into_iter()
            .map(|p| (p.first, p.then, p.kind, p.symmetrical))
            .collect();
        let same: Vec<bool> = pairs(&c).into_iter().map(|p| p.same_node).collect();
        assert_eq!(same, [true, false, false, false, false]);
        let m = OrderKind::Mandatory;
        let o = OrderKind::Optional;
        let s = |x: &str| x.to_string();
        assert_eq!(
            got,
            vec![
                (s("b"), s("c"), m, true),
                (s("a"), s("b"), m, true),
                (s("a"), s("c"), m, true),
                (s("b"), s("d"), o, false),
                (s("c"), s("d"), o, false),
            ]
        );
        // a -> b -> c -> d.
        assert_eq!(depth(&c), 4);
    }

    #[test]
    fn without_orders_or_groups_the_depth_is_one() {
        assert_eq!(depth(&config("")), 1);
        assert!(pairs(&config("")).is_empty());
    }
}
