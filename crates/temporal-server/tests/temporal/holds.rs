//! Holds on the real worker: a `sleep` that waits on a workflow timer through a
//! continue-as-new and a worker restart (with no activity pending while it waits), a
//! wake-up that starts the next run at its time, and an approval given after the
//! worker restarted.

use std::time::{Duration, Instant};

use engine::SessionId;
use engine::core::command::{ApprovalDecision, CoreCommand};
use engine::core::config::SessionConfig;
use engine::core::event::CoreEvent;
use engine::core::policy::{ToolDecision, ToolPolicy, ToolRule};
use engine::core::run::{RunOutcome, ToolStatus};
use engine::core::tools::ToolSpec;
use serde_json::json;
use temporal_workflow::WorkflowSettings;

use crate::crash::assert_log_intact;
use crate::harness::{Env, WorkerKind, events, fast_settings};

/// Registers the durable time tools beside the harness's builtin ones.
pub(crate) async fn add_timer_tools(env: &Env, session: &SessionId) {
    let mut upsert = Vec::new();
    for (name, definition) in effects::timer_tools::timer_definitions() {
        let definition: serde_json::Value = serde_json::from_slice(&definition).unwrap();
        upsert.push(ToolSpec::new(name, env.put_json(&definition).await));
    }
    env.admit(
        session,
        CoreCommand::PatchTools {
            expected_revision: 1,
            upsert,
            remove: Vec::new(),
        },
    )
    .await;
}

/// Whether the session workflow has an activity scheduled or running.
async fn pending_activities(env: &Env, session: &SessionId) -> usize {
    let description = env
        .sessions
        .client()
        .get_workflow_handle::<temporal_workflow::AgentSessionWorkflow>(
            temporal_workflow::workflow_id(crate::harness::UNIVERSE, session),
        )
        .describe(temporalio_client::WorkflowDescribeOptions::default())
        .await
        .unwrap();
    description.raw().pending_activities.len()
}

pub(crate) async fn wait_for_event(
    env: &Env,
    session: &SessionId,
    what: &str,
    found: impl Fn(&CoreEvent) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !events(&env.log(session).await).iter().any(&found) {
        assert!(Instant::now() < deadline, "no {what} in the log");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sleep_waits_on_a_timer_through_continue_as_new_and_a_restart_then_wakes_up() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 3}}]},
        {"tool_calls": [{"name": "wake_me_at", "arguments": {"in_seconds": 2, "note": "check the build"}}]},
        {"text": "The build is green."}
    ]});
    // A short history threshold: the workflow continues as new while it sleeps.
    let settings = WorkflowSettings {
        continue_as_new_history_events: 12,
        ..fast_settings()
    };
    let Some(mut env) = Env::start_with("holds-sleep", script, settings, WorkerKind::Process).await
    else {
        return;
    };
    let session = env.open("s-sleep").await;
    add_timer_tools(&env, &session).await;
    let started = Instant::now();
    let run = env
        .request_run(&session, "sub-1", "Wait, then check.")
        .await;
    wait_for_event(&env, &session, "deferred sleep", |event| {
        matches!(event, CoreEvent::ToolCallDeferred(_))
    })
    .await;
    // While it sleeps the workflow has continued as new and holds no activity.
    let status = env
        .wait_status(&session, "a continue-as-new during the sleep", |s| {
            s.chain_index > 0 && s.loaded
        })
        .await;
    assert!(status.active_run_id.is_some(), "{status:?}");
    assert_eq!(pending_activities(&env, &session).await, 0);
    env.kill_worker_process().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    env.spawn_worker_process();

    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    assert!(started.elapsed() >= Duration::from_secs(3));
    let log = env.log(&session).await;
    let all = events(&log);
    let until = all
        .iter()
        .find_map(|event| match event {
            CoreEvent::ToolCallDeferred(e) => Some(e.until_ms),
            _ => None,
        })
        .unwrap();
    let slept_at = log
        .iter()
        .zip(&all)
        .find_map(|(entry, event)| match event {
            CoreEvent::ToolResultRecorded(e) if e.tool_name.as_deref() == Some("sleep") => {
                Some(entry.observed_at_ms)
            }
            _ => None,
        })
        .unwrap();
    assert!(slept_at >= until, "recorded at {slept_at}, due at {until}");

    // The wake-up ended the run and starts the next one at its time.
    let at = all
        .iter()
        .find_map(|event| match event {
            CoreEvent::WakeUpScheduled(e) => Some(e.at_ms),
            _ => None,
        })
        .unwrap();
    wait_for_event(
        &env,
        &session,
        "the wake-up's run",
        |event| matches!(event, CoreEvent::RunFinished(e) if e.run_id != run),
    )
    .await;
    let log = env.log(&session).await;
    let requested_at = log
        .iter()
        .zip(events(&log))
        .find_map(|(entry, event)| match event {
            CoreEvent::RunRequested(e) if e.run.submission_id.as_str() == "wake-up-1" => {
                Some(entry.observed_at_ms)
            }
            _ => None,
        })
        .unwrap();
    assert!(
        requested_at >= at,
        "requested at {requested_at}, due at {at}"
    );
    let texts = crate::harness::assistant_texts(&env.store, &log).await;
    assert!(
        texts.last().unwrap().contains("The build is green."),
        "{texts:?}"
    );
    assert_log_intact(&env, &session).await;
    env.record_history(&session, "sleep-timer").await;
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_approval_given_after_a_worker_restart_continues_the_run() {
    let script = json!({"turns": [
        {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 0}}]},
        {"text": "Done after approval."}
    ]});
    let Some(mut env) = Env::start_with(
        "holds-approve",
        script,
        fast_settings(),
        WorkerKind::Process,
    )
    .await
    else {
        return;
    };
    let config = SessionConfig {
        tool_policy: ToolPolicy {
            rules: vec![ToolRule {
                tools: "sleep".into(),
                decision: ToolDecision::Ask,
            }],
            ..ToolPolicy::default()
        },
        ..crate::harness::default_config()
    };
    let session = env.open_config("s-approve", config).await;
    let run = env
        .request_run(&session, "sub-1", "Sleep if allowed.")
        .await;
    wait_for_event(&env, &session, "an approval request", |event| {
        matches!(event, CoreEvent::ApprovalRequested(_))
    })
    .await;
    assert_eq!(pending_activities(&env, &session).await, 0);
    env.kill_worker_process().await;
    env.spawn_worker_process();
    env.admit(
        &session,
        CoreCommand::DecideApproval {
            run_id: run.clone(),
            call_ids: Vec::new(),
            decision: ApprovalDecision::Approve { remember: false },
        },
    )
    .await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let log = env.log(&session).await;
    let result = events(&log)
        .into_iter()
        .find_map(|event| match event {
            CoreEvent::ToolResultRecorded(e) => Some(e.status),
            _ => None,
        })
        .unwrap();
    assert_eq!(result, ToolStatus::Ok);
    assert_log_intact(&env, &session).await;
    env.record_history(&session, "approval").await;
    env.shutdown().await;
}
