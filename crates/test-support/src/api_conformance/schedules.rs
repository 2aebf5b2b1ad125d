//! API conformance cases, schedules: records created, validated before anything is
//! stored, read with their next firing, updated at a revision, paused, resumed,
//! deleted, capped per universe and kept apart by universe; firings that start runs
//! on a session and on a fresh session per firing, stopped by a pause; and the
//! agent's own `schedule_create` tool.
//!
//! Coalescing after downtime needs a worker to stop: the Temporal end-to-end test
//! (`temporal-server/tests/temporal/schedules.rs`) checks it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{Conn, Harness};
use super::fixtures::session_config;
use super::{Case, Quotas, case};

pub(super) const CASES: [Case; 2] = [
    case!(
        schedules_are_validated_versioned_capped_and_kept_apart,
        [
            "session/start",
            "schedule/create",
            "schedule/read",
            "schedule/list",
            "schedule/update",
            "schedule/pause",
            "schedule/delete"
        ]
    ),
    case!(
        schedules_start_runs_until_paused_and_agents_schedule_themselves,
        [
            "session/start",
            "session/read",
            "schedule/create",
            "schedule/read",
            "schedule/list",
            "schedule/pause",
            "run/start",
            "session/events/read"
        ]
    ),
];

/// Schedules may fire every second here (the default floor is a minute).
fn quotas(schedules_max: usize) -> Quotas {
    Quotas {
        schedules: schedule_registry::catalog::ScheduleLimits {
            schedules_per_universe_max: schedules_max,
            interval_seconds_min: 1,
        },
        ..Quotas::default()
    }
}

fn every(seconds: u64) -> Value {
    json!({"type": "interval", "everySeconds": seconds})
}

fn on_session(session_id: &str) -> Value {
    json!({"type": "session", "sessionId": session_id})
}

pub(super) async fn schedules_are_validated_versioned_capped_and_kept_apart(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start_with_quotas(json!({"turns": []}), quotas(2)).await?;
    let (a, b) = (ctx.a(), ctx.b());
    a.start_session("s1").await;
    // Created paused, so nothing fires while the case looks at it.
    let created = a
        .call(
            "schedule/create",
            json!({"scheduleId": "daily", "name": "Morning digest",
                   "spec": {"type": "cron", "expression": "30 9 * * MON-FRI", "timezone": "Europe/Paris"},
                   "target": on_session("s1"), "input": "Summarise the inbox.", "paused": true}),
        )
        .await;
    assert_eq!(created["revision"], 1);
    assert_eq!(created["overlap"], "skip");
    assert_eq!(created["firings"], 0);
    assert!(created.get("nextFiringAtMs").is_none(), "paused: {created}");
    assert_eq!(
        a.call("schedule/read", json!({"scheduleId": "daily"}))
            .await,
        created
    );

    // Every refusal has its code, and none stores anything.
    for (spec, why) in [
        (every(0), "zero"),
        (json!({"type": "cron", "expression": "0 0 L * *"}), "L"),
        (
            json!({"type": "cron", "expression": "0 0 1 * MON"}),
            "both days",
        ),
        (json!({"type": "cron", "expression": "* * * *"}), "4 fields"),
        (
            json!({"type": "cron", "expression": "0 9 * * *", "timezone": "Mars/Olympus"}),
            "zone",
        ),
    ] {
        let refusal = a
            .refused(
                "schedule/create",
                json!({"spec": spec, "target": on_session("s1"), "input": "x"}),
                -32602,
                "invalidSchedule",
            )
            .await;
        assert!(refusal.is_object(), "{why}");
    }
    a.refused(
        "schedule/create",
        json!({"spec": every(60), "target": on_session("s1"), "input": "  "}),
        -32602,
        "invalidSchedule",
    )
    .await;
    a.refused(
        "schedule/create",
        json!({"scheduleId": "Bad Id", "spec": every(60), "target": on_session("s1"), "input": "x"}),
        -32602,
        "invalidSchedule",
    )
    .await;
    a.refused(
        "schedule/create",
        json!({"spec": every(60), "target": on_session("nobody"), "input": "x"}),
        -32004,
        "sessionNotFound",
    )
    .await;
    a.refused(
        "schedule/create",
        json!({"scheduleId": "daily", "spec": every(60), "target": on_session("s1"), "input": "x"}),
        -32009,
        "scheduleExists",
    )
    .await;

    // Updated at a revision; a stale one is a conflict naming the current one.
    let updated = a
        .call(
            "schedule/update",
            json!({"scheduleId": "daily", "expectedRevision": 1, "spec": every(3600),
                   "overlap": "bufferOne"}),
        )
        .await;
    assert_eq!(updated["revision"], 2);
    assert_eq!(updated["spec"], every(3600));
    assert_eq!(updated["overlap"], "bufferOne");
    let stale = a
        .refused(
            "schedule/update",
            json!({"scheduleId": "daily", "expectedRevision": 1, "input": "late"}),
            -32009,
            "scheduleConflict",
        )
        .await;
    assert_eq!(stale["currentRevision"], 2, "{stale}");

    // Resumed: it says when it fires next (on the hour, as intervals align).
    let resumed = a
        .call(
            "schedule/pause",
            json!({"scheduleId": "daily", "paused": false}),
        )
        .await;
    assert_eq!(resumed["paused"], false);
    let next = resumed["nextFiringAtMs"].as_u64().unwrap();
    assert_eq!(next % 3_600_000, 0, "{resumed}");
    let paused = a
        .call(
            "schedule/pause",
            json!({"scheduleId": "daily", "paused": true}),
        )
        .await;
    assert!(paused.get("nextFiringAtMs").is_none());
    assert_eq!(paused["revision"], 4);

    // The cap: two per universe here.
    a.call(
        "schedule/create",
        json!({"scheduleId": "second", "spec": every(60), "target": on_session("s1"),
               "input": "x", "paused": true}),
    )
    .await;
    let over = a
        .refused(
            "schedule/create",
            json!({"spec": every(60), "target": on_session("s1"), "input": "x"}),
            -32010,
            "quotaExceeded",
        )
        .await;
    assert_eq!(over["quota"], "schedules", "{over}");
    let ids = |listed: &Value| -> Vec<String> {
        listed["schedules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["scheduleId"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        ids(&a.call("schedule/list", json!({})).await),
        ["daily", "second"]
    );

    // Another universe sees none of them, and has a cap of its own.
    assert_eq!(
        b.call("schedule/list", json!({})).await["schedules"],
        json!([])
    );
    b.refused(
        "schedule/read",
        json!({"scheduleId": "daily"}),
        -32004,
        "scheduleNotFound",
    )
    .await;
    assert_eq!(
        b.call("schedule/delete", json!({"scheduleId": "daily"}))
            .await["deleted"],
        false
    );

    let deleted = a
        .call("schedule/delete", json!({"scheduleId": "daily"}))
        .await;
    assert_eq!(deleted, json!({"deleted": true}));
    a.refused(
        "schedule/read",
        json!({"scheduleId": "daily"}),
        -32004,
        "scheduleNotFound",
    )
    .await;
    a.refused(
        "schedule/update",
        json!({"scheduleId": "daily", "input": "x"}),
        -32004,
        "scheduleNotFound",
    )
    .await;
    a.call("schedule/delete", json!({"scheduleId": "second"}))
        .await;
    assert_eq!(
        a.call("schedule/list", json!({})).await["schedules"],
        json!([])
    );
    Ok(())
}

/// Reads schedule `id` until `done` holds (within a generous deadline).
async fn read_until(conn: &Conn, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let read = conn.call("schedule/read", json!({"scheduleId": id})).await;
        if done(&read) {
            return read;
        }
        assert!(
            Instant::now() < deadline,
            "schedule {id} never got there: {read}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn started(read: &Value) -> bool {
    read["lastFiring"].get("runId").is_some()
}

pub(super) async fn schedules_start_runs_until_paused_and_agents_schedule_themselves(
    h: Harness,
) -> anyhow::Result<()> {
    // The agent's first turn schedules itself; every later generation answers.
    let mut turns = vec![
        json!({"tool_calls": [{"name": "schedule_create", "arguments":
            {"every_seconds": 3600, "input": "Hourly check.", "name": "hourly"}}]}),
        json!({"text": "Scheduled."}),
    ];
    turns.extend((0..40).map(|_| json!({"text": "Tick."})));
    let ctx = h
        .start_with_quotas(json!({"turns": turns}), quotas(10))
        .await?;
    let a = ctx.a();

    // The agent's own schedule, through its tool.
    let mut config = session_config("none");
    config["tools"]["schedules"] = json!(true);
    a.call(
        "session/start",
        json!({"sessionId": "agent", "config": config}),
    )
    .await;
    let run = a.start_run("agent", "sub-1", "Check hourly, please.").await;
    a.follow("agent", &run).await;
    let listed = a.call("schedule/list", json!({})).await;
    let mine = &listed["schedules"][0];
    assert_eq!(mine["createdBySession"], "agent", "{listed}");
    assert_eq!(mine["target"], on_session("agent"));
    assert_eq!(mine["spec"], every(3600));
    assert_eq!(mine["input"], "Hourly check.");

    // Every second on an existing session: runs start, each under its firing.
    a.start_session("s1").await;
    a.call(
        "schedule/create",
        json!({"scheduleId": "tick", "spec": every(1), "target": on_session("s1"),
               "input": "Tick?"}),
    )
    .await;
    let read = read_until(&a, "tick", |read| {
        read["firings"].as_u64() >= Some(2) && started(read)
    })
    .await;
    let last = &read["lastFiring"];
    assert_eq!(last["sessionId"], "s1");
    assert_eq!(last["scheduledAtMs"].as_u64().unwrap() % 1_000, 0, "{read}");
    let run_id = last["runId"].as_str().unwrap().to_owned();
    let events = a.follow("s1", &run_id).await;
    assert!(!events.is_empty());

    // Paused: no firing more, however long.
    let paused = a
        .call(
            "schedule/pause",
            json!({"scheduleId": "tick", "paused": true}),
        )
        .await;
    let firings = a.call("schedule/read", json!({"scheduleId": "tick"})).await["firings"].clone();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let after = a.call("schedule/read", json!({"scheduleId": "tick"})).await;
    assert_eq!(
        after["firings"], firings,
        "fired while paused: {paused} → {after}"
    );

    // A fresh session per firing, started from the template.
    a.call(
        "schedule/create",
        json!({"scheduleId": "fresh", "spec": every(1),
               "target": {"type": "newSession", "config": session_config("none")},
               "input": "Hello, new session."}),
    )
    .await;
    let read = read_until(&a, "fresh", started).await;
    let session = read["lastFiring"]["sessionId"].as_str().unwrap().to_owned();
    assert!(session.starts_with("sched-fresh-"), "{read}");
    let view = a.call("session/read", json!({"sessionId": session})).await;
    assert_eq!(view["sessionId"], session.as_str());
    a.call(
        "schedule/pause",
        json!({"scheduleId": "fresh", "paused": true}),
    )
    .await;
    Ok(())
}
