//! Storage contracts every substrate implements (in memory here, on disk in
//! `store-fs`, in Postgres/S3 in `store-pg`).
//!
//! The traits are `async` so database-backed stores can implement them natively, but
//! the engine never awaits anything itself and pulls in no runtime: hosts drive them.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::ids::SessionId;
use crate::log::{LogEntry, Seq};

/// Errors shared by all stores. Backend-specific causes are kept as sources.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The log head moved: someone else appended first. Reload and re-drive.
    #[error("append expected head {expected} but the log head is {actual}")]
    HeadConflict { expected: Seq, actual: Seq },
    /// Entries handed to `append` do not continue `expected_head` contiguously.
    #[error("append batch is not contiguous after head {expected_head}: {reason}")]
    InvalidBatch { expected_head: Seq, reason: String },
    #[error("blob {0} not found")]
    BlobNotFound(BlobRef),
    /// Stored bytes do not hash to their address.
    #[error("blob {expected} is corrupt: its content hashes to {actual}")]
    DigestMismatch { expected: BlobRef, actual: BlobRef },
    #[error("blob of {size_bytes} bytes exceeds the store limit of {limit_bytes} bytes")]
    BlobTooLarge { size_bytes: u64, limit_bytes: u64 },
    /// Persisted data cannot be decoded; nothing was changed.
    #[error("corrupt data in {location}: {reason}")]
    Corrupt { location: String, reason: String },
    /// The substrate failed. Only the backend knows whether that was an outage (a
    /// dropped connection, a timeout) or a permanent refusal (a constraint, a value
    /// it cannot store), so it says so in `retryable`: erasing the cause into a box
    /// must not erase that.
    #[error("storage backend failed: {source}")]
    Backend {
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
        retryable: bool,
    },
}

impl StoreError {
    /// A backend failure that the same call may not meet again (connection lost,
    /// timeout, lock contention).
    pub fn transient(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend {
            source: Box::new(err),
            retryable: true,
        }
    }

    /// A backend failure that the same call will meet again (a value the backend
    /// cannot store, a constraint, an encoding error).
    pub fn permanent(err: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Backend {
            source: Box::new(err),
            retryable: false,
        }
    }

    /// Whether calling again (later, unchanged) may succeed. Exhaustive on purpose:
    /// a new variant must be classified before this compiles.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Backend { retryable, .. } => *retryable,
            // Needs a reload and a new decision, not the same call again.
            Self::HeadConflict { .. }
            // The caller's input or the stored data is wrong; repeating changes nothing.
            | Self::InvalidBatch { .. }
            | Self::BlobNotFound(_)
            | Self::DigestMismatch { .. }
            | Self::BlobTooLarge { .. }
            | Self::Corrupt { .. } => false,
        }
    }
}

/// What an append did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendOutcome {
    /// The entries were written; the head is now `head`.
    Appended { head: Seq },
    /// The very same entries were already committed (a retried append): nothing
    /// was written. This makes append activities idempotent.
    AlreadyCommitted { head: Seq },
}

/// Checks the shape of an append batch: non-empty and numbered `expected_head + 1..`.
pub fn check_batch(expected_head: Seq, entries: &[LogEntry]) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Err(StoreError::InvalidBatch {
            expected_head,
            reason: "batch is empty".into(),
        });
    }
    for (offset, entry) in entries.iter().enumerate() {
        let want = expected_head + 1 + offset as Seq;
        if entry.seq != want {
            return Err(StoreError::InvalidBatch {
                expected_head,
                reason: format!(
                    "entry {offset} has seq {} but {want} was expected",
                    entry.seq
                ),
            });
        }
    }
    Ok(())
}

/// Returns `bytes` if they hash to `blob`, else [`StoreError::DigestMismatch`]. Every
/// blob store calls this on read, so corruption is reported, never served.
pub fn verify_digest(blob: &BlobRef, bytes: Vec<u8>) -> Result<Vec<u8>, StoreError> {
    let actual = BlobRef::of_bytes(&bytes);
    if actual != *blob {
        return Err(StoreError::DigestMismatch {
            expected: blob.clone(),
            actual,
        });
    }
    Ok(bytes)
}

/// The append-only, per-session event log.
pub trait SessionLog: Send + Sync {
    /// Appends `entries` if and only if the head is `expected_head`. When the head is
    /// already past and the stored entries equal `entries`, reports
    /// [`AppendOutcome::AlreadyCommitted`]; otherwise [`StoreError::HeadConflict`].
    fn append(
        &self,
        session: &SessionId,
        expected_head: Seq,
        entries: &[LogEntry],
    ) -> impl Future<Output = Result<AppendOutcome, StoreError>> + Send;

    /// Entries with `seq >= from_seq`, in order, at most `limit_entries` of them.
    fn read(
        &self,
        session: &SessionId,
        from_seq: Seq,
        limit_entries: usize,
    ) -> impl Future<Output = Result<Vec<LogEntry>, StoreError>> + Send;

    /// The sequence of the last committed entry (0 for an empty or unknown session).
    fn head(&self, session: &SessionId) -> impl Future<Output = Result<Seq, StoreError>> + Send;
}

/// The content-addressed blob store. Writes are idempotent; reads verify digests.
pub trait BlobStore: Send + Sync {
    fn put(&self, bytes: Vec<u8>) -> impl Future<Output = Result<BlobRef, StoreError>> + Send;
    fn get(&self, blob: &BlobRef) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
    fn has(&self, blob: &BlobRef) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// The blob's length in bytes, `None` if the store does not hold it. Read from
    /// the store's own record (not the content, which is not read or hashed), so a
    /// caller can learn sizes, and refuse over-large blobs, before fetching them.
    fn blob_len(
        &self,
        blob: &BlobRef,
    ) -> impl Future<Output = Result<Option<u64>, StoreError>> + Send;
    /// Which of `blobs` the store holds, in order. Stores with a catalog answer in
    /// one query (Postgres); the default asks one by one.
    fn has_many(
        &self,
        blobs: &[BlobRef],
    ) -> impl Future<Output = Result<Vec<bool>, StoreError>> + Send {
        async move {
            let mut held = Vec::with_capacity(blobs.len());
            for blob in blobs {
                held.push(self.has(blob).await?);
            }
            Ok(held)
        }
    }
}

/// A canonical state snapshot taken after entry `seq` was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: Seq,
    /// Canonical JSON of the state: the full [`crate::core::SessionState`] (format 1),
    /// or its control state and the refs of CAS chunks of its item list (format 2,
    /// [`crate::rehydrate::write_checkpoint`]).
    pub state: Vec<u8>,
}

/// Periodic state snapshots that bound rehydration cost.
pub trait CheckpointStore: Send + Sync {
    /// Stores `checkpoint`; storing one for an existing `seq` again is a no-op.
    fn put_checkpoint(
        &self,
        session: &SessionId,
        checkpoint: &Checkpoint,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The checkpoint with the highest `seq` not above `through`, if any. Older
    /// checkpoints stay usable: an activity that needs the state at an earlier entry
    /// (a generation planned before the newest checkpoint) starts from the closest one
    /// instead of the first entry.
    fn checkpoint_at_or_before(
        &self,
        session: &SessionId,
        through: Seq,
    ) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send;

    /// Deletes the checkpoints with `seq` below `below` (they bound the cost of
    /// nothing once newer ones exist, and each may be large). The default keeps them.
    fn prune_checkpoints(
        &self,
        session: &SessionId,
        below: Seq,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let _ = (session, below);
        async { Ok(()) }
    }

    /// The checkpoint with the highest `seq`, if any.
    fn latest_checkpoint(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Option<Checkpoint>, StoreError>> + Send {
        self.checkpoint_at_or_before(session, Seq::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_transient_backend_failures_are_retryable() {
        let io = || std::io::Error::other("connection reset");
        assert!(StoreError::transient(io()).is_retryable());
        assert!(!StoreError::permanent(io()).is_retryable());
        let blob = BlobRef::of_bytes(b"x");
        let corrupt = StoreError::Corrupt {
            location: "log".into(),
            reason: "bad json".into(),
        };
        let mismatch = StoreError::DigestMismatch {
            expected: blob.clone(),
            actual: BlobRef::of_bytes(b"y"),
        };
        let conflict = StoreError::HeadConflict {
            expected: 1,
            actual: 2,
        };
        for err in [corrupt, mismatch, conflict, StoreError::BlobNotFound(blob)] {
            assert!(!err.is_retryable(), "{err}");
        }
    }
}
