//! Run lifecycle types shared by events, control state and effects.

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::core::config::{RunLimits, RunOverrides};
use crate::core::context::ItemSpec;
use crate::core::request::Fingerprint;
use crate::ids::{RunId, SubmissionId, ToolCallId};

/// Token usage as reported by providers, and what it cost, summed where it appears on
/// a run or session.
///
/// `input_tokens` counts every input token (cached and cache-written ones included)
/// and `output_tokens` every output token (reasoning included), so the parts are
/// never added twice. The fields added after the first four are left out when zero,
/// so entries and checkpoints written before them encode byte for byte as they did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    #[serde(default)]
    pub cached_input_tokens: u64,
    #[serde(default)]
    pub reasoning_tokens: u64,
    /// Input tokens written to the provider's prompt cache (Anthropic reports them
    /// apart and bills them above the input price); part of `input_tokens`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cache_write_input_tokens: u64,
    /// What the generations cost, in nano-USD (10^-9 USD). The host prices each
    /// generation from its price table when the result comes back, and the turn
    /// records it: replay and budgets read the recorded number, never a price
    /// table, so a changed table cannot change history (docs/spec/cost.md).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cost_nanos: u64,
    /// Generations whose model had no price: `cost_nanos` leaves them out, so a
    /// total with any is a lower bound, not the cost.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unpriced_turns: u64,
}

impl Usage {
    pub fn add(&mut self, other: &Usage) {
        self.input_tokens = self.input_tokens.saturating_add(other.input_tokens);
        self.output_tokens = self.output_tokens.saturating_add(other.output_tokens);
        self.cached_input_tokens = self
            .cached_input_tokens
            .saturating_add(other.cached_input_tokens);
        self.reasoning_tokens = self.reasoning_tokens.saturating_add(other.reasoning_tokens);
        self.cache_write_input_tokens = self
            .cache_write_input_tokens
            .saturating_add(other.cache_write_input_tokens);
        self.cost_nanos = self.cost_nanos.saturating_add(other.cost_nanos);
        self.unpriced_turns = self.unpriced_turns.saturating_add(other.unpriced_turns);
    }
}

fn is_zero(value: &u64) -> bool {
    *value == 0
}

/// The cost an entry records, in nano-USD: a completed turn's `usage.cost_nanos`,
/// 0 for every other kind. Read from the payload without decoding the rest, so
/// stores keep a universe's cost total as they append (like
/// [`runs_in_flight_delta`](crate::core::event::runs_in_flight_delta)); only
/// `turn.completed` adds cost (a run's end repeats its turns' sum).
pub fn recorded_cost_nanos(event: &crate::log::EventEnvelope) -> u64 {
    use crate::core::event::TurnCompleted;
    if event.kind != TurnCompleted::KIND {
        return 0;
    }
    event
        .payload
        .get("usage")
        .and_then(|usage| usage.get("cost_nanos"))
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0)
}

/// Why a generation stopped, normalised across providers. Recorded for clients; the
/// planner branches on the tool calls, not on this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    Stop,
    ToolCalls,
    MaxTokens,
    ContentFilter,
    Other,
}

/// Which budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    Turns,
    /// Tool batches (the glossary's term); persisted as `tool_rounds`, its first name.
    #[serde(rename = "tool_rounds")]
    ToolBatches,
    OutputTokens,
    /// The run's cost budget ([`RunLimits::cost_nanos_max`]); `used` and `max` in
    /// nano-USD.
    Cost,
    /// The session's cost budget ([`crate::core::config::SessionBudget`]), over every
    /// run of the session; `used` and `max` in nano-USD.
    SessionCost,
}

/// A provider-side or adapter-side failure, classified by the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EffectError {
    /// Stable machine code, e.g. `rate_limited`, `context_length_exceeded`.
    pub code: String,
    pub message: String,
}

impl EffectError {
    /// The code recorded when the engine refuses a result that answers the
    /// outstanding effect (too many tool calls, duplicate call ids, oversized text):
    /// the effect failed, rather than being asked for again.
    pub const INVALID_RESULT: &'static str = "invalid_result";
}

/// Why a run failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum RunFailure {
    LimitExceeded {
        limit: LimitKind,
        used: u64,
        max: u64,
    },
    GenerationFailed {
        error: EffectError,
    },
    /// The run's voice input could not be transcribed; it never started.
    TranscriptionFailed {
        error: EffectError,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RunOutcome {
    Completed,
    Failed {
        failure: RunFailure,
    },
    Cancelled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// A run waiting for the active one to finish.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuedRun {
    pub run_id: RunId,
    pub submission_id: SubmissionId,
    pub input: Vec<ItemSpec>,
    pub overrides: RunOverrides,
    pub limits: RunLimits,
}

/// A tool call requested by a generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallRequest {
    pub call_id: ToolCallId,
    pub name: String,
    /// The call's JSON arguments, verbatim, in the CAS.
    pub arguments_ref: BlobRef,
}

/// Where the active run stands between step boundaries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum RunPhase {
    /// At a step boundary: the next turn can be planned.
    Ready,
    /// A generation is owed for `turn`, planned by the entry at `planned_at`.
    Generating {
        turn: u32,
        planned_at: u64,
        fingerprint: Fingerprint,
    },
    /// The last generation answered without tool calls.
    Answered,
    /// Tool calls of `batch` are owed; `done` says which already have results.
    AwaitingTools {
        batch: u32,
        calls: Vec<PendingToolCall>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingToolCall {
    pub request: ToolCallRequest,
    pub done: bool,
    /// Why the call is neither running nor done (docs/spec/orchestration.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<CallHold>,
}

/// What an open call waits for instead of a tool activity. A held call costs no
/// activity and no worker slot: the host only keeps a timer for its deadline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "hold", rename_all = "snake_case")]
pub enum CallHold {
    /// A person's decision (`run/approve`, `run/deny`); denied at `deadline_ms`.
    Approval {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_ms: Option<u64>,
    },
    /// The tool ran and asked for its result to be recorded at `due_ms` (`sleep`,
    /// `wait_until`): the result is already in the CAS.
    Timer {
        due_ms: u64,
        status: ToolStatus,
        output_ref: BlobRef,
        token_estimate: u64,
    },
    /// The tool waits for child runs to end (`agent_wait`; `core::lineage`): all of
    /// `waits`, or any one when `any`. At `deadline_ms` the wait ends unmet.
    Children {
        waits: Vec<crate::core::lineage::ChildWait>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        any: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deadline_ms: Option<u64>,
    },
}

impl CallHold {
    /// When the host must wake the session for this hold, if ever.
    pub fn deadline_ms(&self) -> Option<u64> {
        match self {
            CallHold::Approval { deadline_ms } => *deadline_ms,
            CallHold::Timer { due_ms, .. } => Some(*due_ms),
            CallHold::Children { deadline_ms, .. } => *deadline_ms,
        }
    }
}

/// Whether cancellation of the active run was requested (the engine's view; clients
/// see `api::types::run::RunStatus`, the whole lifecycle).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ActiveRunStatus {
    Running,
    Cancelling {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

/// The run in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveRun {
    pub run_id: RunId,
    pub submission_id: SubmissionId,
    pub overrides: RunOverrides,
    pub limits: RunLimits,
    pub status: ActiveRunStatus,
    pub phase: RunPhase,
    pub turns_used: u32,
    /// Tool batches completed; checkpoints spell it `tool_rounds_used`.
    #[serde(rename = "tool_rounds_used")]
    pub tool_batches_used: u32,
    pub usage: Usage,
    /// Steer input waiting for the next step boundary.
    pub pending_steers: Vec<ItemSpec>,
    /// The run scheduled a wake-up (`wake_me_at`): it ends at the next step
    /// boundary instead of asking the model again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub yielded: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolStatus {
    Ok,
    Error,
    /// Never executed (run cancelled or a limit hit); the output explains why.
    NotExecuted,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::config::{RunLimits, RunLimitsPatch};

    /// The tool batch names are Rust-only: events and checkpoints keep the first
    /// spelling, so logs and checkpoints written before the rename decode and
    /// re-encode byte for byte.
    #[test]
    fn tool_batch_fields_keep_their_persisted_names() {
        let limit = serde_json::to_string(&LimitKind::ToolBatches).unwrap();
        assert_eq!(limit, r#""tool_rounds""#);
        let limits = crate::canonical::to_vec(&RunLimits::default());
        assert_eq!(
            String::from_utf8(limits).unwrap(),
            r#"{"output_tokens_max":200000,"tool_rounds_max":50,"turns_max":50}"#
        );
        let patch = RunLimitsPatch {
            tool_batches_max: Some(3),
            ..RunLimitsPatch::default()
        };
        assert_eq!(
            serde_json::to_string(&patch).unwrap(),
            r#"{"tool_rounds_max":3}"#
        );
        let old = r#"{"tool_rounds_max":3}"#;
        let decoded: RunLimitsPatch = serde_json::from_str(old).unwrap();
        assert_eq!(decoded.tool_batches_max, Some(3));
    }

    #[test]
    fn active_runs_keep_their_persisted_counter_name() {
        let json = r#"{"run_id":"run_1","submission_id":"s","overrides":{},"limits":{"turns_max":1,"tool_rounds_max":2,"output_tokens_max":3},"status":{"status":"running"},"phase":{"phase":"ready"},"turns_used":0,"tool_rounds_used":7,"usage":{"input_tokens":0,"output_tokens":0},"pending_steers":[]}"#;
        let run: ActiveRun = serde_json::from_str(json).unwrap();
        assert_eq!(run.tool_batches_used, 7);
        let encoded = serde_json::to_value(&run).unwrap();
        assert_eq!(encoded["tool_rounds_used"], 7);
        assert!(encoded.get("tool_batches_used").is_none());
    }
}
