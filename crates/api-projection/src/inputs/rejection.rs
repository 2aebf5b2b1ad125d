//! Engine rejections as wire errors. The table is an exhaustive match: a new
//! [`Rejection`] variant does not compile until it has a kind and a reason here.

use api::{ApiError, ErrorKind};
use engine::core::command::Rejection;

use super::config::{Scope, config_error};

/// Maps a refused command to its wire error. `data.reason` is the variant name in
/// lowerCamelCase; revision conflicts carry the current revision.
pub fn rejection(err: Rejection) -> ApiError {
    let (kind, reason) = match &err {
        Rejection::RevisionConflict { actual, .. } => {
            return ApiError::conflict(err.to_string())
                .with_reason("revisionConflict")
                .with_current_revision(*actual);
        }
        // Engine field names become the client's.
        Rejection::InvalidConfig(config) => return config_error(config, Scope::Config, ""),
        Rejection::SubmissionConflict { .. } => (ErrorKind::Conflict, "submissionConflict"),
        Rejection::SessionBusy => (ErrorKind::Conflict, "sessionBusy"),
        Rejection::AlreadyOpen => (ErrorKind::Conflict, "alreadyOpen"),
        Rejection::CompactionPending => (ErrorKind::Conflict, "compactionPending"),
        Rejection::NotOpen => (ErrorKind::NotFound, "notOpen"),
        Rejection::UnknownRun(_) => (ErrorKind::NotFound, "unknownRun"),
        Rejection::RunNotActive(_) => (ErrorKind::NotFound, "runNotActive"),
        Rejection::Closed => (ErrorKind::Rejected, "closed"),
        Rejection::AlreadyCancelling(_) => (ErrorKind::Rejected, "alreadyCancelling"),
        Rejection::StaleResult { .. } => (ErrorKind::Rejected, "staleResult"),
        Rejection::TooMany { .. } => (ErrorKind::InvalidParams, "tooMany"),
        Rejection::Empty { .. } => (ErrorKind::InvalidParams, "empty"),
        Rejection::InvalidToolName(_) => (ErrorKind::InvalidParams, "invalidToolName"),
        Rejection::DuplicateTool(_) => (ErrorKind::InvalidParams, "duplicateTool"),
        Rejection::UnknownTool(_) => (ErrorKind::InvalidParams, "unknownTool"),
        Rejection::InvalidItemKey(_) => (ErrorKind::InvalidParams, "invalidItemKey"),
        Rejection::UnknownItemKey(_) => (ErrorKind::InvalidParams, "unknownItemKey"),
        Rejection::InvalidItemKind(_) => (ErrorKind::InvalidParams, "invalidItemKind"),
        Rejection::TextTooLong(_) => (ErrorKind::InvalidParams, "textTooLong"),
        Rejection::DuplicateToolCall(_) => (ErrorKind::InvalidParams, "duplicateToolCall"),
        Rejection::UnknownToolCall(_) => (ErrorKind::InvalidParams, "unknownToolCall"),
        Rejection::DuplicateToolResult(_) => (ErrorKind::InvalidParams, "duplicateToolResult"),
    };
    ApiError::new(kind, err.to_string()).with_reason(reason)
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
        ]
    }

    #[test]
    fn every_rejection_has_its_kind_and_reason() {
        let table = table();
        // One row per variant (`Rejection` has 24).
        assert_eq!(table.len(), 24);
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
