//! Proptest fuzzing of `apply_patch` (envelope parsing, path resolution, hunk
//! application) through the public tool surface: arbitrary text and mutated valid
//! patches never panic, never surface as storage failures, and a refused patch
//! commits nothing. Fixed seed for CI; `PROPTEST_CASES`/`PROPTEST_SEED` widen a
//! local run; a time budget bounds it on a slow machine.

use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use super::*;

const CASES: u32 = 256;
const SEED: u64 = 0x0a11_9a7c;
const BUDGET: Duration = Duration::from_secs(20);

fn run<S: Strategy>(strategy: S, test: impl Fn(S::Value)) {
    let env = |name: &str| std::env::var(name).ok().and_then(|raw| raw.parse().ok());
    let cases = env("PROPTEST_CASES").map_or(CASES, |cases: u64| cases as u32);
    let seed: u64 = env("PROPTEST_SEED").unwrap_or(SEED);
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

/// Lines a patch is made of, valid and not.
fn patch_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("*** Begin Patch".to_owned()),
        Just("*** End Patch".to_owned()),
        Just("*** End of File".to_owned()),
        "\\*\\*\\* (Add|Delete|Update) File: [a-z./]{0,12}",
        "\\*\\*\\* Move to: [a-z./]{0,12}",
        "@@ ?[a-z ]{0,10}",
        "[+ -][a-z(){};]{0,12}",
        Just("    a + b".to_owned()),
        Just("-    a + b".to_owned()),
        Just("+    a * b".to_owned()),
        "\\PC{0,12}",
        Just(String::new()),
    ]
}

/// A valid update of `src/lib.rs`, to mutate.
const VALID: &str = "*** Begin Patch\n*** Update File: src/lib.rs\n@@ pub fn add\n-    a + b\n+    a * b\n*** Add File: docs/x.md\n+x\n*** End Patch";

fn patch_text() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(VALID.to_owned()),
        1 => ("[a-z]{6,10}", prop::collection::vec("[+][a-z ]{0,12}", 0..6)).prop_map(|(name, lines)| {
            format!("*** Begin Patch\n*** Add File: gen/{name}.md\n{}\n*** End Patch", lines.join("\n"))
        }),
        3 => prop::collection::vec(patch_line(), 0..24).prop_map(|lines| lines.join("\n")),
        1 => any::<String>(),
        2 => (any::<usize>(), prop::collection::vec(patch_line(), 1..4)).prop_map(|(at, lines)| {
            let mut all: Vec<String> = VALID.lines().map(str::to_owned).collect();
            let at = at % (all.len() + 1);
            all.splice(at..at, lines);
            all.join("\n")
        }),
        1 => (any::<usize>(), 1usize..30).prop_map(|(at, len)| {
            let at = at % VALID.len();
            let end = (at + len).min(VALID.len());
            let mut text = VALID.as_bytes().to_vec();
            text.drain(at..end);
            String::from_utf8_lossy(&text).into_owned()
        }),
    ]
}

#[test]
fn apply_patch_never_panics_on_arbitrary_input() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let fixture = runtime.block_on(fixture());
    let applied = std::cell::Cell::new(0u32);
    run(patch_text(), |patch| {
        runtime.block_on(async {
            let (_, before) = fixture.tree().await;
            let arguments = serde_json::to_vec(&json!({"input": patch})).unwrap();
            let outcome = fixture
                .toolbox()
                .invoke("apply_patch", &arguments)
                .await
                .expect("a patch is never a storage failure");
            let (_, after) = fixture.tree().await;
            match outcome.status {
                ToolStatus::Ok => {
                    applied.set(applied.get() + 1);
                    assert_eq!(after, before + 1, "one commit");
                }
                _ => assert_eq!(after, before, "a refused patch commits nothing"),
            }
        });
    });
    // Not vacuous: some inputs are patches that apply.
    assert!(applied.get() > 0);
}
