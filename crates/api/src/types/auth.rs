//! The auth registry: a universe's secrets (encrypted at rest, never returned), OAuth
//! authorization flows and the grants they produce. MCP servers name a secret or a
//! grant; the worker resolves it at call time.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthSecretPutParams {
    /// 1-128 of `[A-Za-z0-9_.-]`; putting an existing name replaces its value.
    pub name: String,
    /// The value: at most 64 KiB of UTF-8. Encrypted before it is stored; no method
    /// ever returns it.
    pub value: String,
    /// What the secret is for (bound into its encryption); default `mcp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
}

/// A secret's metadata; never its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSecretView {
    pub name: String,
    pub purpose: String,
    /// Id of the deployment key that encrypted it (keys rotate).
    pub key_id: String,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthSecretListParams {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSecretListResult {
    /// Ordered by name.
    pub secrets: Vec<AuthSecretView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthSecretDeleteParams {
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthSecretDeleteResult {
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthFlowStartParams {
    /// The protected resource: an MCP server's URL. Its authorization server is
    /// discovered (RFC 9728 protected-resource metadata, then RFC 8414).
    pub resource_url: String,
    /// Scopes to ask for; default those the resource's metadata lists.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// A client registered beforehand; absent: dynamic client registration
    /// (RFC 7591) when the authorization server offers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Name of a stored secret holding that client's secret (confidential clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// Name of the grant the flow produces; default derived from the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuthFlowStatus {
    /// Waiting for the user to authorize at `authorizationUrl`.
    Pending,
    /// The callback arrived and the code was exchanged: `grantId` is usable.
    Completed,
    /// The authorization server refused, the exchange failed, or the flow expired.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthFlowView {
    pub flow_id: String,
    pub status: AuthFlowStatus,
    /// Where the user authorizes (PKCE S256, `state` bound to this flow); open it in a
    /// browser. Present while pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_url: Option<String>,
    /// The grant a completed flow produced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// Why a failed flow failed (bounded; never a token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub expires_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthFlowRef {
    pub flow_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AuthGrantStatus {
    Active,
    /// The refresh token was refused (`invalid_grant`): authorize again.
    NeedsReauth,
    Revoked,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthGrantView {
    pub grant_id: String,
    pub name: String,
    /// `oauth` (tokens refreshed by the broker) or `secret` (a stored secret as a header).
    pub kind: String,
    pub status: AuthGrantStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    /// When the current access token expires (OAuth).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<u64>,
    pub updated_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthGrantListParams {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthGrantListResult {
    pub grants: Vec<AuthGrantView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthGrantRef {
    pub grant_id: String,
}
