//! Engine state and events to the views clients read.
//!
//! Views are pure functions of what they are given: [`session_view`] of the control
//! state, [`event_view`] of one committed entry (plus the blobs it names). Nothing is
//! remembered between calls, so every client sees the same projection of the same log.

mod events;
mod models;

use crate::inputs::nanos_to_usd;
use api::ApiError;
use api::types::events::{WakeUpState, WakeUpView};
use api::types::run::{RunFailureView, RunStatus, RunView, WaitReason, WaitingCallView};
use api::types::session::{
    ChildView, CompactionPolicy, FilesystemMode, ForkedFromView, ModelRouteInput, ParentView,
    RunLimitsView, SessionConfigView, SessionListParams, SessionStatus, SessionSummary,
    SessionView, ToolChoiceInput, UsageView,
};
use engine::SessionId;
use engine::core::config::{CompactionMode, SessionConfig, ToolChoice};
use engine::core::control::{ControlState, Lifecycle};
use engine::core::run::{
    ActiveRun, ActiveRunStatus, CallHold, LimitKind, RunFailure, RunOutcome, RunPhase, Usage,
};

pub use events::{
    TOOL_OUTPUT_VIEW_BYTES_MAX, USER_MESSAGE_LOAD_BYTES_MAX, USER_TEXT_VIEW_BYTES_MAX, event_view,
    event_views_after,
};
pub use models::models_list;

/// The session as `session/read` returns it.
///
/// The session must have been opened: for a never-opened state (`control.config` is
/// `None`) callers answer `notFound` instead. Such a state is rendered with an empty
/// model route (and trips a debug assertion) rather than panicking a server.
pub fn session_view(
    session_id: &SessionId,
    control: &ControlState,
    filesystem: FilesystemMode,
) -> SessionView {
    let runs = &control.runs;
    let mut config = config_view(&opened_config(control), filesystem);
    config.timers = control
        .tools
        .iter()
        .any(|tool| tool.name == crate::TIMERS_MARKER_TOOL);
    config.agents = control
        .tools
        .iter()
        .any(|tool| tool.name == crate::AGENTS_MARKER_TOOL);
    let mut wake_ups: Vec<WakeUpView> = control
        .wake_ups
        .iter()
        .map(|wake| WakeUpView {
            wake_up: wake.wake_up,
            state: WakeUpState::Scheduled,
            at_ms: Some(wake.at_ms),
        })
        .collect();
    wake_ups.sort_by_key(|wake| (wake.at_ms, wake.wake_up));
    SessionView {
        session_id: session_id.to_string(),
        status: session_status(control),
        revision: control.config_revision,
        config,
        wake_ups,
        active_run: runs.active.as_ref().map(active_run_view),
        queued_run_ids: runs
            .queue
            .iter()
            .map(|run| run.run_id.to_string())
            .collect(),
        last_run: runs.last_finished.as_ref().map(|finished| {
            finished_run_view(
                finished.run_id.as_str(),
                &finished.outcome,
                &finished.usage,
                finished.turns,
            )
        }),
        usage: usage_view(&control.usage_total),
        context_tokens_estimate: control.context.token_estimate,
        event_cursor: control.head,
        updated_at_ms: control.last_observed_at_ms,
        forked_from: control.forked_from.as_ref().map(|origin| ForkedFromView {
            session_id: origin.session_id.to_string(),
            cursor: origin.seq,
        }),
        parent: control.parent.as_ref().map(|parent| ParentView {
            session_id: parent.session_id.to_string(),
            depth: parent.depth,
        }),
        children: control.children.iter().map(child_view).collect(),
        dispatch_paused: control.dispatch_paused,
    }
}

/// A sub-agent as its parent's log knows it.
pub fn child_view(child: &engine::core::lineage::ChildLink) -> ChildView {
    let run =
        |ordinal: u64| (ordinal > 0).then(|| engine::RunId::from_ordinal(ordinal).to_string());
    ChildView {
        session_id: child.session_id.to_string(),
        spawned_by_call_id: child.spawned_by.to_string(),
        last_started_run_id: run(child.runs_started),
        last_finished_run_id: run(child.runs_finished),
        last_status: child.last_status.map(events::child_run_status_view),
        busy: child.runs_started > child.runs_finished,
        budget_usd: child.budget_nanos.map(nanos_to_usd),
    }
}

/// One row of `session/list`. Same precondition as [`session_view`].
pub fn session_summary(session_id: &SessionId, control: &ControlState) -> SessionSummary {
    SessionSummary {
        session_id: session_id.to_string(),
        status: session_status(control),
        model: opened_config(control).model.model,
        updated_at_ms: control.last_observed_at_ms,
    }
}

/// Rows per `session/list` page unless the caller asks otherwise.
pub const SESSION_LIST_LIMIT_DEFAULT: u32 = 50;
/// The most rows a `session/list` page may ask for.
pub const SESSION_LIST_LIMIT_MAX: u32 = 200;

/// One `session/list` page to read: at most `limit` sessions, after the one the
/// cursor names in the listing order (newest activity first, ties by id in byte
/// order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionListPage {
    pub limit: usize,
    /// (last activity in ms, session id) of the previous page's last row.
    pub after: Option<(u64, SessionId)>,
}

/// Checks `session/list`'s params. The cursor is a keyset position, not an
/// offset, so sessions that become active between pages shift nothing: a session
/// untouched during the walk is listed exactly once, one touched moves to the
/// front and is listed at most once.
pub fn session_list_page(params: &SessionListParams) -> Result<SessionListPage, ApiError> {
    let limit = params.limit.unwrap_or(SESSION_LIST_LIMIT_DEFAULT);
    if !(1..=SESSION_LIST_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid_params(format!(
            "limit must be 1 to {SESSION_LIST_LIMIT_MAX}"
        )));
    }
    let after = match params.cursor.as_deref() {
        None => None,
        Some(cursor) => Some(
            decode_list_cursor(cursor)
                .ok_or_else(|| ApiError::invalid_params("cursor is not from session/list"))?,
        ),
    };
    Ok(SessionListPage {
        limit: limit as usize,
        after,
    })
}

/// The `nextCursor` after a row: `{last activity ms}:{session id}` (ids may hold
/// `:`, the time does not). Clients treat it as opaque.
pub fn session_list_cursor(last_activity_at_ms: u64, session_id: &SessionId) -> String {
    format!("{last_activity_at_ms}:{session_id}")
}

fn decode_list_cursor(cursor: &str) -> Option<(u64, SessionId)> {
    let (at_ms, session) = cursor.split_once(':')?;
    let at_ms = at_ms.parse().ok()?;
    Some((at_ms, SessionId::new(session).ok()?))
}

/// Why a run failed, in client terms.
pub fn run_failure_view(failure: &RunFailure) -> RunFailureView {
    match failure {
        RunFailure::LimitExceeded { limit, used, max } => {
            let (code, name) = match limit {
                LimitKind::Turns => ("turns", "turns"),
                LimitKind::ToolBatches => ("toolRounds", "tool rounds"),
                LimitKind::OutputTokens => ("outputTokens", "output tokens"),
                LimitKind::Cost => ("cost", "cost"),
                LimitKind::SessionCost => ("sessionCost", "session cost"),
            };
            let message = match limit {
                // Nano-USD in the engine, USD for people.
                LimitKind::Cost | LimitKind::SessionCost => format!(
                    "{name} limit reached ({} of {} USD)",
                    nanos_to_usd(*used),
                    nanos_to_usd(*max)
                ),
                LimitKind::Turns | LimitKind::ToolBatches | LimitKind::OutputTokens => {
                    format!("{name} limit reached ({used} of {max})")
                }
            };
            RunFailureView {
                reason: "limitExceeded".into(),
                code: code.into(),
                message,
            }
        }
        RunFailure::GenerationFailed { error } => RunFailureView {
            reason: "generationFailed".into(),
            code: error.code.clone(),
            message: error.message.clone(),
        },
        RunFailure::TranscriptionFailed { error } => RunFailureView {
            reason: "transcriptionFailed".into(),
            code: error.code.clone(),
            message: error.message.clone(),
        },
    }
}

fn session_status(control: &ControlState) -> SessionStatus {
    match control.lifecycle {
        Lifecycle::Closed => SessionStatus::Closed,
        Lifecycle::Open | Lifecycle::Uninitialized if control.runs.is_idle() => SessionStatus::Idle,
        Lifecycle::Open | Lifecycle::Uninitialized => SessionStatus::Running,
    }
}

fn opened_config(control: &ControlState) -> SessionConfig {
    debug_assert!(
        control.config.is_some(),
        "a session view of a session that was never opened"
    );
    control.config.clone().unwrap_or_else(|| SessionConfig {
        model: engine::core::config::ModelRoute {
            provider_id: String::new(),
            api_kind: String::new(),
            model: String::new(),
        },
        generation: Default::default(),
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    })
}

fn config_view(config: &SessionConfig, filesystem: FilesystemMode) -> SessionConfigView {
    SessionConfigView {
        model: ModelRouteInput {
            provider_id: config.model.provider_id.clone(),
            api_kind: config.model.api_kind.clone(),
            model: config.model.model.clone(),
        },
        max_output_tokens: config.generation.output_tokens_max,
        tool_choice: match &config.generation.tool_choice {
            ToolChoice::Auto => ToolChoiceInput::Auto,
            ToolChoice::None => ToolChoiceInput::None,
            ToolChoice::Required => ToolChoiceInput::Required,
            ToolChoice::Tool { name } => ToolChoiceInput::Tool { name: name.clone() },
        },
        // Always an object: the engine refuses anything else.
        provider_params: config
            .generation
            .provider_params
            .0
            .as_object()
            .cloned()
            .unwrap_or_default(),
        compaction: match config.context.compaction {
            CompactionMode::Auto => CompactionPolicy::Auto,
            CompactionMode::Manual => CompactionPolicy::Manual,
        },
        compaction_threshold_tokens: config.context.high_watermark_tokens,
        run_defaults: RunLimitsView {
            max_turns: config.run_limits.turns_max,
            max_tool_rounds: config.run_limits.tool_batches_max,
            max_output_tokens: config.run_limits.output_tokens_max,
            max_cost_usd: config.run_limits.cost_nanos_max.map(nanos_to_usd),
        },
        filesystem,
        timers: false,
        tool_policy: crate::inputs::tool_policy_view(&config.tool_policy),
        agents: Default::default(),
        budget: crate::inputs::session_budget_view(&config.budget),
    }
}

/// A usage record as the API shows it.
pub fn usage_view(usage: &Usage) -> UsageView {
    UsageView {
        input_tokens: usage.input_tokens,
        output_tokens: usage.output_tokens,
        cached_input_tokens: usage.cached_input_tokens,
        reasoning_tokens: usage.reasoning_tokens,
        cost_usd: nanos_to_usd(usage.cost_nanos),
        cost_complete: usage.unpriced_turns == 0,
    }
}

fn active_run_view(run: &ActiveRun) -> RunView {
    let waiting = waiting_calls(run);
    let awaiting_approval = waiting
        .iter()
        .any(|call| call.reason == WaitReason::Approval);
    let status = match run.status {
        ActiveRunStatus::Running if awaiting_approval => RunStatus::AwaitingApproval,
        ActiveRunStatus::Running => RunStatus::Running,
        ActiveRunStatus::Cancelling { .. } => RunStatus::Cancelling,
    };
    RunView {
        run_id: run.run_id.to_string(),
        status,
        failure: None,
        turns: run.turns_used,
        usage: usage_view(&run.usage),
        items: Vec::new(),
        waiting,
    }
}

/// The open batch's calls that wait instead of running. Arguments are filled in by
/// the backend, which can read the CAS ([`WaitingCallView::arguments`]).
fn waiting_calls(run: &ActiveRun) -> Vec<WaitingCallView> {
    let RunPhase::AwaitingTools { calls, .. } = &run.phase else {
        return Vec::new();
    };
    calls
        .iter()
        .filter(|call| !call.done)
        .filter_map(|call| {
            let (reason, until_ms) = match call.hold.as_ref()? {
                CallHold::Approval { deadline_ms } => (WaitReason::Approval, *deadline_ms),
                CallHold::Timer { due_ms, .. } => (WaitReason::Timer, Some(*due_ms)),
                CallHold::Children { deadline_ms, .. } => (WaitReason::Children, *deadline_ms),
            };
            Some(WaitingCallView {
                call_id: call.request.call_id.to_string(),
                tool: call.request.name.clone(),
                reason,
                until_ms,
                arguments: None,
            })
        })
        .collect()
}

/// A run in a state the caller names, with no failure and no items.
pub(crate) fn run_view(run_id: &str, status: RunStatus, turns: u32, usage: &Usage) -> RunView {
    RunView {
        run_id: run_id.to_owned(),
        status,
        failure: None,
        turns,
        usage: usage_view(usage),
        items: Vec::new(),
        waiting: Vec::new(),
    }
}

/// A finished run: its status and failure from the outcome.
pub(crate) fn finished_run_view(
    run_id: &str,
    outcome: &RunOutcome,
    usage: &Usage,
    turns: u32,
) -> RunView {
    let (status, failure) = match outcome {
        RunOutcome::Completed => (RunStatus::Completed, None),
        RunOutcome::Failed { failure } => (RunStatus::Failed, Some(run_failure_view(failure))),
        RunOutcome::Cancelled { .. } => (RunStatus::Cancelled, None),
    };
    RunView {
        failure,
        ..run_view(run_id, status, turns, usage)
    }
}

#[cfg(test)]
mod tests {
    use engine::core::run::EffectError;

    use super::*;

    #[test]
    fn list_cursors_round_trip_and_foreign_ones_are_refused() {
        let session = SessionId::new("s:with.colons").unwrap_or_else(|err| panic!("{err}"));
        let cursor = session_list_cursor(u64::MAX, &session);
        let params = |cursor: &str| SessionListParams {
            cursor: Some(cursor.to_owned()),
            limit: None,
        };
        let page = session_list_page(&params(&cursor)).unwrap_or_else(|err| panic!("{err:?}"));
        assert_eq!(
            page,
            SessionListPage {
                limit: SESSION_LIST_LIMIT_DEFAULT as usize,
                after: Some((u64::MAX, session)),
            }
        );
        // An offset (what older servers handed out) and anything else.
        for bad in ["2", "", ":s", "x:s", "1:", "1:bad id", "-1:s"] {
            assert!(session_list_page(&params(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn failures_read_as_client_text() {
        let limit =
            |limit, used, max| run_failure_view(&RunFailure::LimitExceeded { limit, used, max });
        let turns = limit(LimitKind::Turns, 50, 50);
        assert_eq!(
            (
                turns.reason.as_str(),
                turns.code.as_str(),
                turns.message.as_str()
            ),
            ("limitExceeded", "turns", "turns limit reached (50 of 50)")
        );
        assert_eq!(limit(LimitKind::ToolBatches, 3, 3).code, "toolRounds");
        let tokens = limit(LimitKind::OutputTokens, 2_100, 2_000);
        assert_eq!(tokens.code, "outputTokens");
        assert_eq!(tokens.message, "output tokens limit reached (2100 of 2000)");
        // Costs are nano-USD in the engine, USD for clients.
        let cost = limit(LimitKind::Cost, 5_250_000, 5_000_000);
        assert_eq!(
            (cost.code.as_str(), cost.message.as_str()),
            ("cost", "cost limit reached (0.00525 of 0.005 USD)")
        );
        let session = limit(LimitKind::SessionCost, 2_000_000_000, 2_000_000_000);
        assert_eq!(
            (session.code.as_str(), session.message.as_str()),
            ("sessionCost", "session cost limit reached (2 of 2 USD)")
        );
        let failed = run_failure_view(&RunFailure::GenerationFailed {
            error: EffectError {
                code: "rate_limited".into(),
                message: "slow down".into(),
            },
        });
        assert_eq!(
            (
                failed.reason.as_str(),
                failed.code.as_str(),
                failed.message.as_str()
            ),
            ("generationFailed", "rate_limited", "slow down")
        );
    }

    #[test]
    fn usage_shows_cost_in_usd_and_whether_every_turn_was_priced() {
        let usage = Usage {
            cost_nanos: 1_250_000,
            ..Usage::default()
        };
        let view = usage_view(&usage);
        assert_eq!((view.cost_usd, view.cost_complete), (0.00125, true));
        let partial = usage_view(&Usage {
            unpriced_turns: 1,
            ..usage
        });
        assert_eq!((partial.cost_usd, partial.cost_complete), (0.00125, false));
    }

    #[test]
    fn outcomes_map_to_statuses() {
        let view = |outcome| finished_run_view("run_1", &outcome, &Usage::default(), 2);
        assert_eq!(view(RunOutcome::Completed).status, RunStatus::Completed);
        assert_eq!(
            view(RunOutcome::Cancelled { reason: None }).status,
            RunStatus::Cancelled
        );
        let failed = view(RunOutcome::Failed {
            failure: RunFailure::LimitExceeded {
                limit: LimitKind::Turns,
                used: 1,
                max: 1,
            },
        });
        assert_eq!(failed.status, RunStatus::Failed);
        assert_eq!(failed.failure.unwrap().code, "turns");
        assert_eq!(failed.turns, 2);
    }
}
