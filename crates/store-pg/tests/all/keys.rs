//! The API-key tables and the operators' audit log.

use store_pg::{ApiKeyRow, PgStoreError};
use uuid::Uuid;

use crate::support::Services;

fn row(universe_id: Uuid) -> ApiKeyRow {
    key_row(Some(universe_id))
}

/// A key of `universe_id`, or an operator key.
fn key_row(universe_id: Option<Uuid>) -> ApiKeyRow {
    let unique = Uuid::new_v4().simple().to_string();
    ApiKeyRow {
        key_id: format!("key_{unique}"),
        universe_id,
        // 64 lowercase hex digits, like the gateway's SHA-256 hex.
        key_hash: format!("{unique}{unique}"),
        name: "ci".into(),
        created_at_ms: 1_700_000_000_123,
        revoked_at_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_are_found_by_hash_and_unique() {
    let Some(services) = Services::from_env("keys_are_found_by_hash_and_unique") else {
        return;
    };
    let db = services.database().await;
    let keys = db.key_store();
    // The universe is recorded by the insert itself.
    let universe = Uuid::new_v4();
    let first = row(universe);
    assert_eq!(keys.find_by_hash(&first.key_hash).await.unwrap(), None);
    keys.insert(&first).await.unwrap();
    assert_eq!(
        keys.find_by_hash(&first.key_hash).await.unwrap(),
        Some(first.clone())
    );

    let same_hash = ApiKeyRow {
        key_id: format!("{}-other", first.key_id),
        ..first.clone()
    };
    let same_id = ApiKeyRow {
        key_hash: row(universe).key_hash,
        ..first.clone()
    };
    for duplicate in [same_hash, same_id] {
        assert!(matches!(
            keys.insert(&duplicate).await,
            Err(PgStoreError::DuplicateKey)
        ));
    }
    // A second key of the same universe is fine.
    let second = row(universe);
    keys.insert(&second).await.unwrap();
    assert_eq!(
        keys.find_by_hash(&second.key_hash)
            .await
            .unwrap()
            .map(|r| r.universe_id),
        Some(Some(universe))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn operator_keys_list_and_revoke_beside_universe_keys() {
    let Some(services) = Services::from_env("operator_keys_list_and_revoke") else {
        return;
    };
    let db = services.database().await;
    let keys = db.key_store();
    let universe = Uuid::new_v4();
    let universe_key = row(universe);
    let mut operator_key = key_row(None);
    operator_key.created_at_ms += 1;
    keys.insert(&universe_key).await.unwrap();
    keys.insert(&operator_key).await.unwrap();
    assert_eq!(
        keys.find_by_hash(&operator_key.key_hash).await.unwrap(),
        Some(operator_key.clone()),
        "an operator key has no universe"
    );
    let listed = keys.list(Some(universe), false).await.unwrap();
    assert_eq!(listed, vec![universe_key.clone()]);
    let all = keys.list(None, false).await.unwrap();
    assert!(all.contains(&universe_key) && all.contains(&operator_key));

    // Revoking keeps the first time; both tables are reached by id.
    let revoked = keys.revoke(&universe_key.key_id, 5).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_at_ms, Some(5));
    let again = keys.revoke(&universe_key.key_id, 9).await.unwrap().unwrap();
    assert_eq!(again.revoked_at_ms, Some(5));
    let operator = keys.revoke(&operator_key.key_id, 7).await.unwrap().unwrap();
    assert_eq!(operator.universe_id, None);
    assert_eq!(operator.revoked_at_ms, Some(7));
    assert_eq!(keys.revoke("key_none", 1).await.unwrap(), None);
    assert!(keys.list(Some(universe), false).await.unwrap().is_empty());
    assert_eq!(keys.list(Some(universe), true).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_log_pages_newest_first() {
    let Some(services) = Services::from_env("the_audit_log_pages_newest_first") else {
        return;
    };
    let db = services.database().await;
    let keys = db.key_store();
    let marker = Uuid::new_v4().simple().to_string();
    let mut seqs = Vec::new();
    for code in 0..3 {
        let entry = store_pg::AuditRow {
            seq: 0,
            at_ms: 10 + code as u64,
            key_id: marker.clone(),
            method: "operator/api-keys/create".into(),
            target: "universe:u".into(),
            code,
        };
        seqs.push(keys.append_audit(&entry).await.unwrap());
    }
    assert!(seqs.windows(2).all(|pair| pair[0] < pair[1]), "{seqs:?}");
    // Other tests share the table: page from just above this test's last entry.
    let page = keys.list_audit(Some(seqs[2] + 1), 2).await.unwrap();
    assert_eq!(
        page.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![seqs[2], seqs[1]]
    );
    assert_eq!(page[0].code, 2);
    let rest = keys.list_audit(Some(seqs[1]), 1).await.unwrap();
    assert_eq!(rest[0].seq, seqs[0]);
    assert_eq!(rest[0].key_id, marker);
}
