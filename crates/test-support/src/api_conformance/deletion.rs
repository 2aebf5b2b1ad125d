//! API conformance cases, deletion (`session/delete`): a deleted session is gone
//! from every method (read, list, events, mounts) and its id starts over; a
//! session with a run in flight is refused unless forced, and a forced delete
//! stops the run; a fork of a deleted session keeps its history and takes runs;
//! another universe cannot delete what it cannot see.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::Harness;
use super::fixtures::finished_status;
use super::{Case, case};

pub(super) const CASES: [Case; 2] = [
    case!(
        a_deleted_session_is_gone_everywhere_and_its_id_starts_over,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/fork",
            "session/delete",
            "session/read",
            "session/list",
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/mount/put",
            "vfs/mount/list"
        ]
    ),
    case!(
        a_session_with_a_run_in_flight_is_deleted_only_when_forced,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/delete",
            "session/read"
        ]
    ),
];

fn answers() -> Value {
    json!({"turns": [
        {"text": "slow answer", "delay_ms": 30_000, "match": {"last_user_contains": "slow question"}},
        {"text": "Answer: blue.", "match": {"last_user_contains": "first question"}},
        {"text": "Fork answer: red.", "match": {"last_user_contains": "fork question"}},
        {"text": "Anew.", "match": {"last_user_contains": "new question"}},
    ]})
}

async fn session_ids(conn: &super::client::Conn) -> Vec<String> {
    let listed = conn.call("session/list", json!({"limit": 100})).await;
    listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["sessionId"].as_str().unwrap().to_owned())
        .collect()
}

pub(super) async fn a_deleted_session_is_gone_everywhere_and_its_id_starts_over(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(answers()).await?;
    let (a, b) = (ctx.a(), ctx.b());
    a.start_session("s-del").await;
    let snapshot = a.commit(&[("doc.md", "docs")]).await;
    let mount = json!({"sessionId": "s-del", "mountPath": "/docs",
                       "source": {"type": "snapshot", "snapshotRef": snapshot}});
    a.call("vfs/mount/put", mount).await;
    let run = a.start_run("s-del", "sub-1", "first question").await;
    let events = a.follow("s-del", &run).await;
    assert_eq!(finished_status(&events, &run), "completed");
    let fork = json!({"sessionId": "s-del", "forkSessionId": "s-fork"});
    a.call("session/fork", fork).await;

    // Unknown here, and to another universe.
    let missing = json!({"sessionId": "s-none"});
    a.refused("session/delete", missing, -32004, "sessionNotFound")
        .await;
    b.refused(
        "session/delete",
        json!({"sessionId": "s-del"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    a.invalid(
        "session/delete",
        json!({"sessionId": "s-del", "force": "yes"}),
        "force",
        None,
    )
    .await;

    let deleted = a
        .call("session/delete", json!({"sessionId": "s-del"}))
        .await;
    assert_eq!(deleted["sessionId"], "s-del");
    assert!(
        deleted["deletedEvents"].as_u64().unwrap() >= events.len() as u64,
        "every event went: {deleted}"
    );
    assert_eq!(deleted["stoppedRuns"], 0);
    a.refused(
        "session/read",
        json!({"sessionId": "s-del"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    a.refused(
        "session/delete",
        json!({"sessionId": "s-del"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    let listed = session_ids(&a).await;
    assert!(!listed.contains(&"s-del".to_owned()), "{listed:?}");
    assert!(listed.contains(&"s-fork".to_owned()), "{listed:?}");
    let mounts = a
        .call("vfs/mount/list", json!({"sessionId": "s-del"}))
        .await;
    assert_eq!(mounts["mounts"], json!([]), "mounts go with the session");

    // The fork shares the deleted session's history by reference and keeps it.
    let forked = a.start_run("s-fork", "sub-f", "fork question").await;
    let events = a.follow("s-fork", &forked).await;
    assert_eq!(finished_status(&events, &forked), "completed");
    let fork_view = a.call("session/read", json!({"sessionId": "s-fork"})).await;
    assert_eq!(fork_view["sessionId"], "s-fork");

    // The id starts over: a new session with no past.
    a.start_session("s-del").await;
    let view = a.call("session/read", json!({"sessionId": "s-del"})).await;
    assert!(view["lastRun"].is_null(), "no past runs: {view}");
    assert!(view["forkedFrom"].is_null(), "{view}");
    let anew = a.start_run("s-del", "sub-1", "new question").await;
    let events = a.follow("s-del", &anew).await;
    assert_eq!(finished_status(&events, &anew), "completed");
    let first = a
        .call(
            "session/events/read",
            json!({"sessionId": "s-del", "cursor": 0, "limit": 1}),
        )
        .await;
    assert_eq!(first["events"][0]["cursor"], 1, "the log starts at 1 again");
    Ok(())
}

pub(super) async fn a_session_with_a_run_in_flight_is_deleted_only_when_forced(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(answers()).await?;
    let a = ctx.a();
    a.start_session("s-busy").await;
    let run = a.start_run("s-busy", "sub-1", "slow question").await;
    a.wait_generating("s-busy", &run).await;
    a.refused(
        "session/delete",
        json!({"sessionId": "s-busy"}),
        -32009,
        "sessionBusy",
    )
    .await;
    let view = a.call("session/read", json!({"sessionId": "s-busy"})).await;
    assert_eq!(
        view["sessionId"], "s-busy",
        "a refused delete deletes nothing"
    );

    let deleted = a
        .call(
            "session/delete",
            json!({"sessionId": "s-busy", "force": true}),
        )
        .await;
    assert_eq!(deleted["stoppedRuns"], 1, "{deleted}");
    a.refused(
        "session/read",
        json!({"sessionId": "s-busy"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    // Nothing comes back to life once the stopped generation would have ended.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    a.refused(
        "session/read",
        json!({"sessionId": "s-busy"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    Ok(())
}
