//! What `session/list` and the commit listeners rely on in Postgres: the shared
//! activity suite, the migration that fills `last_activity_at_ms` for data written
//! before it, the index a page is read through, and the commit notification every
//! append transaction sends (and a refused one does not).

use std::time::Duration;

use engine::SessionId;
use engine::log::{LogEntry, Seq};
use engine::store::{AppendOutcome, SessionLog};
use store_pg::{CommitEvent, CommitListener, CommitNotice};
use test_support::conformance;
use uuid::Uuid;

use crate::support::{Services, entry, fresh_session, migrate_again, migration_database};

const WAIT: Duration = Duration::from_secs(10);

fn at(seq: Seq, observed_at_ms: u64) -> LogEntry {
    LogEntry {
        observed_at_ms,
        ..entry(seq, "activity")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_list_by_activity() {
    let Some(services) = Services::from_env("sessions_list_by_activity") else {
        return;
    };
    let (_db, store) = services.store().await;
    conformance::activity_suite(&store).await.unwrap();
    // Again on the same universe: the suite skips rows that are not its own.
    conformance::activity_suite(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_migration_fills_activity_for_what_was_written_before_it() {
    let Some(services) =
        Services::from_env("the_migration_fills_activity_for_what_was_written_before_it")
    else {
        return;
    };
    let (config, db) = migration_database(&services, "activity").await;
    let store = db.store(Uuid::new_v4(), None).await.unwrap();
    let (early, late) = (fresh_session("early"), fresh_session("late"));
    store
        .append(&early, 0, &[at(1, 300), at(2, 100)])
        .await
        .unwrap();
    store.append(&late, 0, &[at(1, 200)]).await.unwrap();
    store.append(&late, 1, &[at(2, 400)]).await.unwrap();
    let listed = |store: store_pg::PgStore| async move {
        store.sessions_by_activity(None, 10).await.unwrap()
    };
    let before = listed(store.clone()).await;
    assert_eq!(before, vec![(late.clone(), 400), (early.clone(), 300)]);

    // Back to the schema before migration 4, data kept; then migrate again.
    let undo = [
        "DROP INDEX sessions_activity",
        "ALTER TABLE sessions DROP COLUMN last_activity_at_ms",
    ];
    let migrated = migrate_again(db, &config, 4, &undo).await;
    let store = migrated.store(store.universe_id(), None).await.unwrap();
    assert_eq!(listed(store.clone()).await, before);
    // And appends move it on from there.
    store.append(&early, 2, &[at(3, 500)]).await.unwrap();
    assert_eq!(listed(store).await, vec![(early, 500), (late, 400)]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_is_one_scan_of_the_activity_index() {
    let Some(services) = Services::from_env("a_page_is_one_scan_of_the_activity_index") else {
        return;
    };
    let db = services.database().await;
    let mut conn = db.pool().acquire().await.unwrap();
    // Tiny test tables would make a sequential scan cheaper; what is checked is
    // that the statements can be served by the index at all.
    sqlx::query("SET enable_seqscan = off")
        .execute(&mut *conn)
        .await
        .unwrap();
    for statement in [
        "EXPLAIN SELECT session_id, last_activity_at_ms FROM sessions \
         WHERE universe_id = '00000000-0000-0000-0000-000000000000' AND head > 0 \
         ORDER BY last_activity_at_ms DESC, session_id COLLATE \"C\" LIMIT 50",
        "EXPLAIN SELECT session_id, last_activity_at_ms FROM sessions \
         WHERE universe_id = '00000000-0000-0000-0000-000000000000' AND head > 0 \
           AND last_activity_at_ms <= 5 \
           AND (last_activity_at_ms < 5 OR session_id COLLATE \"C\" > 's') \
         ORDER BY last_activity_at_ms DESC, session_id COLLATE \"C\" LIMIT 50",
    ] {
        let plan: Vec<String> = sqlx::query_scalar(statement)
            .fetch_all(&mut *conn)
            .await
            .unwrap();
        let plan = plan.join("\n");
        assert!(plan.contains("sessions_activity"), "{plan}");
        assert!(!plan.contains("Sort"), "the index gives the order: {plan}");
    }
    sqlx::query("RESET enable_seqscan")
        .execute(&mut *conn)
        .await
        .unwrap();
}

/// The next notice about `universe` (other tests commit on the same channel).
async fn next_of(listener: &mut CommitListener, universe: Uuid) -> CommitNotice {
    loop {
        match tokio::time::timeout(WAIT, listener.next()).await {
            Ok(Ok(CommitEvent::Committed(notice))) if notice.universe_id == universe => {
                return notice;
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => panic!("listening failed: {err}"),
            Err(_) => panic!("no commit notice within {WAIT:?}"),
        }
    }
}

/// Nothing about `universe` for a while.
async fn quiet(listener: &mut CommitListener, universe: Uuid) {
    let until = tokio::time::Instant::now() + Duration::from_millis(300);
    loop {
        match tokio::time::timeout_at(until, listener.next()).await {
            Ok(Ok(CommitEvent::Committed(notice))) if notice.universe_id == universe => {
                panic!("unexpected notice {notice:?}")
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => panic!("listening failed: {err}"),
            Err(_) => return,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_committed_append_is_announced_once_and_refused_ones_never() {
    let Some(services) =
        Services::from_env("every_committed_append_is_announced_once_and_refused_ones_never")
    else {
        return;
    };
    let (db, store) = services.store().await;
    let universe = store.universe_id();
    let mut listener = db.listen_commits().await.unwrap();
    let session = SessionId::new(format!("with:colons:{}", Uuid::new_v4().simple())).unwrap();

    store
        .append(&session, 0, &[at(1, 10), at(2, 11)])
        .await
        .unwrap();
    let notice = next_of(&mut listener, universe).await;
    assert_eq!(
        notice,
        CommitNotice {
            universe_id: universe,
            session_id: session.clone(),
            head: 2
        }
    );
    // A stale append and a retry of committed entries commit nothing new.
    assert!(store.append(&session, 1, &[at(2, 12)]).await.is_err());
    let retried = store.append(&session, 0, &[at(1, 10), at(2, 11)]).await;
    assert!(matches!(
        retried,
        Ok(AppendOutcome::AlreadyCommitted { head: 2 })
    ));
    quiet(&mut listener, universe).await;
    store.append(&session, 2, &[at(3, 13)]).await.unwrap();
    assert_eq!(next_of(&mut listener, universe).await.head, 3);

    // What a listener that missed commits re-reads.
    let never = fresh_session("never");
    let heads = db
        .session_heads(&[(universe, session.clone()), (universe, never)])
        .await
        .unwrap();
    assert_eq!(
        heads,
        vec![CommitNotice {
            universe_id: universe,
            session_id: session,
            head: 3
        }]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_listener_whose_connection_is_killed_resumes_and_says_so() {
    let Some(services) =
        Services::from_env("a_listener_whose_connection_is_killed_resumes_and_says_so")
    else {
        return;
    };
    let (db, store) = services.store().await;
    let universe = store.universe_id();
    let mut listener = db.listen_commits().await.unwrap();
    let pid = listener.ping().await.unwrap();
    let killed: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(pid)
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(killed, "the listening connection was not terminated");
    let resumed = loop {
        match tokio::time::timeout(WAIT, listener.next()).await {
            Ok(Ok(CommitEvent::Resumed)) => break true,
            Ok(Ok(CommitEvent::Committed(_))) => {}
            Ok(Err(err)) => panic!("{err}"),
            Err(_) => break false,
        }
    };
    assert!(resumed, "the lost connection was not reported");
    // Listening again on the new connection.
    let session = fresh_session("after");
    store.append(&session, 0, &[at(1, 1)]).await.unwrap();
    assert_eq!(next_of(&mut listener, universe).await.session_id, session);
    assert_ne!(listener.ping().await.unwrap(), pid, "a new connection");
}
