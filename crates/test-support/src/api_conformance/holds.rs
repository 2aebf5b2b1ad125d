//! API conformance cases, holds: a tool policy that asks a person (`run/approve`,
//! `run/deny`, the approval deadline) and the durable time tools (`sleep`,
//! `wake_me_at`), which wait on the host's timer rather than in a tool call.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::{Conn, Harness, RUN_FINISHED};
use super::fixtures::{final_assistant_text, finished_status, items, text_input, tool_results};
use super::{Case, case};

const APPROVAL_REQUESTED: &str = "lightspeed.core.tool.approval_requested";
const APPROVAL_DECIDED: &str = "lightspeed.core.tool.approval_decided";
const DEFERRED: &str = "lightspeed.core.tool.deferred";
const WAKE_UP_SCHEDULED: &str = "lightspeed.core.session.wake_up_scheduled";
const WAKE_UP_ENDED: &str = "lightspeed.core.session.wake_up_ended";

pub(super) const CASES: [Case; 3] = [
    case!(
        approvals_hold_calls_until_a_person_decides,
        [
            "blob/put",
            "vfs/snapshot/commit",
            "vfs/workspace/create",
            "vfs/mount/put",
            "session/start",
            "run/start",
            "session/events/read",
            "session/read",
            "run/approve",
            "run/deny",
            "vfs/workspace/read",
            "vfs/snapshot/read",
            "blob/get"
        ]
    ),
    case!(
        an_approval_deadline_denies_the_call,
        ["session/start", "run/start", "session/events/read"]
    ),
    case!(
        timers_sleep_and_wake_the_session_without_a_worker_waiting,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/read",
            "session/wake-ups/cancel"
        ]
    ),
];

fn model() -> Value {
    json!({"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"})
}

/// The `session/read` view once its active run has a call waiting for approval.
async fn awaiting_approval(a: &Conn, session_id: &str, from: u64) -> (Value, u64) {
    let asked = |e: &Value| e["kind"] == APPROVAL_REQUESTED;
    let (events, cursor) = a.read_until(session_id, from, asked).await;
    let event = events.last().unwrap();
    assert_eq!(event["hold"]["state"], "awaitingApproval", "{event}");
    let view = a
        .read_session_at(session_id, event["cursor"].as_u64().unwrap())
        .await;
    (view, cursor)
}

pub(super) async fn approvals_hold_calls_until_a_person_decides(h: Harness) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [
                {"name": "read_file", "arguments": {"path": "/work/a.txt"}},
                {"name": "write_file", "arguments": {"path": "/work/x.txt", "content": "x"}}
            ]},
            {"tool_calls": [
                {"name": "write_file", "arguments": {"path": "/work/y.txt", "content": "y"}}
            ]},
            {"tool_calls": [
                {"name": "write_file", "arguments": {"path": "/work/z.txt", "content": "z"}}
            ]},
            {"text": "Wrote y and z."}
        ]}))
        .await?;
    let a = ctx.a();
    let snapshot = a.commit(&[("a.txt", "alpha\n")]).await;
    a.call(
        "vfs/workspace/create",
        json!({"workspaceId": "repo", "snapshotRef": snapshot}),
    )
    .await;
    let mount = json!({"sessionId": "s-ask", "mountPath": "/work", "mode": "readWrite",
                       "source": {"type": "workspace", "workspaceId": "repo"}});
    a.call("vfs/mount/put", mount).await;
    let mut config = json!({"model": model(), "tools": {"filesystem": "edit"}});
    // A pattern outside the rule's alphabet is refused before anything is stored.
    config["toolPolicy"] = json!({"rules": [{"tools": "bad pattern", "decision": "ask"}]});
    a.invalid(
        "session/start",
        json!({"sessionId": "s-ask", "config": config.clone()}),
        "toolPolicy.rules",
        Some("invalidConfig"),
    )
    .await;
    config["toolPolicy"] = json!({"fileWrites": "ask"});
    let view = a
        .call(
            "session/start",
            json!({"sessionId": "s-ask", "config": config}),
        )
        .await;
    assert_eq!(view["config"]["toolPolicy"]["fileWrites"], "ask", "{view}");
    let run_id = a.start_run("s-ask", "sub-1", "Write x, y and z.").await;

    // The write waits; the read ran. The run says so, with the call's arguments.
    let (view, cursor) = awaiting_approval(&a, "s-ask", 0).await;
    let run = &view["activeRun"];
    assert_eq!(run["status"], "awaitingApproval", "{view}");
    let waiting = run["waiting"].as_array().unwrap();
    assert_eq!(waiting.len(), 1, "{view}");
    assert_eq!(waiting[0]["tool"], "write_file");
    assert_eq!(waiting[0]["reason"], "approval");
    assert!(
        waiting[0]["arguments"].as_str().unwrap().contains("x.txt"),
        "{view}"
    );
    let call_id = waiting[0]["callId"].as_str().unwrap().to_owned();
    let target = json!({"sessionId": "s-ask", "runId": run_id});

    // Bad decisions are refused and change nothing.
    let mut unknown = target.clone();
    unknown["callIds"] = json!(["call_nope"]);
    a.refused("run/approve", unknown, -32602, "unknownToolCall")
        .await;
    let mut long = target.clone();
    long["message"] = json!("n".repeat(5_000));
    a.refused("run/deny", long, -32602, "inputTooLarge").await;

    let mut deny = target.clone();
    deny["callIds"] = json!([call_id]);
    deny["message"] = json!("not x, write y instead");
    let denied = a.call("run/deny", deny).await;
    assert_eq!(denied["runId"], run_id.as_str());

    // The next write asks again; approve it for the rest of the session.
    let (_, cursor) = awaiting_approval(&a, "s-ask", cursor).await;
    let mut approve = target.clone();
    approve["remember"] = json!(true);
    a.call("run/approve", approve).await;
    let (events, _) = a
        .read_until("s-ask", cursor, |e| {
            e["kind"] == RUN_FINISHED && e["runId"] == run_id.as_str()
        })
        .await;
    assert!(
        !events.iter().any(|e| e["kind"] == APPROVAL_REQUESTED),
        "the third write is approved by the remembered decision: {events:#?}"
    );

    // A finished run has nothing left to decide.
    a.refused("run/approve", target.clone(), -32004, "runNotActive")
        .await;
    let all = a.follow("s-ask", &run_id).await;
    assert_eq!(finished_status(&all, &run_id), "completed");
    assert_eq!(final_assistant_text(&all), "Wrote y and z.");
    let decided: Vec<&Value> = all
        .iter()
        .filter(|e| e["kind"] == APPROVAL_DECIDED)
        .collect();
    assert_eq!(decided.len(), 2, "{decided:#?}");
    assert_eq!(decided[0]["hold"]["state"], "denied");
    assert_eq!(decided[1]["hold"]["state"], "approved");
    assert_eq!(decided[1]["hold"]["remember"], true);
    let results = tool_results(&all);
    let writes: Vec<_> = results.iter().filter(|r| r.0 == "write_file").collect();
    assert_eq!(writes.len(), 3, "{results:?}");
    assert_eq!(writes[0].1, "notExecuted", "{results:?}");
    assert!(
        writes[0].2.contains("not x, write y instead"),
        "{results:?}"
    );
    assert!(writes[1..].iter().all(|w| w.1 == "ok"), "{results:?}");
    let head = a
        .call("vfs/workspace/read", json!({"workspaceId": "repo"}))
        .await;
    let files = a.files(&head["snapshotRef"]).await;
    let names: Vec<&str> = files.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(names, ["a.txt", "y.txt", "z.txt"]);
    Ok(())
}

pub(super) async fn an_approval_deadline_denies_the_call(h: Harness) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 0}}]},
            {"text": "Nobody answered."}
        ]}))
        .await?;
    let a = ctx.a();
    let config = json!({"model": model(), "tools": {"timers": true},
                        "toolPolicy": {"other": "ask", "approvalTimeoutMs": 1_000}});
    let view = a
        .call(
            "session/start",
            json!({"sessionId": "s-late", "config": config}),
        )
        .await;
    assert_eq!(view["config"]["timers"], true, "{view}");
    let run_id = a.start_run("s-late", "sub-1", "Wait for nothing.").await;
    let events = a.follow("s-late", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "completed");
    let asked = events
        .iter()
        .find(|e| e["kind"] == APPROVAL_REQUESTED)
        .unwrap();
    let deadline = asked["hold"]["untilMs"].as_u64().unwrap();
    assert_eq!(deadline, asked["atMs"].as_u64().unwrap() + 1_000, "{asked}");
    let decided = events
        .iter()
        .find(|e| e["kind"] == APPROVAL_DECIDED)
        .unwrap();
    assert_eq!(decided["hold"]["state"], "expired", "{decided}");
    assert!(decided["atMs"].as_u64().unwrap() >= deadline, "{decided}");
    let results = tool_results(&events);
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0].1, "notExecuted");
    assert!(results[0].2.contains("deadline"), "{results:?}");
    assert_eq!(final_assistant_text(&events), "Nobody answered.");
    Ok(())
}

pub(super) async fn timers_sleep_and_wake_the_session_without_a_worker_waiting(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h
        .start(json!({"turns": [
            {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 1}}]},
            {"tool_calls": [{"name": "wake_me_at",
                             "arguments": {"in_seconds": 1, "note": "check the oven"}}]},
            {"text": "The oven is fine."},
            {"tool_calls": [{"name": "wake_me_at",
                             "arguments": {"in_seconds": 86400, "note": "never mind"}}]}
        ]}))
        .await?;
    let a = ctx.a();
    let config = json!({"model": model(), "tools": {"timers": true}});
    a.call(
        "session/start",
        json!({"sessionId": "s-time", "config": config}),
    )
    .await;
    let run_id = a
        .call(
            "run/start",
            json!({"sessionId": "s-time", "submissionId": "sub-1",
                   "input": text_input("Bake, then check.")}),
        )
        .await["runId"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = a.follow("s-time", &run_id).await;
    assert_eq!(finished_status(&first, &run_id), "completed");
    let deferred = first.iter().find(|e| e["kind"] == DEFERRED).unwrap();
    let until = deferred["hold"]["untilMs"].as_u64().unwrap();
    assert!(
        until >= deferred["atMs"].as_u64().unwrap() + 900,
        "{deferred}"
    );
    // The sleep's result is recorded when its time comes, not before.
    let slept = first
        .iter()
        .find(|e| {
            e["kind"] == "lightspeed.core.tool.result_recorded" && e["items"][0]["name"] == "sleep"
        })
        .unwrap();
    assert!(slept["atMs"].as_u64().unwrap() >= until, "{slept}");
    let scheduled = first
        .iter()
        .find(|e| e["kind"] == WAKE_UP_SCHEDULED)
        .unwrap();
    assert_eq!(scheduled["wakeUp"]["state"], "scheduled");
    let at = scheduled["wakeUp"]["atMs"].as_u64().unwrap();
    // The run ended at the wake-up; the model was not asked again.
    let finished = first.iter().find(|e| e["kind"] == RUN_FINISHED).unwrap();
    assert!(finished["atMs"].as_u64().unwrap() < at, "{finished}");

    // At its time, the wake-up requests a run with the note as its input.
    let cursor = finished["cursor"].as_u64().unwrap();
    let (events, _) = a
        .read_until("s-time", cursor, |e| {
            e["kind"] == RUN_FINISHED && e["runId"] != run_id.as_str()
        })
        .await;
    let ended = events.iter().find(|e| e["kind"] == WAKE_UP_ENDED).unwrap();
    assert_eq!(ended["wakeUp"]["state"], "fired", "{ended}");
    assert!(ended["atMs"].as_u64().unwrap() >= at, "{ended}");
    let woken = events.last().unwrap()["runId"].as_str().unwrap().to_owned();
    assert_eq!(finished_status(&events, &woken), "completed");
    let inputs = items(&events);
    assert!(
        inputs.iter().any(|item| item["type"] == "userMessage"
            && item["text"]
                .as_str()
                .unwrap_or_default()
                .contains("check the oven")),
        "{inputs:#?}"
    );
    assert_eq!(final_assistant_text(&events), "The oven is fine.");
    let view = a
        .read_session_at("s-time", events.last().unwrap()["cursor"].as_u64().unwrap())
        .await;
    assert!(view.get("wakeUps").is_none(), "no wake-up is left: {view}");

    // A wake-up a day away is listed, and cancelled before it fires.
    let later = a.start_run("s-time", "sub-2", "Remind me tomorrow.").await;
    let events = a.follow("s-time", &later).await;
    let cursor = events.last().unwrap()["cursor"].as_u64().unwrap();
    let view = a.read_session_at("s-time", cursor).await;
    let wake_up = &view["wakeUps"][0];
    assert_eq!(wake_up["state"], "scheduled", "{view}");
    let number = wake_up["wakeUp"].as_u64().unwrap();
    let args = json!({"sessionId": "s-time", "wakeUp": number});
    let cancelled = a.call("session/wake-ups/cancel", args.clone()).await;
    assert!(cancelled.get("wakeUps").is_none(), "{cancelled}");
    a.refused("session/wake-ups/cancel", args, -32004, "unknownWakeUp")
        .await;
    Ok(())
}
