//! The VFS catalog conformance suite against the in-memory reference catalog.

use engine::memory::MemoryStore;
use test_support::vfs_conformance;
use vfs::memory::MemoryCatalog;

#[tokio::test(flavor = "multi_thread")]
async fn memory_catalog_conforms_twice() -> anyhow::Result<()> {
    let (catalog, blobs) = (MemoryCatalog::new(), MemoryStore::new());
    vfs_conformance::catalog_suite(&catalog, &blobs).await?;
    vfs_conformance::catalog_suite(&catalog, &blobs).await
}
