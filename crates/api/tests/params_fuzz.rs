//! Fuzzing the dispatcher's params decoding: for every method of the contract,
//! arbitrary JSON (and mutations of plausible params) never panics and is answered
//! by a typed error: -32602 (invalid params, naming the field) when it does not fit,
//! `methodNotFound` from the `Unserved` backend when it does. Bounded: a fixed seed
//! and case count in CI (`PROPTEST_CASES`/`PROPTEST_SEED` widen a local run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::{Caller, ErrorKind, METHODS, SUBSCRIPTIONS, Unserved};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value, json};

fn caller() -> Caller {
    Caller {
        universe_id: "u".into(),
        key_id: "k".into(),
        operator: false,
    }
}

/// Arbitrary JSON, bounded in depth and width.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|n| json!(n)),
        ".{0,40}".prop_map(Value::String),
        "sha256:[0-9a-f]{64}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Field names the contract uses, and others.
fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "sessionId",
            "runId",
            "submissionId",
            "input",
            "config",
            "cursor",
            "limit",
            "waitMs",
            "blobRef",
            "blobRefs",
            "dataBase64",
            "expectedRevision",
            "patch",
            "workspaceId",
            "snapshotRef",
            "mountPath",
            "files",
            "source",
            "mode",
            "type",
            "text",
            "model",
        ])
        .prop_map(str::to_owned),
        "[a-zA-Z]{1,12}",
    ]
}

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(256);
    let seed = std::env::var("PROPTEST_SEED")
        .ok()
        .and_then(|seed| seed.parse::<u64>().ok())
        .unwrap_or(0x5eed_5eed);
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config {
            cases,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

#[test]
fn arbitrary_params_get_typed_errors_for_every_method() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let methods: Vec<&str> = METHODS
        .iter()
        .map(|method| method.name)
        .chain(SUBSCRIPTIONS.iter().map(|sub| sub.subscribe))
        .collect();
    let mut runner = runner();
    runner
        .run(
            &(prop::sample::select(methods), json_value()),
            |(method, params)| {
                let error = runtime.block_on(async {
                    if SUBSCRIPTIONS.iter().any(|sub| sub.subscribe == method) {
                        api::subscribe(&Unserved, &caller(), method, params.clone())
                            .await
                            .err()
                    } else {
                        // Each method with the kind of key it needs (`check_role`).
                        let mut caller = caller();
                        caller.operator = method.starts_with(api::OPERATOR_METHOD_PREFIX);
                        api::dispatch(&Unserved, &caller, method, params.clone())
                            .await
                            .err()
                    }
                });
                let error = error.expect("the Unserved backend never answers with a result");
                let kind = error.data.kind;
                prop_assert!(
                    kind == ErrorKind::InvalidParams
                        || (kind == ErrorKind::NotFound
                            && error.data.reason.as_deref() == Some("methodNotFound")),
                    "{method} {params}: {error:?}"
                );
                prop_assert!(!error.message.is_empty());
                Ok(())
            },
        )
        .unwrap();
}
