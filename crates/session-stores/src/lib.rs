//! Where a universe's data lives. Every host (the Temporal worker's activities, the
//! API service, the in-process test host) resolves a universe (tenant) to its store
//! through a [`StoreProvider`], so the same code runs over the filesystem store
//! ([`FsStores`]: `server dev`, tests) and Postgres with S3 ([`PgStores`]:
//! deployments, the local stack).
//!
//! What this crate must not do: decide anything about sessions, know about Temporal,
//! the gateway or the API, or let one universe's store serve another's data.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use engine::SessionId;
use engine::core::wellknown::well_known_blobs;
use engine::store::{BlobStore, CheckpointStore, SessionLog, StoreError};
use store_fs::FsStore;
use store_pg::{ObjectStore, PgDatabase, PgStore};
use uuid::Uuid;
use vfs::VfsCatalog;

/// Everything a session needs from storage: its log, checkpoints and blobs, the VFS
/// catalog its file tools and the `vfs/*` methods work on, the index of a
/// universe's sessions behind `session/list`, and what the universe's quotas count.
pub trait SessionStore:
    SessionLog + BlobStore + CheckpointStore + VfsCatalog + SessionIndex + UniverseUsage + 'static
{
}

impl<
    T: SessionLog + BlobStore + CheckpointStore + VfsCatalog + SessionIndex + UniverseUsage + 'static,
> SessionStore for T
{
}

/// The sessions of one store's universe, from the store itself: a universe's own
/// rows, however many workflows other universes run (Temporal's visibility store
/// would have to be scanned and filtered).
pub trait SessionIndex: Sync {
    /// Every session with at least one log entry, in id order.
    fn session_ids(&self) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;
    /// How many sessions `session_ids` would list, without listing them where the
    /// store can count (Postgres).
    fn session_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        async move { Ok(self.session_ids().await?.len() as u64) }
    }
}

/// What a universe's quotas count, kept by the store as it writes, so a check costs
/// about one small read however much the universe holds: never a replay of its
/// sessions or a walk of its blobs.
///
/// - Postgres: each append moves its session's `runs_in_flight` column in the
///   transaction that already locks the session row, and a universe's total is one
///   query over a partial index of the sessions that have any; the statement that
///   catalogs a blob moves `universes.stored_bytes` when it adds a row.
/// - Filesystem: run counts are read from the logs of the sessions marked as having
///   runs in flight (markers kept by appends), blob bytes from a counter kept by puts.
///
/// Both count by event kind alone (`engine::core::event::runs_in_flight_delta`),
/// without decoding payloads.
pub trait UniverseUsage: Sync {
    /// Runs requested and not yet finished (queued or active) over every session.
    fn runs_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Bytes of every blob in the universe's CAS, whoever stored them.
    fn stored_bytes(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl UniverseUsage for FsStore {
    fn runs_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        FsStore::runs_in_flight(self)
    }

    fn stored_bytes(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        FsStore::stored_bytes(self)
    }
}

impl UniverseUsage for PgStore {
    fn runs_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::runs_in_flight(self)
    }

    fn stored_bytes(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::stored_bytes(self)
    }
}

impl SessionIndex for FsStore {
    fn session_ids(&self) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send {
        FsStore::session_ids(self)
    }
}

impl SessionIndex for PgStore {
    fn session_ids(&self) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send {
        PgStore::session_ids(self)
    }

    fn session_count(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::session_count(self)
    }
}

/// Resolves a universe to its store. Implementations must keep universes apart: a
/// store returned for one universe never serves another's sessions or blobs.
pub trait StoreProvider: Send + Sync + 'static {
    type Store: SessionStore;

    fn store(
        &self,
        universe_id: &str,
    ) -> impl Future<Output = Result<Arc<Self::Store>, StoreError>> + Send;
}

/// One [`FsStore`] per universe under `{root}/universes/{universe}`. The engine's well-known blobs are written on first use.
pub struct FsStores {
    root: PathBuf,
    opened: Mutex<BTreeMap<String, Arc<FsStore>>>,
}

impl FsStores {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            opened: Mutex::new(BTreeMap::new()),
        }
    }
}

/// Universe ids come from the key store, not from clients; still, keep them to
/// path-safe characters so a bad record cannot escape the data dir.
fn check_universe(universe_id: &str) -> Result<(), StoreError> {
    let safe = !universe_id.is_empty()
        && universe_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if safe {
        Ok(())
    } else {
        Err(StoreError::Corrupt {
            location: "universe id".into(),
            reason: format!("{universe_id:?} is not path-safe"),
        })
    }
}

impl StoreProvider for FsStores {
    type Store = FsStore;

    async fn store(&self, universe_id: &str) -> Result<Arc<FsStore>, StoreError> {
        check_universe(universe_id)?;
        let cached = self
            .opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(universe_id)
            .cloned();
        if let Some(store) = cached {
            return Ok(store);
        }
        let store = Arc::new(FsStore::open(
            self.root.join("universes").join(universe_id),
        )?);
        for bytes in well_known_blobs() {
            store.put(bytes.to_vec()).await?;
        }
        self.opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(universe_id.to_owned(), store.clone());
        Ok(store)
    }
}

/// One [`PgStore`] per universe over a shared pool and object store. Universe ids
/// are UUIDs here (they are columns); the engine's well-known blobs are written the
/// first time a universe is used by this process.
pub struct PgStores {
    db: PgDatabase,
    object_store: Option<ObjectStore>,
    opened: Mutex<BTreeMap<Uuid, Arc<PgStore>>>,
}

impl PgStores {
    /// Without an object store, blobs over the inline limit (64 KiB) are refused.
    pub fn new(db: PgDatabase, object_store: Option<ObjectStore>) -> Self {
        Self {
            db,
            object_store,
            opened: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn database(&self) -> &PgDatabase {
        &self.db
    }
}

impl StoreProvider for PgStores {
    type Store = PgStore;

    async fn store(&self, universe_id: &str) -> Result<Arc<PgStore>, StoreError> {
        let universe = Uuid::parse_str(universe_id).map_err(|err| StoreError::Corrupt {
            location: "universe id".into(),
            reason: format!("{universe_id:?} is not a UUID: {err}"),
        })?;
        let cached = self
            .opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&universe)
            .cloned();
        if let Some(store) = cached {
            return Ok(store);
        }
        let store = self
            .db
            .store(universe, self.object_store.clone())
            .await
            .map_err(StoreError::from)?;
        for bytes in well_known_blobs() {
            store.put(bytes.to_vec()).await?;
        }
        let store = Arc::new(store);
        self.opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(universe, store.clone());
        Ok(store)
    }
}

/// Several owners (the worker's activities, the gateway backend) share one provider.
impl<P: StoreProvider> StoreProvider for Arc<P> {
    type Store = P::Store;

    fn store(
        &self,
        universe_id: &str,
    ) -> impl Future<Output = Result<Arc<Self::Store>, StoreError>> + Send {
        (**self).store(universe_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fs_stores_keep_universes_apart_and_refuse_unsafe_ids() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let stores = FsStores::new(dir.path());
        let a = stores.store("universe-a").await.ok();
        let b = stores.store("universe-b").await.ok();
        let (Some(a), Some(b)) = (a, b) else {
            panic!("opening the stores failed")
        };
        assert!(!Arc::ptr_eq(&a, &b));
        let again = stores.store("universe-a").await.ok();
        assert!(again.is_some_and(|again| Arc::ptr_eq(&a, &again)));
        for bad in ["", "..", "a/b", "a b"] {
            assert!(stores.store(bad).await.is_err(), "{bad:?} was accepted");
        }
    }
}
