//! `session_view` of a state driven through the engine, step by step.

use api::ErrorKind;
use api::types::run::{InputItem, RunOverridesInput, RunStatus};
use api::types::session::{
    FilesystemMode, GenerationInput, InstructionsInput, ModelRouteInput, ReasoningEffort,
    SessionConfigInput, SessionPatch, SessionStartParams, SessionStatus, ToolsInput,
};
use engine::core::admit::Admitted;
use engine::core::command::CoreCommand;
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::effects::{GenerationOutcome, GenerationResult, ToolResult};
use engine::core::run::{EffectError, ToolCallRequest, ToolStatus, Usage};
use engine::drive::Action;
use engine::{RunId, ToolCallId};
use serde_json::json;

use crate::support::{Host, assert_valid};

pub(crate) fn start_params() -> SessionStartParams {
    SessionStartParams {
        session_id: Some("s-1".into()),
        config: SessionConfigInput {
            model: ModelRouteInput {
                provider_id: "openai".into(),
                api_kind: "openai:responses".into(),
                model: "gpt-test".into(),
            },
            instructions: Some(InstructionsInput::Text {
                text: "Be brief.".into(),
            }),
            generation: GenerationInput {
                reasoning_effort: Some(ReasoningEffort::Medium),
                ..GenerationInput::default()
            },
            context: Default::default(),
            run_defaults: api::types::run::RunLimitsInput {
                max_turns: Some(5),
                ..Default::default()
            },
            tools: ToolsInput {
                filesystem: FilesystemMode::ReadOnly,
                timers: false,
                schedules: false,
                agents: Default::default(),
            },
            tool_policy: Default::default(),
            budget: Default::default(),
        },
    }
}

pub(crate) async fn request_run(host: &mut Host, submission: &str, text: &str) -> Admitted {
    let input = api_projection::prepare_input(&[InputItem::Text { text: text.into() }]).unwrap();
    let input = host.input(input).await;
    let config = host.control().config.clone().unwrap();
    host.admit(CoreCommand::RequestRun {
        submission_id: api_projection::submission_id(submission).unwrap(),
        input,
        overrides: api_projection::run_overrides(&config, None::<&RunOverridesInput>).unwrap(),
    })
    .unwrap()
}

const USAGE: Usage = Usage {
    input_tokens: 1_000,
    output_tokens: 100,
    cached_input_tokens: 800,
    reasoning_tokens: 20,
    cache_write_input_tokens: 0,
    cost_nanos: 1_250_000,
    unpriced_turns: 0,
};

#[tokio::test]
async fn session_view_follows_the_session() {
    let mut host = Host::open(&start_params()).await;
    let view = host.session_view();
    assert_eq!(view.session_id, "s-1");
    assert_eq!(view.status, SessionStatus::Idle);
    assert_eq!(view.revision, 1);
    assert_eq!(view.config.model.model, "gpt-test");
    assert_eq!(
        serde_json::Value::Object(view.config.provider_params.clone()),
        json!({"reasoning_effort": "medium"})
    );
    assert_eq!(view.config.max_output_tokens, 8_192);
    assert_eq!(view.config.run_defaults.max_turns, 5);
    assert_eq!(view.config.run_defaults.max_tool_rounds, 50);
    assert_eq!(view.config.filesystem, FilesystemMode::ReadOnly);
    assert_eq!((view.active_run, view.last_run), (None, None));
    assert_eq!(view.event_cursor, host.log.len() as u64);
    assert_eq!(view.updated_at_ms, host.log.last().unwrap().observed_at_ms);
    assert_eq!(view.context_tokens_estimate, 10);

    // A patch at the current revision; a stale one is a conflict naming the current.
    let patch = SessionPatch {
        generation: Some(GenerationInput {
            max_output_tokens: Some(1_000),
            ..GenerationInput::default()
        }),
        ..SessionPatch::default()
    };
    let config = host.control().config.clone().unwrap();
    let engine_patch = api_projection::config_patch(&config, &patch).unwrap();
    host.admit(CoreCommand::PatchConfig {
        expected_revision: view.revision,
        patch: engine_patch.clone(),
    })
    .unwrap();
    host.settle();
    let view = host.session_view();
    assert_eq!((view.revision, view.config.max_output_tokens), (2, 1_000));
    let stale = host
        .admit(CoreCommand::PatchConfig {
            expected_revision: 1,
            patch: engine_patch,
        })
        .unwrap_err();
    let err = api_projection::rejection(stale);
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.data.current_revision, Some(2));

    // Run 1 starts generating; run 2 queues behind it.
    request_run(&mut host, "sub-1", "hello").await;
    let Action::GenerateLlm(intent) = host.settle() else {
        panic!("expected a generation");
    };
    assert_eq!(
        request_run(&mut host, "sub-2", "later").await,
        Admitted::Run {
            run_id: RunId::from_ordinal(2),
            duplicate: false
        }
    );
    host.settle();
    let view = host.session_view();
    assert_eq!(view.status, SessionStatus::Running);
    let active = view.active_run.unwrap();
    assert_eq!(
        (active.run_id.as_str(), active.status, active.turns),
        ("run_1", RunStatus::Running, 1)
    );
    assert_eq!(view.queued_run_ids, ["run_2"]);

    // A queued run cancelled is the last finished run.
    host.admit(CoreCommand::CancelRun {
        run_id: RunId::from_ordinal(2),
        reason: None,
    })
    .unwrap();
    host.settle();
    let view = host.session_view();
    assert!(view.queued_run_ids.is_empty());
    let last = view.last_run.unwrap();
    assert_eq!(
        (last.run_id.as_str(), last.status),
        ("run_2", RunStatus::Cancelled)
    );

    // The generation asks for a tool; its result comes back.
    let arguments_ref = host.put(r#"{"path":"a.txt"}"#).await;
    let call_id = ToolCallId::new("call_1").unwrap();
    let mut call_item = ItemSpec::new(ItemKind::ToolCall, host.put("call").await, 5);
    call_item.call_id = Some(call_id.clone());
    let outcome = GenerationOutcome::Completed(GenerationResult {
        usage: USAGE,
        response_id: None,
        items: vec![call_item],
        tool_calls: vec![ToolCallRequest {
            call_id: call_id.clone(),
            name: "read_file".into(),
            arguments_ref,
        }],
        finish_reason: None,
        context_tokens: None,
        request_ref: None,
        context_refresh: Default::default(),
    });
    let at = host.tick();
    assert_eq!(
        host.drive
            .resume_generation(&intent.run_id, intent.turn, outcome, at),
        engine::drive::Resumed::Applied
    );
    let Action::InvokeTools(batch) = host.settle() else {
        panic!("expected tools");
    };
    let view = host.session_view();
    let active = view.active_run.unwrap();
    assert_eq!(active.usage.input_tokens, 1_000);
    assert_eq!(view.usage.cached_input_tokens, 800);
    // The cost the turn recorded, in USD, for the run and the session.
    assert_eq!(active.usage.cost_usd, 0.00125);
    assert_eq!(view.usage.cost_usd, 0.00125);
    assert!(view.usage.cost_complete);
    let output_ref = host.put("contents").await;
    let results = vec![ToolResult {
        call_id,
        status: ToolStatus::Ok,
        output_ref,
        token_estimate: 3,
        later: None,
        child: Default::default(),
    }];
    let at = host.tick();
    assert_eq!(
        host.drive
            .resume_tool_results(&batch.run_id, batch.batch, results, at),
        engine::drive::Resumed::Applied
    );

    // The second generation fails for good: the run fails with it.
    let Action::GenerateLlm(intent) = host.settle() else {
        panic!("expected a second generation");
    };
    let failed = GenerationOutcome::Failed {
        error: EffectError {
            code: "rate_limited".into(),
            message: "slow down".into(),
        },
    };
    let at = host.tick();
    assert_eq!(
        host.drive
            .resume_generation(&intent.run_id, intent.turn, failed, at),
        engine::drive::Resumed::Applied
    );
    assert_eq!(host.settle(), Action::Idle);
    let view = host.session_view();
    assert_eq!(view.status, SessionStatus::Idle);
    assert_eq!(view.active_run, None);
    let last = view.last_run.unwrap();
    assert_eq!(
        (last.run_id.as_str(), last.status),
        ("run_1", RunStatus::Failed)
    );
    let failure = last.failure.unwrap();
    assert_eq!(
        (failure.reason.as_str(), failure.code.as_str()),
        ("generationFailed", "rate_limited")
    );
    assert_eq!(view.usage.output_tokens, 100);
    assert_eq!(view.event_cursor, host.log.len() as u64);

    // Steering a finished run is notFound.
    let steer = host
        .admit(CoreCommand::Steer {
            run_id: RunId::from_ordinal(1),
            input: vec![ItemSpec::new(ItemKind::UserMessage, host.put("x").await, 1)],
        })
        .unwrap_err();
    let err = api_projection::rejection(steer);
    assert_eq!(
        (err.kind(), err.data.reason.as_deref()),
        (ErrorKind::NotFound, Some("runNotActive"))
    );

    host.admit(CoreCommand::Close).unwrap();
    assert_eq!(host.settle(), Action::Closed);
    let view = host.session_view();
    assert_eq!(view.status, SessionStatus::Closed);
    let summary = api_projection::session_summary(&host.session_id, host.control());
    assert_valid("SessionSummary", &summary);
    assert_eq!(summary.status, SessionStatus::Closed);
    assert_eq!(summary.model, "gpt-test");
    assert_eq!(summary.updated_at_ms, view.updated_at_ms);
}

#[tokio::test]
async fn cancelling_shows_on_the_active_run() {
    let mut host = Host::open(&start_params()).await;
    request_run(&mut host, "sub-1", "hello").await;
    assert!(matches!(host.settle(), Action::GenerateLlm(_)));
    host.admit(CoreCommand::CancelRun {
        run_id: RunId::from_ordinal(1),
        reason: Some("user".into()),
    })
    .unwrap();
    let view = host.session_view();
    // Admitted but not committed: the committed state has not moved yet.
    assert_eq!(view.active_run.unwrap().status, RunStatus::Running);
    assert_eq!(host.step(), None);
    let view = host.session_view();
    assert_eq!(view.status, SessionStatus::Running);
    assert_eq!(view.active_run.unwrap().status, RunStatus::Cancelling);
    // At the next step the run is abandoned.
    assert_eq!(host.settle(), Action::Idle);
    let view = host.session_view();
    assert_eq!(view.active_run, None);
    assert_eq!(view.last_run.unwrap().status, RunStatus::Cancelled);
}
