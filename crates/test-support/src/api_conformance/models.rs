//! API conformance cases, models: `models/list` shows the deployment's providers and
//! models without secrets, and sessions get a listed model's limits.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::client::Harness;
use super::fixtures::session_config;
use super::{Case, case};

pub(super) const CASES: [Case; 1] = [case!(
    models_are_listed_and_bound_sessions,
    ["models/list", "session/start", "session/update"]
)];

/// The targets serve [`super::local::fake_catalog`]: provider `fake` with
/// `fake-model` (the engine's defaults) and `fake-small` (16,000 tokens, output
/// 1,000 by default and 2,000 at most).
pub(super) async fn models_are_listed_and_bound_sessions(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let listed = a.call("models/list", json!({})).await;
    let providers = listed["providers"].as_array().unwrap();
    assert_eq!(providers.len(), 1, "{listed}");
    let fake = &providers[0];
    assert_eq!(fake["providerId"], "fake");
    assert_eq!(fake["apiKind"], "openai:responses");
    let host = fake["host"].as_str().unwrap();
    assert!(!host.contains('/'), "only the host is shown: {host}");
    assert!(
        !listed.to_string().contains("sk-provider-secret"),
        "{listed}"
    );
    let models: Vec<&str> = fake["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|model| model["model"].as_str().unwrap())
        .collect();
    assert_eq!(models, ["fake-model", "fake-small"]);
    let small = &fake["models"][1];
    assert_eq!(small["contextWindowTokens"], 16_000);
    assert_eq!(small["maxOutputTokensDefault"], 1_000);
    assert_eq!(small["maxOutputTokensLimit"], 2_000);
    assert_eq!(small["compactionThresholdTokensDefault"], 12_800);

    // A session that names no limits gets the model's.
    let mut config = session_config("none");
    config["model"]["model"] = json!("fake-small");
    let started = a
        .call(
            "session/start",
            json!({"sessionId": "s-small", "config": config}),
        )
        .await;
    assert_eq!(started["config"]["maxOutputTokens"], 1_000);
    assert_eq!(started["config"]["compactionThresholdTokens"], 12_800);

    // Above the model's limit, an unknown provider, the wrong API kind: refused.
    let mut too_large = config.clone();
    too_large["generation"]["maxOutputTokens"] = json!(2_001);
    let mut unknown = config.clone();
    unknown["model"]["providerId"] = json!("not-configured");
    let mut wrong_kind = config.clone();
    wrong_kind["model"]["apiKind"] = json!("anthropic:messages");
    for (refused, reason) in [
        (too_large, "invalidConfig"),
        (unknown, "unknownProvider"),
        (wrong_kind, "invalidConfig"),
    ] {
        let data = a
            .refused("session/start", json!({"config": refused}), -32602, reason)
            .await;
        assert_eq!(data["kind"], "invalidParams");
    }

    // Moving to another model brings its defaults.
    let patch = json!({"model": {"providerId": "fake", "apiKind": "openai:responses",
                                 "model": "fake-model"}});
    let revision = started["revision"].as_u64().unwrap();
    let updated = a
        .call(
            "session/update",
            json!({"sessionId": "s-small", "expectedRevision": revision, "patch": patch}),
        )
        .await;
    assert_eq!(updated["config"]["maxOutputTokens"], 8_192);
    assert_eq!(updated["config"]["compactionThresholdTokens"], 150_000);
    Ok(())
}
