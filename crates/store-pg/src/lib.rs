//! Postgres storage: the session log, state checkpoints and the content-addressed
//! blob catalog behind the engine's [`SessionLog`], [`CheckpointStore`] and
//! [`BlobStore`] traits, the VFS catalog behind [`vfs::VfsCatalog`] (workspace heads
//! and per-session mount tables, module `vfs_catalog`), plus the gateway's API-key
//! table. Small blobs live inline in Postgres; larger ones in an S3-compatible object
//! store ([`ObjectStore`]).
//!
//! ```text
//! PgDatabase::connect(&PgConfig)   pool + embedded migrations (under an advisory lock)
//!   ├─ .store(universe, s3)  ──►   PgStore: SessionLog + CheckpointStore + BlobStore
//!   │                                       + VfsCatalog + McpCatalog + EnvCatalog
//!   │                                       + AuthCatalog + MemoryCatalog
//!   ├─ .key_store()          ──►   PgKeyStore: API-key rows by hash
//!   ├─ .listen_commits()     ──►   CommitListener: every append's (universe, session,
//!   │                               head), NOTIFYed by its transaction
//!   ├─ .listen_env_jobs()    ──►   EnvJobListener: every new environment job's
//!   │                               (universe, environment), NOTIFYed by its submit
//!   └─ .notify() / .listen() ──►   LISTEN/NOTIFY, a best-effort bus between processes
//! ```
//!
//! Guarantees:
//! - an append commits only if the session head equals the expected head; the
//!   session's row is locked for the append and `(universe, session, seq)` is the
//!   primary key, so two appenders at one head never both win, and a retried append
//!   of identical entries reports [`AppendOutcome::AlreadyCommitted`];
//! - every committed append is announced on [`COMMIT_CHANNEL`] by its own
//!   transaction (delivered on commit, never for a rolled-back one);
//! - entries read back byte-identical: the canonical bytes are stored and decoded,
//!   the jsonb columns only serve queries (see `migrations/0001_init.sql`);
//! - blob reads verify the digest, inline or from the object store;
//! - a workspace head moves only from the revision its writer read: the row is
//!   locked, compared and moved in one transaction, so of two writers at one revision
//!   one wins and the other gets [`vfs::VfsError::Conflict`] naming the new revision;
//!   a session's mount table is one row, changed under its lock, so the bound on
//!   mounts holds against concurrent puts;
//! - an environment job is claimed by one connection at a time (claims lock their
//!   rows, skipping those others hold) and finished once (a conditional update:
//!   the first finisher wins); see module `env_catalog`.
//!
//! What this crate must not do:
//! - read or write across universes: a [`PgStore`] is scoped to one universe and
//!   every query names it;
//! - understand event payloads beyond copying them into query columns (an entry's
//!   kind alone moves its session's runs in flight, the quota's count);
//! - depend on the gateway or a host: API keys are plain rows ([`ApiKeyRow`]); the
//!   host adapts them to the gateway's `KeyStore`;
//! - read configuration from the environment: hosts build [`PgConfig`] and
//!   [`ObjectStoreConfig`];
//! - need a database at build time: queries are checked at run time, migrations are
//!   embedded in the binary (`migrations/`, listed in `db.rs`).

use std::collections::HashSet;

use engine::log::{LogEntry, Seq};
use engine::store::{
    AppendOutcome, BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError,
};
use engine::{BlobRef, SessionId};
use uuid::Uuid;

mod auth_catalog;
mod blobs;
mod checkpoints;
mod commits;
mod db;
mod dispatch;
mod env_catalog;
mod env_jobs;
mod error;
mod keys;
mod log;
mod mcp_catalog;
mod memory_catalog;
mod notify;
mod object_store;
mod retention;
mod schedule_catalog;
mod tx;
mod vfs_catalog;

pub use commits::{COMMIT_CHANNEL, CommitEvent, CommitListener, CommitNotice};
pub use db::{PgConfig, PgDatabase};
pub use dispatch::PriorDelivery;
pub use env_jobs::{ENV_JOBS_CHANNEL, EnvJobEvent, EnvJobListener, EnvJobNotice};
pub use error::PgStoreError;
pub use keys::{ApiKeyRow, AuditRow, PgKeyStore, UniverseRow};
pub use notify::{NOTIFY_PAYLOAD_BYTES_MAX, Notifications};
pub use object_store::{ObjectStore, ObjectStoreConfig, ObjectStoreRetry};
pub use retention::{CollectionLease, TABLES_WITH_REFS, TABLES_WITHOUT_REFS};

/// Bounds of a [`PgStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgStoreLimits {
    /// Blobs up to this size are stored inline in Postgres; larger ones go to the
    /// object store. Default 64 KiB.
    pub blob_inline_bytes_max: u64,
    /// Largest blob [`BlobStore::put`] accepts, in bytes. Default 512 MiB: blobs are
    /// handled whole in memory, so this bounds what one put or get can take.
    pub blob_bytes_max: u64,
}

impl Default for PgStoreLimits {
    fn default() -> Self {
        Self {
            blob_inline_bytes_max: 64 * 1024,
            blob_bytes_max: 512 * 1024 * 1024,
        }
    }
}

/// Session log, checkpoints and blobs of one universe. Cheap to clone (the pool and
/// the S3 client are shared).
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: sqlx::PgPool,
    universe_id: Uuid,
    object_store: Option<ObjectStore>,
    limits: PgStoreLimits,
}

impl PgStore {
    /// The universe every operation of this store acts in.
    pub fn universe_id(&self) -> Uuid {
        self.universe_id
    }

    pub fn limits(&self) -> PgStoreLimits {
        self.limits
    }

    /// The same store with other limits.
    pub fn with_limits(mut self, limits: PgStoreLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Every session of this universe with at least one entry, in id order.
    pub async fn session_ids(&self) -> Result<Vec<SessionId>, StoreError> {
        log::session_ids(self).await
    }

    /// Up to `limit` sessions with a log, newest activity first (the newest
    /// `observed_at_ms` of each log, `sessions.last_activity_at_ms`), ties by id in
    /// byte order; only those after `after` = (activity, id) in that order. One
    /// indexed query.
    pub async fn sessions_by_activity(
        &self,
        after: Option<(u64, &SessionId)>,
        limit: usize,
    ) -> Result<Vec<(SessionId, u64)>, StoreError> {
        log::sessions_by_activity(self, after, limit).await
    }

    /// How many sessions of this universe have a log, counted in the database.
    pub async fn session_count(&self) -> Result<u64, StoreError> {
        log::session_count(self).await
    }

    /// Runs requested and not yet finished in this universe's sessions: one indexed
    /// query over the per-session counts each append keeps (`sessions.runs_in_flight`).
    pub async fn runs_in_flight(&self) -> Result<u64, StoreError> {
        log::runs_in_flight(self).await
    }

    /// Records that `session` is a sub-agent of `parent` (before its first run).
    pub async fn mark_child(
        &self,
        session: &SessionId,
        parent: &SessionId,
    ) -> Result<(), StoreError> {
        log::mark_child(self, session, parent).await
    }

    /// This universe's sub-agents with runs in flight: one query over the partial
    /// index `sessions_children_in_flight`.
    pub async fn children_in_flight(&self) -> Result<u64, StoreError> {
        log::children_in_flight(self).await
    }

    /// Bytes of every blob this universe holds: one row (`universes.stored_bytes`),
    /// kept by the statement that catalogs each blob.
    pub async fn stored_bytes(&self) -> Result<u64, StoreError> {
        blobs::stored_bytes(self).await
    }

    /// What this universe's turns recorded as their cost, in nano-USD: one row
    /// (`universes.cost_nanos`), moved by the appends that commit them.
    pub async fn cost_nanos(&self) -> Result<u64, StoreError> {
        log::cost_nanos(self).await
    }

    /// Up to `limit` sessions with runs in flight, in id order: one scan of the
    /// partial index `sessions_runs_in_flight`.
    pub async fn sessions_in_flight(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        dispatch::sessions_in_flight(self, limit).await
    }

    /// Up to `limit` sessions with runs in flight or open sessions holding
    /// wake-ups that can still fire, in id order: one query over the partial
    /// indexes `sessions_runs_in_flight` and `sessions_wake_ups_pending`.
    pub async fn sessions_to_hold(&self, limit: usize) -> Result<Vec<SessionId>, StoreError> {
        dispatch::sessions_to_hold(self, limit).await
    }

    /// When the operator paused this universe's dispatch, if it is paused.
    pub async fn dispatch_paused_since(&self) -> Result<Option<u64>, StoreError> {
        dispatch::dispatch_paused_since(self).await
    }

    /// Pauses dispatch (at `Some(ms)`; pausing again keeps the first time) or
    /// resumes it (`None`).
    pub async fn set_dispatch_paused(&self, paused_at_ms: Option<u64>) -> Result<(), StoreError> {
        dispatch::set_dispatch_paused(self, paused_at_ms).await
    }

    /// Claims event delivery `(source, dedupe_key)`: `None` when this call did,
    /// else the earlier delivery within `window_ms` (`event_deliveries`).
    pub async fn claim_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        at_ms: u64,
        window_ms: u64,
    ) -> Result<Option<PriorDelivery>, StoreError> {
        dispatch::claim_delivery(self, source, dedupe_key, at_ms, window_ms).await
    }

    /// Records the session and run a claimed delivery became.
    pub async fn settle_delivery(
        &self,
        source: &str,
        dedupe_key: &str,
        session_id: &str,
        run_id: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch::settle_delivery(self, source, dedupe_key, session_id, run_id).await
    }

    /// Gives an unsettled claim up, so a redelivery is taken as new.
    pub async fn release_delivery(&self, source: &str, dedupe_key: &str) -> Result<(), StoreError> {
        dispatch::release_delivery(self, source, dedupe_key).await
    }

    /// Forgets deliveries received before `before_ms`; how many.
    pub async fn prune_deliveries(&self, before_ms: u64) -> Result<u64, StoreError> {
        dispatch::prune_deliveries(self, before_ms).await
    }

    /// Removes every record of `session` (log, checkpoints, row, mounts, links,
    /// attachments, jobs) in one transaction; its blobs are left to collection.
    /// Returns how many log entries were removed.
    pub async fn delete_session(&self, session: &SessionId) -> Result<u64, StoreError> {
        retention::delete_session(self, session).await
    }

    /// Every ref this universe's records name outside the CAS: collection's roots.
    pub async fn blob_roots(&self) -> Result<HashSet<BlobRef>, StoreError> {
        retention::blob_roots(self).await
    }

    /// Up to `limit` blobs after `after` in digest order, as
    /// `(blob, size in bytes, last touched at ms)`.
    pub async fn blob_page(
        &self,
        after: Option<&BlobRef>,
        limit: usize,
    ) -> Result<Vec<(BlobRef, u64, u64)>, StoreError> {
        retention::blob_page(self, after, limit).await
    }

    /// Deletes those of `blobs` last touched before `touched_before_ms` (row and
    /// object), moving the stored bytes; returns `(blobs, bytes)` deleted.
    pub async fn delete_blobs(
        &self,
        blobs: &[BlobRef],
        touched_before_ms: u64,
    ) -> Result<(u64, u64), StoreError> {
        retention::delete_blobs(self, blobs, touched_before_ms).await
    }

    /// Pins `blob` unless `pins_max` pins exist: `Some(true)` pinned now,
    /// `Some(false)` pinned already, `None` at the bound.
    pub async fn pin_blob(
        &self,
        blob: &BlobRef,
        at_ms: u64,
        pins_max: u64,
    ) -> Result<Option<bool>, StoreError> {
        retention::pin_blob(self, blob, at_ms, pins_max).await
    }

    /// Removes `blob`'s pin; whether there was one.
    pub async fn unpin_blob(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        retention::unpin_blob(self, blob).await
    }

    /// Every pin, `(blob, pinned at ms)` in ref order.
    pub async fn pinned_blobs(&self) -> Result<Vec<(BlobRef, u64)>, StoreError> {
        retention::pinned_blobs(self).await
    }

    /// The object store for large blobs, if one is configured. Without one, blobs
    /// over [`PgStoreLimits::blob_inline_bytes_max`] are refused as too large.
    pub fn object_store(&self) -> Option<&ObjectStore> {
        self.object_store.as_ref()
    }
}

impl SessionLog for PgStore {
    async fn append(
        &self,
        session: &SessionId,
        expected_head: Seq,
        entries: &[LogEntry],
    ) -> Result<AppendOutcome, StoreError> {
        log::append(self, session, expected_head, entries).await
    }

    async fn read(
        &self,
        session: &SessionId,
        from_seq: Seq,
        limit_entries: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        log::read(self, session, from_seq, limit_entries).await
    }

    async fn head(&self, session: &SessionId) -> Result<Seq, StoreError> {
        log::head(self, session).await
    }
}

impl BlobStore for PgStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        blobs::put(self, bytes).await
    }

    async fn get(&self, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
        blobs::get(self, blob).await
    }

    async fn has(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        blobs::has(self, blob).await
    }

    async fn blob_len(&self, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
        blobs::len(self, blob).await
    }

    async fn has_many(&self, blobs: &[BlobRef]) -> Result<Vec<bool>, StoreError> {
        blobs::has_many(self, blobs).await
    }
}

impl CheckpointStore for PgStore {
    async fn put_checkpoint(
        &self,
        session: &SessionId,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        checkpoints::put(self, session, checkpoint).await
    }

    async fn prune_checkpoints(&self, session: &SessionId, below: Seq) -> Result<(), StoreError> {
        checkpoints::prune(self, session, below).await
    }

    async fn checkpoint_at_or_before(
        &self,
        session: &SessionId,
        through: Seq,
    ) -> Result<Option<Checkpoint>, StoreError> {
        checkpoints::at_or_before(self, session, through).await
    }
}
