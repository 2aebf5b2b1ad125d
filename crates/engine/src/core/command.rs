//! Commands: what hosts ask of a session. Admission turns a valid command into events
//! and refuses an invalid one with a typed [`Rejection`], appending nothing.

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;

use crate::core::config::{ConfigError, ConfigPatch, RunOverrides, SessionConfig};
use crate::core::context::ItemSpec;
use crate::core::lineage::{ChildRunStatus, ParentLink};
use crate::core::tools::ToolSpec;
use crate::ids::{RunId, SessionId, SubmissionId, ToolCallId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreCommand {
    OpenSession {
        session_id: SessionId,
        config: SessionConfig,
        /// Becomes the keyed context item `instructions`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instructions: Option<ItemSpec>,
        /// The session spawning this one (`core::lineage`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        parent: Option<ParentLink>,
    },
    PatchConfig {
        expected_revision: u64,
        patch: ConfigPatch,
    },
    ReplaceTools {
        expected_revision: u64,
        tools: Vec<ToolSpec>,
    },
    PatchTools {
        expected_revision: u64,
        upsert: Vec<ToolSpec>,
        remove: Vec<String>,
    },
    /// Adds or replaces the keyed item `key`, keeping its position when it exists.
    UpsertContextItem {
        key: String,
        item: ItemSpec,
    },
    RemoveContextItem {
        key: String,
    },
    RequestRun {
        submission_id: SubmissionId,
        input: Vec<ItemSpec>,
        #[serde(default)]
        overrides: RunOverrides,
    },
    Steer {
        run_id: RunId,
        input: Vec<ItemSpec>,
    },
    CancelRun {
        run_id: RunId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    /// Compacts the context now; `instruction` (a text blob) tells the compactor what
    /// to keep. Encoded without it as it always was, so older commands still decode.
    RequestCompaction {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instruction: Option<BlobRef>,
    },
    Close,
    /// Decides the calls of the active run that wait for approval (`call_ids`, or
    /// all of them when empty).
    DecideApproval {
        run_id: RunId,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        call_ids: Vec<ToolCallId>,
        decision: ApprovalDecision,
    },
    /// The host's clock reached `now_ms`: settle every hold and wake-up due by then.
    /// Refused with `nothingDue` when nothing is.
    FireTimers {
        now_ms: u64,
    },
    /// Cancels a pending wake-up.
    CancelWakeUp {
        wake_up: u32,
    },
    /// Fires pending wake-up `wake_up` now rather than at its time (an event came
    /// for the session): its run's input, then `input`.
    WakeUpNow {
        wake_up: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        input: Vec<ItemSpec>,
    },
    /// Child `child`'s run `run_id` ended (delivered by the child's host). Refused
    /// with `alreadyRecorded` when this session already heard of it.
    ChildRunFinished {
        child: SessionId,
        run_id: RunId,
        status: ChildRunStatus,
    },
    /// The host delivered this session's notice of run `run_id`'s end to its parent
    /// (`delivered`), or gave up (the parent is closed or gone).
    ParentNotified {
        run_id: RunId,
        delivered: bool,
    },
    /// Holds (`paused`) or releases the session's queue: while held, requested runs
    /// queue and none starts; the active run goes on. The operator's dispatch pause
    /// of a universe is this command in each of its sessions. Accepted without an
    /// event when the queue already is so.
    SetDispatch {
        paused: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ApprovalDecision {
    Approve {
        /// Approve the calls' tools for the rest of the session.
        #[serde(default)]
        remember: bool,
    },
    /// The model gets `output_ref` (the person's message, in the CAS) as each
    /// denied call's result, or a standard refusal without one.
    Deny {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        output_ref: Option<BlobRef>,
        #[serde(default)]
        token_estimate: u64,
    },
}

/// Why a command (or an effect result) was refused. Nothing was appended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("the session is not open")]
    NotOpen,
    #[error("the session is already open")]
    AlreadyOpen,
    #[error("the session is closed")]
    Closed,
    #[error("invalid configuration: {0}")]
    InvalidConfig(#[from] ConfigError),
    #[error("expected revision {expected}, but the current revision is {actual}")]
    RevisionConflict { expected: u64, actual: u64 },
    #[error("the session has active or queued runs; this change needs an idle session")]
    SessionBusy,
    #[error("submission {submission_id} was already used for run {run_id} with different input")]
    SubmissionConflict {
        submission_id: SubmissionId,
        run_id: RunId,
    },
    #[error("run {0} is not active or queued")]
    UnknownRun(RunId),
    #[error("run {0} is not the active run")]
    RunNotActive(RunId),
    #[error("run {0} is already being cancelled")]
    AlreadyCancelling(RunId),
    #[error("{what} has {count} entries; at most {max} are allowed")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{what} must not be empty")]
    Empty { what: &'static str },
    #[error("invalid tool name {0:?}: use 1-64 of A-Z a-z 0-9 _ -")]
    InvalidToolName(String),
    #[error("no tool is named {0:?}")]
    UnknownTool(String),
    #[error("run and steer input must be transcript items, not {0:?}")]
    InvalidItemKind(crate::core::context::ItemKind),
    #[error("tool {0:?} appears more than once")]
    DuplicateTool(String),
    #[error("invalid context item key {0:?}")]
    InvalidItemKey(String),
    #[error("no context item has key {0:?}")]
    UnknownItemKey(String),
    #[error("a compaction is already pending")]
    CompactionPending,
    #[error("{0} text is too long")]
    TextTooLong(&'static str),
    #[error("no {effect} is outstanding for {detail}")]
    StaleResult {
        effect: &'static str,
        detail: String,
    },
    #[error("tool call {0} is not part of the outstanding batch")]
    UnknownToolCall(String),
    #[error("tool call id {0} appears twice in one generation")]
    DuplicateToolCall(String),
    #[error("tool call {0} already has a result")]
    DuplicateToolResult(String),
    #[error("no tool call of run {0} is waiting for approval")]
    NoApprovalPending(RunId),
    #[error("nothing is due")]
    NothingDue,
    #[error("no wake-up {0} is pending")]
    UnknownWakeUp(u32),
    #[error("session {0} is not a child of this session")]
    UnknownChild(SessionId),
    #[error("{0} was already recorded")]
    AlreadyRecorded(String),
    #[error("the transcripts do not answer the run's audio input: {0}")]
    TranscriptMismatch(String),
}

/// The stable, machine-readable kind of a [`Rejection`]: its variant without the
/// details. Serialises as the variant name in lowerCamelCase (`revisionConflict`,
/// `notOpen`, ...); those strings are on the wire and in workflow histories, so a
/// variant's spelling never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RejectionCode {
    NotOpen,
    AlreadyOpen,
    Closed,
    InvalidConfig,
    RevisionConflict,
    SessionBusy,
    SubmissionConflict,
    UnknownRun,
    RunNotActive,
    AlreadyCancelling,
    TooMany,
    Empty,
    InvalidToolName,
    UnknownTool,
    InvalidItemKind,
    DuplicateTool,
    InvalidItemKey,
    UnknownItemKey,
    CompactionPending,
    TextTooLong,
    StaleResult,
    UnknownToolCall,
    DuplicateToolCall,
    DuplicateToolResult,
    NoApprovalPending,
    NothingDue,
    UnknownWakeUp,
    UnknownChild,
    AlreadyRecorded,
    TranscriptMismatch,
}

impl RejectionCode {
    /// Every code, in declaration order (for exhaustive tables and their tests).
    pub const ALL: [RejectionCode; 30] = [
        RejectionCode::NotOpen,
        RejectionCode::AlreadyOpen,
        RejectionCode::Closed,
        RejectionCode::InvalidConfig,
        RejectionCode::RevisionConflict,
        RejectionCode::SessionBusy,
        RejectionCode::SubmissionConflict,
        RejectionCode::UnknownRun,
        RejectionCode::RunNotActive,
        RejectionCode::AlreadyCancelling,
        RejectionCode::TooMany,
        RejectionCode::Empty,
        RejectionCode::InvalidToolName,
        RejectionCode::UnknownTool,
        RejectionCode::InvalidItemKind,
        RejectionCode::DuplicateTool,
        RejectionCode::InvalidItemKey,
        RejectionCode::UnknownItemKey,
        RejectionCode::CompactionPending,
        RejectionCode::TextTooLong,
        RejectionCode::StaleResult,
        RejectionCode::UnknownToolCall,
        RejectionCode::DuplicateToolCall,
        RejectionCode::DuplicateToolResult,
        RejectionCode::NoApprovalPending,
        RejectionCode::NothingDue,
        RejectionCode::UnknownWakeUp,
        RejectionCode::UnknownChild,
        RejectionCode::AlreadyRecorded,
        RejectionCode::TranscriptMismatch,
    ];

    /// The wire spelling, identical to the serde form.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionCode::NotOpen => "notOpen",
            RejectionCode::AlreadyOpen => "alreadyOpen",
            RejectionCode::Closed => "closed",
            RejectionCode::InvalidConfig => "invalidConfig",
            RejectionCode::RevisionConflict => "revisionConflict",
            RejectionCode::SessionBusy => "sessionBusy",
            RejectionCode::SubmissionConflict => "submissionConflict",
            RejectionCode::UnknownRun => "unknownRun",
            RejectionCode::RunNotActive => "runNotActive",
            RejectionCode::AlreadyCancelling => "alreadyCancelling",
            RejectionCode::TooMany => "tooMany",
            RejectionCode::Empty => "empty",
            RejectionCode::InvalidToolName => "invalidToolName",
            RejectionCode::UnknownTool => "unknownTool",
            RejectionCode::InvalidItemKind => "invalidItemKind",
            RejectionCode::DuplicateTool => "duplicateTool",
            RejectionCode::InvalidItemKey => "invalidItemKey",
            RejectionCode::UnknownItemKey => "unknownItemKey",
            RejectionCode::CompactionPending => "compactionPending",
            RejectionCode::TextTooLong => "textTooLong",
            RejectionCode::StaleResult => "staleResult",
            RejectionCode::UnknownToolCall => "unknownToolCall",
            RejectionCode::DuplicateToolCall => "duplicateToolCall",
            RejectionCode::DuplicateToolResult => "duplicateToolResult",
            RejectionCode::NoApprovalPending => "noApprovalPending",
            RejectionCode::NothingDue => "nothingDue",
            RejectionCode::UnknownWakeUp => "unknownWakeUp",
            RejectionCode::UnknownChild => "unknownChild",
            RejectionCode::AlreadyRecorded => "alreadyRecorded",
            RejectionCode::TranscriptMismatch => "transcriptMismatch",
        }
    }
}

impl std::fmt::Display for RejectionCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Rejection {
    /// For a revision conflict, the revision the session is at (clients retry from it).
    pub fn current_revision(&self) -> Option<u64> {
        if let Rejection::RevisionConflict { actual, .. } = self {
            Some(*actual)
        } else {
            None
        }
    }

    /// The rejection's stable code. Exhaustive on purpose: a new variant needs a code
    /// before the engine compiles.
    pub fn code(&self) -> RejectionCode {
        match self {
            Rejection::NotOpen => RejectionCode::NotOpen,
            Rejection::AlreadyOpen => RejectionCode::AlreadyOpen,
            Rejection::Closed => RejectionCode::Closed,
            Rejection::InvalidConfig(_) => RejectionCode::InvalidConfig,
            Rejection::RevisionConflict { .. } => RejectionCode::RevisionConflict,
            Rejection::SessionBusy => RejectionCode::SessionBusy,
            Rejection::SubmissionConflict { .. } => RejectionCode::SubmissionConflict,
            Rejection::UnknownRun(_) => RejectionCode::UnknownRun,
            Rejection::RunNotActive(_) => RejectionCode::RunNotActive,
            Rejection::AlreadyCancelling(_) => RejectionCode::AlreadyCancelling,
            Rejection::TooMany { .. } => RejectionCode::TooMany,
            Rejection::Empty { .. } => RejectionCode::Empty,
            Rejection::InvalidToolName(_) => RejectionCode::InvalidToolName,
            Rejection::UnknownTool(_) => RejectionCode::UnknownTool,
            Rejection::InvalidItemKind(_) => RejectionCode::InvalidItemKind,
            Rejection::DuplicateTool(_) => RejectionCode::DuplicateTool,
            Rejection::InvalidItemKey(_) => RejectionCode::InvalidItemKey,
            Rejection::UnknownItemKey(_) => RejectionCode::UnknownItemKey,
            Rejection::CompactionPending => RejectionCode::CompactionPending,
            Rejection::TextTooLong(_) => RejectionCode::TextTooLong,
            Rejection::StaleResult { .. } => RejectionCode::StaleResult,
            Rejection::UnknownToolCall(_) => RejectionCode::UnknownToolCall,
            Rejection::DuplicateToolCall(_) => RejectionCode::DuplicateToolCall,
            Rejection::DuplicateToolResult(_) => RejectionCode::DuplicateToolResult,
            Rejection::NoApprovalPending(_) => RejectionCode::NoApprovalPending,
            Rejection::NothingDue => RejectionCode::NothingDue,
            Rejection::UnknownWakeUp(_) => RejectionCode::UnknownWakeUp,
            Rejection::UnknownChild(_) => RejectionCode::UnknownChild,
            Rejection::AlreadyRecorded(_) => RejectionCode::AlreadyRecorded,
            Rejection::TranscriptMismatch(_) => RejectionCode::TranscriptMismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialise_as_their_wire_spelling() {
        for code in RejectionCode::ALL {
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            let back: RejectionCode = serde_json::from_str(&json).unwrap();
            assert_eq!(back, code);
        }
        assert_eq!(RejectionCode::RevisionConflict.as_str(), "revisionConflict");
        assert_eq!(RejectionCode::NotOpen.as_str(), "notOpen");
    }

    #[test]
    fn a_rejection_has_the_code_of_its_variant() {
        let rejection = Rejection::TooMany {
            what: "tool calls",
            count: 129,
            max: 128,
        };
        assert_eq!(rejection.code(), RejectionCode::TooMany);
        assert_eq!(Rejection::NotOpen.code(), RejectionCode::NotOpen);
    }
}
