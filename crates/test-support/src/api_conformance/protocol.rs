//! API conformance cases, the JSON-RPC layer: malformed JSON, unknown methods, params that are not an
//! object or carry unknown fields, oversized bodies. Each gets its error and none
//! changes anything.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::client::{Harness, error_message, expect_error};
use super::{Case, case};

pub(super) const CASES: [Case; 1] = [case!(
    malformed_requests_get_protocol_errors_and_change_nothing,
    ["session/start", "session/read", "session/list"]
)];

pub(super) async fn malformed_requests_get_protocol_errors_and_change_nothing(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    a.start_session("s-proto").await;
    let before = a
        .call("session/read", json!({"sessionId": "s-proto"}))
        .await;

    let (_, malformed) = ctx.raw_post("{\"jsonrpc\":\"2.0\",\"method\":").await;
    assert_eq!(malformed["error"]["code"], -32700, "{malformed}");
    let err = a.refusal("session/explode", json!({})).await;
    expect_error(&err, -32601, None);
    let positional =
        json!({"jsonrpc": "2.0", "id": 1, "method": "session/read", "params": ["s-proto"]});
    let (_, answer) = ctx.raw_post(positional.to_string()).await;
    assert_eq!(answer["error"]["code"], -32602, "{answer}");
    assert_eq!(
        answer["error"]["data"]["reason"], "paramsNotAnObject",
        "{answer}"
    );
    let extra = a
        .refusal(
            "session/read",
            json!({"sessionId": "s-proto", "sessionID": "x"}),
        )
        .await;
    expect_error(&extra, -32602, None);
    assert!(error_message(&extra).contains("sessionID"), "{extra}");
    let start_extra = json!({"sessionId": "s-2", "config": super::fixtures::session_config("none"), "tenant": "b"});
    a.invalid("session/start", start_extra, "tenant", None)
        .await;

    // Bigger than any request limit: refused as soon as it passes the limit, so the
    // client sees either the refusal or, still writing, the connection closing.
    let huge = json!({"jsonrpc": "2.0", "id": 1, "method": "blob/put",
                      "params": {"dataBase64": "A".repeat(8 * 1024 * 1024)}});
    let oversized = reqwest::Client::new()
        .post(&ctx.stack().rpc_http_url)
        .header("authorization", format!("Bearer {}", ctx.stack().a.api_key))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&huge)?)
        .send()
        .await;
    if let Ok(response) = oversized {
        let status = response.status().as_u16();
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        assert!(
            status == 413 || body["error"]["code"].is_i64(),
            "{status} {body}"
        );
    }

    let after = a
        .call("session/read", json!({"sessionId": "s-proto"}))
        .await;
    assert_eq!(
        before["eventCursor"], after["eventCursor"],
        "nothing was written"
    );
    let list = a.call("session/list", json!({})).await;
    assert_eq!(
        list["sessions"].as_array().unwrap().len(),
        1,
        "no session was created"
    );
    Ok(())
}
