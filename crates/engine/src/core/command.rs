//! Commands: what hosts ask of a session. Admission turns a valid command into events
//! and refuses an invalid one with a typed [`Rejection`], appending nothing.

use serde::{Deserialize, Serialize};

use crate::core::config::{ConfigError, ConfigPatch, RunOverrides, SessionConfig};
use crate::core::context::ItemSpec;
use crate::core::tools::ToolSpec;
use crate::ids::{RunId, SessionId, SubmissionId};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CoreCommand {
    OpenSession {
        session_id: SessionId,
        config: SessionConfig,
        /// Becomes the keyed context item `instructions`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        instructions: Option<ItemSpec>,
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
    RequestCompaction,
    Close,
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
}
