//! The operator's methods (`operator/...`): served only to an operator key, which
//! serves nothing else (docs/operating/operators.md). An operator key belongs to no
//! universe; it mints, lists and revokes the universes' keys, and every operator call
//! is written to the audit log.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Mints a key for a universe. The plaintext is answered once and never stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyCreateParams {
    /// The universe the key acts in (any id the deployment's store accepts; a
    /// Postgres deployment takes UUIDs).
    pub universe_id: String,
    /// A label for people (who or what uses the key), at most 128 bytes.
    #[serde(default)]
    pub name: String,
}

/// What is known of a key: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyView {
    /// Public id, safe to log and to show.
    pub key_id: String,
    /// The universe it acts in (empty for an operator key).
    pub universe_id: String,
    pub name: String,
    /// Whether it is an operator key.
    pub operator: bool,
    pub created_at_ms: u64,
    /// When it was revoked; a revoked key is refused (`keyRevoked`) by every gateway
    /// within `keyRecheckMs`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at_ms: Option<u64>,
}

/// The new key: the plaintext `key` (shown only here) and its record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyCreateResult {
    pub key: String,
    pub record: ApiKeyView,
}

/// Lists keys, newest first: one universe's, or every universe's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyListParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub universe_id: Option<String>,
    /// Include revoked keys (default false).
    #[serde(default)]
    pub include_revoked: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyListResult {
    pub keys: Vec<ApiKeyView>,
}

/// Revokes a key (again: no change). An operator cannot revoke the key it calls with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ApiKeyRevokeParams {
    pub key_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyRevokeResult {
    pub record: ApiKeyView,
}

/// Reads the audit log, newest first, a page at a time.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuditListParams {
    /// Entries older than this sequence number (the previous page's `nextBefore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<u64>,
    /// At most this many (default 100, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// One operator call: who, what, on what, and how it ended. Never a key or params
/// beyond the ids they name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntryView {
    /// Increasing with time, unique within the deployment.
    pub seq: u64,
    pub at_ms: u64,
    /// The operator key that called.
    pub key_id: String,
    pub method: String,
    /// What the call named: `universe:{id}` or `key:{id}`; empty when nothing.
    pub target: String,
    /// 0 when it succeeded, else the JSON-RPC error code it answered.
    pub code: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditListResult {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_before: Option<u64>,
}

/// Lists the universes the deployment holds keys for, in id order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UniverseListParams {}

/// Reads one universe: its keys and what it holds and has spent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UniverseReadParams {
    pub universe_id: String,
}

/// A universe as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniverseView {
    pub universe_id: String,
    /// Keys that act in it now.
    pub active_keys: u32,
    /// Keys that were revoked.
    pub revoked_keys: u32,
    /// When its first key was minted.
    pub first_key_at_ms: u64,
    /// Sessions, runs in flight, stored bytes and cost, as `universe/usage` counts them
    /// (in `operator/universes/read` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<super::universe::UniverseUsageView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniverseListResult {
    pub universes: Vec<UniverseView>,
}
