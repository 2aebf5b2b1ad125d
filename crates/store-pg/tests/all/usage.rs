//! What the per-universe quotas count in Postgres, beyond the shared suite: the
//! migration that added the counts computes them for data written before it.

use engine::core::event::{RunFinished, RunRequested};
use engine::store::{BlobStore, SessionLog};

use crate::support::{Services, fresh_session, kind_entry, migrate_again, migration_database};

#[tokio::test(flavor = "multi_thread")]
async fn the_migration_counts_what_was_written_before_it() {
    let Some(services) = Services::from_env("the_migration_counts_what_was_written_before_it")
    else {
        return;
    };
    let (config, db) = migration_database(&services, "usage").await;
    let store = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    let (busy, done) = (fresh_session("busy"), fresh_session("done"));
    let requested = |seq| kind_entry(RunRequested::KIND, seq);
    let finished = |seq| kind_entry(RunFinished::KIND, seq);
    store
        .append(&busy, 0, &[requested(1), requested(2), finished(3)])
        .await
        .unwrap();
    store
        .append(&done, 0, &[requested(1), finished(2)])
        .await
        .unwrap();
    store.put(vec![7; 1000]).await.unwrap();
    store.put(b"small".to_vec()).await.unwrap();
    assert_eq!(store.runs_in_flight().await.unwrap(), 1);
    assert_eq!(store.stored_bytes().await.unwrap(), 1005);

    // Back to the schema before migration 3, data kept; then migrate again.
    let undo = [
        "DROP INDEX sessions_runs_in_flight",
        "ALTER TABLE sessions DROP COLUMN runs_in_flight",
        "ALTER TABLE universes DROP COLUMN stored_bytes",
    ];
    let migrated = migrate_again(db, &config, 3, &undo).await;
    let store = migrated.store(store.universe_id(), None).await.unwrap();
    assert_eq!(store.runs_in_flight().await.unwrap(), 1);
    assert_eq!(store.stored_bytes().await.unwrap(), 1005);
    // And the counts move on from there.
    store.append(&busy, 3, &[finished(4)]).await.unwrap();
    assert_eq!(store.runs_in_flight().await.unwrap(), 0);
}
