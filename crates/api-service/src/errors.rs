//! Errors the service answers that are not engine refusals.

use api::ApiError;

/// A server fault. The detail goes to the log, not to the client: store paths,
/// SQL text and host internals are none of a client's business.
pub(crate) fn internal(context: &str, err: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %err, "{context}");
    ApiError::internal(format!("{context} failed"))
}

pub(crate) fn session_not_found(session: &str) -> ApiError {
    ApiError::not_found(format!("no session {session:?}")).with_reason("sessionNotFound")
}
