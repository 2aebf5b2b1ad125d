//! The seam for steps that are large by nature (docs/spec/seam.md): a generation with
//! 64 tool calls, and a session reloaded with a full queue of runs. Their payloads
//! depend on what one step produced or on the engine's limits, not on the
//! transcript; the seam codec keeps every one of them within 4 KiB in history by
//! spilling it to the CAS, and the session still runs to the same result.

use std::time::Duration;

use engine::SubmissionId;
use engine::core::command::CoreCommand;
use engine::core::context::ItemKind;
use engine::core::event::CoreEvent;
use engine::core::limits::QUEUED_RUNS_MAX;
use engine::core::run::RunOutcome;
use serde_json::json;
use temporal_workflow::{AgentSessionWorkflow, workflow_id};
use temporalio_client::WorkflowTerminateOptions;

use crate::harness::{Env, HistoryPayload, UNIVERSE, events, fast_settings, history_payloads};

const PAYLOAD_BYTES_MAX: usize = 4 * 1024;
const TOOL_CALLS: usize = 64;
const INPUTS_PER_RUN: usize = 4;

fn assert_within_bound(payloads: &[HistoryPayload]) {
    let oversized: Vec<_> = payloads
        .iter()
        .filter(|p| p.bytes > PAYLOAD_BYTES_MAX)
        .collect();
    assert!(oversized.is_empty(), "oversized: {oversized:?}");
}

fn spilled<'a>(payloads: &'a [HistoryPayload], kind: &str) -> Vec<&'a HistoryPayload> {
    payloads
        .iter()
        .filter(|p| p.activity_type == kind && p.spilled > 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_turn_with_64_tool_calls_stays_within_the_bound() {
    let calls: Vec<_> = (0..TOOL_CALLS)
        .map(|i| json!({"name": "echo", "arguments": {"text": format!("call {i}")}}))
        .collect();
    let script = json!({"turns": [{"text": "Calling.", "tool_calls": calls}, {"text": "Done."}]});
    let Some(env) = Env::start("seam-tools", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-seam-tools").await;
    let run = env.request_run(&session, "sub-0", "go").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);

    let log = env.log(&session).await;
    let results = events(&log)
        .into_iter()
        .filter(|event| matches!(event, CoreEvent::ToolResultRecorded(_)))
        .count();
    assert_eq!(results, TOOL_CALLS, "every call has its result in the log");

    let payloads = history_payloads(&env.history(&session).await);
    env.shutdown().await;
    assert_within_bound(&payloads);
    // The 64-call generation result is the large step (the batch recording it is
    // appended by the generation activity or by a local activity, whose input never
    // enters history): it went to the CAS and the workflow still read it back.
    assert!(
        !spilled(&payloads, "llm_generate_commit").is_empty(),
        "{payloads:?}"
    );
    // Each tool call stays small on its own.
    assert!(spilled(&payloads, "tool_invoke").is_empty(), "{payloads:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_session_reloaded_with_a_full_queue_stays_within_the_bound() {
    let mut turns = vec![json!({"text": "Slow.", "delay_ms": 15_000})];
    turns.extend((0..QUEUED_RUNS_MAX + 1).map(|i| json!({"text": format!("Answer {i}.")})));
    let Some(env) = Env::start("seam-queue", json!({"turns": turns}), fast_settings()).await else {
        return;
    };
    let session = env.open("s-seam-queue").await;
    let mut runs = vec![env.request_run(&session, "sub-active", "slow").await];
    let mut first_queued = None;
    for i in 0..QUEUED_RUNS_MAX {
        let mut input = Vec::new();
        for j in 0..INPUTS_PER_RUN {
            input.push(env.text(ItemKind::UserMessage, &format!("{i}.{j}")).await);
        }
        let command = CoreCommand::RequestRun {
            submission_id: SubmissionId::new(format!("sub-{i}")).unwrap(),
            input,
            overrides: Default::default(),
        };
        first_queued.get_or_insert_with(|| command.clone());
        runs.push(env.admit(&session, command).await.run_id.expect("a run id"));
    }

    // The workflow goes away with the queue full; the next admission (a resubmission,
    // as the queue has no room) starts a new one, whose load_session returns a
    // control state listing 64 × 4 inputs.
    env.sessions
        .client()
        .get_workflow_handle::<AgentSessionWorkflow>(workflow_id(UNIVERSE, &session))
        .terminate(WorkflowTerminateOptions::builder().reason("test").build())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = env.admit(&session, first_queued.unwrap()).await;
    assert!(again.duplicate);
    assert_eq!(again.run_id.as_ref(), Some(&runs[1]));

    for run in &runs {
        assert_eq!(env.outcome(&session, run).await, RunOutcome::Completed);
    }
    let payloads = history_payloads(&env.history(&session).await);
    env.shutdown().await;
    assert_within_bound(&payloads);
    assert!(
        !spilled(&payloads, "load_session").is_empty(),
        "{payloads:?}"
    );
}
