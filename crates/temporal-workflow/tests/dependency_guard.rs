#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Workflow code runs under deterministic replay: the crate must not reach an async
//! runtime, a network or database stack, the worker/client half of the SDK, or our
//! own I/O crates. Fails if any of them becomes a normal dependency, directly or
//! transitively (walks `cargo metadata`'s resolved graph along normal edges).
//!
//! The walk does not descend into the SDK's own crates (`temporalio-*`): their
//! protobuf crate links tonic and tokio for gRPC types, which workflow code cannot
//! name without depending on them itself, and that is what this guards.

use std::collections::{BTreeMap, VecDeque};
use std::process::Command;

use serde_json::Value;

/// Never reachable; a name also matches `name-*` and `name_*`.
const BANNED: &[&str] = &[
    "tokio",
    "reqwest",
    "hyper",
    "sqlx",
    "tonic",
    "temporalio-sdk",
    "temporalio-client",
    "store-fs",
    "store-pg",
    "llm-runtime",
    "llm-clients",
];

fn is_banned(name: &str) -> bool {
    BANNED.iter().any(|banned| {
        name == *banned
            || name
                .strip_prefix(banned)
                .is_some_and(|rest| rest.starts_with(['-', '_']))
    })
}

/// Every package reachable from this crate through normal edges, with its chain.
fn normal_closure() -> BTreeMap<String, Vec<String>> {
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
    let names: BTreeMap<&str, &str> = packages
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let root = packages
        .iter()
        .find(|p| p["name"] == env!("CARGO_PKG_NAME") && p["source"].is_null())
        .and_then(|p| p["id"].as_str())
        .unwrap();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|node| (node["id"].as_str().unwrap(), node))
        .collect();
    let mut chains: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    chains.insert(root, vec![names[root].to_owned()]);
    let mut queue = VecDeque::from([root]);
    while let Some(id) = queue.pop_front() {
        let chain = chains[id].clone();
        for dep in nodes[id]["deps"].as_array().unwrap() {
            let normal = dep["dep_kinds"]
                .as_array()
                .unwrap()
                .iter()
                .any(|kind| kind["kind"].is_null());
            let pkg = dep["pkg"].as_str().unwrap();
            if normal && !chains.contains_key(pkg) && !names[id].starts_with("temporalio-") {
                let mut next = chain.clone();
                next.push(names[pkg].to_owned());
                chains.insert(pkg, next);
                queue.push_back(pkg);
            }
        }
    }
    chains
        .into_iter()
        .filter(|(id, _)| *id != root)
        .map(|(id, chain)| (names[id].to_owned(), chain))
        .collect()
}

#[test]
fn workflow_crate_has_no_runtime_network_or_io_dependencies() {
    let closure = normal_closure();
    // Not vacuous: the engine and the SDK's workflow half are there.
    assert!(closure.contains_key("engine"));
    assert!(closure.contains_key("temporalio-workflow"));
    let offenders: Vec<String> = closure
        .iter()
        .filter(|(name, _)| is_banned(name))
        .map(|(_, chain)| chain.join(" -> "))
        .collect();
    assert!(
        offenders.is_empty(),
        "temporal-workflow must stay replay-safe, but depends on:\n  {}",
        offenders.join("\n  ")
    );
}
