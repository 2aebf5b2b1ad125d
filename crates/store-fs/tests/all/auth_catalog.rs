//! The auth catalog on disk: the shared conformance suite, records that survive a
//! reopen, and the bound on secrets held across separate store instances.

use std::sync::Arc;

use auth_registry::{AuthCatalog, CatalogError};

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn auth_catalog_conforms_and_survives_a_reopen() {
    let (dir, store) = store();
    auth_registry::conformance::auth_catalog_suite(&store)
        .await
        .unwrap();
    let reopened = FsStore::open(dir.path()).unwrap();
    auth_registry::conformance::auth_catalog_suite(&reopened)
        .await
        .unwrap();
}

/// Writers with their own store instances (as processes would have) race to create
/// secrets under a bound of 5: exactly 5 exist afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_pass_the_bound() {
    let dir = tempfile::tempdir().unwrap();
    let root = Arc::new(dir.path().to_owned());
    let writers: Vec<_> = (0..12)
        .map(|i| {
            let root = root.clone();
            tokio::spawn(async move {
                let store = FsStore::open(root.as_path()).unwrap();
                store
                    .secret_put(
                        &auth_registry::conformance::sample_secret(&format!("s{i}")),
                        5,
                    )
                    .await
            })
        })
        .collect();
    let mut created = 0;
    for writer in writers {
        match writer.await.unwrap() {
            Ok(_) => created += 1,
            Err(CatalogError::TooMany { max: 5, .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(created, 5);
    let store = FsStore::open(root.as_path()).unwrap();
    assert_eq!(store.secret_list().await.unwrap().len(), 5);
    // Records are JSON under auth/, sealed values as base64, no plaintext anywhere.
    assert!(store.root().join("auth/secrets").is_dir());
}
