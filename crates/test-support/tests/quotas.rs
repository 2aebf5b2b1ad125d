//! Per-universe quotas through the real gateway: a universe at its session quota
//! cannot start another session (a typed `quotaExceeded`), may still use the ones it
//! has, and no other universe notices.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use serde_json::{Value, json};
use test_support::api_conformance::local::{LocalStack, LocalStackConfig, Quotas};
use test_support::rpc_client::{bearer_headers, params};

fn config() -> Value {
    json!({"model": {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_universe_at_its_session_quota_cannot_start_another() {
    let host = LocalStack::start(LocalStackConfig {
        script: json!({"turns": []}),
        universes: vec!["universe-a".into(), "universe-b".into()],
        llm_attempts_max: 1,
        quotas: Quotas {
            sessions_per_universe_max: 2,
            ..Quotas::default()
        },
    })
    .await
    .unwrap();
    let client = |key: &str| {
        HttpClientBuilder::default()
            .set_headers(bearer_headers(key))
            .build(format!("http://{}/rpc", host.addr().unwrap()))
            .unwrap()
    };
    let (a, b) = (client(&host.universes[0].1), client(&host.universes[1].1));
    let start = |id: &str| json!({"sessionId": id, "config": config()});
    for id in ["s-1", "s-2"] {
        let _: Value = a.request("session/start", params(start(id))).await.unwrap();
    }
    let refused = a
        .request::<Value, _>("session/start", params(start("s-3")))
        .await
        .unwrap_err();
    let jsonrpsee::core::ClientError::Call(error) = refused else {
        panic!("{refused:?}")
    };
    assert_eq!(error.code(), -32010, "{error:?}");
    let data: Value = serde_json::from_str(error.data().unwrap().get()).unwrap();
    assert_eq!(data["reason"], "quotaExceeded", "{data}");
    assert_eq!(data["quota"], "sessions", "{data}");
    // What the universe holds still works: starting an existing session is no new one.
    let again: Value = a
        .request("session/start", params(start("s-1")))
        .await
        .unwrap();
    assert_eq!(again["sessionId"], "s-1");
    let listed: Value = a.request("session/list", params(json!({}))).await.unwrap();
    assert_eq!(listed["sessions"].as_array().unwrap().len(), 2);
    // Another universe has its own quota.
    let _: Value = b
        .request("session/start", params(start("s-3")))
        .await
        .unwrap();
}
