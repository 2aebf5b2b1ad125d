//! What crosses the workflow's own boundary: its input, the `admit` update (request,
//! reply, typed rejection) and the `status`/`control` queries.

use std::fmt;

use engine::core::command::{CoreCommand, Rejection, RejectionCode};
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
/// `chain_index` incremented; the session state itself always comes from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionWorkflowInput {
    pub universe_id: String,
    pub session_id: SessionId,
    #[serde(default)]
    pub settings: WorkflowSettings,
    /// Workflow runs of this continue-as-new chain before this one. Its first name was
    /// `generation` (which the glossary keeps for LLM calls); the alias lets inputs
    /// already in the histories of running workflows decode.
    #[serde(default, alias = "generation")]
    pub chain_index: u32,
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
    /// Stable lowerCamel code: the engine rejection's [`RejectionCode`]
    /// (`revisionConflict`, `runNotActive`, ...), or `admissionLost` when the workflow
    /// had to reload before the command was committed (retry it). A string, not the
    /// enum, because of `admissionLost`; see [`AdmitRejected::rejection_code`].
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

    /// The engine's code, or `None` for `admissionLost` (and for a code this build
    /// does not know, from a newer worker).
    pub fn rejection_code(&self) -> Option<RejectionCode> {
        serde_json::from_value(serde_json::Value::String(self.code.clone())).ok()
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
        Self {
            code: rejection.code().as_str().to_owned(),
            message: rejection.to_string(),
            current_revision: rejection.current_revision(),
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
pub struct WorkflowStatus {
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
    /// Workflow runs of this continue-as-new chain before this one (see
    /// [`SessionWorkflowInput::chain_index`]; the alias reads statuses of older workers).
    #[serde(alias = "generation")]
    pub chain_index: u32,
}

/// How a workflow run ends normally: the session was closed, or it was idle for the
/// idle timeout (the next admission starts a new workflow run).
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
        assert_eq!(
            parsed.rejection_code(),
            Some(RejectionCode::RevisionConflict)
        );
        assert_eq!(parsed.current_revision, Some(3));
        assert_eq!(AdmitRejected::parse("nothing here"), None);
        assert_eq!(AdmitRejected::lost().rejection_code(), None);
    }

    /// The wire form of a rejection is what running workflows already carry in their
    /// histories: pinned byte for byte.
    #[test]
    fn rejection_json_is_unchanged() {
        let rejection = Rejection::RevisionConflict {
            expected: 1,
            actual: 3,
        };
        let json = serde_json::to_string(&AdmitRejected::from(&rejection)).unwrap();
        assert_eq!(
            json,
            r#"{"code":"revisionConflict","message":"expected revision 1, but the current revision is 3","current_revision":3}"#
        );
        let json = serde_json::to_string(&AdmitRejected::from(&Rejection::NotOpen)).unwrap();
        assert_eq!(
            json,
            r#"{"code":"notOpen","message":"the session is not open"}"#
        );
    }

    /// Inputs and statuses written before the rename still decode.
    #[test]
    fn the_chain_index_reads_its_old_name() {
        let old = r#"{"universe_id":"u","session_id":"s","generation":4}"#;
        let input: SessionWorkflowInput = serde_json::from_str(old).unwrap();
        assert_eq!(input.chain_index, 4);
        let new = serde_json::to_value(&input).unwrap();
        assert_eq!(new["chain_index"], 4);
    }
}
