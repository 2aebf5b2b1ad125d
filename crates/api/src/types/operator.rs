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

/// A universe as the operator sees it: created with `operator/universes/create`, or
/// known from the keys minted for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniverseView {
    pub universe_id: String,
    /// The label it was created with (empty when it is known only from keys).
    #[serde(default)]
    pub name: String,
    /// When it was created, or else when its first key was minted.
    pub created_at_ms: u64,
    /// Keys that act in it now.
    pub active_keys: u32,
    /// Keys that were revoked.
    pub revoked_keys: u32,
    /// When it was deleted (its keys are revoked and its data gone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at_ms: Option<u64>,
    /// Sessions, runs in flight, stored bytes and cost, as `universe/usage` counts them
    /// (in `operator/universes/read` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<super::universe::UniverseUsageView>,
    /// Its dispatch (in `operator/universes/read` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dispatch: Option<DispatchView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniverseListResult {
    pub universes: Vec<UniverseView>,
}

/// Creates a universe: an empty tenant the operator then mints keys for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UniverseCreateParams {
    /// Any id the deployment's store accepts (a Postgres deployment takes UUIDs),
    /// at most 128 bytes.
    pub universe_id: String,
    /// A label for people, at most 128 bytes.
    #[serde(default)]
    pub name: String,
}

/// Deletes a universe: revokes its keys, closes and deletes its sessions (runs in
/// flight are cancelled) and deletes its schedules, environments, MCP servers,
/// memory blocks and secrets. Its blobs go with the next collection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UniverseDeleteParams {
    pub universe_id: String,
    /// Must repeat `universeId`: deletion cannot be undone.
    pub confirm: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UniverseDeleteResult {
    pub universe_id: String,
    pub revoked_keys: u32,
    pub deleted_sessions: u32,
    /// Schedules, environments, MCP servers, memory blocks and secrets deleted.
    pub deleted_records: u32,
}

/// Names the universe an operator call acts on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DispatchParams {
    pub universe_id: String,
}

/// A universe's dispatch: while paused, requested runs queue in their sessions and
/// none starts; runs already active go on (or are cancelled with
/// `operator/runs/cancel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DispatchView {
    pub universe_id: String,
    pub paused: bool,
    /// When it was paused (absent when running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_at_ms: Option<u64>,
    /// Sessions with runs in flight this call held (pause) or released (resume);
    /// in a runs list or a universe read, the sessions with runs in flight.
    pub sessions: u32,
}

/// Lists a universe's runs in flight: each session's active run, then its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorRunsListParams {
    pub universe_id: String,
    /// At most this many sessions are read (default 100, at most 1,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

/// Where a run in flight stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RunInFlightState {
    /// Running, or waiting on a tool, an approval or a timer.
    Active,
    /// Waiting for the run before it, or for dispatch to resume.
    Queued,
}

/// One run in flight, as the operator sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RunInFlightView {
    pub session_id: String,
    pub run_id: String,
    pub state: RunInFlightState,
    /// When it was requested (the host's clock when its request was recorded; 0
    /// for a run requested before this was kept).
    pub requested_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
    /// Milliseconds since it was requested, at the time of the answer.
    pub age_ms: u64,
    /// Its usage and cost so far (zero while queued).
    pub usage: super::session::UsageView,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorRunsListResult {
    pub runs: Vec<RunInFlightView>,
    /// The universe's dispatch (`sessions`: how many sessions the runs are in).
    pub dispatch: DispatchView,
    /// More sessions have runs in flight than `limit` allowed to read.
    pub truncated: bool,
}

/// Cancels a run of a universe, queued or active, as `run/cancel` would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorRunCancelParams {
    pub universe_id: String,
    pub session_id: String,
    pub run_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}
