//! In-memory stores: the reference implementation of the storage contracts, used by
//! engine tests and as the model the persistent stores are checked against.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use crate::blob_ref::BlobRef;
use crate::ids::SessionId;
use crate::log::{LogEntry, Seq};
use crate::store::{
    AppendOutcome, BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError, check_batch,
    verify_digest,
};

/// Session log, blobs and checkpoints held in process memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    logs: Mutex<BTreeMap<SessionId, Vec<LogEntry>>>,
    blobs: Mutex<BTreeMap<BlobRef, Vec<u8>>>,
    checkpoints: Mutex<BTreeMap<SessionId, BTreeMap<Seq, Checkpoint>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave these maps half-updated (every
    // mutation is a single insert/extend), so a poisoned lock is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Every blob held, in ref order (what tests count writes against).
    pub fn blob_refs(&self) -> Vec<BlobRef> {
        lock(&self.blobs).keys().cloned().collect()
    }

    fn append_sync(
        &self,
        session: &SessionId,
        expected_head: Seq,
        entries: &[LogEntry],
    ) -> Result<AppendOutcome, StoreError> {
        check_batch(expected_head, entries)?;
        let mut logs = lock(&self.logs);
        let log = logs.entry(session.clone()).or_default();
        let head = log.len() as Seq;
        if head == expected_head {
            log.extend_from_slice(entries);
            return Ok(AppendOutcome::Appended {
                head: log.len() as Seq,
            });
        }
        let start = expected_head as usize;
        if head > expected_head && log.get(start..start + entries.len()) == Some(entries) {
            return Ok(AppendOutcome::AlreadyCommitted { head });
        }
        Err(StoreError::HeadConflict {
            expected: expected_head,
            actual: head,
        })
    }
}

impl SessionLog for MemoryStore {
    async fn append(
        &self,
        session: &SessionId,
        expected_head: Seq,
        entries: &[LogEntry],
    ) -> Result<AppendOutcome, StoreError> {
        self.append_sync(session, expected_head, entries)
    }

    async fn read(
        &self,
        session: &SessionId,
        from_seq: Seq,
        limit_entries: usize,
    ) -> Result<Vec<LogEntry>, StoreError> {
        let logs = lock(&self.logs);
        let Some(log) = logs.get(session) else {
            return Ok(Vec::new());
        };
        let start = from_seq.saturating_sub(1) as usize;
        Ok(log
            .iter()
            .skip(start)
            .take(limit_entries)
            .cloned()
            .collect())
    }

    async fn head(&self, session: &SessionId) -> Result<Seq, StoreError> {
        Ok(lock(&self.logs)
            .get(session)
            .map_or(0, |log| log.len() as Seq))
    }
}

impl BlobStore for MemoryStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        let blob = BlobRef::of_bytes(&bytes);
        lock(&self.blobs).entry(blob.clone()).or_insert(bytes);
        Ok(blob)
    }

    async fn get(&self, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
        let bytes = lock(&self.blobs)
            .get(blob)
            .cloned()
            .ok_or_else(|| StoreError::BlobNotFound(blob.clone()))?;
        verify_digest(blob, bytes)
    }

    async fn has(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        Ok(lock(&self.blobs).contains_key(blob))
    }

    async fn blob_len(&self, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
        Ok(lock(&self.blobs).get(blob).map(|bytes| bytes.len() as u64))
    }
}

impl CheckpointStore for MemoryStore {
    async fn put_checkpoint(
        &self,
        session: &SessionId,
        checkpoint: &Checkpoint,
    ) -> Result<(), StoreError> {
        lock(&self.checkpoints)
            .entry(session.clone())
            .or_default()
            .entry(checkpoint.seq)
            .or_insert_with(|| checkpoint.clone());
        Ok(())
    }

    async fn prune_checkpoints(&self, session: &SessionId, below: Seq) -> Result<(), StoreError> {
        if let Some(by_seq) = lock(&self.checkpoints).get_mut(session) {
            by_seq.retain(|seq, _| *seq >= below);
        }
        Ok(())
    }

    async fn checkpoint_at_or_before(
        &self,
        session: &SessionId,
        through: Seq,
    ) -> Result<Option<Checkpoint>, StoreError> {
        Ok(lock(&self.checkpoints)
            .get(session)
            .and_then(|by_seq| by_seq.range(..=through).next_back())
            .map(|(_, checkpoint)| checkpoint.clone()))
    }
}
