use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::items::ItemView;
use super::session::{ModelRouteInput, ReasoningEffort, UsageView};

#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunLimitsInput {
    /// Generations per run. Default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turns: Option<u32>,
    /// Tool batches per run. Default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_rounds: Option<u32>,
    /// Output tokens over the whole run. Default 200,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// What the run's generations may cost, in USD (0 to 1,000,000; precision
    /// 10^-9). Default none: no cost budget. Checked before each generation: a run
    /// whose recorded cost has reached it fails with `limitExceeded` / `cost`. Set in
    /// `runDefaults`, a later `session/update` can raise or lower it but not remove
    /// it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
}

/// One piece of run or steer input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum InputItem {
    /// Inline text.
    Text { text: String },
    /// A UTF-8 text blob already in the CAS.
    #[serde(rename_all = "camelCase")]
    TextRef { blob_ref: String },
    /// An image (PNG, JPEG, GIF, WebP) or PDF blob already in the CAS.
    #[serde(rename_all = "camelCase")]
    Media { blob_ref: String },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunOverridesInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRouteInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<RunLimitsInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunStartParams {
    pub session_id: String,
    /// Idempotency key: the same id with the same input returns the same run.
    pub submission_id: String,
    /// 1 to 64 items.
    pub input: Vec<InputItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<RunOverridesInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunStartResult {
    pub run_id: String,
    /// True when this repeated an earlier submission.
    pub duplicate: bool,
    /// Cursor of the newest event once the run was accepted.
    pub event_cursor: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunCancelParams {
    pub session_id: String,
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunSteerParams {
    pub session_id: String,
    pub run_id: String,
    pub input: Vec<InputItem>,
}

/// Acknowledgement of cancel and steer: durably accepted, effective at the next step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunAccepted {
    pub run_id: String,
    pub event_cursor: u64,
}

pub type RunCancelResult = RunAccepted;
pub type RunSteerResult = RunAccepted;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunStatus {
    Queued,
    Running,
    /// A call waits for `run/approve` or `run/deny`.
    AwaitingApproval,
    Cancelling,
    Completed,
    Failed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunFailureView {
    /// `limitExceeded` or `generationFailed`.
    pub reason: String,
    /// For limits: `turns`, `toolRounds`, `outputTokens`, `cost` (the run's
    /// `maxCostUsd`) or `sessionCost` (the session's `budget.maxCostUsd`); for
    /// generations: the provider error code (e.g. `rate_limited`,
    /// `context_length_exceeded`).
    pub code: String,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunView {
    pub run_id: String,
    pub status: RunStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<RunFailureView>,
    pub turns: u32,
    /// The run's usage and cost so far; in a `turn.completed` event, that turn's.
    pub usage: UsageView,
    /// Items the run produced so far (present in `session/read`'s last run and in
    /// events, empty elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemView>,
    /// Calls of the active run that wait instead of running (for approval, or on
    /// a timer), in `session/read`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<WaitingCallView>,
}

/// A tool call that waits without holding a worker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitingCallView {
    pub call_id: String,
    pub tool: String,
    pub reason: WaitReason,
    /// When the wait ends by itself: the approval deadline (which denies) or the
    /// timer's due time. Absent for approvals without a deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// The call's arguments (JSON text, at most 2 KiB; longer ones are cut and
    /// marked), so a person can decide without reading the transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WaitReason {
    /// The tool policy asks a person first.
    Approval,
    /// The tool asked to finish later (`sleep`, `wait_until`).
    Timer,
    /// The call waits for sub-agents to finish their runs (`agent_wait`).
    Children,
}

/// `run/approve`: the run's calls that wait for approval run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunApproveParams {
    pub session_id: String,
    pub run_id: String,
    /// The calls to approve; empty or absent: every call that waits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_ids: Vec<String>,
    /// Approve these calls' tools for the rest of the session.
    #[serde(default)]
    pub remember: bool,
}

/// `run/deny`: the run's calls that wait for approval do not run; the model is told.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunDenyParams {
    pub session_id: String,
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub call_ids: Vec<String>,
    /// What the model is told, as each denied call's result (at most 4 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub type RunApproveResult = RunAccepted;
pub type RunDenyResult = RunAccepted;
