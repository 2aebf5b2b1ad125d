//! The activities the session workflow schedules, as typed contracts: a marker type
//! per activity (implementing the SDK's [`ActivityDefinition`]) and its input and
//! output DTOs. The worker (`temporal-server`) implements them under the same names.
//!
//! Thin seam: workflow history records every activity input and output, so each one
//! here carries ids, log positions, `sha256:` refs and small facts only
//! (ARCHITECTURE.md, `crates/temporal-workflow`). Nothing grows with the transcript:
//! the LLM activity is sent the *position* of the planning entry and the request
//! fingerprint, never the request; compaction is sent the head it must compact at.

use engine::core::control::ControlState;
use engine::core::effects::{CompactionOutcome, GenerationOutcome, ToolResult};
use engine::core::run::ToolCallRequest;
use engine::drive::{CompactionIntent, GenerationIntent};
use engine::{BlobRef, LogEntry, RunId, Seq, SessionId};
use serde::{Deserialize, Serialize};
use temporalio_workflow::common::ActivityDefinition;

/// Which session of which universe (tenant) an activity acts on. Activities resolve
/// the universe's stores from it; the universe never comes from anywhere else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionKey {
    pub universe_id: String,
    pub session_id: SessionId,
}

/// `load_session`: rehydrate the session (checkpoint + tail) and return its bounded
/// control state. Also makes sure the engine's well-known blobs are in the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadSessionInput {
    pub key: SessionKey,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadSessionOutput {
    /// Committed control state at the log head. Bounded by the engine's limits, not
    /// by the transcript.
    pub control: ControlState,
}

/// `append_events`: append `entries` if the head is `expected_head`. A retried
/// identical batch is recognised by the store and reported as committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppendEventsInput {
    pub key: SessionKey,
    pub expected_head: Seq,
    pub entries: Vec<LogEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AppendEventsOutput {
    /// The entries are in the log (freshly, or by an earlier attempt). `restamped`:
    /// the log holds the same decision made earlier, at these times (one per entry);
    /// the workflow applies the entries with them.
    Committed {
        head: Seq,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restamped: Option<Vec<u64>>,
    },
    /// Someone else moved the head: the batch was not written. The workflow
    /// discards its staged entries and reloads.
    Conflict { head: Seq },
}

/// `llm_generate`: run the generation planned at `intent.planned_at`. The activity
/// rebuilds the request from the store and checks `intent.fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LlmGenerateInput {
    pub universe_id: String,
    pub intent: GenerationIntent,
    /// Attempts allowed for retryable provider errors: the attempt that reaches it
    /// records the error as a failed generation instead of asking for a retry.
    pub attempts_max: u32,
    /// For `llm_generate_commit`: the workflow's committed head when it scheduled the
    /// generation, when it is not `intent.planned_at` (absent: it is). The activity
    /// commits the outcome itself only if the log is still there (see
    /// [`GenerationStep`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_at: Option<Seq>,
}

/// `llm_generate_commit`: the generation's outcome, and whether the activity also
/// committed it. Committing in the activity saves the workflow an append of its own
/// per turn (docs/spec/workflow.md, "History budget"): the activity resumes a drive
/// over the committed control state at `commit_at` with the outcome, plans ahead to
/// the next effect and appends that batch at `commit_at`. The workflow resumes its
/// own drive with the same outcome and time, and adopts the batch as committed when
/// its own staged batch has the same position and digest; otherwise (a different
/// engine build, an admission committed meanwhile) it reloads from the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationStep {
    pub outcome: GenerationOutcome,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub committed: Option<CommittedStep>,
}

/// A batch an activity appended on the workflow's behalf. Its position needs no
/// field: entries carry their sequence numbers, so equal digests mean the same
/// entries at the same place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedStep {
    /// The time the activity decided with; the workflow decides with it too.
    pub observed_at_ms: u64,
    /// [`entries_digest`] of the batch.
    pub entries_digest: String,
}

/// A digest of a batch of entries (each entry's canonical bytes, length-prefixed):
/// the first 64 bits of their SHA-256, in hex. It tells two engine builds' batches
/// for the same position apart (a check against honest divergence, not an
/// adversary), which needs no more; it is not a content address.
pub fn entries_digest(entries: &[LogEntry]) -> String {
    let mut bytes = Vec::new();
    for entry in entries {
        let canonical = entry.to_canonical_bytes();
        bytes.extend_from_slice(&(canonical.len() as u64).to_be_bytes());
        bytes.extend_from_slice(&canonical);
    }
    let digest = BlobRef::of_bytes(&bytes).digest_bytes();
    digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// `tool_invoke`: run one tool call of a batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInvokeInput {
    pub key: SessionKey,
    pub run_id: RunId,
    pub batch: u32,
    pub call: ToolCallRequest,
    /// The definition the session registered under the call's name; `None` when it
    /// has no such tool (a model can name any tool), which the worker answers with an
    /// error result. One ref, so the worker need not replay the session to know.
    #[serde(default)]
    pub definition_ref: Option<BlobRef>,
    /// The tool is stopped after this long and its call recorded as an error.
    pub timeout_ms: u64,
}

/// `compact_context`: compact the context as it is at `at_head` (the committed head
/// when compaction was decided; its context revision must be
/// `intent.context_revision`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactContextInput {
    pub universe_id: String,
    pub at_head: Seq,
    pub intent: CompactionIntent,
    /// Attempts allowed for retryable provider errors of a summarising compactor:
    /// the attempt that reaches it records the error as a failed compaction.
    #[serde(default = "compaction_attempts_default")]
    pub attempts_max: u32,
}

/// For inputs scheduled before the field existed: one attempt, as they had.
fn compaction_attempts_default() -> u32 {
    1
}

/// `transcribe_input`: transcribe the voice notes of the next queued run's input
/// (`engine::core::transcription`); the transcripts go to the CAS, the outcome
/// carries their refs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TranscribeInputInput {
    pub universe_id: String,
    pub intent: engine::core::transcription::TranscriptionIntent,
    /// Attempts allowed for retryable provider errors; the attempt that reaches it
    /// records the error as a failed transcription.
    pub attempts_max: u32,
}

/// `notify_parent`: tell the parent session that this session's run ended
/// (`engine::core::lineage`). The output says whether the parent has it (`true`) or
/// is closed or gone (`false`); a busy or unreachable parent is an error, retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotifyParentInput {
    pub key: SessionKey,
    pub intent: engine::drive::ParentNoticeIntent,
}

macro_rules! activity {
    ($(#[$meta:meta])* $marker:ident, $name:literal, $input:ty => $output:ty) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, Default)]
        pub struct $marker;

        impl $marker {
            /// The activity type name registered with Temporal.
            pub const NAME: &'static str = $name;
        }

        impl ActivityDefinition for $marker {
            type Input = $input;
            type Output = $output;

            fn name(&self) -> &str {
                Self::NAME
            }
        }
    };
}

activity!(
    /// Rehydrates a session and returns its control state.
    LoadSession, "load_session", LoadSessionInput => LoadSessionOutput
);
activity!(
    /// Appends staged entries to the session log (idempotently).
    AppendEvents, "append_events", AppendEventsInput => AppendEventsOutput
);
activity!(
    /// Runs one planned generation; returns refs and facts only.
    LlmGenerate, "llm_generate", LlmGenerateInput => GenerationOutcome
);
activity!(
    /// Runs one planned generation and, when the log has not moved, commits it.
    LlmGenerateCommit, "llm_generate_commit", LlmGenerateInput => GenerationStep
);
activity!(
    /// Runs one tool call; its output goes to the CAS, the result carries the ref.
    ToolInvoke, "tool_invoke", ToolInvokeInput => ToolResult
);
activity!(
    /// Compacts the context; the summary items go to the CAS.
    CompactContext, "compact_context", CompactContextInput => CompactionOutcome
);
activity!(
    /// Transcribes a queued run's voice notes; the transcripts go to the CAS.
    TranscribeInput, "transcribe_input", TranscribeInputInput
        => engine::core::transcription::TranscriptionOutcome
);
activity!(
    /// Delivers a run end to the parent session (idempotently).
    NotifyParent, "notify_parent", NotifyParentInput => bool
);
