//! Operators across gateway processes (issue 19, docs/operating/operators.md): an
//! operator key minted by `server api-keys create --operator` into Postgres mints a
//! universe key through one gateway; the key works on another gateway, over HTTP and
//! an open WebSocket; revoked through the first gateway, it is refused by the second
//! at once over HTTP and its socket there is closed within the key recheck period.
//! `server api-keys revoke` revokes from the command line the same way. The audit log
//! is read from either gateway.

use std::time::Duration;

use jsonrpsee::core::client::ClientT;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};
use test_support::rpc_client::{bearer_headers, params};
use uuid::Uuid;

use crate::harness::temporal_address;
use crate::postgres::{gateways, rpc_client, run_to_end, server, stack_env};

/// The gateways look keys of open sockets up again this often.
const KEY_RECHECK_MS: &str = "1000";

fn reason(err: &jsonrpsee::core::ClientError) -> String {
    match err {
        jsonrpsee::core::ClientError::Call(object) => object
            .data()
            .and_then(|raw| serde_json::from_str::<Value>(raw.get()).ok())
            .and_then(|data| data["reason"].as_str().map(str::to_owned))
            .unwrap_or_default(),
        other => format!("not a call error: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_stops_working_on_every_gateway() {
    let Some(stack) = stack_env() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let universe = Uuid::new_v4().to_string();
    let task_queue = format!("operators-{}", &universe.replace('-', "")[..12]);
    let operator_key = run_to_end(
        server(
            &["api-keys", "create", "--operator", "--name", "ops test"],
            &stack,
            &temporal,
            &task_queue,
        ),
        "",
    )
    .await
    .trim()
    .to_owned();
    let (gateways, binds) = gateways(
        &stack,
        &temporal,
        &task_queue,
        2,
        &[("LIGHTSPEED_GATEWAY_KEY_RECHECK_MS", KEY_RECHECK_MS.as_ref())],
    )
    .await;
    let operator = rpc_client(&binds[0], &operator_key);
    let created: Value = operator
        .request(
            "operator/api-keys/create",
            params(json!({"universeId": universe, "name": "tenant app"})),
        )
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["record"]["keyId"].as_str().unwrap().to_owned();

    // The key works on the other gateway, over HTTP and a WebSocket.
    let elsewhere = rpc_client(&binds[1], &key);
    let listed: Value = elsewhere
        .request("session/list", params(json!({})))
        .await
        .unwrap();
    assert_eq!(listed["sessions"], json!([]));
    let socket = WsClientBuilder::default()
        .set_headers(bearer_headers(&key))
        .build(format!("ws://{}/rpc", binds[1]))
        .await
        .unwrap();
    let _: Value = socket
        .request("session/list", params(json!({})))
        .await
        .unwrap();
    // A universe key cannot call operator methods, on any gateway.
    let refused = elsewhere
        .request::<Value, _>("operator/audit/list", params(json!({})))
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "operatorKeyRequired");

    let _: Value = operator
        .request("operator/api-keys/revoke", params(json!({"keyId": key_id})))
        .await
        .unwrap();
    let refused = elsewhere
        .request::<Value, _>("session/list", params(json!({})))
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "keyRevoked", "refused at once over HTTP");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match socket
            .request::<Value, _>("session/list", params(json!({})))
            .await
        {
            Ok(_) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the revoked key's socket on the other gateway is still open"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(jsonrpsee::core::ClientError::Call(object)) => {
                panic!("answered instead of closing: {object:?}")
            }
            Err(_closed) => break,
        }
    }

    // From the command line too: a second key, revoked by `server api-keys revoke`.
    let second: Value = operator
        .request(
            "operator/api-keys/create",
            params(json!({"universeId": universe})),
        )
        .await
        .unwrap();
    let second_key = second["key"].as_str().unwrap();
    let second_id = second["record"]["keyId"].as_str().unwrap();
    let second_client = rpc_client(&binds[1], second_key);
    let _: Value = second_client
        .request("session/list", params(json!({})))
        .await
        .unwrap();
    run_to_end(
        server(
            &["api-keys", "revoke", second_id],
            &stack,
            &temporal,
            &task_queue,
        ),
        "",
    )
    .await;
    let refused = second_client
        .request::<Value, _>("session/list", params(json!({})))
        .await
        .unwrap_err();
    assert_eq!(reason(&refused), "keyRevoked");

    // The audit log, read through the other gateway: both actions, by this operator.
    let audit: Value = rpc_client(&binds[1], &operator_key)
        .request("operator/audit/list", params(json!({"limit": 50})))
        .await
        .unwrap();
    let ours: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|entry| entry["target"] == format!("key:{key_id}"))
        .collect();
    assert_eq!(ours.len(), 1, "{audit:#}");
    assert_eq!(ours[0]["method"], "operator/api-keys/revoke");
    assert_eq!(ours[0]["code"], 0);
    assert!(!audit.to_string().contains(&key), "never a key in the log");
    for mut gateway in gateways {
        let _ = gateway.kill().await;
    }
}
