//! Effect results coming back from hosts, and the events they become. Results are
//! checked against what is outstanding: a late or duplicated result is *stale*, a
//! typed [`Rejection`] the host drops, never a state change. A result that does answer
//! the outstanding effect but breaks an engine bound (too many tool calls, duplicate
//! call ids, oversized text) is *invalid*: it is recorded as the effect failing with
//! code [`EffectError::INVALID_RESULT`], because refusing it would leave the effect
//! outstanding and a level-triggered host would pay for the same call again forever.
//!
//! Tool results have no invalid shape: hosts build them from the call they were
//! given, and nothing in them but the output blob comes from the tool. A tool result
//! that names no open call of the batch (unknown, already answered, or repeated in
//! the list), or an empty list, answers nothing, so it is stale.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::core::command::Rejection;
use crate::core::context::{ContextItem, ItemKind, ItemSpec};
use crate::core::control::{ControlState, Lifecycle};
use crate::core::event as ev;
use crate::core::holds::{WAKE_UPS_MAX, valid_wake_up_input};
use crate::core::limits::{OUTPUT_ITEMS_MAX, TEXT_FIELD_BYTES_MAX, TOOL_CALLS_PER_TURN_MAX};
use crate::core::lineage::CHILDREN_MAX;
use crate::core::planner::Planned;
use crate::core::refresh::{ContextRefresh, ResolvedRefresh};
use crate::core::run::{
    ActiveRun, EffectError, FinishReason, PendingToolCall, RunFailure, RunOutcome, RunPhase,
    ToolCallRequest, ToolStatus, Usage,
};
use crate::ids::{RunId, ToolCallId};
use crate::log::Joins;

/// The facts a provider adapter extracted from one generation. Everything else stays
/// verbatim in the CAS behind the item refs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationResult {
    pub usage: Usage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// Output items in provider order (assistant text, reasoning, tool calls, ...).
    pub items: Vec<ItemSpec>,
    /// Left out when empty (a text answer): results travel through workflow history.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCallRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// Size of the context the provider measured for this request, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
    /// The native request as sent (no credentials), in the CAS, for audit and replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ref: Option<BlobRef>,
    /// Sourced items the host refreshed into the request before sending it
    /// (`core::refresh`); recorded ahead of the turn's output.
    #[serde(default, skip_serializing_if = "ContextRefresh::is_empty")]
    pub context_refresh: ContextRefresh,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum GenerationOutcome {
    Completed(GenerationResult),
    /// The generation failed for good (the host already retried what was retryable).
    Failed {
        error: EffectError,
    },
}

/// One finished tool call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResult {
    pub call_id: ToolCallId,
    pub status: ToolStatus,
    pub output_ref: BlobRef,
    pub token_estimate: u64,
    /// The tool finishes later without holding anything (`core::holds`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub later: Option<Later>,
    /// The call started a run on a child session (`core::lineage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub child: Option<crate::core::lineage::ChildStarted>,
}

impl ToolResult {
    /// A result recorded as it arrives.
    pub fn now(
        call_id: ToolCallId,
        status: ToolStatus,
        output_ref: BlobRef,
        token_estimate: u64,
    ) -> Self {
        Self {
            call_id,
            status,
            output_ref,
            token_estimate,
            later: None,
            child: None,
        }
    }
}

/// What a tool that finishes later asks of the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Later {
    /// Record this result at `at_ms`, not now (`sleep`, `wait_until`): the call
    /// stays open, held by a timer, and the run waits without an activity.
    At { at_ms: u64 },
    /// Record this result now, end the run at its next step boundary, and request a
    /// run with `input` at `at_ms` (`wake_me_at`).
    WakeUp { at_ms: u64, input: Vec<ItemSpec> },
    /// Record nothing now: hold the call until these child runs have ended (all, or
    /// any one), then run it again; at `until_ms` end the wait unmet
    /// (`agent_wait`; `core::lineage`).
    Children {
        waits: Vec<crate::core::lineage::ChildWait>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        any: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_ms: Option<u64>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CompactionOutcome {
    /// The items that replace the transcript (kind `summary` or provider-opaque).
    Compacted {
        summary: Vec<ItemSpec>,
    },
    Failed {
        error: EffectError,
    },
}

/// A result that answers the outstanding effect: the events it becomes, and why it
/// was recorded as a failure instead of as given, when it was invalid.
#[derive(Debug)]
pub(crate) struct Accepted {
    pub(crate) events: Vec<Planned>,
    pub(crate) invalid: Option<Rejection>,
}

impl Accepted {
    fn valid(events: Vec<Planned>) -> Self {
        Self {
            events,
            invalid: None,
        }
    }
}

fn active_run<'a>(
    control: &'a ControlState,
    run_id: &RunId,
    effect: &'static str,
) -> Result<&'a ActiveRun, Rejection> {
    control
        .runs
        .active
        .as_ref()
        .filter(|run| run.run_id == *run_id)
        .ok_or_else(|| Rejection::StaleResult {
            effect,
            detail: format!("run {run_id}"),
        })
}

fn check_error(error: &EffectError) -> Result<(), Rejection> {
    if error.code.len() > TEXT_FIELD_BYTES_MAX || error.message.len() > TEXT_FIELD_BYTES_MAX * 8 {
        return Err(Rejection::TextTooLong("effect error"));
    }
    Ok(())
}

fn check_items(what: &'static str, items: &[ItemSpec]) -> Result<(), Rejection> {
    if items.len() > OUTPUT_ITEMS_MAX {
        return Err(Rejection::TooMany {
            what,
            count: items.len(),
            max: OUTPUT_ITEMS_MAX,
        });
    }
    // Audio is input awaiting transcription; it never enters the context.
    if let Some(item) = items.iter().find(|item| item.kind == ItemKind::UserAudio) {
        return Err(Rejection::InvalidItemKind(item.kind));
    }
    Ok(())
}

/// The bounds a completed generation must meet before it can become `turn.completed`.
/// Checks a generation result; a valid one comes back with its refresh numbered.
fn check_generation(
    control: &ControlState,
    result: &GenerationResult,
) -> Result<ResolvedRefresh, Rejection> {
    check_items("generation output items", &result.items)?;
    let calls = &result.tool_calls;
    if calls.len() > TOOL_CALLS_PER_TURN_MAX {
        return Err(Rejection::TooMany {
            what: "tool calls",
            count: calls.len(),
            max: TOOL_CALLS_PER_TURN_MAX,
        });
    }
    let mut seen = BTreeSet::new();
    if let Some(dup) = calls.iter().find(|call| !seen.insert(&call.call_id)) {
        return Err(Rejection::DuplicateToolCall(dup.call_id.to_string()));
    }
    if result
        .response_id
        .as_ref()
        .is_some_and(|id| id.len() > TEXT_FIELD_BYTES_MAX)
    {
        return Err(Rejection::TextTooLong("response id"));
    }
    result.context_refresh.check()?;
    result
        .context_refresh
        .resolve(&control.context.keyed, control.context.next_ordinal)
}

/// The failure recorded for an invalid result. The message is clipped to the bound
/// [`check_error`] enforces, so the recorded failure itself is always valid (a
/// duplicate call id in the message comes from the provider and may be long).
fn invalid_result(reason: &Rejection) -> EffectError {
    let mut message = format!("the engine refused the effect result: {reason}");
    if message.len() > TEXT_FIELD_BYTES_MAX {
        let mut end = TEXT_FIELD_BYTES_MAX;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    EffectError {
        code: EffectError::INVALID_RESULT.to_owned(),
        message,
    }
}

fn numbered(items: &[ItemSpec], first_ordinal: u64) -> Vec<ContextItem> {
    items
        .iter()
        .zip(first_ordinal..)
        .map(|(spec, ordinal)| ContextItem::new(ordinal, None, spec))
        .collect()
}

/// Checks a generation result against the outstanding turn. `Err` means stale.
pub(crate) fn generation(
    control: &ControlState,
    run_id: &RunId,
    turn: u32,
    outcome: GenerationOutcome,
) -> Result<Accepted, Rejection> {
    let run = active_run(control, run_id, "generation")?;
    if !matches!(run.phase, RunPhase::Generating { turn: planned, .. } if planned == turn) {
        return Err(Rejection::StaleResult {
            effect: "generation",
            detail: format!("{run_id} turn {turn}"),
        });
    }
    let joins = Joins {
        run_id: Some(run_id.clone()),
        turn: Some(turn),
        ..Joins::default()
    };
    let checked = match outcome {
        GenerationOutcome::Completed(result) => match check_generation(control, &result) {
            Ok(refreshed) => {
                let mut events: Vec<Planned> = refreshed
                    .upserted
                    .iter()
                    .map(|item| Planned::session(ev::ContextItemUpserted { item: item.clone() }))
                    .chain(
                        refreshed.removed.iter().map(|key| {
                            Planned::session(ev::ContextItemRemoved { key: key.clone() })
                        }),
                    )
                    .collect();
                let completed = turn_completed(run_id, turn, result, refreshed.next_ordinal);
                events.push(Planned {
                    joins,
                    event: completed.into(),
                });
                return Ok(Accepted::valid(events));
            }
            Err(reason) => Err(reason),
        },
        GenerationOutcome::Failed { error } => check_error(&error).map(|()| error),
    };
    let (error, invalid) = match checked {
        Ok(error) => (error, None),
        Err(reason) => (invalid_result(&reason), Some(reason)),
    };
    Ok(Accepted {
        events: turn_failed(run, joins, turn, error),
        invalid,
    })
}

fn turn_completed(
    run_id: &RunId,
    turn: u32,
    result: GenerationResult,
    first_ordinal: u64,
) -> ev::TurnCompleted {
    ev::TurnCompleted {
        run_id: run_id.clone(),
        turn,
        usage: result.usage,
        response_id: result.response_id,
        items: numbered(&result.items, first_ordinal),
        tool_calls: result.tool_calls,
        finish_reason: result.finish_reason,
        context_tokens: result.context_tokens,
        request_ref: result.request_ref,
    }
}

/// A failed generation ends its run: `turn.failed`, then `run.finished` (failed).
fn turn_failed(run: &ActiveRun, joins: Joins, turn: u32, error: EffectError) -> Vec<Planned> {
    let run_id = &run.run_id;
    let failed = ev::TurnFailed {
        run_id: run_id.clone(),
        turn,
        error: error.clone(),
    };
    let outcome = RunOutcome::Failed {
        failure: RunFailure::GenerationFailed { error },
    };
    let finished = ev::RunFinished {
        run_id: run_id.clone(),
        outcome,
        usage: run.usage,
        turns: run.turns_used,
    };
    vec![
        Planned {
            joins,
            event: failed.into(),
        },
        Planned::run(run_id, finished),
    ]
}

/// Checks tool results against the open batch. `Err` means stale: the list answers
/// nothing outstanding (see the module documentation), and nothing is recorded.
pub(crate) fn tool_results(
    control: &ControlState,
    run_id: &RunId,
    batch: u32,
    results: Vec<ToolResult>,
) -> Result<Accepted, Rejection> {
    let run = active_run(control, run_id, "tool batch")?;
    let stale = || Rejection::StaleResult {
        effect: "tool batch",
        detail: format!("{run_id} batch {batch}"),
    };
    let RunPhase::AwaitingTools {
        batch: open_batch,
        calls,
    } = &run.phase
    else {
        return Err(stale());
    };
    if *open_batch != batch {
        return Err(stale());
    }
    if results.is_empty() {
        return Err(Rejection::Empty {
            what: "tool results",
        });
    }
    let mut seen = BTreeSet::new();
    for result in &results {
        let call = calls
            .iter()
            .find(|call| call.request.call_id == result.call_id);
        match call {
            None => return Err(Rejection::UnknownToolCall(result.call_id.to_string())),
            Some(call) if call.done || call.hold.is_some() || !seen.insert(&result.call_id) => {
                return Err(Rejection::DuplicateToolResult(result.call_id.to_string()));
            }
            Some(_) => {}
        }
    }
    let mut events = Vec::with_capacity(results.len());
    let mut ordinal = control.context.next_ordinal;
    let mut wake_ups = control.wake_ups.len();
    let mut wake_ups_total = control.wake_ups_total;
    // Children this list links for the first time (two results may start runs on
    // the same new child).
    let mut linked: Vec<crate::ids::SessionId> = Vec::new();
    for mut result in results {
        if let Some(started) = result.child.take() {
            let known = control.child(&started.session_id).is_some()
                || linked.contains(&started.session_id);
            if known || control.children.len() + linked.len() < CHILDREN_MAX {
                if !known {
                    linked.push(started.session_id.clone());
                }
                events.push(Planned::run(
                    run_id,
                    ev::ChildRunStarted {
                        run_id: run_id.clone(),
                        call_id: result.call_id.clone(),
                        child: started.session_id,
                        child_run: started.run_id,
                        spawned: !known,
                        budget_nanos: started.budget_nanos.filter(|_| !known),
                    },
                ));
            } else {
                result.status = ToolStatus::Error;
                result.output_ref = crate::core::wellknown::tool_child_refused_ref();
                result.token_estimate = 32;
            }
        }
        match result.later.take() {
            None => {}
            Some(Later::Children {
                waits,
                any,
                until_ms,
            }) => {
                if waits.is_empty() || waits.len() > CHILDREN_MAX {
                    result.status = ToolStatus::Error;
                    result.output_ref = crate::core::wellknown::tool_children_wait_expired_ref();
                    result.token_estimate = 32;
                } else {
                    events.push(Planned {
                        joins: call_joins(run_id, batch, &result.call_id),
                        event: ev::ToolAwaitingChildren {
                            run_id: run_id.clone(),
                            batch,
                            call_id: result.call_id,
                            waits,
                            any,
                            until_ms,
                        }
                        .into(),
                    });
                    continue;
                }
            }
            Some(Later::At { at_ms }) => {
                events.push(Planned {
                    joins: call_joins(run_id, batch, &result.call_id),
                    event: ev::ToolCallDeferred {
                        run_id: run_id.clone(),
                        batch,
                        call_id: result.call_id,
                        until_ms: at_ms,
                        status: result.status,
                        output_ref: result.output_ref,
                        token_estimate: result.token_estimate,
                    }
                    .into(),
                });
                continue;
            }
            Some(Later::WakeUp { at_ms, input }) => {
                if wake_ups < WAKE_UPS_MAX && valid_wake_up_input(&input) {
                    wake_ups += 1;
                    wake_ups_total += 1;
                    events.push(Planned::run(
                        run_id,
                        ev::WakeUpScheduled {
                            wake_up: wake_ups_total,
                            at_ms,
                            input,
                            run_id: Some(run_id.clone()),
                        },
                    ));
                } else {
                    result.status = ToolStatus::Error;
                    result.output_ref = crate::core::wellknown::tool_wake_up_refused_ref();
                    result.token_estimate = 32;
                }
            }
        }
        events.push(tool_result_recorded(run_id, batch, calls, result, ordinal));
        ordinal += 1;
    }
    Ok(Accepted::valid(events))
}

fn call_joins(run_id: &RunId, batch: u32, call_id: &ToolCallId) -> Joins {
    Joins {
        run_id: Some(run_id.clone()),
        tool_batch: Some(batch),
        tool_call_id: Some(call_id.clone()),
        ..Joins::default()
    }
}

fn tool_result_recorded(
    run_id: &RunId,
    batch: u32,
    calls: &[PendingToolCall],
    result: ToolResult,
    ordinal: u64,
) -> Planned {
    // Validated by the caller: every result names an open call of this batch.
    let Some(call) = calls
        .iter()
        .find(|call| call.request.call_id == result.call_id)
    else {
        unreachable!("results are checked against the open batch first");
    };
    let output = (result.output_ref, result.token_estimate);
    crate::core::holds::recorded(run_id, batch, call, ordinal, result.status, output)
}

/// Checks a compaction result against the pending compaction. `Err` means stale; an
/// invalid result becomes `context.compaction_failed`, and the session carries on.
pub(crate) fn compaction(
    control: &ControlState,
    compaction: u32,
    outcome: CompactionOutcome,
) -> Result<Accepted, Rejection> {
    let pending = control
        .compaction
        .pending
        .as_ref()
        .map(|pending| pending.compaction);
    if control.lifecycle != Lifecycle::Open || pending != Some(compaction) {
        return Err(Rejection::StaleResult {
            effect: "compaction",
            detail: format!("compaction {compaction}"),
        });
    }
    let checked = match outcome {
        CompactionOutcome::Compacted { summary } => {
            match check_items("compaction summary items", &summary) {
                Ok(()) => {
                    let summary = numbered(&summary, control.context.next_ordinal);
                    let compacted = ev::ContextCompacted {
                        compaction,
                        summary,
                    };
                    return Ok(Accepted::valid(vec![Planned::session(compacted)]));
                }
                Err(reason) => Err(reason),
            }
        }
        CompactionOutcome::Failed { error } => check_error(&error).map(|()| error),
    };
    let (error, invalid) = match checked {
        Ok(error) => (error, None),
        Err(reason) => (invalid_result(&reason), Some(reason)),
    };
    Ok(Accepted {
        events: vec![Planned::session(ev::CompactionFailed { compaction, error })],
        invalid,
    })
}

#[cfg(test)]
#[path = "effects_tests.rs"]
mod tests;
