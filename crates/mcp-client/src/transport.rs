//! Where a server is and how to reach it, checked before anything connects.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use http::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::error::{ErrorKind, McpError};

/// Plain headers a Streamable HTTP transport may carry at most.
pub const HEADERS_MAX: usize = 64;

/// Headers that must never travel as plain configuration: credentials arrive as a
/// [`Credential`] so they are fetched at call time, fingerprinted and redacted.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];

/// Headers rmcp sets itself (session, protocol version, content negotiation);
/// a caller overriding them would break the session, so they are refused up front
/// rather than by rmcp mid-connection.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "content-type",
    "content-length",
    "host",
    "mcp-session-id",
    "mcp-protocol-version",
    "last-event-id",
];

/// How to reach one MCP server.
///
/// `Debug` prints header and environment names only: their values may hold
/// configuration a log must not carry.
#[derive(Clone, PartialEq, Eq)]
pub enum Transport {
    /// The Streamable HTTP transport (one endpoint, POST plus optional SSE).
    StreamableHttp {
        /// `http://` or `https://` endpoint, e.g. `https://host/mcp`.
        url: String,
        /// Extra headers on every request; never `Authorization` (see [`Credential`]).
        headers: BTreeMap<String, String>,
    },
    /// A child process speaking newline-delimited JSON-RPC on stdin/stdout.
    Stdio {
        /// The program, resolved through `PATH` when not absolute.
        command: String,
        args: Vec<String>,
        /// Added to the worker's environment (which the child inherits).
        env: BTreeMap<String, String>,
        cwd: Option<PathBuf>,
    },
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Transport::StreamableHttp { url, headers } => f
                .debug_struct("StreamableHttp")
                .field("url", url)
                .field("headers", &headers.keys().collect::<Vec<_>>())
                .finish(),
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => f
                .debug_struct("Stdio")
                .field("command", command)
                .field("args", &args.len())
                .field("env", &env.keys().collect::<Vec<_>>())
                .field("cwd", cwd)
                .finish(),
        }
    }
}

impl Transport {
    /// Checks the transport without connecting: URL scheme and host, header names
    /// and values, no credential or reserved header, a non-empty command, no NUL
    /// bytes and no `=` in environment names.
    pub fn validate(&self) -> Result<(), McpError> {
        match self {
            Transport::StreamableHttp { url, headers } => {
                validate_url(url)?;
                validate_headers(headers).map(|_| ())
            }
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                if command.is_empty() || command.contains('\0') {
                    return Err(invalid("stdio command is empty or contains NUL"));
                }
                if args.iter().any(|arg| arg.contains('\0')) {
                    return Err(invalid("stdio argument contains NUL"));
                }
                for (name, value) in env {
                    if name.is_empty() || name.contains('=') || name.contains('\0') {
                        return Err(invalid(format!(
                            "environment name {:?} is empty or contains '=' or NUL",
                            clip(name)
                        )));
                    }
                    if value.contains('\0') {
                        return Err(invalid(format!(
                            "environment value of {:?} contains NUL",
                            clip(name)
                        )));
                    }
                }
                if let Some(cwd) = cwd
                    && cwd.as_os_str().is_empty()
                {
                    return Err(invalid("stdio cwd is empty"));
                }
                Ok(())
            }
        }
    }
}

/// Parses `url`: `http` or `https` with a host.
pub(crate) fn validate_url(url: &str) -> Result<reqwest::Url, McpError> {
    let parsed = reqwest::Url::parse(url)
        .map_err(|error| invalid(format!("url {:?} is invalid: {error}", clip(url))))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(format!(
            "url scheme {:?} is not http or https",
            clip(parsed.scheme())
        )));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid("url has no host"));
    }
    // Userinfo would be sent as Basic credentials outside the `Credential` path.
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            "url carries userinfo; pass credentials as a Credential",
        ));
    }
    Ok(parsed)
}

/// Parses plain headers into `http` types, refusing credential and reserved names.
pub(crate) fn validate_headers(
    headers: &BTreeMap<String, String>,
) -> Result<Vec<(HeaderName, HeaderValue)>, McpError> {
    if headers.len() > HEADERS_MAX {
        return Err(invalid(format!(
            "{} headers, at most {HEADERS_MAX}",
            headers.len()
        )));
    }
    let mut parsed = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let header_name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| invalid(format!("header name {:?} is invalid", clip(name))))?;
        if CREDENTIAL_HEADERS.contains(&header_name.as_str()) {
            return Err(invalid(format!(
                "header {:?} carries credentials; pass it as a Credential",
                header_name.as_str()
            )));
        }
        if RESERVED_HEADERS.contains(&header_name.as_str()) {
            return Err(invalid(format!(
                "header {:?} is set by the MCP transport",
                header_name.as_str()
            )));
        }
        // The value is never echoed: plain headers may still be sensitive.
        let header_value = HeaderValue::from_str(value).map_err(|_| {
            invalid(format!(
                "value of header {:?} is invalid",
                header_name.as_str()
            ))
        })?;
        parsed.push((header_name, header_value));
    }
    Ok(parsed)
}

/// A credential sent as one header on every HTTP request of a Streamable HTTP
/// connection (e.g. `Authorization: Bearer …`, the value given whole).
///
/// The value never reaches a log, an error message or `Debug` output.
#[derive(Clone)]
pub struct Credential {
    pub header_name: String,
    pub header_value: SecretString,
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("header_name", &self.header_name)
            .field("header_value", &"[redacted]")
            .finish()
    }
}

impl Credential {
    pub fn new(header_name: impl Into<String>, header_value: impl Into<String>) -> Self {
        Self {
            header_name: header_name.into(),
            header_value: SecretString::from(header_value.into()),
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: &str) -> Self {
        Self::new("authorization", format!("Bearer {token}"))
    }

    /// The header, its value marked sensitive so `http`'s own `Debug` hides it.
    pub(crate) fn header(&self) -> Result<(HeaderName, HeaderValue), McpError> {
        let name = HeaderName::from_bytes(self.header_name.as_bytes()).map_err(|_| {
            invalid(format!(
                "credential header name {:?} is invalid",
                clip(&self.header_name)
            ))
        })?;
        if RESERVED_HEADERS.contains(&name.as_str()) {
            return Err(invalid(format!(
                "credential header {:?} is set by the MCP transport",
                name.as_str()
            )));
        }
        let mut value = HeaderValue::from_str(self.header_value.expose_secret())
            .map_err(|_| invalid("credential header value is not a valid header value"))?;
        value.set_sensitive(true);
        Ok((name, value))
    }

    /// What a pooled connection remembers of the credential it connected with: a
    /// digest, so a changed credential is noticed without keeping a second copy.
    /// In memory only; never logged or returned.
    pub(crate) fn fingerprint(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(self.header_name.to_ascii_lowercase().as_bytes());
        hasher.update([0]);
        hasher.update(self.header_value.expose_secret().as_bytes());
        hasher.finalize().into()
    }

    /// The strings an error message must not contain: the value, and the token
    /// after a scheme word (`Bearer x` → `x`), which a server may echo alone.
    pub(crate) fn redaction_needles(&self) -> Vec<&str> {
        let value = self.header_value.expose_secret();
        let mut needles = vec![value];
        if let Some((_, token)) = value.split_once(' ')
            && !token.trim().is_empty()
        {
            needles.push(token.trim());
        }
        needles.retain(|needle| !needle.is_empty());
        needles
    }
}

fn invalid(message: impl Into<String>) -> McpError {
    McpError::new(ErrorKind::Invalid, message)
}

/// Caller input echoed in a message is cut short so one bad field cannot fill it.
fn clip(text: &str) -> &str {
    let mut end = text.len().min(64);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(url: &str, headers: &[(&str, &str)]) -> Transport {
        Transport::StreamableHttp {
            url: url.to_owned(),
            headers: headers
                .iter()
                .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn urls_must_be_http_with_a_host() {
        assert!(http("https://example.com/mcp", &[]).validate().is_ok());
        assert!(http("http://127.0.0.1:9/mcp", &[]).validate().is_ok());
        for bad in [
            "ftp://x/mcp",
            "file:///tmp/x",
            "not a url",
            "https://u:p@x/mcp",
        ] {
            let error = http(bad, &[]).validate().unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Invalid, "{bad}");
        }
    }

    #[test]
    fn credential_and_reserved_headers_are_refused() {
        for name in [
            "Authorization",
            "proxy-authorization",
            "Mcp-Session-Id",
            "bad name",
        ] {
            let error = http("https://x/mcp", &[(name, "v")])
                .validate()
                .unwrap_err();
            assert_eq!(error.kind(), ErrorKind::Invalid, "{name}");
        }
        assert!(
            http("https://x/mcp", &[("X-Tenant", "a")])
                .validate()
                .is_ok()
        );
        let error = http("https://x/mcp", &[("X-Tenant", "a\nb")])
            .validate()
            .unwrap_err();
        assert!(!error.to_string().contains("a\nb"));
    }

    #[test]
    fn debug_hides_values() {
        let credential = Credential::bearer("s3cret-token");
        assert!(!format!("{credential:?}").contains("s3cret"));
        let transport = http("https://x/mcp", &[("X-Key", "hidden-value")]);
        assert!(!format!("{transport:?}").contains("hidden-value"));
        let (_, value) = credential.header().unwrap();
        assert!(!format!("{value:?}").contains("s3cret"));
    }

    #[test]
    fn fingerprints_differ_by_value_not_name_case() {
        let a = Credential::new("Authorization", "Bearer a");
        let b = Credential::new("authorization", "Bearer a");
        let c = Credential::new("authorization", "Bearer c");
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_eq!(a.redaction_needles(), vec!["Bearer a", "a"]);
    }
}
