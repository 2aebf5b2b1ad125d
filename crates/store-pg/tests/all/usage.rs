//! What the per-universe quotas count in Postgres, beyond the shared suite: the
//! migration that added the counts computes them for data written before it.

use engine::core::event::{RunFinished, RunRequested};
use engine::log::{EventEnvelope, Joins, LogEntry, Seq};
use engine::store::{BlobStore, SessionLog};
use serde_json::json;
use store_pg::{PgConfig, PgDatabase};

use crate::support::{Services, fresh_schema, fresh_session};

fn run_entry(kind: &str, seq: Seq) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: seq,
        joins: Joins::default(),
        event: EventEnvelope {
            kind: kind.into(),
            version: 1,
            payload: json!({}),
        },
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migration_counts_what_was_written_before_it() {
    let Some(services) = Services::from_env("the_migration_counts_what_was_written_before_it")
    else {
        return;
    };
    let config = PgConfig {
        schema: Some(fresh_schema("usage")),
        pool_connections_max: 2,
        ..services.pg_config()
    };
    let db = PgDatabase::connect(&config).await.unwrap();
    let store = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    let (busy, done) = (fresh_session("busy"), fresh_session("done"));
    let requested = |seq| run_entry(RunRequested::KIND, seq);
    let finished = |seq| run_entry(RunFinished::KIND, seq);
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
    for statement in [
        "DROP INDEX sessions_runs_in_flight",
        "ALTER TABLE sessions DROP COLUMN runs_in_flight",
        "ALTER TABLE universes DROP COLUMN stored_bytes",
        "DELETE FROM _sqlx_migrations WHERE version = 3",
    ] {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
    db.close().await;
    let migrated = PgDatabase::connect(&config).await.unwrap();
    let store = migrated.store(store.universe_id(), None).await.unwrap();
    assert_eq!(store.runs_in_flight().await.unwrap(), 1);
    assert_eq!(store.stored_bytes().await.unwrap(), 1005);
    // And the counts move on from there.
    store.append(&busy, 3, &[finished(4)]).await.unwrap();
    assert_eq!(store.runs_in_flight().await.unwrap(), 0);
}
