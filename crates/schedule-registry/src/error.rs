//! Typed refusals of schedules, each with a stable code (`data.reason` on the wire,
//! and the `code` of an agent tool's error result). Messages name ids and fields,
//! never a schedule's input text or template.

use engine::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    /// A field breaks a rule; the message names it.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("schedule {0:?} not found")]
    NotFound(String),
    #[error("schedule {0:?} already exists")]
    Exists(String),
    #[error("schedule {id:?} is at revision {actual}, not {expected}")]
    Conflict {
        id: String,
        expected: u64,
        actual: u64,
    },
    /// The universe holds its cap of schedules.
    #[error("at most {max} schedules per universe")]
    TooMany { max: usize },
    /// The host's scheduler (Temporal) failed; the record was kept or restored as
    /// the operation says. The message is for logs.
    #[error("scheduler: {0}")]
    Scheduler(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ScheduleError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalidSchedule",
            Self::NotFound(_) => "scheduleNotFound",
            Self::Exists(_) => "scheduleExists",
            Self::Conflict { .. } => "scheduleConflict",
            Self::TooMany { .. } => "quotaExceeded",
            Self::Scheduler(_) => "scheduler",
            Self::Store(_) => "store",
        }
    }

    pub fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
