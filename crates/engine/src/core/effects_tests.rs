//! Effect results through the drive: stale results change nothing, invalid ones are
//! recorded as failed effects so the drive never asks for the same effect again.

use super::*;
use crate::core::command::{CoreCommand, RejectionCode};
use crate::core::config::{CompactionMode, ModelRoute, SessionConfig};
use crate::core::context::ItemKind;
use crate::core::control::ControlState;
use crate::core::run::{RunOutcome, ToolStatus};
use crate::drive::{Action, Drive, GenerationIntent, Resumed, ToolBatchIntent};
use crate::ids::{SessionId, SubmissionId};

type TestDrive = Drive<ControlState>;

fn blob(text: &str) -> BlobRef {
    BlobRef::of_bytes(text.as_bytes())
}

fn call(id: &str) -> ToolCallRequest {
    ToolCallRequest {
        call_id: ToolCallId::new(id).unwrap(),
        name: "echo".into(),
        arguments_ref: blob("{}"),
    }
}

fn answer(tool_calls: Vec<ToolCallRequest>) -> GenerationResult {
    GenerationResult {
        usage: Usage::default(),
        response_id: None,
        items: vec![ItemSpec::new(ItemKind::AssistantMessage, blob("done"), 3)],
        tool_calls,
        finish_reason: None,
        context_tokens: None,
        request_ref: None,
        context_refresh: Default::default(),
    }
}

/// Commits whatever is staged and returns the next effect (or `Idle`).
fn settle(drive: &mut TestDrive) -> Action {
    loop {
        match drive.next_action() {
            Action::AppendEvents { .. } => drive.resume_appended().unwrap(),
            action => return action,
        }
    }
}

/// An open session (manual compaction) with one run waiting for its first turn.
fn generating() -> (TestDrive, GenerationIntent) {
    let mut config = SessionConfig {
        model: ModelRoute {
            provider_id: "openai".into(),
            api_kind: "openai:responses".into(),
            model: "gpt-5".into(),
        },
        generation: Default::default(),
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    config.context.compaction = CompactionMode::Manual;
    let mut drive = Drive::new(ControlState::default());
    let open = CoreCommand::OpenSession {
        session_id: SessionId::new("sess-effects").unwrap(),
        config,
        instructions: None,
        parent: Default::default(),
    };
    drive.admit(open, 1).unwrap();
    let run = CoreCommand::RequestRun {
        submission_id: SubmissionId::new("sub-1").unwrap(),
        input: vec![ItemSpec::new(ItemKind::UserMessage, blob("hi"), 2)],
        overrides: Default::default(),
    };
    drive.admit(run, 2).unwrap();
    let Action::GenerateLlm(intent) = settle(&mut drive) else {
        panic!("expected a generation");
    };
    (drive, intent)
}

/// Asserts the run failed with `invalid_result` and the drive wants nothing more.
fn assert_failed_invalid(drive: &mut TestDrive, resumed: Resumed, code: RejectionCode) {
    let Resumed::Invalid { reason } = resumed else {
        panic!("expected an invalid result, got {resumed:?}");
    };
    assert_eq!(reason.code(), code);
    assert_eq!(
        settle(drive),
        Action::Idle,
        "the generation is not asked again"
    );
    let control = drive.state();
    assert!(control.runs.active.is_none());
    let finished = control.runs.last_finished.as_ref().unwrap();
    let RunOutcome::Failed {
        failure: RunFailure::GenerationFailed { error },
    } = &finished.outcome
    else {
        panic!("expected a failed generation, got {:?}", finished.outcome);
    };
    assert_eq!(error.code, EffectError::INVALID_RESULT);
    assert!(error.message.len() <= TEXT_FIELD_BYTES_MAX);
    assert!(check_error(error).is_ok());
}

fn resume_answer(
    drive: &mut TestDrive,
    intent: &GenerationIntent,
    result: GenerationResult,
) -> Resumed {
    let outcome = GenerationOutcome::Completed(result);
    drive.resume_generation(&intent.run_id, intent.turn, outcome, 10)
}

#[test]
fn too_many_tool_calls_fail_the_turn() {
    let (mut drive, intent) = generating();
    let calls = (0..=TOOL_CALLS_PER_TURN_MAX)
        .map(|i| call(&format!("call-{i}")))
        .collect();
    let resumed = resume_answer(&mut drive, &intent, answer(calls));
    assert_failed_invalid(&mut drive, resumed, RejectionCode::TooMany);
}

#[test]
fn duplicate_call_ids_fail_the_turn() {
    let (mut drive, intent) = generating();
    let resumed = resume_answer(&mut drive, &intent, answer(vec![call("c1"), call("c1")]));
    assert_failed_invalid(&mut drive, resumed, RejectionCode::DuplicateToolCall);
}

#[test]
fn an_oversized_response_id_fails_the_turn() {
    let (mut drive, intent) = generating();
    let mut result = answer(Vec::new());
    result.response_id = Some("r".repeat(TEXT_FIELD_BYTES_MAX + 1));
    let resumed = resume_answer(&mut drive, &intent, result);
    assert_failed_invalid(&mut drive, resumed, RejectionCode::TextTooLong);
}

#[test]
fn too_many_output_items_fail_the_turn() {
    let (mut drive, intent) = generating();
    let mut result = answer(Vec::new());
    result.items = vec![result.items[0].clone(); OUTPUT_ITEMS_MAX + 1];
    let resumed = resume_answer(&mut drive, &intent, result);
    assert_failed_invalid(&mut drive, resumed, RejectionCode::TooMany);
}

#[test]
fn an_oversized_effect_error_fails_the_turn_as_invalid() {
    let (mut drive, intent) = generating();
    let error = EffectError {
        code: "c".repeat(TEXT_FIELD_BYTES_MAX + 1),
        message: "boom".into(),
    };
    let outcome = GenerationOutcome::Failed { error };
    let resumed = drive.resume_generation(&intent.run_id, intent.turn, outcome, 10);
    assert_failed_invalid(&mut drive, resumed, RejectionCode::TextTooLong);
}

#[test]
fn a_valid_answer_applies_and_a_repeat_is_stale() {
    let (mut drive, intent) = generating();
    let resumed = resume_answer(&mut drive, &intent, answer(Vec::new()));
    assert_eq!(resumed, Resumed::Applied);
    let again = resume_answer(&mut drive, &intent, answer(Vec::new()));
    let Resumed::Stale { reason } = again else {
        panic!("expected stale, got {again:?}");
    };
    assert_eq!(reason.code(), RejectionCode::StaleResult);
    let wrong_turn = GenerationOutcome::Completed(answer(Vec::new()));
    let stale = drive.resume_generation(&intent.run_id, intent.turn + 1, wrong_turn, 10);
    assert!(matches!(stale, Resumed::Stale { .. }));
}

/// A run awaiting the results of calls `c1` and `c2`.
fn awaiting_tools() -> (TestDrive, ToolBatchIntent) {
    let (mut drive, intent) = generating();
    let resumed = resume_answer(&mut drive, &intent, answer(vec![call("c1"), call("c2")]));
    assert_eq!(resumed, Resumed::Applied);
    let Action::InvokeTools(batch) = settle(&mut drive) else {
        panic!("expected a tool batch");
    };
    (drive, batch)
}

fn tool_result(id: &str) -> ToolResult {
    ToolResult {
        call_id: ToolCallId::new(id).unwrap(),
        status: ToolStatus::Ok,
        output_ref: blob("out"),
        token_estimate: 1,
        later: None,
        child: Default::default(),
    }
}

#[test]
fn tool_results_that_answer_no_open_call_are_stale() {
    let (mut drive, batch) = awaiting_tools();
    let cases = [
        (Vec::new(), RejectionCode::Empty),
        (vec![tool_result("nope")], RejectionCode::UnknownToolCall),
        (
            vec![tool_result("c1"), tool_result("c1")],
            RejectionCode::DuplicateToolResult,
        ),
    ];
    for (results, code) in cases {
        let resumed = drive.resume_tool_results(&batch.run_id, batch.batch, results, 10);
        assert_eq!(resumed, stale_with(&resumed, code));
        assert!(!drive.has_staged(), "a stale result stages nothing");
    }
    let resumed =
        drive.resume_tool_results(&batch.run_id, batch.batch, vec![tool_result("c1")], 10);
    assert_eq!(resumed, Resumed::Applied);
    let again = drive.resume_tool_results(&batch.run_id, batch.batch, vec![tool_result("c1")], 10);
    assert_eq!(
        again,
        stale_with(&again, RejectionCode::DuplicateToolResult)
    );
    let late =
        drive.resume_tool_results(&batch.run_id, batch.batch + 1, vec![tool_result("c2")], 10);
    assert_eq!(late, stale_with(&late, RejectionCode::StaleResult));
}

/// `resumed` itself if it is stale with `code`, else a value that fails the
/// caller's equality check with a readable diff.
fn stale_with(resumed: &Resumed, code: RejectionCode) -> Resumed {
    match resumed {
        Resumed::Stale { reason } if reason.code() == code => resumed.clone(),
        _ => Resumed::Stale {
            reason: Rejection::Empty {
                what: "expected a stale result with another code",
            },
        },
    }
}

/// An open, idle session with compaction 1 pending.
fn compacting() -> (TestDrive, u32) {
    let (mut drive, intent) = generating();
    let resumed = resume_answer(&mut drive, &intent, answer(Vec::new()));
    assert_eq!(resumed, Resumed::Applied);
    drive
        .admit(CoreCommand::RequestCompaction { instruction: None }, 20)
        .unwrap();
    let Action::CompactContext(compaction) = settle(&mut drive) else {
        panic!("expected a compaction");
    };
    (drive, compaction.compaction)
}

fn assert_compaction_failed_invalid(drive: &mut TestDrive, resumed: Resumed, code: RejectionCode) {
    let Resumed::Invalid { reason } = resumed else {
        panic!("expected an invalid result, got {resumed:?}");
    };
    assert_eq!(reason.code(), code);
    assert_eq!(
        settle(drive),
        Action::Idle,
        "the compaction is not asked again"
    );
    let control = drive.state();
    assert!(control.compaction.pending.is_none());
    assert_eq!(control.lifecycle, Lifecycle::Open, "the session carries on");
}

#[test]
fn too_many_summary_items_fail_the_compaction() {
    let (mut drive, compaction) = compacting();
    let item = ItemSpec::new(ItemKind::Summary, blob("sum"), 1);
    let outcome = CompactionOutcome::Compacted {
        summary: vec![item; OUTPUT_ITEMS_MAX + 1],
    };
    let resumed = drive.resume_compaction(compaction, outcome, 30);
    assert_compaction_failed_invalid(&mut drive, resumed, RejectionCode::TooMany);
}

#[test]
fn an_oversized_compaction_error_fails_the_compaction_as_invalid() {
    let (mut drive, compaction) = compacting();
    let error = EffectError {
        code: "context_length_exceeded".into(),
        message: "m".repeat(TEXT_FIELD_BYTES_MAX * 8 + 1),
    };
    let resumed = drive.resume_compaction(compaction, CompactionOutcome::Failed { error }, 30);
    assert_compaction_failed_invalid(&mut drive, resumed, RejectionCode::TextTooLong);
    let late = CompactionOutcome::Compacted {
        summary: Vec::new(),
    };
    let stale = drive.resume_compaction(compaction, late, 31);
    assert!(matches!(stale, Resumed::Stale { .. }));
}

#[test]
fn the_invalid_result_message_is_clipped_on_a_char_boundary() {
    let reason = Rejection::DuplicateToolCall("é".repeat(TEXT_FIELD_BYTES_MAX));
    let error = invalid_result(&reason);
    assert!(error.message.len() <= TEXT_FIELD_BYTES_MAX);
    assert!(check_error(&error).is_ok());
}
