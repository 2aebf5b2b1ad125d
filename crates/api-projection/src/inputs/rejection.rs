//! Engine rejections as wire errors. One exhaustive table over [`RejectionCode`]
//! classifies them, whether the rejection is at hand ([`rejection`], in-process
//! backends) or arrived as its code, message and current revision from a workflow
//! ([`rejection_error`]). A new engine rejection does not compile until it has a kind
//! here.

use api::{ApiError, ErrorKind};
use engine::core::command::{Rejection, RejectionCode};

use super::config::{Scope, config_error};

/// The error kind clients see for a rejection code.
pub fn rejection_kind(code: RejectionCode) -> ErrorKind {
    match code {
        RejectionCode::RevisionConflict
        | RejectionCode::SubmissionConflict
        | RejectionCode::SessionBusy
        | RejectionCode::AlreadyOpen
        | RejectionCode::CompactionPending => ErrorKind::Conflict,
        RejectionCode::NotOpen
        | RejectionCode::UnknownRun
        | RejectionCode::RunNotActive
        | RejectionCode::UnknownWakeUp
        | RejectionCode::UnknownChild => ErrorKind::NotFound,
        RejectionCode::AlreadyRecorded => ErrorKind::Conflict,
        RejectionCode::TranscriptMismatch => ErrorKind::InvalidParams,
        RejectionCode::NoApprovalPending => ErrorKind::Conflict,
        RejectionCode::Closed
        | RejectionCode::AlreadyCancelling
        | RejectionCode::StaleResult
        | RejectionCode::NothingDue => ErrorKind::Rejected,
        RejectionCode::InvalidConfig
        | RejectionCode::TooMany
        | RejectionCode::Empty
        | RejectionCode::InvalidToolName
        | RejectionCode::DuplicateTool
        | RejectionCode::UnknownTool
        | RejectionCode::InvalidItemKey
        | RejectionCode::UnknownItemKey
        | RejectionCode::InvalidItemKind
        | RejectionCode::TextTooLong
        | RejectionCode::DuplicateToolCall
        | RejectionCode::UnknownToolCall
        | RejectionCode::DuplicateToolResult => ErrorKind::InvalidParams,
    }
}

/// A rejection as its wire error, from its parts: `data.reason` is the code,
/// `current_revision` is carried for revision conflicts. For backends that receive
/// a rejection already rendered (the Temporal workflow's `AdmitRejected`).
pub fn rejection_error(
    code: RejectionCode,
    message: String,
    current_revision: Option<u64>,
) -> ApiError {
    let error = ApiError::new(rejection_kind(code), message).with_reason(code.as_str());
    match current_revision {
        Some(revision) => error.with_current_revision(revision),
        None => error,
    }
}

/// Maps a refused command to its wire error. `data.reason` is the variant name in
/// lowerCamelCase; revision conflicts carry the current revision.
pub fn rejection(err: Rejection) -> ApiError {
    // Engine field names become the client's; the rendered message would leak them.
    if let Rejection::InvalidConfig(config) = &err {
        return config_error(config, Scope::Config, "");
    }
    rejection_error(err.code(), err.to_string(), err.current_revision())
}

#[cfg(test)]
mod tests {
    use engine::core::config::ConfigError;
    use engine::core::context::ItemKind;
    use engine::{RunId, SubmissionId};

    use super::*;

    /// Every variant, with the kind and reason it must map to.
    fn table() -> Vec<(Rejection, ErrorKind, &'static str)> {
        let run = RunId::from_ordinal(1);
        use ErrorKind::{Conflict, InvalidParams, NotFound, Rejected};
        vec![
            (Rejection::NotOpen, NotFound, "notOpen"),
            (Rejection::AlreadyOpen, Conflict, "alreadyOpen"),
            (Rejection::Closed, Rejected, "closed"),
            (
                Rejection::InvalidConfig(ConfigError::Zero {
                    field: "run_limits.turns_max",
                }),
                InvalidParams,
                "invalidConfig",
            ),
            (
                Rejection::RevisionConflict {
                    expected: 2,
                    actual: 3,
                },
                Conflict,
                "revisionConflict",
            ),
            (Rejection::SessionBusy, Conflict, "sessionBusy"),
            (
                Rejection::SubmissionConflict {
                    submission_id: SubmissionId::new("sub").unwrap(),
                    run_id: run.clone(),
                },
                Conflict,
                "submissionConflict",
            ),
            (Rejection::UnknownRun(run.clone()), NotFound, "unknownRun"),
            (
                Rejection::RunNotActive(run.clone()),
                NotFound,
                "runNotActive",
            ),
            (
                Rejection::AlreadyCancelling(run),
                Rejected,
                "alreadyCancelling",
            ),
            (
                Rejection::TooMany {
                    what: "run input",
                    count: 65,
                    max: 64,
                },
                InvalidParams,
                "tooMany",
            ),
            (
                Rejection::Empty { what: "run input" },
                InvalidParams,
                "empty",
            ),
            (
                Rejection::InvalidToolName("a b".into()),
                InvalidParams,
                "invalidToolName",
            ),
            (
                Rejection::UnknownTool("t".into()),
                InvalidParams,
                "unknownTool",
            ),
            (
                Rejection::InvalidItemKind(ItemKind::Instructions),
                InvalidParams,
                "invalidItemKind",
            ),
            (
                Rejection::DuplicateTool("t".into()),
                InvalidParams,
                "duplicateTool",
            ),
            (
                Rejection::InvalidItemKey("".into()),
                InvalidParams,
                "invalidItemKey",
            ),
            (
                Rejection::UnknownItemKey("k".into()),
                InvalidParams,
                "unknownItemKey",
            ),
            (Rejection::CompactionPending, Conflict, "compactionPending"),
            (
                Rejection::TextTooLong("cancel reason"),
                InvalidParams,
                "textTooLong",
            ),
            (
                Rejection::StaleResult {
                    effect: "generation",
                    detail: "run_1 turn 1".into(),
                },
                Rejected,
                "staleResult",
            ),
            (
                Rejection::UnknownToolCall("c".into()),
                InvalidParams,
                "unknownToolCall",
            ),
            (
                Rejection::DuplicateToolCall("c".into()),
                InvalidParams,
                "duplicateToolCall",
            ),
            (
                Rejection::DuplicateToolResult("c".into()),
                InvalidParams,
                "duplicateToolResult",
            ),
            (
                Rejection::NoApprovalPending(RunId::new("run_2").unwrap()),
                Conflict,
                "noApprovalPending",
            ),
            (Rejection::NothingDue, Rejected, "nothingDue"),
            (Rejection::UnknownWakeUp(3), NotFound, "unknownWakeUp"),
            (
                Rejection::UnknownChild(engine::SessionId::new("agent-1").unwrap()),
                NotFound,
                "unknownChild",
            ),
            (
                Rejection::AlreadyRecorded("agent-1 run_1".into()),
                Conflict,
                "alreadyRecorded",
            ),
            (
                Rejection::TranscriptMismatch("input item 1".into()),
                InvalidParams,
                "transcriptMismatch",
            ),
        ]
    }

    #[test]
    fn every_rejection_has_its_kind_and_reason() {
        let table = table();
        // One row per variant.
        assert_eq!(table.len(), RejectionCode::ALL.len());
        for (rejection_value, kind, reason) in table {
            let shown = format!("{rejection_value:?}");
            let err = rejection(rejection_value);
            assert_eq!(err.kind(), kind, "{shown}");
            assert_eq!(err.data.reason.as_deref(), Some(reason), "{shown}");
            assert!(!err.message.is_empty(), "{shown}");
            let variant: String = shown.chars().take_while(|c| c.is_alphanumeric()).collect();
            let mut camel = variant.clone();
            camel[..1].make_ascii_lowercase();
            assert_eq!(reason, camel, "reason is the variant name");
        }
    }

    /// The parts-based entry point agrees with `rejection` for every variant but
    /// `InvalidConfig` (whose message is translated to client field names).
    #[test]
    fn rejection_error_agrees_with_rejection() {
        for (rejection_value, _, _) in table() {
            if matches!(rejection_value, Rejection::InvalidConfig(_)) {
                continue;
            }
            let parts = rejection_error(
                rejection_value.code(),
                rejection_value.to_string(),
                rejection_value.current_revision(),
            );
            assert_eq!(parts, rejection(rejection_value));
        }
        let config = rejection_error(RejectionCode::InvalidConfig, "bad".into(), None);
        assert_eq!(config.kind(), ErrorKind::InvalidParams);
        assert_eq!(config.data.reason.as_deref(), Some("invalidConfig"));
    }

    #[test]
    fn revision_conflicts_carry_the_current_revision() {
        let err = rejection(Rejection::RevisionConflict {
            expected: 2,
            actual: 5,
        });
        assert_eq!(err.data.current_revision, Some(5));
        assert_eq!(err.code(), -32009);
    }

    #[test]
    fn config_rejections_speak_client_field_names() {
        let err = rejection(Rejection::InvalidConfig(ConfigError::Zero {
            field: "context.high_watermark_tokens",
        }));
        assert_eq!(
            err.message,
            "context.compactionThresholdTokens must be at least 1"
        );
    }
}
