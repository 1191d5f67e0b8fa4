//! The agents of every configured resource on this node, for the daemon's
//! local resource manager.
//!
//! Input: the validated `Config` and the local node's name. Output: one
//! shared agent per resource id (agents keep small state between
//! operations, so the same object must serve start, monitor and stop), and
//! `run`, which turns an operation on a resource id into an `Outcome`
//! within a timeout. It decides nothing about placement or recovery.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{Agent, AgentError, Operation, failed, rc, run_with_timeout};
use crate::config::{Config, Resource};
use crate::node::Outcome;

struct Entry {
    resource: Resource,
    agent: Result<Arc<dyn Agent>, AgentError>,
}

/// Agents by resource id.
pub struct Registry {
    node: String,
    entries: BTreeMap<String, Entry>,
}

impl Registry {
    /// Build an agent for every resource of `config`. A resource whose agent
    /// cannot be built (bad parameters, an agent kind this build lacks) is
    /// kept with its error: `errors` lists them and every operation on it
    /// reports the error.
    pub fn new(config: &Config, node: &str) -> Registry {
        let mut registry = Registry {
            node: node.to_string(),
            entries: BTreeMap::new(),
        };
        registry.reload(config);
        registry
    }

    /// Follow a new config: resources whose definition is unchanged keep
    /// their agent (and its state); changed ones get a new agent; removed
    /// ones are dropped (the daemon stops them before, as pacemaker does).
    pub fn reload(&mut self, config: &Config) {
        let mut entries = BTreeMap::new();
        for resource in &config.resources {
            let entry = match self.entries.remove(&resource.id) {
                Some(old) if old.resource == *resource => old,
                _ => Entry {
                    resource: resource.clone(),
                    agent: super::for_resource(resource, &self.node).map(Arc::from),
                },
            };
            entries.insert(resource.id.clone(), entry);
        }
        self.entries = entries;
    }

    /// Resources whose agent could not be built, for the daemon's log and
    /// `ha status`.
    pub fn errors(&self) -> Vec<&AgentError> {
        self.entries
            .values()
            .filter_map(|e| e.agent.as_ref().err())
            .collect()
    }

    /// The agent of resource `id`: `None` for an id not in the config.
    pub fn agent(&self, id: &str) -> Option<Result<Arc<dyn Agent>, &AgentError>> {
        self.entries
            .get(id)
            .map(|e| e.agent.as_ref().map(Arc::clone))
    }

    /// Run `operation` on resource `id`, giving up after `timeout`.
    ///
    /// A resource without a working agent: start, monitor and validate fail
    /// with the error's rc (6 bad parameters, 5 not available here); stop
    /// succeeds for an agent kind this build lacks (it can never have
    /// started it) and fails for bad parameters (it cannot tell). An id not
    /// in the config (an action that raced a reload) fails with rc 6.
    pub async fn run(
        &self,
        id: &str,
        operation: Operation,
        timeout: std::time::Duration,
    ) -> Outcome {
        match self.agent(id) {
            Some(Ok(agent)) => run_with_timeout(agent, operation, timeout).await,
            Some(Err(AgentError::Unsupported { .. })) if operation == Operation::Stop => {
                Outcome::Ok
            }
            Some(Err(e)) => failed(e.rc(), e.to_string()),
            None => failed(
                rc::ERR_CONFIGURED,
                format!("no resource \"{id}\" in the current config"),
            ),
        }
    }

    /// Resource ids known to the registry, in id order.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.entries.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(resources: &str) -> Config {
        let text = format!(
            "[cluster]\nname = \"t\"\nkey_file = \"/etc/ha.key\"\n[[heartbeat.link]]\n\
             [[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.1.0.1\"]\n{resources}"
        );
        match crate::config::parse(&text, "test.toml") {
            Ok(loaded) => loaded.config,
            Err(errors) => panic!("test config rejected: {errors:?}"),
        }
    }

    // Goal: every resource gets an agent or its error; operations on a
    // broken one report that error with its rc, stop of an unavailable kind
    // is Ok, an unknown id fails; reload keeps unchanged agents (same
    // object, so their state survives) and rebuilds changed ones.
    #[test]
    fn registry_builds_reports_and_reloads() {
        let first = config(
            "[resource.ip1]\nagent = \"vip\"\nparams = { ip = \"10.1.0.50\" }\n\
             [resource.bad]\nagent = \"vip\"\nparams = { ip = \"10.1.0.5\", arp_count = \"many\" }\n\
             [resource.web]\nagent = \"systemd:nginx\"\n",
        );
        let mut registry = Registry::new(&first, "n1");
        assert_eq!(registry.ids().collect::<Vec<_>>(), ["bad", "ip1", "web"]);
        assert_eq!(registry.errors().len(), 2);
        let timeout = std::time::Duration::from_secs(5);
        let run = |r: &Registry, id: &str, op| smol::block_on(r.run(id, op, timeout));
        match run(&registry, "bad", Operation::Start) {
            Outcome::Failed { rc: 6, reason } => {
                assert!(reason.contains("\"arp_count\""), "{reason}")
            }
            other => panic!("bad params: {other:?}"),
        }
        assert!(matches!(
            run(&registry, "bad", Operation::Stop),
            Outcome::Failed { rc: 6, .. }
        ));
        assert!(matches!(
            run(&registry, "web", Operation::Monitor { depth: 0 }),
            Outcome::Failed { rc: 5, .. }
        ));
        assert_eq!(run(&registry, "web", Operation::Stop), Outcome::Ok);
        assert!(matches!(
            run(&registry, "nosuch", Operation::Stop),
            Outcome::Failed { rc: 6, .. }
        ));

        let before = registry
            .agent("ip1")
            .and_then(Result::ok)
            .expect("ip1 has an agent");
        let second = config(
            "[resource.ip1]\nagent = \"vip\"\nparams = { ip = \"10.1.0.50\" }\n\
             [resource.bad]\nagent = \"vip\"\nparams = { ip = \"10.1.0.5\" }\n",
        );
        registry.reload(&second);
        let after = registry
            .agent("ip1")
            .and_then(Result::ok)
            .expect("ip1 still has an agent");
        assert!(
            Arc::ptr_eq(&before, &after),
            "unchanged resource keeps its agent"
        );
        assert!(registry.errors().is_empty(), "bad was fixed, web removed");
        assert!(registry.agent("web").is_none());
    }
}
