//! The per-connection in-flight bound, and probes.

use std::sync::Arc;

use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT as _;
use serde_json::{Value, json};

use crate::support::{error_data, params, start, start_with, test_config};

const IN_FLIGHT_MAX: u32 = 4;
const CALLS: usize = 10;

#[tokio::test]
async fn calls_beyond_the_in_flight_bound_on_one_connection_are_overloaded() {
    let harness = start_with(gateway::GatewayConfig {
        connection_in_flight_max: IN_FLIGHT_MAX,
        ..test_config()
    })
    .await;
    let client = Arc::new(harness.ws(Some(&harness.key)).await);
    let calls = (0..CALLS).map(|_| {
        let client = Arc::clone(&client);
        async move {
            client
                .request::<Value, _>(
                    "session/events/read",
                    params(json!({"sessionId": "s1", "waitMs": 1_000})),
                )
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|result| result.is_ok()).count();
    assert_eq!(ok, IN_FLIGHT_MAX as usize, "{results:?}");
    for result in results.into_iter().filter(Result::is_err) {
        let Err(ClientError::Call(err)) = result else {
            panic!("expected a JSON-RPC error");
        };
        assert_eq!(err.code(), -32001);
        assert_eq!(
            error_data(&err),
            json!({"kind": "overloaded", "reason": "connectionInFlight"})
        );
    }
    assert_eq!(harness.calls(), u64::from(IN_FLIGHT_MAX));

    // Places are given back: the connection serves again once calls finish.
    let again: Value = client
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    assert!(again["universeId"].is_string());

    // Another connection has its own bound.
    let other = harness.ws(Some(&harness.key)).await;
    let calls = (0..IN_FLIGHT_MAX).map(|_| {
        other.request::<Value, _>(
            "session/events/read",
            params(json!({"sessionId": "s1", "waitMs": 200})),
        )
    });
    for result in futures::future::join_all(calls).await {
        result.unwrap();
    }
}

#[tokio::test]
async fn health_and_ready_answer_without_auth() {
    let harness = start().await;
    let client = reqwest::Client::new();
    let health = client
        .get(format!("{}/health", harness.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    assert_eq!(health.text().await.unwrap(), "ok");
    let ready = client
        .get(format!("{}/ready", harness.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    harness.gateway.shutdown().await;
}

#[tokio::test]
async fn ready_turns_503_once_the_router_is_stopped() {
    let keys = Arc::new(gateway::MemoryKeyStore::new());
    let api = Arc::new(crate::mock::MockApi::new());
    let (router, handle) = gateway::router(api, keys, &test_config()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let url = format!("http://{addr}/ready");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    handle.stop();
    assert!(handle.is_stopped());
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 503);
    server.abort();
}

#[tokio::test]
async fn connections_beyond_the_bound_get_429() {
    let harness = start_with(gateway::GatewayConfig {
        connections_max: 1,
        ..test_config()
    })
    .await;
    let held = harness.ws(Some(&harness.key)).await;
    let refused = jsonrpsee::ws_client::WsClientBuilder::default()
        .set_headers(crate::support::auth_headers(Some(&harness.key)))
        .build(harness.ws_url())
        .await;
    assert!(refused.is_err(), "a second WebSocket must be refused");
    let response = reqwest::Client::new()
        .post(harness.rpc_url())
        .bearer_auth(&harness.key)
        .header("content-type", "application/json")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);

    drop(held);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let client = harness.http(Some(&harness.key));
        match client
            .request::<Value, _>("initialize", params(json!({})))
            .await
        {
            Ok(_) => break,
            Err(err) => assert!(
                tokio::time::Instant::now() < deadline,
                "the place was not given back: {err}"
            ),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn shutdown_closes_open_websockets_and_returns() {
    let harness = start().await;
    let client = harness.ws(Some(&harness.key)).await;
    let _: Value = client
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    let started = std::time::Instant::now();
    harness.gateway.shutdown().await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    tokio::time::timeout(std::time::Duration::from_secs(5), client.on_disconnect())
        .await
        .expect("the WebSocket is closed by shutdown");
}

/// Regression (one universe's large calls could keep every runtime thread busy):
/// a universe's calls are served within its request budget, so four calls of ~600
/// bytes with a budget of 1 KiB run one at a time (over WebSocket and HTTP alike),
/// while another universe's call is not held up.
#[tokio::test]
async fn a_universes_large_calls_are_served_a_few_at_a_time() {
    const WAIT_MS: u64 = 300;
    let harness = start_with(gateway::GatewayConfig {
        universe_in_flight_bytes_max: 1024,
        ..test_config()
    })
    .await;
    let slow = || params(json!({"sessionId": "x".repeat(600), "waitMs": WAIT_MS}));
    let ws = harness.ws(Some(&harness.key)).await;
    let http = harness.http(Some(&harness.key));
    let other = harness.http(Some(&harness.other_key));
    let started = std::time::Instant::now();
    let other_call = async {
        // After A's calls are queued.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let sent = std::time::Instant::now();
        let _: Value = other
            .request("initialize", params(json!({})))
            .await
            .unwrap();
        sent.elapsed()
    };
    let (a, b, c, d, other_latency) = tokio::join!(
        ws.request::<Value, _>("session/events/read", slow()),
        ws.request::<Value, _>("session/events/read", slow()),
        http.request::<Value, _>("session/events/read", slow()),
        http.request::<Value, _>("session/events/read", slow()),
        other_call,
    );
    let elapsed = started.elapsed();
    for result in [a, b, c, d] {
        result.unwrap();
    }
    assert!(
        elapsed >= std::time::Duration::from_millis(4 * WAIT_MS - 50),
        "A's calls ran side by side: {elapsed:?}"
    );
    assert!(
        other_latency < std::time::Duration::from_millis(WAIT_MS),
        "B waited for A: {other_latency:?}"
    );
}
