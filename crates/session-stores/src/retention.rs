//! What deleting sessions and collecting blobs ask of a store ([`Retention`]),
//! implemented by both stores; the collection itself is [`crate::collect`].

use std::collections::HashSet;

use engine::store::StoreError;
use engine::{BlobRef, SessionId};
use store_fs::FsStore;
use store_pg::PgStore;

/// A blob as the CAS catalogs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBlob {
    pub blob: BlobRef,
    pub size_bytes: u64,
    /// When a put last stored or found it (Unix ms): collection keeps whatever was
    /// touched within its grace period.
    pub touched_at_ms: u64,
}

/// Blobs or bytes removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Removed {
    pub blobs: u64,
    pub bytes: u64,
}

/// Removal of a universe's records, one store's part.
///
/// - Postgres: one transaction over every table keyed by the session; roots by
///   streaming each table that may name a blob (`store_pg::TABLES_WITH_REFS`); the
///   touch check inside the deleting statement.
/// - Filesystem: the session's directory moved to `trash/` under its log lock, then
///   removed; roots by reading every record file; sweeps under `cas/collect.lock`.
pub trait Retention: Sync {
    /// Removes `session`'s log, checkpoints and per-session records (mounts, MCP
    /// links, environment attachments, memory links). Blobs stay for collection.
    /// Returns the log entries removed (0: there was no log).
    fn delete_session(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Every ref named by the universe's records outside the CAS.
    fn blob_roots(&self) -> impl Future<Output = Result<HashSet<BlobRef>, StoreError>> + Send;
    /// Up to `limit` blobs after `after`, in digest order.
    fn blob_page(
        &self,
        after: Option<&BlobRef>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredBlob>, StoreError>> + Send;
    /// Deletes those of `blobs` not touched since `touched_before_ms` (checked as
    /// they are deleted), moving the universe's stored bytes.
    fn delete_blobs(
        &self,
        blobs: &[BlobRef],
        touched_before_ms: u64,
    ) -> impl Future<Output = Result<Removed, StoreError>> + Send;
    /// Pins `blob` (a root of collection whatever names it) at `at_ms`, unless the
    /// universe has `pins_max` pins: `Some(true)` pinned now, `Some(false)` pinned
    /// already (its time kept), `None` at the bound.
    fn pin_blob(
        &self,
        blob: &BlobRef,
        at_ms: u64,
        pins_max: u64,
    ) -> impl Future<Output = Result<Option<bool>, StoreError>> + Send;
    /// Removes `blob`'s pin; whether there was one.
    fn unpin_blob(&self, blob: &BlobRef) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// Every pin, `(blob, pinned at ms)` in ref order.
    fn pinned_blobs(&self) -> impl Future<Output = Result<Vec<(BlobRef, u64)>, StoreError>> + Send;
}

fn stored(rows: Vec<(BlobRef, u64, u64)>) -> Vec<StoredBlob> {
    rows.into_iter()
        .map(|(blob, size_bytes, touched_at_ms)| StoredBlob {
            blob,
            size_bytes,
            touched_at_ms,
        })
        .collect()
}

/// Both stores have the same inherent methods; this says so once.
macro_rules! retention_by_inherent_methods {
    ($store:ty) => {
        impl Retention for $store {
            fn delete_session(
                &self,
                session: &SessionId,
            ) -> impl Future<Output = Result<u64, StoreError>> + Send {
                <$store>::delete_session(self, session)
            }

            fn blob_roots(
                &self,
            ) -> impl Future<Output = Result<HashSet<BlobRef>, StoreError>> + Send {
                <$store>::blob_roots(self)
            }

            async fn blob_page(
                &self,
                after: Option<&BlobRef>,
                limit: usize,
            ) -> Result<Vec<StoredBlob>, StoreError> {
                Ok(stored(<$store>::blob_page(self, after, limit).await?))
            }

            async fn delete_blobs(
                &self,
                blobs: &[BlobRef],
                touched_before_ms: u64,
            ) -> Result<Removed, StoreError> {
                let (blobs, bytes) = <$store>::delete_blobs(self, blobs, touched_before_ms).await?;
                Ok(Removed { blobs, bytes })
            }

            fn pin_blob(
                &self,
                blob: &BlobRef,
                at_ms: u64,
                pins_max: u64,
            ) -> impl Future<Output = Result<Option<bool>, StoreError>> + Send {
                <$store>::pin_blob(self, blob, at_ms, pins_max)
            }

            fn unpin_blob(
                &self,
                blob: &BlobRef,
            ) -> impl Future<Output = Result<bool, StoreError>> + Send {
                <$store>::unpin_blob(self, blob)
            }

            fn pinned_blobs(
                &self,
            ) -> impl Future<Output = Result<Vec<(BlobRef, u64)>, StoreError>> + Send {
                <$store>::pinned_blobs(self)
            }
        }
    };
}

retention_by_inherent_methods!(FsStore);
retention_by_inherent_methods!(PgStore);
