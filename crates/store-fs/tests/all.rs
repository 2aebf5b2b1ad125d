#![allow(clippy::unwrap_used, clippy::expect_used)]
//! store-fs integration tests: the shared conformance suite, plus what only a disk
//! can get wrong (torn writes, corruption, several processes, restarts).

use std::collections::BTreeSet;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Barrier};

use engine::log::{EventEnvelope, Joins, LogEntry, Seq};
use engine::store::{
    AppendOutcome, BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError,
};
use engine::{BlobRef, SessionId};
use serde_json::json;
use store_fs::{FsStore, FsStoreLimits};
use tempfile::TempDir;
use test_support::conformance;

fn store() -> (TempDir, FsStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsStore::open(dir.path()).unwrap();
    (dir, store)
}

fn sid(name: &str) -> SessionId {
    SessionId::new(name).unwrap()
}

fn entry(seq: Seq, note: &str) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: 1_000 + seq,
        joins: Joins::default(),
        event: EventEnvelope {
            kind: "store_fs.test".into(),
            version: 1,
            payload: json!({ "note": note }),
        },
    }
}

fn entries(seqs: std::ops::RangeInclusive<Seq>, note: &str) -> Vec<LogEntry> {
    seqs.map(|seq| entry(seq, note)).collect()
}

/// The bytes one append of `entries` writes: each line names the batch's last seq.
fn jsonl(entries: &[LogEntry]) -> Vec<u8> {
    let batch_end = entries.last().map_or(0, |entry| entry.seq);
    let mut bytes = Vec::new();
    for entry in entries {
        bytes.extend(format!("{{\"batch_end\":{batch_end},\"entry\":").into_bytes());
        bytes.extend(entry.to_canonical_bytes());
        bytes.extend(b"}\n");
    }
    bytes
}

fn append_raw(path: &Path, bytes: &[u8]) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes).unwrap();
}

async fn append_ok(store: &FsStore, session: &SessionId, head: Seq, batch: &[LogEntry]) {
    let outcome = store.append(session, head, batch).await.unwrap();
    assert_eq!(
        outcome,
        AppendOutcome::Appended {
            head: head + batch.len() as Seq
        }
    );
}

mod conformance_fs {
    use super::*;

    #[tokio::test(flavor = "multi_thread")]
    async fn session_log_conforms() {
        let (_dir, store) = store();
        conformance::session_log_suite(&store).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn blob_store_conforms() {
        let (_dir, store) = store();
        conformance::blob_store_suite(&store).await.unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn checkpoint_store_conforms() {
        let (_dir, store) = store();
        conformance::checkpoint_suite(&store).await.unwrap();
    }

    /// `engine::fork` on disk: a fork shares its source's items by ref and
    /// rehydrates from its checkpoint or, pruned, its first entry.
    #[tokio::test(flavor = "multi_thread")]
    async fn forks_conform() {
        let (_dir, store) = store();
        test_support::fork_conformance::fork_suite(Arc::new(store))
            .await
            .unwrap();
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn every_suite_passes_again_on_a_reopened_root() {
        let (dir, store) = store();
        conformance::store_suite(&store).await.unwrap();
        drop(store);
        let reopened = FsStore::open(dir.path()).unwrap();
        conformance::store_suite(&reopened).await.unwrap();
    }

    #[test]
    fn works_without_a_tokio_runtime() {
        let (_dir, store) = store();
        let session = sid("no-runtime");
        let outcome = block_on(store.append(&session, 0, &entries(1..=2, "x"))).unwrap();
        assert_eq!(outcome, AppendOutcome::Appended { head: 2 });
        assert_eq!(block_on(store.head(&session)).unwrap(), 2);
    }

    /// Polls a future that completes without waking (the store runs inline here).
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        use std::task::{Context, Poll, Waker};
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("store future did not complete inline"),
        }
    }
}

#[path = "all/crash_recovery.rs"]
mod crash_recovery;

#[path = "all/concurrency.rs"]
mod concurrency;

#[path = "all/blobs_checkpoints.rs"]
mod blobs_checkpoints;

#[path = "all/vfs_catalog.rs"]
mod vfs_catalog;

#[path = "all/usage.rs"]
mod usage;

#[tokio::test(flavor = "multi_thread")]
async fn session_ids_lists_the_sessions_with_logs_in_id_order() {
    let (dir, store) = store();
    assert!(store.session_ids().await.unwrap().is_empty(), "a new store");
    for name in ["b", ".", "a"] {
        append_ok(&store, &sid(name), 0, &entries(1..=1, name)).await;
    }
    // A directory without a log (a crash before the first append) is no session.
    fs::create_dir_all(dir.path().join("sessions").join("no-log")).unwrap();
    let ids = store.session_ids().await.unwrap();
    assert_eq!(ids, [sid("."), sid("a"), sid("b")]);
}

#[path = "all/auth_catalog.rs"]
mod auth_catalog;
#[path = "all/env_catalog.rs"]
mod env_catalog;
#[path = "all/mcp_catalog.rs"]
mod mcp_catalog;
#[path = "all/memory_catalog.rs"]
mod memory_catalog;
#[path = "all/schedule_catalog.rs"]
mod schedule_catalog;
