use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::items::ItemView;
use super::run::RunView;

/// One committed session event, projected for clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    /// Position in the session log; strictly increasing.
    pub cursor: u64,
    /// The event kind, e.g. `lightspeed.core.run.finished`.
    pub kind: String,
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// The run's state after this event, for run lifecycle events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<RunView>,
    /// Items this event added or completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemView>,
    /// Why the generation of a `turn.completed` event stopped, as its provider said:
    /// `maxTokens` means the answer was cut short at the output limit, `contentFilter`
    /// that the provider withheld the rest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    /// For a `turn.completed` event: the context the provider measured for that
    /// generation's request, in tokens, when it reports one (what a context meter
    /// shows against the model's window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
    /// For approval and timer events (`tool.approval_requested`,
    /// `tool.approval_decided`, `tool.deferred`): which calls, and what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold: Option<HoldView>,
    /// For `session.wake_up_scheduled` and `session.wake_up_ended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wake_up: Option<WakeUpView>,
    /// For sub-agent events (`child.run_started`, `child.run_finished`,
    /// `session.parent_notified`): which session and run, and what happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<LinkView>,
}

/// A sub-agent event: a parent started a run on its child (spawning it, the first
/// time), heard that a child's run ended, or (on the child) told its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkView {
    pub state: LinkState,
    /// The child session (`spawned`, `runStarted`, `runFinished`); absent on the
    /// child's own `parentNotified` (its parent is in `session/read`'s `parent`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The child's run (on a parent's events) or this session's run (`parentNotified`).
    pub run_id: String,
    /// How the run ended (`runFinished`, `parentNotified`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChildRunStatus>,
    /// The parent heard of it (`parentNotified`; false when the parent was gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivered: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum LinkState {
    /// A call spawned the child and started its first run.
    Spawned,
    /// A call started another run on the child (`agent_send`).
    RunStarted,
    /// The child's run ended.
    RunFinished,
    /// This session told its parent that its run ended.
    ParentNotified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ChildRunStatus {
    Completed,
    Failed,
    Cancelled,
}

/// Calls that wait (for a person or a time) and what became of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HoldView {
    pub call_ids: Vec<String>,
    pub state: HoldState,
    /// Approval requested: the deadline (absent: none). Deferred: when the result
    /// is recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
    /// Approved for the rest of the session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remember: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum HoldState {
    /// The calls wait for `run/approve` or `run/deny`.
    AwaitingApproval,
    Approved,
    /// Denied by a person.
    Denied,
    /// Denied because the approval deadline passed.
    Expired,
    /// The tool finishes at `untilMs` (`sleep`, `wait_until`).
    Deferred,
    /// The call waits for sub-agents' runs to end (`agent_wait`); at `untilMs` it
    /// stops waiting.
    AwaitingChildren,
}

/// A run the session requests by itself (`wake_me_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WakeUpView {
    pub wake_up: u32,
    pub state: WakeUpState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum WakeUpState {
    Scheduled,
    /// Its run was requested.
    Fired,
    /// Due while the run queue was full: no run.
    Dropped,
    Cancelled,
}

/// Why a generation stopped, normalised across providers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FinishReason {
    /// The model ended its answer.
    Stop,
    /// The model asked for tool calls.
    ToolCalls,
    /// The output limit cut the answer short (OpenAI `length` or an `incomplete`
    /// response, Anthropic `max_tokens`).
    MaxTokens,
    /// The provider's filter withheld the rest.
    ContentFilter,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionEventsReadParams {
    pub session_id: String,
    /// Return events after this cursor; 0 reads from the start.
    #[serde(default)]
    pub cursor: u64,
    /// 1 to 500; default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    /// When nothing is newer than `cursor`, wait up to this long (max 30,000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEventsReadResult {
    pub events: Vec<EventView>,
    /// Pass as `cursor` to continue.
    pub next_cursor: u64,
    /// Cursor of the newest event at the time of reading.
    pub head_cursor: u64,
}

/// Subscribe to a session over WebSocket: committed events from `cursor` on, then
/// live, interleaved with deltas of the running turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionSubscribeParams {
    pub session_id: String,
    #[serde(default)]
    pub cursor: u64,
    /// Also send live text/reasoning deltas. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deltas: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DeltaKind {
    Text,
    Reasoning,
    ToolArguments,
    /// Progress of a running tool call, one line such as
    /// `everything__long: 3/5 Step 3` (whole, not appended; `turn` is the tool batch).
    ToolProgress,
    /// Output a running tool call printed (a shell command's stdout and stderr, in
    /// order), appended to what came before; `callId` names the call and `turn` is
    /// the tool batch. The committed tool result replaces it.
    ToolOutput,
    /// The generation of `turn` failed midway and is being tried again: discard the
    /// text, reasoning and tool arguments streamed for that turn (`text` is empty).
    /// Committed items stay authoritative either way.
    Retry,
}

/// Live output of the running turn. Not persisted: the committed event that follows
/// carries the final item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeltaView {
    pub run_id: String,
    pub turn: u32,
    pub output_index: u32,
    pub kind: DeltaKind,
    pub text: String,
    /// The tool call a `toolOutput` delta belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
}

/// What a `session/subscribe` subscription sends, as `session/notification`.
// Each notification is built once and serialized at once; boxing the event would
// cost an allocation per event for no memory held anywhere.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum SessionNotification {
    #[serde(rename_all = "camelCase")]
    Event {
        session_id: String,
        event: EventView,
    },
    #[serde(rename_all = "camelCase")]
    Delta {
        session_id: String,
        delta: DeltaView,
    },
}
