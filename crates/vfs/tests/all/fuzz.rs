//! Proptest fuzzing of what the VFS parses from untrusted input: paths (from API
//! requests and tool calls) and manifests (any tenant blob may be named as one).
//! A fixed seed keeps CI deterministic; `PROPTEST_CASES` and `PROPTEST_SEED` widen
//! a local run. Each property also stops after a time budget, so CI stays bounded
//! on a slow machine.

use std::time::{Duration, Instant};

use engine::BlobRef;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use vfs::{FileEntry, Limits, SessionPath, Snapshot, VfsPath};

const CASES: u32 = 512;
const SEED: u64 = 0x5eed_f055;
const BUDGET: Duration = Duration::from_secs(20);

fn run<S: Strategy>(strategy: S, test: impl Fn(S::Value)) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(CASES);
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|seed| seed.parse::<u64>().ok())
        .unwrap_or(SEED);
    let mut seed_bytes = [0u8; 32];
    seed_bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let rng = TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes);
    let started = Instant::now();
    let result = TestRunner::new_with_rng(config, rng).run(&strategy, |value| {
        if started.elapsed() < BUDGET {
            test(value);
        }
        Ok(())
    });
    if let Err(err) = result {
        panic!("{err}");
    }
}

/// Path-like text: names, separators, dots, and the characters the rules refuse,
/// sometimes very long.
fn raw_path() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => "[a-z]{1,8}",
        2 => Just("/".to_owned()),
        1 => Just(".".to_owned()),
        1 => Just("..".to_owned()),
        1 => Just("//".to_owned()),
        1 => "[\\x00-\\x1f\\\\:]",
        1 => "\\PC{1,4}",
        1 => "[a-z]{250,260}",
    ];
    prop_oneof![
        8 => prop::collection::vec(piece, 0..80).prop_map(|pieces| pieces.concat()),
        1 => (1usize..3000).prop_map(|n| "a/".repeat(n)),
        1 => any::<String>(),
    ]
}

#[test]
fn vfs_paths_never_panic_and_accepted_ones_round_trip_within_limits() {
    run(raw_path(), |raw| {
        if let Ok(path) = VfsPath::parse(&raw) {
            assert_eq!(path.as_str(), raw);
            assert_eq!(VfsPath::parse(path.as_str()).unwrap(), path);
            let json = serde_json::to_string(&path).unwrap();
            assert_eq!(serde_json::from_str::<VfsPath>(&json).unwrap(), path);
            Limits::default().check_path(&path).unwrap();
            assert!(path.ancestors().count() < path.depth().max(1));
        }
    });
}

#[test]
fn session_paths_never_panic_and_resolve_to_normal_paths_within_limits() {
    run((raw_path(), raw_path()), |(raw, cwd)| {
        let cwd = SessionPath::parse(&format!("/{cwd}")).unwrap_or_else(|_| SessionPath::root());
        if let Ok(path) = SessionPath::resolve(&raw, &cwd) {
            let json = serde_json::to_string(&path).unwrap();
            assert_eq!(serde_json::from_str::<SessionPath>(&json).unwrap(), path);
            Limits::default().check_names(path.names()).unwrap();
        }
    });
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    // Sizes within the per-file limit; twelve files stay under the total.
    let size = 0..=vfs::limits::FILE_BYTES_MAX;
    let file = ("[a-c]{1,3}(/[a-c]{1,3}){0,3}", size, any::<bool>());
    prop::collection::vec(file, 0..12).prop_map(|files| {
        let mut tree = Snapshot::new();
        for (raw, size, executable) in files {
            let entry = FileEntry {
                blob: BlobRef::of_bytes(raw.as_bytes()),
                size_bytes: size,
                executable,
            };
            // Paths that clash with a file or directory already there are skipped.
            let _ = tree.insert(VfsPath::parse(&raw).unwrap(), entry);
        }
        tree
    })
}

/// Edits to a valid manifest: overwrite, insert or delete bytes, or splice text
/// that makes paths deep or long.
#[derive(Debug, Clone)]
enum Mutation {
    Set(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let splice = prop_oneof![
        prop::collection::vec(any::<u8>(), 1..8),
        (1usize..400).prop_map(|n| "/a".repeat(n).into_bytes()),
        Just(b"\",\"path\":\"".to_vec()),
        Just(b"99999999999999999999".to_vec()),
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Mutation::Set(at, byte)),
        (any::<usize>(), splice).prop_map(|(at, bytes)| Mutation::Insert(at, bytes)),
        (any::<usize>(), 1usize..64).prop_map(|(at, len)| Mutation::Delete(at, len)),
    ]
}

fn apply(bytes: &mut Vec<u8>, mutation: &Mutation) {
    let at = |raw: usize, len: usize| if len == 0 { 0 } else { raw % len };
    match mutation {
        Mutation::Set(raw, byte) if !bytes.is_empty() => {
            let at = at(*raw, bytes.len());
            bytes[at] = *byte;
        }
        Mutation::Set(..) => {}
        Mutation::Insert(raw, insert) => {
            let at = at(*raw, bytes.len() + 1);
            bytes.splice(at..at, insert.iter().copied());
        }
        Mutation::Delete(raw, len) => {
            let at = at(*raw, bytes.len() + 1);
            let end = (at + len).min(bytes.len());
            bytes.drain(at..end);
        }
    }
}

/// Whatever decodes is a snapshot a commit could have made: canonical, and within
/// every default limit.
fn check_decoded(bytes: &[u8]) {
    let blob = BlobRef::of_bytes(bytes);
    if let Ok(tree) = Snapshot::decode(&blob, bytes) {
        tree.check_limits(&Limits::default()).unwrap();
        assert_eq!(tree.encode(), bytes);
    }
}

#[test]
fn arbitrary_bytes_never_panic_the_manifest_decoder() {
    run(prop::collection::vec(any::<u8>(), 0..512), |bytes| {
        check_decoded(&bytes)
    });
}

#[test]
fn mutated_manifests_never_panic_and_stay_within_limits() {
    run(
        (snapshot(), prop::collection::vec(mutation(), 0..6)),
        |(tree, mutations)| {
            let mut bytes = tree.encode();
            let blob = BlobRef::of_bytes(&bytes);
            assert_eq!(Snapshot::decode(&blob, &bytes).unwrap(), tree);
            for mutation in &mutations {
                apply(&mut bytes, mutation);
            }
            check_decoded(&bytes);
        },
    );
}
