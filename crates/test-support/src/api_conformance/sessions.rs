//! API conformance cases, sessions: start (idempotent per config), read, list (paged), update (by
//! revision), close.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Conn, Harness};
use super::fixtures::{finished_status, session_config};
use super::{Case, case};

pub(super) const CASES: [Case; 5] = [
    case!(
        session_start_is_idempotent_per_config,
        ["session/start", "session/read"]
    ),
    case!(
        session_list_pages_newest_first,
        ["session/start", "session/list"]
    ),
    case!(
        session_list_pages_hold_when_sessions_move,
        [
            "session/start",
            "session/list",
            "session/read",
            "session/update"
        ]
    ),
    case!(
        session_update_needs_the_current_revision,
        ["session/start", "session/update", "session/read"]
    ),
    case!(
        session_close_cancels_and_refuses_new_runs,
        [
            "session/start",
            "run/start",
            "session/close",
            "session/read",
            "session/events/read"
        ]
    ),
];

pub(super) async fn session_start_is_idempotent_per_config(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let started = a.start_session("s-start").await;
    assert_eq!(started["sessionId"], "s-start");
    assert_eq!(started["status"], "idle");
    assert_eq!(started["config"]["model"]["model"], "fake-model");
    // The same id with the same config is the same session, unchanged.
    let again = a.start_session("s-start").await;
    assert_eq!(again["revision"], started["revision"]);
    assert_eq!(again["eventCursor"], started["eventCursor"]);
    let mut other = session_config("none");
    other["model"]["model"] = json!("other-model");
    let data = a
        .refused(
            "session/start",
            json!({"sessionId": "s-start", "config": other}),
            -32009,
            "sessionExists",
        )
        .await;
    assert_eq!(data["kind"], "conflict");
    let read = a
        .call("session/read", json!({"sessionId": "s-start"}))
        .await;
    assert_eq!(
        read["config"], started["config"],
        "the conflict changed nothing"
    );

    // Without an id the server picks one.
    let generated = a
        .call("session/start", json!({"config": session_config("none")}))
        .await;
    let id = generated["sessionId"].as_str().unwrap();
    assert!(!id.is_empty() && id != "s-start");

    start_refusals(&a).await;
    Ok(())
}

/// Configs and ids `session/start` refuses, each naming the offending field; none
/// creates the session.
async fn start_refusals(a: &Conn) {
    let bad_params = |params: Value| json!({"sessionId": "s-bad", "config": params});
    let mut hot = session_config("none");
    hot["generation"]["providerParams"] = json!({"temperature": 9});
    a.invalid(
        "session/start",
        bad_params(hot),
        "providerParams",
        Some("invalidProviderParams"),
    )
    .await;
    let mut no_turns = session_config("none");
    no_turns["runDefaults"] = json!({"maxTurns": 0});
    a.invalid(
        "session/start",
        bad_params(no_turns),
        "maxTurns",
        Some("invalidConfig"),
    )
    .await;
    // Budgets and params are bounded: a client cannot ask a shared worker for
    // 2^32-1 turns or put half a megabyte into every model request.
    for (limits, field) in [
        (json!({"maxTurns": u32::MAX}), "maxTurns"),
        (json!({"maxToolRounds": u32::MAX}), "maxToolRounds"),
        (json!({"maxOutputTokens": u64::MAX}), "maxOutputTokens"),
    ] {
        let mut huge = session_config("none");
        huge["runDefaults"] = limits;
        a.invalid(
            "session/start",
            bad_params(huge),
            field,
            Some("invalidConfig"),
        )
        .await;
    }
    let mut bulky = session_config("none");
    bulky["generation"]["providerParams"] = json!({"service_tier": "x".repeat(512 * 1024)});
    a.invalid("session/start", bad_params(bulky), "providerParams", None)
        .await;
    let mut no_model = session_config("none");
    no_model.as_object_mut().unwrap().remove("model");
    a.invalid("session/start", bad_params(no_model), "model", None)
        .await;
    let config = session_config("none");
    a.invalid(
        "session/start",
        json!({"sessionId": "a/b", "config": config}),
        "sessionId",
        Some("invalidId"),
    )
    .await;
    a.refused(
        "session/read",
        json!({"sessionId": "s-bad"}),
        -32004,
        "sessionNotFound",
    )
    .await;
}

/// Lists every page of `session/list` at `limit` rows; the rows in order.
async fn list_all(conn: &Conn, limit: u32) -> Vec<Value> {
    let mut rows = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = json!({"limit": limit});
        if let Some(cursor) = &cursor {
            args["cursor"] = json!(cursor);
        }
        let page = conn.call("session/list", args).await;
        let sessions = page["sessions"].as_array().unwrap();
        assert!(sessions.len() <= limit as usize, "{page}");
        rows.extend(sessions.iter().cloned());
        match page.get("nextCursor").and_then(Value::as_str) {
            Some(next) => cursor = Some(next.to_owned()),
            None => return rows,
        }
    }
}

/// Starts the sessions `ids`, then lists them all at `limit` rows a page. A host
/// may index asynchronously: this waits (generously) until all are listed.
async fn started_and_listed(conn: &Conn, ids: &[&str], limit: u32) -> Vec<Value> {
    for id in ids {
        conn.start_session(id).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let rows = list_all(conn, limit).await;
        if rows.len() >= ids.len() || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) async fn session_list_pages_newest_first(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let empty = a.call("session/list", json!({})).await;
    assert_eq!(
        empty["sessions"],
        json!([]),
        "a fresh universe lists nothing"
    );
    let ids = ["s-list-1", "s-list-2", "s-list-3", "s-list-4", "s-list-5"];
    let rows = started_and_listed(&a, &ids, 2).await;
    let listed: Vec<&str> = rows
        .iter()
        .map(|row| row["sessionId"].as_str().unwrap())
        .collect();
    let unique: BTreeSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed.len(), unique.len(), "no row twice: {listed:?}");
    assert_eq!(unique, ids.into_iter().collect(), "every session, once");
    let times: Vec<u64> = rows
        .iter()
        .map(|row| row["updatedAtMs"].as_u64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|pair| pair[0] >= pair[1]),
        "newest first: {rows:#?}"
    );
    assert!(
        rows.iter()
            .all(|row| row["status"] == "idle" && row["model"] == "fake-model")
    );
    // One page holds them all at the default limit.
    let whole = a.call("session/list", json!({})).await;
    assert_eq!(whole["sessions"].as_array().unwrap().len(), ids.len());
    assert!(whole.get("nextCursor").is_none(), "{whole}");

    for limit in [0, 201] {
        a.invalid("session/list", json!({"limit": limit}), "limit", None)
            .await;
    }
    a.invalid(
        "session/list",
        json!({"cursor": "not-a-cursor"}),
        "cursor",
        None,
    )
    .await;
    Ok(())
}

/// Pages are keyset pages: a session that becomes active while a client walks the
/// list moves to the front without shifting the rest, so no session is listed
/// twice and every session left alone is listed once (an offset cursor would list
/// one twice as the moved session pushes the others back).
pub(super) async fn session_list_pages_hold_when_sessions_move(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let ids = ["s-move-1", "s-move-2", "s-move-3", "s-move-4", "s-move-5"];
    let order = started_and_listed(&a, &ids, 200).await;
    let id_of = |row: &Value| row["sessionId"].as_str().unwrap().to_owned();
    let oldest = id_of(order.last().unwrap());

    let first = a.call("session/list", json!({"limit": 2})).await;
    let mut listed: Vec<String> = first["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    // The oldest session moves on (a later clock than any listed so far).
    tokio::time::sleep(Duration::from_millis(5)).await;
    let current = a.call("session/read", json!({"sessionId": oldest})).await;
    let update = json!({"sessionId": oldest, "expectedRevision": current["revision"],
                        "patch": {"generation": {"maxOutputTokens": 256}}});
    a.call("session/update", update).await;

    let mut cursor = first["nextCursor"].as_str().map(str::to_owned);
    while let Some(next) = cursor.take() {
        let page = a
            .call("session/list", json!({"limit": 2, "cursor": next}))
            .await;
        listed.extend(page["sessions"].as_array().unwrap().iter().map(id_of));
        cursor = page["nextCursor"].as_str().map(str::to_owned);
    }
    let unique: BTreeSet<&String> = listed.iter().collect();
    assert_eq!(
        unique.len(),
        listed.len(),
        "a session listed twice: {listed:?}"
    );
    for id in ids.iter().filter(|id| **id != oldest) {
        assert!(
            listed.iter().any(|listed| listed == id),
            "{id} missing: {listed:?}"
        );
    }
    Ok(())
}

pub(super) async fn session_update_needs_the_current_revision(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let started = a.start_session("s-update").await;
    let revision = started["revision"].as_u64().unwrap();
    let patch = json!({"generation": {"maxOutputTokens": 512}});
    let stale = json!({"sessionId": "s-update", "expectedRevision": revision + 5, "patch": patch});
    let data = a
        .refused("session/update", stale, -32009, "revisionConflict")
        .await;
    assert_eq!(data["currentRevision"], revision, "{data}");
    let update = json!({"sessionId": "s-update", "expectedRevision": revision, "patch": patch});
    let updated = a.call("session/update", update.clone()).await;
    assert_eq!(updated["revision"], revision + 1);
    assert_eq!(updated["config"]["maxOutputTokens"], 512);
    assert_eq!(
        updated["config"]["model"], started["config"]["model"],
        "unset fields stay"
    );
    let read = a
        .call("session/read", json!({"sessionId": "s-update"}))
        .await;
    assert_eq!(read["revision"], revision + 1);
    assert_eq!(read["config"], updated["config"]);
    // The same update again names a revision that has moved on.
    let data = a
        .refused("session/update", update, -32009, "revisionConflict")
        .await;
    assert_eq!(data["currentRevision"], revision + 1);

    let zero = json!({"sessionId": "s-update", "expectedRevision": revision + 1,
                      "patch": {"runDefaults": {"maxTurns": 0}}});
    a.invalid("session/update", zero, "maxTurns", Some("invalidConfig"))
        .await;
    let unknown_field = json!({"sessionId": "s-update", "expectedRevision": revision + 1,
                               "patch": {"tools": {"filesystem": "edit"}}});
    a.invalid("session/update", unknown_field, "tools", None)
        .await;
    let missing = json!({"sessionId": "nope", "expectedRevision": 1, "patch": {}});
    a.refused("session/update", missing, -32004, "sessionNotFound")
        .await;
    let after = a
        .call("session/read", json!({"sessionId": "s-update"}))
        .await;
    assert_eq!(after["revision"], revision + 1, "refusals changed nothing");
    Ok(())
}

pub(super) async fn session_close_cancels_and_refuses_new_runs(h: Harness) -> anyhow::Result<()> {
    // The first generation is slow so the run is still going when the session closes.
    let script = json!({"turns": [{"text": "slow answer", "delay_ms": 3_000}, {"text": "never"}]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    a.start_session("s-close").await;
    let run_id = a.start_run("s-close", "sub-1", "go").await;
    a.wait_generating("s-close", &run_id).await;
    let closed = a
        .call("session/close", json!({"sessionId": "s-close"}))
        .await;
    assert_eq!(closed["status"], "closed");
    let events = a.follow("s-close", &run_id).await;
    assert_eq!(
        finished_status(&events, &run_id),
        "cancelled",
        "closing cancels the active run"
    );
    // Closing again is fine and changes nothing.
    let again = a
        .call("session/close", json!({"sessionId": "s-close"}))
        .await;
    assert_eq!(again["status"], "closed");
    let args = json!({"sessionId": "s-close", "submissionId": "sub-2",
                      "input": [{"type": "text", "text": "again"}]});
    a.refused("run/start", args, -32010, "closed").await;
    let last = events.last().unwrap()["cursor"].as_u64().unwrap();
    let read = a.read_session_at("s-close", last).await;
    assert_eq!(read["status"], "closed");
    assert_eq!(read["lastRun"]["status"], "cancelled");
    assert!(read.get("activeRun").is_none(), "{read}");
    a.refused(
        "session/close",
        json!({"sessionId": "nope"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    Ok(())
}
