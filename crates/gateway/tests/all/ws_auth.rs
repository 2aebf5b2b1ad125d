//! First-message authentication: a WebSocket opened without a key (as browsers must)
//! authenticates with `auth/hello` within a deadline, on a pool of its own.

use std::time::{Duration, Instant};

use jsonrpsee::core::client::ClientT as _;
use serde_json::{Value, json};

use crate::support::{OTHER_UNIVERSE, UNIVERSE, params, start_with, test_config};
use crate::wire::{read_close, read_text, send_call, upgrade, upgrade_keyless};

const WAIT: Duration = Duration::from_secs(5);

fn hello(id: u32, key: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "auth/hello", "params": {"apiKey": key}})
}

async fn answer(socket: &mut tokio::net::TcpStream) -> Value {
    let text = read_text(socket, WAIT).await.expect("an answer");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn a_websocket_opened_without_a_key_authenticates_with_auth_hello() {
    let harness = start_with(test_config()).await;
    // jsonrpsee's client without headers: what a browser can do.
    let client = harness.ws(None).await;
    let hello: Value = client
        .request("auth/hello", params(json!({"apiKey": harness.key})))
        .await
        .unwrap();
    assert_eq!(hello["universeId"], UNIVERSE);
    assert!(hello["keyId"].as_str().unwrap().starts_with("key_"));
    assert_eq!(harness.calls(), 0, "auth/hello never reaches the backend");

    let initialized: Value = client
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    assert_eq!(initialized["universeId"], UNIVERSE);
    assert_eq!(
        *harness.seen.last_universe.lock().unwrap(),
        Some(UNIVERSE.to_owned())
    );

    // A second hello is not a way to switch universes.
    let again = client
        .request::<Value, _>("auth/hello", params(json!({"apiKey": harness.other_key})))
        .await;
    let err = crate::support::call_error(again);
    assert_eq!(err.code(), -32010);
    assert_eq!(
        crate::support::error_data(&err)["reason"],
        "unexpectedHello"
    );
    let initialized: Value = client
        .request("initialize", params(json!({})))
        .await
        .unwrap();
    assert_eq!(initialized["universeId"], UNIVERSE);
}

#[tokio::test]
async fn a_wrong_key_in_auth_hello_is_unauthorized_and_closes_the_socket() {
    let harness = start_with(test_config()).await;
    let (status, socket) = upgrade_keyless(harness.gateway.local_addr()).await;
    assert_eq!(status, 101);
    let mut socket = socket.unwrap();
    send_call(&mut socket, &hello(1, "lsk_not-a-real-key")).await;
    let answer = answer(&mut socket).await;
    assert_eq!(answer["id"], 1);
    assert_eq!(answer["error"]["code"], -32000, "{answer}");
    assert_eq!(answer["error"]["data"]["reason"], "unknownKey");
    let (code, reason, _) = read_close(&mut socket, WAIT).await.expect("a Close frame");
    assert_eq!(code, 1008, "{reason}");
    assert_eq!(reason, "authentication failed");
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn a_first_message_other_than_auth_hello_gets_a_typed_error_and_a_close() {
    let harness = start_with(test_config()).await;
    let cases = [
        json!({"jsonrpc": "2.0", "id": 7, "method": "initialize", "params": {}}),
        // The key in the wrong place is no hello either.
        json!({"jsonrpc": "2.0", "id": 7, "method": "auth/hello", "params": {"key": harness.key}}),
    ];
    for (case, expected_code) in cases.iter().zip([-32000, -32602]) {
        let (_, socket) = upgrade_keyless(harness.gateway.local_addr()).await;
        let mut socket = socket.unwrap();
        send_call(&mut socket, case).await;
        let answer = answer(&mut socket).await;
        assert_eq!(answer["id"], 7, "{answer}");
        assert_eq!(answer["error"]["code"], expected_code, "{answer}");
        assert!(
            !answer.to_string().contains(&harness.key),
            "an error never echoes a key: {answer}"
        );
        let (code, _, _) = read_close(&mut socket, WAIT).await.expect("a Close frame");
        assert_eq!(code, 1008);
    }
    let (_, socket) = upgrade_keyless(harness.gateway.local_addr()).await;
    let mut socket = socket.unwrap();
    send_call(&mut socket, &cases[0]).await;
    assert_eq!(
        answer(&mut socket).await["error"]["data"]["reason"],
        "authRequired"
    );
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn a_socket_that_does_not_authenticate_in_time_is_closed() {
    let harness = start_with(gateway::GatewayConfig {
        ws_auth_timeout_ms: 300,
        ..test_config()
    })
    .await;
    let started = Instant::now();
    let (status, socket) = upgrade_keyless(harness.gateway.local_addr()).await;
    assert_eq!(status, 101);
    let mut socket = socket.unwrap();
    let (code, reason, _) = read_close(&mut socket, WAIT).await.expect("a Close frame");
    assert_eq!(code, 1008);
    assert!(reason.starts_with("authentication timeout"), "{reason}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

/// Unauthenticated sockets have a pool of their own: holding all of it takes no
/// tenant's place, and an authenticated socket gives its pre-auth place back.
#[tokio::test]
async fn unauthenticated_sockets_cannot_take_a_tenants_place() {
    let harness = start_with(gateway::GatewayConfig {
        connections_max: 4,
        universe_connections_max: 2,
        ws_preauth_connections_max: 3,
        ..test_config()
    })
    .await;
    let addr = harness.gateway.local_addr();
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let (status, socket) = upgrade_keyless(addr).await;
        assert_eq!(status, 101);
        waiting.push(socket.unwrap());
    }
    let (status, body) = harness.raw_upgrade(None).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"]["code"], -32001);
    assert_eq!(body["error"]["data"]["reason"], "preAuthConnections");

    // Every tenant place is still free: both universes fill theirs.
    let mut tenants = Vec::new();
    for key in [
        &harness.key,
        &harness.key,
        &harness.other_key,
        &harness.other_key,
    ] {
        let (status, socket) = upgrade(addr, key).await;
        assert_eq!(status, 101);
        tenants.push(socket.unwrap());
    }
    send_call(
        &mut tenants[3],
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize"}),
    )
    .await;
    assert_eq!(
        answer(&mut tenants[3]).await["result"]["universeId"],
        OTHER_UNIVERSE
    );

    // A waiting socket that authenticates needs a place of its universe (none is
    // left: 1013, try again later) ...
    send_call(&mut waiting[0], &hello(1, &harness.key)).await;
    let refused = answer(&mut waiting[0]).await;
    assert_eq!(
        refused["error"]["data"]["reason"], "universeConnections",
        "{refused}"
    );
    let (code, _, _) = read_close(&mut waiting[0], WAIT)
        .await
        .expect("a Close frame");
    assert_eq!(code, 1013);

    // ... and once it has one, gives its pre-auth place back.
    drop(tenants.drain(..2));
    let deadline = Instant::now() + WAIT;
    // The closed tenant sockets' places come back asynchronously.
    while harness
        .http(Some(&harness.key))
        .request::<Value, _>("initialize", params(json!({})))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "no universe place was given back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send_call(&mut waiting[1], &hello(1, &harness.key)).await;
    assert_eq!(
        answer(&mut waiting[1]).await["result"]["universeId"],
        UNIVERSE
    );
    // Held now: waiting[2] and at most the refused waiting[0], still closing.
    let (status, _) = upgrade_keyless(addr).await;
    assert_eq!(
        status, 101,
        "the authenticated socket's pre-auth place is free"
    );
}
