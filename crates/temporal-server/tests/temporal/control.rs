//! Cancel and steer act during a run, including while an LLM call is in flight.

use std::time::{Duration, Instant};

use engine::core::command::CoreCommand;
use engine::core::context::ItemKind;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use serde_json::json;
use temporal_workflow::PhaseView;

use crate::harness::{Env, UNIVERSE, events, fast_settings};

#[tokio::test(flavor = "multi_thread")]
async fn cancel_during_an_in_flight_llm_call() {
    let script = json!({"turns": [
        {"text": "This takes forever.", "delay_ms": 60_000},
        {"text": "Next run's answer."}
    ]});
    let Some(env) = Env::start("cancel", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-cancel").await;
    let run = env.request_run(&session, "sub-1", "Take your time.").await;
    env.wait_status(&session, "generating", |s| {
        s.phase == Some(PhaseView::Generating)
    })
    .await;
    env.wait_provider_requests(1).await;
    let started = Instant::now();
    env.admit(
        &session,
        CoreCommand::CancelRun {
            run_id: run.clone(),
            reason: Some("user pressed stop".into()),
        },
    )
    .await;
    let outcome = env.outcome(&session, &run).await;
    assert_eq!(
        outcome,
        RunOutcome::Cancelled {
            reason: Some("user pressed stop".into())
        }
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let log = events(&env.log(&session).await);
    assert!(log.iter().any(|e| matches!(e, CoreEvent::TurnAborted(_))));
    assert!(!log.iter().any(|e| matches!(e, CoreEvent::TurnCompleted(_))));
    // The session goes on: the next run is served.
    let next = env.request_run(&session, "sub-2", "Again.").await;
    assert_eq!(env.outcome(&session, &next).await, RunOutcome::Completed);
    env.record_history(&session, "cancel").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn steer_mid_run() {
    let script = json!({"turns": [
        {"text": "Working on it.", "delay_ms": 1_500,
         "tool_calls": [{"name": "echo", "arguments": {"a": 1}}]},
        {"text": "Done, steered."}
    ]});
    let Some(env) = Env::start("steer", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-steer").await;
    let run = env.request_run(&session, "sub-1", "Start something.").await;
    env.wait_status(&session, "generating", |s| {
        s.phase == Some(PhaseView::Generating)
    })
    .await;
    let steer = env
        .text(ItemKind::UserMessage, "Also mention zebras.")
        .await;
    env.admit(
        &session,
        CoreCommand::Steer {
            run_id: run.clone(),
            input: vec![steer],
        },
    )
    .await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let log = events(&env.log(&session).await);
    let steered = log
        .iter()
        .position(|e| matches!(e, CoreEvent::RunSteered(_)))
        .unwrap();
    let applied = log
        .iter()
        .position(|e| matches!(e, CoreEvent::SteerApplied(_)))
        .unwrap();
    let first_turn_done = log
        .iter()
        .position(|e| matches!(e, CoreEvent::TurnCompleted(_)))
        .unwrap();
    // Recorded during the in-flight generation, applied at the next boundary.
    assert!(
        steered < first_turn_done && first_turn_done < applied,
        "{log:?}"
    );
    // The second generation saw the steer.
    let requests = env.provider.requests();
    assert_eq!(requests.len(), 2);
    assert!(requests[1].raw_body.contains("zebras"));
    assert!(!requests[0].raw_body.contains("zebras"));
    let status = env.sessions.status(UNIVERSE, &session).await.unwrap();
    assert_eq!(status.finished_runs, 1);
    env.record_history(&session, "steer").await;
    env.shutdown().await;
}

/// Cancelling the Temporal workflow (an operator action) stops driving the session
/// without corrupting it: the next admission starts a new run that carries on.
#[tokio::test(flavor = "multi_thread")]
async fn workflow_cancellation_stops_driving_and_the_session_carries_on() {
    let script = json!({"turns": [
        {"text": "Never delivered.", "delay_ms": 60_000},
        {"text": "Resumed."}
    ]});
    let Some(env) = Env::start("wf-cancel", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-wf-cancel").await;
    let run = env.request_run(&session, "sub-1", "Go.").await;
    env.wait_status(&session, "generating", |s| {
        s.phase == Some(PhaseView::Generating)
    })
    .await;
    env.wait_provider_requests(1).await;
    let handle = env
        .sessions
        .client()
        .get_workflow_handle::<temporal_workflow::AgentSessionWorkflow>(
            temporal_workflow::workflow_id(UNIVERSE, &session),
        );
    handle
        .cancel(temporalio_client::WorkflowCancelOptions::default())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !matches!(
        handle
            .describe(Default::default())
            .await
            .map(|d| d.status()),
        Ok(temporalio_client::WorkflowExecutionStatus::Canceled)
    ) {
        assert!(Instant::now() < deadline, "workflow not cancelled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The run is still recorded as generating; cancelling it through an admission
    // starts a fresh workflow run, which ends it cleanly.
    env.admit(
        &session,
        CoreCommand::CancelRun {
            run_id: run.clone(),
            reason: None,
        },
    )
    .await;
    assert_eq!(
        env.outcome(&session, &run).await,
        RunOutcome::Cancelled { reason: None }
    );
    let next = env.request_run(&session, "sub-2", "Again.").await;
    assert_eq!(env.outcome(&session, &next).await, RunOutcome::Completed);
    env.shutdown().await;
}
