//! A bounded loopback load test: while one universe floods the gateway (idle
//! sockets beyond its cap, and a socket that never reads large answers), another
//! universe's `session/read` calls stay fast. Bounded in count (300 sockets, 200
//! calls) and time (everything ends within 30 s).

use std::time::{Duration, Instant};

use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::ClientT as _;
use serde_json::{Value, json};

use crate::mock::MISSING;
use crate::support::{params, start_with, test_config};
use crate::websocket::{flood_without_reading, put_blob};
use crate::wire::upgrade;

const IDLE_SOCKETS: usize = 300;
const READS: usize = 200;
const P99_MAX: Duration = Duration::from_millis(200);
const TEST_MAX: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_universe_stays_fast_while_one_floods() {
    tokio::time::timeout(TEST_MAX, flood_and_measure())
        .await
        .expect("the load test ends within its time bound");
}

async fn flood_and_measure() {
    // Default limits except a shorter reply wait, so the slow reader is found well
    // inside the test's time bound.
    let config = gateway::GatewayConfig {
        ws_reply_wait_ms: 2_000,
        ..test_config()
    };
    let universe_max = config.universe_connections_max as usize;
    let harness = start_with(config).await;
    let addr = harness.gateway.local_addr();

    // Universe A: a socket that sends `blob/get` of 256 KiB and never reads.
    let blob_ref = put_blob(&harness, &vec![3_u8; 256 * 1024]).await;
    let (status, flooder) = upgrade(addr, &harness.key).await;
    assert_eq!(status, 101);
    let mut flooder = flooder.unwrap();
    let flood = tokio::spawn(async move {
        flood_without_reading(&mut flooder, &blob_ref, 3_000, Duration::from_secs(20)).await
    });

    // Universe A: idle sockets, beyond its cap.
    let mut idle = Vec::new();
    let mut refused = 0;
    for _ in 0..IDLE_SOCKETS {
        match upgrade(addr, &harness.key).await {
            (101, socket) => idle.push(socket),
            (429, _) => refused += 1,
            (status, _) => panic!("unexpected upgrade status {status}"),
        }
    }
    assert!(idle.len() < universe_max, "A held {} places", idle.len());
    assert_eq!(idle.len() + refused, IDLE_SOCKETS);

    // Universe B: sequential reads over its own WebSocket, timed.
    let other = harness.ws(Some(&harness.other_key)).await;
    let mut latencies = Vec::with_capacity(READS);
    for _ in 0..READS {
        let started = Instant::now();
        let result = other
            .request::<Value, _>("session/read", params(json!({"sessionId": MISSING})))
            .await;
        latencies.push(started.elapsed());
        match result {
            Err(ClientError::Call(err)) => assert_eq!(err.code(), -32004),
            other => panic!("expected sessionNotFound, got {other:?}"),
        }
    }
    latencies.sort();
    let p99 = latencies[READS * 99 / 100 - 1];
    assert!(p99 < P99_MAX, "universe B's p99 was {p99:?}");

    // The flooder was closed (its answers freed), the gateway is healthy, and B
    // still gets in over HTTP.
    let (sent, closed) = flood.await.unwrap();
    assert!(
        closed,
        "the unread socket was never closed ({sent} calls sent)"
    );
    eprintln!(
        "load: universe B p99 {p99:?} (max {:?}); A held {} idle sockets, {refused} refused; \
         the unread socket was closed after {sent} calls",
        latencies[READS - 1],
        idle.len()
    );
    let health = reqwest::get(format!("{}/health", harness.base_url()))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
    let _: Value = harness
        .http(Some(&harness.other_key))
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    drop(idle);
    harness.gateway.shutdown().await;
}
