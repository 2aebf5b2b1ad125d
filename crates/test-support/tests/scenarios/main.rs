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
use engine::drive::{Action, Resumed};
use engine::memory::MemoryStore;
use engine::store::BlobStore;
use engine::{BlobRef, LogEntry, RunId, SessionId, SubmissionId};
use serde_json::json;
use test_support::runner::{RunnerError, SessionRunner, Settled};
use test_support::scripted_llm::{ScriptedLlm, ScriptedTurn};
use test_support::tools::{BUILTIN_TOOL_NAMES, BuiltinTools};

pub(crate) type Runner = SessionRunner<MemoryStore, ScriptedLlm, BuiltinTools>;

pub(crate) fn config() -> SessionConfig {
    SessionConfig {
        model: ModelRoute {
            provider_id: "fake".into(),
            api_kind: "openai:responses".into(),
            model: "scripted-1".into(),
        },
        generation: Default::default(),
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    }
}

pub(crate) async fn runner_with(script: Vec<ScriptedTurn>, config: SessionConfig) -> Runner {
    runner_on(
        Arc::new(MemoryStore::new()),
        ScriptedLlm::new(script),
        config,
    )
    .await
}

pub(crate) async fn runner_on(
    store: Arc<MemoryStore>,
    llm: ScriptedLlm,
    config: SessionConfig,
) -> Runner {
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
            parent: Default::default(),
        })
        .await
        .unwrap();
    let tools = BUILTIN_TOOL_NAMES
        .iter()
        .map(|name| ToolSpec {
            name: (*name).into(),
            definition_ref: BlobRef::of_bytes(name.as_bytes()),
            class: None,
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

pub(crate) async fn request_run(runner: &mut Runner, submission: &str, text: &str) -> RunId {
    request_run_with(runner, submission, text, RunOverrides::default()).await
}

pub(crate) async fn request_run_with(
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

pub(crate) fn events(log: &[LogEntry]) -> Vec<CoreEvent> {
    log.iter()
        .map(|entry| CoreEvent::decode(&entry.event).unwrap())
        .collect()
}

pub(crate) fn outcome_of(log: &[LogEntry], run_id: &RunId) -> RunOutcome {
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

pub(crate) fn kinds_of(state: &SessionState) -> Vec<ItemKind> {
    state.context.items().iter().map(|item| item.kind).collect()
}

/// Steps until the next action matches `wanted`, which is left unperformed.
pub(crate) async fn step_until(runner: &mut Runner, wanted: fn(&Action) -> bool) {
    for _ in 0..100 {
        if wanted(&runner.peek()) {
            return;
        }
        runner.step().await.unwrap();
    }
    panic!("action never came");
}

/// The committed log replays to the runner's state, byte for byte.
pub(crate) async fn assert_replays(runner: &Runner) {
    let log = runner.log().await.unwrap();
    let replayed = SessionState::replay(&log).unwrap();
    assert_eq!(
        replayed.to_canonical_bytes(),
        runner.state().to_canonical_bytes()
    );
}

mod lifecycle;
mod limits;
mod recovery;
mod runs;
