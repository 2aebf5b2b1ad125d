//! A server record and the rules it meets before it is stored.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::McpCatalogError;

/// Longest server name: a linked tool is `server__tool` within the 64 characters every
/// provider accepts, so the server's part stays short.
pub const SERVER_NAME_MAX: usize = 32;
/// Longest URL of a Streamable HTTP server.
pub const URL_BYTES_MAX: usize = 2_048;
/// Plain headers (and stdio environment variables) per server.
pub const HEADERS_MAX: usize = 32;
/// Bytes of one header value, environment value or argument.
pub const VALUE_BYTES_MAX: usize = 4_096;
/// Arguments of a stdio command.
pub const ARGS_MAX: usize = 64;
/// Names in a tool filter (allow plus deny).
pub const FILTER_NAMES_MAX: usize = 256;
/// Bounds of the timeouts a record may ask for.
pub const CONNECT_MS_MAX: u64 = 60_000;
pub const CALL_MS_MAX: u64 = 3_600_000;
/// Defaults of the timeouts.
pub const CONNECT_MS_DEFAULT: u64 = 10_000;
pub const CALL_MS_DEFAULT: u64 = 120_000;

/// Headers that carry credentials: refused as plain headers, whose values are stored
/// in the clear and shown by `mcp/servers/read`. A credential goes through
/// [`McpAuth`], which names a secret of the auth registry instead.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-api-key",
    "api-key",
];

/// A server's name in its universe: 1-32 of `[a-z0-9-]`, starting with a letter or
/// digit. No `_`, so a linked tool's name `server__tool` always splits at its first `__`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ServerName(String);

impl ServerName {
    pub fn new(name: impl Into<String>) -> Result<Self, McpCatalogError> {
        let name = name.into();
        let valid = (1..=SERVER_NAME_MAX).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !name.starts_with('-');
        if valid {
            Ok(Self(name))
        } else {
            Err(McpCatalogError::invalid(
                "name",
                format!("a server name is 1-{SERVER_NAME_MAX} of [a-z0-9-], not starting with '-'"),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ServerName {
    type Error = McpCatalogError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ServerName> for String {
    fn from(name: ServerName) -> Self {
        name.0
    }
}

impl std::fmt::Display for ServerName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the worker reaches the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum McpTransport {
    /// MCP's Streamable HTTP transport at `url`, with plain (non-credential) headers.
    #[serde(rename = "streamableHttp")]
    StreamableHttp {
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// A child process the worker spawns and speaks to over stdin/stdout; only
    /// commands on the operator's allow-list ([`StdioPolicy`]).
    Stdio {
        command: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
}

/// How the server authenticates the worker: by name of a secret or grant of the auth
/// registry, resolved by the worker at call time (the value never enters the catalog,
/// an activity's input or the session log).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum McpAuth {
    #[default]
    None,
    /// A stored secret sent as `header: prefix + value` (Streamable HTTP only).
    #[serde(rename_all = "camelCase")]
    SecretHeader {
        secret: String,
        #[serde(default = "default_header")]
        header: String,
        #[serde(default = "default_prefix")]
        prefix: String,
    },
    /// A stored secret in the environment variable `var` of the child (stdio only).
    #[serde(rename_all = "camelCase")]
    SecretEnv { secret: String, var: String },
    /// A grant of the auth registry (OAuth tokens refreshed by its broker, or a static
    /// bearer), sent as its header (Streamable HTTP only).
    #[serde(rename_all = "camelCase")]
    Grant { grant_id: String },
}

fn default_header() -> String {
    "Authorization".to_owned()
}

fn default_prefix() -> String {
    "Bearer ".to_owned()
}

/// Which of the server's tools a session gets: all but `deny` when `allow` is empty,
/// else the names in `allow` but not in `deny`. Names are the server's own, exact.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

impl ToolFilter {
    pub fn admits(&self, tool: &str) -> bool {
        (self.allow.is_empty() || self.allow.iter().any(|name| name == tool))
            && !self.deny.iter().any(|name| name == tool)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpTimeouts {
    /// Connecting and the MCP handshake.
    #[serde(default = "connect_ms_default")]
    pub connect_ms: u64,
    /// One tool call, from request to result.
    #[serde(default = "call_ms_default")]
    pub call_ms: u64,
}

fn connect_ms_default() -> u64 {
    CONNECT_MS_DEFAULT
}

fn call_ms_default() -> u64 {
    CALL_MS_DEFAULT
}

impl Default for McpTimeouts {
    fn default() -> Self {
        Self {
            connect_ms: CONNECT_MS_DEFAULT,
            call_ms: CALL_MS_DEFAULT,
        }
    }
}

/// What a client sets; the catalog adds name, revision and times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpServerSpec {
    pub transport: McpTransport,
    #[serde(default)]
    pub auth: McpAuth,
    #[serde(default)]
    pub tools: ToolFilter,
    #[serde(default)]
    pub timeouts: McpTimeouts,
}

/// A stored server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpServer {
    pub name: ServerName,
    pub spec: McpServerSpec,
    /// 1 when created, up by one with every replacement (compare-and-set).
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// The operator's allow-list of commands a stdio server may run (the worker spawns
/// them on its own machine, so no tenant may name an arbitrary program). Empty: no
/// stdio servers at all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StdioPolicy {
    allowed: Vec<String>,
}

impl StdioPolicy {
    pub fn new(allowed: impl IntoIterator<Item = String>) -> Self {
        Self {
            allowed: allowed
                .into_iter()
                .map(|command| command.trim().to_owned())
                .filter(|command| !command.is_empty())
                .collect(),
        }
    }

    /// Parses a comma-separated list (`LIGHTSPEED_MCP_STDIO_COMMANDS`).
    pub fn parse(list: &str) -> Self {
        Self::new(list.split(',').map(str::to_owned))
    }

    /// Whether `command` is on the list, compared exactly (no path search, no globs).
    pub fn permits(&self, command: &str) -> bool {
        self.allowed.iter().any(|allowed| allowed == command)
    }

    pub fn is_empty(&self) -> bool {
        self.allowed.is_empty()
    }
}

impl McpServerSpec {
    /// Checks every rule before the record is stored or used.
    pub fn validate(&self, stdio: &StdioPolicy) -> Result<(), McpCatalogError> {
        match &self.transport {
            McpTransport::StreamableHttp { url, headers } => {
                validate_url(url)?;
                check_len("transport.headers", headers.len(), HEADERS_MAX)?;
                for (name, value) in headers {
                    validate_header(name, value)?;
                }
                if matches!(self.auth, McpAuth::SecretEnv { .. }) {
                    return Err(McpCatalogError::invalid(
                        "auth",
                        "secretEnv is for stdio servers; use secretHeader or grant",
                    ));
                }
            }
            McpTransport::Stdio { command, args, env } => {
                if !stdio.permits(command) {
                    return Err(McpCatalogError::invalid(
                        "transport.command",
                        format!(
                            "{:?} is not on this deployment's stdio allow-list \
                             (LIGHTSPEED_MCP_STDIO_COMMANDS)",
                            bounded(command)
                        ),
                    ));
                }
                check_len("transport.args", args.len(), ARGS_MAX)?;
                check_len("transport.env", env.len(), HEADERS_MAX)?;
                for value in args.iter().chain(env.values()) {
                    check_value("transport", value)?;
                }
                for name in env.keys() {
                    validate_env_name("transport.env", name)?;
                }
                if matches!(
                    self.auth,
                    McpAuth::SecretHeader { .. } | McpAuth::Grant { .. }
                ) {
                    return Err(McpCatalogError::invalid(
                        "auth",
                        "stdio servers take a secret as an environment variable (secretEnv)",
                    ));
                }
            }
        }
        match &self.auth {
            McpAuth::None => {}
            McpAuth::SecretHeader {
                secret,
                header,
                prefix,
            } => {
                validate_ref_name("auth.secret", secret)?;
                if !is_token(header) {
                    return Err(McpCatalogError::invalid(
                        "auth.header",
                        "not a valid header name",
                    ));
                }
                check_value("auth.prefix", prefix)?;
            }
            McpAuth::SecretEnv { secret, var } => {
                validate_ref_name("auth.secret", secret)?;
                validate_env_name("auth.var", var)?;
            }
            McpAuth::Grant { grant_id } => validate_ref_name("auth.grantId", grant_id)?,
        }
        let names = self.tools.allow.len() + self.tools.deny.len();
        check_len("tools", names, FILTER_NAMES_MAX)?;
        for name in self.tools.allow.iter().chain(&self.tools.deny) {
            if name.is_empty() || name.len() > 128 {
                return Err(McpCatalogError::invalid(
                    "tools",
                    "a tool name is 1-128 bytes",
                ));
            }
        }
        if !(1..=CONNECT_MS_MAX).contains(&self.timeouts.connect_ms) {
            return Err(McpCatalogError::invalid(
                "timeouts.connectMs",
                format!("between 1 and {CONNECT_MS_MAX}"),
            ));
        }
        if !(1..=CALL_MS_MAX).contains(&self.timeouts.call_ms) {
            return Err(McpCatalogError::invalid(
                "timeouts.callMs",
                format!("between 1 and {CALL_MS_MAX}"),
            ));
        }
        Ok(())
    }
}

/// `http(s)://host[:port]/path...` without user info (a credential in a URL would be
/// stored and shown in the clear) or a fragment. Loopback `http` is allowed for
/// development; anything else should be `https`, which the worker does not enforce
/// because private networks serve MCP over plain HTTP behind their own boundary.
fn validate_url(url: &str) -> Result<(), McpCatalogError> {
    let field = "transport.url";
    if url.len() > URL_BYTES_MAX {
        return Err(McpCatalogError::invalid(
            field,
            format!("at most {URL_BYTES_MAX} bytes"),
        ));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| McpCatalogError::invalid(field, "must start with http:// or https://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err(McpCatalogError::invalid(field, "has no host"));
    }
    if authority.contains('@') {
        return Err(McpCatalogError::invalid(
            field,
            "must not carry credentials; use auth with a stored secret",
        ));
    }
    if url.contains('#') || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(McpCatalogError::invalid(
            field,
            "has a fragment, whitespace or control characters",
        ));
    }
    Ok(())
}

fn validate_header(name: &str, value: &str) -> Result<(), McpCatalogError> {
    if !is_token(name) {
        return Err(McpCatalogError::invalid(
            "transport.headers",
            format!("{:?} is not a valid header name", bounded(name)),
        ));
    }
    if CREDENTIAL_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(McpCatalogError::invalid(
            "transport.headers",
            format!("{name} carries a credential; set auth to a stored secret instead"),
        ));
    }
    check_value("transport.headers", value)?;
    if value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
        return Err(McpCatalogError::invalid(
            "transport.headers",
            "a header value has CR, LF or NUL",
        ));
    }
    Ok(())
}

/// RFC 9110 token characters.
fn is_token(name: &str) -> bool {
    (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn validate_env_name(field: &'static str, name: &str) -> Result<(), McpCatalogError> {
    let valid = (1..=128).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if valid {
        Ok(())
    } else {
        Err(McpCatalogError::invalid(
            field,
            "an environment variable name is [A-Za-z0-9_], not starting with a digit",
        ))
    }
}

/// Names of secrets and grants: what the auth registry accepts.
fn validate_ref_name(field: &'static str, name: &str) -> Result<(), McpCatalogError> {
    let valid = (1..=128).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(McpCatalogError::invalid(field, "1-128 of [A-Za-z0-9_.-]"))
    }
}

fn check_value(field: &'static str, value: &str) -> Result<(), McpCatalogError> {
    if value.len() > VALUE_BYTES_MAX || value.contains('\0') {
        return Err(McpCatalogError::invalid(
            field,
            format!("a value is at most {VALUE_BYTES_MAX} bytes, without NUL"),
        ));
    }
    Ok(())
}

fn check_len(field: &'static str, len: usize, max: usize) -> Result<(), McpCatalogError> {
    if len > max {
        return Err(McpCatalogError::invalid(field, format!("at most {max}")));
    }
    Ok(())
}

/// At most 64 characters of something a client sent, for a message.
fn bounded(text: &str) -> String {
    text.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(url: &str) -> McpServerSpec {
        McpServerSpec {
            transport: McpTransport::StreamableHttp {
                url: url.to_owned(),
                headers: BTreeMap::new(),
            },
            auth: McpAuth::None,
            tools: ToolFilter::default(),
            timeouts: McpTimeouts::default(),
        }
    }

    #[test]
    fn names_split_at_the_first_double_underscore() {
        assert!(ServerName::new("everything").is_ok());
        assert!(ServerName::new("my-server-2").is_ok());
        for bad in ["", "-x", "has_underscore", "Upper", &"a".repeat(33)] {
            assert!(ServerName::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_without_credentials_or_fragments() {
        let open = StdioPolicy::default();
        assert!(http("https://mcp.example.com/mcp").validate(&open).is_ok());
        assert!(http("http://127.0.0.1:3000/mcp").validate(&open).is_ok());
        for bad in [
            "ftp://x/",
            "https://",
            "https://user:pw@host/",
            "https://host/#frag",
            "https://host/ x",
        ] {
            assert!(http(bad).validate(&open).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn credential_headers_are_refused_in_plain_headers() {
        let mut spec = http("https://host/mcp");
        let McpTransport::StreamableHttp { headers, .. } = &mut spec.transport else {
            unreachable!()
        };
        headers.insert("X-Tenant".into(), "acme".into());
        assert!(spec.validate(&StdioPolicy::default()).is_ok());
        let McpTransport::StreamableHttp { headers, .. } = &mut spec.transport else {
            unreachable!()
        };
        headers.insert("authorization".into(), "Bearer s3cr3t-value".into());
        let err = spec.validate(&StdioPolicy::default()).unwrap_err();
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
    }

    #[test]
    fn stdio_only_from_the_allow_list() {
        let spec = McpServerSpec {
            transport: McpTransport::Stdio {
                command: "npx".into(),
                args: vec!["server-everything".into()],
                env: BTreeMap::new(),
            },
            ..http("https://unused/")
        };
        assert_eq!(
            spec.validate(&StdioPolicy::default()).unwrap_err().code(),
            "invalidMcpServer"
        );
        assert!(spec.validate(&StdioPolicy::parse("node, npx")).is_ok());
        let with_header_auth = McpServerSpec {
            auth: McpAuth::Grant {
                grant_id: "grant_1".into(),
            },
            ..spec
        };
        assert!(
            with_header_auth
                .validate(&StdioPolicy::parse("npx"))
                .is_err()
        );
    }

    #[test]
    fn filters_allow_then_deny() {
        let filter = ToolFilter {
            allow: vec![],
            deny: vec!["rm".into()],
        };
        assert!(filter.admits("echo") && !filter.admits("rm"));
        let filter = ToolFilter {
            allow: vec!["echo".into()],
            deny: vec![],
        };
        assert!(filter.admits("echo") && !filter.admits("add"));
    }

    #[test]
    fn records_round_trip_with_defaults() {
        let spec: McpServerSpec = serde_json::from_value(serde_json::json!({
            "transport": {"type": "streamableHttp", "url": "https://h/mcp"},
            "auth": {"type": "secretHeader", "secret": "gh-token"}
        }))
        .unwrap();
        assert_eq!(
            spec.auth,
            McpAuth::SecretHeader {
                secret: "gh-token".into(),
                header: "Authorization".into(),
                prefix: "Bearer ".into()
            }
        );
        assert_eq!(spec.timeouts, McpTimeouts::default());
        let back: McpServerSpec =
            serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
    }
}
