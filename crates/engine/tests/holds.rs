#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Holds through a full-state drive: the tool policy's `ask` and `deny`, a person's
//! approval or denial, the approval deadline, a deferred result (`sleep`) and a
//! wake-up (`wake_me_at`), with the clock the host supplies.

use engine::core::command::{ApprovalDecision, CoreCommand, Rejection};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::effects::{Later, ToolResult};
use engine::core::event::CoreEvent;
use engine::core::policy::{ToolClass, ToolDecision, ToolPolicy, ToolRule};
use engine::core::run::{CallHold, RunOutcome, RunPhase, ToolStatus};
use engine::core::state::SessionState;
use engine::core::tools::ToolSpec;
use engine::core::wellknown;
use engine::drive::{Action, Drive, Resumed};
use engine::{BlobRef, ToolCallId};

mod common;
use common::*;

fn session(policy: ToolPolicy) -> Drive<SessionState> {
    let tools = vec![
        ToolSpec::new("read_file", blob("read")),
        ToolSpec::new("write_file", blob("write")).with_class(ToolClass::FileWrite),
        ToolSpec::new("exec_command", blob("exec")).with_class(ToolClass::Shell),
        ToolSpec::new("sleep", blob("sleep")),
    ];
    open("sess-holds", policy, None, tools)
}

fn ask_shell_and_writes(timeout: Option<u64>) -> ToolPolicy {
    ToolPolicy {
        rules: vec![ToolRule {
            tools: "rm_*".into(),
            decision: ToolDecision::Deny,
        }],
        file_writes: Some(ToolDecision::Ask),
        shell: Some(ToolDecision::Ask),
        approval_timeout_ms: timeout,
        ..ToolPolicy::default()
    }
}

#[test]
fn asked_calls_wait_for_a_person_while_the_others_run() {
    let mut drive = session(ask_shell_and_writes(None));
    let intent = start(&mut drive, "edit");
    let (action, events) = generate(
        &mut drive,
        &intent,
        calls(&["read_file", "write_file", "rm_rf"]),
        3_000,
    );
    // `rm_rf` is refused at once, `write_file` waits, `read_file` runs.
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::ApprovalRequested(e) if e.calls.len() == 1 && e.calls[0].as_str() == "call_1")));
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::ToolResultRecorded(e) if e.call_id.as_str() == "call_2"
            && e.status == ToolStatus::NotExecuted
            && e.item.content_ref == BlobRef::of_bytes(wellknown::TOOL_DENIED_BY_POLICY_OUTPUT))));
    let Action::InvokeTools(batch) = action else {
        panic!("read_file should run: {action:?}")
    };
    assert_eq!(batch.calls.len(), 1);
    assert_eq!(batch.calls[0].name, "read_file");
    // Nothing is timed: approvals without a deadline wait for ever.
    assert_eq!(drive.state().control.next_deadline_ms(), None);
    let read = ToolResult::now(
        batch.calls[0].call_id.clone(),
        ToolStatus::Ok,
        blob("text"),
        1,
    );
    assert_eq!(
        drive.resume_tool_results(&batch.run_id, batch.batch, vec![read], 3_500),
        Resumed::Applied
    );
    assert_eq!(settle(&mut drive).0, Action::Idle);

    // Approve for the rest of the session: the call runs, and the next write asks no one.
    let approve = CoreCommand::DecideApproval {
        run_id: intent.run_id.clone(),
        call_ids: Vec::new(),
        decision: ApprovalDecision::Approve { remember: true },
    };
    drive.admit(approve.clone(), 4_000).unwrap();
    let (Action::InvokeTools(batch), _) = settle(&mut drive) else {
        panic!("the approved call should run");
    };
    assert_eq!(batch.calls[0].name, "write_file");
    assert_eq!(
        drive.admit(approve, 4_100),
        Err(Rejection::NoApprovalPending(intent.run_id.clone()))
    );
    assert!(drive.state().control.approved_tools.contains("write_file"));
    let wrote = ToolResult::now(
        batch.calls[0].call_id.clone(),
        ToolStatus::Ok,
        blob("ok"),
        1,
    );
    let _ = drive.resume_tool_results(&batch.run_id, batch.batch, vec![wrote], 4_200);
    let (Action::GenerateLlm(next), _) = settle(&mut drive) else {
        panic!("the run goes on");
    };
    let (action, events) = generate(&mut drive, &next, calls(&["write_file"]), 5_000);
    assert!(matches!(action, Action::InvokeTools(_)));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, CoreEvent::ApprovalRequested(_)))
    );
}

#[test]
fn a_denial_gives_the_model_the_message_and_the_deadline_denies_by_default() {
    let mut drive = session(ask_shell_and_writes(Some(60_000)));
    let intent = start(&mut drive, "shell");
    let (action, _) = generate(
        &mut drive,
        &intent,
        calls(&["exec_command", "write_file"]),
        3_000,
    );
    assert_eq!(action, Action::Idle);
    // The deadline runs from the entry that asked.
    let deadline = drive.state().control.next_deadline_ms().unwrap();
    assert_eq!(deadline, 63_000);
    assert!(matches!(
        phase(&drive),
        RunPhase::AwaitingTools { calls, .. }
            if calls.iter().all(|c| matches!(c.hold, Some(CallHold::Approval { deadline_ms: Some(63_000) })))
    ));

    let message = blob("The user denied this call: not on the production host.");
    let deny = CoreCommand::DecideApproval {
        run_id: intent.run_id.clone(),
        call_ids: vec![ToolCallId::new("call_0").unwrap()],
        decision: ApprovalDecision::Deny {
            output_ref: Some(message.clone()),
            token_estimate: 12,
        },
    };
    drive.admit(deny, 10_000).unwrap();
    let (action, events) = settle(&mut drive);
    assert_eq!(action, Action::Idle, "the other call still waits");
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::ToolResultRecorded(e) if e.call_id.as_str() == "call_0" && e.item.content_ref == message)));

    assert_eq!(
        drive.admit(CoreCommand::FireTimers { now_ms: 62_999 }, 62_999),
        Err(Rejection::NothingDue)
    );
    drive
        .admit(CoreCommand::FireTimers { now_ms: 63_000 }, 63_000)
        .unwrap();
    let (action, events) = settle(&mut drive);
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::ToolResultRecorded(e) if e.call_id.as_str() == "call_1"
            && e.item.content_ref == BlobRef::of_bytes(wellknown::TOOL_APPROVAL_EXPIRED_OUTPUT))));
    assert!(
        matches!(action, Action::GenerateLlm(_)),
        "the model hears both refusals"
    );
    assert_eq!(drive.state().control.next_deadline_ms(), None);
}

#[test]
fn a_deferred_result_holds_the_call_until_its_time_without_a_tool() {
    let mut drive = session(ToolPolicy::default());
    let intent = start(&mut drive, "sleep");
    let (Action::InvokeTools(batch), _) = generate(&mut drive, &intent, calls(&["sleep"]), 3_000)
    else {
        panic!("sleep runs as a tool first");
    };
    let mut slept = ToolResult::now(
        batch.calls[0].call_id.clone(),
        ToolStatus::Ok,
        blob("{\"slept_ms\":3000}"),
        4,
    );
    slept.later = Some(Later::At { at_ms: 6_000 });
    let _ = drive.resume_tool_results(&batch.run_id, batch.batch, vec![slept.clone()], 3_100);
    let (action, events) = settle(&mut drive);
    assert_eq!(action, Action::Idle, "no activity while the timer runs");
    assert!(matches!(events.as_slice(), [CoreEvent::ToolCallDeferred(e)] if e.until_ms == 6_000));
    assert_eq!(drive.state().control.next_deadline_ms(), Some(6_000));
    // A second result for the held call is stale: the timer owns it now.
    assert!(matches!(
        drive.resume_tool_results(&batch.run_id, batch.batch, vec![slept], 3_200),
        Resumed::Stale { .. }
    ));
    drive
        .admit(CoreCommand::FireTimers { now_ms: 6_050 }, 6_050)
        .unwrap();
    let (action, events) = settle(&mut drive);
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::ToolResultRecorded(e) if e.item.content_ref == blob("{\"slept_ms\":3000}"))));
    assert!(matches!(action, Action::GenerateLlm(_)));
}

/// Starts a run (`text`) whose one tool call schedules a wake-up at 90,000 ms with
/// `note` as its run's input; the run's intent.
fn schedule_wake_up(
    drive: &mut Drive<SessionState>,
    text: &str,
    note: &ItemSpec,
) -> engine::drive::GenerationIntent {
    let intent = start(drive, text);
    let (Action::InvokeTools(batch), _) = generate(drive, &intent, calls(&["sleep"]), 3_000) else {
        panic!("the wake-up tool runs");
    };
    let mut scheduled = ToolResult::now(
        batch.calls[0].call_id.clone(),
        ToolStatus::Ok,
        blob("scheduled"),
        2,
    );
    scheduled.later = Some(Later::WakeUp {
        at_ms: 90_000,
        input: vec![note.clone()],
    });
    let _ = drive.resume_tool_results(&batch.run_id, batch.batch, vec![scheduled], 3_100);
    intent
}

#[test]
fn a_wake_up_ends_the_run_and_requests_the_next_at_its_time() {
    let mut drive = session(ToolPolicy::default());
    let note = ItemSpec::new(ItemKind::UserMessage, blob("check the deploy"), 3);
    let intent = schedule_wake_up(&mut drive, "later", &note);
    let (action, events) = settle(&mut drive);
    assert_eq!(action, Action::Idle);
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::RunFinished(e) if e.outcome == RunOutcome::Completed)));
    assert_eq!(drive.state().control.next_deadline_ms(), Some(90_000));

    drive
        .admit(CoreCommand::FireTimers { now_ms: 90_000 }, 90_000)
        .unwrap();
    let (action, events) = settle(&mut drive);
    let Action::GenerateLlm(next) = action else {
        panic!("the wake-up's run starts");
    };
    assert_ne!(next.run_id, intent.run_id);
    assert!(events.iter().any(|event| matches!(event,
        CoreEvent::RunRequested(e) if e.run.input == vec![note.clone()]
            && e.run.submission_id.as_str() == "wake-up-1")));
    assert!(drive.state().control.wake_ups.is_empty());
    assert_eq!(
        drive.admit(CoreCommand::CancelWakeUp { wake_up: 1 }, 90_001),
        Err(Rejection::UnknownWakeUp(1))
    );
}

#[test]
fn an_event_wakes_a_pending_wake_up_before_its_time() {
    let mut drive = session(ToolPolicy::default());
    let note = ItemSpec::new(ItemKind::UserMessage, blob("check the door"), 3);
    schedule_wake_up(&mut drive, "door", &note);
    let _ = settle(&mut drive);
    assert_eq!(
        drive.admit(
            CoreCommand::WakeUpNow {
                wake_up: 7,
                input: Vec::new()
            },
            4_000
        ),
        Err(Rejection::UnknownWakeUp(7))
    );

    // Long before its time, an event wakes it: its input, then the event's.
    let event = ItemSpec::new(ItemKind::UserMessage, blob("door opened"), 3);
    drive
        .admit(
            CoreCommand::WakeUpNow {
                wake_up: 1,
                input: vec![event.clone()],
            },
            5_000,
        )
        .unwrap();
    let (action, events) = settle(&mut drive);
    assert!(
        matches!(action, Action::GenerateLlm(_)),
        "the woken run starts"
    );
    assert!(events.iter().any(|e| matches!(e,
        CoreEvent::RunRequested(e) if e.run.input == vec![note.clone(), event.clone()]
            && e.run.submission_id.as_str() == "wake-up-1")));
    assert!(drive.state().control.wake_ups.is_empty());
    // Its time comes: nothing is left to fire.
    assert_eq!(
        drive.admit(CoreCommand::FireTimers { now_ms: 90_000 }, 90_000),
        Err(Rejection::NothingDue)
    );
}
