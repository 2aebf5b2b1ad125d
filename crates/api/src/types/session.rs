use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::run::{RunLimitsInput, RunView};

/// Which provider, API kind and model serve the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelRouteInput {
    /// Deployment-config key of the provider, e.g. `openai`.
    pub provider_id: String,
    /// `openai:responses`, `openai:completions` or `anthropic:messages`.
    pub api_kind: String,
    pub model: String,
}

/// Session instructions: inline text or a text blob already in the CAS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum InstructionsInput {
    Text {
        text: String,
    },
    #[serde(rename_all = "camelCase")]
    BlobRef {
        blob_ref: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ReasoningEffort {
    Minimal,
    Low,
    Medium,
    High,
}

/// How the model may use tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum ToolChoiceInput {
    Auto,
    None,
    Required,
    Tool { name: String },
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GenerationInput {
    /// Output-token cap of one generation. Default 8,192.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoiceInput>,
    /// Provider-specific params, validated against the API kind's schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_params: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum CompactionPolicy {
    /// Compact at the high-watermark and on request (default).
    Auto,
    /// Compact only on request.
    Manual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContextInput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<CompactionPolicy>,
    /// Estimated tokens at which automatic compaction starts. Default 150,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction_threshold_tokens: Option<u64>,
}

/// File tools the agent gets over the session's mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FilesystemMode {
    #[default]
    None,
    ReadOnly,
    Edit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolsInput {
    #[serde(default)]
    pub filesystem: FilesystemMode,
    /// The durable time tools: `sleep`, `wait_until` and `wake_me_at`. They wait on
    /// a workflow timer, holding no worker while they wait. Default false.
    #[serde(default)]
    pub timers: bool,
    /// Registers the schedule tools (`schedule_create`, `schedule_list`,
    /// `schedule_pause`, `schedule_delete`): the agent schedules runs of its own
    /// session, within the universe's cap on schedules.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub schedules: bool,
    /// Registers the sub-agent tools (`agent_spawn`, `agent_send`, `agent_wait`,
    /// `agent_read`, `agent_cancel`, `agent_list`): the agent starts sessions of its
    /// own and waits for them without holding a worker. Default false.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agents: bool,
}

/// What happens to a call of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ToolDecisionInput {
    /// The call runs.
    #[default]
    Allow,
    /// The call waits for `run/approve` or `run/deny` (or the approval deadline).
    Ask,
    /// The call is refused; the model is told so.
    Deny,
}

/// One rule of a tool policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolRuleInput {
    /// A tool name, or a pattern where `*` stands for any run of characters
    /// (`github__*`, `*_file`). 1-128 of A-Z a-z 0-9 _ - *.
    pub tools: String,
    pub decision: ToolDecisionInput,
}

/// Which tool calls run, wait for a person, or are refused. Rules are checked in
/// order and the first match decides; tools no rule matches get their class's
/// default; everything unset allows. A call waiting for approval puts its run in
/// `awaitingApproval` until `run/approve`, `run/deny` or the deadline (which denies).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolPolicyInput {
    /// At most 64.
    #[serde(default)]
    pub rules: Vec<ToolRuleInput>,
    /// File tools that change files (`write_file`, `edit_file`, `apply_patch`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_writes: Option<ToolDecisionInput>,
    /// Commands on attached environments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shell: Option<ToolDecisionInput>,
    /// Tools of linked MCP servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp: Option<ToolDecisionInput>,
    /// Every other tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other: Option<ToolDecisionInput>,
    /// How long a call waits for a decision before it is denied (1 s to 30 days);
    /// unset: it waits until someone decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval_timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionConfigInput {
    pub model: ModelRouteInput,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<InstructionsInput>,
    #[serde(default)]
    pub generation: GenerationInput,
    #[serde(default)]
    pub context: ContextInput,
    #[serde(default)]
    pub run_defaults: RunLimitsInput,
    #[serde(default)]
    pub tools: ToolsInput,
    /// Default: allow every tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_policy: Option<ToolPolicyInput>,
    /// What the session may spend over all its runs. Default: no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<SessionBudget>,
}

/// A session's budget over all its runs (and its view in `config.budget`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionBudget {
    /// What every generation of the session may cost together, in USD (0 to
    /// 1,000,000; precision 10^-9). Absent: no cost budget. Checked before each
    /// generation: a run that would start one while the session's recorded cost
    /// has reached it fails with `limitExceeded` / `sessionCost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionStartParams {
    /// Client-chosen id; starting an existing id with the same config returns it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    pub config: SessionConfigInput,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionRef {
    pub session_id: String,
}

pub type SessionReadParams = SessionRef;
pub type SessionCloseParams = SessionRef;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionDeleteParams {
    pub session_id: String,
    /// Delete even while runs are active or queued: they stop where they are, with
    /// the session. Without it such a session is refused (`sessionBusy`). Default
    /// false.
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionDeleteResult {
    pub session_id: String,
    /// Events removed from the session's log.
    pub deleted_events: u64,
    /// Runs that were active or queued when a forced delete stopped them.
    pub stopped_runs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SessionStatus {
    Idle,
    Running,
    Closed,
}

/// Tokens as the provider reported them, and what they cost.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsageView {
    /// Every input token, cached ones included.
    pub input_tokens: u64,
    /// Every output token, reasoning included.
    pub output_tokens: u64,
    pub cached_input_tokens: u64,
    pub reasoning_tokens: u64,
    /// In USD, at the deployment's prices when each generation completed (recorded
    /// then, never recomputed). Compaction's own generations are not counted.
    pub cost_usd: f64,
    /// False when a generation's model had no price: `costUsd` then counts only
    /// the priced ones, so it is a lower bound.
    pub cost_complete: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionConfigView {
    pub model: ModelRouteInput,
    pub max_output_tokens: u32,
    pub tool_choice: ToolChoiceInput,
    pub provider_params: serde_json::Map<String, serde_json::Value>,
    pub compaction: CompactionPolicy,
    pub compaction_threshold_tokens: u64,
    pub run_defaults: RunLimitsView,
    pub filesystem: FilesystemMode,
    /// Whether the session has the durable time tools.
    pub timers: bool,
    /// Whether the session has the sub-agent tools.
    #[serde(default)]
    pub agents: bool,
    pub tool_policy: ToolPolicyInput,
    pub budget: SessionBudget,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunLimitsView {
    pub max_turns: u32,
    pub max_tool_rounds: u32,
    pub max_output_tokens: u64,
    /// Absent: no cost budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cost_usd: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionView {
    pub session_id: String,
    pub status: SessionStatus,
    /// Revision of the config; `session/update` must name it.
    pub revision: u64,
    pub config: SessionConfigView,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_run: Option<RunView>,
    pub queued_run_ids: Vec<String>,
    /// Runs the session will request by itself (`wake_me_at`), soonest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wake_ups: Vec<super::events::WakeUpView>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_run: Option<RunView>,
    pub usage: UsageView,
    pub context_tokens_estimate: u64,
    /// Cursor of the newest event; `session/events/read` continues after it.
    pub event_cursor: u64,
    pub updated_at_ms: u64,
    /// For a fork: the session and event cursor it started from. Its history up to
    /// there is the source's (`session/events/read` on the source, up to `cursor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkedFromView>,
    /// For a sub-agent: the session that spawned it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentView>,
    /// Sub-agents this session spawned, in spawn order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildView>,
    /// The operator paused its universe's dispatch: queued runs wait (present only
    /// when true).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dispatch_paused: bool,
}

/// The session that spawned a sub-agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParentView {
    pub session_id: String,
    /// How deep below its root the sub-agent is (a root's child is 1).
    pub depth: u32,
}

/// A sub-agent as its parent knows it (from its own log: what it started and the
/// run ends it heard of).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChildView {
    pub session_id: String,
    /// The parent's call that spawned it.
    pub spawned_by_call_id: String,
    /// The child's latest run the parent started (`run_N`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_started_run_id: Option<String>,
    /// The child's latest run whose end the parent heard of, and how it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_finished_run_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<super::events::ChildRunStatus>,
    /// A run the parent started has not reported its end yet.
    pub busy: bool,
    /// The share of the parent's cost budget the child was given as its own (the
    /// tree budget): counted as spent by the parent from the spawn on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_usd: Option<f64>,
}

/// Where a fork started: its source session and the source's event cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForkedFromView {
    pub session_id: String,
    /// The last source event the fork shares. Asked to fork while a run was
    /// active there, the event just before that run started.
    pub cursor: u64,
}

/// `session/fork`: a new session that starts from another's state at an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionForkParams {
    /// The session to fork.
    pub session_id: String,
    /// Fork at this event cursor (default: the newest event). If a run is active
    /// at the cursor, the fork starts just before that run started (the last point
    /// between runs); `forkedFrom.cursor` says where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<u64>,
    /// Client-chosen id of the new session (default: a fresh one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_session_id: Option<String>,
}

pub type SessionForkResult = SessionView;

/// `session/wake-ups/cancel`: a wake-up the session's agent scheduled (`wake_me_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionWakeUpCancelParams {
    pub session_id: String,
    /// Its number, as `wakeUps[].wakeUp` in `session/read` shows it.
    pub wake_up: u32,
}

pub type SessionStartResult = SessionView;
pub type SessionReadResult = SessionView;
pub type SessionCloseResult = SessionView;
pub type SessionUpdateResult = SessionView;

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionListParams {
    /// From a previous page's `nextCursor` (opaque: the position after that page's
    /// last row, not an offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// 1 to 200; default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSummary {
    pub session_id: String,
    pub status: SessionStatus,
    pub model: String,
    /// The session's last activity, which the list is ordered by.
    pub updated_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionListResult {
    pub sessions: Vec<SessionSummary>,
    /// Present when more sessions follow; pass it as the next call's `cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Changes to an idle session's config; unset fields stay.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRouteInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<GenerationInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_defaults: Option<RunLimitsInput>,
    /// Replaces the whole tool policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_policy: Option<ToolPolicyInput>,
    /// Replaces the whole budget: `{}` removes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<SessionBudget>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionUpdateParams {
    pub session_id: String,
    pub expected_revision: u64,
    pub patch: SessionPatch,
}
