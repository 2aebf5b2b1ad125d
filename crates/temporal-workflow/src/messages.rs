//! What crosses the workflow's own boundary: its input, the `admit` update (request,
//! reply, typed rejection) and the `status`/`control` queries.

use std::fmt;

use engine::core::command::{CoreCommand, Rejection};
use engine::core::control::Lifecycle;
use engine::{RunId, Seq, SessionId};
use serde::{Deserialize, Serialize};

use crate::settings::WorkflowSettings;

/// The workflow id of a session: `{universe}/{session}`. Session ids cannot contain
/// `/`, so the split is unambiguous as long as universe ids contain none either.
pub fn workflow_id(universe_id: &str, session_id: &SessionId) -> String {
    format!("{universe_id}/{session_id}")
}

/// Input of [`crate::AgentSessionWorkflow`]. Continue-as-new passes it on with
/// `generation` incremented; the session state itself always comes from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWorkflowInput {
    pub universe_id: String,
    pub session_id: SessionId,
    #[serde(default)]
    pub settings: WorkflowSettings,
    /// Runs of this workflow chain before this one.
    #[serde(default)]
    pub generation: u32,
}

/// The `admit` update: one engine command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitRequest {
    pub command: CoreCommand,
}

/// The `admit` update's result: the command's events are committed to the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitReply {
    /// Set for run requests: the run the request created (or repeated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    /// The run request repeated an earlier submission; nothing new was recorded.
    #[serde(default)]
    pub duplicate: bool,
    /// The committed log head once the command's events were appended.
    pub head: Seq,
}

/// Why an admission was refused. Travels as the message of the update's failure
/// (prefixed with [`AdmitRejected::MESSAGE_PREFIX`]); [`AdmitRejected::parse`]
/// recovers it on the client side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdmitRejected {
    /// Stable lowerCamel code: the engine rejection's variant (`revisionConflict`,
    /// `runNotActive`, ...), or `admissionLost` when the workflow had to reload
    /// before the command was committed (retry it).
    pub code: String,
    pub message: String,
    /// For `revisionConflict`: the revision the session is at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u64>,
}

impl AdmitRejected {
    pub const MESSAGE_PREFIX: &'static str = "lightspeed.rejected ";
    pub const ADMISSION_LOST: &'static str = "admissionLost";

    /// Finds a rejection in a failure message produced by [`fmt::Display`].
    pub fn parse(message: &str) -> Option<Self> {
        let start = message.find(Self::MESSAGE_PREFIX)? + Self::MESSAGE_PREFIX.len();
        let mut stream = serde_json::Deserializer::from_str(&message[start..]).into_iter();
        stream.next()?.ok()
    }

    pub(crate) fn lost() -> Self {
        Self {
            code: Self::ADMISSION_LOST.to_owned(),
            message: "the session reloaded before the command was committed; retry it".into(),
            current_revision: None,
        }
    }
}

impl From<&Rejection> for AdmitRejected {
    fn from(rejection: &Rejection) -> Self {
        let current_revision = match rejection {
            Rejection::RevisionConflict { actual, .. } => Some(*actual),
            _ => None,
        };
        Self {
            code: rejection_code(rejection).to_owned(),
            message: rejection.to_string(),
            current_revision,
        }
    }
}

impl fmt::Display for AdmitRejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Serialising plain strings and integers cannot fail.
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        write!(f, "{}{json}", Self::MESSAGE_PREFIX)
    }
}

impl std::error::Error for AdmitRejected {}

/// The stable code of a rejection. Exhaustive on purpose: a new engine rejection must
/// get a code here before this crate compiles.
pub fn rejection_code(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::NotOpen => "notOpen",
        Rejection::AlreadyOpen => "alreadyOpen",
        Rejection::Closed => "closed",
        Rejection::InvalidConfig(_) => "invalidConfig",
        Rejection::RevisionConflict { .. } => "revisionConflict",
        Rejection::SessionBusy => "sessionBusy",
        Rejection::SubmissionConflict { .. } => "submissionConflict",
        Rejection::UnknownRun(_) => "unknownRun",
        Rejection::RunNotActive(_) => "runNotActive",
        Rejection::AlreadyCancelling(_) => "alreadyCancelling",
        Rejection::TooMany { .. } => "tooMany",
        Rejection::Empty { .. } => "empty",
        Rejection::InvalidToolName(_) => "invalidToolName",
        Rejection::UnknownTool(_) => "unknownTool",
        Rejection::InvalidItemKind(_) => "invalidItemKind",
        Rejection::DuplicateTool(_) => "duplicateTool",
        Rejection::InvalidItemKey(_) => "invalidItemKey",
        Rejection::UnknownItemKey(_) => "unknownItemKey",
        Rejection::CompactionPending => "compactionPending",
        Rejection::TextTooLong(_) => "textTooLong",
        Rejection::StaleResult { .. } => "staleResult",
        Rejection::UnknownToolCall(_) => "unknownToolCall",
        Rejection::DuplicateToolCall(_) => "duplicateToolCall",
        Rejection::DuplicateToolResult(_) => "duplicateToolResult",
    }
}

/// What the active run is doing, for status displays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhaseView {
    Ready,
    Generating,
    Answered,
    AwaitingTools,
    Cancelling,
}

/// The `status` query: a small summary, independent of the transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionStatus {
    /// False until the workflow has read the session from the store.
    pub loaded: bool,
    /// Committed log head.
    pub head: Seq,
    pub lifecycle: Lifecycle,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_run_id: Option<RunId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<PhaseView>,
    pub queued_runs: usize,
    pub finished_runs: u64,
    /// Admissions received but not yet decided.
    pub pending_admissions: usize,
    /// Runs of this workflow chain so far (incremented by continue-as-new).
    pub generation: u32,
}

/// How a workflow run ends normally: the session was closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWorkflowOutcome {
    pub head: Seq,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejection_round_trips_through_a_failure_message() {
        let rejection = Rejection::RevisionConflict {
            expected: 1,
            actual: 3,
        };
        let wire = AdmitRejected::from(&rejection);
        let message = format!("Update failed: {wire} (more text)");
        let parsed = AdmitRejected::parse(&message);
        assert_eq!(parsed, Some(wire));
        let parsed = parsed.unwrap_or_else(AdmitRejected::lost);
        assert_eq!(parsed.code, "revisionConflict");
        assert_eq!(parsed.current_revision, Some(3));
        assert_eq!(AdmitRejected::parse("nothing here"), None);
    }
}
