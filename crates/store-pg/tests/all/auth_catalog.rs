//! The auth catalog in Postgres: the shared conformance suite, the bound under
//! concurrent creates on separate pools, and universes kept apart.

use auth_registry::{AuthCatalog, CatalogError, SecretName};
use futures::future::join_all;

use crate::support::Services;

#[tokio::test(flavor = "multi_thread")]
async fn auth_catalog_suite_passes() {
    let Some(services) = Services::from_env("auth_catalog_suite_passes") else {
        return;
    };
    let (_db, store) = services.store().await;
    auth_registry::conformance::auth_catalog_suite(&store)
        .await
        .unwrap();
    // Again in the same universe: the suite uses fresh names and ids.
    auth_registry::conformance::auth_catalog_suite(&store)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_creates_never_pass_the_bound_and_universes_stay_apart() {
    let Some(services) = Services::from_env("concurrent_creates_never_pass_the_bound") else {
        return;
    };
    let (db, store) = services.store().await;
    // A second pool on the same universe, as another host would have.
    let other_db = services.database().await;
    let twin = other_db.store(store.universe_id(), None).await.unwrap();
    let puts = (0..10).map(|i| {
        let target = if i % 2 == 0 {
            store.clone()
        } else {
            twin.clone()
        };
        async move {
            target
                .secret_put(
                    &auth_registry::conformance::sample_secret(&format!("s{i}")),
                    4,
                )
                .await
        }
    });
    let mut created = 0;
    for outcome in join_all(puts).await {
        match outcome {
            Ok(_) => created += 1,
            Err(CatalogError::TooMany { max: 4, .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert_eq!(created, 4);
    assert_eq!(store.secret_list().await.unwrap().len(), 4);
    let stranger = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    assert!(stranger.secret_list().await.unwrap().is_empty());
    assert!(
        stranger
            .secret_get(&SecretName::new("s0").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}
