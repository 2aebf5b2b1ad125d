//! Missing and unknown keys: JSON-RPC `-32000` with typed data, before the backend.

use jsonrpsee::core::client::{ClientT as _, SubscriptionClientT as _};
use serde_json::{Value, json};

use crate::support::{call_error, error_data, params, start};

#[tokio::test]
async fn http_calls_without_a_key_are_unauthorized_with_missing_key() {
    let harness = start().await;
    let client = harness.http(None);
    let err = call_error(
        client
            .request::<Value, _>("initialize", params(json!({})))
            .await,
    );
    assert_eq!(err.code(), -32000);
    assert_eq!(
        error_data(&err),
        json!({"kind": "unauthorized", "reason": "missingKey"})
    );
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn http_calls_with_an_unknown_key_are_unauthorized_with_unknown_key() {
    let harness = start().await;
    let client = harness.http(Some("lsk_not-a-real-key"));
    let err = call_error(
        client
            .request::<Value, _>("session/list", params(json!({})))
            .await,
    );
    assert_eq!(err.code(), -32000);
    assert_eq!(
        error_data(&err),
        json!({"kind": "unauthorized", "reason": "unknownKey"})
    );
    // A well-formed header with another scheme is no key at all.
    let (_, body) = {
        let response = reqwest::Client::new()
            .post(harness.rpc_url())
            .header("authorization", format!("Basic {}", harness.key))
            .header("content-type", "application/json")
            .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
            .send()
            .await
            .unwrap();
        (response.status(), response.json::<Value>().await.unwrap())
    };
    assert_eq!(body["error"]["data"]["reason"], "missingKey");
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn websocket_calls_without_a_valid_key_are_unauthorized() {
    let harness = start().await;
    let anonymous = harness.ws(None).await;
    let err = call_error(
        anonymous
            .request::<Value, _>("initialize", params(json!({})))
            .await,
    );
    assert_eq!(err.code(), -32000);
    assert_eq!(error_data(&err)["reason"], "missingKey");

    let unknown = harness.ws(Some("lsk_wrong")).await;
    let err = call_error(
        unknown
            .request::<Value, _>("initialize", params(json!({})))
            .await,
    );
    assert_eq!(error_data(&err)["reason"], "unknownKey");

    // Subscriptions are gated too.
    let err = match unknown
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": "s1"})),
            "session/unsubscribe",
        )
        .await
    {
        Err(jsonrpsee::core::ClientError::Call(err)) => err,
        other => panic!("expected a refusal, got {other:?}"),
    };
    assert_eq!(err.code(), -32000);
    assert_eq!(harness.calls(), 0);
}
