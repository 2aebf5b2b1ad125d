//! [`VfsToolAdapter`]: a tool call's CPU-heavy work does not stall the runtime.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use effects::VfsToolAdapter;
use effects::adapter::ToolAdapter;
use engine::core::run::ToolCallRequest;
use engine::memory::MemoryStore;
use engine::store::{BlobStore, StoreError};
use engine::{BlobRef, SessionId, ToolCallId};
use tools::Mode;
use vfs::memory::MemoryCatalog;
use vfs::{FileEntry, Mount, MountMode, MountSource, SessionPath, Snapshot, VfsCatalog, VfsPath};

/// A store whose reads of one blob block the thread, as decoding a large manifest
/// or applying a patch to a large file does.
struct SlowStore {
    inner: MemoryStore,
    slow: BlobRef,
}

impl BlobStore for SlowStore {
    async fn put(&self, bytes: Vec<u8>) -> Result<BlobRef, StoreError> {
        self.inner.put(bytes).await
    }
    async fn get(&self, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
        if *blob == self.slow {
            std::thread::sleep(Duration::from_millis(300));
        }
        self.inner.get(blob).await
    }
    async fn has(&self, blob: &BlobRef) -> Result<bool, StoreError> {
        self.inner.has(blob).await
    }
    async fn blob_len(&self, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
        self.inner.blob_len(blob).await
    }
}

/// Regression: tool calls ran on the runtime worker, so one slow call froze every
/// other task on it (the worker's file tools and its heartbeats alike).
#[test]
fn a_slow_tool_call_leaves_the_runtime_running() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let inner = MemoryStore::new();
        let content = inner.put(b"big file\n".to_vec()).await.unwrap();
        let entry = FileEntry {
            blob: content.clone(),
            size_bytes: 9,
            executable: false,
        };
        let tree = Snapshot::from_files([(VfsPath::parse("big.txt").unwrap(), entry)]).unwrap();
        let snapshot = tree.store(&inner, &vfs::Limits::default()).await.unwrap();
        let arguments = inner
            .put(br#"{"path": "/ref/big.txt"}"#.to_vec())
            .await
            .unwrap();
        let store = Arc::new(SlowStore {
            inner,
            slow: content,
        });
        let catalog = Arc::new(MemoryCatalog::new());
        let session = SessionId::new("s-slow").unwrap();
        let mount = Mount {
            path: SessionPath::parse("/ref").unwrap(),
            source: MountSource::Snapshot { snapshot },
            mode: MountMode::ReadOnly,
        };
        catalog.mount_put(&session, &mount, 8).await.unwrap();
        let adapter = VfsToolAdapter::new(catalog, session, Mode::ReadOnly);
        let call = ToolCallRequest {
            call_id: ToolCallId::new("call-1").unwrap(),
            name: "read_file".into(),
            arguments_ref: arguments,
        };

        let ticks = Arc::new(AtomicU64::new(0));
        let ticker = tokio::spawn({
            let ticks = Arc::clone(&ticks);
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    ticks.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
        let before = ticks.load(Ordering::SeqCst);
        let result = tokio::spawn(async move { adapter.invoke(&call, &*store).await })
            .await
            .unwrap()
            .unwrap();
        let ticked = ticks.load(Ordering::SeqCst) - before;
        ticker.abort();
        assert_eq!(result.status, engine::core::run::ToolStatus::Ok);
        assert!(ticked >= 10, "the runtime ticked only {ticked} times");
    });
}
