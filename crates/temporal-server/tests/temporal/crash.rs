//! Crash recovery: the worker process is SIGKILLed in the middle of an LLM call and
//! in the middle of a tool call; a new worker process picks the session up, the run
//! completes, the log has no gaps or duplicates, and the workflow's state equals a
//! replay of the log.

use std::time::Duration;

use engine::SessionId;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use engine::core::state::SessionState;
use serde_json::json;
use temporal_workflow::PhaseView;

use crate::harness::{Env, WorkerKind, events, fast_settings};

/// The log is 1..=n without gaps; each turn, tool result and run end is recorded once;
/// the workflow's control state equals a replay of the log.
pub(crate) async fn assert_log_intact(env: &Env, session: &SessionId) {
    let log = env.log(session).await;
    let replayed = assert_entries_intact(&log);
    let control = env.control_at(session, replayed.head()).await;
    assert_eq!(control, replayed.control);
}

/// `log` is 1..=n without gaps, records each turn, tool result and run end once, and
/// replays; returns the replayed state.
pub(crate) fn assert_entries_intact(log: &[engine::LogEntry]) -> SessionState {
    for (index, entry) in log.iter().enumerate() {
        assert_eq!(entry.seq, index as u64 + 1, "gap or duplicate at {index}");
    }
    let mut seen = std::collections::BTreeSet::new();
    for event in events(log) {
        let key = match event {
            CoreEvent::TurnPlanned(e) => format!("planned {} {}", e.run_id, e.turn),
            CoreEvent::TurnCompleted(e) => format!("completed {} {}", e.run_id, e.turn),
            CoreEvent::ToolResultRecorded(e) => format!("tool {} {}", e.run_id, e.call_id),
            CoreEvent::RunFinished(e) => format!("finished {}", e.run_id),
            _ => continue,
        };
        assert!(seen.insert(key.clone()), "recorded twice: {key}");
    }
    SessionState::replay(log).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_killed_mid_llm_call() {
    let script = json!({"turns": [
        {"text": "Lost with the worker.", "delay_ms": 8_000},
        {"text": "Answered after the crash."}
    ]});
    let Some(mut env) =
        Env::start_with("crash-llm", script, fast_settings(), WorkerKind::Process).await
    else {
        return;
    };
    let session = env.open("s-crash-llm").await;
    let run = env.request_run(&session, "sub-1", "Think hard.").await;
    env.wait_status(&session, "generating", |s| {
        s.phase == Some(PhaseView::Generating)
    })
    .await;
    // Wait until the provider has the request: the LLM activity is in flight.
    env.wait_provider_requests(1).await;
    env.kill_worker_process().await;
    env.spawn_worker_process();
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let texts = crate::harness::assistant_texts(&env.store, &env.log(&session).await).await;
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("Answered after the crash."), "{texts:?}");
    assert_log_intact(&env, &session).await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn worker_killed_mid_tool_call() {
    let script = json!({"turns": [
        {"text": "Sleeping.", "tool_calls": [{"name": "sleep", "arguments": {"ms": 4_000}}]},
        {"text": "Woke up."}
    ]});
    let Some(mut env) =
        Env::start_with("crash-tool", script, fast_settings(), WorkerKind::Process).await
    else {
        return;
    };
    let session = env.open("s-crash-tool").await;
    let run = env.request_run(&session, "sub-1", "Sleep a bit.").await;
    env.wait_status(&session, "awaiting tools", |s| {
        s.phase == Some(PhaseView::AwaitingTools)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.kill_worker_process().await;
    env.spawn_worker_process();
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let log = events(&env.log(&session).await);
    let results = log
        .iter()
        .filter(|e| matches!(e, CoreEvent::ToolResultRecorded(_)))
        .count();
    assert_eq!(results, 1);
    assert_log_intact(&env, &session).await;
    env.shutdown().await;
}
