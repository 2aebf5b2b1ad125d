//! Agent scenarios driven end to end through `SessionRunner` over the in-memory store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use engine::core::admit::Admitted;
use engine::core::command::{CoreCommand, Rejection};
use engine::core::config::{
    CompactionMode, ContextPolicy, ModelRoute, RunLimitsPatch, RunOverrides, SessionConfig,
};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::event::CoreEvent;
use engine::core::run::{LimitKind, RunFailure, RunOutcome, ToolStatus};
use engine::core::state::SessionState;
use engine::core::tools::ToolSpec;
use engine::drive::Action;
use engine::memory::MemoryStore;
use engine::store::BlobStore;
use engine::{BlobRef, LogEntry, RunId, SessionId, SubmissionId};
use serde_json::json;
use test_support::runner::{RunnerError, SessionRunner, Settled};
use test_support::scripted_llm::{ScriptedLlm, ScriptedTurn};
use test_support::tools::{BUILTIN_TOOL_NAMES, BuiltinTools};

type Runner = SessionRunner<MemoryStore, ScriptedLlm, BuiltinTools>;

fn config() -> SessionConfig {
    SessionConfig {
        model: ModelRoute {
            provider_id: "fake".into(),
            api_kind: "openai:responses".into(),
            model: "scripted-1".into(),
        },
        generation: Default::default(),
        context: Default::default(),
        run_limits: Default::default(),
    }
}

async fn runner_with(script: Vec<ScriptedTurn>, config: SessionConfig) -> Runner {
    runner_on(
        Arc::new(MemoryStore::new()),
        ScriptedLlm::new(script),
        config,
    )
    .await
}

async fn runner_on(store: Arc<MemoryStore>, llm: ScriptedLlm, config: SessionConfig) -> Runner {
    let session_id = SessionId::new("session_1").unwrap();
    let mut runner = SessionRunner::new(store, session_id.clone(), llm, BuiltinTools)
        .await
        .unwrap();
    let instructions = runner
        .user_text("You are a careful assistant.")
        .await
        .unwrap();
    let instructions = ItemSpec {
        kind: ItemKind::Instructions,
        ..instructions
    };
    runner
        .admit(CoreCommand::OpenSession {
            session_id,
            config,
            instructions: Some(instructions),
        })
        .await
        .unwrap();
    let tools = BUILTIN_TOOL_NAMES
        .iter()
        .map(|name| ToolSpec {
            name: (*name).into(),
            definition_ref: BlobRef::of_bytes(name.as_bytes()),
        })
        .collect();
    runner
        .admit(CoreCommand::ReplaceTools {
            expected_revision: 0,
            tools,
        })
        .await
        .unwrap();
    runner
}

async fn request_run(runner: &mut Runner, submission: &str, text: &str) -> RunId {
    request_run_with(runner, submission, text, RunOverrides::default()).await
}

async fn request_run_with(
    runner: &mut Runner,
    submission: &str,
    text: &str,
    overrides: RunOverrides,
) -> RunId {
    let input = vec![runner.user_text(text).await.unwrap()];
    let submission_id = SubmissionId::new(submission).unwrap();
    match runner
        .admit(CoreCommand::RequestRun {
            submission_id,
            input,
            overrides,
        })
        .await
        .unwrap()
    {
        Admitted::Run {
            run_id,
            duplicate: false,
        } => run_id,
        other => panic!("unexpected admission {other:?}"),
    }
}

fn events(log: &[LogEntry]) -> Vec<CoreEvent> {
    log.iter()
        .map(|entry| CoreEvent::decode(&entry.event).unwrap())
        .collect()
}

fn outcome_of(log: &[LogEntry], run_id: &RunId) -> RunOutcome {
    let finished: Vec<_> = events(log)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::RunFinished(e) if e.run_id == *run_id => Some(e.outcome),
            _ => None,
        })
        .collect();
    assert_eq!(finished.len(), 1, "run {run_id} must finish exactly once");
    finished.into_iter().next().unwrap()
}

fn kinds_of(state: &SessionState) -> Vec<ItemKind> {
    state.context.items().iter().map(|item| item.kind).collect()
}

/// Steps until the next action matches `wanted`, which is left unperformed.
async fn step_until(runner: &mut Runner, wanted: fn(&Action) -> bool) {
    for _ in 0..100 {
        if wanted(&runner.peek()) {
            return;
        }
        runner.step().await.unwrap();
    }
    panic!("action never came");
}

/// The committed log replays to the runner's state, byte for byte.
async fn assert_replays(runner: &Runner) {
    let log = runner.log().await.unwrap();
    let replayed = SessionState::replay(&log).unwrap();
    assert_eq!(
        replayed.to_canonical_bytes(),
        runner.state().to_canonical_bytes()
    );
}

#[tokio::test]
async fn single_turn_run_completes() {
    let mut runner = runner_with(vec![ScriptedTurn::text("Hello!")], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "hi").await;
    assert_eq!(runner.run_until_idle().await.unwrap(), Settled::Idle);

    let log = runner.log().await.unwrap();
    assert_eq!(outcome_of(&log, &run_id), RunOutcome::Completed);
    let state = runner.state();
    assert_eq!(
        kinds_of(state),
        [
            ItemKind::Instructions,
            ItemKind::UserMessage,
            ItemKind::AssistantMessage
        ]
    );
    assert!(state.control.runs.active.is_none());
    assert!(state.control.usage_total.output_tokens > 0);
    let requests = runner.llm().requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].items.len(),
        2,
        "instructions and the user message"
    );
    assert_eq!(requests[0].tools.len(), 3);
    assert_replays(&runner).await;
}

#[tokio::test]
async fn multi_turn_tool_loop() {
    let script = vec![
        ScriptedTurn::call("add", json!({"a": 2, "b": 3})),
        ScriptedTurn::ToolCalls {
            text: Some("Checking twice.".into()),
            calls: vec![("echo".into(), json!({"x": 1})), ("nope".into(), json!({}))],
        },
        ScriptedTurn::text("2 + 3 = 5"),
    ];
    let mut runner = runner_with(script, config()).await;
    let run_id = request_run(&mut runner, "sub-1", "add 2 and 3").await;
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(outcome_of(&log, &run_id), RunOutcome::Completed);
    let results: Vec<_> = events(&log)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::ToolResultRecorded(e) => Some((e.batch, e.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        results,
        [
            (1, ToolStatus::Ok),
            (2, ToolStatus::Ok),
            (2, ToolStatus::Error)
        ]
    );

    let sum_item = runner
        .state()
        .context
        .items()
        .iter()
        .find(|item| item.kind == ItemKind::ToolResult)
        .unwrap();
    let sum = runner.store().get(&sum_item.content_ref).await;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&sum.unwrap()).unwrap(),
        json!({"sum": 5})
    );

    let requests = runner.llm().requests();
    assert_eq!(requests.len(), 3);
    // Each request extends the previous one: the transcript only grows, in order.
    for pair in requests.windows(2) {
        assert!(pair[1].items.starts_with(&pair[0].items));
    }
    let last: Vec<_> = requests[2].items.iter().map(|item| item.kind).collect();
    use ItemKind::*;
    assert_eq!(
        last,
        [
            Instructions,
            UserMessage,
            ToolCall,
            ToolResult,
            AssistantMessage,
            ToolCall,
            ToolCall,
            ToolResult,
            ToolResult
        ]
    );
    let control = &runner.state().control;
    assert_eq!(control.runs.last_finished.as_ref().unwrap().run_id, run_id);
    assert_replays(&runner).await;
}

#[tokio::test]
async fn queued_runs_run_in_order() {
    let script = vec![
        ScriptedTurn::text("first answer"),
        ScriptedTurn::text("second answer"),
    ];
    let mut runner = runner_with(script, config()).await;
    let first = request_run(&mut runner, "sub-1", "one").await;
    // Start the first run, then queue the second while it is generating.
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    let second = request_run(&mut runner, "sub-2", "two").await;
    assert_eq!(runner.state().control.runs.queue.len(), 1);
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(outcome_of(&log, &first), RunOutcome::Completed);
    assert_eq!(outcome_of(&log, &second), RunOutcome::Completed);
    let requests = runner.llm().requests();
    assert_eq!(requests[0].run_id, first);
    assert_eq!(requests[1].run_id, second);
    assert_eq!(
        requests[1].items.len(),
        4,
        "second run sees the first run's transcript"
    );
}

#[tokio::test]
async fn cancel_during_tool_batch() {
    let mut runner = runner_with(vec![ScriptedTurn::call("echo", json!({"x": 1}))], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "go").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::InvokeTools(_))
    })
    .await;
    let Action::InvokeTools(batch) = runner.peek() else {
        unreachable!()
    };
    runner
        .admit(CoreCommand::CancelRun {
            run_id: run_id.clone(),
            reason: Some("user".into()),
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(
        outcome_of(&log, &run_id),
        RunOutcome::Cancelled {
            reason: Some("user".into())
        }
    );
    let last_item = runner.state().context.items().last().unwrap().clone();
    assert_eq!(
        last_item.kind,
        ItemKind::ToolResult,
        "the open call got a not-executed result"
    );
    assert!(last_item.is_error);
    assert!(
        runner.store().get(&last_item.content_ref).await.is_ok(),
        "well-known blob is stored"
    );

    // A tool result arriving late is refused and changes nothing.
    let output_ref = runner.store().put(b"late".to_vec()).await.unwrap();
    let late = engine::core::effects::ToolResult {
        call_id: batch.calls[0].call_id.clone(),
        status: ToolStatus::Ok,
        output_ref,
        token_estimate: 1,
    };
    let before = runner.state().to_canonical_bytes();
    let mut drive = engine::drive::Drive::new(runner.state().clone());
    assert!(matches!(
        drive.resume_tool_results(&run_id, batch.batch, vec![late], 99),
        Err(Rejection::StaleResult { .. })
    ));
    assert!(!drive.has_staged());
    assert_eq!(drive.state().to_canonical_bytes(), before);
    assert_replays(&runner).await;
}

#[tokio::test]
async fn cancel_during_generation() {
    let mut runner = runner_with(vec![ScriptedTurn::text("never delivered")], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "go").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    runner
        .admit(CoreCommand::CancelRun {
            run_id: run_id.clone(),
            reason: None,
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();

    let log = runner.log().await.unwrap();
    assert_eq!(
        outcome_of(&log, &run_id),
        RunOutcome::Cancelled { reason: None }
    );
    assert!(
        events(&log)
            .iter()
            .any(|event| matches!(event, CoreEvent::TurnAborted(e) if e.turn == 1))
    );
    assert_eq!(
        runner.llm().remaining(),
        1,
        "the in-flight generation was abandoned, not awaited"
    );
    // The session takes new work afterwards.
    runner.llm().push(ScriptedTurn::text("ok"));
    let next = request_run(&mut runner, "sub-2", "again").await;
    runner.run_until_idle().await.unwrap();
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &next),
        RunOutcome::Completed
    );
}

#[tokio::test]
async fn steer_mid_run_enters_at_the_next_boundary() {
    let script = vec![
        ScriptedTurn::call("echo", json!({"step": 1})),
        ScriptedTurn::text("done, as steered"),
    ];
    let mut runner = runner_with(script, config()).await;
    let run_id = request_run(&mut runner, "sub-1", "start").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    let steer = vec![runner.user_text("also say please").await.unwrap()];
    runner
        .admit(CoreCommand::Steer {
            run_id: run_id.clone(),
            input: steer.clone(),
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();

    let requests = runner.llm().requests();
    assert_eq!(requests.len(), 2);
    let second = &requests[1].items;
    let last = second.last().unwrap();
    assert_eq!(
        (last.kind, &last.content_ref),
        (ItemKind::UserMessage, &steer[0].content_ref)
    );
    assert_eq!(
        second[second.len() - 2].kind,
        ItemKind::ToolResult,
        "steer follows the tool result"
    );
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Completed
    );
}

#[tokio::test]
async fn steer_after_final_answer_adds_a_turn() {
    let script = vec![ScriptedTurn::text("first"), ScriptedTurn::text("revised")];
    let mut runner = runner_with(script, config()).await;
    let run_id = request_run(&mut runner, "sub-1", "start").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::GenerateLlm(_))
    })
    .await;
    let steer = vec![runner.user_text("shorter please").await.unwrap()];
    runner
        .admit(CoreCommand::Steer {
            run_id: run_id.clone(),
            input: steer,
        })
        .await
        .unwrap();
    runner.run_until_idle().await.unwrap();
    assert_eq!(runner.llm().requests().len(), 2);
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Completed
    );
}

fn limits(turns: Option<u32>, rounds: Option<u32>, tokens: Option<u64>) -> RunOverrides {
    RunOverrides {
        limits: Some(RunLimitsPatch {
            turns_max: turns,
            tool_rounds_max: rounds,
            output_tokens_max: tokens,
        }),
        ..RunOverrides::default()
    }
}

fn endless_calls(count: usize) -> Vec<ScriptedTurn> {
    (0..count)
        .map(|i| ScriptedTurn::call("echo", json!({"i": i})))
        .collect()
}

#[tokio::test]
async fn turn_limit_fails_the_run() {
    let mut runner = runner_with(endless_calls(10), config()).await;
    let run_id = request_run_with(&mut runner, "sub-1", "loop", limits(Some(2), None, None)).await;
    runner.run_until_idle().await.unwrap();
    let expected = RunFailure::LimitExceeded {
        limit: LimitKind::Turns,
        used: 2,
        max: 2,
    };
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Failed { failure: expected }
    );
    assert_eq!(runner.llm().requests().len(), 2);
}

#[tokio::test]
async fn tool_round_limit_fails_the_run() {
    let mut runner = runner_with(endless_calls(10), config()).await;
    let run_id = request_run_with(&mut runner, "sub-1", "loop", limits(None, Some(1), None)).await;
    runner.run_until_idle().await.unwrap();
    let log = runner.log().await.unwrap();
    let expected = RunFailure::LimitExceeded {
        limit: LimitKind::ToolRounds,
        used: 1,
        max: 1,
    };
    assert_eq!(
        outcome_of(&log, &run_id),
        RunOutcome::Failed { failure: expected }
    );
    let not_executed = events(&log)
        .into_iter()
        .filter(|event| matches!(event, CoreEvent::ToolResultRecorded(e) if e.status == ToolStatus::NotExecuted))
        .count();
    assert_eq!(
        not_executed, 1,
        "the second batch's call is closed, not run"
    );
}

#[tokio::test]
async fn output_token_limit_fails_the_run_and_clips_turns() {
    let llm = ScriptedLlm::new(endless_calls(10)).with_output_tokens(60);
    let mut runner = runner_on(Arc::new(MemoryStore::new()), llm, config()).await;
    let run_id =
        request_run_with(&mut runner, "sub-1", "loop", limits(None, None, Some(100))).await;
    runner.run_until_idle().await.unwrap();
    let expected = RunFailure::LimitExceeded {
        limit: LimitKind::OutputTokens,
        used: 120,
        max: 100,
    };
    assert_eq!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Failed { failure: expected }
    );
    let caps: Vec<_> = runner
        .llm()
        .requests()
        .iter()
        .map(|request| request.output_tokens_max)
        .collect();
    assert_eq!(
        caps,
        [100, 40],
        "each turn is capped at what the run has left"
    );
}

#[tokio::test]
async fn resubmission_is_idempotent_and_conflicts_are_typed() {
    let mut runner = runner_with(vec![ScriptedTurn::text("once")], config()).await;
    let input = vec![runner.user_text("hello").await.unwrap()];
    let submission_id = SubmissionId::new("sub-1").unwrap();
    let request = CoreCommand::RequestRun {
        submission_id: submission_id.clone(),
        input: input.clone(),
        overrides: RunOverrides::default(),
    };
    let first = runner.admit(request.clone()).await.unwrap();
    let Admitted::Run {
        run_id,
        duplicate: false,
    } = first
    else {
        panic!("{first:?}")
    };
    let head = runner.state().head();
    assert_eq!(
        runner.admit(request).await.unwrap(),
        Admitted::Run {
            run_id: run_id.clone(),
            duplicate: true
        }
    );
    assert_eq!(runner.state().head(), head, "a duplicate appends nothing");

    let other = vec![runner.user_text("something else").await.unwrap()];
    let conflict = CoreCommand::RequestRun {
        submission_id,
        input: other,
        overrides: RunOverrides::default(),
    };
    match runner.admit(conflict).await {
        Err(RunnerError::Rejected(Rejection::SubmissionConflict {
            run_id: existing, ..
        })) => {
            assert_eq!(existing, run_id)
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(runner.state().head(), head);
    runner.run_until_idle().await.unwrap();
    assert_eq!(runner.llm().requests().len(), 1, "one run, not two");
}

#[tokio::test]
async fn generation_failure_fails_the_run() {
    let mut runner = runner_with(
        vec![ScriptedTurn::fail("context_length_exceeded")],
        config(),
    )
    .await;
    let run_id = request_run(&mut runner, "sub-1", "hi").await;
    runner.run_until_idle().await.unwrap();
    match outcome_of(&runner.log().await.unwrap(), &run_id) {
        RunOutcome::Failed {
            failure: RunFailure::GenerationFailed { error },
        } => {
            assert_eq!(error.code, "context_length_exceeded")
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rejected_commands_append_nothing() {
    let mut runner = runner_with(vec![], config()).await;
    let head = runner.state().head();
    let bad = [
        CoreCommand::PatchConfig {
            expected_revision: 7,
            patch: Default::default(),
        },
        CoreCommand::CancelRun {
            run_id: RunId::from_ordinal(9),
            reason: None,
        },
        CoreCommand::RemoveContextItem {
            key: "missing".into(),
        },
        CoreCommand::RequestRun {
            submission_id: SubmissionId::new("s").unwrap(),
            input: vec![],
            overrides: RunOverrides::default(),
        },
    ];
    for command in bad {
        assert!(matches!(
            runner.admit(command).await,
            Err(RunnerError::Rejected(_))
        ));
    }
    assert_eq!(runner.state().head(), head);
    assert_eq!(runner.log().await.unwrap().len() as u64, head);
}

/// Each turn is planned once and each run finishes once: no duplicate, no gap.
fn assert_well_formed(log: &[LogEntry], runs: usize) {
    for (index, entry) in log.iter().enumerate() {
        assert_eq!(entry.seq, index as u64 + 1);
    }
    let events = events(log);
    let planned: Vec<_> = events
        .iter()
        .filter_map(|event| match event {
            CoreEvent::TurnPlanned(e) => Some((e.run_id.clone(), e.turn)),
            _ => None,
        })
        .collect();
    let mut unique = planned.clone();
    unique.dedup();
    assert_eq!(planned, unique, "a turn was planned twice");
    let finished = events
        .iter()
        .filter(|event| matches!(event, CoreEvent::RunFinished(_)))
        .count();
    assert_eq!(finished, runs);
}

#[tokio::test]
async fn crash_after_append_before_resume_does_not_duplicate() {
    let script = vec![
        ScriptedTurn::call("add", json!({"a": 1, "b": 1})),
        ScriptedTurn::text("2"),
    ];
    let store = Arc::new(MemoryStore::new());
    let mut runner = runner_on(store.clone(), ScriptedLlm::new(script), config()).await;
    request_run(&mut runner, "sub-1", "1+1").await;
    // Crash at every append of the run: the entries land, the drive never hears.
    let mut crashes = 0;
    loop {
        match runner.peek() {
            Action::AppendEvents { .. } => {
                let llm_requests = runner.llm().requests().len();
                let session_id = runner.session_id().clone();
                let llm = ScriptedLlm::new(endless_script_after(llm_requests));
                runner.append_then_crash().await.unwrap();
                runner = SessionRunner::new(store.clone(), session_id, llm, BuiltinTools)
                    .await
                    .unwrap();
                crashes += 1;
            }
            Action::Idle => break,
            _ => {
                runner.step().await.unwrap();
            }
        }
    }
    assert!(crashes >= 4, "crashed at {crashes} appends");
    assert_well_formed(&runner.log().await.unwrap(), 1);
    assert_replays(&runner).await;
}

/// The remainder of the crash test's script, given how many turns already ran.
fn endless_script_after(turns_done: usize) -> Vec<ScriptedTurn> {
    let all = [
        ScriptedTurn::call("add", json!({"a": 1, "b": 1})),
        ScriptedTurn::text("2"),
    ];
    all.into_iter().skip(turns_done).collect()
}

#[tokio::test]
async fn crash_before_append_replans_the_same_entries() {
    let store = Arc::new(MemoryStore::new());
    let mut runner = runner_on(
        store.clone(),
        ScriptedLlm::new(vec![ScriptedTurn::text("hi")]),
        config(),
    )
    .await;
    request_run(&mut runner, "sub-1", "hello").await;
    let Action::AppendEvents {
        entries: before, ..
    } = runner.peek()
    else {
        panic!("expected an append")
    };
    let runner = runner.restart().await.unwrap();
    let mut runner = runner;
    let Action::AppendEvents { entries: after, .. } = runner.peek() else {
        panic!("expected an append")
    };
    assert_eq!(
        before, after,
        "re-driving from the log decides the very same entries"
    );
    runner.run_until_idle().await.unwrap();
    assert_well_formed(&runner.log().await.unwrap(), 1);
}

#[tokio::test]
async fn high_watermark_triggers_compaction() {
    let mut config = config();
    config.context = ContextPolicy {
        compaction: CompactionMode::Auto,
        high_watermark_tokens: 200,
    };
    let script = vec![
        ScriptedTurn::text("a long answer ".repeat(40)),
        ScriptedTurn::text("ok"),
    ];
    let mut runner = runner_with(script, config).await;
    request_run(
        &mut runner,
        "sub-1",
        &"tell me a long story please ".repeat(20),
    )
    .await;
    runner.run_until_idle().await.unwrap();
    let log = runner.log().await.unwrap();
    assert!(
        events(&log)
            .iter()
            .any(|event| matches!(event, CoreEvent::ContextCompacted(_)))
    );
    assert_eq!(
        kinds_of(runner.state()),
        [ItemKind::Instructions, ItemKind::Summary]
    );

    request_run(&mut runner, "sub-2", "next").await;
    runner.run_until_idle().await.unwrap();
    let last = runner.llm().requests().pop().unwrap();
    let kinds: Vec<_> = last.items.iter().map(|item| item.kind).collect();
    assert_eq!(
        kinds,
        [
            ItemKind::Instructions,
            ItemKind::Summary,
            ItemKind::UserMessage
        ]
    );
    assert_replays(&runner).await;
}

#[tokio::test]
async fn manual_compaction_and_rehydration_from_checkpoints() {
    let store = Arc::new(MemoryStore::new());
    let script: Vec<_> = (0..6)
        .map(|i| ScriptedTurn::text(format!("answer {i}")))
        .collect();
    let mut runner = runner_on(store.clone(), ScriptedLlm::new(script), config())
        .await
        .with_checkpoint_interval(5);
    for i in 0..3 {
        request_run(&mut runner, &format!("sub-{i}"), "question").await;
        runner.run_until_idle().await.unwrap();
    }
    runner.admit(CoreCommand::RequestCompaction).await.unwrap();
    runner.run_until_idle().await.unwrap();
    assert_eq!(
        kinds_of(runner.state()),
        [ItemKind::Instructions, ItemKind::Summary]
    );
    let checkpoint =
        engine::store::CheckpointStore::latest_checkpoint(&*store, runner.session_id())
            .await
            .unwrap();
    let checkpoint = checkpoint.expect("a checkpoint was written");
    assert!(checkpoint.seq > 0 && checkpoint.seq <= runner.state().head());

    let expected = runner.state().to_canonical_bytes();
    let runner = runner.restart().await.unwrap();
    assert_eq!(
        runner.state().to_canonical_bytes(),
        expected,
        "checkpoint + tail equals the live state"
    );
    assert_replays(&runner).await;
}

#[tokio::test]
async fn close_cancels_work_and_refuses_more() {
    let mut runner = runner_with(vec![ScriptedTurn::text("unused")], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "hi").await;
    runner.admit(CoreCommand::Close).await.unwrap();
    assert_eq!(runner.run_until_idle().await.unwrap(), Settled::Closed);
    assert!(matches!(
        outcome_of(&runner.log().await.unwrap(), &run_id),
        RunOutcome::Cancelled { .. }
    ));
    let refused = runner.admit(CoreCommand::RequestCompaction).await;
    assert!(matches!(
        refused,
        Err(RunnerError::Rejected(Rejection::Closed))
    ));
}

#[tokio::test]
async fn close_during_tool_batch_closes_open_calls() {
    let mut runner = runner_with(vec![ScriptedTurn::call("echo", json!({"x": 1}))], config()).await;
    let run_id = request_run(&mut runner, "sub-1", "go").await;
    step_until(&mut runner, |action| {
        matches!(action, Action::InvokeTools(_))
    })
    .await;
    runner.admit(CoreCommand::Close).await.unwrap();
    assert_eq!(runner.run_until_idle().await.unwrap(), Settled::Closed);
    let log = runner.log().await.unwrap();
    assert!(matches!(
        outcome_of(&log, &run_id),
        RunOutcome::Cancelled { .. }
    ));
    let not_executed = events(&log)
        .into_iter()
        .filter(|event| matches!(event, CoreEvent::ToolResultRecorded(e) if e.status == ToolStatus::NotExecuted))
        .count();
    assert_eq!(not_executed, 1);
}

#[tokio::test]
async fn compaction_result_after_close_is_stale() {
    let mut runner = runner_with(vec![], config()).await;
    runner.admit(CoreCommand::RequestCompaction).await.unwrap();
    let Action::CompactContext(intent) = runner.peek() else {
        panic!("expected a compaction")
    };
    runner.admit(CoreCommand::Close).await.unwrap();
    let mut drive = engine::drive::Drive::new(runner.state().clone());
    let outcome = engine::core::effects::CompactionOutcome::Compacted { summary: vec![] };
    assert!(matches!(
        drive.resume_compaction(intent.compaction, outcome, 99),
        Err(Rejection::StaleResult { .. })
    ));
}
