//! The CLI is a client like any other: of the workspace's crates it depends on the
//! `api` contract alone (ARCHITECTURE.md), never on the engine, a store or a backend.

use std::process::Command;

use serde_json::Value;

#[test]
fn of_the_workspace_only_the_api_contract_is_a_dependency() {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    let cli = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"] == "cli")
        .unwrap();
    let workspace_deps: Vec<&str> = cli["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        // Path dependencies are the workspace's crates; `kind` null is a normal edge.
        .filter(|dep| dep["path"].is_string() && dep["kind"].is_null())
        .map(|dep| dep["name"].as_str().unwrap())
        .collect();
    assert_eq!(workspace_deps, ["api"]);
}
