//! Subscriptions over WebSocket: notifications, unsubscribe, end of stream, slow
//! subscribers.

use std::sync::atomic::Ordering;
use std::time::Duration;

use jsonrpsee::core::client::SubscriptionClientT as _;
use serde_json::{Value, json};

use crate::mock::{ENDLESS, FLOOD, MISSING, NOTIFICATIONS};
use crate::support::{error_data, params, start, start_with, test_config};

const WAIT: Duration = Duration::from_secs(5);

async fn eventually(what: &str, check: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !check() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_subscription_delivers_its_notifications_then_closes() {
    let harness = start().await;
    let client = harness.ws(Some(&harness.key)).await;
    let mut subscription = client
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": "s1"})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    for index in 0..NOTIFICATIONS {
        let notification = tokio::time::timeout(WAIT, subscription.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(notification["type"], "delta");
        assert_eq!(notification["sessionId"], "s1");
        assert_eq!(notification["delta"]["text"], format!("part {index}"));
    }
    // The stream ended: the gateway sends a close notification, which ends the
    // client's subscription.
    let end = tokio::time::timeout(WAIT, subscription.next())
        .await
        .unwrap();
    assert!(end.is_none(), "{end:?}");
    assert!(harness.seen.stream_dropped.load(Ordering::SeqCst));
}

#[tokio::test]
async fn unsubscribing_drops_the_backend_stream() {
    let harness = start().await;
    let client = harness.ws(Some(&harness.key)).await;
    let mut subscription = client
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": ENDLESS})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    let first = tokio::time::timeout(WAIT, subscription.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(first["delta"]["text"], "first");
    assert!(!harness.seen.stream_dropped.load(Ordering::SeqCst));
    subscription.unsubscribe().await.unwrap();
    eventually("the stream is dropped after unsubscribe", || {
        harness.seen.stream_dropped.load(Ordering::SeqCst)
    })
    .await;
}

#[tokio::test]
async fn a_client_going_away_drops_the_backend_stream() {
    let harness = start().await;
    let client = harness.ws(Some(&harness.key)).await;
    let mut subscription = client
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": ENDLESS})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    subscription.next().await.unwrap().unwrap();
    drop(subscription);
    drop(client);
    eventually("the stream is dropped after disconnect", || {
        harness.seen.stream_dropped.load(Ordering::SeqCst)
    })
    .await;
}

#[tokio::test]
async fn a_refused_subscription_carries_the_api_error() {
    let harness = start().await;
    let client = harness.ws(Some(&harness.key)).await;
    let result = client
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": MISSING})),
            "session/unsubscribe",
        )
        .await;
    let Err(jsonrpsee::core::ClientError::Call(err)) = result else {
        panic!("expected a refusal");
    };
    assert_eq!(err.code(), -32004);
    assert_eq!(error_data(&err)["reason"], "sessionNotFound");
}

/// Subscribes to the flooding stream over a hand-written client that then never
/// reads: the gateway must drop the subscription instead of waiting for it.
async fn a_flood_subscriber_is_dropped(config: gateway::GatewayConfig) {
    let harness = start_with(config).await;
    let (status, socket) = crate::wire::upgrade(harness.gateway.local_addr(), &harness.key).await;
    assert_eq!(status, 101);
    let mut socket = socket.unwrap();
    let request = json!({"jsonrpc": "2.0", "id": 1, "method": "session/subscribe",
                         "params": {"sessionId": FLOOD}});
    crate::wire::send_call(&mut socket, &request).await;
    // Never read again: the socket's buffers fill, then the gateway's.
    eventually("the flooding stream is dropped", || {
        harness.seen.stream_dropped.load(Ordering::SeqCst)
    })
    .await;
    drop(socket);
}

#[tokio::test]
async fn a_subscriber_that_does_not_read_is_dropped_not_waited_for() {
    a_flood_subscriber_is_dropped(gateway::GatewayConfig {
        ws_queued_messages_max: 4,
        ..test_config()
    })
    .await;
}

/// The byte bound drops a subscriber too, long before its message bound would
/// (65,536 notifications of 64 KiB take far longer than `WAIT` to make). Two worker
/// threads, so the flooding stream cannot starve the test's clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_beyond_the_byte_bound_is_dropped() {
    a_flood_subscriber_is_dropped(gateway::GatewayConfig {
        ws_queued_messages_max: 65_536,
        ws_queued_bytes_max: 512 * 1024,
        ..test_config()
    })
    .await;
}
