//! The gateway over `TemporalApi`: JSON-RPC over HTTP and WebSocket, end to end
//! through Temporal, with results checked against the contract.

use std::sync::Arc;
use std::time::Duration;

use gateway::{GatewayConfig, MemoryKeyStore, RunningGateway};
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};
use session_stores::FsStores;
use temporal_server::api_host::TemporalHost;
use temporal_server::deltas::DeltaHub;
pub(crate) use test_support::rpc_client::{
    assert_valid, bearer_headers, call, follow_until_finished, params,
};

use crate::harness::{Env, UNIVERSE, fast_settings};

pub(crate) async fn serve(env: &Env, deltas: Arc<DeltaHub>) -> (RunningGateway, String) {
    let stores = Arc::new(FsStores::new(env.data.path()));
    let api = TemporalHost::new(env.sessions.clone(), stores, deltas).api();
    let keys = MemoryKeyStore::default();
    let (key, record) = gateway::mint_key(UNIVERSE, 1);
    gateway::KeyStore::insert(&keys, record).await.unwrap();
    let config = GatewayConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..GatewayConfig::default()
    };
    let gateway = gateway::serve(Arc::new(api), Arc::new(keys), config)
        .await
        .unwrap();
    (gateway, key)
}

pub(crate) fn http(gateway: &RunningGateway, key: &str) -> HttpClient {
    HttpClientBuilder::default()
        .set_headers(bearer_headers(key))
        .request_timeout(Duration::from_secs(60))
        .build(format!("http://{}/rpc", gateway.local_addr()))
        .unwrap()
}

pub(crate) fn config() -> Value {
    json!({"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "fake-model"},
           "instructions": {"type": "text", "text": "Answer briefly."}})
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_and_runs_over_http() {
    let script = json!({"turns": [{"text": "Hello over Temporal!"}, {"text": "Second."}]});
    let Some(env) = Env::start("gateway-http", script, fast_settings()).await else {
        return;
    };
    let (gateway, key) = serve(&env, Arc::new(DeltaHub::default())).await;
    let client = http(&gateway, &key);
    let init = call(
        &client,
        "initialize",
        json!({"clientName": "test"}),
        "InitializeResult",
    )
    .await;
    assert_eq!(init["universeId"], UNIVERSE);

    let view = call(
        &client,
        "session/start",
        json!({"sessionId": "s-gw", "config": config()}),
        "SessionView",
    )
    .await;
    assert_eq!(view["status"], "idle");
    // Starting again with the same config is fine; another config conflicts.
    call(
        &client,
        "session/start",
        json!({"sessionId": "s-gw", "config": config()}),
        "SessionView",
    )
    .await;
    let mut other = config();
    other["model"]["model"] = json!("other-model");
    let err = client
        .request::<Value, _>(
            "session/start",
            params(json!({"sessionId": "s-gw", "config": other})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sessionExists"), "{err}");

    let run = call(
        &client,
        "run/start",
        json!({"sessionId": "s-gw", "submissionId": "sub-1", "input": [{"type": "text", "text": "hi"}]}),
        "RunStartResult",
    )
    .await;
    let run_id = run["runId"].as_str().unwrap().to_owned();
    assert!(run["eventCursor"].as_u64().unwrap() > 0);
    let events = follow_until_finished(&client, "s-gw", &run_id).await;
    assert_eq!(events.last().unwrap()["run"]["status"], "completed");
    for event in &events {
        assert_valid("EventView", event);
    }
    let read = call(
        &client,
        "session/read",
        json!({"sessionId": "s-gw"}),
        "SessionView",
    )
    .await;
    assert_eq!(read["lastRun"]["status"], "completed");

    // Typed rejections come back as API errors.
    let err = client
        .request::<Value, _>(
            "run/cancel",
            params(json!({"sessionId": "s-gw", "runId": "run_9"})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknownRun"), "{err}");
    let revision = read["revision"].as_u64().unwrap();
    let err = client
        .request::<Value, _>(
            "session/update",
            params(
                json!({"sessionId": "s-gw", "expectedRevision": revision + 5,
                          "patch": {"generation": {"maxOutputTokens": 512}}}),
            ),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("revisionConflict"), "{err}");
    call(
        &client,
        "session/update",
        json!({"sessionId": "s-gw", "expectedRevision": revision,
               "patch": {"generation": {"maxOutputTokens": 512}}}),
        "SessionView",
    )
    .await;

    let blob = call(
        &client,
        "blob/put",
        json!({"dataBase64": "aGVsbG8="}),
        "BlobPutResult",
    )
    .await;
    let got = call(
        &client,
        "blob/get",
        json!({"blobRef": blob["blobRef"]}),
        "BlobGetResult",
    )
    .await;
    assert_eq!(got["dataBase64"], "aGVsbG8=");

    // Visibility is eventually consistent: the session shows up in the list.
    let mut listed = false;
    for _ in 0..50 {
        let list = call(&client, "session/list", json!({}), "SessionListResult").await;
        if list["sessions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["sessionId"] == "s-gw")
        {
            listed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(listed, "s-gw never listed");

    let closed = call(
        &client,
        "session/close",
        json!({"sessionId": "s-gw"}),
        "SessionView",
    )
    .await;
    assert_eq!(closed["status"], "closed");
    let err = client
        .request::<Value, _>(
            "run/start",
            params(json!({"sessionId": "s-gw", "submissionId": "sub-2", "input": [{"type": "text", "text": "again"}]})),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("closed"), "{err}");
    let err = client
        .request::<Value, _>("session/read", params(json!({"sessionId": "nope"})))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sessionNotFound"), "{err}");
    gateway.shutdown().await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn subscription_streams_events_and_deltas() {
    let script =
        json!({"turns": [{"text": "A streamed answer in several words.", "delay_ms": 300}]});
    let Some(mut env) = Env::start("gateway-ws", script, fast_settings()).await else {
        return;
    };
    // Worker and gateway share the delta hub, as in `server` and `server dev`.
    let deltas = Arc::new(DeltaHub::default());
    env.restart_worker_with(deltas.clone()).await;
    let (gateway, key) = serve(&env, deltas).await;
    let client = http(&gateway, &key);
    call(
        &client,
        "session/start",
        json!({"sessionId": "s-ws", "config": config()}),
        "SessionView",
    )
    .await;
    let ws = WsClientBuilder::default()
        .set_headers(bearer_headers(&key))
        .build(format!("ws://{}/rpc", gateway.local_addr()))
        .await
        .unwrap();
    let mut subscription = ws
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": "s-ws", "cursor": 0})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    let run = call(
        &client,
        "run/start",
        json!({"sessionId": "s-ws", "submissionId": "sub-1", "input": [{"type": "text", "text": "stream"}]}),
        "RunStartResult",
    )
    .await;
    let run_id = run["runId"].as_str().unwrap().to_owned();
    let mut delta_text = String::new();
    loop {
        let notification = tokio::time::timeout(Duration::from_secs(60), subscription.next())
            .await
            .expect("a notification")
            .unwrap()
            .unwrap();
        assert_valid("SessionNotification", &notification);
        if notification["type"] == "delta" {
            delta_text.push_str(notification["delta"]["text"].as_str().unwrap_or_default());
        }
        let event = &notification["event"];
        if event["kind"] == "lightspeed.core.run.finished" && event["runId"] == run_id.as_str() {
            break;
        }
    }
    assert!(
        delta_text.contains("streamed answer"),
        "deltas: {delta_text:?}"
    );
    gateway.shutdown().await;
    env.shutdown().await;
}
