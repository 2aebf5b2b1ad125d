//! The registry's error: refusals of the caller's input, flow outcomes, and the
//! failures of what it builds on. None carries a secret or token.

use crate::catalog::CatalogError;
use crate::keyring::KeyringError;
use crate::oauth::OAuthError;
use crate::records::NameError;

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error(transparent)]
    Name(#[from] NameError),
    #[error("invalid {field}: {reason}")]
    InvalidInput {
        field: &'static str,
        reason: &'static str,
    },
    #[error("the value is larger than {bytes_max} bytes")]
    ValueTooLarge { bytes_max: usize },
    #[error("{what} {id} not found")]
    NotFound { what: &'static str, id: String },
    /// The state does not name a pending flow of this universe or does not verify;
    /// deliberately one answer for all of these.
    #[error("the callback's state does not match a flow")]
    InvalidState,
    #[error("the flow is no longer pending")]
    FlowNotPending,
    #[error("the flow expired")]
    FlowExpired,
    /// The authorization server redirected back with an error (its code only).
    #[error("authorization was not granted: {code}")]
    AuthorizationDenied { code: String },
    #[error("the operating system's random source failed")]
    Random,
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
}

impl AuthError {
    /// A stable machine-readable code (the API maps these to its error codes).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Name(_) => "auth.invalidName",
            Self::InvalidInput { .. } => "auth.invalidInput",
            Self::ValueTooLarge { .. } => "auth.valueTooLarge",
            Self::NotFound { .. } => "auth.notFound",
            Self::InvalidState => "auth.invalidState",
            Self::FlowNotPending => "auth.flowNotPending",
            Self::FlowExpired => "auth.flowExpired",
            Self::AuthorizationDenied { .. } => "auth.authorizationDenied",
            Self::Random => "auth.random",
            Self::Catalog(err) => err.code(),
            Self::Keyring(err) => err.code(),
            Self::OAuth(err) => err.code(),
        }
    }
}
