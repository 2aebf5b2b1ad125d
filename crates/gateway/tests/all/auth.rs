//! Missing and unknown keys: JSON-RPC `-32000` with typed data, before the backend.

use jsonrpsee::core::client::ClientT as _;
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

/// Regression (security review F3): an upgrade without a valid key used to be
/// accepted, and such sockets held connection places forever. A wrong key, or an
/// `Authorization` header of another scheme, is refused before upgrading; an upgrade
/// without the header at all is a browser's, served in a bounded pre-auth state
/// (`ws_auth.rs`), or refused too when that is turned off.
#[tokio::test]
async fn websocket_upgrades_with_a_wrong_key_get_401_before_upgrading() {
    let harness = start().await;
    let (status, body) = harness.raw_upgrade(Some("Bearer lsk_wrong")).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], -32000);
    assert_eq!(body["error"]["data"]["reason"], "unknownKey");

    let (status, body) = harness
        .raw_upgrade(Some(&format!("Basic {}", harness.key)))
        .await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["data"]["reason"], "missingKey");

    // jsonrpsee's own client sees the refusal as a failed connect.
    let refused = jsonrpsee::ws_client::WsClientBuilder::default()
        .set_headers(crate::support::auth_headers(Some("lsk_wrong")))
        .build(harness.ws_url())
        .await;
    assert!(refused.is_err());

    let (status, _) = harness
        .raw_upgrade(Some(&format!("Bearer {}", harness.key)))
        .await;
    assert_eq!(status, 101);
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn without_first_message_authentication_keyless_upgrades_get_401() {
    let harness = crate::support::start_with(gateway::GatewayConfig {
        ws_preauth_connections_max: 0,
        ..crate::support::test_config()
    })
    .await;
    let (status, body) = harness.raw_upgrade(None).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["data"]["reason"], "missingKey");
}
