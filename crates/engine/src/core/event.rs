//! CoreAgent events: the only things that change session state.
//!
//! Every event has a stable dotted `kind` and a schema `version`. The table at the
//! bottom is the single place that maps kinds to payload types; decoding refuses
//! unknown kinds and versions newer than this build understands, so a log written by a
//! newer engine is never silently misread.

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::core::config::SessionConfig;
use crate::core::context::{ContextItem, ItemSpec};
pub use crate::core::fork::SessionForked;
use crate::core::lineage::{ChildRunStatus, ChildWait, ParentLink};
use crate::core::request::Fingerprint;
use crate::core::run::{
    EffectError, FinishReason, QueuedRun, RunOutcome, ToolCallRequest, ToolStatus, Usage,
};
use crate::core::tools::ToolSpec;
use crate::ids::{RunId, SessionId, ToolCallId};
use crate::log::EventEnvelope;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionOpened {
    pub session_id: SessionId,
    pub config: SessionConfig,
    /// The session that spawned this one (`core::lineage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChanged {
    pub revision: u64,
    pub config: SessionConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClosed {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolsChanged {
    pub revision: u64,
    /// The complete tool list after the change, sorted by name.
    pub tools: Vec<ToolSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextItemUpserted {
    pub item: ContextItem,
}

/// The session's queue was held (`paused`) or released (`core::command::SetDispatch`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DispatchChanged {
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextItemRemoved {
    pub key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompactionReason {
    Requested,
    HighWatermark,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRequested {
    pub compaction: u32,
    pub reason: CompactionReason,
    /// What the requester asked the compactor to keep (a text blob).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<BlobRef>,
}

/// Replaces every unkeyed item with `summary`; keyed items stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextCompacted {
    pub compaction: u32,
    pub summary: Vec<ContextItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionFailed {
    pub compaction: u32,
    pub error: EffectError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRequested {
    pub run: QueuedRun,
    /// SHA-256 (hex) of the canonical input and overrides, for idempotency checks.
    pub input_digest: String,
}

/// The voice notes of queued run `run_id`'s input were transcribed
/// (`core::transcription`): each audio item is replaced by its transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunInputTranscribed {
    pub run_id: RunId,
    pub transcripts: Vec<TranscribedInput>,
}

/// The transcript taking the place of the audio item at `index` of a run's input;
/// its `source_ref` is the audio.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscribedInput {
    pub index: u32,
    pub item: ItemSpec,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunStarted {
    pub run_id: RunId,
    /// The run's input, now in the context as transcript items.
    pub input: Vec<ContextItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSteered {
    pub run_id: RunId,
    pub input: Vec<ItemSpec>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SteerApplied {
    pub run_id: RunId,
    pub items: Vec<ContextItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunCancelRequested {
    pub run_id: RunId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunFinished {
    pub run_id: RunId,
    pub outcome: RunOutcome,
    pub usage: Usage,
    /// Generations the run made (absent in events written before it was recorded).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub turns: u32,
}

/// A generation was planned. The request itself is not stored: it is rebuilt from
/// state at this entry and checked against `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnPlanned {
    pub run_id: RunId,
    pub turn: u32,
    pub fingerprint: Fingerprint,
    pub config_revision: u64,
    pub tools_revision: u64,
    pub context_revision: u64,
    /// Output cap of this generation: the turn cap, clipped to what the run has left.
    pub output_tokens_max: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnCompleted {
    pub run_id: RunId,
    pub turn: u32,
    pub usage: Usage,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_id: Option<String>,
    /// Output items (provider-native, by ref), appended to the transcript.
    pub items: Vec<ContextItem>,
    /// Calls to run before the next turn; empty means the model answered.
    pub tool_calls: Vec<ToolCallRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finish_reason: Option<FinishReason>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_tokens: Option<u64>,
    /// The native request as sent, in the CAS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_ref: Option<crate::blob_ref::BlobRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnFailed {
    pub run_id: RunId,
    pub turn: u32,
    pub error: EffectError,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TurnAborted {
    pub run_id: RunId,
    pub turn: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolResultRecorded {
    pub run_id: RunId,
    pub batch: u32,
    pub call_id: ToolCallId,
    pub status: ToolStatus,
    /// The result as a transcript item (kind `tool_result`).
    pub item: ContextItem,
    /// The call's tool name and arguments, so readers of this event need no other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments_ref: Option<crate::blob_ref::BlobRef>,
}

/// Calls of one batch that wait for a person's decision (the tool policy said
/// `ask`). Recorded right after the turn that requested them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalRequested {
    pub run_id: RunId,
    pub batch: u32,
    pub calls: Vec<ToolCallId>,
    /// The policy's deadline: the calls are denied this long after this entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
}

/// Who decided an approval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    Person,
    /// The deadline passed without a decision.
    Deadline,
}

/// Approved calls run; denied ones get their result in the `tool.result_recorded`
/// events that follow in the same append.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalDecided {
    pub run_id: RunId,
    pub batch: u32,
    pub calls: Vec<ToolCallId>,
    pub approved: bool,
    /// The calls' tools need no approval for the rest of the session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remember: bool,
    pub by: DecidedBy,
}

/// A call's tool ran and asked for its result to be recorded at `until_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolCallDeferred {
    pub run_id: RunId,
    pub batch: u32,
    pub call_id: ToolCallId,
    pub until_ms: u64,
    pub status: ToolStatus,
    pub output_ref: BlobRef,
    pub token_estimate: u64,
}

/// The session will request a run at `at_ms` with `input` (`wake_me_at`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeUpScheduled {
    pub wake_up: u32,
    pub at_ms: u64,
    pub input: Vec<ItemSpec>,
    /// The run that asked; it ends at its next step boundary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
}

/// A wake-up came due (its run request follows) or was cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WakeUpEnded {
    pub wake_up: u32,
    pub outcome: WakeUpOutcome,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WakeUpOutcome {
    /// Its run was requested.
    Fired,
    /// Due, but the run queue was full: no run.
    Dropped,
    Cancelled,
}

/// A tool call of run `run_id` started `child_run` on child session `child`
/// (`agent_spawn` when `spawned`, else `agent_send`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRunStarted {
    pub run_id: RunId,
    pub call_id: ToolCallId,
    pub child: SessionId,
    pub child_run: RunId,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub spawned: bool,
    /// A spawned child's share of this session's cost budget (`core::lineage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_nanos: Option<u64>,
}

/// Child `child` told this session that its run `child_run` ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildRunFinished {
    pub child: SessionId,
    pub child_run: RunId,
    pub status: ChildRunStatus,
}

/// A call waits, without an activity, for child runs to end (`agent_wait`): all of
/// `waits`, or any one when `any`; until `until_ms` at the latest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolAwaitingChildren {
    pub run_id: RunId,
    pub batch: u32,
    pub call_id: ToolCallId,
    pub waits: Vec<ChildWait>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub any: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_ms: Option<u64>,
}

/// The host told the parent that run `run_id` ended (`delivered`), or found the
/// parent gone and gave up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentNotified {
    pub run_id: RunId,
    pub delivered: bool,
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

/// Why an envelope could not be turned into a [`CoreEvent`].
#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown event kind {kind:?}")]
    UnknownKind { kind: String },
    #[error(
        "event {kind:?} has version {version}; this engine reads versions 1 to {supported}. \
         Upgrade the engine before replaying this log"
    )]
    UnsupportedVersion {
        kind: String,
        version: u32,
        supported: u32,
    },
    #[error("event {kind:?} v{version} has an invalid payload: {source}")]
    InvalidPayload {
        kind: String,
        version: u32,
        #[source]
        source: serde_json::Error,
    },
}

macro_rules! core_events {
    ($($variant:ident => $kind:literal v $version:literal;)+) => {
        /// Every event the CoreAgent domain records.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum CoreEvent {
            $($variant($variant),)+
        }

        $(impl From<$variant> for CoreEvent {
            fn from(payload: $variant) -> Self {
                Self::$variant(payload)
            }
        })+

        $(impl $variant {
            /// The kind this event is recorded under.
            pub const KIND: &'static str = $kind;
        })+

        /// Every event kind with the newest version this engine writes.
        pub const EVENT_KINDS: &[(&str, u32)] = &[$(($kind, $version),)+];

        impl CoreEvent {
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Self::$variant(_) => $kind,)+
                }
            }

            pub fn encode(&self) -> EventEnvelope {
                let (version, payload) = match self {
                    $(Self::$variant(payload) => ($version, serde_json::to_value(payload)),)+
                };
                let payload = payload.unwrap_or_else(|err| {
                    panic!("event payloads are plain data and always encode: {err}")
                });
                EventEnvelope { kind: self.kind().to_owned(), version, payload }
            }

            pub fn decode(envelope: &EventEnvelope) -> Result<Self, EventDecodeError> {
                match envelope.kind.as_str() {
                    $($kind => {
                        check_version($kind, envelope.version, $version)?;
                        $variant::deserialize(&envelope.payload)
                            .map(Self::$variant)
                            .map_err(|source| EventDecodeError::InvalidPayload {
                                kind: envelope.kind.clone(),
                                version: envelope.version,
                                source,
                            })
                    })+
                    _ => Err(EventDecodeError::UnknownKind { kind: envelope.kind.clone() }),
                }
            }
        }
    };
}

/// How recording an event of `kind` changes its session's runs in flight (requested
/// and not yet finished, queued or active): `+1` for a run request, `-1` for a run's
/// end, `0` otherwise. Every requested run ends exactly once (completed, failed or
/// cancelled, from the queue or while active, closing the session included), so the
/// sum over a log is the session's runs in flight. Stores keep per-universe counts by
/// event kind alone with it, without decoding payloads or replaying sessions.
pub fn runs_in_flight_delta(kind: &str) -> i64 {
    match kind {
        RunRequested::KIND => 1,
        RunFinished::KIND => -1,
        _ => 0,
    }
}

/// How recording an event of `kind` changes its session's pending wake-ups
/// (`wake_me_at` runs the session will request by itself): `+1` when one is
/// scheduled, `-1` when one ends (fired, dropped or cancelled), `0` otherwise. A
/// closed session fires none of its wake-ups, so stores count none pending past a
/// close ([`WakeUpsMove`]). With the count they find the sessions an operator's
/// pause must reach although nothing is in flight in them.
pub fn wake_ups_pending_delta(kind: &str) -> i64 {
    match kind {
        WakeUpScheduled::KIND => 1,
        WakeUpEnded::KIND => -1,
        _ => 0,
    }
}

/// How a batch of entries moves its session's pending wake-ups, by event kind
/// alone: a close starts the count again from zero, then each kind moves it by
/// [`wake_ups_pending_delta`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WakeUpsMove {
    /// The batch closes the session: what was pending before can no longer fire.
    pub reset: bool,
    /// The move after the batch's close, if any.
    pub delta: i64,
}

impl WakeUpsMove {
    /// Adds an entry of `kind` to the batch.
    pub fn record(&mut self, kind: &str) {
        if kind == SessionClosed::KIND {
            *self = Self {
                reset: true,
                delta: 0,
            };
        } else {
            self.delta += wake_ups_pending_delta(kind);
        }
    }

    /// The count after the batch, given the count `before` it.
    pub fn apply(self, before: i64) -> i64 {
        (if self.reset { 0 } else { before } + self.delta).max(0)
    }
}

fn check_version(kind: &str, version: u32, supported: u32) -> Result<(), EventDecodeError> {
    if version == 0 || version > supported {
        return Err(EventDecodeError::UnsupportedVersion {
            kind: kind.to_owned(),
            version,
            supported,
        });
    }
    Ok(())
}

core_events! {
    SessionOpened => "lightspeed.core.session.opened" v 1;
    ConfigChanged => "lightspeed.core.session.config_changed" v 1;
    SessionClosed => "lightspeed.core.session.closed" v 1;
    ToolsChanged => "lightspeed.core.tools.changed" v 1;
    ContextItemUpserted => "lightspeed.core.context.item_upserted" v 1;
    ContextItemRemoved => "lightspeed.core.context.item_removed" v 1;
    CompactionRequested => "lightspeed.core.context.compaction_requested" v 1;
    ContextCompacted => "lightspeed.core.context.compacted" v 1;
    CompactionFailed => "lightspeed.core.context.compaction_failed" v 1;
    RunRequested => "lightspeed.core.run.requested" v 1;
    RunInputTranscribed => "lightspeed.core.run.input_transcribed" v 1;
    RunStarted => "lightspeed.core.run.started" v 1;
    RunSteered => "lightspeed.core.run.steered" v 1;
    SteerApplied => "lightspeed.core.run.steer_applied" v 1;
    RunCancelRequested => "lightspeed.core.run.cancel_requested" v 1;
    RunFinished => "lightspeed.core.run.finished" v 1;
    TurnPlanned => "lightspeed.core.turn.planned" v 1;
    TurnCompleted => "lightspeed.core.turn.completed" v 1;
    TurnFailed => "lightspeed.core.turn.failed" v 1;
    TurnAborted => "lightspeed.core.turn.aborted" v 1;
    ToolResultRecorded => "lightspeed.core.tool.result_recorded" v 1;
    ApprovalRequested => "lightspeed.core.tool.approval_requested" v 1;
    ApprovalDecided => "lightspeed.core.tool.approval_decided" v 1;
    ToolCallDeferred => "lightspeed.core.tool.deferred" v 1;
    WakeUpScheduled => "lightspeed.core.session.wake_up_scheduled" v 1;
    WakeUpEnded => "lightspeed.core.session.wake_up_ended" v 1;
    SessionForked => "lightspeed.core.session.forked" v 1;
    ChildRunStarted => "lightspeed.core.child.run_started" v 1;
    ChildRunFinished => "lightspeed.core.child.run_finished" v 1;
    ToolAwaitingChildren => "lightspeed.core.tool.awaiting_children" v 1;
    ParentNotified => "lightspeed.core.session.parent_notified" v 1;
    DispatchChanged => "lightspeed.core.session.dispatch_changed" v 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newer_versions_and_unknown_kinds_are_refused() {
        let mut envelope = CoreEvent::from(SessionClosed {}).encode();
        assert!(CoreEvent::decode(&envelope).is_ok());
        envelope.version = 2;
        assert!(matches!(
            CoreEvent::decode(&envelope),
            Err(EventDecodeError::UnsupportedVersion {
                version: 2,
                supported: 1,
                ..
            })
        ));
        envelope.version = 1;
        envelope.kind = "lightspeed.core.session.reopened".into();
        assert!(matches!(
            CoreEvent::decode(&envelope),
            Err(EventDecodeError::UnknownKind { .. })
        ));
    }

    #[test]
    fn kinds_are_unique_and_namespaced() {
        let mut kinds: Vec<_> = EVENT_KINDS.iter().map(|(kind, _)| *kind).collect();
        assert!(
            kinds
                .iter()
                .all(|kind| kind.starts_with("lightspeed.core."))
        );
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), EVENT_KINDS.len());
    }
}
