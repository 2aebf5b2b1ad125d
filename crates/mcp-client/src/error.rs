//! One error type for every failure that is not the tool's own (`isError: true` is a
//! [`crate::CallOutput`], not an error), classified once so callers never parse text.

use std::fmt;

use rmcp::service::{ClientInitializeError, ServiceError};

use crate::http::HttpFailure;

/// Longest message an [`McpError`] carries, in bytes.
pub const MESSAGE_BYTES_MAX: usize = 512;

/// What kind of failure, for retry and re-authorisation decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Connection refused or reset, the server went away: retryable.
    Transport,
    /// The server answered HTTP 5xx or 429: retryable.
    Server,
    /// HTTP 401 or 403 from a Streamable HTTP server: refresh the credential or
    /// mark the grant as needing re-authorisation; retrying as is will not help.
    Unauthorized,
    /// Malformed JSON-RPC, an unexpected response, or a method error from the
    /// server (unknown tool, invalid params): not retryable.
    Protocol,
    /// The call outlived its timeout; the server was sent `notifications/cancelled`.
    Timeout,
    /// A listing or response broke a bound of [`crate::ListLimits`] or the transport.
    TooLarge,
    /// The stdio command could not be started, or exited before initialising.
    Spawn,
    /// The connection was shut down while the call was outstanding.
    Cancelled,
    /// The caller's transport, credential or arguments are invalid (nothing sent).
    Invalid,
}

impl ErrorKind {
    /// Stable code strings, for activity failures and metrics.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::Transport => "mcp_transport",
            ErrorKind::Server => "mcp_server",
            ErrorKind::Unauthorized => "mcp_unauthorized",
            ErrorKind::Protocol => "mcp_protocol",
            ErrorKind::Timeout => "mcp_timeout",
            ErrorKind::TooLarge => "mcp_too_large",
            ErrorKind::Spawn => "mcp_spawn",
            ErrorKind::Cancelled => "mcp_cancelled",
            ErrorKind::Invalid => "mcp_invalid",
        }
    }

    /// Whether the same call may succeed if tried again unchanged. A timeout is
    /// not: the tool may have had effects, so the caller decides.
    pub fn is_retryable(self) -> bool {
        match self {
            ErrorKind::Transport | ErrorKind::Server => true,
            ErrorKind::Unauthorized
            | ErrorKind::Protocol
            | ErrorKind::Timeout
            | ErrorKind::TooLarge
            | ErrorKind::Spawn
            | ErrorKind::Cancelled
            | ErrorKind::Invalid => false,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A classified failure. Its message is at most [`MESSAGE_BYTES_MAX`] bytes and
/// never holds a credential (values are redacted before an error leaves the pool).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct McpError {
    kind: ErrorKind,
    message: String,
    /// The HTTP status behind the failure, when there was one.
    http_status: Option<u16>,
}

impl McpError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: bound(message.into()),
            http_status: None,
        }
    }

    pub(crate) fn with_status(mut self, status: Option<u16>) -> Self {
        self.http_status = status;
        self
    }

    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn http_status(&self) -> Option<u16> {
        self.http_status
    }

    /// Replaces every needle in the message (a credential a server echoed back).
    pub(crate) fn redact(mut self, needles: &[&str]) -> Self {
        for needle in needles {
            if self.message.contains(needle) {
                self.message = self.message.replace(needle, "[redacted]");
            }
        }
        self
    }

    /// Classifies a failed request. An HTTP failure the transport recorded during
    /// the request wins: rmcp folds several of them into one generic error.
    pub(crate) fn from_service(error: ServiceError, http: Option<HttpFailure>) -> Self {
        if let Some(failure) = http {
            return failure.into_error();
        }
        match error {
            ServiceError::McpError(data) => McpError::new(
                ErrorKind::Protocol,
                format!("server error {}: {}", data.code.0, data.message),
            ),
            ServiceError::TransportSend(error) => McpError::new(
                ErrorKind::Transport,
                format!("sending to the server failed: {}", error.error),
            ),
            ServiceError::TransportClosed => {
                McpError::new(ErrorKind::Transport, "the connection to the server closed")
            }
            ServiceError::UnexpectedResponse => McpError::new(
                ErrorKind::Protocol,
                "unexpected response type from the server",
            ),
            ServiceError::Cancelled { .. } => {
                McpError::new(ErrorKind::Cancelled, "the request was cancelled")
            }
            ServiceError::Timeout { timeout } => McpError::new(
                ErrorKind::Timeout,
                format!("no answer within {} ms", timeout.as_millis()),
            ),
            // ServiceError is non_exhaustive; new variants are protocol-level states
            // (MRTR rounds, subscriptions) this client does not use.
            other => McpError::new(ErrorKind::Protocol, other.to_string()),
        }
    }

    /// Classifies a failed initialisation (`stdio` says whether a child was spawned:
    /// a child that closes before answering failed to start, as far as a caller cares).
    pub(crate) fn from_initialize(
        error: ClientInitializeError,
        http: Option<HttpFailure>,
        stdio: bool,
    ) -> Self {
        if let Some(failure) = http {
            return failure.into_error();
        }
        match error {
            ClientInitializeError::ConnectionClosed(_) if stdio => McpError::new(
                ErrorKind::Spawn,
                "the stdio server exited before completing initialisation",
            ),
            ClientInitializeError::ConnectionClosed(context) => McpError::new(
                ErrorKind::Transport,
                format!("the connection closed during initialisation ({context})"),
            ),
            ClientInitializeError::TransportError { error, context } if stdio => McpError::new(
                ErrorKind::Spawn,
                format!("the stdio server failed during {context}: {}", error.error),
            ),
            ClientInitializeError::TransportError { error, context } => McpError::new(
                ErrorKind::Transport,
                format!("transport failure during {context}: {}", error.error),
            ),
            ClientInitializeError::JsonRpcError(data) => McpError::new(
                ErrorKind::Protocol,
                format!("initialisation refused {}: {}", data.code.0, data.message),
            ),
            other => McpError::new(
                ErrorKind::Protocol,
                format!("initialisation failed: {other}"),
            ),
        }
    }
}

/// Cuts a message to [`MESSAGE_BYTES_MAX`] on a character boundary, with a marker.
fn bound(mut message: String) -> String {
    const MARKER: &str = " [truncated]";
    if message.len() <= MESSAGE_BYTES_MAX {
        return message;
    }
    let mut end = MESSAGE_BYTES_MAX - MARKER.len();
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message.truncate(end);
    message.push_str(MARKER);
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_bounded_on_char_boundaries() {
        let error = McpError::new(ErrorKind::Protocol, "é".repeat(1_000));
        assert!(error.message().len() <= MESSAGE_BYTES_MAX);
        assert!(error.message().ends_with("[truncated]"));
        assert!(error.to_string().starts_with("mcp_protocol: "));
    }

    #[test]
    fn redaction_removes_echoed_secrets() {
        let error = McpError::new(ErrorKind::Protocol, "bad token tok-123 in Bearer tok-123")
            .redact(&["Bearer tok-123", "tok-123"]);
        assert!(!error.to_string().contains("tok-123"));
        assert!(!format!("{error:?}").contains("tok-123"));
    }

    #[test]
    fn only_transport_and_server_retry() {
        assert!(ErrorKind::Transport.is_retryable());
        assert!(ErrorKind::Server.is_retryable());
        assert!(!ErrorKind::Unauthorized.is_retryable());
        assert!(!ErrorKind::Timeout.is_retryable());
    }
}
