//! Commits pushed through Postgres (`session_stores::PgStores`): idle readers cost
//! the database no query, measured by its own statistics as well as by counting
//! store calls, and a commit listener whose connection dies re-reads the heads of
//! watched sessions once it listens again, so no commit is missed. Needs the local
//! stack's Postgres; skipped with a note without it, failing under `CI=true`.

use std::time::Duration;

use engine::{Seq, SessionId};
use session_stores::{PgStores, StoreProvider as _};
use store_pg::{PgConfig, PgDatabase};
use test_support::idle::{IdleSetup, Probe, idle_readers};
use tokio::sync::watch;
use uuid::Uuid;

use crate::postgres::stack_env;

/// The local stack's Postgres in a fresh schema (so its tables' statistics count
/// this test's queries alone), or `None` (skip) without the stack.
async fn fresh_database(tag: &str, pool: u32) -> Option<(String, PgDatabase)> {
    stack_env()?;
    let schema = format!("push_{tag}_{}", Uuid::new_v4().simple());
    let url = std::env::var("LIGHTSPEED_POSTGRES_URL").ok()?;
    let mut config = PgConfig::new(url);
    config.schema = Some(schema.clone());
    config.pool_connections_max = pool;
    Some((schema, PgDatabase::connect(&config).await.unwrap()))
}

/// Table scans (sequential and by index) of one schema, from Postgres's statistics:
/// every query that reads a session's head or entries scans one of its tables.
struct TableScans {
    db: PgDatabase,
    schema: String,
}

impl Probe for TableScans {
    /// A connection flushes its statistics when idle, at most 10 s late.
    fn lag(&self) -> Duration {
        Duration::from_secs(11)
    }

    async fn count(&self) -> anyhow::Result<u64> {
        let scans: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0)::bigint \
             FROM pg_stat_user_tables WHERE schemaname = $1",
        )
        .bind(&self.schema)
        .fetch_one(self.db.pool())
        .await?;
        Ok(u64::try_from(scans)?)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_idle_subscribers_cost_no_query() {
    let Some((schema, db)) = fresh_database("idle", 8).await else {
        return;
    };
    let probe = TableScans {
        db: db.clone(),
        schema: schema.clone(),
    };
    let setup = IdleSetup {
        sessions: 100,
        // Long-polls end after 30 s, less than the window and the probe's lags.
        long_polls: false,
        window: Duration::from_secs(20),
    };
    let universe = Uuid::new_v4().to_string();
    let figures = idle_readers(PgStores::new(db, None), &universe, setup, &probe)
        .await
        .unwrap();
    eprintln!("Postgres, 100 sessions with an idle subscriber each: {figures:?}");
    assert!(figures.setup_calls >= 100, "{figures:?}");
    assert_eq!(figures.idle_calls, 0, "store calls while idle: {figures:?}");
    assert_eq!(
        figures.probe_count, 0,
        "table scans in {schema} while idle: {figures:?}"
    );
}

async fn changed(commits: &mut watch::Receiver<Seq>, within: Duration) -> Option<Seq> {
    match tokio::time::timeout(within, commits.changed()).await {
        Ok(Ok(())) => Some(*commits.borrow_and_update()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_commit_listener_re_reads_watched_heads_after_reconnecting() {
    let Some((_, db)) = fresh_database("relisten", 2).await else {
        return;
    };
    let stores = PgStores::new(db.clone(), None);
    let universe = Uuid::new_v4();
    let store = stores.store(&universe.to_string()).await.unwrap();
    let session = SessionId::new(format!("s-{}", Uuid::new_v4().simple())).unwrap();
    let mut commits = stores.commits(&universe.to_string(), &session);
    // An ordinary commit is heard.
    let entry = |seq| engine::log::LogEntry {
        seq,
        observed_at_ms: seq,
        joins: Default::default(),
        event: engine::log::EventEnvelope {
            kind: "push.test".into(),
            version: 1,
            payload: serde_json::json!({}),
        },
    };
    engine::store::SessionLog::append(&*store, &session, 0, &[entry(1)])
        .await
        .unwrap();
    assert_eq!(
        changed(&mut commits, Duration::from_secs(10)).await,
        Some(1)
    );

    // A head moved without a notification stands for a commit made while the
    // listener was away: nothing tells the readers...
    let silently = "UPDATE sessions SET head = head + 1 WHERE universe_id = $1 AND session_id = $2";
    sqlx::query(silently)
        .bind(universe)
        .bind(session.as_str())
        .execute(db.pool())
        .await
        .unwrap();
    assert_eq!(
        changed(&mut commits, Duration::from_millis(300)).await,
        None
    );
    // ...until the listening connection is lost: the listener listens again, then
    // re-reads the heads of the sessions it watches.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let pid = loop {
        match stores.commit_listener_backend() {
            Some(pid) => break pid,
            None if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            None => panic!("the commit listener never listened"),
        }
    };
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(killed, "the listening connection was not cut");
    assert_eq!(
        changed(&mut commits, Duration::from_secs(15)).await,
        Some(2)
    );
    let relistened = stores.commit_listener_backend();
    assert!(relistened.is_none_or(|new| new != pid), "{relistened:?}");
    // And it hears commits again.
    engine::store::SessionLog::append(&*store, &session, 2, &[entry(3)])
        .await
        .unwrap();
    assert_eq!(
        changed(&mut commits, Duration::from_secs(10)).await,
        Some(3)
    );
}
