//! The workspace's resolved dependency graph, read from `cargo metadata`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::process::Command;

use serde_json::Value;

/// How a dependency edge is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edge {
    /// A normal or build dependency: part of what the crate is built on. A build
    /// script runs our code at build time, so it counts as a layering edge too.
    Normal,
    /// Only tests, examples and benches use it.
    Dev,
}

/// Packages by name. Names are unique in this graph's use: the workspace's crates
/// are matched with `source == null`, and the external checks go by family names.
pub(crate) struct Graph {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Workspace crate name → package id.
    workspace: BTreeMap<String, String>,
    /// Package id → (dependency id, edge).
    deps: BTreeMap<String, Vec<(String, Edge)>>,
}

impl Graph {
    /// The graph of the workspace this test is built in, all platforms included
    /// (a dependency behind a `cfg` still ships somewhere).
    pub(crate) fn load() -> Self {
        let output = Command::new(env!("CARGO"))
            .args(["metadata", "--format-version", "1"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .expect("cargo metadata runs");
        assert!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let metadata: Value =
            serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
        Self::from_metadata(&metadata)
    }

    fn from_metadata(metadata: &Value) -> Self {
        let names: BTreeMap<String, String> = metadata["packages"]
            .as_array()
            .expect("packages")
            .iter()
            .map(|package| {
                (
                    package["id"].as_str().expect("package id").to_owned(),
                    package["name"].as_str().expect("package name").to_owned(),
                )
            })
            .collect();
        let workspace = metadata["workspace_members"]
            .as_array()
            .expect("workspace_members")
            .iter()
            .map(|id| {
                let id = id.as_str().expect("member id").to_owned();
                (names[&id].clone(), id)
            })
            .collect();
        let deps = metadata["resolve"]["nodes"]
            .as_array()
            .expect("cargo metadata resolved the graph")
            .iter()
            .map(|node| {
                let deps = node["deps"]
                    .as_array()
                    .expect("deps")
                    .iter()
                    .map(|dep| {
                        // `kind` is null for a normal dependency, "dev" or "build"
                        // otherwise; one edge may carry several kinds.
                        let normal = dep["dep_kinds"]
                            .as_array()
                            .expect("dep_kinds")
                            .iter()
                            .any(|kind| kind["kind"] != "dev");
                        let edge = if normal { Edge::Normal } else { Edge::Dev };
                        (dep["pkg"].as_str().expect("dep pkg").to_owned(), edge)
                    })
                    .collect();
                (node["id"].as_str().expect("node id").to_owned(), deps)
            })
            .collect();
        Self {
            names,
            workspace,
            deps,
        }
    }

    /// A graph from `(from, to, edge)` triples, every name a workspace crate:
    /// for testing the checks themselves.
    pub(crate) fn from_edges(crates: &[&str], edges: &[(&str, &str, Edge)]) -> Self {
        let names = crates
            .iter()
            .map(|name| ((*name).to_owned(), (*name).to_owned()))
            .collect();
        let workspace = crates
            .iter()
            .map(|name| ((*name).to_owned(), (*name).to_owned()))
            .collect();
        let mut deps: BTreeMap<String, Vec<(String, Edge)>> = crates
            .iter()
            .map(|name| ((*name).to_owned(), Vec::new()))
            .collect();
        for (from, to, edge) in edges {
            deps.get_mut(*from)
                .expect("edge from a listed crate")
                .push(((*to).to_owned(), *edge));
        }
        Self {
            names,
            workspace,
            deps,
        }
    }

    pub(crate) fn workspace_crates(&self) -> BTreeSet<&str> {
        self.workspace.keys().map(String::as_str).collect()
    }

    /// `krate`'s dependencies on workspace crates, by edge kind. A crate that is
    /// both a normal and a dev dependency is a normal one.
    pub(crate) fn workspace_edges(&self, krate: &str, edge: Edge) -> BTreeSet<&str> {
        let id = &self.workspace[krate];
        self.deps[id]
            .iter()
            .filter(|(dep, kind)| *kind == edge && self.workspace.contains_key(&self.names[dep]))
            .map(|(dep, _)| self.names[dep].as_str())
            .collect()
    }

    /// Every package reachable from workspace crate `root` along normal edges (and
    /// dev edges out of `root` itself when `root_dev`), by name, with the chain of
    /// names that pulls it in. Packages matching an `opaque` family are recorded
    /// but not descended into.
    pub(crate) fn closure(
        &self,
        root: &str,
        opaque: &[&str],
        root_dev: bool,
    ) -> BTreeMap<String, Vec<String>> {
        let root_id = self.workspace[root].as_str();
        let mut chains: BTreeMap<&str, Vec<String>> =
            BTreeMap::from([(root_id, vec![root.to_owned()])]);
        let mut queue = VecDeque::from([root_id]);
        while let Some(id) = queue.pop_front() {
            if id != root_id && in_family(&self.names[id], opaque) {
                continue;
            }
            let chain = chains[id].clone();
            for (dep, edge) in &self.deps[id] {
                let followed = *edge == Edge::Normal || (root_dev && id == root_id);
                if followed && !chains.contains_key(dep.as_str()) {
                    let mut next = chain.clone();
                    next.push(self.names[dep].clone());
                    chains.insert(dep, next);
                    queue.push_back(dep);
                }
            }
        }
        chains
            .into_iter()
            .filter(|(id, _)| *id != root_id)
            .map(|(id, chain)| (self.names[id].clone(), chain))
            .collect()
    }
}

/// Whether `name` is one of `families`: the name itself, `family-*` or `family_*`.
pub(crate) fn in_family(name: &str, families: &[&str]) -> bool {
    families.iter().any(|family| {
        name == *family
            || name
                .strip_prefix(family)
                .is_some_and(|rest| rest.starts_with(['-', '_']))
    })
}
