//! The dispatch pause and event deliveries (`universe_dispatch`, `event_deliveries`),
//! the operator's universes (`universes` columns of migration 15), and the sessions
//! a pause must reach for their wake-ups (migration 16).

use engine::core::event::{SessionClosed, WakeUpEnded, WakeUpScheduled};
use engine::store::SessionLog;
use futures::future::join_all;
use test_support::conformance;
use uuid::Uuid;

use crate::support::{Services, fresh_session, kind_entry, migrate_again, migration_database};

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_claims_of_one_delivery_make_one_claim_per_key() {
    let Some(services) =
        Services::from_env("concurrent_claims_of_one_delivery_make_one_claim_per_key")
    else {
        return;
    };
    let db = services.database().await;
    let store = db.store(Uuid::new_v4(), None).await.unwrap();
    // 60 claims of 6 deliveries, all at once over the pool.
    let claims = (0..60).map(|attempt| {
        let store = store.clone();
        async move {
            let key = format!("d-{}", attempt % 6);
            let claimed = store
                .claim_delivery("github", &key, 1_000, 60_000)
                .await
                .unwrap();
            (key, claimed.is_none())
        }
    });
    let results = join_all(claims).await;
    let mut won: Vec<String> = results
        .into_iter()
        .filter(|(_, won)| *won)
        .map(|(key, _)| key)
        .collect();
    won.sort();
    assert_eq!(won, ["d-0", "d-1", "d-2", "d-3", "d-4", "d-5"]);

    // A settled claim answers what it became; a released one is claimed again.
    store
        .settle_delivery("github", "d-0", "s-1", Some("run_1"))
        .await
        .unwrap();
    let prior = store
        .claim_delivery("github", "d-0", 2_000, 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(prior.received_at_ms, 1_000);
    assert_eq!(prior.session_id.as_deref(), Some("s-1"));
    assert_eq!(prior.run_id.as_deref(), Some("run_1"));
    store.release_delivery("github", "d-1").await.unwrap();
    assert!(
        store
            .claim_delivery("github", "d-1", 2_000, 60_000)
            .await
            .unwrap()
            .is_none()
    );
    // The settled one is never released, and past the window any is new.
    store.release_delivery("github", "d-0").await.unwrap();
    assert!(
        store
            .claim_delivery("github", "d-0", 3_000, 60_000)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .claim_delivery("github", "d-0", 70_000, 60_000)
            .await
            .unwrap()
            .is_none()
    );
    // Another universe's deliveries are its own.
    let other = db.store(Uuid::new_v4(), None).await.unwrap();
    assert!(
        other
            .claim_delivery("github", "d-2", 2_000, 60_000)
            .await
            .unwrap()
            .is_none()
    );
    // Pruning forgets what is older than asked: d-1..d-5 at 1,000 and 2,000.
    assert_eq!(store.prune_deliveries(2_500).await.unwrap(), 5);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dispatch_pause_keeps_its_first_time_and_universes_are_cataloged() {
    let Some(services) =
        Services::from_env("the_dispatch_pause_keeps_its_first_time_and_universes_are_cataloged")
    else {
        return;
    };
    let db = services.database().await;
    let universe = Uuid::new_v4();
    let store = db.store(universe, None).await.unwrap();
    assert_eq!(store.dispatch_paused_since().await.unwrap(), None);
    store.set_dispatch_paused(Some(5)).await.unwrap();
    store.set_dispatch_paused(Some(9)).await.unwrap();
    assert_eq!(store.dispatch_paused_since().await.unwrap(), Some(5));
    store.set_dispatch_paused(None).await.unwrap();
    assert_eq!(store.dispatch_paused_since().await.unwrap(), None);

    // A universe opened by a store is not one the operator created: creating it
    // works once, deleting keeps the first time, creating again revives it.
    let keys = db.key_store();
    let created = keys
        .create_universe(universe, "one", 10)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(created.created_at_ms, Some(10));
    assert_eq!(
        keys.create_universe(universe, "two", 11).await.unwrap(),
        None
    );
    keys.delete_universe(universe, 20).await.unwrap();
    keys.delete_universe(universe, 30).await.unwrap();
    let listed = keys.list_universes().await.unwrap();
    let row = listed
        .iter()
        .find(|row| row.universe_id == universe)
        .unwrap();
    assert_eq!((row.name.as_str(), row.deleted_at_ms), ("one", Some(20)));
    let revived = keys
        .create_universe(universe, "three", 40)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(revived.deleted_at_ms, None);
    assert_eq!(revived.name, "three");
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_to_hold_conform_and_the_migration_counts_earlier_wake_ups() {
    let Some(services) =
        Services::from_env("sessions_to_hold_conform_and_the_migration_counts_earlier_wake_ups")
    else {
        return;
    };
    let (config, db) = migration_database(&services, "wake_ups").await;
    let store = db.store(Uuid::new_v4(), None).await.unwrap();
    conformance::wake_ups_suite(&store).await.unwrap();

    // Written before migration 16: one session still waiting on one of two
    // wake-ups, one whose wake-up fired, one closed with a wake-up pending.
    let (scheduled, ended, closed) = (
        |seq| kind_entry(WakeUpScheduled::KIND, seq),
        |seq| kind_entry(WakeUpEnded::KIND, seq),
        |seq| kind_entry(SessionClosed::KIND, seq),
    );
    let universe = Uuid::new_v4();
    let store = db.store(universe, None).await.unwrap();
    let [waiting, fired, gone] = ["waiting", "fired", "gone"].map(fresh_session);
    let batches = [
        (&waiting, vec![scheduled(1), scheduled(2), ended(3)]),
        (&fired, vec![scheduled(1), ended(2)]),
        (&gone, vec![scheduled(1), closed(2)]),
    ];
    for (session, batch) in &batches {
        store.append(session, 0, batch).await.unwrap();
    }
    assert_eq!(
        store.sessions_to_hold(10).await.unwrap(),
        std::slice::from_ref(&waiting)
    );
    let undo = [
        "DROP INDEX sessions_wake_ups_pending",
        "ALTER TABLE sessions DROP COLUMN wake_ups_pending",
    ];
    let migrated = migrate_again(db, &config, 16, &undo).await;
    let store = migrated.store(universe, None).await.unwrap();
    assert_eq!(
        store.sessions_to_hold(10).await.unwrap(),
        std::slice::from_ref(&waiting)
    );
    // And the count moves on from there.
    store.append(&waiting, 3, &[ended(4)]).await.unwrap();
    assert!(store.sessions_to_hold(10).await.unwrap().is_empty());
    migrated.close().await;
}
