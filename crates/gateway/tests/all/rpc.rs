//! Method calls through real jsonrpsee clients.

use jsonrpsee::core::client::ClientT as _;
use serde_json::{Value, json};

use crate::mock::{CONFLICT, MISSING};
use crate::support::{OTHER_UNIVERSE, UNIVERSE, call_error, error_data, params, start};

#[tokio::test]
async fn a_method_call_over_http_reaches_the_backend_with_the_callers_universe() {
    let harness = start().await;
    let client = harness.http(Some(&harness.key));
    let result: Value = client
        .request("initialize", params(json!({"clientName": "test"})))
        .await
        .unwrap();
    assert_eq!(result["universeId"], UNIVERSE);
    assert_eq!(result["protocolVersion"], api::PROTOCOL_VERSION);
    assert_eq!(harness.calls(), 1);

    let other = harness.http(Some(&harness.other_key));
    let listed: Value = other
        .request("session/list", params(json!({})))
        .await
        .unwrap();
    assert_eq!(
        listed["sessions"][0]["sessionId"],
        format!("{OTHER_UNIVERSE}-s1")
    );
    assert_eq!(
        harness.seen.last_universe.lock().unwrap().as_deref(),
        Some(OTHER_UNIVERSE)
    );
}

#[tokio::test]
async fn a_method_call_over_websocket_works_and_omitted_params_mean_defaults() {
    let harness = start().await;
    let client = harness.ws(Some(&harness.key)).await;
    let result: Value = client
        .request("initialize", jsonrpsee::rpc_params![])
        .await
        .unwrap();
    assert_eq!(result["universeId"], UNIVERSE);
    let methods = result["methods"].as_array().unwrap();
    assert_eq!(methods.len(), api::METHODS.len());
}

#[tokio::test]
async fn a_universe_in_params_is_refused_not_obeyed() {
    let harness = start().await;
    let client = harness.http(Some(&harness.key));
    // The wire types deny unknown fields; the gateway never reads one either way.
    let err = call_error(
        client
            .request::<Value, _>(
                "session/list",
                params(json!({"universeId": OTHER_UNIVERSE})),
            )
            .await,
    );
    assert_eq!(err.code(), -32602);
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn api_errors_keep_their_code_message_and_data() {
    let harness = start().await;
    let client = harness.http(Some(&harness.key));

    let err = call_error(
        client
            .request::<Value, _>("session/read", params(json!({"sessionId": CONFLICT})))
            .await,
    );
    assert_eq!(err.code(), -32009);
    assert_eq!(err.message(), "revision moved");
    assert_eq!(
        error_data(&err),
        json!({"kind": "conflict", "reason": "revisionConflict", "currentRevision": 7})
    );

    let err = call_error(
        client
            .request::<Value, _>("session/read", params(json!({"sessionId": MISSING})))
            .await,
    );
    assert_eq!(err.code(), -32004);
    assert_eq!(
        error_data(&err),
        json!({"kind": "notFound", "reason": "sessionNotFound"})
    );

    let err = call_error(
        client
            .request::<Value, _>(
                "session/start",
                params(json!({"config": {"model": {
                "providerId": "p", "apiKind": "openai:responses", "model": "m"}}})),
            )
            .await,
    );
    assert_eq!(err.code(), -32010);
    assert_eq!(error_data(&err)["kind"], "rejected");
}

#[tokio::test]
async fn every_call_of_a_batch_passes_the_gateway_middleware() {
    let harness = start().await;
    let batch = json!([
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "session/read", "params": {"sessionId": MISSING}},
        {"jsonrpc": "2.0", "method": "initialize", "params": {}},
    ]);
    let (status, body) = harness
        .post_raw(Some(&harness.key), batch.to_string())
        .await;
    assert_eq!(status, 200);
    let answers = body.as_array().unwrap();
    assert_eq!(answers.len(), 2, "the notification gets no answer: {body}");
    assert_eq!(answers[0]["result"]["universeId"], UNIVERSE);
    assert_eq!(answers[1]["error"]["code"], -32004);
    assert_eq!(harness.calls(), 2, "notifications never run a method");

    // Without a key, each call of the batch is refused on its own.
    let (_, body) = harness.post_raw(None, batch.to_string()).await;
    let answers = body.as_array().unwrap();
    assert_eq!(answers.len(), 2);
    for answer in answers {
        assert_eq!(answer["error"]["code"], -32000);
    }
    assert_eq!(harness.calls(), 2);
}

/// Issue: "-32603 only for real server faults, without paths, SQL or key fragments":
/// a backend fault keeps its code and typed data, but not its internal text.
#[tokio::test]
async fn server_faults_do_not_leak_internal_text() {
    let harness = crate::support::start().await;
    let client = harness.http(Some(&harness.key));
    let err = crate::support::call_error(
        client
            .request::<serde_json::Value, _>(
                "session/read",
                crate::support::params(serde_json::json!({"sessionId": crate::mock::FAULT})),
            )
            .await,
    );
    assert_eq!(err.code(), -32603);
    assert!(!err.message().contains("/srv"), "{}", err.message());
    assert!(!err.message().contains("SELECT"), "{}", err.message());
    assert_eq!(
        crate::support::error_data(&err),
        serde_json::json!({"kind": "internal", "reason": "storeFailed"})
    );
}
