//! The planner: given control state, the next thing to do. Layered from the outside
//! in: lifecycle, then the active run (cancellation, pending compaction, steering,
//! limits, the next turn), then the queue, then idle housekeeping (compaction at the
//! high-watermark). It reads only control state, never the item list.

use crate::core::config::CompactionMode;
use crate::core::context::ContextItem;
use crate::core::control::{ControlState, Lifecycle};
use crate::core::event::{self as ev, CompactionReason, CoreEvent};
use crate::core::request::{planned_fingerprint, turn_settings};
use crate::core::run::{ActiveRun, ActiveRunStatus, LimitKind, RunFailure, RunOutcome, RunPhase};
use crate::core::wellknown;
use crate::drive::{
    Action, CompactionIntent, GenerationIntent, ParentNoticeIntent, ToolBatchIntent,
};
use crate::log::Joins;

/// An event decided but not yet committed, with its joins.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub(crate) joins: Joins,
    pub(crate) event: CoreEvent,
}

pub(crate) enum Plan {
    /// Record these, then plan again.
    Events(Vec<Planned>),
    /// Nothing to record: perform this (an effect, `Idle` or `Closed`).
    Action(Action),
}

pub(crate) fn plan(control: &ControlState) -> Plan {
    if control.lifecycle == Lifecycle::Uninitialized {
        return Plan::Action(Action::Idle);
    }
    if control.runs.active.is_none()
        && let Some(intent) = parent_notice(control)
    {
        // Before the next run starts, or the session rests: the parent may be
        // waiting for exactly this end.
        return Plan::Action(Action::NotifyParent(intent));
    }
    if control.lifecycle == Lifecycle::Closed {
        return Plan::Action(Action::Closed);
    }
    if let Some(run) = &control.runs.active {
        return plan_run(control, run);
    }
    if control.compaction.pending.is_some() {
        return Plan::Action(compaction_effect(control));
    }
    if let Some(event) = watermark_compaction(control) {
        return Plan::Events(vec![event]);
    }
    if control.dispatch_paused {
        // Held by the operator: the queue waits (transcription included, which
        // would spend on a run that may yet be cancelled).
        return Plan::Action(Action::Idle);
    }
    match control.runs.queue.first() {
        Some(next) if let Some(intent) = crate::core::transcription::pending(control, next) => {
            // Voice notes become text before the run starts (`core::transcription`).
            Plan::Action(Action::TranscribeInput(intent))
        }
        Some(next) => {
            let mut ordinal = control.context.next_ordinal;
            let input = next
                .input
                .iter()
                .map(|spec| {
                    ordinal += 1;
                    ContextItem::new(ordinal - 1, None, spec)
                })
                .collect();
            let run_id = next.run_id.clone();
            Plan::Events(vec![Planned::run(
                &run_id,
                ev::RunStarted {
                    run_id: run_id.clone(),
                    input,
                },
            )])
        }
        None => Plan::Action(Action::Idle),
    }
}

fn plan_run(control: &ControlState, run: &ActiveRun) -> Plan {
    if let ActiveRunStatus::Cancelling { reason } = &run.status {
        let outcome = RunOutcome::Cancelled {
            reason: reason.clone(),
        };
        return Plan::Events(abandon(control, run, outcome));
    }
    match &run.phase {
        RunPhase::Generating {
            turn,
            planned_at,
            fingerprint,
        } => Plan::Action(Action::GenerateLlm(GenerationIntent {
            session_id: session_id(control),
            run_id: run.run_id.clone(),
            turn: *turn,
            planned_at: *planned_at,
            fingerprint: fingerprint.clone(),
        })),
        RunPhase::AwaitingTools { batch, calls } => {
            if let Some(failure) = exceeded(control, run, LimitKind::ToolBatches)
                .or_else(|| exceeded(control, run, LimitKind::OutputTokens))
            {
                return Plan::Events(abandon(control, run, RunOutcome::Failed { failure }));
            }
            // Held calls wait for a person or a time (`core::holds`), not a tool.
            let runnable: Vec<_> = calls
                .iter()
                .filter(|call| !call.done && call.hold.is_none())
                .map(|call| call.request.clone())
                .collect();
            if runnable.is_empty() {
                return Plan::Action(Action::Idle);
            }
            Plan::Action(Action::InvokeTools(ToolBatchIntent {
                session_id: session_id(control),
                run_id: run.run_id.clone(),
                batch: *batch,
                calls: runnable,
            }))
        }
        RunPhase::Answered if run.pending_steers.is_empty() => {
            Plan::Events(vec![finish(run, RunOutcome::Completed)])
        }
        RunPhase::Answered | RunPhase::Ready => plan_boundary(control, run),
    }
}

/// A step boundary inside a run: nothing is in flight.
fn plan_boundary(control: &ControlState, run: &ActiveRun) -> Plan {
    if control.compaction.pending.is_some() {
        return Plan::Action(compaction_effect(control));
    }
    if !run.pending_steers.is_empty() {
        // The run's own cost budget first: it is the tighter, explicit ask.
        if let Some(failure) = exceeded(control, run, LimitKind::Cost)
            .or_else(|| exceeded(control, run, LimitKind::OutputTokens))
            .or_else(|| exceeded(control, run, LimitKind::SessionCost))
        {
            return Plan::Events(vec![finish(run, RunOutcome::Failed { failure })]);
        }
        let items = run
            .pending_steers
            .iter()
            .zip(control.context.next_ordinal..)
            .map(|(spec, ordinal)| ContextItem::new(ordinal, None, spec))
            .collect();
        let run_id = run.run_id.clone();
        return Plan::Events(vec![Planned::run(
            &run_id,
            ev::SteerApplied {
                run_id: run_id.clone(),
                items,
            },
        )]);
    }
    if run.yielded {
        // The run scheduled a wake-up: the next run carries on from there.
        return Plan::Events(vec![finish(run, RunOutcome::Completed)]);
    }
    // Cost is recorded as each turn completes, so checking it here, before every
    // generation, is what bounds spending: the last generation a budget lets start
    // may overshoot it by that generation's own cost.
    if let Some(failure) = exceeded(control, run, LimitKind::Turns)
        .or_else(|| exceeded(control, run, LimitKind::Cost))
        .or_else(|| exceeded(control, run, LimitKind::OutputTokens))
        .or_else(|| exceeded(control, run, LimitKind::SessionCost))
    {
        return Plan::Events(vec![finish(run, RunOutcome::Failed { failure })]);
    }
    if let Some(event) = watermark_compaction(control) {
        return Plan::Events(vec![event]);
    }
    let Some(settings) = turn_settings(control, run) else {
        unreachable!("an open session always has a config");
    };
    let turn = run.turns_used + 1;
    let fingerprint = planned_fingerprint(control, &session_id(control), run, turn, &settings);
    let event = ev::TurnPlanned {
        run_id: run.run_id.clone(),
        turn,
        fingerprint,
        config_revision: control.config_revision,
        tools_revision: control.tools_revision,
        context_revision: control.context.revision,
        output_tokens_max: settings.output_tokens_max,
    };
    let joins = Joins {
        run_id: Some(run.run_id.clone()),
        turn: Some(turn),
        ..Joins::default()
    };
    Plan::Events(vec![Planned {
        joins,
        event: event.into(),
    }])
}

/// The oldest run end the parent has not heard of.
fn parent_notice(control: &ControlState) -> Option<ParentNoticeIntent> {
    let parent = control.parent.as_ref()?;
    let notice = control.parent_notices.first()?;
    Some(ParentNoticeIntent {
        session_id: session_id(control),
        parent: parent.session_id.clone(),
        run_id: notice.run_id.clone(),
        status: notice.status,
    })
}

/// The failure if `limit` of `run` (or, for [`LimitKind::SessionCost`], of its
/// session) is used up. Cost budgets are optional: none, no failure.
fn exceeded(control: &ControlState, run: &ActiveRun, limit: LimitKind) -> Option<RunFailure> {
    let (used, max) = match limit {
        LimitKind::Turns => (u64::from(run.turns_used), u64::from(run.limits.turns_max)),
        LimitKind::ToolBatches => (
            u64::from(run.tool_batches_used),
            u64::from(run.limits.tool_batches_max),
        ),
        LimitKind::OutputTokens => (run.usage.output_tokens, run.limits.output_tokens_max),
        LimitKind::Cost => (run.usage.cost_nanos, run.limits.cost_nanos_max?),
        // The tree budget: what the session's children were given counts too.
        LimitKind::SessionCost => (
            control.tree_cost_nanos(),
            control.config.as_ref()?.budget.cost_nanos_max?,
        ),
    };
    (used >= max).then_some(RunFailure::LimitExceeded { limit, used, max })
}

/// Ends the run with `outcome`, closing whatever it has in flight: an in-flight
/// generation is aborted, tool calls without results get a not-executed result so the
/// transcript stays well formed for the next run.
pub(crate) fn abandon(
    control: &ControlState,
    run: &ActiveRun,
    outcome: RunOutcome,
) -> Vec<Planned> {
    let mut events = Vec::new();
    match &run.phase {
        RunPhase::Generating { turn, .. } => {
            let joins = Joins {
                run_id: Some(run.run_id.clone()),
                turn: Some(*turn),
                ..Joins::default()
            };
            let event = ev::TurnAborted {
                run_id: run.run_id.clone(),
                turn: *turn,
            };
            events.push(Planned {
                joins,
                event: event.into(),
            });
        }
        RunPhase::AwaitingTools { batch, calls } => {
            let output = match outcome {
                RunOutcome::Cancelled { .. } => wellknown::tool_cancelled_ref(),
                _ => wellknown::tool_limit_ref(),
            };
            let open = calls.iter().filter(|call| !call.done);
            for (call, ordinal) in open.zip(control.context.next_ordinal..) {
                events.push(crate::core::holds::not_run(
                    &run.run_id,
                    *batch,
                    call,
                    ordinal,
                    (output.clone(), 16),
                ));
            }
        }
        RunPhase::Ready | RunPhase::Answered => {}
    }
    events.push(finish(run, outcome));
    events
}

fn finish(run: &ActiveRun, outcome: RunOutcome) -> Planned {
    let event = ev::RunFinished {
        run_id: run.run_id.clone(),
        outcome,
        usage: run.usage,
        turns: run.turns_used,
    };
    Planned::run(&run.run_id, event)
}

/// Requests compaction when the context estimate reached the high-watermark and, if
/// a compaction already ran, grew by a tenth of the watermark since it settled (so a
/// summary that is itself above the watermark does not trigger an endless loop).
fn watermark_compaction(control: &ControlState) -> Option<Planned> {
    let policy = control.config.as_ref()?.context;
    let estimate = control.context.effective_tokens();
    let regrown = control
        .compaction
        .settled_token_estimate
        .is_none_or(|settled| {
            estimate >= settled.saturating_add((policy.high_watermark_tokens / 10).max(1))
        });
    let due = policy.compaction == CompactionMode::Auto
        && control.compaction.pending.is_none()
        && estimate >= policy.high_watermark_tokens
        && regrown;
    due.then(|| {
        Planned::session(ev::CompactionRequested {
            compaction: control.compaction.requested_total + 1,
            reason: CompactionReason::HighWatermark,
            instruction: None,
        })
    })
}

fn compaction_effect(control: &ControlState) -> Action {
    let Some(pending) = &control.compaction.pending else {
        unreachable!("called only with a pending compaction");
    };
    Action::CompactContext(CompactionIntent {
        session_id: session_id(control),
        compaction: pending.compaction,
        reason: pending.reason,
        requested_at: pending.requested_at,
        context_revision: control.context.revision,
        token_estimate: control.context.token_estimate,
    })
}

fn session_id(control: &ControlState) -> crate::ids::SessionId {
    match &control.session_id {
        Some(id) => id.clone(),
        None => unreachable!("an open session always has an id"),
    }
}
