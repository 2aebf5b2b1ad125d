//! API conformance cases, operators: an operator key mints, lists and revokes a
//! universe's keys and reads the audit log of what it did; a revoked key is refused
//! at once over HTTP and its open WebSocket is closed within the gateway's key
//! recheck period; each kind of key is refused the other kind's methods; the
//! universes are listed from their keys and read with their usage.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;

use super::client::{Harness, expect_error};
use super::{Case, case};

/// Longer than the gateway's default key recheck period (5 s), with room for a slow
/// machine.
const WS_CLOSE_DEADLINE: Duration = Duration::from_secs(20);

pub(super) const CASES: [Case; 1] = [case!(
    operator_keys_mint_list_and_revoke_universe_keys_and_are_audited,
    [
        "operator/api-keys/create",
        "operator/api-keys/list",
        "operator/api-keys/revoke",
        "operator/audit/list",
        "operator/universes/list",
        "operator/universes/read",
        "session/list"
    ]
)];

pub(super) async fn operator_keys_mint_list_and_revoke_universe_keys_and_are_audited(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let operator_key = ctx
        .stack()
        .operator_key
        .clone()
        .expect("the target gives its gateway an operator key");
    let operator = ctx.http(Some(&operator_key));
    let universe = ctx.stack().a.universe_id.clone();

    // Each kind of key is refused the other's methods.
    ctx.a()
        .refused(
            "operator/audit/list",
            json!({}),
            -32000,
            "operatorKeyRequired",
        )
        .await;
    operator
        .refused("session/list", json!({}), -32000, "universeKeyRequired")
        .await;

    let created = operator
        .call(
            "operator/api-keys/create",
            json!({"universeId": universe, "name": "conformance"}),
        )
        .await;
    let key = created["key"].as_str().unwrap().to_owned();
    let key_id = created["record"]["keyId"].as_str().unwrap().to_owned();
    assert_eq!(created["record"]["universeId"], universe.as_str());
    assert_eq!(created["record"]["operator"], false);
    // The new key acts in its universe: it sees what A's own key sees.
    let minted = ctx.http(Some(&key));
    assert_eq!(
        minted.call("session/list", json!({})).await["sessions"],
        json!([])
    );
    let socket = ctx.ws(Some(&key)).await;
    socket.call("session/list", json!({})).await;

    // Universes, from their keys: A has its own key and the new one.
    let universes = operator.call("operator/universes/list", json!({})).await;
    let listed_a = universes["universes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|view| view["universeId"] == universe.as_str())
        .cloned()
        .unwrap_or_else(|| panic!("{universe} in {universes}"));
    assert_eq!(listed_a["activeKeys"], 2, "{listed_a}");
    assert!(
        listed_a.get("usage").is_none(),
        "usage only when read: {listed_a}"
    );
    let read = operator
        .call("operator/universes/read", json!({"universeId": universe}))
        .await;
    assert_eq!(read["usage"]["sessions"], 0, "a fresh universe: {read}");
    operator
        .refused(
            "operator/universes/read",
            json!({"universeId": "no-such-universe"}),
            -32004,
            "universeNotFound",
        )
        .await;

    let listed = operator
        .call("operator/api-keys/list", json!({"universeId": universe}))
        .await;
    let listed_text = listed.to_string();
    assert!(listed_text.contains(&key_id), "{listed}");
    assert!(
        !listed_text.contains(&key),
        "never the key itself: {listed}"
    );
    operator
        .invalid(
            "operator/api-keys/create",
            json!({"universeId": "", "name": "x"}),
            "universeId",
            Some("invalidUniverseId"),
        )
        .await;
    operator
        .refused(
            "operator/api-keys/revoke",
            json!({"keyId": "key_none"}),
            -32004,
            "keyNotFound",
        )
        .await;

    let revoked = operator
        .call("operator/api-keys/revoke", json!({"keyId": key_id}))
        .await;
    assert!(
        revoked["record"]["revokedAtMs"].as_u64().is_some(),
        "{revoked}"
    );
    // Over HTTP the next request is refused; the open socket closes within the
    // gateway's recheck period.
    minted
        .refused("session/list", json!({}), -32000, "keyRevoked")
        .await;
    let deadline = tokio::time::Instant::now() + WS_CLOSE_DEADLINE;
    loop {
        match socket.try_call("session/list", json!({})).await {
            Ok(_) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the revoked key's socket is still open after {WS_CLOSE_DEADLINE:?}"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(jsonrpsee::core::ClientError::Call(object)) => {
                panic!("the socket answered instead of closing: {object:?}")
            }
            Err(_closed) => break,
        }
    }
    let listed = operator
        .call(
            "operator/api-keys/list",
            json!({"universeId": universe, "includeRevoked": true}),
        )
        .await;
    let record = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|record| record["keyId"] == key_id.as_str())
        .cloned()
        .unwrap();
    assert!(record["revokedAtMs"].as_u64().is_some(), "{record}");
    let active = operator
        .call("operator/api-keys/list", json!({"universeId": universe}))
        .await;
    assert!(!active.to_string().contains(&key_id), "{active}");

    // The audit log holds every operator call, refused ones included, newest first.
    let audit = operator
        .call("operator/audit/list", json!({"limit": 100}))
        .await;
    let entries = audit["entries"].as_array().unwrap();
    let methods: Vec<&str> = entries
        .iter()
        .map(|entry| entry["method"].as_str().unwrap())
        .collect();
    assert_eq!(methods[0], "operator/api-keys/list", "{audit}");
    for method in ["operator/api-keys/create", "operator/api-keys/revoke"] {
        assert!(methods.contains(&method), "{method} in {audit}");
    }
    let revocation = entries
        .iter()
        .find(|entry| entry["method"] == "operator/api-keys/revoke" && entry["code"] == 0)
        .unwrap();
    assert_eq!(revocation["target"], format!("key:{key_id}"));
    assert!(
        entries
            .iter()
            .any(|entry| entry["method"] == "operator/api-keys/revoke" && entry["code"] == -32004),
        "a refused call is audited too: {audit}"
    );
    assert!(!audit.to_string().contains(&key), "never a key: {audit}");
    let page = operator
        .call("operator/audit/list", json!({"limit": 1}))
        .await;
    let before = page["nextBefore"].as_u64().expect("more pages");
    let older = operator
        .call("operator/audit/list", json!({"limit": 1, "before": before}))
        .await;
    assert!(older["entries"][0]["seq"].as_u64().unwrap() < before);
    let err = ctx
        .http(Some(&key))
        .refusal("session/list", json!({}))
        .await;
    expect_error(&err, -32000, Some("keyRevoked"));
    Ok(())
}
