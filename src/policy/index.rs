//! Lookup tables over a [`Config`] for the solver and the planner.
//!
//! `Config`'s own lookups scan vectors, which is fine for a CLI but makes
//! a 5,000-resource solve quadratic. This index answers the same questions
//! (which group or clone holds an id, the effective meta attributes) from
//! ordered maps built once per solve. Pure; no I/O.

use std::collections::BTreeMap;

use crate::config::{self, Config, EffectiveMeta, Meta};

/// Maps from ids to config entries.
pub(crate) struct Index<'a> {
    pub config: &'a Config,
    pub resource: BTreeMap<&'a str, &'a config::Resource>,
    pub group: BTreeMap<&'a str, &'a config::Group>,
    pub clone: BTreeMap<&'a str, &'a config::Clone>,
    /// Primitive id to the group holding it.
    group_of: BTreeMap<&'a str, &'a config::Group>,
    /// Primitive or group id to the clone wrapping it.
    clone_of: BTreeMap<&'a str, &'a config::Clone>,
}

impl<'a> Index<'a> {
    pub fn new(config: &'a Config) -> Index<'a> {
        let mut group_of = BTreeMap::new();
        for g in &config.groups {
            for m in &g.resources {
                group_of.entry(m.as_str()).or_insert(g);
            }
        }
        let mut clone_of = BTreeMap::new();
        for c in &config.clones {
            clone_of.entry(c.resource.as_str()).or_insert(c);
        }
        Index {
            config,
            resource: config
                .resources
                .iter()
                .map(|r| (r.id.as_str(), r))
                .collect(),
            group: config.groups.iter().map(|g| (g.id.as_str(), g)).collect(),
            clone: config.clones.iter().map(|c| (c.id.as_str(), c)).collect(),
            group_of,
            clone_of,
        }
    }

    /// The group holding primitive `id`.
    pub fn group_of(&self, id: &str) -> Option<&'a config::Group> {
        self.group_of.get(id).copied()
    }

    /// The clone wrapping primitive or group `id`.
    pub fn clone_of(&self, id: &str) -> Option<&'a config::Clone> {
        self.clone_of.get(id).copied()
    }

    /// The clone `id` runs under: its own, or its group's.
    pub fn enclosing_clone(&self, id: &str) -> Option<&'a config::Clone> {
        self.clone_of(id)
            .or_else(|| self.group_of(id).and_then(|g| self.clone_of(&g.id)))
    }

    /// Same as [`Config::effective_meta`]: own meta, then the group's, then
    /// the clone's, then `[defaults]`.
    pub fn effective_meta(&self, id: &str) -> EffectiveMeta {
        let mut chain: Vec<&Meta> = Vec::with_capacity(3);
        if let Some(r) = self.resource.get(id) {
            chain.push(&r.meta);
        }
        let group = self.group_of(id);
        if let Some(g) = group {
            chain.push(&g.meta);
        }
        if let Some(c) = self
            .clone_of(id)
            .or_else(|| group.and_then(|g| self.clone_of(&g.id)))
        {
            chain.push(&c.meta);
        }
        EffectiveMeta::resolve(&chain, &self.config.defaults)
    }

    /// The meta block of a primitive, group or clone id.
    pub fn own_meta(&self, id: &str) -> Option<&'a Meta> {
        self.resource
            .get(id)
            .map(|r| &r.meta)
            .or_else(|| self.group.get(id).map(|g| &g.meta))
            .or_else(|| self.clone.get(id).map(|c| &c.meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn effective_meta_matches_config() {
        // The index is only a faster path: it must agree with Config.
        let text = "[cluster]\nname = \"t\"\nkey_file = \"/k\"\nstonith_enabled = false\n\n[[heartbeat.link]]\n\n\
            [[node]]\nname = \"n1\"\nid = 1\naddrs = [\"10.0.0.1\"]\n\n[defaults]\nstickiness = 7\n\n\
            [resource.a]\nagent = \"systemd:a\"\npriority = 3\n\n[resource.b]\nagent = \"systemd:b\"\n\n\
            [resource.c]\nagent = \"systemd:c\"\n\n[group.g]\nresources = [\"a\", \"b\"]\nstickiness = 40\n\n\
            [clone.cc]\nresource = \"c\"\nmanaged = false\n";
        let config = crate::config::parse(text, "t.toml").unwrap().config;
        let index = Index::new(&config);
        for id in ["a", "b", "c", "g", "cc", "zz"] {
            assert_eq!(index.effective_meta(id), config.effective_meta(id), "{id}");
        }
        assert_eq!(
            index.enclosing_clone("c").map(|c| c.id.as_str()),
            Some("cc")
        );
        assert_eq!(index.group_of("b").map(|g| g.id.as_str()), Some("g"));
    }
}
