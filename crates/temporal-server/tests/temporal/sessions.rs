//! Runs through Temporal: a text reply, a tool loop, queued runs, provider errors and
//! a provider answer the engine cannot accept.

use effects::compactor::SUMMARY_REQUEST;
use engine::core::command::CoreCommand;
use engine::core::event::CoreEvent;
use engine::core::limits::TOOL_CALLS_PER_TURN_MAX;
use engine::core::run::{EffectError, RunFailure, RunOutcome, ToolStatus};
use engine::store::BlobStore;
use serde_json::{Value, json};

use crate::harness::{Env, assistant_texts, events, fast_settings, history_payloads};

#[tokio::test(flavor = "multi_thread")]
async fn text_reply() {
    let script = json!({"turns": [{"text": "Hello from Temporal."}]});
    let Some(env) = Env::start("text", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-text").await;
    let run = env.request_run(&session, "sub-1", "Say hello.").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let log = env.log(&session).await;
    let texts = assistant_texts(&env.store, &log).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Hello from Temporal."), "{texts:?}");
    // The generation really went through a Temporal activity.
    let history = env.history(&session).await;
    let llm_calls = history_payloads(&history)
        .into_iter()
        .filter(|p| p.activity_type == "llm_generate_commit" && p.direction == "result")
        .count();
    assert_eq!(llm_calls, 1);
    env.record_history(&session, "text-turn").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn multi_turn_tool_loop() {
    let script = json!({"turns": [
        {"text": "Adding.", "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
        {"text": "Echoing.", "tool_calls": [
            {"name": "echo", "arguments": {"a": 1}},
            {"name": "fail", "arguments": {}}
        ]},
        {"text": "2 + 3 = 5"}
    ]});
    let Some(env) = Env::start("tools", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-tools").await;
    let run = env.request_run(&session, "sub-1", "What is 2 + 3?").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let log = env.log(&session).await;
    let results: Vec<_> = events(&log)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::ToolResultRecorded(e) => Some(e),
            _ => None,
        })
        .collect();
    assert_eq!(results.len(), 3);
    let sum = env.store.get(&results[0].item.content_ref).await.unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&sum).unwrap(),
        json!({"sum": 5})
    );
    let statuses: Vec<_> = results
        .iter()
        .map(|r| (r.tool_name.clone().unwrap(), r.status))
        .collect();
    assert!(
        statuses.contains(&("echo".into(), ToolStatus::Ok)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("fail".into(), ToolStatus::Error)),
        "{statuses:?}"
    );
    // One activity per tool call.
    let history = env.history(&session).await;
    let tool_calls = history_payloads(&history)
        .into_iter()
        .filter(|p| p.activity_type == "tool_invoke" && p.direction == "input")
        .count();
    assert_eq!(tool_calls, 3);
    let texts = assistant_texts(&env.store, &log).await;
    assert!(texts.last().unwrap().contains("2 + 3 = 5"), "{texts:?}");
    env.record_history(&session, "tool-loop").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_queued_runs() {
    let script = json!({"turns": [
        {"text": "First answer.", "delay_ms": 1500},
        {"text": "Second answer."}
    ]});
    let Some(env) = Env::start("queue", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-queue").await;
    let first = env.request_run(&session, "sub-1", "First?").await;
    let second = env.request_run(&session, "sub-2", "Second?").await;
    assert_ne!(first, second);
    // Accepted while the first is still running: it waits in the queue.
    let status = env
        .sessions
        .status(crate::harness::UNIVERSE, &session)
        .await
        .unwrap();
    assert_eq!(status.active_run_id.as_ref(), Some(&first), "{status:?}");
    assert_eq!(status.queued_runs, 1, "{status:?}");
    // Resubmitting a submission is idempotent.
    let again = env
        .admit(
            &session,
            engine::core::command::CoreCommand::RequestRun {
                submission_id: engine::SubmissionId::new("sub-2").unwrap(),
                input: vec![
                    env.text(engine::core::context::ItemKind::UserMessage, "Second?")
                        .await,
                ],
                overrides: Default::default(),
            },
        )
        .await;
    assert_eq!(again.run_id.as_ref(), Some(&second));
    assert!(again.duplicate);

    assert_eq!(env.outcome(&session, &first).await, RunOutcome::Completed);
    assert_eq!(env.outcome(&session, &second).await, RunOutcome::Completed);
    let order: Vec<_> = events(&env.log(&session).await)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::RunStarted(e) => Some(format!("start {}", e.run_id)),
            CoreEvent::RunFinished(e) => Some(format!("finish {}", e.run_id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        order,
        [
            format!("start {first}"),
            format!("finish {first}"),
            format!("start {second}"),
            format!("finish {second}"),
        ]
    );
    env.record_history(&session, "queued-runs").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_errors_retry_or_fail_the_run() {
    let script = json!({"turns": [
        {"error": {"status": 429, "retry_after_s": 0}},
        {"error": {"status": 429, "retry_after_s": 1}},
        {"error": {"status": 503}},
        {"text": "after three retries"},
        {"error": {"status": 400, "type": "context_length_exceeded"}}
    ]});
    let Some(env) = Env::start("errors", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-errors").await;
    let first = env.request_run(&session, "sub-1", "hello").await;
    assert_eq!(env.outcome(&session, &first).await, RunOutcome::Completed);
    let texts = assistant_texts(&env.store, &env.log(&session).await).await;
    assert!(texts[0].contains("after three retries"), "{texts:?}");
    // Retries are activity attempts: one scheduled activity, no extra history per try.
    let history = env.history(&session).await;
    let scheduled = history_payloads(&history)
        .into_iter()
        .filter(|p| p.activity_type == "llm_generate_commit" && p.direction == "input")
        .count();
    assert_eq!(scheduled, 1);

    // A deterministic error is not retried: the turn and the run fail with its code.
    let second = env.request_run(&session, "sub-2", "too long").await;
    let outcome = env.outcome(&session, &second).await;
    let RunOutcome::Failed {
        failure: RunFailure::GenerationFailed { error },
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(error.code, "context_length_exceeded");
    assert_eq!(env.provider.requests().len(), 5);
    env.shutdown().await;
}

/// Compaction by the production LLM compactor: the summarisation call goes to the
/// session's model (a retryable provider error is retried by the activity first),
/// and its text becomes the summary item.
#[tokio::test(flavor = "multi_thread")]
async fn requested_compaction_summarises_with_the_model_in_an_activity() {
    let summarise = json!({"last_user_contains": SUMMARY_REQUEST});
    let script = json!({"turns": [
        {"text": "Something to compact."},
        {"error": {"status": 503}, "match": summarise},
        {"text": "Summary: the user said hello.", "match": summarise}
    ]});
    let Some(env) = Env::start("compact", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-compact").await;
    let run = env.request_run(&session, "sub-1", "hello").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    env.admit(
        &session,
        CoreCommand::RequestCompaction { instruction: None },
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let log = events(&env.log(&session).await);
        if let Some(CoreEvent::ContextCompacted(compacted)) = log
            .iter()
            .find(|e| matches!(e, CoreEvent::ContextCompacted(_)))
        {
            let [summary] = compacted.summary.as_slice() else {
                panic!("{compacted:?}");
            };
            let text = env.store.get(&summary.content_ref).await.unwrap();
            assert_eq!(text, b"Summary: the user said hello.");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no compaction: {log:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let requests = env.provider.requests();
    assert_eq!(
        requests.len(),
        3,
        "the generation, a failed and a good summary call"
    );
    assert!(requests[2].raw_body.contains("Something to compact."));
    let history = env.history(&session).await;
    assert!(
        history_payloads(&history)
            .iter()
            .any(|p| p.activity_type == "compact_context")
    );
    env.record_history(&session, "compaction").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_stop_at_the_attempt_bound() {
    let script = json!({"turns": [{"error": {"status": 503}}, {"error": {"status": 503}}]});
    let settings = crate::harness::WorkflowSettings {
        llm_attempts_max: 2,
        ..fast_settings()
    };
    let Some(env) = Env::start("attempts", script, settings).await else {
        return;
    };
    let session = env.open("s-attempts").await;
    let run = env.request_run(&session, "sub-1", "hello").await;
    let outcome = env.outcome(&session, &run).await;
    let RunOutcome::Failed {
        failure: RunFailure::GenerationFailed { error },
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(error.code, "server");
    assert_eq!(env.provider.requests().len(), 2);
    env.shutdown().await;
}

/// A generation the engine cannot accept (129 tool calls, one over the per-turn
/// bound) is recorded as the turn and the run failing with `invalid_result`. The
/// drive does not ask for it again, so the provider is called exactly once for it
/// (before, the workflow dropped the refusal and re-scheduled the paid call forever).
#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_generation_fails_the_run_without_a_retry() {
    let calls: Vec<Value> = (0..=TOOL_CALLS_PER_TURN_MAX)
        .map(|i| json!({"name": "echo", "arguments": {"i": i}}))
        .collect();
    let script = json!({"turns": [
        {"text": "Calling everything.", "tool_calls": calls},
        {"text": "A plain answer."}
    ]});
    let Some(env) = Env::start("invalid", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-invalid").await;
    let run = env.request_run(&session, "sub-1", "Call every tool.").await;
    let outcome = env.outcome(&session, &run).await;
    let RunOutcome::Failed {
        failure: RunFailure::GenerationFailed { error },
    } = outcome
    else {
        panic!("{outcome:?}");
    };
    assert_eq!(error.code, EffectError::INVALID_RESULT);
    assert!(error.message.contains("129"), "{}", error.message);
    let failed_turns = events(&env.log(&session).await)
        .into_iter()
        .filter(|event| matches!(event, CoreEvent::TurnFailed(_)))
        .count();
    assert_eq!(failed_turns, 1);
    // The session carries on, and the provider saw one request per turn: the
    // malformed one was not asked for again.
    let next = env.request_run(&session, "sub-2", "Just answer.").await;
    assert_eq!(env.outcome(&session, &next).await, RunOutcome::Completed);
    assert_eq!(env.provider.requests().len(), 2);
    env.shutdown().await;
}
