//! The crate's source invariant: no host filesystem, process or network access in vfs
//! or tools. Their dependencies (no async runtime, HTTP or database stack) are checked
//! with the rest of the layering in `crates/architecture`.

use std::path::Path;

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
