//! The blob catalog (`blobs`): small blobs inline, large ones in the object store.
//!
//! A large blob is uploaded before its catalog row is written, so a row always points
//! at an object that was stored. Puts are idempotent: the same bytes give the same
//! key and the same row. An inline put also repairs a row whose bytes differ (a
//! damaged row); a large put trusts an existing row. Reads verify the digest, so a
//! damaged object or row is reported, never served. The statement that catalogs a
//! blob also keeps the universe's stored bytes (the quota's count), see `counted!`.

use engine::BlobRef;
use engine::store::{StoreError, verify_digest};

use crate::PgStore;
use crate::error::{PgStoreError, query_failed};

/// `$upsert` (an `INSERT INTO blobs` of `$1` universe, `$2` digest, `$3` size) in
/// one statement with moving `universes.stored_bytes` by what it changed: by the new
/// size when it added or rewrote a row, less the size the row had before (a repaired
/// row). A put of what is already stored changes no row and so counts nothing; of two
/// racing puts of one new blob, the second waits for the first's row and then
/// changes nothing. The universe's row is locked only until the statement commits.
macro_rules! counted {
    ($upsert:literal) => {
        concat!(
            "WITH previous AS ( \
                 SELECT size_bytes FROM blobs WHERE universe_id = $1 AND digest = $2 \
             ), stored AS (",
            $upsert,
            " RETURNING size_bytes) \
             UPDATE universes SET stored_bytes = stored_bytes \
                 + (SELECT size_bytes FROM stored) \
                 - coalesce((SELECT size_bytes FROM previous), 0) \
             WHERE universe_id = $1 AND EXISTS (SELECT 1 FROM stored)"
        )
    };
}

pub(crate) async fn put(store: &PgStore, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
    let size_bytes = bytes.len() as u64;
    let limits = store.limits;
    if size_bytes > limits.blob_bytes_max {
        return Err(StoreError::BlobTooLarge {
            size_bytes,
            limit_bytes: limits.blob_bytes_max,
        });
    }
    let blob = BlobRef::of_bytes(&bytes);
    let size = i64::try_from(size_bytes).map_err(|_| {
        StoreError::from(PgStoreError::OutOfRange {
            what: "blob size",
            value: size_bytes,
        })
    })?;

    if size_bytes <= limits.blob_inline_bytes_max {
        sqlx::query(counted!(
            "INSERT INTO blobs (universe_id, digest, size_bytes, inline_bytes) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (universe_id, digest) DO UPDATE \
             SET size_bytes = EXCLUDED.size_bytes, inline_bytes = EXCLUDED.inline_bytes, \
                 object_key = NULL, touched_at_ms = EXCLUDED.touched_at_ms"
        ))
        .bind(store.universe_id)
        .bind(blob.digest_bytes().as_slice())
        .bind(size)
        .bind(bytes)
        .execute(&store.pool)
        .await
        .map_err(query_failed("store an inline blob"))?;
        return Ok(blob);
    }

    let Some(object_store) = &store.object_store else {
        return Err(StoreError::BlobTooLarge {
            size_bytes,
            limit_bytes: limits.blob_inline_bytes_max,
        });
    };
    if touch(store, &blob).await? {
        return Ok(blob);
    }
    let key = object_key(store, &blob);
    object_store
        .put(&key, bytes)
        .await
        .map_err(StoreError::from)?;
    sqlx::query(counted!(
        "INSERT INTO blobs (universe_id, digest, size_bytes, object_key) \
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
    ))
    .bind(store.universe_id)
    .bind(blob.digest_bytes().as_slice())
    .bind(size)
    .bind(&key)
    .execute(&store.pool)
    .await
    .map_err(query_failed("catalog a blob"))?;
    Ok(blob)
}

/// Moves the row's `touched_at_ms` to now, if there is a row: a put of stored
/// bytes keeps them from collection (see `retention::delete_blobs`).
async fn touch(store: &PgStore, blob: &BlobRef) -> Result<bool, StoreError> {
    let touched = sqlx::query(
        "UPDATE blobs SET touched_at_ms = (extract(epoch FROM clock_timestamp()) * 1000)::bigint \
         WHERE universe_id = $1 AND digest = $2",
    )
    .bind(store.universe_id)
    .bind(blob.digest_bytes().as_slice())
    .execute(&store.pool)
    .await
    .map_err(query_failed("touch a blob"))?;
    Ok(touched.rows_affected() > 0)
}

/// The bytes of every blob the universe holds, as the catalog counts them.
pub(crate) async fn stored_bytes(store: &PgStore) -> Result<u64, StoreError> {
    let total: Option<i64> =
        sqlx::query_scalar("SELECT stored_bytes FROM universes WHERE universe_id = $1")
            .bind(store.universe_id)
            .fetch_optional(&store.pool)
            .await
            .map_err(query_failed("read the universe's stored bytes"))?;
    Ok(total.map_or(0, |total| u64::try_from(total).unwrap_or(0)))
}

pub(crate) async fn get(store: &PgStore, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
    let row: Option<(Option<Vec<u8>>, Option<String>)> = sqlx::query_as(
        "SELECT inline_bytes, object_key FROM blobs WHERE universe_id = $1 AND digest = $2",
    )
    .bind(store.universe_id)
    .bind(blob.digest_bytes().as_slice())
    .fetch_optional(&store.pool)
    .await
    .map_err(query_failed("look up a blob"))?;
    let corrupt = |reason: &str| StoreError::Corrupt {
        location: format!("blobs row of {blob}"),
        reason: reason.to_owned(),
    };
    match row {
        None => Err(StoreError::BlobNotFound(blob.clone())),
        Some((Some(bytes), None)) => verify_digest(blob, bytes),
        Some((None, Some(key))) => {
            let object_store = store.object_store.as_ref().ok_or_else(|| {
                StoreError::from(PgStoreError::Config(format!(
                    "blob {blob} is in the object store, but none is configured"
                )))
            })?;
            match object_store.get(&key).await.map_err(StoreError::from)? {
                Some(bytes) => verify_digest(blob, bytes),
                None => Err(corrupt(&format!(
                    "the catalog names object {key}, which the object store does not have"
                ))),
            }
        }
        // The table's CHECK forbids both and neither.
        Some(_) => Err(corrupt(
            "the row holds both or neither of inline bytes and an object key",
        )),
    }
}

/// The catalog's `size_bytes` column: no object-store read.
pub(crate) async fn len(store: &PgStore, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
    let size: Option<i64> =
        sqlx::query_scalar("SELECT size_bytes FROM blobs WHERE universe_id = $1 AND digest = $2")
            .bind(store.universe_id)
            .bind(blob.digest_bytes().as_slice())
            .fetch_optional(&store.pool)
            .await
            .map_err(query_failed("look up a blob's size"))?;
    size.map(|size| {
        u64::try_from(size).map_err(|_| StoreError::Corrupt {
            location: format!("blobs row of {blob}"),
            reason: format!("negative size_bytes {size}"),
        })
    })
    .transpose()
}

pub(crate) async fn has(store: &PgStore, blob: &BlobRef) -> Result<bool, StoreError> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM blobs WHERE universe_id = $1 AND digest = $2)")
        .bind(store.universe_id)
        .bind(blob.digest_bytes().as_slice())
        .fetch_one(&store.pool)
        .await
        .map_err(query_failed("check for a blob"))
}

/// Which of `blobs` the universe holds, in one query.
pub(crate) async fn has_many(store: &PgStore, blobs: &[BlobRef]) -> Result<Vec<bool>, StoreError> {
    let digests: Vec<Vec<u8>> = blobs
        .iter()
        .map(|blob| blob.digest_bytes().to_vec())
        .collect();
    let held: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT digest FROM blobs WHERE universe_id = $1 AND digest = ANY($2)")
            .bind(store.universe_id)
            .bind(&digests)
            .fetch_all(&store.pool)
            .await
            .map_err(query_failed("check for blobs"))?;
    let held: std::collections::BTreeSet<Vec<u8>> = held.into_iter().collect();
    Ok(digests.iter().map(|digest| held.contains(digest)).collect())
}

/// `universes/<universe>/sha256/<hex[0..2]>/<hex>.<upload>`: objects are per
/// universe, like the catalog, so a universe's blobs can be listed and deleted on
/// their own. The upload's random suffix makes each upload its own object, so
/// collection deletes exactly the object of the row it deleted, never one a
/// concurrent put of the same bytes just uploaded (`retention::delete_blobs`).
/// Rows written before the suffix name `<hex>` alone; the row's key is what is read.
fn object_key(store: &PgStore, blob: &BlobRef) -> String {
    let hex = blob.hex_digest();
    // 64 random bits tell concurrent uploads of one blob apart; kept short since
    // some S3-compatible servers (s3s-fs) derive file names from the key.
    let upload = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "universes/{}/sha256/{}/{hex}.{}",
        store.universe_id,
        &hex[..2],
        &upload[..16]
    )
}
