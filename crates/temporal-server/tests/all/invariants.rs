//! The `server` binary ships no test infrastructure: test-support (demo tools, the
//! listing compactor, the fake provider) is reachable only through dev-dependencies.
//! Walks `cargo metadata`'s resolved graph from this crate along normal edges.

use std::collections::{BTreeMap, VecDeque};
use std::process::Command;

use serde_json::Value;

#[test]
fn test_support_is_not_a_normal_dependency() {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let names: BTreeMap<&str, &str> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["id"].as_str().unwrap(), p["name"].as_str().unwrap()))
        .collect();
    let root = metadata["packages"]
        .as_array()
        .unwrap()
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
    let mut chains = BTreeMap::from([(root, vec![names[root]])]);
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
            if normal && !chains.contains_key(pkg) {
                let mut next = chain.clone();
                next.push(names[pkg]);
                chains.insert(pkg, next);
                queue.push_back(pkg);
            }
        }
    }
    // Not vacuous: the production adapters are there.
    assert!(chains.keys().any(|id| names[id] == "effects"));
    let offenders: Vec<String> = chains
        .iter()
        .filter(|(id, _)| names[*id] == "test-support")
        .map(|(_, chain)| chain.join(" -> "))
        .collect();
    assert!(offenders.is_empty(), "{offenders:?}");
}
