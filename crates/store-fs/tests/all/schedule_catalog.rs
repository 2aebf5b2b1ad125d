//! The schedule catalog on disk: the shared conformance suite, each case in a root
//! of its own (one universe each).

use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn schedule_catalog_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    test_support::schedule_conformance::schedule_catalog_suite(|| async {
        let universe = next.fetch_add(1, Ordering::Relaxed);
        Ok(FsStore::open(
            dir.path().join(format!("universe-{universe}")),
        )?)
    })
    .await
    .unwrap();
}
