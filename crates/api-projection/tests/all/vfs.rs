//! Regressions for the `vfs/*` method bodies: limits refuse before work, commit
//! learns sizes without reading content, typed errors are invalid params.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use api::ApiError;
use api::types::vfs::{VfsFileEntry, VfsSnapshotCommitParams, VfsSnapshotReadParams};
use api_projection::vfs::{snapshot_commit, snapshot_read};
use engine::BlobRef;
use engine::memory::MemoryStore;
use engine::store::{BlobStore, StoreError};

/// A memory store that counts content reads.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    gets: AtomicUsize,
}

impl BlobStore for CountingStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        self.inner.put(bytes).await
    }
    async fn get(&self, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(blob).await
    }
    async fn has(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        self.inner.has(blob).await
    }
    async fn blob_len(&self, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
        self.inner.blob_len(blob).await
    }
}

fn entry(path: String, blob: &BlobRef, size_bytes: u64) -> VfsFileEntry {
    VfsFileEntry {
        path,
        blob_ref: blob.to_string(),
        size_bytes,
        executable: false,
    }
}

fn reason(err: &ApiError) -> Option<&str> {
    err.data.reason.as_deref()
}

/// Regression: commit read and hashed every entry's blob in full to learn its
/// size (entries may all name one 32 MiB blob). Now no content is read.
#[tokio::test]
async fn commit_reads_no_blob_content() {
    let store = CountingStore::default();
    let blob = store.put(vec![7u8; 1 << 20]).await.unwrap();
    let entries = (0..200)
        .map(|i| entry(format!("f{i}"), &blob, 1 << 20))
        .collect();
    let view = snapshot_commit(&store, &(), VfsSnapshotCommitParams { entries })
        .await
        .unwrap();
    assert_eq!(view.file_count, 200);
    assert_eq!(store.gets.load(Ordering::SeqCst), 0);

    let wrong = vec![entry("f".into(), &blob, 5)];
    let err = snapshot_commit(&store, &(), VfsSnapshotCommitParams { entries: wrong })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), Some("sizeMismatch"), "{err:?}");
    let absent = BlobRef::of_bytes(b"absent");
    let missing = vec![entry("f".into(), &absent, 6)];
    let err = snapshot_commit(&store, &(), VfsSnapshotCommitParams { entries: missing })
        .await
        .unwrap_err();
    assert_eq!(reason(&err), Some("blobNotFound"), "{err:?}");
}

/// Regression: a 1 MiB path of half a million names was accepted, then copied
/// prefix by prefix (tens of seconds of CPU on a runtime thread). It is now
/// refused at once as invalid params with a reason.
#[tokio::test]
async fn commit_refuses_over_long_and_deep_paths_at_once() {
    let store = CountingStore::default();
    let blob = store.put(b"x".to_vec()).await.unwrap();
    let cases = [
        ("a/".repeat(1 << 19) + "f", "pathTooLong"),
        ("a/".repeat(65) + "f", "pathTooDeep"),
        ("n".repeat(256), "nameTooLong"),
    ];
    for (path, expected) in cases {
        let started = Instant::now();
        let params = VfsSnapshotCommitParams {
            entries: vec![entry(path, &blob, 1)],
        };
        let err = snapshot_commit(&store, &(), params).await.unwrap_err();
        assert_eq!(err.code(), -32602, "{err:?}");
        assert_eq!(reason(&err), Some(expected), "{err:?}");
        assert!(started.elapsed() < Duration::from_millis(200));
    }
}

/// Regression: any tenant blob can be named as a snapshot; one larger than a
/// manifest may be was fetched and decoded whole (an internal error at best). It
/// is now refused by its stored length as invalid params.
#[tokio::test]
async fn an_oversized_blob_named_as_a_snapshot_is_refused_unread() {
    let store = CountingStore::default();
    let blob = store
        .put(vec![b' '; vfs::limits::MANIFEST_BYTES_MAX as usize + 1])
        .await
        .unwrap();
    let params = VfsSnapshotReadParams {
        snapshot_ref: blob.to_string(),
        cursor: None,
        limit: None,
    };
    let err = snapshot_read(&store, params).await.unwrap_err();
    assert_eq!(err.code(), -32602, "{err:?}");
    assert_eq!(reason(&err), Some("manifestTooLarge"), "{err:?}");
    assert_eq!(store.gets.load(Ordering::SeqCst), 0);
}

/// A blob that is not a manifest, or a manifest with a path far over the limits,
/// named as a snapshot is the request's fault: invalid params, quickly.
#[tokio::test]
async fn a_blob_that_is_not_a_manifest_is_invalid_params() {
    let store = CountingStore::default();
    let content = BlobRef::of_bytes(b"x");
    let deep = "a/".repeat(1 << 20) + "f";
    let manifest = format!(
        "{{\"entries\":[{{\"blob\":\"{content}\",\"path\":\"{deep}\",\"size_bytes\":1}}],\
         \"file_count\":1,\"format\":\"lightspeed.vfs.snapshot.v1\",\"total_bytes\":1}}"
    );
    for bytes in [b"not a manifest".to_vec(), manifest.into_bytes()] {
        let blob = store.put(bytes).await.unwrap();
        let params = VfsSnapshotReadParams {
            snapshot_ref: blob.to_string(),
            cursor: None,
            limit: None,
        };
        let started = Instant::now();
        let err = snapshot_read(&store, params).await.unwrap_err();
        assert_eq!(err.code(), -32602, "{err:?}");
        assert_eq!(reason(&err), Some("invalidSnapshot"), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}
