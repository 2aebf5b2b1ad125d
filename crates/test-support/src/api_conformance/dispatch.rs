//! API conformance cases, the operator's hold on work: a paused universe queues
//! runs (in busy and idle sessions alike, and those its sessions' own wake-ups
//! request) and starts them on resume, its runs in
//! flight are listed with age and cost and cancelled by the operator; universes are
//! created and deleted (keys revoked, sessions gone); events are ingested once per
//! dedupe key, into a session, a routed session or a fresh one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::{Value, json};

use super::client::{Harness, RUN_FINISHED};
use super::fixtures::{final_assistant_text, finished_status, session_config};
use super::{Case, case};

pub(super) const CASES: [Case; 4] = [
    case!(
        a_paused_universe_queues_runs_and_starts_them_on_resume,
        [
            "operator/dispatch/pause",
            "operator/dispatch/resume",
            "operator/runs/list",
            "operator/runs/cancel",
            "operator/universes/read",
            "operator/audit/list",
            "session/start",
            "run/start",
            "session/events/read",
            "session/read"
        ]
    ),
    case!(
        a_paused_universe_holds_the_run_of_a_wake_up_falling_due,
        [
            "operator/dispatch/pause",
            "operator/dispatch/resume",
            "operator/runs/list",
            "session/start",
            "run/start",
            "session/events/read",
            "session/read"
        ]
    ),
    case!(
        operators_create_and_delete_universes,
        [
            "operator/universes/create",
            "operator/universes/delete",
            "operator/universes/list",
            "operator/universes/read",
            "operator/api-keys/create",
            "session/start",
            "session/list"
        ]
    ),
    case!(
        events_are_ingested_once_per_dedupe_key,
        [
            "events/ingest",
            "session/start",
            "run/start",
            "session/read",
            "session/events/read"
        ]
    ),
];

fn run_of<'a>(list: &'a Value, session_id: &str, run_id: &str) -> &'a Value {
    list["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|run| run["sessionId"] == session_id && run["runId"] == run_id)
        .unwrap_or_else(|| panic!("{session_id}/{run_id} in {list}"))
}

pub(super) async fn a_paused_universe_queues_runs_and_starts_them_on_resume(
    h: Harness,
) -> anyhow::Result<()> {
    let script = json!({"turns": [
        {"text": "first, slowly", "delay_ms": 2_500},
        {"text": "after the resume"}
    ]});
    let ctx = h.start(script).await?;
    let operator_key = ctx.stack().operator_key.clone().expect("an operator key");
    let operator = ctx.http(Some(&operator_key));
    let universe = ctx.stack().a.universe_id.clone();
    let a = ctx.a();

    a.refused(
        "operator/dispatch/pause",
        json!({"universeId": universe}),
        -32000,
        "operatorKeyRequired",
    )
    .await;

    a.start_session("s-busy").await;
    let first = a.start_run("s-busy", "sub-1", "one").await;
    a.wait_generating("s-busy", &first).await;

    let paused = operator
        .call("operator/dispatch/pause", json!({"universeId": universe}))
        .await;
    assert_eq!(paused["paused"], true, "{paused}");
    assert!(paused["pausedAtMs"].as_u64().unwrap() > 0, "{paused}");
    assert_eq!(paused["sessions"], 1, "the busy session was held: {paused}");

    // Runs requested while paused queue: behind the active run, and in an idle
    // session that had nothing in flight when the pause began.
    let second = a.start_run("s-busy", "sub-2", "two").await;
    a.start_session("s-idle").await;
    let third = a.start_run("s-idle", "sub-3", "three").await;

    let list = operator
        .call("operator/runs/list", json!({"universeId": universe}))
        .await;
    assert_eq!(list["dispatch"]["paused"], true, "{list}");
    // The first run may be over already: a host may admit the pause only between
    // the steps of a run (the in-process one does), never during a generation.
    let runs = list["runs"].as_array().unwrap();
    let busy_first = |run: &&Value| run["sessionId"] == "s-busy" && run["runId"] == first.as_str();
    if let Some(active) = runs.iter().find(busy_first) {
        assert_eq!(active["state"], "active", "{list}");
        let started = active["startedAtMs"].as_u64().unwrap();
        assert!(
            started >= active["requestedAtMs"].as_u64().unwrap(),
            "{active}"
        );
        assert!(active["usage"]["costUsd"].is_number(), "{active}");
    }
    for (session, run) in [("s-busy", &second), ("s-idle", &third)] {
        let queued = run_of(&list, session, run);
        assert_eq!(queued["state"], "queued", "{list}");
        assert!(queued["requestedAtMs"].as_u64().unwrap() > 0, "{queued}");
        assert!(queued.get("startedAtMs").is_none(), "{queued}");
    }
    let read = operator
        .call("operator/universes/read", json!({"universeId": universe}))
        .await;
    assert_eq!(read["dispatch"]["paused"], true, "{read}");
    assert!(
        read["usage"]["runsInFlight"].as_u64().unwrap() >= 2,
        "{read}"
    );

    // The active run finishes; nothing queued starts.
    let events = a.follow("s-busy", &first).await;
    assert_eq!(finished_status(&events, &first), "completed");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    for (session, run) in [("s-busy", &second), ("s-idle", &third)] {
        let view = a.call("session/read", json!({"sessionId": session})).await;
        assert_eq!(view["dispatchPaused"], true, "{view}");
        assert!(view.get("activeRun").is_none(), "{view}");
        assert_eq!(view["queuedRunIds"], json!([run]), "{view}");
    }

    // The operator cancels one queued run, then resumes: the other starts.
    let cancelled = operator
        .call(
            "operator/runs/cancel",
            json!({"universeId": universe, "sessionId": "s-idle", "runId": third}),
        )
        .await;
    assert_eq!(cancelled["runId"], third.as_str());
    let events = a.follow("s-idle", &third).await;
    assert_eq!(finished_status(&events, &third), "cancelled");
    operator
        .refused(
            "operator/runs/cancel",
            json!({"universeId": universe, "sessionId": "s-idle", "runId": third}),
            -32004,
            "unknownRun",
        )
        .await;

    let resumed = operator
        .call("operator/dispatch/resume", json!({"universeId": universe}))
        .await;
    assert_eq!(resumed["paused"], false, "{resumed}");
    assert!(resumed.get("pausedAtMs").is_none(), "{resumed}");
    assert_eq!(resumed["sessions"], 1, "s-busy was released: {resumed}");
    let events = a.follow("s-busy", &second).await;
    assert_eq!(finished_status(&events, &second), "completed");
    let last = events.last().unwrap()["cursor"].as_u64().unwrap();
    let view = a.read_session_at("s-busy", last).await;
    assert!(view.get("dispatchPaused").is_none(), "{view}");

    let list = operator
        .call("operator/runs/list", json!({"universeId": universe}))
        .await;
    assert_eq!(list["runs"], json!([]), "{list}");
    assert_eq!(list["dispatch"]["paused"], false, "{list}");
    operator
        .invalid(
            "operator/dispatch/pause",
            json!({"universeId": ""}),
            "universeId",
            Some("invalidUniverseId"),
        )
        .await;

    let audit = operator
        .call("operator/audit/list", json!({"limit": 50}))
        .await;
    let entries = audit["entries"].as_array().unwrap();
    for method in [
        "operator/dispatch/pause",
        "operator/dispatch/resume",
        "operator/runs/cancel",
    ] {
        assert!(
            entries
                .iter()
                .any(|entry| entry["method"] == method && entry["code"] == 0),
            "{method} audited: {audit}"
        );
    }
    let cancel = entries
        .iter()
        .find(|entry| entry["method"] == "operator/runs/cancel" && entry["code"] == 0)
        .unwrap();
    assert_eq!(
        cancel["target"],
        format!("run:{universe}/{third}"),
        "{cancel}"
    );
    Ok(())
}

pub(super) async fn a_paused_universe_holds_the_run_of_a_wake_up_falling_due(
    h: Harness,
) -> anyhow::Result<()> {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "wake_me_at",
                         "arguments": {"in_seconds": 6, "note": "look again"}}]},
        {"text": "looked again after the resume"}
    ]});
    let ctx = h.start(script).await?;
    let operator_key = ctx.stack().operator_key.clone().expect("an operator key");
    let operator = ctx.http(Some(&operator_key));
    let universe = ctx.stack().a.universe_id.clone();
    let a = ctx.a();
    let mut config = session_config("none");
    config["tools"]["timers"] = json!(true);
    a.call(
        "session/start",
        json!({"sessionId": "s-wake", "config": config}),
    )
    .await;
    let first = a.start_run("s-wake", "sub-1", "Look in six seconds.").await;
    let events = a.follow("s-wake", &first).await;
    assert_eq!(finished_status(&events, &first), "completed");

    // Nothing is in flight in the session, but its wake-up would request a run:
    // the pause reaches it.
    let paused = operator
        .call("operator/dispatch/pause", json!({"universeId": universe}))
        .await;
    assert_eq!(
        paused["sessions"], 1,
        "the session waiting to wake was held: {paused}"
    );
    let cursor = events.last().unwrap()["cursor"].as_u64().unwrap();
    let (events, _) = a
        .read_until("s-wake", cursor, |e| {
            e["kind"] == "lightspeed.core.run.requested"
        })
        .await;
    let woken = events.last().unwrap()["runId"].as_str().unwrap().to_owned();
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "lightspeed.core.session.wake_up_ended"
                && e["wakeUp"]["state"] == "fired"),
        "{events:#?}"
    );
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let view = a.call("session/read", json!({"sessionId": "s-wake"})).await;
    assert_eq!(view["dispatchPaused"], true, "{view}");
    assert!(view.get("activeRun").is_none(), "held, not started: {view}");
    assert_eq!(view["queuedRunIds"], json!([woken]), "{view}");
    let list = operator
        .call("operator/runs/list", json!({"universeId": universe}))
        .await;
    assert_eq!(run_of(&list, "s-wake", &woken)["state"], "queued", "{list}");

    let resumed = operator
        .call("operator/dispatch/resume", json!({"universeId": universe}))
        .await;
    assert_eq!(resumed["sessions"], 1, "s-wake was released: {resumed}");
    let events = a.follow("s-wake", &woken).await;
    assert_eq!(finished_status(&events, &woken), "completed");
    assert_eq!(
        final_assistant_text(&events),
        "looked again after the resume"
    );
    Ok(())
}

pub(super) async fn operators_create_and_delete_universes(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let operator_key = ctx.stack().operator_key.clone().expect("an operator key");
    let operator = ctx.http(Some(&operator_key));
    // Universe ids a Postgres deployment accepts.
    let universe = uuid::Uuid::new_v4().to_string();

    let created = operator
        .call(
            "operator/universes/create",
            json!({"universeId": universe, "name": "tenant one"}),
        )
        .await;
    assert_eq!(created["name"], "tenant one", "{created}");
    assert_eq!(created["activeKeys"], 0, "{created}");
    operator
        .refused(
            "operator/universes/create",
            json!({"universeId": universe}),
            -32009,
            "universeExists",
        )
        .await;
    let listed = operator.call("operator/universes/list", json!({})).await;
    assert!(
        listed["universes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|view| view["universeId"] == universe.as_str() && view["name"] == "tenant one"),
        "{listed}"
    );

    let minted = operator
        .call("operator/api-keys/create", json!({"universeId": universe}))
        .await;
    let tenant = ctx.http(Some(minted["key"].as_str().unwrap()));
    let started = tenant
        .call(
            "session/start",
            json!({"sessionId": "s-doomed", "config": session_config("none")}),
        )
        .await;
    assert_eq!(started["sessionId"], "s-doomed");

    operator
        .invalid(
            "operator/universes/delete",
            json!({"universeId": universe, "confirm": "yes"}),
            "confirm",
            Some("confirmationRequired"),
        )
        .await;
    let deleted = operator
        .call(
            "operator/universes/delete",
            json!({"universeId": universe, "confirm": universe}),
        )
        .await;
    assert_eq!(deleted["revokedKeys"], 1, "{deleted}");
    assert_eq!(deleted["deletedSessions"], 1, "{deleted}");
    tenant
        .refused("session/list", json!({}), -32000, "keyRevoked")
        .await;
    let read = operator
        .call("operator/universes/read", json!({"universeId": universe}))
        .await;
    assert!(read["deletedAtMs"].as_u64().is_some(), "{read}");
    assert_eq!(read["activeKeys"], 0, "{read}");
    assert_eq!(read["revokedKeys"], 1, "{read}");
    operator
        .refused(
            "operator/universes/delete",
            json!({"universeId": "no-such-universe", "confirm": "no-such-universe"}),
            -32004,
            "universeNotFound",
        )
        .await;
    Ok(())
}

pub(super) async fn events_are_ingested_once_per_dedupe_key(h: Harness) -> anyhow::Result<()> {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "wake_me_at",
                         "arguments": {"in_seconds": 86400, "note": "check the door"}}],
         "match": {"last_user_contains": "DOOR-WATCH"}},
        {"text": "handled one"},
        {"text": "handled two"},
        {"text": "handled three"},
        {"text": "handled four"},
        {"text": "handled five"},
        {"text": "handled six"}
    ]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    let template = session_config("none");

    // A fresh session per event; the same delivery again is a duplicate.
    let event = json!({
        "source": "sensor:door-3", "eventId": "e-1", "eventType": "opened",
        "payload": {"door": 3, "at": "12:00"},
        "target": {"type": "newSession", "template": template}
    });
    let first = a.call("events/ingest", event.clone()).await;
    assert_eq!(first["duplicate"], false, "{first}");
    assert_eq!(first["steered"], false, "{first}");
    let session = first["sessionId"].as_str().unwrap().to_owned();
    let run = first["runId"].as_str().unwrap().to_owned();
    let again = a.call("events/ingest", event.clone()).await;
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["sessionId"], session.as_str(), "{again}");
    assert_eq!(again["runId"], run.as_str(), "{again}");
    assert_eq!(again["receivedAtMs"], first["receivedAtMs"], "{again}");
    let events = a.follow(&session, &run).await;
    assert_eq!(finished_status(&events, &run), "completed");
    let input = events
        .iter()
        .flat_map(|event| event["items"].as_array().cloned().unwrap_or_default())
        .find(|item| item["type"] == "userMessage")
        .unwrap();
    let text = input["text"].as_str().unwrap();
    assert!(
        text.contains("opened") && text.contains("sensor:door-3"),
        "{text}"
    );
    assert!(
        text.contains("\"door\": 3"),
        "the payload is the input: {text}"
    );

    // Routed: two events with one routing key share a session, each a run.
    let routed = |event_id: &str| {
        json!({"source": "github", "eventId": event_id, "payload": {"n": event_id},
               "target": {"type": "route", "routingKey": "acme/widgets", "template": template}})
    };
    let one = a.call("events/ingest", routed("d-1")).await;
    let two = a.call("events/ingest", routed("d-2")).await;
    assert_eq!(one["sessionId"], two["sessionId"], "{one} {two}");
    assert_ne!(one["runId"], two["runId"], "{one} {two}");
    let routed_session = two["sessionId"].as_str().unwrap().to_owned();
    let events = a
        .follow(&routed_session, two["runId"].as_str().unwrap())
        .await;
    let runs = events
        .iter()
        .filter(|event| event["kind"] == RUN_FINISHED)
        .count();
    assert_eq!(runs, 2, "{events:#?}");

    // Another key for the same event id is another event; a named session takes it.
    let keyed = json!({"source": "github", "eventId": "d-1", "dedupeKey": "d-1-retry",
                       "payload": {}, "target": {"type": "session", "sessionId": routed_session}});
    let three = a.call("events/ingest", keyed).await;
    assert_eq!(three["duplicate"], false, "{three}");
    assert_eq!(three["sessionId"], routed_session.as_str());

    // Refused before anything is claimed: a bad source, an unknown session.
    a.invalid(
        "events/ingest",
        json!({"source": "no spaces", "eventId": "x", "payload": {},
               "target": {"type": "session", "sessionId": routed_session}}),
        "source",
        Some("invalidEvent"),
    )
    .await;
    let unknown = json!({"source": "github", "eventId": "e-unknown", "payload": {},
                         "target": {"type": "session", "sessionId": "s-none"}});
    a.refused("events/ingest", unknown.clone(), -32004, "sessionNotFound")
        .await;
    a.refused("events/ingest", unknown, -32004, "sessionNotFound")
        .await;

    // `wakeUp`: the event wakes a session's pending wake-up long before its time.
    let mut timers = session_config("none");
    timers["tools"]["timers"] = json!(true);
    a.call(
        "session/start",
        json!({"sessionId": "s-watch", "config": timers}),
    )
    .await;
    let watching = a
        .start_run("s-watch", "sub-watch", "DOOR-WATCH please")
        .await;
    a.follow("s-watch", &watching).await;
    let view = a
        .call("session/read", json!({"sessionId": "s-watch"}))
        .await;
    assert_eq!(view["wakeUps"].as_array().map(Vec::len), Some(1), "{view}");
    let woke = a
        .call(
            "events/ingest",
            json!({"source": "sensor:door-3", "eventId": "e-door", "payload": {"door": "open"},
                   "target": {"type": "session", "sessionId": "s-watch"}, "policy": "wakeUp"}),
        )
        .await;
    let woken = woke["runId"].as_str().unwrap().to_owned();
    assert_ne!(woken, watching, "{woke}");
    let events = a.follow("s-watch", &woken).await;
    assert_eq!(finished_status(&events, &woken), "completed");
    let texts: Vec<String> = events
        .iter()
        .filter(|event| event["runId"] == woken.as_str())
        .flat_map(|event| event["items"].as_array().cloned().unwrap_or_default())
        .filter(|item| item["type"] == "userMessage")
        .filter_map(|item| item["text"].as_str().map(str::to_owned))
        .collect();
    assert!(
        texts.iter().any(|text| text.contains("check the door"))
            && texts.iter().any(|text| text.contains("\"door\": \"open\"")),
        "the wake-up's note, then the event: {texts:?}"
    );
    let last = events.last().unwrap()["cursor"].as_u64().unwrap();
    let view = a.read_session_at("s-watch", last).await;
    assert!(view.get("wakeUps").is_none(), "the wake-up fired: {view}");
    Ok(())
}
