#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The engine stays free of async runtimes, network and database stacks and
//! randomness (DESIGN §3.1): fails if `engine` gains one of them as a normal
//! dependency, directly or transitively.
//!
//! Reads `cargo metadata`'s resolved graph and walks it from `engine` along normal
//! edges only (dev- and build-dependencies are not part of what the engine ships).

use std::collections::{BTreeMap, VecDeque};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// Crates that must never be reachable; a name also matches `name-*` and `name_*`
/// (tokio-util, hyper-util, sqlx-core, rand_core, temporalio-sdk, ...).
const BANNED: &[&str] = &["tokio", "reqwest", "hyper", "sqlx", "temporalio", "rand"];

/// Every package reachable from `engine` through normal dependency edges, by name,
/// with the chain of package names that pulls it in.
fn normal_closure() -> &'static BTreeMap<String, Vec<String>> {
    static CLOSURE: OnceLock<BTreeMap<String, Vec<String>>> = OnceLock::new();
    CLOSURE.get_or_init(|| walk(&metadata(), EdgeKinds::Normal))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeKinds {
    Normal,
    /// Normal and dev edges: only to show the check would fire.
    NormalAndDev,
}

fn metadata() -> Value {
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
    serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON")
}

fn walk(metadata: &Value, edges: EdgeKinds) -> BTreeMap<String, Vec<String>> {
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .map(|package| {
            (
                package["id"].as_str().expect("package id"),
                package["name"].as_str().expect("package name"),
            )
        })
        .collect();
    let engine = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .find(|package| package["name"] == env!("CARGO_PKG_NAME") && package["source"].is_null())
        .and_then(|package| package["id"].as_str())
        .expect("the engine package is in the workspace");
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .expect("cargo metadata resolved the graph")
        .iter()
        .map(|node| (node["id"].as_str().expect("node id"), node))
        .collect();

    let mut chains: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    chains.insert(engine, vec![names[engine].to_owned()]);
    let mut queue = VecDeque::from([engine]);
    while let Some(id) = queue.pop_front() {
        let chain = chains[id].clone();
        for dep in nodes[id]["deps"].as_array().expect("deps") {
            // `kind` is null for a normal dependency, "dev" or "build" otherwise.
            let followed = dep["dep_kinds"]
                .as_array()
                .expect("dep_kinds")
                .iter()
                .any(|kind| {
                    kind["kind"].is_null()
                        || (edges == EdgeKinds::NormalAndDev && kind["kind"] == "dev")
                });
            let pkg = dep["pkg"].as_str().expect("dep pkg");
            if followed && !chains.contains_key(pkg) {
                let mut next = chain.clone();
                next.push(names[pkg].to_owned());
                chains.insert(pkg, next);
                queue.push_back(pkg);
            }
        }
    }
    chains
        .into_iter()
        .filter(|(id, _)| *id != engine)
        .map(|(id, chain)| (names[id].to_owned(), chain))
        .collect()
}

fn is_banned(name: &str) -> bool {
    BANNED.iter().any(|banned| {
        name == *banned
            || name
                .strip_prefix(banned)
                .is_some_and(|rest| rest.starts_with(['-', '_']))
    })
}

#[test]
fn engine_has_no_runtime_network_database_or_randomness_dependencies() {
    let offenders: Vec<String> = normal_closure()
        .iter()
        .filter(|(name, _)| is_banned(name))
        .map(|(_, chain)| chain.join(" -> "))
        .collect();
    assert!(
        offenders.is_empty(),
        "engine must stay free of I/O, async runtimes and randomness, but depends on:\n  {}",
        offenders.join("\n  ")
    );
}

/// The walk is not vacuous: it sees direct and transitive normal dependencies, and
/// it does not follow dev-dependencies (proptest would pull in rand).
#[test]
fn walk_sees_normal_dependencies_and_skips_dev_dependencies() {
    let closure = normal_closure();
    assert!(closure.contains_key("serde_json"), "direct: {closure:?}");
    assert!(
        closure.contains_key("digest"),
        "transitive via sha2: {closure:?}"
    );
    assert_eq!(closure["digest"], ["engine", "sha2", "digest"]);
    for dev in ["proptest", "criterion"] {
        assert!(!closure.contains_key(dev), "{dev} is a dev-dependency");
    }
}

/// The ban check fires on the real graph: proptest, a dev-dependency, pulls in rand.
#[test]
fn following_dev_dependencies_would_trip_the_check() {
    let closure = walk(&metadata(), EdgeKinds::NormalAndDev);
    let banned: Vec<_> = closure.keys().filter(|name| is_banned(name)).collect();
    assert!(
        banned.iter().any(|name| name.starts_with("rand")),
        "{banned:?}"
    );
}

#[test]
fn ban_list_matches_families_not_lookalikes() {
    for name in [
        "tokio",
        "tokio-util",
        "hyper-util",
        "sqlx-core",
        "rand_core",
        "temporalio-sdk",
        "reqwest",
    ] {
        assert!(is_banned(name), "{name}");
    }
    for name in ["randomize", "hyperlocal", "serde_json", "sha2"] {
        assert!(!is_banned(name), "{name}");
    }
}
