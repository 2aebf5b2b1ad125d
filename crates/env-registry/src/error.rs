//! Typed refusals of the catalog, each with a stable code the API maps to its error.

use engine::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EnvCatalogError {
    /// A name or field breaks a rule; the message names it.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("environment {0:?} not found")]
    NotFound(String),
    #[error("environment {0:?} already exists")]
    Exists(String),
    #[error("no environment is attached to this session at {0:?}")]
    AttachmentNotFound(String),
    #[error("at most {max} {bound}")]
    TooMany { bound: &'static str, max: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl EnvCatalogError {
    /// Stable machine-readable code (`data.reason` on the wire).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalidEnvironment",
            Self::NotFound(_) => "environmentNotFound",
            Self::Exists(_) => "environmentExists",
            Self::AttachmentNotFound(_) => "attachmentNotFound",
            Self::TooMany { .. } => "tooManyEnvironments",
            Self::Store(_) => "store",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
