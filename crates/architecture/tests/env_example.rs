#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `.env_example` lists every environment variable the binaries read (`server`,
//! `lightspeed`, `fake-provider`): each one a clap `env = "..."` attribute or a
//! `var("...")`/`var_os("...")`/`variable("...")` call in their sources.

use std::collections::BTreeSet;
use std::path::Path;

/// Where the binaries' code lives, relative to the workspace root.
const SOURCES: &[&str] = &[
    "crates/temporal-server/src",
    "crates/cli/src",
    "crates/test-support/src/bin",
];

/// How a variable name is read: the text right before its opening quote.
const READS: &[&str] = &["env = \"", "var(\"", "var_os(\"", "variable(\""];

/// The operating system's own, read as every program does.
const SYSTEM: &[&str] = &["HOME", "PATH"];

fn root() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
}

/// Every Rust file under `dir`. Other tests may create and delete scratch files in
/// the tree while this one walks it: what vanishes meanwhile is skipped, any other
/// read error fails the test.
fn rust_files(dir: &Path, out: &mut Vec<String>) {
    let vanished = |err: &std::io::Error| err.kind() == std::io::ErrorKind::NotFound;
    let listing = match std::fs::read_dir(dir) {
        Ok(listing) => listing,
        Err(err) if vanished(&err) => return,
        Err(err) => panic!("listing {}: {err}", dir.display()),
    };
    for entry in listing {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(err) if vanished(&err) => continue,
            Err(err) => panic!("listing {}: {err}", dir.display()),
        };
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            match std::fs::read_to_string(&path) {
                Ok(text) => out.push(text),
                Err(err) if vanished(&err) => {}
                Err(err) => panic!("reading {}: {err}", path.display()),
            }
        }
    }
}

fn variables_read() -> BTreeSet<String> {
    let mut texts = Vec::new();
    for dir in SOURCES {
        rust_files(&root().join(dir), &mut texts);
    }
    let mut names = BTreeSet::new();
    for text in &texts {
        for read in READS {
            for (at, _) in text.match_indices(read) {
                let rest = &text[at + read.len()..];
                let name = &rest[..rest.find('"').unwrap()];
                names.insert(name.to_owned());
            }
        }
    }
    names
}

/// Names assigned in `.env_example`, commented out (`# NAME=default`) or not.
fn variables_listed() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join(".env_example")).unwrap();
    text.lines()
        .map(|line| line.trim_start_matches('#').trim())
        .filter_map(|line| line.split_once('='))
        .map(|(name, _)| name)
        .filter(|name| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_variable_the_binaries_read_is_in_env_example() {
    let read = variables_read();
    // Not vacuous: one of each kind of read is found.
    for name in [
        "LIGHTSPEED_API_URL",
        "LIGHTSPEED_LOG_FORMAT",
        "OPENAI_API_KEY",
        "TEMPORAL_BIN",
    ] {
        assert!(
            read.contains(name),
            "{name} not found in the sources: {read:?}"
        );
    }
    let listed = variables_listed();
    let missing: Vec<&String> = read
        .iter()
        .filter(|name| !listed.contains(*name) && !SYSTEM.contains(&name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "read by a binary but missing from .env_example (add each with its default and \
         one line saying what it does): {missing:?}"
    );
}
