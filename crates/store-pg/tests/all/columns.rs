//! What the SQL rows hold: query columns beside the canonical bytes, universes.

use engine::log::{EventEnvelope, Joins, LogEntry};
use engine::store::{AppendOutcome, BlobStore, Checkpoint, CheckpointStore, SessionLog};
use engine::{RunId, ToolCallId};
use serde_json::json;

use crate::support::{Services, entries, fresh_session};

/// seq, observed_at_ms, kind, version, payload, joins, entry.
type EventRow = (i64, String, String, i64, Option<String>, String, Vec<u8>);

#[tokio::test(flavor = "multi_thread")]
async fn query_columns_mirror_the_entry_and_reads_use_the_canonical_bytes() {
    let Some(services) = Services::from_env("query_columns_mirror_the_entry") else {
        return;
    };
    let (db, store) = services.store().await;
    let session = fresh_session("columns");
    // Key order and number forms jsonb would normalise, a NUL jsonb cannot hold, and
    // a timestamp past bigint.
    let awkward = LogEntry {
        seq: 1,
        observed_at_ms: u64::MAX,
        joins: Joins {
            run_id: Some(RunId::from_ordinal(4)),
            turn: Some(2),
            tool_batch: None,
            tool_call_id: ToolCallId::new("call_1").ok(),
        },
        event: EventEnvelope {
            kind: "store_pg.awkward".into(),
            version: 7,
            payload: json!({ "z": 1.50, "a": [1e3, -0.0], "nul": "a\u{0}b", "big": u64::MAX }),
        },
    };
    let plain = entries(2..=2, "plain").remove(0);
    let batch = vec![awkward, plain];
    assert_eq!(
        store.append(&session, 0, &batch).await.unwrap(),
        AppendOutcome::Appended { head: 2 }
    );
    assert_eq!(store.read(&session, 1, 10).await.unwrap(), batch);

    let rows: Vec<EventRow> = sqlx::query_as(
        "SELECT seq, observed_at_ms::text, kind, version, payload::text, joins::text, entry \
             FROM session_events WHERE universe_id = $1 AND session_id = $2 ORDER BY seq",
    )
    .bind(store.universe_id())
    .bind(session.as_str())
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    let (seq, observed, kind, version, payload, joins, bytes) = &rows[0];
    assert_eq!(
        (*seq, observed.as_str()),
        (1, u64::MAX.to_string().as_str())
    );
    assert_eq!((kind.as_str(), *version), ("store_pg.awkward", 7));
    assert_eq!(
        *payload, None,
        "a NUL payload leaves the jsonb column empty"
    );
    assert!(joins.contains("\"turn\": 2"), "{joins}");
    assert_eq!(*bytes, batch[0].to_canonical_bytes());
    let (_, _, kind, _, payload, _, _) = &rows[1];
    assert_eq!(kind, "store_pg.test");
    let payload: serde_json::Value = serde_json::from_str(payload.as_deref().unwrap()).unwrap();
    assert_eq!(payload["note"], json!("plain"));
}

#[tokio::test(flavor = "multi_thread")]
async fn universes_do_not_see_each_other() {
    let Some(services) = Services::from_env("universes_do_not_see_each_other") else {
        return;
    };
    let db = services.database().await;
    let first = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    let second = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    let session = fresh_session("shared-name");

    first
        .append(&session, 0, &entries(1..=2, "first"))
        .await
        .unwrap();
    first
        .put_checkpoint(
            &session,
            &Checkpoint {
                seq: 2,
                state: b"s".to_vec(),
            },
        )
        .await
        .unwrap();
    let blob = first
        .put(b"only in the first universe".to_vec())
        .await
        .unwrap();

    assert_eq!(second.head(&session).await.unwrap(), 0);
    assert!(second.read(&session, 1, 10).await.unwrap().is_empty());
    assert_eq!(second.latest_checkpoint(&session).await.unwrap(), None);
    assert!(!second.has(&blob).await.unwrap());
    assert_eq!(
        second
            .append(&session, 0, &entries(1..=1, "second"))
            .await
            .unwrap(),
        AppendOutcome::Appended { head: 1 }
    );
    assert_eq!(first.head(&session).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn session_ids_lists_one_universes_sessions_with_entries() {
    use engine::store::SessionLog as _;
    let Some(services) =
        crate::support::Services::from_env("session_ids_lists_one_universes_sessions_with_entries")
    else {
        return;
    };
    let (db, store) = services.store().await;
    let other = db.store(uuid::Uuid::new_v4(), None).await.unwrap();
    assert!(store.session_ids().await.unwrap().is_empty());
    let second = crate::support::fresh_session("list-b");
    let first = crate::support::fresh_session("list-a");
    for session in [&second, &first] {
        store
            .append(session, 0, &crate::support::entries(1..=2, "listed"))
            .await
            .unwrap();
    }
    let mut expected = vec![first, second];
    expected.sort();
    assert_eq!(store.session_ids().await.unwrap(), expected);
    assert_eq!(store.session_count().await.unwrap(), 2, "counted as listed");
    assert!(
        other.session_ids().await.unwrap().is_empty(),
        "universes stay apart"
    );
    assert_eq!(other.session_count().await.unwrap(), 0);
}
