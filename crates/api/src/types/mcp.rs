//! MCP servers of a universe (`mcp/servers/*`) and their links to sessions
//! (`session/mcp/*`). A server record never holds a credential: it names a secret
//! or grant of the auth registry (`auth/*`), resolved by the worker at call time.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the worker reaches the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum McpTransportInput {
    /// MCP's Streamable HTTP transport. `headers` are plain headers, stored and shown
    /// as given: credential headers (`Authorization`, `Cookie`, `X-Api-Key`, ...) are
    /// refused here; use `auth`.
    #[serde(rename = "streamableHttp")]
    StreamableHttp {
        url: String,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
    },
    /// A child process of the worker, spoken to over stdin/stdout. Only commands on the
    /// deployment's allow-list (`LIGHTSPEED_MCP_STDIO_COMMANDS`, default none).
    Stdio {
        command: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
}

/// How the server authenticates the worker.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum McpAuthInput {
    #[default]
    None,
    /// A stored secret (`auth/secrets/put`) sent as `header: prefix + value`.
    /// Default header `Authorization`, prefix `Bearer `. Streamable HTTP only.
    #[serde(rename_all = "camelCase")]
    SecretHeader {
        secret: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        prefix: Option<String>,
    },
    /// A stored secret in the child's environment variable `var`. Stdio only.
    #[serde(rename_all = "camelCase")]
    SecretEnv { secret: String, var: String },
    /// An auth grant (`auth/flows/start` for OAuth), refreshed by the token broker.
    /// Streamable HTTP only.
    #[serde(rename_all = "camelCase")]
    Grant { grant_id: String },
}

/// Which tools a session gets: all but `deny` when `allow` is empty, else those in
/// `allow` but not in `deny` (the server's names, exact).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpToolFilterInput {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpTimeoutsInput {
    /// Connecting and the MCP handshake: 1 to 60,000 ms; default 10,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// One tool call: 1 to 3,600,000 ms; default 120,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpServerPutParams {
    /// 1-32 of `[a-z0-9-]`, not starting with `-`; linked tools are `name__tool`.
    pub name: String,
    pub transport: McpTransportInput,
    #[serde(default)]
    pub auth: McpAuthInput,
    #[serde(default)]
    pub tools: McpToolFilterInput,
    #[serde(default)]
    pub timeouts: McpTimeoutsInput,
    /// `0`: create only. A revision: replace only at it. Absent: create or replace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
}

/// A stored server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerView {
    pub name: String,
    pub transport: McpTransportInput,
    pub auth: McpAuthInput,
    pub tools: McpToolFilterInput,
    pub timeouts: McpTimeoutsInput,
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpServerRef {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct McpServerListParams {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerListResult {
    /// Ordered by name.
    pub servers: Vec<McpServerView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpServerDeleteResult {
    /// Whether there was a server to delete. Sessions linked to it keep its tools,
    /// whose calls then fail as tool errors, until unlinked.
    pub deleted: bool,
}

/// Who calls a linked server's tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum McpLinkMode {
    /// The worker's MCP client, inside the tool activity: the server's tools become
    /// session tools named `server__tool`.
    #[default]
    Client,
    /// The model provider calls the server itself (OpenAI Responses `mcp` tools,
    /// Anthropic `mcp_servers`; Streamable HTTP servers only). The session gets one
    /// tool entry, `server__mcp`; the server's credential is added when each
    /// generation is sent and redacted from the stored request.
    Hosted,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionMcpLinkParams {
    pub session_id: String,
    pub server: String,
    #[serde(default)]
    pub mode: McpLinkMode,
}

/// A linked tool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct McpLinkedToolView {
    /// The session's name for it: `server__tool`.
    pub name: String,
    /// The server's name for it.
    pub tool: String,
    /// Its definition (name, description, parameters) in the CAS.
    pub definition_ref: String,
}

/// A server linked to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMcpLinkView {
    pub server: String,
    pub mode: McpLinkMode,
    /// The server record's revision the tools were listed at.
    pub server_revision: u64,
    pub tools: Vec<McpLinkedToolView>,
    /// Tools the server listed that the link left out (filtered, over the session's
    /// tool limit, or colliding once namespaced).
    pub skipped: Vec<String>,
    pub linked_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionMcpUnlinkParams {
    pub session_id: String,
    pub server: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMcpUnlinkResult {
    /// Whether the server was linked; its tools are gone from the session either way.
    pub unlinked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionMcpListParams {
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMcpListResult {
    /// Ordered by server name.
    pub links: Vec<SessionMcpLinkView>,
}
