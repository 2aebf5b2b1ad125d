//! Environments (`environments/*`): machines a daemon (`lightspeed env serve`) lends
//! to the universe's sessions, and their attachment to sessions
//! (`session/environments/*`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentCreateParams {
    /// `[a-z0-9-]`, 1 to 32 characters, not starting with `-`.
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// A new environment and its token, shown this once: the daemon dials the gateway
/// with it (`LIGHTSPEED_ENV_TOKEN`). Only its digest is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentCreated {
    pub environment: EnvironmentView,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentRef {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvironmentListParams {}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EnvironmentStatus {
    /// A daemon is connected and was heard from recently.
    Online,
    /// A daemon was connected once; none is now.
    Offline,
    /// No daemon has connected yet.
    Never,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentView {
    pub id: String,
    pub name: String,
    pub description: String,
    pub status: EnvironmentStatus,
    pub created_at_ms: u64,
    /// What its daemon last reported; absent until one connects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<EnvironmentHostView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentHostView {
    pub last_seen_ms: u64,
    pub os: String,
    pub arch: String,
    pub hostname: String,
    /// The directory commands and file operations are confined to.
    pub dir: String,
    /// `landlock`, `bwrap` or `none`.
    pub sandbox: String,
    /// Whether commands may use the network.
    pub network: bool,
    pub daemon_version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentListResult {
    pub environments: Vec<EnvironmentView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentDeleteResult {
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionEnvironmentAttachParams {
    pub session_id: String,
    /// The environment's name.
    pub environment: String,
    /// The name it is attached at (default: the environment's name): its directory
    /// is `/env/NAME` for the file tools, and the shell tools take `NAME`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionEnvironmentDetachParams {
    pub session_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionEnvironmentListParams {
    pub session_id: String,
}

/// An environment attached to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnvironmentView {
    pub name: String,
    /// Where the file tools see its directory: `/env/NAME`.
    pub path: String,
    pub environment: EnvironmentView,
    pub attached_at_ms: u64,
    /// The shell tools the session has for it (`exec_command` and `write_stdin`, or
    /// `Bash` for `anthropic:messages`).
    pub tools: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnvironmentDetachResult {
    pub detached: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEnvironmentListResult {
    pub environments: Vec<SessionEnvironmentView>,
}

/// An environment daemon the backend let in (`GET /env/connect`): whose it is. Not
/// part of the JSON-RPC contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentGrant {
    pub universe_id: String,
    pub environment_id: String,
    pub name: String,
}

/// A daemon's socket as the gateway hands it to the backend: frames decoded and
/// bounded by the gateway. Dropping `outgoing` closes the socket; `incoming` ends
/// when the daemon goes away.
pub struct EnvSocket {
    pub incoming: futures::channel::mpsc::Receiver<env_protocol::DaemonMessage>,
    pub outgoing: futures::channel::mpsc::Sender<env_protocol::GatewayMessage>,
}

impl std::fmt::Debug for EnvSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvSocket")
    }
}
