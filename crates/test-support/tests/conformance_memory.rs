//! The store conformance suite against the in-memory reference store.

use engine::memory::MemoryStore;
use test_support::conformance;

#[tokio::test(flavor = "multi_thread")]
async fn memory_session_log_conforms() -> anyhow::Result<()> {
    conformance::session_log_suite(&MemoryStore::new()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_blob_store_conforms() -> anyhow::Result<()> {
    conformance::blob_store_suite(&MemoryStore::new()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_checkpoint_store_conforms() -> anyhow::Result<()> {
    conformance::checkpoint_suite(&MemoryStore::new()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn memory_store_passes_every_suite_twice() -> anyhow::Result<()> {
    let store = MemoryStore::new();
    conformance::store_suite(&store).await?;
    conformance::store_suite(&store).await
}
