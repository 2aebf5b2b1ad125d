//! Sessions and runs end to end: HTTP with long-poll, WebSocket with live deltas,
//! idempotency, conflicts, cancel and steer.

use jsonrpsee::core::client::SubscriptionClientT;

use super::*;

fn final_assistant_text(events: &[Value]) -> String {
    let items: Vec<Value> = events
        .iter()
        .flat_map(|event| event["items"].as_array().cloned().unwrap_or_default())
        .collect();
    let last = items
        .iter()
        .rev()
        .find(|item| item["type"] == "assistantMessage")
        .expect("an assistant item");
    last["text"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn run_over_http_with_long_poll() {
    let stack = stack(json!({"turns": [{"reasoning": "Greet.", "text": "Hello there!"}]})).await;
    let client = stack.http(Some(&stack.key_a));
    let init = call(
        &client,
        "initialize",
        json!({"clientName": "test"}),
        "InitializeResult",
    )
    .await;
    assert_eq!(init["universeId"], UNIVERSE_A);
    let session = start_session(&client, "s-http").await;
    assert_eq!(session["status"], "idle");
    let run = call(
        &client,
        "run/start",
        json!({"sessionId": "s-http", "submissionId": "sub-1", "input": [{"type": "text", "text": "hi"}]}),
        "RunStartResult",
    )
    .await;
    let run_id = run["runId"].as_str().unwrap();
    let events = follow_until_finished(&client, "s-http", run_id).await;
    assert_eq!(final_assistant_text(&events), "Hello there!");
    let finished = events.last().unwrap();
    assert_eq!(finished["run"]["status"], "completed");
    assert!(events.iter().any(|e| {
        e["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["type"] == "reasoning"))
    }));
    for event in &events {
        assert_valid("EventView", event);
    }
    let read = call(
        &client,
        "session/read",
        json!({"sessionId": "s-http"}),
        "SessionView",
    )
    .await;
    assert_eq!(read["status"], "idle");
    assert_eq!(read["lastRun"]["status"], "completed");
    let list = call(&client, "session/list", json!({}), "SessionListResult").await;
    assert_eq!(list["sessions"][0]["sessionId"], "s-http");
}

#[tokio::test(flavor = "multi_thread")]
async fn run_over_websocket_streams_events_and_deltas() {
    let stack =
        stack(json!({"turns": [{"text": "A streamed answer in several words.", "delay_ms": 200}]}))
            .await;
    let client = stack.ws(&stack.key_a).await;
    start_session(&client, "s-ws").await;
    let mut subscription = client
        .subscribe::<Value, _>(
            "session/subscribe",
            params_of(json!({"sessionId": "s-ws", "cursor": 0})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    let run = call(
        &client,
        "run/start",
        json!({"sessionId": "s-ws", "submissionId": "sub-1", "input": [{"type": "text", "text": "stream please"}]}),
        "RunStartResult",
    )
    .await;
    let (mut deltas, mut text, mut done) = (0, String::new(), false);
    while !done {
        let notification = tokio::time::timeout(wait(), subscription.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_valid("SessionNotification", &notification);
        match notification["type"].as_str().unwrap() {
            "delta" => {
                deltas += 1;
                if notification["delta"]["kind"] == "text" {
                    text.push_str(notification["delta"]["text"].as_str().unwrap());
                }
            }
            "event" => {
                let event = &notification["event"];
                done = event["kind"] == "lightspeed.core.run.finished"
                    && event["runId"] == run["runId"];
            }
            other => panic!("unexpected notification {other}"),
        }
    }
    assert!(deltas > 1, "live deltas arrive before the final event");
    assert_eq!(text, "A streamed answer in several words.");
    subscription.unsubscribe().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn run_start_is_idempotent_and_conflicts_are_typed() {
    let stack = stack(json!({"turns": [{"text": "one"}, {"text": "two"}]})).await;
    let client = stack.http(Some(&stack.key_a));
    start_session(&client, "s-idem").await;
    let params = json!({"sessionId": "s-idem", "submissionId": "sub-1", "input": [{"type": "text", "text": "hello"}]});
    let first = call(&client, "run/start", params.clone(), "RunStartResult").await;
    let again = call(&client, "run/start", params, "RunStartResult").await;
    assert_eq!(first["runId"], again["runId"]);
    assert_eq!(again["duplicate"], true);
    let conflict = client
        .request::<Value, _>(
            "run/start",
            params_of(json!({"sessionId": "s-idem", "submissionId": "sub-1",
            "input": [{"type": "text", "text": "different"}]})),
        )
        .await
        .unwrap_err();
    errors::assert_code(&conflict, -32009, Some("submissionConflict"));
    follow_until_finished(&client, "s-idem", first["runId"].as_str().unwrap()).await;

    // session/update needs the current revision.
    let session = call(
        &client,
        "session/read",
        json!({"sessionId": "s-idem"}),
        "SessionView",
    )
    .await;
    let revision = session["revision"].as_u64().unwrap();
    let stale = client
        .request::<Value, _>(
            "session/update",
            params_of(
                json!({"sessionId": "s-idem", "expectedRevision": revision + 5,
            "patch": {"generation": {"maxOutputTokens": 512}}}),
            ),
        )
        .await
        .unwrap_err();
    errors::assert_code(&stale, -32009, Some("revisionConflict"));
    let updated = call(
        &client,
        "session/update",
        json!({"sessionId": "s-idem", "expectedRevision": revision, "patch": {"generation": {"maxOutputTokens": 512}}}),
        "SessionView",
    )
    .await;
    assert_eq!(updated["revision"], revision + 1);
    assert_eq!(updated["config"]["maxOutputTokens"], 512);
}

#[tokio::test(flavor = "multi_thread")]
async fn cancel_and_steer_mid_run() {
    let stack = stack(json!({"turns": [
        {"text": "slow first answer", "delay_ms": 600},
        {"text": "answer after the steer"},
        {"text": "never sent", "delay_ms": 3000}
    ]}))
    .await;
    let client = stack.http(Some(&stack.key_a));
    start_session(&client, "s-mid").await;
    let run = call(
        &client,
        "run/start",
        json!({"sessionId": "s-mid", "submissionId": "sub-1", "input": [{"type": "text", "text": "go"}]}),
        "RunStartResult",
    )
    .await;
    let run_id = run["runId"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    call(
        &client,
        "run/steer",
        json!({"sessionId": "s-mid", "runId": run_id, "input": [{"type": "text", "text": "be polite"}]}),
        "RunAccepted",
    )
    .await;
    let events = follow_until_finished(&client, "s-mid", run_id).await;
    assert_eq!(events.last().unwrap()["run"]["status"], "completed");
    assert!(
        events
            .iter()
            .any(|event| event["kind"] == "lightspeed.core.run.steer_applied")
    );
    assert_eq!(
        final_assistant_text(&events),
        "answer after the steer",
        "the steer caused another turn"
    );

    let second = call(
        &client,
        "run/start",
        json!({"sessionId": "s-mid", "submissionId": "sub-2", "input": [{"type": "text", "text": "again"}]}),
        "RunStartResult",
    )
    .await;
    let second_id = second["runId"].as_str().unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    call(
        &client,
        "run/cancel",
        json!({"sessionId": "s-mid", "runId": second_id, "reason": "user"}),
        "RunAccepted",
    )
    .await;
    let events = follow_until_finished(&client, "s-mid", second_id).await;
    assert_eq!(events.last().unwrap()["run"]["status"], "cancelled");
}
