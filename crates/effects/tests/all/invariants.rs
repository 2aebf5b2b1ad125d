//! Dependency guard: effects is a production crate that hosts build on, so it depends
//! on engine, vfs, tools and llm-runtime only among our crates, and never reaches a
//! host (temporal-*, gateway), the client contract (api, api-projection), a storage
//! backend or test infrastructure, directly or transitively (walks `cargo metadata`'s
//! resolved graph along normal edges; dev-dependencies such as test-support for the
//! fake provider do not ship).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::process::Command;

use serde_json::Value;

/// Our crates effects may depend on directly.
const ALLOWED_DIRECT: &[&str] = &["engine", "vfs", "tools", "llm-runtime"];
/// Never reachable; a name also matches `name-*` and `name_*`.
const BANNED: &[&str] = &[
    "test-support",
    "temporal",
    "temporalio",
    "gateway",
    "api",
    "store-fs",
    "store-pg",
    "sqlx",
    "cli",
    "axum",
    "jsonrpsee",
];

fn is_banned(name: &str) -> bool {
    BANNED.iter().any(|banned| {
        name == *banned
            || name
                .strip_prefix(banned)
                .is_some_and(|rest| rest.starts_with(['-', '_']))
    })
}

struct Graph {
    /// Package id → name.
    names: BTreeMap<String, String>,
    /// Package id → normal dependency ids.
    normal: BTreeMap<String, Vec<String>>,
    /// Ids of this workspace's packages.
    workspace: BTreeSet<String>,
    root: String,
}

fn graph() -> Graph {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let names = packages
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_owned(),
                p["name"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let workspace = metadata["workspace_members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_str().unwrap().to_owned())
        .collect();
    let root = packages
        .iter()
        .find(|p| p["name"] == env!("CARGO_PKG_NAME") && p["source"].is_null())
        .and_then(|p| p["id"].as_str())
        .unwrap()
        .to_owned();
    let normal = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| {
            let deps = node["deps"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .any(|kind| kind["kind"].is_null())
                })
                .map(|dep| dep["pkg"].as_str().unwrap().to_owned())
                .collect();
            (node["id"].as_str().unwrap().to_owned(), deps)
        })
        .collect();
    Graph {
        names,
        normal,
        workspace,
        root,
    }
}

#[test]
fn direct_workspace_dependencies_are_engine_vfs_tools_and_llm_runtime() {
    let graph = graph();
    let direct: BTreeSet<&str> = graph.normal[&graph.root]
        .iter()
        .filter(|id| graph.workspace.contains(*id))
        .map(|id| graph.names[id].as_str())
        .collect();
    assert_eq!(direct, ALLOWED_DIRECT.iter().copied().collect());
}

#[test]
fn no_host_contract_storage_or_test_crate_is_reachable() {
    let graph = graph();
    let mut chains = BTreeMap::from([(graph.root.clone(), vec!["effects".to_owned()])]);
    let mut queue = VecDeque::from([graph.root.clone()]);
    while let Some(id) = queue.pop_front() {
        let chain = chains[&id].clone();
        for dep in &graph.normal[&id] {
            if !chains.contains_key(dep) {
                let mut next = chain.clone();
                next.push(graph.names[dep].clone());
                chains.insert(dep.clone(), next);
                queue.push_back(dep.clone());
            }
        }
    }
    // Not vacuous: what effects is built on is there.
    let reached: BTreeSet<&str> = chains.keys().map(|id| graph.names[id].as_str()).collect();
    for expected in ["engine", "llm-runtime", "llm-clients", "tools", "vfs"] {
        assert!(reached.contains(expected), "{expected} not reached");
    }
    let offenders: Vec<String> = chains
        .iter()
        .filter(|(id, _)| is_banned(&graph.names[*id]))
        .map(|(_, chain)| chain.join(" -> "))
        .collect();
    assert!(
        offenders.is_empty(),
        "effects must not depend on:\n  {}",
        offenders.join("\n  ")
    );
}
