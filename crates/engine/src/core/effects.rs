//! Effect results coming back from hosts, and the events they become. Results are
//! checked against what is outstanding: a late or duplicated result is a typed
//! [`Rejection`] the host can drop, never a state change.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::core::command::Rejection;
use crate::core::context::{ContextItem, ItemKind, ItemSpec};
use crate::core::control::{ControlState, Lifecycle};
use crate::core::event as ev;
use crate::core::limits::{OUTPUT_ITEMS_MAX, TEXT_FIELD_BYTES_MAX, TOOL_CALLS_PER_TURN_MAX};
use crate::core::planner::Planned;
use crate::core::run::{
    ActiveRun, EffectError, FinishReason, RunFailure, RunOutcome, RunPhase, ToolCallRequest,
    ToolStatus, Usage,
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
    pub tool_calls: Vec<ToolCallRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// Size of the context the provider measured for this request, when reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
    /// The native request as sent (no credentials), in the CAS, for audit and replay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ref: Option<BlobRef>,
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
    Ok(())
}

fn numbered(items: &[ItemSpec], first_ordinal: u64) -> Vec<ContextItem> {
    items
        .iter()
        .zip(first_ordinal..)
        .map(|(spec, ordinal)| ContextItem::new(ordinal, None, spec))
        .collect()
}

pub(crate) fn generation(
    control: &ControlState,
    run_id: &RunId,
    turn: u32,
    outcome: GenerationOutcome,
) -> Result<Vec<Planned>, Rejection> {
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
    match outcome {
        GenerationOutcome::Completed(result) => {
            check_items("generation output items", &result.items)?;
            let calls = &result.tool_calls;
            if calls.len() > TOOL_CALLS_PER_TURN_MAX {
                let (count, max) = (calls.len(), TOOL_CALLS_PER_TURN_MAX);
                return Err(Rejection::TooMany {
                    what: "tool calls",
                    count,
                    max,
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
            let event = ev::TurnCompleted {
                run_id: run_id.clone(),
                turn,
                usage: result.usage,
                response_id: result.response_id,
                items: numbered(&result.items, control.context.next_ordinal),
                tool_calls: result.tool_calls,
                finish_reason: result.finish_reason,
                context_tokens: result.context_tokens,
                request_ref: result.request_ref,
            };
            Ok(vec![Planned {
                joins,
                event: event.into(),
            }])
        }
        GenerationOutcome::Failed { error } => {
            check_error(&error)?;
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
            Ok(vec![
                Planned {
                    joins,
                    event: failed.into(),
                },
                Planned::run(run_id, finished),
            ])
        }
    }
}

pub(crate) fn tool_results(
    control: &ControlState,
    run_id: &RunId,
    batch: u32,
    results: Vec<ToolResult>,
) -> Result<Vec<Planned>, Rejection> {
    let run = active_run(control, run_id, "tool batch")?;
    let RunPhase::AwaitingTools {
        batch: open_batch,
        calls,
    } = &run.phase
    else {
        return Err(Rejection::StaleResult {
            effect: "tool batch",
            detail: format!("{run_id} batch {batch}"),
        });
    };
    if *open_batch != batch {
        return Err(Rejection::StaleResult {
            effect: "tool batch",
            detail: format!("{run_id} batch {batch}"),
        });
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
            Some(call) if call.done || !seen.insert(&result.call_id) => {
                return Err(Rejection::DuplicateToolResult(result.call_id.to_string()));
            }
            Some(_) => {}
        }
    }
    Ok(results
        .into_iter()
        .zip(control.context.next_ordinal..)
        .map(|(result, ordinal)| {
            // Validated above: every result names an open call of this batch.
            let request = calls
                .iter()
                .find(|call| call.request.call_id == result.call_id)
                .map(|call| &call.request);
            let item = ContextItem {
                ordinal,
                kind: ItemKind::ToolResult,
                key: None,
                content_ref: result.output_ref,
                token_estimate: result.token_estimate,
                call_id: Some(result.call_id.clone()),
                is_error: result.status != ToolStatus::Ok,
            };
            let joins = Joins {
                run_id: Some(run_id.clone()),
                tool_batch: Some(batch),
                tool_call_id: Some(result.call_id.clone()),
                ..Joins::default()
            };
            let event = ev::ToolResultRecorded {
                run_id: run_id.clone(),
                batch,
                call_id: result.call_id,
                status: result.status,
                item,
                tool_name: request.map(|request| request.name.clone()),
                arguments_ref: request.map(|request| request.arguments_ref.clone()),
            };
            Planned {
                joins,
                event: event.into(),
            }
        })
        .collect())
}

pub(crate) fn compaction(
    control: &ControlState,
    compaction: u32,
    outcome: CompactionOutcome,
) -> Result<Vec<Planned>, Rejection> {
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
    let event = match outcome {
        CompactionOutcome::Compacted { summary } => {
            check_items("compaction summary items", &summary)?;
            let summary = numbered(&summary, control.context.next_ordinal);
            Planned::session(ev::ContextCompacted {
                compaction,
                summary,
            })
        }
        CompactionOutcome::Failed { error } => {
            check_error(&error)?;
            Planned::session(ev::CompactionFailed { compaction, error })
        }
    };
    Ok(vec![event])
}
