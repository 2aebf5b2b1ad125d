#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Helpers shared by the drive-level tests (`holds`, `lineage`): a full-state drive,
//! settled append by append, fed scripted generations.

use engine::core::command::CoreCommand;
use engine::core::config::{ModelRoute, SessionConfig};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::effects::{GenerationOutcome, GenerationResult};
use engine::core::event::CoreEvent;
use engine::core::lineage::ParentLink;
use engine::core::policy::ToolPolicy;
use engine::core::run::{RunPhase, ToolCallRequest, Usage};
use engine::core::state::SessionState;
use engine::core::tools::ToolSpec;
use engine::drive::{Action, Drive, GenerationIntent, Resumed};
use engine::{BlobRef, SessionId, SubmissionId, ToolCallId};

pub(crate) fn blob(text: &str) -> BlobRef {
    BlobRef::of_bytes(text.as_bytes())
}

/// Commits everything staged; returns the next effect and the events committed.
pub(crate) fn settle(drive: &mut Drive<SessionState>) -> (Action, Vec<CoreEvent>) {
    let mut events = Vec::new();
    loop {
        match drive.next_action() {
            Action::AppendEvents { entries, .. } => {
                events.extend(entries.iter().map(|e| CoreEvent::decode(&e.event).unwrap()));
                drive.resume_appended().unwrap();
            }
            action => return (action, events),
        }
    }
}

pub(crate) fn start(drive: &mut Drive<SessionState>, text: &str) -> GenerationIntent {
    let run = CoreCommand::RequestRun {
        submission_id: SubmissionId::new(format!("sub-{text}")).unwrap(),
        input: vec![ItemSpec::new(ItemKind::UserMessage, blob(text), 2)],
        overrides: Default::default(),
    };
    drive.admit(run, 2_000).unwrap();
    let (Action::GenerateLlm(intent), _) = settle(drive) else {
        panic!("expected a generation");
    };
    intent
}

pub(crate) fn calls(names: &[&str]) -> GenerationOutcome {
    let tool_calls: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| ToolCallRequest {
            call_id: ToolCallId::new(format!("call_{i}")).unwrap(),
            name: (*name).into(),
            arguments_ref: blob("{}"),
        })
        .collect();
    let items = tool_calls
        .iter()
        .map(|call| {
            let mut item = ItemSpec::new(ItemKind::ToolCall, call.arguments_ref.clone(), 1);
            item.call_id = Some(call.call_id.clone());
            item
        })
        .collect();
    GenerationOutcome::Completed(GenerationResult {
        usage: Usage::default(),
        response_id: None,
        items,
        tool_calls,
        finish_reason: None,
        context_tokens: None,
        request_ref: None,
        context_refresh: Default::default(),
    })
}

pub(crate) fn generate(
    drive: &mut Drive<SessionState>,
    intent: &GenerationIntent,
    outcome: GenerationOutcome,
    now: u64,
) -> (Action, Vec<CoreEvent>) {
    let resumed = drive.resume_generation(&intent.run_id, intent.turn, outcome, now);
    assert_eq!(resumed, Resumed::Applied);
    settle(drive)
}

pub(crate) fn phase(drive: &Drive<SessionState>) -> RunPhase {
    drive
        .state()
        .control
        .runs
        .active
        .as_ref()
        .unwrap()
        .phase
        .clone()
}

pub(crate) fn config(policy: ToolPolicy) -> SessionConfig {
    SessionConfig {
        model: ModelRoute {
            provider_id: "openai".into(),
            api_kind: "openai:responses".into(),
            model: "gpt-5".into(),
        },
        generation: Default::default(),
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: policy,
        budget: Default::default(),
    }
}

/// A session `id` opened with `policy` (a child of `parent`, if any) and `tools`.
pub(crate) fn open(
    id: &str,
    policy: ToolPolicy,
    parent: Option<ParentLink>,
    tools: Vec<ToolSpec>,
) -> Drive<SessionState> {
    let mut drive = Drive::new(SessionState::default());
    let open = CoreCommand::OpenSession {
        session_id: SessionId::new(id).unwrap(),
        config: config(policy),
        instructions: None,
        parent,
    };
    drive.admit(open, 1_000).unwrap();
    let replace = CoreCommand::ReplaceTools {
        expected_revision: 0,
        tools,
    };
    drive.admit(replace, 1_000).unwrap();
    drive
}
