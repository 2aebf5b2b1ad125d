//! Deleting a session's records and collecting the blobs nothing references
//! (`migrations/0012_collection.sql`).
//!
//! Collection itself (mark from the roots, sweep the rest) is decided above the
//! stores (`session_stores::collect`); this module answers its three questions for
//! one universe: which refs the universe's records name ([`blob_roots`]), which
//! blobs it holds ([`blob_page`]), and deleting the ones found unreferenced
//! ([`delete_blobs`]). Every table of the schema is either scanned for refs here or
//! listed as holding none ([`TABLES_WITHOUT_REFS`]); a test fails on a table that is
//! neither, so a new catalog cannot hold the only reference to a blob unseen.

use std::collections::HashSet;

use engine::store::StoreError;
use engine::{BlobRef, SessionId};
use futures::TryStreamExt as _;

use crate::PgStore;
use crate::error::{from_bigint, query_failed, to_bigint};

/// Each table whose rows may name blobs, with the column(s) read as text and scanned
/// for refs (`engine::blob_ref::refs_in`). Row bytes are scanned whatever their
/// format, so a record's shape may change without this list changing.
pub const TABLES_WITH_REFS: [(&str, &str); 12] = [
    ("blob_pins", "convert_to(blob_ref, 'UTF8')"),
    ("session_events", "entry"),
    ("checkpoints", "state"),
    ("vfs_workspaces", "convert_to(snapshot, 'UTF8')"),
    ("vfs_mounts", "convert_to(mounts::text, 'UTF8')"),
    ("mcp_servers", "convert_to(record::text, 'UTF8')"),
    ("schedules", "convert_to(record::text, 'UTF8')"),
    ("memory_blocks", "convert_to(value, 'UTF8')"),
    ("memory_passages", "convert_to(text, 'UTF8')"),
    ("env_jobs", "convert_to(op || coalesce(result, ''), 'UTF8')"),
    (
        "env_environments",
        "convert_to(coalesce(presence::text, ''), 'UTF8')",
    ),
    ("mcp_links", "convert_to(links::text, 'UTF8')"),
];

/// Tables that name no blob: identities, counters, secrets (sealed bytes and their
/// descriptions), links by name, the CAS itself and the migration ledger.
pub const TABLES_WITHOUT_REFS: [&str; 14] = [
    "universes",
    "universe_dispatch",
    "event_deliveries",
    "sessions",
    "blobs",
    "api_keys",
    "operator_keys",
    "operator_audit",
    "auth_secrets",
    "auth_grants",
    "auth_flows",
    "env_attachments",
    "memory_links",
    "_sqlx_migrations",
];

/// Removes every record of `session`: its log, checkpoints and row (with the run
/// and cost counts kept on it), its mounts, MCP links, environment attachments,
/// memory links and environment jobs, in one transaction. Blobs are left to
/// collection: a fork or another session may reference the same ones. Returns how
/// many log entries were removed (0 for a session with no log).
pub(crate) async fn delete_session(
    store: &PgStore,
    session: &SessionId,
) -> Result<u64, StoreError> {
    let mut tx = store
        .pool
        .begin()
        .await
        .map_err(query_failed("begin deleting a session"))?;
    // The session row first, locked: an append in flight either committed before
    // (and its entries go too) or waits and then finds no row at its head.
    sqlx::query("SELECT 1 FROM sessions WHERE universe_id = $1 AND session_id = $2 FOR UPDATE")
        .bind(store.universe_id)
        .bind(session.as_str())
        .execute(&mut *tx)
        .await
        .map_err(query_failed("lock a session to delete"))?;
    let entries =
        sqlx::query("DELETE FROM session_events WHERE universe_id = $1 AND session_id = $2")
            .bind(store.universe_id)
            .bind(session.as_str())
            .execute(&mut *tx)
            .await
            .map_err(query_failed("delete a session's log"))?
            .rows_affected();
    for (table, what) in [
        ("checkpoints", "delete a session's checkpoints"),
        ("sessions", "delete a session's row"),
        ("vfs_mounts", "delete a session's mounts"),
        ("mcp_links", "delete a session's MCP links"),
        (
            "env_attachments",
            "delete a session's environment attachments",
        ),
        ("memory_links", "delete a session's memory links"),
        ("env_jobs", "delete a session's environment jobs"),
    ] {
        // Table names from the constant list above, never from input.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {table} WHERE universe_id = $1 AND session_id = $2"
        )))
        .bind(store.universe_id)
        .bind(session.as_str())
        .execute(&mut *tx)
        .await
        .map_err(query_failed(what))?;
    }
    tx.commit()
        .await
        .map_err(query_failed("commit deleting a session"))?;
    Ok(entries)
}

/// Every ref named by the universe's records outside the CAS, each table streamed
/// rather than loaded whole.
pub(crate) async fn blob_roots(store: &PgStore) -> Result<HashSet<BlobRef>, StoreError> {
    let mut roots = HashSet::new();
    for (table, column) in TABLES_WITH_REFS {
        // Names and expressions from the constant list above, never from input.
        let query = format!("SELECT {column} FROM {table} WHERE universe_id = $1");
        let mut rows = sqlx::query_scalar::<_, Vec<u8>>(sqlx::AssertSqlSafe(query))
            .bind(store.universe_id)
            .fetch(&store.pool);
        while let Some(bytes) = rows
            .try_next()
            .await
            .map_err(query_failed("read the records that name blobs"))?
        {
            roots.extend(engine::blob_ref::refs_in(&bytes));
        }
    }
    Ok(roots)
}

/// Up to `limit` of the universe's blobs after `after` in digest order:
/// `(blob, size in bytes, last touched at ms)`.
pub(crate) async fn blob_page(
    store: &PgStore,
    after: Option<&BlobRef>,
    limit: usize,
) -> Result<Vec<(BlobRef, u64, u64)>, StoreError> {
    let after = after.map_or_else(Vec::new, |blob| blob.digest_bytes().to_vec());
    let limit = to_bigint("blob page size", limit as u64)?;
    let rows: Vec<(Vec<u8>, i64, i64)> = sqlx::query_as(
        "SELECT digest, size_bytes, touched_at_ms FROM blobs \
         WHERE universe_id = $1 AND digest > $2 ORDER BY digest LIMIT $3",
    )
    .bind(store.universe_id)
    .bind(after)
    .bind(limit)
    .fetch_all(&store.pool)
    .await
    .map_err(query_failed("list blobs"))?;
    rows.into_iter()
        .map(|(digest, size, touched)| {
            let digest: [u8; 32] = digest.try_into().map_err(|_| StoreError::Corrupt {
                location: "blobs.digest".into(),
                reason: "not 32 bytes".into(),
            })?;
            Ok((
                BlobRef::from_digest_bytes(&digest),
                from_bigint("blobs.size_bytes", size)?,
                from_bigint("blobs.touched_at_ms", touched)?,
            ))
        })
        .collect()
}

/// Deletes those of `blobs` last touched before `touched_before_ms`, moving the
/// universe's stored bytes in the same statement, then their objects. The touch
/// check is in the deleting statement, so a blob put again meanwhile stays.
///
/// Each large blob's object key is unique to the upload that made it
/// (`blobs::object_key`), so deleting the object this row named can never delete
/// what a concurrent put of the same bytes uploaded for its own row. An object whose
/// delete fails is left behind (logged); its row is gone, so nothing reads it.
/// Returns `(blobs deleted, bytes)`.
pub(crate) async fn delete_blobs(
    store: &PgStore,
    blobs: &[BlobRef],
    touched_before_ms: u64,
) -> Result<(u64, u64), StoreError> {
    if blobs.is_empty() {
        return Ok((0, 0));
    }
    let digests: Vec<Vec<u8>> = blobs.iter().map(|b| b.digest_bytes().to_vec()).collect();
    let cutoff = to_bigint("collection cutoff", touched_before_ms)?;
    let (count, bytes, keys): (i64, i64, Option<Vec<String>>) = sqlx::query_as(
        "WITH gone AS ( \
             DELETE FROM blobs WHERE universe_id = $1 AND digest = ANY($2) \
                 AND touched_at_ms < $3 \
             RETURNING size_bytes, object_key \
         ), moved AS ( \
             UPDATE universes SET stored_bytes = greatest(0, stored_bytes \
                 - (SELECT coalesce(sum(size_bytes), 0) FROM gone)) \
             WHERE universe_id = $1 \
         ) \
         SELECT count(*), coalesce(sum(size_bytes), 0)::bigint, \
                array_agg(object_key) FILTER (WHERE object_key IS NOT NULL) FROM gone",
    )
    .bind(store.universe_id)
    .bind(&digests)
    .bind(cutoff)
    .fetch_one(&store.pool)
    .await
    .map_err(query_failed("delete unreferenced blobs"))?;
    if let Some(object_store) = &store.object_store {
        for key in keys.unwrap_or_default() {
            if let Err(err) = object_store.delete(&key).await {
                tracing::warn!(key, error = %err, "deleting a collected blob's object failed; it is left behind");
            }
        }
    }
    Ok((
        from_bigint("deleted blobs", count)?,
        from_bigint("deleted bytes", bytes)?,
    ))
}

/// The advisory lock space of collection leases ("gc  ").
const LEASE_SPACE: i32 = 0x6763_2020;

/// A universe's collection lease: a session-level advisory lock held on a
/// connection of its own (not the pool's: a pooled connection would go back to the
/// pool still holding it), released when the connection closes, on drop. One
/// collector per universe at a time across every process; the others skip it.
pub struct CollectionLease {
    _connection: sqlx::PgConnection,
}

impl std::fmt::Debug for CollectionLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CollectionLease")
    }
}

impl crate::PgDatabase {
    /// Every universe with a row, in id order.
    pub async fn universe_ids(&self) -> Result<Vec<uuid::Uuid>, StoreError> {
        sqlx::query_scalar("SELECT universe_id FROM universes ORDER BY universe_id")
            .fetch_all(self.pool())
            .await
            .map_err(query_failed("list universes"))
    }

    /// The collection lease of `universe`, or `None` while another process holds it.
    pub async fn try_collection_lease(
        &self,
        universe: uuid::Uuid,
    ) -> Result<Option<CollectionLease>, StoreError> {
        use sqlx::Connection as _;
        let mut connection = sqlx::PgConnection::connect_with(&self.pool().connect_options())
            .await
            .map_err(query_failed("connect for a collection lease"))?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2::text))")
            .bind(LEASE_SPACE)
            .bind(universe)
            .fetch_one(&mut connection)
            .await
            .map_err(query_failed("take a collection lease"))?;
        Ok(held.then_some(CollectionLease {
            _connection: connection,
        }))
    }
}

/// Lock space of pin changes, so the count check holds ("pins").
const PINS_SPACE: i32 = 0x7069_6e73;

/// Pins `blob` (held by the universe) at `at_ms` unless `pins_max` pins exist:
/// `Some(true)` newly pinned, `Some(false)` pinned already (its time kept),
/// `None` at the bound.
pub(crate) async fn pin_blob(
    store: &PgStore,
    blob: &BlobRef,
    at_ms: u64,
    pins_max: u64,
) -> Result<Option<bool>, StoreError> {
    let mut tx = crate::tx::begin(&store.pool, "begin pinning a blob").await?;
    let result = async {
        crate::tx::advisory_lock(&mut tx, PINS_SPACE, 0, store.universe_id, None, "lock pins")
            .await?;
        let exists: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM blob_pins WHERE universe_id = $1 AND blob_ref = $2)",
        )
        .bind(store.universe_id)
        .bind(blob.as_str())
        .fetch_one(&mut *tx)
        .await
        .map_err(query_failed("find a pin"))?;
        if exists {
            return Ok(Some(false));
        }
        let count: i64 =
            sqlx::query_scalar("SELECT count(*) FROM blob_pins WHERE universe_id = $1")
                .bind(store.universe_id)
                .fetch_one(&mut *tx)
                .await
                .map_err(query_failed("count pins"))?;
        if from_bigint("pin count", count)? >= pins_max {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO blob_pins (universe_id, blob_ref, pinned_at_ms) VALUES ($1, $2, $3)",
        )
        .bind(store.universe_id)
        .bind(blob.as_str())
        .bind(to_bigint("pin time", at_ms)?)
        .execute(&mut *tx)
        .await
        .map_err(query_failed("pin a blob"))?;
        Ok(Some(true))
    }
    .await;
    crate::tx::finish(tx, result, "commit a pin").await
}

/// Removes the pin of `blob`; whether there was one.
pub(crate) async fn unpin_blob(store: &PgStore, blob: &BlobRef) -> Result<bool, StoreError> {
    let removed = sqlx::query("DELETE FROM blob_pins WHERE universe_id = $1 AND blob_ref = $2")
        .bind(store.universe_id)
        .bind(blob.as_str())
        .execute(&store.pool)
        .await
        .map_err(query_failed("unpin a blob"))?;
    Ok(removed.rows_affected() > 0)
}

/// Every pin of the universe, `(blob, pinned at ms)` in ref order.
pub(crate) async fn pinned_blobs(store: &PgStore) -> Result<Vec<(BlobRef, u64)>, StoreError> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT blob_ref, pinned_at_ms FROM blob_pins WHERE universe_id = $1 ORDER BY blob_ref",
    )
    .bind(store.universe_id)
    .fetch_all(&store.pool)
    .await
    .map_err(query_failed("list pins"))?;
    rows.into_iter()
        .map(|(raw, at)| {
            let blob = BlobRef::parse(&raw).map_err(|err| StoreError::Corrupt {
                location: "blob_pins.blob_ref".into(),
                reason: err.to_string(),
            })?;
            Ok((blob, from_bigint("blob_pins.pinned_at_ms", at)?))
        })
        .collect()
}
