//! WebSocket limits through the real gateway: slow readers, idle sockets, places
//! per universe, message size and envelopes.

use std::time::{Duration, Instant};

use base64::Engine as _;
use jsonrpsee::core::client::{ClientT as _, SubscriptionClientT as _};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;

use crate::mock::ENDLESS;
use crate::support::{Harness, call_error, error_data, params, start_with, test_config};
use crate::wire::{masked_text_frame, read_close, read_text, send_call, upgrade};

/// Stores `bytes` in the harness's universe; returns the blob ref.
pub(crate) async fn put_blob(harness: &Harness, bytes: &[u8]) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    let result: Value = harness
        .http(Some(&harness.key))
        .request("blob/put", params(json!({"dataBase64": data})))
        .await
        .unwrap();
    result["blobRef"].as_str().unwrap().to_owned()
}

/// Sends `blob/get` of `blob_ref` over `socket` until a write fails (the gateway
/// closed the socket) or `calls_max` calls went out; never reads. Returns the calls
/// sent and whether the socket was closed.
pub(crate) async fn flood_without_reading(
    socket: &mut tokio::net::TcpStream,
    blob_ref: &str,
    calls_max: u32,
    deadline: Duration,
) -> (u32, bool) {
    let started = Instant::now();
    for id in 0..calls_max {
        if started.elapsed() > deadline {
            return (id, false);
        }
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "blob/get",
                          "params": {"blobRef": blob_ref}})
        .to_string();
        let frame = masked_text_frame(call.as_bytes());
        match tokio::time::timeout(Duration::from_secs(1), socket.write_all(&frame)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => return (id, true),
            // The gateway stopped reading: keep trying until it closes or time is up.
            Err(_) => {}
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    (calls_max, false)
}

/// Regression (issue: "WebSocket replies are queued without bound"): a client that
/// sends `blob/get` and never reads used to grow the server without limit. Now the
/// socket is closed once its answers pile up, and the gateway keeps serving.
#[tokio::test]
async fn a_websocket_that_never_reads_its_answers_is_closed() {
    let harness = start_with(gateway::GatewayConfig {
        ws_queued_messages_max: 8,
        ws_reply_wait_ms: 1_000,
        ..test_config()
    })
    .await;
    let blob_ref = put_blob(&harness, &vec![7_u8; 256 * 1024]).await;
    let (status, socket) = upgrade(harness.gateway.local_addr(), &harness.key).await;
    assert_eq!(status, 101);
    let mut socket = socket.unwrap();
    let (sent, closed) =
        flood_without_reading(&mut socket, &blob_ref, 5_000, Duration::from_secs(15)).await;
    assert!(
        closed,
        "the socket was never closed after {sent} unread answers"
    );

    // The gateway still serves, this universe included.
    let client = harness.ws(Some(&harness.key)).await;
    let _: Value = client
        .request("initialize", params(json!({})))
        .await
        .unwrap();
}

/// A slow reader is told why before it is cut: the gateway stops after the frame it
/// is writing and sends Close 1008 (policy violation: the client does not read), so a
/// client that reads again finds the code behind what was already on the wire.
#[tokio::test]
async fn a_slow_reader_gets_close_code_1008_before_it_is_cut() {
    let harness = start_with(gateway::GatewayConfig {
        ws_queued_messages_max: 4,
        ws_reply_wait_ms: 500,
        // Long enough for this client to come back and read.
        ws_close_wait_ms: 10_000,
        ..test_config()
    })
    .await;
    let blob_ref = put_blob(&harness, &vec![5_u8; 128 * 1024]).await;
    let (_, socket) = upgrade(harness.gateway.local_addr(), &harness.key).await;
    let mut socket = socket.unwrap();
    for id in 0..64 {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "blob/get",
                          "params": {"blobRef": blob_ref}});
        send_call(&mut socket, &call).await;
    }
    // Long after the gateway decided: more answers waited than allowed.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (code, reason, answers) = read_close(&mut socket, Duration::from_secs(15))
        .await
        .expect("a Close frame after the answers already on the wire");
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.starts_with("outbound queue full"), "{reason}");
    assert!(
        answers < 64,
        "the queued answers were dropped, not sent ({answers})"
    );
    // Then the stream ends.
    assert!(
        read_text(&mut socket, Duration::from_secs(5))
            .await
            .is_none()
    );
}

/// An idle socket is closed with 1001 (going away).
#[tokio::test]
async fn an_idle_socket_gets_close_code_1001() {
    let harness = start_with(gateway::GatewayConfig {
        ws_idle_timeout_ms: 300,
        ..test_config()
    })
    .await;
    let (_, socket) = upgrade(harness.gateway.local_addr(), &harness.key).await;
    let mut socket = socket.unwrap();
    send_call(
        &mut socket,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"}),
    )
    .await;
    let (code, reason, answers) = read_close(&mut socket, Duration::from_secs(5))
        .await
        .expect("a Close frame");
    assert_eq!((code, reason.as_str()), (1001, "idle timeout"));
    assert_eq!(answers, 1, "the answer went out before the close");
}

/// Regression (a few huge answers held unbounded memory: the queue was bounded in
/// messages only). With room for 4,096 messages but 1 MiB, a socket that never reads
/// `blob/get` answers is closed after a few calls; the backend serves few of them.
#[tokio::test]
async fn the_outbound_queue_is_bounded_in_bytes() {
    let harness = start_with(gateway::GatewayConfig {
        ws_queued_messages_max: 4_096,
        ws_queued_bytes_max: 1024 * 1024,
        ws_reply_wait_ms: 1_000,
        ..test_config()
    })
    .await;
    let blob_ref = put_blob(&harness, &vec![9_u8; 256 * 1024]).await;
    let (_, socket) = upgrade(harness.gateway.local_addr(), &harness.key).await;
    let mut socket = socket.unwrap();
    let before = harness.calls();
    let (sent, closed) =
        flood_without_reading(&mut socket, &blob_ref, 3_000, Duration::from_secs(15)).await;
    let served = harness.calls() - before;
    assert!(closed, "never closed after {sent} calls, {served} served");
    // What the kernel's socket buffers took, plus the bound, plus the calls in flight.
    assert!(
        served < 200,
        "{served} answers of 256 KiB were made for a non-reader"
    );
}

/// Regression (issue: "idle sockets are never dropped"): a socket with no call and no
/// subscription is closed after the idle timeout; one with a subscription stays.
#[tokio::test]
async fn idle_websockets_are_closed_but_subscribed_ones_stay() {
    let harness = start_with(gateway::GatewayConfig {
        ws_idle_timeout_ms: 300,
        ..test_config()
    })
    .await;
    let idle = harness.ws(Some(&harness.key)).await;
    let subscribed = harness.ws(Some(&harness.key)).await;
    let _subscription = subscribed
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": ENDLESS})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), idle.on_disconnect())
        .await
        .expect("the idle socket is closed");
    assert!(subscribed.is_connected(), "a subscribed socket is not idle");
}

/// Regression (security review F3: one pool for every tenant): a universe holding
/// its places gets 429; another universe still connects, over WebSocket and HTTP.
#[tokio::test]
async fn one_universe_cannot_take_every_connection_place() {
    let harness = start_with(gateway::GatewayConfig {
        connections_max: 8,
        universe_connections_max: 3,
        ..test_config()
    })
    .await;
    let addr = harness.gateway.local_addr();
    let mut held = Vec::new();
    for _ in 0..3 {
        let (status, socket) = upgrade(addr, &harness.key).await;
        assert_eq!(status, 101);
        held.push(socket);
    }
    let (status, body) = harness
        .raw_upgrade(Some(&format!("Bearer {}", harness.key)))
        .await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], -32001);
    assert_eq!(body["error"]["data"]["reason"], "universeConnections");

    let other = harness.ws(Some(&harness.other_key)).await;
    let _: Value = other
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    let _: Value = harness
        .http(Some(&harness.other_key))
        .request("initialize", params(json!({})))
        .await
        .unwrap();

    // Places are given back when sockets close.
    held.clear();
    let deadline = Instant::now() + Duration::from_secs(5);
    while upgrade(addr, &harness.key).await.0 != 101 {
        assert!(Instant::now() < deadline, "no place was given back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A WebSocket message beyond the request bound is answered `-32600` with a reason,
/// and the socket keeps serving.
#[tokio::test]
async fn an_oversized_websocket_message_is_an_invalid_request() {
    let harness = start_with(gateway::GatewayConfig {
        rpc_body_bytes_max: 1024,
        ..test_config()
    })
    .await;
    let client = harness.ws(Some(&harness.key)).await;
    let err = call_error(
        client
            .request::<Value, _>("blob/put", params(json!({"dataBase64": "A".repeat(4096)})))
            .await,
    );
    assert_eq!(err.code(), -32600);
    assert_eq!(error_data(&err)["reason"], "requestTooLarge");
    let _: Value = client
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    assert_eq!(harness.calls(), 1);
}

/// Envelope violations over WebSocket get an error object with `id: null`, never
/// silence (jsonrpsee alone reads an object or array `id` as a notification).
#[tokio::test]
async fn websocket_envelope_violations_are_answered() {
    let harness = start_with(test_config()).await;
    let (_, socket) = upgrade(harness.gateway.local_addr(), &harness.key).await;
    let mut socket = socket.unwrap();
    let cases = [
        json!({"jsonrpc": "2.0", "id": {"a": 1}, "method": "initialize"}),
        json!({"jsonrpc": "2.0", "id": [1], "method": "initialize"}),
        json!({"id": 1, "method": "initialize"}),
        json!({"jsonrpc": "2.0", "method": "initialize"}),
        json!(5),
    ];
    for case in cases {
        socket
            .write_all(&masked_text_frame(case.to_string().as_bytes()))
            .await
            .unwrap();
        let answer = read_text(&mut socket, Duration::from_secs(3))
            .await
            .unwrap_or_else(|| panic!("no answer to {case}"));
        let answer: Value = serde_json::from_str(&answer).unwrap();
        // jsonrpsee echoes a usable id (JSON-RPC allows it); otherwise `null`.
        assert!(
            answer["id"].is_null() || answer["id"] == case["id"],
            "{case}: {answer}"
        );
        let code = answer["error"]["code"].as_i64().unwrap();
        assert!(code == -32600 || code == -32700, "{case}: {answer}");
    }
    assert_eq!(harness.calls(), 0);
}

/// jsonrpsee's own "too many subscriptions" code (-32006) is outside the contract:
/// it is answered as `-32001` overloaded with a reason.
#[tokio::test]
async fn subscriptions_beyond_the_bound_are_overloaded_with_a_reason() {
    let harness = start_with(gateway::GatewayConfig {
        connection_subscriptions_max: 1,
        ..test_config()
    })
    .await;
    let client = harness.ws(Some(&harness.key)).await;
    let _first = client
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": ENDLESS})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    let second = client
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": ENDLESS})),
            "session/unsubscribe",
        )
        .await;
    let Err(jsonrpsee::core::ClientError::Call(err)) = second else {
        panic!("expected a refusal, got {second:?}");
    };
    assert_eq!(err.code(), -32001);
    assert_eq!(error_data(&err)["reason"], "connectionSubscriptions");
}

/// A batch's answer cannot be watched by the socket's outbox, so batches are refused
/// over WebSocket with a typed `-32600` (before, a never-reading client could park
/// batch answers without bound).
#[tokio::test]
async fn batches_over_websocket_are_invalid_requests() {
    let harness = start_with(test_config()).await;
    let (_, socket) = upgrade(harness.gateway.local_addr(), &harness.key).await;
    let mut socket = socket.unwrap();
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"});
    for batch in [json!([call, call]), json!(vec![call; 40])] {
        socket
            .write_all(&masked_text_frame(batch.to_string().as_bytes()))
            .await
            .unwrap();
        let answer = read_text(&mut socket, Duration::from_secs(3))
            .await
            .unwrap();
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(answer["error"]["code"], -32600, "{answer}");
        assert_eq!(answer["error"]["data"]["reason"], "batchOverWebSocket");
    }
    assert_eq!(harness.calls(), 0);
}
