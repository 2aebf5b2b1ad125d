//! Holds: tool calls that wait without a tool activity, and wake-ups.
//!
//! A call can wait for a person (the tool policy said `ask`: `tool.approval_requested`,
//! then `run/approve` or `run/deny`, or the policy's deadline) or for a time (its tool
//! ran and asked for its result to be recorded later: `sleep`, `wait_until`). A
//! session can also hold wake-ups (`wake_me_at`): a run requested at a time.
//!
//! The engine has no clock. Every hold's deadline is in the control state
//! ([`ControlState::next_deadline_ms`]); the host keeps one timer for the earliest and,
//! when it fires, admits [`CoreCommand::FireTimers`] with its time. What comes due is
//! decided here, from state and that time alone, so replay decides the same.
//! docs/spec/orchestration.md has the whole story.

use crate::blob_ref::BlobRef;
use crate::core::command::{ApprovalDecision, Rejection};
use crate::core::context::{ContextItem, ItemKind};
use crate::core::control::ControlState;
use crate::core::event::{self as ev, DecidedBy, WakeUpOutcome};
use crate::core::limits::{INPUT_ITEMS_MAX, QUEUED_RUNS_MAX};
use crate::core::planner::Planned;
use crate::core::policy::{SESSION_APPROVALS_MAX, ToolDecision};
use crate::core::run::{ActiveRun, CallHold, PendingToolCall, QueuedRun, RunPhase, ToolStatus};
use crate::core::wellknown;
use crate::ids::{RunId, SubmissionId, ToolCallId};
use crate::log::Joins;

/// Wake-ups one session may have pending.
pub const WAKE_UPS_MAX: usize = 16;
/// Longest a deferred result or a wake-up may lie ahead: 366 days.
pub const HOLD_HORIZON_MS_MAX: u64 = 366 * 24 * 60 * 60 * 1_000;
/// Token estimate a person's denial message may claim (its bytes are bounded by the
/// API layer; this keeps a host's mistake from skewing the context estimate).
const DENIAL_TOKENS_MAX: u64 = 4_096;

/// A run the session requests by itself at `at_ms`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PendingWakeUp {
    pub wake_up: u32,
    pub at_ms: u64,
    pub input: Vec<crate::core::context::ItemSpec>,
}

/// The submission id of the run wake-up `wake_up` requests (`wake-up-N`): views
/// tell such runs apart by it.
fn wake_up_submission(wake_up: u32) -> SubmissionId {
    match SubmissionId::new(format!("wake-up-{wake_up}")) {
        Ok(id) => id,
        Err(_) => unreachable!("wake-up submission ids are short and plain"),
    }
}

/// Calls of the batch the last generation opened that the session's tool policy
/// does not simply allow: `ask` calls wait (`tool.approval_requested`), `deny` calls
/// get their refusal as their result. Runs on the state with the generation's
/// events applied, so ordinals and the batch number are the ones it opened.
pub(crate) fn gate_opened_batch(control: &ControlState) -> Vec<Planned> {
    let Some(run) = control.runs.active.as_ref() else {
        return Vec::new();
    };
    let RunPhase::AwaitingTools { batch, calls } = &run.phase else {
        return Vec::new();
    };
    let Some(config) = control.config.as_ref() else {
        return Vec::new();
    };
    let policy = &config.tool_policy;
    if policy.is_default() {
        return Vec::new();
    }
    let mut ask = Vec::new();
    let mut denied = Vec::new();
    for call in calls
        .iter()
        .filter(|call| !call.done && call.hold.is_none())
    {
        let name = &call.request.name;
        let spec = control.tools.iter().find(|tool| tool.name == *name);
        match policy.decide(name, spec, &control.approved_tools) {
            ToolDecision::Allow => {}
            ToolDecision::Ask => ask.push(call.request.call_id.clone()),
            ToolDecision::Deny => denied.push(call),
        }
    }
    let mut events: Vec<Planned> = denied
        .into_iter()
        .zip(control.context.next_ordinal..)
        .map(|(call, ordinal)| {
            let output = (wellknown::tool_denied_by_policy_ref(), 16);
            not_run(&run.run_id, *batch, call, ordinal, output)
        })
        .collect();
    if !ask.is_empty() {
        events.insert(
            0,
            Planned::run(
                &run.run_id,
                ev::ApprovalRequested {
                    run_id: run.run_id.clone(),
                    batch: *batch,
                    calls: ask,
                    timeout_ms: policy.approval_timeout_ms,
                },
            ),
        );
    }
    events
}

/// `run/approve` and `run/deny`.
pub(crate) fn decide_approval(
    control: &ControlState,
    run_id: RunId,
    call_ids: Vec<ToolCallId>,
    decision: ApprovalDecision,
) -> Result<Vec<Planned>, Rejection> {
    let run = control
        .runs
        .active
        .as_ref()
        .filter(|run| run.run_id == run_id)
        .ok_or_else(|| Rejection::RunNotActive(run_id.clone()))?;
    let (batch, waiting) = waiting_for_approval(run);
    if waiting.is_empty() {
        return Err(Rejection::NoApprovalPending(run_id));
    }
    let chosen: Vec<&PendingToolCall> = if call_ids.is_empty() {
        waiting
    } else {
        if call_ids.len() > crate::core::limits::TOOL_CALLS_PER_TURN_MAX {
            return Err(Rejection::TooMany {
                what: "call ids",
                count: call_ids.len(),
                max: crate::core::limits::TOOL_CALLS_PER_TURN_MAX,
            });
        }
        let mut chosen = Vec::with_capacity(call_ids.len());
        for id in &call_ids {
            let call = waiting
                .iter()
                .find(|call| call.request.call_id == *id)
                .ok_or_else(|| Rejection::UnknownToolCall(id.to_string()))?;
            if !chosen
                .iter()
                .any(|seen: &&PendingToolCall| seen.request.call_id == *id)
            {
                chosen.push(*call);
            }
        }
        chosen
    };
    let calls = chosen
        .iter()
        .map(|call| call.request.call_id.clone())
        .collect();
    match decision {
        ApprovalDecision::Approve { remember } => {
            if remember {
                let mut names = control.approved_tools.clone();
                names.extend(chosen.iter().map(|call| call.request.name.clone()));
                if names.len() > SESSION_APPROVALS_MAX {
                    return Err(Rejection::TooMany {
                        what: "tools approved for the session",
                        count: names.len(),
                        max: SESSION_APPROVALS_MAX,
                    });
                }
            }
            Ok(vec![Planned::run(
                &run_id,
                ev::ApprovalDecided {
                    run_id: run_id.clone(),
                    batch,
                    calls,
                    approved: true,
                    remember,
                    by: DecidedBy::Person,
                },
            )])
        }
        ApprovalDecision::Deny {
            output_ref,
            token_estimate,
        } => {
            let output = match output_ref {
                Some(output) => (output, token_estimate.min(DENIAL_TOKENS_MAX)),
                None => (wellknown::tool_denied_ref(), 16),
            };
            Ok(denial(
                control,
                run,
                batch,
                calls,
                &chosen,
                output,
                DecidedBy::Person,
            ))
        }
    }
}

/// The open batch's calls waiting for a person, with the batch number.
fn waiting_for_approval(run: &ActiveRun) -> (u32, Vec<&PendingToolCall>) {
    match &run.phase {
        RunPhase::AwaitingTools { batch, calls } => (
            *batch,
            calls
                .iter()
                .filter(|call| !call.done && matches!(call.hold, Some(CallHold::Approval { .. })))
                .collect(),
        ),
        _ => (0, Vec::new()),
    }
}

fn denial(
    control: &ControlState,
    run: &ActiveRun,
    batch: u32,
    calls: Vec<ToolCallId>,
    denied: &[&PendingToolCall],
    output: (BlobRef, u64),
    by: DecidedBy,
) -> Vec<Planned> {
    let decided = ev::ApprovalDecided {
        run_id: run.run_id.clone(),
        batch,
        calls,
        approved: false,
        remember: false,
        by,
    };
    let mut events = vec![Planned::run(&run.run_id, decided)];
    events.extend(
        denied
            .iter()
            .zip(control.context.next_ordinal..)
            .map(|(call, ordinal)| not_run(&run.run_id, batch, call, ordinal, output.clone())),
    );
    events
}

/// `FireTimers`: everything due at `now_ms`, in a fixed order (approval deadlines,
/// deferred results, wake-ups), or [`Rejection::NothingDue`].
pub(crate) fn fire_timers(control: &ControlState, now_ms: u64) -> Result<Vec<Planned>, Rejection> {
    let mut events = Vec::new();
    let mut ordinal = control.context.next_ordinal;
    if let Some(run) = control.runs.active.as_ref()
        && let RunPhase::AwaitingTools { batch, calls } = &run.phase
    {
        let expired: Vec<&PendingToolCall> = calls
            .iter()
            .filter(|call| {
                !call.done
                    && matches!(call.hold, Some(CallHold::Approval { deadline_ms: Some(at) }) if at <= now_ms)
            })
            .collect();
        if !expired.is_empty() {
            let ids = expired
                .iter()
                .map(|call| call.request.call_id.clone())
                .collect();
            let output = (wellknown::tool_approval_expired_ref(), 16);
            let denied = denial(
                control,
                run,
                *batch,
                ids,
                &expired,
                output,
                DecidedBy::Deadline,
            );
            ordinal += expired.len() as u64;
            events.extend(denied);
        }
        for call in calls.iter().filter(|call| !call.done) {
            if let Some(CallHold::Children {
                deadline_ms: Some(at),
                ..
            }) = &call.hold
                && *at <= now_ms
            {
                let result = (wellknown::tool_children_wait_expired_ref(), 32);
                events.push(recorded(
                    &run.run_id,
                    *batch,
                    call,
                    ordinal,
                    ToolStatus::Ok,
                    result,
                ));
                ordinal += 1;
            }
            if let Some(CallHold::Timer {
                due_ms,
                status,
                output_ref,
                token_estimate,
            }) = &call.hold
                && *due_ms <= now_ms
            {
                let result = (output_ref.clone(), *token_estimate);
                events.push(recorded(
                    &run.run_id,
                    *batch,
                    call,
                    ordinal,
                    *status,
                    result,
                ));
                ordinal += 1;
            }
        }
    }
    let mut requested = control.runs.requested_total;
    let mut queued = control.runs.queue.len();
    let config = control.config.as_ref();
    for wake in control.wake_ups.iter().filter(|wake| wake.at_ms <= now_ms) {
        let (Some(config), true) = (config, queued < QUEUED_RUNS_MAX) else {
            events.push(Planned::session(ev::WakeUpEnded {
                wake_up: wake.wake_up,
                outcome: WakeUpOutcome::Dropped,
            }));
            continue;
        };
        events.push(Planned::session(ev::WakeUpEnded {
            wake_up: wake.wake_up,
            outcome: WakeUpOutcome::Fired,
        }));
        requested += 1;
        queued += 1;
        let run_id = RunId::from_ordinal(requested);
        let overrides = crate::core::config::RunOverrides::default();
        let run = QueuedRun {
            run_id: run_id.clone(),
            submission_id: wake_up_submission(wake.wake_up),
            input: wake.input.clone(),
            limits: config.run_limits,
            overrides: overrides.clone(),
        };
        let input_digest = crate::core::admit::input_digest(&wake.input, &overrides);
        events.push(Planned::run(
            &run_id,
            ev::RunRequested { run, input_digest },
        ));
    }
    if events.is_empty() {
        return Err(Rejection::NothingDue);
    }
    Ok(events)
}

/// `WakeUpNow`: wake-up `wake_up` fires before its time (an event arrived), its
/// run's input followed by `extra` — the same events a due firing records.
pub(crate) fn wake_up_now(
    control: &ControlState,
    wake_up: u32,
    extra: Vec<crate::core::context::ItemSpec>,
) -> Result<Vec<Planned>, Rejection> {
    let Some(wake) = control.wake_ups.iter().find(|wake| wake.wake_up == wake_up) else {
        return Err(Rejection::UnknownWakeUp(wake_up));
    };
    let config = control.config.as_ref().ok_or(Rejection::NotOpen)?;
    if control.runs.queue.len() >= QUEUED_RUNS_MAX {
        return Err(Rejection::TooMany {
            what: "queued runs",
            count: control.runs.queue.len(),
            max: QUEUED_RUNS_MAX,
        });
    }
    let mut input = wake.input.clone();
    input.extend(extra);
    if !valid_wake_up_input(&input) {
        return Err(Rejection::TooMany {
            what: "input items",
            count: input.len(),
            max: INPUT_ITEMS_MAX,
        });
    }
    let run_id = RunId::from_ordinal(control.runs.requested_total + 1);
    let overrides = crate::core::config::RunOverrides::default();
    let input_digest = crate::core::admit::input_digest(&input, &overrides);
    let run = QueuedRun {
        run_id: run_id.clone(),
        submission_id: wake_up_submission(wake_up),
        input,
        limits: config.run_limits,
        overrides,
    };
    Ok(vec![
        Planned::session(ev::WakeUpEnded {
            wake_up,
            outcome: WakeUpOutcome::Fired,
        }),
        Planned::run(&run_id, ev::RunRequested { run, input_digest }),
    ])
}

/// `CancelWakeUp`.
pub(crate) fn cancel_wake_up(
    control: &ControlState,
    wake_up: u32,
) -> Result<Vec<Planned>, Rejection> {
    if !control.wake_ups.iter().any(|wake| wake.wake_up == wake_up) {
        return Err(Rejection::UnknownWakeUp(wake_up));
    }
    Ok(vec![Planned::session(ev::WakeUpEnded {
        wake_up,
        outcome: WakeUpOutcome::Cancelled,
    })])
}

/// Whether `input` may become a wake-up's run input (what a run request needs).
pub(crate) fn valid_wake_up_input(input: &[crate::core::context::ItemSpec]) -> bool {
    !input.is_empty()
        && input.len() <= INPUT_ITEMS_MAX
        && input.iter().all(|item| item.kind.band() == 3)
}

/// `tool.result_recorded` for a call that never ran (status `not_executed`).
pub(crate) fn not_run(
    run_id: &RunId,
    batch: u32,
    call: &PendingToolCall,
    ordinal: u64,
    output: (BlobRef, u64),
) -> Planned {
    recorded(
        run_id,
        batch,
        call,
        ordinal,
        ToolStatus::NotExecuted,
        output,
    )
}

/// `tool.result_recorded` for `call` with `output` (a blob and its token estimate).
pub(crate) fn recorded(
    run_id: &RunId,
    batch: u32,
    call: &PendingToolCall,
    ordinal: u64,
    status: ToolStatus,
    (output_ref, token_estimate): (BlobRef, u64),
) -> Planned {
    let call_id = call.request.call_id.clone();
    let item = ContextItem {
        ordinal,
        kind: ItemKind::ToolResult,
        key: None,
        content_ref: output_ref,
        token_estimate,
        call_id: Some(call_id.clone()),
        is_error: status != ToolStatus::Ok,
        source_ref: None,
    };
    let joins = Joins {
        run_id: Some(run_id.clone()),
        tool_batch: Some(batch),
        tool_call_id: Some(call_id.clone()),
        ..Joins::default()
    };
    let event = ev::ToolResultRecorded {
        run_id: run_id.clone(),
        batch,
        call_id,
        status,
        item,
        tool_name: Some(call.request.name.clone()),
        arguments_ref: Some(call.request.arguments_ref.clone()),
    };
    Planned {
        joins,
        event: event.into(),
    }
}

impl ControlState {
    /// When the host must next admit [`CoreCommand::FireTimers`]: the earliest
    /// approval deadline, deferred result or wake-up. `None`: nothing is timed.
    ///
    /// [`CoreCommand::FireTimers`]: crate::core::command::CoreCommand::FireTimers
    pub fn next_deadline_ms(&self) -> Option<u64> {
        let held = self.runs.active.iter().flat_map(|run| match &run.phase {
            RunPhase::AwaitingTools { calls, .. } => calls
                .iter()
                .filter(|call| !call.done)
                .filter_map(|call| call.hold.as_ref().and_then(CallHold::deadline_ms))
                .collect::<Vec<_>>(),
            _ => Vec::new(),
        });
        held.chain(self.wake_ups.iter().map(|wake| wake.at_ms))
            .min()
    }
}
