//! Where a universe's data lives. Every host (the Temporal worker's activities, the
//! API service, the in-process test host) resolves a universe (tenant) to its store
//! through a [`StoreProvider`], so the same code runs over the filesystem store
//! ([`FsStores`]: `server dev`, tests) and Postgres with S3 ([`PgStores`]:
//! deployments, the local stack).
//!
//! A provider also pushes commits to the readers waiting for them
//! ([`StoreProvider::commits`], [`CommitHub`]): Postgres through one `LISTEN`
//! connection per process hearing the `NOTIFY` of every append transaction
//! (`pg_commits`), the filesystem store through its commit hook, in process.
//!
//! What this crate must not do: decide anything about sessions, know about Temporal,
//! the gateway or the API, or let one universe's store serve another's data.

pub mod collect;
mod commits;
mod dispatch;
mod env_wakeups;
mod pg_commits;
mod retention;

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering as AtomicOrdering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use auth_registry::AuthCatalog;
use engine::core::wellknown::well_known_blobs;
use engine::store::{BlobStore, CheckpointStore, SessionLog, StoreError};
use engine::{Seq, SessionId};
use env_registry::EnvCatalog;
use mcp_registry::McpCatalog;
use memory_registry::MemoryCatalog;
use schedule_registry::ScheduleCatalog;
use store_fs::FsStore;
use store_pg::{ObjectStore, PgDatabase, PgStore};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;
use vfs::VfsCatalog;

pub use commits::CommitHub;
pub use dispatch::{DispatchCatalog, PriorDelivery};
pub use env_wakeups::EnvJobWakeups;
pub use pg_commits::IDLE_PING_AFTER;
pub use retention::{Removed, Retention, StoredBlob};

/// Everything a session needs from storage: its log, checkpoints and blobs, the VFS
/// catalog its file tools and the `vfs/*` methods work on, the MCP catalog
/// (`mcp/servers/*`, session links), the environment catalog (environments, session
/// attachments, the job queue between workers and daemons), the auth catalog
/// (sealed secrets, grants, flows), the memory catalog (blocks, their session
/// links, archival passages), the schedule catalog, the index of a universe's sessions behind
/// `session/list`, what the universe's quotas count, the dispatch pause and event
/// deliveries ([`DispatchCatalog`]), and removal (deleting sessions,
/// collecting blobs: [`Retention`], [`collect`]).
pub trait SessionStore:
    SessionLog
    + BlobStore
    + CheckpointStore
    + VfsCatalog
    + McpCatalog
    + EnvCatalog
    + AuthCatalog
    + MemoryCatalog
    + ScheduleCatalog
    + SessionIndex
    + UniverseUsage
    + DispatchCatalog
    + Retention
    + 'static
{
}

impl<
    T: SessionLog
        + BlobStore
        + CheckpointStore
        + VfsCatalog
        + McpCatalog
        + EnvCatalog
        + AuthCatalog
        + MemoryCatalog
        + ScheduleCatalog
        + SessionIndex
        + UniverseUsage
        + DispatchCatalog
        + Retention
        + 'static,
> SessionStore for T
{
}

/// Where a session stands in `session/list`'s order: its last activity (the newest
/// `observed_at_ms` among its log entries, as the control state's
/// `last_observed_at_ms`), then its id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionActivity {
    pub last_activity_at_ms: u64,
    pub session_id: SessionId,
}

impl SessionActivity {
    /// The listing order: newest activity first, ties by id in byte order.
    pub fn list_order(&self, other: &Self) -> Ordering {
        other
            .last_activity_at_ms
            .cmp(&self.last_activity_at_ms)
            .then_with(|| self.session_id.as_str().cmp(other.session_id.as_str()))
    }
}

/// The sessions of one store's universe, from the store itself: a universe's own
/// rows, however many workflows other universes run (Temporal's visibility store
/// would have to be scanned and filtered).
pub trait SessionIndex: Sync {
    /// Every session with at least one log entry, in id order.
    fn session_ids(&self) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;
    /// Up to `limit` sessions with at least one log entry in
    /// [`SessionActivity::list_order`], only those strictly after `after`: one page
    /// of `session/list`, keyset-paged.
    ///
    /// - Postgres: one range scan of an index on the column each append keeps
    ///   (`sessions.last_activity_at_ms`).
    /// - Filesystem: every session's last activity from its log index (read once
    ///   per process, then kept by appends), sorted: linear in the universe's
    ///   sessions, which the development store accepts.
    fn sessions_by_activity(
        &self,
        after: Option<&SessionActivity>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<SessionActivity>, StoreError>> + Send;
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
/// Both count runs by event kind alone (`engine::core::event::runs_in_flight_delta`),
/// without decoding payloads, and cost by the one field a completed turn records
/// (`engine::core::run::recorded_cost_nanos`): Postgres in `universes.cost_nanos`,
/// moved by the append transaction; the filesystem in a counter moved after each
/// append.
pub trait UniverseUsage: Sync {
    /// Runs requested and not yet finished (queued or active) over every session.
    fn runs_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Bytes of every blob in the universe's CAS, whoever stored them.
    fn stored_bytes(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// Records that `session` is a sub-agent of `parent` (before its first run).
    fn mark_child(
        &self,
        session: &SessionId,
        parent: &SessionId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Sub-agents with runs in flight (queued or active).
    fn children_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
    /// What every turn of every session recorded as its cost, in nano-USD.
    fn cost_nanos(&self) -> impl Future<Output = Result<u64, StoreError>> + Send;
}

impl UniverseUsage for FsStore {
    fn runs_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        FsStore::runs_in_flight(self)
    }

    fn stored_bytes(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        FsStore::stored_bytes(self)
    }

    fn mark_child(
        &self,
        session: &SessionId,
        parent: &SessionId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        FsStore::mark_child(self, session, parent)
    }

    fn children_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        FsStore::children_in_flight(self)
    }

    fn cost_nanos(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        FsStore::cost_nanos(self)
    }
}

impl UniverseUsage for PgStore {
    fn runs_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::runs_in_flight(self)
    }

    fn stored_bytes(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::stored_bytes(self)
    }

    fn mark_child(
        &self,
        session: &SessionId,
        parent: &SessionId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        PgStore::mark_child(self, session, parent)
    }

    fn children_in_flight(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::children_in_flight(self)
    }

    fn cost_nanos(&self) -> impl Future<Output = Result<u64, StoreError>> + Send {
        PgStore::cost_nanos(self)
    }
}

impl SessionIndex for FsStore {
    fn session_ids(&self) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send {
        FsStore::session_ids(self)
    }

    async fn sessions_by_activity(
        &self,
        after: Option<&SessionActivity>,
        limit: usize,
    ) -> Result<Vec<SessionActivity>, StoreError> {
        let mut sessions = Vec::new();
        for session_id in self.session_ids().await? {
            // A log file without entries (a refused first append) lists nothing.
            let Some(last_activity_at_ms) = self.last_activity_ms(&session_id).await? else {
                continue;
            };
            let row = SessionActivity {
                last_activity_at_ms,
                session_id,
            };
            if after.is_none_or(|after| row.list_order(after) == Ordering::Greater) {
                sessions.push(row);
            }
        }
        sessions.sort_by(SessionActivity::list_order);
        sessions.truncate(limit);
        Ok(sessions)
    }
}

impl SessionIndex for PgStore {
    fn session_ids(&self) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send {
        PgStore::session_ids(self)
    }

    async fn sessions_by_activity(
        &self,
        after: Option<&SessionActivity>,
        limit: usize,
    ) -> Result<Vec<SessionActivity>, StoreError> {
        let after = after.map(|after| (after.last_activity_at_ms, &after.session_id));
        let rows = PgStore::sessions_by_activity(self, after, limit).await?;
        Ok(rows
            .into_iter()
            .map(|(session_id, last_activity_at_ms)| SessionActivity {
                last_activity_at_ms,
                session_id,
            })
            .collect())
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

    /// A signal whose value is the newest head this process heard for `session`,
    /// pushed by the session's commits wherever they are made (see
    /// [`CommitHub::watch`] for how to read it without missing one). Waiting on it
    /// costs no store query.
    fn commits(&self, universe_id: &str, session: &SessionId) -> watch::Receiver<Seq>;

    /// Every universe this provider holds data for: what a collection pass visits.
    fn universe_ids(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;

    /// The right to collect `universe_id` now, held until dropped; `None` while
    /// another collector holds it (Postgres: an advisory lock across processes; the
    /// filesystem store is one process's, and two collections of it are safe, only
    /// wasteful).
    fn collection_lease(
        &self,
        universe_id: &str,
    ) -> impl Future<Output = Result<Option<CollectionLease>, StoreError>> + Send {
        let _ = universe_id;
        async { Ok(Some(CollectionLease(None))) }
    }

    /// A signal that changes when a job for environment `environment_id` is
    /// submitted anywhere, for the gateway holding its daemon; `None` when this
    /// provider cannot announce jobs (the hub then polls often).
    fn env_job_wakeups(
        &self,
        universe_id: &str,
        environment_id: &str,
    ) -> Option<watch::Receiver<u64>> {
        let _ = (universe_id, environment_id);
        None
    }
}

/// See [`StoreProvider::collection_lease`].
#[derive(Debug)]
pub struct CollectionLease(#[allow(dead_code)] Option<store_pg::CollectionLease>);

type OpenedFs = Arc<Mutex<BTreeMap<String, Arc<FsStore>>>>;

/// A provider's background task (commit listener, head re-reader): started by the
/// first reader that needs it, stopped with the provider.
#[derive(Default)]
struct Background(Mutex<Option<JoinHandle<()>>>);

impl Background {
    /// Spawns `task()` unless it runs already; outside a runtime nothing can wait
    /// for commits, so nothing starts.
    fn start_once<F>(&self, task: impl FnOnce() -> F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let mut slot = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if slot.is_none()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            *slot = Some(runtime.spawn(task()));
        }
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(task) = self
            .0
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// One [`FsStore`] per universe under `{root}/universes/{universe}`. The engine's
/// well-known blobs are written on first use.
///
/// Commits are pushed by the stores' commit hooks, so readers hear the appends of
/// this provider's stores: those of a worker and an API host sharing it in one
/// process (`server`, `server dev`, tests). A gateway whose worker runs in another
/// process over the same directory has no such channel; it re-reads the heads of
/// watched sessions instead ([`FsStores::with_commit_recheck`]).
pub struct FsStores {
    root: PathBuf,
    opened: OpenedFs,
    hub: Arc<CommitHub>,
    recheck: Option<Duration>,
    rechecker: Background,
}

impl FsStores {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            opened: Arc::default(),
            hub: Arc::default(),
            recheck: None,
            rechecker: Background::default(),
        }
    }

    /// Also re-reads the heads of watched sessions every `interval` (a head read
    /// per watched session each time), for commits made by another process over
    /// the same directory, which no hook here hears.
    pub fn with_commit_recheck(mut self, interval: Duration) -> Self {
        self.recheck = Some(interval.max(Duration::from_millis(1)));
        self
    }
}

/// Publishes the heads of watched sessions every `interval`, until the provider is
/// gone.
async fn recheck_fs(
    hub: Weak<CommitHub>,
    opened: Weak<Mutex<BTreeMap<String, Arc<FsStore>>>>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let (Some(hub), Some(opened)) = (hub.upgrade(), opened.upgrade()) else {
            return;
        };
        for (universe, session) in hub.watched() {
            let store = opened
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .get(&universe)
                .cloned();
            // A universe is opened before its sessions are read, hence watched.
            let Some(store) = store else { continue };
            match store.head(&session).await {
                Ok(head) => hub.publish(&universe, &session, head),
                // Retried at the next tick; readers keep their deadlines.
                Err(err) => tracing::debug!(%session, error = %err, "re-reading a head failed"),
            }
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
        let hub = Arc::downgrade(&self.hub);
        let universe = universe_id.to_owned();
        let store = Arc::new(
            FsStore::open(self.root.join("universes").join(universe_id))?.with_commit_hook(
                Arc::new(move |session: &SessionId, head: Seq| {
                    if let Some(hub) = hub.upgrade() {
                        hub.publish(&universe, session, head);
                    }
                }),
            ),
        );
        for bytes in well_known_blobs() {
            store.put(bytes.to_vec()).await?;
        }
        self.opened
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(universe_id.to_owned(), store.clone());
        Ok(store)
    }

    async fn universe_ids(&self) -> Result<Vec<String>, StoreError> {
        let dir = self.root.join("universes");
        let mut ids = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|entry| entry.path().is_dir())
                .filter_map(|entry| entry.file_name().into_string().ok())
                .filter(|id| check_universe(id).is_ok())
                .collect::<Vec<_>>(),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(err) => {
                return Err(StoreError::transient(err));
            }
        };
        ids.sort();
        Ok(ids)
    }

    fn commits(&self, universe_id: &str, session: &SessionId) -> watch::Receiver<Seq> {
        let receiver = self.hub.watch(universe_id, session);
        if let Some(interval) = self.recheck {
            self.rechecker.start_once(|| {
                recheck_fs(
                    Arc::downgrade(&self.hub),
                    Arc::downgrade(&self.opened),
                    interval,
                )
            });
        }
        receiver
    }
}

/// One [`PgStore`] per universe over a shared pool and object store. Universe ids
/// are UUIDs here (they are columns); the engine's well-known blobs are written the
/// first time a universe is used by this process.
///
/// Commits are pushed by one listener per provider (`pg_commits`), started by the
/// first [`StoreProvider::commits`] call, so a process that never waits for a
/// commit (a worker) holds no listening connection; it stops with the provider.
pub struct PgStores {
    db: PgDatabase,
    object_store: Option<ObjectStore>,
    opened: Mutex<BTreeMap<Uuid, Arc<PgStore>>>,
    hub: Arc<CommitHub>,
    listener: Background,
    listener_backend: Arc<AtomicI32>,
    env_wakeups: Arc<EnvJobWakeups>,
    env_listener: Background,
}

impl PgStores {
    /// Without an object store, blobs over the inline limit (64 KiB) are refused.
    pub fn new(db: PgDatabase, object_store: Option<ObjectStore>) -> Self {
        Self {
            db,
            object_store,
            opened: Mutex::new(BTreeMap::new()),
            hub: Arc::default(),
            listener: Background::default(),
            listener_backend: Arc::default(),
            env_wakeups: Arc::default(),
            env_listener: Background::default(),
        }
    }

    pub fn database(&self) -> &PgDatabase {
        &self.db
    }

    /// The per-session channels the commit listener feeds (for tests and metrics).
    pub fn commit_hub(&self) -> &CommitHub {
        &self.hub
    }

    /// The server process (`pg_stat_activity.pid`) of the commit listener's
    /// connection, if it is listening now: for operators and tests.
    pub fn commit_listener_backend(&self) -> Option<i32> {
        Some(self.listener_backend.load(AtomicOrdering::Relaxed)).filter(|pid| *pid != 0)
    }
}

impl StoreProvider for PgStores {
    type Store = PgStore;

    async fn universe_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .db
            .universe_ids()
            .await?
            .into_iter()
            .map(|id| id.to_string())
            .collect())
    }

    async fn collection_lease(
        &self,
        universe_id: &str,
    ) -> Result<Option<CollectionLease>, StoreError> {
        let universe = Uuid::parse_str(universe_id).map_err(|err| StoreError::Corrupt {
            location: "universe id".into(),
            reason: format!("{universe_id:?} is not a UUID: {err}"),
        })?;
        Ok(self
            .db
            .try_collection_lease(universe)
            .await?
            .map(|lease| CollectionLease(Some(lease))))
    }

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

    fn commits(&self, universe_id: &str, session: &SessionId) -> watch::Receiver<Seq> {
        // Keyed as the listener publishes: the UUID's canonical form.
        let key =
            Uuid::parse_str(universe_id).map_or_else(|_| universe_id.to_owned(), |u| u.to_string());
        let receiver = self.hub.watch(&key, session);
        self.listener.start_once(|| {
            pg_commits::follow_commits(
                self.db.clone(),
                self.hub.clone(),
                self.listener_backend.clone(),
            )
        });
        receiver
    }

    fn env_job_wakeups(
        &self,
        universe_id: &str,
        environment_id: &str,
    ) -> Option<watch::Receiver<u64>> {
        let key =
            Uuid::parse_str(universe_id).map_or_else(|_| universe_id.to_owned(), |u| u.to_string());
        let receiver = self.env_wakeups.watch(&key, environment_id);
        self.env_listener
            .start_once(|| env_wakeups::follow_env_jobs(self.db.clone(), self.env_wakeups.clone()));
        Some(receiver)
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

    fn commits(&self, universe_id: &str, session: &SessionId) -> watch::Receiver<Seq> {
        (**self).commits(universe_id, session)
    }

    fn universe_ids(&self) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        (**self).universe_ids()
    }

    fn collection_lease(
        &self,
        universe_id: &str,
    ) -> impl Future<Output = Result<Option<CollectionLease>, StoreError>> + Send {
        (**self).collection_lease(universe_id)
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

    fn entry(seq: Seq, observed_at_ms: u64) -> engine::log::LogEntry {
        engine::log::LogEntry {
            seq,
            observed_at_ms,
            joins: engine::log::Joins::default(),
            event: engine::log::EventEnvelope {
                kind: "session_stores.test".into(),
                version: 1,
                payload: serde_json::json!({}),
            },
        }
    }

    fn sid(raw: &str) -> SessionId {
        SessionId::new(raw).unwrap_or_else(|err| panic!("{err}"))
    }

    async fn appended(store: &FsStore, session: &SessionId, head: Seq, observed_at_ms: u64) {
        store
            .append(session, head, &[entry(head + 1, observed_at_ms)])
            .await
            .unwrap_or_else(|err| panic!("{err}"));
    }

    async fn changed(commits: &mut watch::Receiver<Seq>, within: Duration) -> Option<Seq> {
        match tokio::time::timeout(within, commits.changed()).await {
            Ok(Ok(())) => Some(*commits.borrow_and_update()),
            _ => None,
        }
    }

    #[tokio::test]
    async fn fs_commits_are_pushed_by_the_providers_own_stores_or_rechecked() {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let stores = FsStores::new(dir.path());
        let s1 = sid("s1");
        let store = stores
            .store("u1")
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let mut commits = stores.commits("u1", &s1);
        let mut elsewhere = stores.commits("u2", &s1);
        appended(&store, &s1, 0, 10).await;
        assert_eq!(changed(&mut commits, Duration::from_secs(5)).await, Some(1));
        assert_eq!(
            changed(&mut elsewhere, Duration::from_millis(50)).await,
            None
        );

        // Another provider over the directory (another process) has no hook here...
        let other = FsStores::new(dir.path());
        let other_store = other
            .store("u1")
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        appended(&other_store, &s1, 1, 11).await;
        assert_eq!(
            changed(&mut commits, Duration::from_millis(200)).await,
            None
        );
        // ...unless this one re-reads the heads it watches.
        let rechecking = FsStores::new(dir.path()).with_commit_recheck(Duration::from_millis(10));
        rechecking
            .store("u1")
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        let mut rechecked = rechecking.commits("u1", &s1);
        assert_eq!(
            changed(&mut rechecked, Duration::from_secs(5)).await,
            Some(2)
        );
        appended(&other_store, &s1, 2, 12).await;
        assert_eq!(
            changed(&mut rechecked, Duration::from_secs(5)).await,
            Some(3)
        );
    }
}
