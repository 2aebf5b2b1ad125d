//! Filesystem storage: the session log, the content-addressed blob store and state
//! checkpoints on a local disk, behind the engine's [`SessionLog`], [`BlobStore`] and
//! [`CheckpointStore`] traits. Used by tests and by `server dev` (the embedded default).
//!
//! Layout under the root directory:
//!
//! ```text
//! sessions/<session>/log.jsonl                      {"batch_end":N,"entry":<LogEntry>} per line
//! sessions/<session>/log.lock                       exclusive lock for appends
//! sessions/<session>/checkpoints/<seq:020>.json     `{"seq":N}` line, then the state bytes
//! cas/sha256/<hex[0..2]>/<hex>                      blob bytes
//! vfs/workspaces/<workspace>.json                   a VFS workspace head
//! vfs/mounts/<session>.json                         a session's VFS mounts
//! env/environments.json, env/attachments/<session>.json, env/jobs/<job id>.json
//!                                                   the environment catalog
//! memory/…                                          the memory catalog (module `memory_catalog`)
//! schedules/schedules.json                          the schedule catalog (module `schedule_catalog`)
//! runs_in_flight/<session>                          the session may have runs in flight
//! wake_ups_pending/<session>                        the session may hold wake-ups that can fire
//! cas/stored_bytes                                  bytes of every blob (a counter)
//! cas/collect.lock                                  puts shared, a collection's sweep exclusive
//! trash/                                            deleted sessions on their way out
//! pins/<hex>                                        a pinned blob (`blob/pin`), kept by collection
//! cost_nanos                                        what every turn cost (a counter)
//! ```
//!
//! The last three keep what the per-universe quotas and usage count, so counting
//! never walks the store (module `usage`).
//!
//! [`FsStore`] is also the VFS catalog ([`vfs::VfsCatalog`], module `vfs_catalog`):
//! snapshots are CAS blobs; workspace heads and mount tables are small JSON records,
//! each changed under its own lock file.
//!
//! `<session>` is the session id itself (ids are restricted to `[A-Za-z0-9_.:-]`),
//! except that the ids `.` and `..` are stored as `%2E` and `%2E%2E`; `%` cannot occur
//! in an id, so the mapping stays injective and never leaves `sessions/`.
//!
//! Guarantees: an acknowledged append, blob put or checkpoint put has been fsynced
//! (file and, when created, its directory). Appends are serialised across processes
//! by an OS file lock, so several processes may share one root. Blob and checkpoint
//! files appear atomically (temporary file, fsync, rename).
//!
//! What this crate must not do:
//! - understand event payloads: it stores [`engine::LogEntry`] values verbatim and
//!   checks only their framing and sequence numbers;
//! - lose data silently: undecodable or out-of-sequence committed entries are
//!   [`StoreError::Corrupt`], never skipped. The one exception is a torn tail (bytes
//!   after the last newline, an undecodable final line, or the lines of an append
//!   whose last line is missing), which by construction was never acknowledged; it
//!   is ignored by readers and removed by the next append. Appends are therefore
//!   all-or-nothing, however many entries they carry;
//! - block an async runtime thread: every file operation runs on Tokio's blocking
//!   pool (or inline when no runtime is present);
//! - be relied on over network filesystems or case-insensitive filesystems: advisory
//!   locks and fsync semantics there are not what the log needs, and session ids that
//!   differ only in case would share a directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use engine::log::{LogEntry, Seq};
use engine::store::{
    AppendOutcome, BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError,
};
use engine::{BlobRef, SessionId};

mod auth_catalog;
mod cas;
mod checkpoint;
mod dispatch;
mod env_catalog;
mod fsio;
mod log;
mod mcp_catalog;
mod memory_catalog;
mod record;
mod retention;
mod schedule_catalog;
mod usage;
mod vfs_catalog;

pub use dispatch::PriorDelivery;
pub use fsio::IoError;

use log::LogIndex;

/// Bounds of an [`FsStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsStoreLimits {
    /// Largest blob [`BlobStore::put`] accepts, in bytes. Default 512 MiB: blobs are
    /// handled whole in memory, so this bounds the memory one put or get can take.
    pub blob_bytes_max: u64,
    /// How many per-session log indexes stay cached in memory before idle ones are
    /// dropped (they are rebuilt from disk on the next access). Default 4096; an index
    /// costs 8 bytes per log entry.
    pub session_indexes_max: usize,
}

impl Default for FsStoreLimits {
    fn default() -> Self {
        Self {
            blob_bytes_max: 512 * 1024 * 1024,
            session_indexes_max: 4096,
        }
    }
}

/// Told of each append an [`FsStore`] commits, with the session and its new head,
/// once the entries are durable. Called on the blocking thread that appended, so it
/// must be quick (hand the news over, never wait).
pub type CommitHook = Arc<dyn Fn(&SessionId, Seq) + Send + Sync>;

/// Session log, blob store and checkpoint store rooted at one directory.
///
/// Cheap to clone; clones share the in-memory log indexes. Separate instances (or
/// processes) on the same root stay correct: they coordinate through file locks and
/// pick up each other's appends (but a [`CommitHook`] hears only its own store's).
#[derive(Clone)]
pub struct FsStore {
    inner: Arc<Inner>,
    on_commit: Option<CommitHook>,
}

impl std::fmt::Debug for FsStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FsStore")
            .field("inner", &self.inner)
            .field("on_commit", &self.on_commit.is_some())
            .finish()
    }
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    limits: FsStoreLimits,
    indexes: Mutex<HashMap<SessionId, Arc<Mutex<LogIndex>>>>,
}

impl FsStore {
    /// Opens (creating if needed) a store rooted at `root` with default limits.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        Self::open_with_limits(root, FsStoreLimits::default())
    }

    /// Opens (creating if needed) a store rooted at `root`.
    pub fn open_with_limits(
        root: impl Into<PathBuf>,
        limits: FsStoreLimits,
    ) -> Result<Self, StoreError> {
        let root = root.into();
        fsio::ensure_dir(&root.join(SESSIONS_DIR))?;
        fsio::ensure_dir(&root.join(cas::CAS_DIR))?;
        let store = Self {
            inner: Arc::new(Inner {
                root,
                limits,
                indexes: Mutex::new(HashMap::new()),
            }),
            on_commit: None,
        };
        store.inner.mark_existing()?;
        Ok(store)
    }

    /// The same store, telling `hook` of every append it commits (an in-process
    /// host wakes the readers waiting for the session with it).
    pub fn with_commit_hook(mut self, hook: CommitHook) -> Self {
        self.on_commit = Some(hook);
        self
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    pub fn limits(&self) -> FsStoreLimits {
        self.inner.limits
    }

    /// The directory holding one session's log and checkpoints.
    pub fn session_dir(&self, session: &SessionId) -> PathBuf {
        self.inner.session_dir(session)
    }

    /// The JSONL log file of `session`.
    pub fn log_path(&self, session: &SessionId) -> PathBuf {
        self.inner.session_dir(session).join(log::LOG_FILE)
    }

    /// Every session with a log in this store, in id order. Directories that are not
    /// session logs (no log file, or a name no session id maps to) are skipped.
    pub async fn session_ids(&self) -> Result<Vec<SessionId>, StoreError> {
        let dir = self.inner.root.join(SESSIONS_DIR);
        blocking(move || {
            let entries = match std::fs::read_dir(&dir) {
                Ok(entries) => entries,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(err) => return Err(fsio::io_failure(err)),
            };
            let mut ids = Vec::new();
            for entry in entries {
                let entry = entry.map_err(fsio::io_failure)?;
                if !entry.path().join(log::LOG_FILE).is_file() {
                    continue;
                }
                let name = entry.file_name();
                let Some(id) = name.to_str().and_then(session_id_of_dir_name) else {
                    continue;
                };
                ids.push(id);
            }
            ids.sort();
            Ok(ids)
        })
        .await
    }

    /// The newest `observed_at_ms` among the entries of `session`'s log (`None`
    /// without entries): its last activity, from the log index (read once per
    /// process, then extended by appends).
    pub async fn last_activity_ms(&self, session: &SessionId) -> Result<Option<u64>, StoreError> {
        let (inner, session) = (Arc::clone(&self.inner), session.clone());
        blocking(move || {
            let index = inner.log_index(&session);
            log::last_activity(&inner.session_dir(&session), &index)
        })
        .await
    }

    /// Removes every record of `session` (log, checkpoints, mounts, links,
    /// attachments, quota markers); its blobs are left to collection. Returns how
    /// many log entries were removed.
    pub async fn delete_session(&self, session: &SessionId) -> Result<u64, StoreError> {
        let inner = Arc::clone(&self.inner);
        let session = session.clone();
        blocking(move || {
            let index = inner.log_index(&session);
            let removed = retention::delete_session(&inner.root, &index, &session);
            lock_recovering(&inner.indexes, |_| {}).remove(&session);
            removed
        })
        .await
    }

    /// Every ref named by a record of this root outside the CAS: collection's roots.
    pub async fn blob_roots(&self) -> Result<std::collections::HashSet<BlobRef>, StoreError> {
        let root = self.inner.root.clone();
        blocking(move || retention::blob_roots(&root)).await
    }

    /// Up to `limit` blobs after `after` in digest order, as
    /// `(blob, size in bytes, last touched at ms)`.
    pub async fn blob_page(
        &self,
        after: Option<&BlobRef>,
        limit: usize,
    ) -> Result<Vec<(BlobRef, u64, u64)>, StoreError> {
        let root = self.inner.root.clone();
        let after = after.cloned();
        blocking(move || retention::blob_page(&root, after.as_ref(), limit)).await
    }

    /// Deletes those of `blobs` last touched before `touched_before_ms`, moving the
    /// stored bytes; returns `(blobs, bytes)` deleted.
    pub async fn delete_blobs(
        &self,
        blobs: &[BlobRef],
        touched_before_ms: u64,
    ) -> Result<(u64, u64), StoreError> {
        let root = self.inner.root.clone();
        let blobs = blobs.to_vec();
        blocking(move || retention::delete_blobs(&root, &blobs, touched_before_ms)).await
    }

    /// Pins `blob` unless `pins_max` pins exist: `Some(true)` pinned now,
    /// `Some(false)` pinned already, `None` at the bound.
    pub async fn pin_blob(
        &self,
        blob: &BlobRef,
        at_ms: u64,
        pins_max: u64,
    ) -> Result<Option<bool>, StoreError> {
        let root = self.inner.root.clone();
        let blob = blob.clone();
        blocking(move || retention::pin_blob(&root, &blob, at_ms, pins_max)).await
    }

    /// Removes `blob`'s pin; whether there was one.
    pub async fn unpin_blob(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        let root = self.inner.root.clone();
        let blob = blob.clone();
        blocking(move || retention::unpin_blob(&root, &blob)).await
    }

    /// Every pin, `(blob, pinned at ms)` in ref order.
    pub async fn pinned_blobs(&self) -> Result<Vec<(BlobRef, u64)>, StoreError> {
        let root = self.inner.root.clone();
        blocking(move || retention::pinned_blobs(&root)).await
    }

    /// Runs requested and not yet finished in this store's sessions: read from the
    /// logs of the sessions marked as having some, not from every session.
    pub async fn runs_in_flight(&self) -> Result<u64, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let mut total: u64 = 0;
            for name in usage::marked_sessions(&inner.root, usage::RUNS_DIR)? {
                let Some(session) = session_id_of_dir_name(&name) else {
                    continue;
                };
                let index = inner.log_index(&session);
                let runs = log::runs_in_flight(&inner.session_dir(&session), &index)?;
                total = total.saturating_add(runs);
            }
            Ok(total)
        })
        .await
    }

    /// Records that `session` is a sub-agent of `parent` (before its first run).
    pub async fn mark_child(
        &self,
        session: &SessionId,
        parent: &SessionId,
    ) -> Result<(), StoreError> {
        let path = self
            .inner
            .root
            .join(usage::CHILDREN_DIR)
            .join(session_dir_name(session));
        let parent = parent.as_str().as_bytes().to_vec();
        blocking(move || fsio::write_atomic(&path, &parent, fsio::Existing::Replace).map(drop))
            .await
    }

    /// Sub-agents with runs in flight: the sessions marked as having runs in flight
    /// (few) that are also marked as sub-agents, each checked in its log.
    pub async fn children_in_flight(&self) -> Result<u64, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let mut total: u64 = 0;
            let children = inner.root.join(usage::CHILDREN_DIR);
            for name in usage::marked_sessions(&inner.root, usage::RUNS_DIR)? {
                let Some(session) = session_id_of_dir_name(&name) else {
                    continue;
                };
                if !children.join(&name).is_file() {
                    continue;
                }
                let index = inner.log_index(&session);
                if log::runs_in_flight(&inner.session_dir(&session), &index)? > 0 {
                    total += 1;
                }
            }
            Ok(total)
        })
        .await
    }

    /// Sessions with runs in flight (up to `limit`, in id order): the marked
    /// sessions whose logs count any.
    pub async fn sessions_in_flight(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        self.marked_sessions(&[usage::RUNS_DIR], limit).await
    }

    /// Sessions with runs in flight or open sessions holding wake-ups that can
    /// still fire (up to `limit`, in id order): the sessions marked for either
    /// whose logs count either, both counts read from one index refresh.
    pub async fn sessions_to_hold(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        self.marked_sessions(&[usage::RUNS_DIR, usage::WAKE_UPS_DIR], limit)
            .await
    }

    /// The sessions marked in any of `marker_dirs` whose logs count runs in flight
    /// or (when [`usage::WAKE_UPS_DIR`] is among them) wake-ups pending.
    async fn marked_sessions(
        &self,
        marker_dirs: &'static [&'static str],
        limit: usize,
    ) -> Result<Vec<SessionId>, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let mut names = std::collections::BTreeSet::new();
            for dir in marker_dirs {
                names.extend(usage::marked_sessions(&inner.root, dir)?);
            }
            let wake_ups = marker_dirs.contains(&usage::WAKE_UPS_DIR);
            let mut sessions = Vec::new();
            for name in names {
                let Some(session) = session_id_of_dir_name(&name) else {
                    continue;
                };
                let index = inner.log_index(&session);
                let (runs, pending) = log::counts(&inner.session_dir(&session), &index)?;
                if runs > 0 || (wake_ups && pending > 0) {
                    sessions.push(session);
                }
            }
            sessions.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            sessions.truncate(limit);
            Ok(sessions)
        })
        .await
    }

    /// When the operator paused this universe's dispatch, if it is paused.
    pub async fn dispatch_paused_since(&self) -> Result<Option<u64>, StoreError> {
        let root = self.inner.root.clone();
        blocking(move || dispatch::paused_since(&root)).await
    }

    /// Pauses dispatch (at `Some(ms)`; pausing again keeps the first time) or
    /// resumes it (`None`).
    pub async fn set_dispatch_paused(&self, paused_at_ms: Option<u64>) -> Result<(), StoreError> {
        let root = self.inner.root.clone();
        blocking(move || dispatch::set_paused(&root, paused_at_ms)).await
    }

    /// Claims event delivery `(source, dedupe_key)`: `None` when this call did,
    /// else the earlier delivery within `window_ms`.
    pub async fn claim_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        at_ms: u64,
        window_ms: u64,
    ) -> Result<Option<PriorDelivery>, StoreError> {
        let root = self.inner.root.clone();
        let (source, dedupe_key) = (source.to_owned(), dedupe_key.to_owned());
        blocking(move || dispatch::claim(&root, &source, &dedupe_key, at_ms, window_ms)).await
    }

    /// Records the session and run a claimed delivery became.
    pub async fn settle_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        session_id: &str,
        run_id: Option<&str>,
    ) -> Result<(), StoreError> {
        let root = self.inner.root.clone();
        let (source, dedupe_key) = (source.to_owned(), dedupe_key.to_owned());
        let (session_id, run_id) = (session_id.to_owned(), run_id.map(str::to_owned));
        blocking(move || {
            dispatch::settle(&root, &source, &dedupe_key, &session_id, run_id.as_deref())
        })
        .await
    }

    /// Gives an unsettled claim up, so a redelivery is taken as new.
    pub async fn release_delivery(&self, source: &str, dedupe_key: &str) -> Result<(), StoreError> {
        let root = self.inner.root.clone();
        let (source, dedupe_key) = (source.to_owned(), dedupe_key.to_owned());
        blocking(move || dispatch::release(&root, &source, &dedupe_key)).await
    }

    /// Forgets deliveries received before `before_ms`; how many.
    pub async fn prune_deliveries(&self, before_ms: u64) -> Result<u64, StoreError> {
        let root = self.inner.root.clone();
        blocking(move || dispatch::prune(&root, before_ms)).await
    }

    /// Bytes of every blob in this store, from the counter puts keep.
    pub async fn stored_bytes(&self) -> Result<u64, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || usage::stored_bytes(&inner.root)).await
    }

    /// What every turn of this store's sessions recorded as its cost, in nano-USD,
    /// from the counter appends keep (rebuilt from the logs once when missing).
    pub async fn cost_nanos(&self) -> Result<u64, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            if let Some(total) = usage::cost_nanos(&inner.root)? {
                return Ok(total);
            }
            let rebuilt = inner.recount_cost_nanos()?;
            usage::settle_cost_nanos(&inner.root, rebuilt)
        })
        .await
    }

    /// Where the bytes of `blob` are (or would be) stored.
    pub fn blob_path(&self, blob: &BlobRef) -> PathBuf {
        cas::blob_path(&self.inner.root, blob)
    }
}

const SESSIONS_DIR: &str = "sessions";

impl Inner {
    fn session_dir(&self, session: &SessionId) -> PathBuf {
        self.root.join(SESSIONS_DIR).join(session_dir_name(session))
    }

    fn markers(&self, session: &SessionId) -> usage::Markers {
        usage::Markers::new(&self.root, &session_dir_name(session))
    }

    /// Marks the sessions of a store written before markers existed that have runs
    /// in flight or wake-ups pending: once per store and kind of marker, reading
    /// every log (later appends keep markers). A sentinel's name holds `%`, which no
    /// session's directory name does.
    fn mark_existing(&self) -> Result<(), StoreError> {
        let sentinel = |dir: &str| self.root.join(dir).join("%marked");
        let (runs_sentinel, wake_ups_sentinel) =
            (sentinel(usage::RUNS_DIR), sentinel(usage::WAKE_UPS_DIR));
        let (runs_marked, wake_ups_marked) = (runs_sentinel.is_file(), wake_ups_sentinel.is_file());
        if runs_marked && wake_ups_marked {
            return Ok(());
        }
        let sessions_dir = self.root.join(SESSIONS_DIR);
        let entries =
            std::fs::read_dir(&sessions_dir).map_err(fsio::io_err("list", &sessions_dir))?;
        for entry in entries {
            let entry = entry.map_err(fsio::io_err("list", &sessions_dir))?;
            let name = entry.file_name();
            let Some(session) = name.to_str().and_then(session_id_of_dir_name) else {
                continue;
            };
            let (dir, index) = (self.session_dir(&session), Mutex::new(LogIndex::default()));
            let markers = self.markers(&session);
            if !runs_marked && log::runs_in_flight(&dir, &index)? > 0 {
                markers.runs.set()?;
            }
            if !wake_ups_marked && log::wake_ups_pending(&dir, &index)? > 0 {
                markers.wake_ups.set()?;
            }
        }
        usage::create_empty(&runs_sentinel)?;
        usage::create_empty(&wake_ups_sentinel)
    }

    /// Every session's cost from its log index: the one read of every log, for a
    /// store without a usable cost count.
    fn recount_cost_nanos(&self) -> Result<u64, StoreError> {
        let sessions_dir = self.root.join(SESSIONS_DIR);
        let entries = match std::fs::read_dir(&sessions_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(err) => return Err(fsio::io_err("list", &sessions_dir)(err)),
        };
        let mut total: u64 = 0;
        for entry in entries {
            let entry = entry.map_err(fsio::io_err("list", &sessions_dir))?;
            let name = entry.file_name();
            let Some(session) = name.to_str().and_then(session_id_of_dir_name) else {
                continue;
            };
            let index = self.log_index(&session);
            let cost = log::cost_nanos(&self.session_dir(&session), &index)?;
            total = total.saturating_add(cost);
        }
        Ok(total)
    }

    /// The cached log index of `session`, created empty on first use.
    fn log_index(&self, session: &SessionId) -> Arc<Mutex<LogIndex>> {
        let mut indexes = lock_recovering(&self.indexes, |_| {});
        if let Some(index) = indexes.get(session) {
            return Arc::clone(index);
        }
        if indexes.len() >= self.limits.session_indexes_max {
            // Drop every index no operation is using; they rebuild from disk on demand.
            indexes.retain(|_, index| Arc::strong_count(index) > 1);
        }
        let index = Arc::new(Mutex::new(LogIndex::default()));
        indexes.insert(session.clone(), Arc::clone(&index));
        index
    }
}

/// The directory name of `session` below `sessions/`.
fn session_dir_name(session: &SessionId) -> String {
    match session.as_str() {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        other => other.to_owned(),
    }
}

/// The session whose directory is `name` (the inverse of [`session_dir_name`]).
fn session_id_of_dir_name(name: &str) -> Option<SessionId> {
    let raw = match name {
        "%2E" => ".",
        "%2E%2E" => "..",
        other => other,
    };
    SessionId::new(raw).ok()
}

/// Locks `mutex`; if a panic poisoned it, `reset` repairs the value first. Every value
/// guarded here is a cache that can be rebuilt from disk.
fn lock_recovering<T>(mutex: &Mutex<T>, reset: impl FnOnce(&mut T)) -> MutexGuard<'_, T> {
    match mutex.lock() {
        Ok(guard) => guard,
        Err(poisoned) => {
            let mut guard = poisoned.into_inner();
            reset(&mut guard);
            mutex.clear_poison();
            guard
        }
    }
}

/// Runs blocking file I/O on Tokio's blocking pool, or inline when the caller is not
/// inside a Tokio runtime (the traits do not mandate one).
async fn blocking<T, F>(work: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        // A join error means the task panicked (an asserted invariant broke) or the
        // runtime is shutting down; either way the operation did not complete.
        Ok(handle) => handle.spawn_blocking(work).await.map_err(|err| {
            // Cancelled: the runtime is shutting down, another process may finish
            // the work. Panicked: an asserted invariant broke, which repeats.
            if err.is_cancelled() {
                StoreError::transient(err)
            } else {
                StoreError::permanent(err)
            }
        })?,
        Err(_) => work(),
    }
}

impl SessionLog for FsStore {
    async fn append(
        &self,
        session: &SessionId,
        expected_head: Seq,
        entries: &[LogEntry],
    ) -> Result<AppendOutcome, StoreError> {
        engine::store::check_batch(expected_head, entries)?;
        let (inner, owned, entries) = (Arc::clone(&self.inner), session.clone(), entries.to_vec());
        let outcome = blocking(move || {
            let index = inner.log_index(&owned);
            let outcome = log::append(
                &inner.session_dir(&owned),
                &index,
                &inner.markers(&owned),
                expected_head,
                &entries,
            )?;
            // Only a new commit adds cost (a retry's was counted by its first append).
            let cost = log::batch_cost_nanos(&entries);
            if matches!(outcome, AppendOutcome::Appended { .. }) && cost > 0 {
                usage::add_cost_nanos(&inner.root, cost)?;
            }
            Ok(outcome)
        })
        .await?;
        // Only a new commit is news: a retry of committed entries was announced by
        // the append that made them.
        if let (AppendOutcome::Appended { head }, Some(hook)) = (&outcome, &self.on_commit) {
            hook(session, *head);
        }
        Ok(outcome)
    }

    async fn read(
        &self,
        session: &SessionId,
        from_seq: Seq,
        limit_entries: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let (inner, session) = (Arc::clone(&self.inner), session.clone());
        blocking(move || {
            let index = inner.log_index(&session);
            log::read(
                &inner.session_dir(&session),
                &index,
                from_seq,
                limit_entries,
            )
        })
        .await
    }

    async fn head(&self, session: &SessionId) -> Result<Seq, StoreError> {
        let (inner, session) = (Arc::clone(&self.inner), session.clone());
        blocking(move || {
            let index = inner.log_index(&session);
            log::head(&inner.session_dir(&session), &index)
        })
        .await
    }
}

impl BlobStore for FsStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || cas::put(&inner.root, inner.limits.blob_bytes_max, &bytes)).await
    }

    async fn get(&self, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
        let (inner, blob) = (Arc::clone(&self.inner), blob.clone());
        blocking(move || cas::get(&inner.root, &blob)).await
    }

    async fn has(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        let (inner, blob) = (Arc::clone(&self.inner), blob.clone());
        blocking(move || cas::has(&inner.root, &blob)).await
    }

    async fn blob_len(&self, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
        let (inner, blob) = (Arc::clone(&self.inner), blob.clone());
        blocking(move || cas::len(&inner.root, &blob)).await
    }
}

impl CheckpointStore for FsStore {
    async fn put_checkpoint(
        &self,
        session: &SessionId,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        let (inner, session, checkpoint) =
            (Arc::clone(&self.inner), session.clone(), checkpoint.clone());
        blocking(move || checkpoint::put(&inner.session_dir(&session), &checkpoint)).await
    }

    async fn prune_checkpoints(&self, session: &SessionId, below: Seq) -> Result<(), StoreError> {
        let (inner, session) = (Arc::clone(&self.inner), session.clone());
        blocking(move || checkpoint::prune(&inner.session_dir(&session), below)).await
    }

    async fn checkpoint_at_or_before(
        &self,
        session: &SessionId,
        through: Seq,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let (inner, session) = (Arc::clone(&self.inner), session.clone());
        blocking(move || checkpoint::at_or_before(&inner.session_dir(&session), through)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_session_ids_stay_inside_sessions_dir() {
        let names: Vec<String> = [".", "..", "...", "a.b", "%"]
            .into_iter()
            .filter_map(|id| SessionId::new(id).ok())
            .map(|id| session_dir_name(&id))
            .collect();
        assert_eq!(names, ["%2E", "%2E%2E", "...", "a.b"]);
    }
}
