//! Idle sessions cost nothing: a session with no work for the idle timeout
//! completes its workflow, and the next admission starts a new workflow run that
//! carries on from the store.

use std::time::Duration;

use engine::core::run::RunOutcome;
use serde_json::json;
use temporal_workflow::WorkflowSettings;
use temporalio_common::protos::temporal::api::enums::v1::EventType;

use crate::harness::{Env, fast_settings};

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_session_completes_its_workflow_and_the_next_run_restarts_it() {
    let script = json!({"turns": [{"text": "First."}, {"text": "Second."}]});
    let settings = WorkflowSettings {
        session_idle_timeout_ms: 1_000,
        ..fast_settings()
    };
    let Some(env) = Env::start("idle", script, settings).await else {
        return;
    };
    let session = env.open("s-idle").await;
    let first = env.request_run(&session, "sub-1", "One").await;
    assert_eq!(env.outcome(&session, &first).await, RunOutcome::Completed);

    // Nothing to do: within a few idle timeouts the workflow run has completed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let history = env.history(&session).await;
        let last = history.last().map(|event| event.event_type());
        if last == Some(EventType::WorkflowExecutionCompleted) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still open after the idle timeout: {last:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let head_before = env.log(&session).await.len();

    // The next admission starts a new workflow run, which rehydrates from the store.
    let second = env.request_run(&session, "sub-2", "Two").await;
    assert_eq!(env.outcome(&session, &second).await, RunOutcome::Completed);
    let log = env.log(&session).await;
    assert!(log.len() > head_before, "the log carries on");
    let history = env.history(&session).await;
    assert_eq!(
        history.first().map(|event| event.event_type()),
        Some(EventType::WorkflowExecutionStarted)
    );
    assert_ne!(
        history.last().map(|event| event.event_type()),
        Some(EventType::WorkflowExecutionCompleted),
        "the new workflow run is serving the session"
    );
    // The submission window survived the restart: a duplicate is recognised.
    let again = env.request_run(&session, "sub-2", "Two").await;
    assert_eq!(again, second);
    env.shutdown().await;
}
