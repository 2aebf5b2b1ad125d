//! The crate's one error type: a classified provider or transport failure.

use std::error::Error as _;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A failed provider call, classified. Never contains an API key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {message}{}", status_suffix(*status))]
pub struct LlmError {
    /// What went wrong, coarse enough to decide on a retry.
    pub kind: ErrorKind,
    /// HTTP status, when the error came from a response (absent for in-stream errors and
    /// transport failures).
    pub status: Option<u16>,
    /// The provider's message, or the (truncated, ≤ 2 KiB) body when it was not JSON.
    pub message: String,
    /// How long the provider asked to wait before retrying.
    pub retry_after: Option<Duration>,
    /// OpenAI `error.code` or Anthropic `error.type` (falls back to the OpenAI `type`).
    pub provider_code: Option<String>,
    /// `x-request-id` / `request-id` header, or Anthropic's body `request_id`.
    pub request_id: Option<String>,
}

fn status_suffix(status: Option<u16>) -> String {
    match status {
        Some(status) => format!(" (HTTP {status})"),
        None => String::new(),
    }
}

impl LlmError {
    /// An error of `kind` with a message and no other detail.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        LlmError {
            kind,
            status: None,
            message: message.into(),
            retry_after: None,
            provider_code: None,
            request_id: None,
        }
    }

    /// Whether repeating the same request may succeed (see [`ErrorKind::is_retryable`]).
    pub fn is_retryable(&self) -> bool {
        self.kind.is_retryable()
    }

    /// True when the account is out of credit ([`ErrorKind::QuotaExhausted`]).
    pub fn is_quota_exhausted(&self) -> bool {
        self.kind == ErrorKind::QuotaExhausted
    }

    /// Classifies a reqwest failure: timeouts -> `Timeout`, body decoding -> `Decode`,
    /// building -> `InvalidRequest`, connect/request/body and anything else -> `Transport`.
    pub(crate) fn from_reqwest(err: &reqwest::Error) -> Self {
        let kind = if err.is_timeout() {
            ErrorKind::Timeout
        } else if err.is_decode() {
            ErrorKind::Decode
        } else if err.is_builder() {
            ErrorKind::InvalidRequest
        } else {
            ErrorKind::Transport
        };
        LlmError::new(kind, error_chain(err))
    }
}

/// `err: source: source ...`, so "connection refused" is not hidden behind "error sending
/// request". reqwest's own messages name the URL but never headers, so no key leaks here.
fn error_chain(err: &reqwest::Error) -> String {
    let mut message = err.to_string();
    let mut source = err.source();
    // Bounded: real chains are 2-4 deep.
    for _ in 0..8 {
        let Some(next) = source else { break };
        message.push_str(": ");
        message.push_str(&next.to_string());
        source = next.source();
    }
    message
}

/// Coarse error classes. Exhaustive matches only, so a new kind forces every caller's
/// retry decision to be revisited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 401: the key is missing, wrong or revoked.
    Auth,
    /// 403: the key may not use this model or feature.
    Permission,
    /// 404: unknown model or endpoint.
    NotFound,
    /// 429: too many requests for now; see `retry_after`.
    RateLimited,
    /// The account is out of credit or quota (OpenAI's `insufficient_quota` 429,
    /// Anthropic's "credit balance is too low"): billing, not a rate, so waiting
    /// seconds does not help.
    QuotaExhausted,
    /// The provider is overloaded (Anthropic 529 / `overloaded_error`).
    Overloaded,
    /// The prompt does not fit the model's context window.
    ContextLengthExceeded,
    /// The provider refused the content.
    ContentFilter,
    /// The request is malformed or unacceptable; repeating it will fail again.
    InvalidRequest,
    /// 5xx or an unexplained provider-side failure.
    Server,
    /// The request, the response headers or the stream took too long.
    Timeout,
    /// Connecting, sending or receiving failed below HTTP.
    Transport,
    /// The response could not be decoded (bad UTF-8 or SSE framing, undecodable body).
    Decode,
}

impl ErrorKind {
    /// Whether repeating the same request may succeed.
    pub fn is_retryable(self) -> bool {
        match self {
            ErrorKind::RateLimited
            | ErrorKind::Overloaded
            | ErrorKind::Server
            | ErrorKind::Timeout
            | ErrorKind::Transport => true,
            ErrorKind::Auth
            | ErrorKind::Permission
            | ErrorKind::NotFound
            | ErrorKind::QuotaExhausted
            | ErrorKind::ContextLengthExceeded
            | ErrorKind::ContentFilter
            | ErrorKind::InvalidRequest
            | ErrorKind::Decode => false,
        }
    }

    /// The snake_case name, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::ContextLengthExceeded => "context_length_exceeded",
            ErrorKind::ContentFilter => "content_filter",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Transport => "transport",
            ErrorKind::Decode => "decode",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
