//! API conformance cases, runs: the handshake and a run over HTTP, idempotent submissions and their
//! conflicts, queued runs, cancel and steer of a running run.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;

use super::client::{Harness, RUN_FINISHED};
use super::fixtures::{final_assistant_text, finished_status, items, text_input};
use super::{Case, case};

const RUN_STARTED: &str = "lightspeed.core.run.started";

pub(super) const CASES: [Case; 5] = [
    case!(
        run_over_http_completes,
        [
            "initialize",
            "session/start",
            "run/start",
            "session/events/read",
            "session/read",
            "session/list"
        ]
    ),
    case!(
        run_start_is_idempotent_per_submission,
        [
            "blob/put",
            "session/start",
            "run/start",
            "session/events/read",
            "session/read"
        ]
    ),
    case!(
        run_cancel_stops_a_running_run,
        [
            "session/start",
            "run/start",
            "run/cancel",
            "session/events/read",
            "session/read"
        ]
    ),
    case!(
        run_steer_adds_input_to_a_running_run,
        [
            "session/start",
            "run/start",
            "run/steer",
            "session/events/read"
        ]
    ),
    case!(
        a_failed_generation_fails_the_run,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/read"
        ]
    ),
];

pub(super) async fn run_over_http_completes(h: Harness) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [{"reasoning": "Greet.", "text": "Hello there!"}]}))
        .await?;
    let a = ctx.a();
    let init = a
        .call("initialize", json!({"clientName": "conformance"}))
        .await;
    assert_eq!(init["universeId"], ctx.stack().a.universe_id.as_str());
    assert_eq!(init["protocolVersion"], api::PROTOCOL_VERSION);
    let served: Vec<&str> = init["methods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    for name in super::contract_methods()? {
        if !name.contains(' ') {
            assert!(
                served.contains(&name.as_str()),
                "initialize lists {name}: {served:?}"
            );
        }
    }
    assert_eq!(init["notifications"], json!(["session/notification"]));

    a.start_session("s-run").await;
    let run = a
        .call(
            "run/start",
            json!({"sessionId": "s-run", "submissionId": "sub-1", "input": text_input("hi")}),
        )
        .await;
    assert_eq!(run["duplicate"], false);
    assert!(run["eventCursor"].as_u64().unwrap() > 0);
    let run_id = run["runId"].as_str().unwrap();
    let events = a.follow("s-run", run_id).await;
    assert_eq!(finished_status(&events, run_id), "completed");
    assert_eq!(final_assistant_text(&events), "Hello there!");
    let items = items(&events);
    assert!(items.iter().any(|i| i["type"] == "reasoning"), "{items:#?}");
    assert!(
        items
            .iter()
            .any(|i| i["type"] == "userMessage" && i["text"] == "hi"),
        "{items:#?}"
    );
    let cursors: Vec<u64> = events
        .iter()
        .map(|e| e["cursor"].as_u64().unwrap())
        .collect();
    assert!(cursors.windows(2).all(|w| w[0] < w[1]), "{cursors:?}");

    let read = a.read_session_at("s-run", *cursors.last().unwrap()).await;
    assert_eq!(read["status"], "idle");
    assert_eq!(read["lastRun"]["runId"], run_id);
    assert_eq!(read["lastRun"]["status"], "completed");
    assert!(
        read["usage"]["outputTokens"].as_u64().unwrap() > 0,
        "{read}"
    );
    assert!(read["eventCursor"].as_u64().unwrap() >= *cursors.last().unwrap());
    let list = a.call("session/list", json!({})).await;
    assert_eq!(list["sessions"][0]["sessionId"], "s-run");
    Ok(())
}

pub(super) async fn run_start_is_idempotent_per_submission(h: Harness) -> anyhow::Result<()> {
    let script = json!({"turns": [{"text": "one", "delay_ms": 500}, {"text": "two"}]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    a.start_session("s-idem").await;
    let args =
        json!({"sessionId": "s-idem", "submissionId": "sub-1", "input": text_input("hello")});
    let first = a.call("run/start", args.clone()).await;
    let again = a.call("run/start", args).await;
    assert_eq!(again["runId"], first["runId"]);
    assert_eq!(
        (first["duplicate"].as_bool(), again["duplicate"].as_bool()),
        (Some(false), Some(true))
    );
    let different =
        json!({"sessionId": "s-idem", "submissionId": "sub-1", "input": text_input("different")});
    a.refused("run/start", different, -32009, "submissionConflict")
        .await;
    // Another submission while the first runs is queued behind it.
    let second = a.start_run("s-idem", "sub-2", "next").await;
    assert_ne!(json!(second), first["runId"]);
    let first_id = first["runId"].as_str().unwrap();
    let events = a.follow("s-idem", &second).await;
    assert_eq!(finished_status(&events, first_id), "completed");
    assert_eq!(finished_status(&events, &second), "completed");
    let lifecycle = |kind: &str, run: &str| format!("{kind} {run}");
    let order: Vec<String> = events
        .iter()
        .filter(|e| e["kind"] == RUN_STARTED || e["kind"] == RUN_FINISHED)
        .map(|e| lifecycle(e["kind"].as_str().unwrap(), e["runId"].as_str().unwrap()))
        .collect();
    let expected = [
        lifecycle(RUN_STARTED, first_id),
        lifecycle(RUN_FINISHED, first_id),
        lifecycle(RUN_STARTED, &second),
        lifecycle(RUN_FINISHED, &second),
    ];
    assert_eq!(order, expected, "queued runs run one after the other");
    let last = events.last().unwrap()["cursor"].as_u64().unwrap();
    let read = a.read_session_at("s-idem", last).await;
    assert_eq!(read["lastRun"]["runId"], json!(second));
    assert_eq!(read["queuedRunIds"], json!([]));

    let bad = |submission: serde_json::Value, input: serde_json::Value| json!({"sessionId": "s-idem", "submissionId": submission, "input": input});
    a.invalid(
        "run/start",
        bad(json!(7), text_input("x")),
        "submissionId",
        None,
    )
    .await;
    a.invalid(
        "run/start",
        bad(json!("sub-3"), json!([])),
        "input",
        Some("invalidInput"),
    )
    .await;
    a.invalid(
        "run/start",
        bad(json!("bad id!"), text_input("x")),
        "submissionId",
        Some("invalidId"),
    )
    .await;
    // Input is bounded by the stored sizes before anything is read: a text item
    // over 256 KiB, by ref or inline.
    let large = a.put_blob(&vec![b'x'; 300 * 1024]).await;
    let by_ref = json!([{"type": "textRef", "blobRef": large}]);
    a.invalid(
        "run/start",
        bad(json!("sub-4"), by_ref),
        "input[0]",
        Some("inputTooLarge"),
    )
    .await;
    let inline = json!([{"type": "text", "text": "y".repeat(300 * 1024)}]);
    a.invalid(
        "run/start",
        bad(json!("sub-5"), inline),
        "input[0]",
        Some("inputTooLarge"),
    )
    .await;
    let unknown = json!({"sessionId": "nope", "submissionId": "s", "input": text_input("x")});
    a.refused("run/start", unknown, -32004, "sessionNotFound")
        .await;
    Ok(())
}

pub(super) async fn run_cancel_stops_a_running_run(h: Harness) -> anyhow::Result<()> {
    let script = json!({"turns": [
        {"text": "slow answer", "delay_ms": 3_000},
        {"text": "never sent"}
    ]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    a.start_session("s-cancel").await;
    let run_id = a.start_run("s-cancel", "sub-1", "go").await;
    a.wait_generating("s-cancel", &run_id).await;
    let accepted = a
        .call(
            "run/cancel",
            json!({"sessionId": "s-cancel", "runId": run_id, "reason": "user"}),
        )
        .await;
    assert_eq!(accepted["runId"], run_id.as_str());
    assert!(accepted["eventCursor"].as_u64().unwrap() > 0);
    let events = a.follow("s-cancel", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "cancelled");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "lightspeed.core.run.cancel_requested"),
        "{events:#?}"
    );
    let last = events.last().unwrap()["cursor"].as_u64().unwrap();
    let read = a.read_session_at("s-cancel", last).await;
    assert_eq!(
        read["status"], "idle",
        "a cancelled run leaves the session idle"
    );
    assert_eq!(read["lastRun"]["status"], "cancelled");

    // The run is over: cancelling it again is refused like an unknown run.
    let again = json!({"sessionId": "s-cancel", "runId": run_id});
    a.refused("run/cancel", again, -32004, "unknownRun").await;
    let unknown = json!({"sessionId": "s-cancel", "runId": "run_99"});
    a.refused("run/cancel", unknown, -32004, "unknownRun").await;
    let bad = json!({"sessionId": "s-cancel", "runId": "not a run id"});
    a.invalid("run/cancel", bad, "runId", Some("invalidId"))
        .await;
    let missing = json!({"sessionId": "nope", "runId": run_id});
    a.refused("run/cancel", missing, -32004, "sessionNotFound")
        .await;
    Ok(())
}

pub(super) async fn run_steer_adds_input_to_a_running_run(h: Harness) -> anyhow::Result<()> {
    // The second turn answers only a request whose last user text is the steer, so
    // the final text proves the steer reached the model.
    let script = json!({"turns": [
        {"text": "slow first answer", "delay_ms": 2_000},
        {"text": "answer after the steer", "match": {"last_user_contains": "be polite"}}
    ]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    a.start_session("s-steer").await;
    let run_id = a.start_run("s-steer", "sub-1", "go").await;
    a.wait_generating("s-steer", &run_id).await;
    let accepted = a
        .call(
            "run/steer",
            json!({"sessionId": "s-steer", "runId": run_id, "input": text_input("be polite")}),
        )
        .await;
    assert_eq!(accepted["runId"], run_id.as_str());
    let events = a.follow("s-steer", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "lightspeed.core.run.steer_applied"),
        "{events:#?}"
    );
    assert_eq!(final_assistant_text(&events), "answer after the steer");

    let after = json!({"sessionId": "s-steer", "runId": run_id, "input": text_input("late")});
    a.refused("run/steer", after, -32004, "runNotActive").await;
    let empty = json!({"sessionId": "s-steer", "runId": run_id, "input": []});
    a.invalid("run/steer", empty, "input", Some("invalidInput"))
        .await;
    let unknown = json!({"sessionId": "s-steer", "runId": "run_99", "input": text_input("x")});
    a.refused("run/steer", unknown, -32004, "runNotActive")
        .await;
    let missing = json!({"sessionId": "nope", "runId": run_id, "input": text_input("x")});
    a.refused("run/steer", missing, -32004, "sessionNotFound")
        .await;
    Ok(())
}

pub(super) async fn a_failed_generation_fails_the_run(h: Harness) -> anyhow::Result<()> {
    // A deterministic provider error: no host retries it.
    let script = json!({"turns": [
        {"error": {"status": 400, "type": "context_length_exceeded"}},
        {"text": "recovered"},
        {"error": {"type": "insufficient_quota"}},
        {"text": "after billing"},
        {"text": "A long answer that", "truncated": true}
    ]});
    let ctx = h.start(script).await?;
    let a = ctx.a();
    a.start_session("s-fail").await;
    let run_id = a.start_run("s-fail", "sub-1", "too long").await;
    let events = a.follow("s-fail", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "failed");
    let failure = &events.last().unwrap()["run"]["failure"];
    assert_eq!(failure["reason"], "generationFailed", "{failure}");
    assert_eq!(failure["code"], "context_length_exceeded", "{failure}");
    let last = events.last().unwrap()["cursor"].as_u64().unwrap();
    let read = a.read_session_at("s-fail", last).await;
    assert_eq!(read["status"], "idle");
    assert_eq!(read["lastRun"]["status"], "failed");
    assert_eq!(&read["lastRun"]["failure"], failure);
    // The session goes on: the next run answers.
    let next = a.start_run("s-fail", "sub-2", "shorter").await;
    let events = a.follow("s-fail", &next).await;
    assert_eq!(finished_status(&events, &next), "completed");
    assert_eq!(final_assistant_text(&events), "recovered");
    let completed = events
        .iter()
        .find(|event| event["kind"] == "lightspeed.core.turn.completed" && event["runId"] == next)
        .unwrap();
    assert_eq!(completed["finishReason"], "stop", "{completed}");

    // Out of credit is billing, not a rate: it fails at once with its own code (a
    // retry would have consumed the next turn and answered).
    let broke = a.start_run("s-fail", "sub-3", "one more").await;
    let events = a.follow("s-fail", &broke).await;
    assert_eq!(finished_status(&events, &broke), "failed");
    let failure = &events.last().unwrap()["run"]["failure"];
    assert_eq!(failure["code"], "quota_exhausted", "{failure}");
    let paid = a.start_run("s-fail", "sub-4", "paid up").await;
    let events = a.follow("s-fail", &paid).await;
    assert_eq!(final_assistant_text(&events), "after billing");

    // An answer the output limit cut short says so.
    let cut = a.start_run("s-fail", "sub-5", "write a lot").await;
    let events = a.follow("s-fail", &cut).await;
    assert_eq!(finished_status(&events, &cut), "completed");
    let completed = events
        .iter()
        .find(|event| event["kind"] == "lightspeed.core.turn.completed" && event["runId"] == cut)
        .unwrap();
    assert_eq!(completed["finishReason"], "maxTokens", "{completed}");
    Ok(())
}
