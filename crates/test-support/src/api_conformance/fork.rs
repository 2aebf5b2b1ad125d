//! API conformance cases, forks (`session/fork`): a fork at a cursor has the
//! source's history up to it and nothing after (what the model is sent, shown
//! through a summary of the fork's context); a fork while a run is active starts
//! just before that run; forks are idle, take runs, are linked to their source in
//! `session/read`, count against the session quota and stay in their universe.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::Harness;
use super::fixtures::finished_status;
use super::{Case, Quotas, case};

const FORKED: &str = "lightspeed.core.session.forked";
const COMPACTED: &str = "lightspeed.core.context.compacted";

pub(super) const CASES: [Case; 2] = [
    case!(
        a_fork_at_a_cursor_has_the_history_up_to_it_and_nothing_after,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/fork",
            "session/read",
            "session/compact"
        ]
    ),
    case!(
        a_fork_while_a_run_is_active_starts_before_the_run,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/fork",
            "session/read"
        ]
    ),
];

/// Every turn answers only its own question: a request nothing matches (the
/// summariser's, once these are spent) is echoed, so a summary shows what the
/// fork's context holds.
fn answers() -> Value {
    json!({"turns": [
        {"text": "Answer one: blue.", "match": {"last_user_contains": "first question"}},
        {"text": "Answer two: green.", "match": {"last_user_contains": "second question"}},
        {"text": "Fork answer: red.", "match": {"last_user_contains": "fork question"}},
        {"text": "slow answer", "delay_ms": 3_000, "match": {"last_user_contains": "slow question"}},
    ]})
}

fn cursor_of(event: &Value) -> u64 {
    event["cursor"].as_u64().unwrap()
}

pub(super) async fn a_fork_at_a_cursor_has_the_history_up_to_it_and_nothing_after(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(answers()).await?;
    let a = ctx.a();
    a.start_session("s-src").await;
    let first = a.start_run("s-src", "sub-1", "first question").await;
    let events = a.follow("s-src", &first).await;
    assert_eq!(finished_status(&events, &first), "completed");
    let cursor = cursor_of(events.last().unwrap());
    let second = a.start_run("s-src", "sub-2", "second question").await;
    let events = a.follow("s-src", &second).await;
    assert_eq!(finished_status(&events, &second), "completed");
    let head = cursor_of(events.last().unwrap());

    // Refusals first: nothing is created by them.
    let fork = |cursor: Value, id: &str| json!({"sessionId": "s-src", "cursor": cursor, "forkSessionId": id});
    a.invalid(
        "session/fork",
        fork(json!(head + 1), "s-x"),
        "cursor",
        Some("cursorBeyondHead"),
    )
    .await;
    a.invalid(
        "session/fork",
        fork(json!(0), "s-x"),
        "cursor",
        Some("cursorBeforeOpen"),
    )
    .await;
    a.invalid(
        "session/fork",
        fork(json!(1), "bad id!"),
        "forkSessionId",
        Some("invalidId"),
    )
    .await;
    a.refused(
        "session/fork",
        fork(json!(1), "s-src"),
        -32009,
        "sessionExists",
    )
    .await;
    let nowhere = json!({"sessionId": "s-nowhere"});
    a.refused("session/fork", nowhere, -32004, "sessionNotFound")
        .await;
    // Another universe cannot fork it (nor learn that it exists).
    ctx.b()
        .refused(
            "session/fork",
            fork(json!(1), "s-b"),
            -32004,
            "sessionNotFound",
        )
        .await;

    let view = a.call("session/fork", fork(json!(cursor), "s-fork")).await;
    assert_eq!(view["sessionId"], "s-fork");
    assert_eq!(view["status"], "idle", "{view}");
    assert_eq!(
        view["forkedFrom"],
        json!({"sessionId": "s-src", "cursor": cursor})
    );
    assert_eq!(view["queuedRunIds"], json!([]));
    assert!(
        view.get("activeRun").is_none() && view.get("lastRun").is_none(),
        "{view}"
    );
    assert_eq!(view["eventCursor"], 1);
    let read = a.call("session/read", json!({"sessionId": "s-fork"})).await;
    assert_eq!(read["forkedFrom"], view["forkedFrom"]);
    a.refused(
        "session/fork",
        fork(json!(cursor), "s-fork"),
        -32009,
        "sessionExists",
    )
    .await;
    // Its log starts with the fork; the source's history stays the source's.
    let page = a
        .call(
            "session/events/read",
            json!({"sessionId": "s-fork", "cursor": 0}),
        )
        .await;
    let kinds: Vec<&Value> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["kind"])
        .collect();
    assert_eq!(kinds, [FORKED], "{page}");

    // The fork takes runs; its runs are its own.
    let on_fork = a.start_run("s-fork", "sub-1", "fork question").await;
    let events = a.follow("s-fork", &on_fork).await;
    assert_eq!(finished_status(&events, &on_fork), "completed");
    let after = cursor_of(events.last().unwrap());
    let text = serde_json::to_string(&events)?;
    assert!(text.contains("Fork answer: red.") && !text.contains("second question"));

    // What the fork's context holds: the first exchange and the fork's own, never
    // the source's later one (the summariser is sent it all, and echoed).
    a.call("session/compact", json!({"sessionId": "s-fork"}))
        .await;
    let (events, _) = a
        .read_until("s-fork", after, |e| e["kind"] == COMPACTED)
        .await;
    let summary = events
        .iter()
        .flat_map(|e| e["items"].as_array().cloned().unwrap_or_default())
        .find(|item| item["type"] == "compaction")
        .and_then(|item| item["summary"].as_str().map(str::to_owned))
        .expect("a summary of the fork's context");
    for kept in [
        "first question",
        "Answer one: blue.",
        "fork question",
        "Fork answer: red.",
    ] {
        assert!(summary.contains(kept), "{kept:?} missing from {summary}");
    }
    for later in ["second question", "Answer two: green."] {
        assert!(!summary.contains(later), "{later:?} leaked into {summary}");
    }

    // Without a cursor: at the source's newest event.
    let now = a
        .call(
            "session/fork",
            json!({"sessionId": "s-src", "forkSessionId": "s-now"}),
        )
        .await;
    assert_eq!(
        now["forkedFrom"],
        json!({"sessionId": "s-src", "cursor": head})
    );
    Ok(())
}

pub(super) async fn a_fork_while_a_run_is_active_starts_before_the_run(
    h: Harness,
) -> anyhow::Result<()> {
    let quotas = Quotas {
        sessions_per_universe_max: 2,
        ..Quotas::default()
    };
    let ctx = h.start_with_quotas(answers(), quotas).await?;
    let a = ctx.a();
    a.start_session("s-busy").await;
    let first = a.start_run("s-busy", "sub-1", "first question").await;
    let events = a.follow("s-busy", &first).await;
    let idle_at = cursor_of(events.last().unwrap());
    let slow = a.start_run("s-busy", "sub-2", "slow question").await;
    a.wait_generating("s-busy", &slow).await;

    let view = a
        .call(
            "session/fork",
            json!({"sessionId": "s-busy", "forkSessionId": "s-safe"}),
        )
        .await;
    let (events, _) = a
        .read_until("s-busy", 0, |e| {
            e["kind"] == "lightspeed.core.run.started" && e["runId"] == slow
        })
        .await;
    let started_at = cursor_of(events.last().unwrap());
    let forked_at = view["forkedFrom"]["cursor"].as_u64().unwrap();
    assert!(
        (idle_at..started_at).contains(&forked_at),
        "forked at {forked_at}: the last point between runs is in {idle_at}..{started_at}"
    );
    assert_eq!(view["status"], "idle", "{view}");
    assert!(
        view.get("activeRun").is_none(),
        "the active run stays the source's"
    );
    assert_eq!(view["queuedRunIds"], json!([]));

    // The universe now holds its quota of two sessions.
    let data = a
        .refused(
            "session/fork",
            json!({"sessionId": "s-busy", "forkSessionId": "s-third"}),
            -32010,
            "quotaExceeded",
        )
        .await;
    assert_eq!(data["quota"], "sessions", "{data}");

    // The fork is usable at once, while the source's run goes on.
    let on_fork = a.start_run("s-safe", "sub-1", "fork question").await;
    let events = a.follow("s-safe", &on_fork).await;
    assert_eq!(finished_status(&events, &on_fork), "completed");
    assert!(!serde_json::to_string(&events)?.contains("slow"));
    let events = a.follow("s-busy", &slow).await;
    assert_eq!(finished_status(&events, &slow), "completed");
    let read = a.call("session/read", json!({"sessionId": "s-safe"})).await;
    assert_eq!(read["forkedFrom"]["sessionId"], "s-busy");
    Ok(())
}
