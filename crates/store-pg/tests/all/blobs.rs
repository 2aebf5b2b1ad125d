//! The blob catalog: where blobs go, and damaged rows or objects.

use engine::BlobRef;
use engine::store::{BlobStore, StoreError};

use crate::support::{Services, store_with_s3};

const INLINE_MAX: usize = 64 * 1024;

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn small_blobs_stay_inline_and_large_ones_go_to_the_object_store() {
    let Some((services, s3)) = Services::with_object_store("blobs_inline_and_in_s3") else {
        return;
    };
    let store = store_with_s3(&services, &s3).await;
    let db = services.database().await;
    let at_limit = store.put(bytes(INLINE_MAX, 1)).await.unwrap();
    let over_limit = store.put(bytes(INLINE_MAX + 1, 2)).await.unwrap();

    let row = |blob: BlobRef| {
        let (pool, universe) = (db.pool().clone(), store.universe_id());
        async move {
            let row: (i64, bool, Option<String>) = sqlx::query_as(
                "SELECT size_bytes, inline_bytes IS NOT NULL, object_key FROM blobs \
                 WHERE universe_id = $1 AND digest = $2",
            )
            .bind(universe)
            .bind(blob.digest_bytes().as_slice())
            .fetch_one(&pool)
            .await
            .unwrap();
            row
        }
    };
    assert_eq!(row(at_limit.clone()).await, (INLINE_MAX as i64, true, None));
    let (size, inline, key) = row(over_limit.clone()).await;
    assert_eq!((size, inline), (INLINE_MAX as i64 + 1, false));
    let key = key.unwrap();
    // `<hex>.<upload>`: one object per upload (see `blobs::object_key`).
    let (name, upload) = key.rsplit_once('.').unwrap();
    assert!(name.ends_with(over_limit.hex_digest()), "{key}");
    assert_eq!(upload.len(), 16, "{key}");
    assert!(key.contains(&store.universe_id().to_string()), "{key}");
    assert_eq!(
        store.get(&over_limit).await.unwrap(),
        bytes(INLINE_MAX + 1, 2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_an_object_store_large_blobs_are_refused() {
    let Some(services) = Services::from_env("without_an_object_store_large_blobs_are_refused")
    else {
        return;
    };
    let (_db, store) = services.store().await;
    match store.put(bytes(INLINE_MAX + 1, 3)).await {
        Err(StoreError::BlobTooLarge {
            size_bytes,
            limit_bytes,
        }) => assert_eq!(
            (size_bytes, limit_bytes),
            (INLINE_MAX as u64 + 1, INLINE_MAX as u64)
        ),
        other => panic!("expected BlobTooLarge, got {other:?}"),
    }
    assert!(
        !store
            .has(&BlobRef::of_bytes(&bytes(INLINE_MAX + 1, 3)))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn damaged_rows_and_objects_are_reported_never_served() {
    let Some((services, s3)) = Services::with_object_store("damaged_blobs_are_reported") else {
        return;
    };
    let store = store_with_s3(&services, &s3).await;
    let db = services.database().await;
    let universe = store.universe_id();

    // An inline row whose bytes changed: a digest mismatch, repaired by the next put.
    let small = store.put(b"precious bytes".to_vec()).await.unwrap();
    sqlx::query("UPDATE blobs SET inline_bytes = $3 WHERE universe_id = $1 AND digest = $2")
        .bind(universe)
        .bind(small.digest_bytes().as_slice())
        .bind(b"precious bytez".as_slice())
        .execute(db.pool())
        .await
        .unwrap();
    match store.get(&small).await {
        Err(StoreError::DigestMismatch { expected, actual }) => {
            assert_eq!(expected, small);
            assert_eq!(actual, BlobRef::of_bytes(b"precious bytez"));
        }
        other => panic!("expected DigestMismatch, got {other:?}"),
    }
    assert_eq!(store.put(b"precious bytes".to_vec()).await.unwrap(), small);
    assert_eq!(store.get(&small).await.unwrap(), b"precious bytes");

    // A row pointing at another object: a digest mismatch.
    let large_a = store.put(bytes(INLINE_MAX + 10, 4)).await.unwrap();
    let large_b = store.put(bytes(INLINE_MAX + 10, 5)).await.unwrap();
    let key_of = |blob: &BlobRef| {
        let (pool, digest) = (db.pool().clone(), blob.digest_bytes());
        async move {
            let key: String = sqlx::query_scalar(
                "SELECT object_key FROM blobs WHERE universe_id = $1 AND digest = $2",
            )
            .bind(universe)
            .bind(digest.as_slice())
            .fetch_one(&pool)
            .await
            .unwrap();
            key
        }
    };
    let key_b = key_of(&large_b).await;
    let point_at = |blob: &BlobRef, key: String| {
        let (pool, digest) = (db.pool().clone(), blob.digest_bytes());
        async move {
            sqlx::query("UPDATE blobs SET object_key = $3 WHERE universe_id = $1 AND digest = $2")
                .bind(universe)
                .bind(digest.as_slice())
                .bind(key)
                .execute(&pool)
                .await
                .unwrap();
        }
    };
    point_at(&large_a, key_b).await;
    assert!(matches!(
        store.get(&large_a).await,
        Err(StoreError::DigestMismatch { .. })
    ));

    // A row pointing at no object at all: corrupt, not "not found".
    point_at(&large_a, format!("missing/{}", uuid::Uuid::new_v4())).await;
    match store.get(&large_a).await {
        Err(StoreError::Corrupt { reason, .. }) => assert!(reason.contains("missing/"), "{reason}"),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}
