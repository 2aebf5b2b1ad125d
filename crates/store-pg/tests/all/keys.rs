//! The API-key table.

use store_pg::{ApiKeyRow, PgStoreError};
use uuid::Uuid;

use crate::support::Services;

fn row(universe_id: Uuid) -> ApiKeyRow {
    let unique = Uuid::new_v4().simple().to_string();
    ApiKeyRow {
        key_id: format!("key_{unique}"),
        universe_id,
        // 64 lowercase hex digits, like the gateway's SHA-256 hex.
        key_hash: format!("{unique}{unique}"),
        created_at_ms: 1_700_000_000_123,
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
        Some(universe)
    );
}
