//! Protocol errors over raw HTTP: answered by the gateway, never by the backend.

use serde_json::json;

use crate::support::{start, start_with, test_config};

#[tokio::test]
async fn malformed_json_is_a_parse_error() {
    let harness = start().await;
    let (_, body) = harness
        .post_raw(
            Some(&harness.key),
            r#"{"jsonrpc": "2.0", "id": 1, "method": "#,
        )
        .await;
    assert_eq!(body["error"]["code"], -32700, "{body}");
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn a_request_without_a_method_is_an_invalid_request() {
    let harness = start().await;
    let (_, body) = harness
        .post_raw(Some(&harness.key), r#"{"jsonrpc": "2.0", "id": 1}"#)
        .await;
    assert_eq!(body["error"]["code"], -32600, "{body}");
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn an_unknown_method_is_method_not_found() {
    let harness = start().await;
    let (status, body) = harness
        .post_raw(
            Some(&harness.key),
            json!({"jsonrpc": "2.0", "id": 1, "method": "session/explode", "params": {}})
                .to_string(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["error"]["code"], -32601, "{body}");
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn wrong_params_are_invalid_params_naming_the_problem() {
    let harness = start().await;
    let call = |params: serde_json::Value| {
        json!({"jsonrpc": "2.0", "id": 1, "method": "session/read", "params": params}).to_string()
    };

    let (_, body) = harness.post_raw(Some(&harness.key), call(json!({}))).await;
    assert_eq!(body["error"]["code"], -32602, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("sessionId"), "{message}");
    assert_eq!(body["error"]["data"]["kind"], "invalidParams");

    let (_, body) = harness
        .post_raw(
            Some(&harness.key),
            call(json!({"sessionId": "s1", "bogus": 1})),
        )
        .await;
    assert_eq!(body["error"]["code"], -32602, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("bogus"));

    // serde names the expected type here, not the field (see the report).
    let (_, body) = harness
        .post_raw(Some(&harness.key), call(json!({"sessionId": 5})))
        .await;
    assert_eq!(body["error"]["code"], -32602, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("session/read")
    );

    // Positional params decode like the struct's fields in order (serde's rule).
    let (_, body) = harness.post_raw(Some(&harness.key), call(json!([5]))).await;
    assert_eq!(body["error"]["code"], -32602, "{body}");
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_the_backend() {
    let harness = start_with(gateway::GatewayConfig {
        rpc_body_bytes_max: 1024,
        ..test_config()
    })
    .await;
    let big = "x".repeat(4096);
    let (status, body) = harness
        .post_raw(
            Some(&harness.key),
            json!({"jsonrpc": "2.0", "id": 1, "method": "blob/put", "params": {"dataBase64": big}})
                .to_string(),
        )
        .await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], -32600, "{body}");
    assert_eq!(body["error"]["data"]["reason"], "requestTooLarge");
    assert!(body["id"].is_null());
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn an_oversized_batch_is_refused_whole() {
    let harness = start_with(gateway::GatewayConfig {
        rpc_batch_calls_max: 2,
        ..test_config()
    })
    .await;
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}});
    let (_, body) = harness
        .post_raw(Some(&harness.key), json!([call, call, call]).to_string())
        .await;
    assert_eq!(body["error"]["code"], -32600, "{body}");
    assert_eq!(body["error"]["data"]["reason"], "batchTooLarge");
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn subscriptions_over_plain_http_are_rejected_with_a_reason() {
    let harness = start().await;
    let (_, body) = harness
        .post_raw(
            Some(&harness.key),
            json!({"jsonrpc": "2.0", "id": 1, "method": "session/subscribe",
                   "params": {"sessionId": "s1"}})
            .to_string(),
        )
        .await;
    assert_eq!(body["error"]["code"], -32010, "{body}");
    assert_eq!(body["error"]["data"]["reason"], "webSocketRequired");
    assert_eq!(harness.calls(), 0);
}

/// Regression (issue: "envelope violations get an empty HTTP 200"): every malformed
/// envelope is a `-32600` Invalid Request error object with `id: null`.
#[tokio::test]
async fn envelope_violations_are_invalid_requests_with_a_null_id() {
    let harness = start().await;
    let cases = [
        (
            json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "initialize"}),
            "invalidId",
        ),
        (
            json!({"jsonrpc": "2.0", "id": [1], "method": "initialize"}),
            "invalidId",
        ),
        (
            json!({"jsonrpc": "2.0", "id": true, "method": "initialize"}),
            "invalidId",
        ),
        (json!({"id": 1, "method": "initialize"}), "jsonrpcVersion"),
        (
            json!({"jsonrpc": "1.0", "id": 1, "method": "initialize"}),
            "jsonrpcVersion",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": 7}),
            "missingMethod",
        ),
        (
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": 3}),
            "invalidParams",
        ),
        (json!(5), "notAnObject"),
        (json!("initialize"), "notAnObject"),
        (json!([]), "emptyBatch"),
        (
            json!([{"jsonrpc": "2.0", "id": 1, "method": "initialize"},
                {"jsonrpc": "2.0", "id": {}, "method": "initialize"}]),
            "invalidId",
        ),
        (json!([1, 2]), "notAnObject"),
    ];
    for (request, reason) in cases {
        let (status, body) = harness
            .post_raw(Some(&harness.key), request.to_string())
            .await;
        assert_eq!(status, 200, "{request}: {body}");
        assert_eq!(body["jsonrpc"], "2.0", "{request}: {body}");
        assert!(body["id"].is_null(), "{request}: {body}");
        assert_eq!(body["error"]["code"], -32600, "{request}: {body}");
        assert_eq!(body["error"]["data"]["kind"], "invalidRequest", "{request}");
        assert_eq!(body["error"]["data"]["reason"], reason, "{request}: {body}");
    }
    // Unauthenticated envelopes get the same answer: nothing reaches the backend.
    let (_, body) = harness
        .post_raw(
            None,
            json!({"jsonrpc": "2.0", "id": [], "method": "x"}).to_string(),
        )
        .await;
    assert_eq!(body["error"]["code"], -32600, "{body}");
    assert_eq!(harness.calls(), 0);
}

/// A body that trickles in is cut at its deadline with a typed error, not waited for.
#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_a_408_invalid_request() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let harness = start_with(gateway::GatewayConfig {
        rpc_body_read_ms: 300,
        ..test_config()
    })
    .await;
    let mut socket = tokio::net::TcpStream::connect(harness.gateway.local_addr())
        .await
        .unwrap();
    let head = format!(
        "POST /rpc HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"jsonrpc\"",
        harness.key
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    let started = std::time::Instant::now();
    let mut response = vec![0; 4096];
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.read(&mut response),
    )
    .await
    .expect("an answer within the deadline")
    .unwrap();
    let response = String::from_utf8_lossy(&response[..read]);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("bodyTimeout"), "{response}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    assert_eq!(harness.calls(), 0);
}

/// Clients without a key that trickle their bodies hold only the anonymous places:
/// a tenant with a key still gets in.
#[tokio::test]
async fn unauthenticated_slow_requests_cannot_lock_tenants_out() {
    use jsonrpsee::core::client::ClientT as _;
    use tokio::io::AsyncWriteExt as _;
    let harness = start_with(gateway::GatewayConfig {
        connections_max: 4,
        ..test_config()
    })
    .await;
    let mut held = Vec::new();
    for _ in 0..8 {
        let mut socket = tokio::net::TcpStream::connect(harness.gateway.local_addr())
            .await
            .unwrap();
        socket
            .write_all(b"POST /rpc HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
            .await
            .unwrap();
        held.push(socket);
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let _: serde_json::Value = harness
        .http(Some(&harness.key))
        .request("initialize", crate::support::params(json!({})))
        .await
        .unwrap();
    drop(held);
}
