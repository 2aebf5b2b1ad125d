//! OAuth 2.1 for MCP servers, over bounded HTTP.
//!
//! The token, registration and revocation requests are hand-written form posts over
//! the workspace's reqwest rather than the `oauth2` crate: its typed client fixes
//! endpoints at compile time (type-state) while ours come from discovery at run time,
//! it has no RFC 8707 `resource` or RFC 7591 registration, and it is built on another
//! reqwest major; adapting it would cost more code than the few requests below. PKCE
//! is RFC 7636 S256 over `sha2` and the OS random source.
//!
//! Every request has a timeout, every response body is read up to
//! [`HttpLimits::response_bytes_max`], plain `http` is refused except for loopback
//! hosts, redirects are not followed, and no error carries a token or a body.

mod discovery;
mod http;
pub(crate) mod pkce;
mod token;

pub use discovery::ServerMetadata;
pub use pkce::{Pkce, STATE_BYTES_MAX, StateToken, parse_state};
pub use token::{AuthorizeParams, ClientAuth, Registration, TokenSet};

/// Bounds of every OAuth HTTP exchange.
#[derive(Debug, Clone, Copy)]
pub struct HttpLimits {
    pub request_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    /// Largest response body read, in bytes; a larger one is refused.
    pub response_bytes_max: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            request_timeout_ms: 10_000,
            connect_timeout_ms: 5_000,
            response_bytes_max: 256 * 1024,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{what}: invalid URL ({reason})")]
    InvalidUrl {
        what: &'static str,
        reason: &'static str,
    },
    /// `http` to a host that is not loopback.
    #[error("{what}: plain http is allowed for loopback hosts only; use https")]
    InsecureUrl { what: &'static str },
    #[error("{what}: request failed ({reason})")]
    Http {
        what: &'static str,
        reason: &'static str,
    },
    #[error("{what}: unexpected HTTP status {status}")]
    Status { what: &'static str, status: u16 },
    #[error("{what}: response larger than {bytes_max} bytes")]
    TooLarge {
        what: &'static str,
        bytes_max: usize,
    },
    /// The body is not the JSON expected; the reason names a position, never content.
    #[error("{what}: undecodable response ({reason})")]
    Decode { what: &'static str, reason: String },
    #[error("discovery failed: {reason}")]
    Discovery { reason: String },
    /// An OAuth error response (`error` code only: descriptions may echo input).
    #[error("{what}: the authorization server answered {code}")]
    Server { what: &'static str, code: String },
}

impl OAuthError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidUrl { .. } => "oauth.invalidUrl",
            Self::InsecureUrl { .. } => "oauth.insecureUrl",
            Self::Http { .. } => "oauth.http",
            Self::Status { .. } => "oauth.status",
            Self::TooLarge { .. } => "oauth.tooLarge",
            Self::Decode { .. } => "oauth.decode",
            Self::Discovery { .. } => "oauth.discovery",
            Self::Server { .. } => "oauth.server",
        }
    }

    /// The server refused a grant (code, refresh token) for good: RFC 6749 5.2.
    pub fn is_invalid_grant(&self) -> bool {
        matches!(self, Self::Server { code, .. } if code == "invalid_grant")
    }
}

/// The OAuth client: one reqwest client with the bounds above.
#[derive(Debug, Clone)]
pub struct OAuthClient {
    http: reqwest::Client,
    limits: HttpLimits,
}

impl OAuthClient {
    pub fn new(limits: HttpLimits) -> Result<Self, OAuthError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_millis(limits.request_timeout_ms))
            .connect_timeout(std::time::Duration::from_millis(limits.connect_timeout_ms))
            // A redirect could lead a credential-bearing request to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|_| OAuthError::Http {
                what: "build the HTTP client",
                reason: "client setup failed",
            })?;
        Ok(Self { http, limits })
    }

    pub fn limits(&self) -> HttpLimits {
        self.limits
    }
}

/// Checks a redirect URI like every other URL (https, or http on loopback).
pub(crate) fn checked_redirect(url: &str) -> Result<(), OAuthError> {
    http::checked_url("redirect uri", url).map(|_| ())
}
