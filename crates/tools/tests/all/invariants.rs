//! The crate's invariants: no host filesystem, process or network access in vfs or
//! tools, and no async runtime, HTTP or database stack among their dependencies.

use std::collections::{BTreeSet, VecDeque};
use std::path::Path;
use std::process::Command;

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            out.push((
                path.display().to_string(),
                std::fs::read_to_string(&path).unwrap(),
            ));
        }
    }
}

#[test]
fn no_host_io_in_the_sources() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    sources(&root.join("src"), &mut files);
    sources(&root.join("../vfs/src"), &mut files);
    assert!(files.len() > 10);
    for (path, text) in files {
        for banned in ["std::fs", "std::net", "std::process", "std::env", "tokio"] {
            assert!(!text.contains(banned), "{path} mentions {banned}");
        }
    }
}

#[test]
fn no_runtime_or_network_dependencies() {
    let output = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let name_of = |id: &str| {
        packages
            .iter()
            .find(|p| p["id"] == id)
            .and_then(|p| p["name"].as_str())
            .unwrap()
            .to_owned()
    };
    let nodes = metadata["resolve"]["nodes"].as_array().unwrap();
    for start in ["tools", "vfs"] {
        let root = packages
            .iter()
            .find(|p| p["name"] == start && p["source"].is_null())
            .and_then(|p| p["id"].as_str())
            .unwrap()
            .to_owned();
        let mut seen = BTreeSet::from([root.clone()]);
        let mut queue = VecDeque::from([root]);
        while let Some(id) = queue.pop_front() {
            let node = nodes.iter().find(|n| n["id"] == id.as_str()).unwrap();
            for dep in node["deps"].as_array().unwrap() {
                let normal = dep["dep_kinds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|kind| kind["kind"].is_null());
                let dep_id = dep["pkg"].as_str().unwrap().to_owned();
                if normal && seen.insert(dep_id.clone()) {
                    queue.push_back(dep_id);
                }
            }
        }
        for id in &seen {
            let name = name_of(id);
            for banned in ["tokio", "reqwest", "hyper", "sqlx", "temporalio", "rand"] {
                let hit = name == banned
                    || name.starts_with(&format!("{banned}-"))
                    || name.starts_with(&format!("{banned}_"));
                assert!(!hit, "{start} depends on {name}");
            }
        }
    }
}
