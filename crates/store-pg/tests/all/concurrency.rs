//! Concurrent appenders on one head, and concurrent starters migrating one schema.

use engine::log::Seq;
use engine::store::{AppendOutcome, SessionLog, StoreError};
use futures::future::join_all;
use store_pg::{PgConfig, PgDatabase};

use crate::support::{Services, entries, fresh_schema, fresh_session};

const APPENDERS: usize = 8;
const ROUNDS: usize = 12;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_appenders_on_one_head_never_both_win() {
    let Some(services) = Services::from_env("concurrent_appenders_on_one_head_never_both_win")
    else {
        return;
    };
    let (_db, store) = services.store().await;
    let session = fresh_session("race");
    let mut head: Seq = 0;
    let mut committed = Vec::new();
    // Round 0 races on a session that does not exist yet (its row is created).
    for round in 0..ROUNDS {
        let batch_len = (round % 3 + 1) as Seq;
        let batches: Vec<_> = (0..APPENDERS)
            .map(|appender| {
                entries(
                    head + 1..=head + batch_len,
                    &format!("r{round}-a{appender}"),
                )
            })
            .collect();
        let outcomes = join_all(batches.iter().map(|batch| {
            let (store, session) = (store.clone(), session.clone());
            async move { store.append(&session, head, batch).await }
        }))
        .await;

        let mut winners = Vec::new();
        for (appender, outcome) in outcomes.into_iter().enumerate() {
            match outcome {
                Ok(AppendOutcome::Appended { head: new_head }) => {
                    assert_eq!(new_head, head + batch_len);
                    winners.push(appender);
                }
                Err(StoreError::HeadConflict { expected, actual }) => {
                    assert_eq!((expected, actual), (head, head + batch_len));
                }
                other => panic!("round {round}: unexpected outcome {other:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        committed.extend(batches[winners[0]].clone());
        head += batch_len;
        assert_eq!(store.head(&session).await.unwrap(), head);
    }
    assert_eq!(
        store.read(&session, 1, usize::MAX).await.unwrap(),
        committed
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_retries_of_one_batch_commit_it_once() {
    let Some(services) = Services::from_env("concurrent_retries_of_one_batch_commit_it_once")
    else {
        return;
    };
    let (_db, store) = services.store().await;
    let session = fresh_session("retry");
    let batch = entries(1..=3, "same");
    let outcomes = join_all((0..APPENDERS).map(|_| {
        let (store, session, batch) = (store.clone(), session.clone(), batch.clone());
        async move { store.append(&session, 0, &batch).await.unwrap() }
    }))
    .await;
    let appended = outcomes
        .iter()
        .filter(|outcome| **outcome == AppendOutcome::Appended { head: 3 })
        .count();
    let retried = outcomes
        .iter()
        .filter(|outcome| **outcome == AppendOutcome::AlreadyCommitted { head: 3 })
        .count();
    assert_eq!((appended, retried), (1, APPENDERS - 1), "{outcomes:?}");
    assert_eq!(store.read(&session, 1, 10).await.unwrap(), batch);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn migrations_are_idempotent_under_concurrent_starts() {
    let Some(services) = Services::from_env("migrations_are_idempotent_under_concurrent_starts")
    else {
        return;
    };
    let schema = fresh_schema("migrate");
    let config = PgConfig {
        schema: Some(schema.clone()),
        pool_connections_max: 2,
        ..services.pg_config()
    };
    // Several processes starting at once on a schema that does not exist yet.
    let started = join_all((0..6).map(|_| PgDatabase::connect(&config))).await;
    let databases: Vec<PgDatabase> = started.into_iter().map(Result::unwrap).collect();
    // And once more on the migrated schema.
    let again = PgDatabase::connect(&config).await.unwrap();

    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(again.pool())
            .await
            .unwrap();
    // Every migration of this build, each applied once.
    let expected: Vec<(i64, bool)> = (1..=16).map(|version| (version, true)).collect();
    assert_eq!(applied, expected);
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
    )
    .bind(&schema)
    .fetch_one(again.pool())
    .await
    .unwrap();
    assert_eq!(
        tables, 26,
        "twenty-five tables and _sqlx_migrations in {schema}"
    );

    // The schema works: one append through a pool of the concurrent starters.
    let store = databases[3]
        .store(uuid::Uuid::new_v4(), None)
        .await
        .unwrap();
    let session = fresh_session("migrated");
    let outcome = store
        .append(&session, 0, &entries(1..=1, "x"))
        .await
        .unwrap();
    assert_eq!(outcome, AppendOutcome::Appended { head: 1 });

    for db in databases {
        db.close().await;
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(again.pool())
        .await
        .unwrap();
    again.close().await;
}
