//! Memory (`memory/*`, `session/memory/*`): labelled, size-limited blocks pinned in
//! the context of the sessions they are attached to (several sessions may share
//! one; an edit is in each one's next request), and archival passages searched by
//! words.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryBlockCreateParams {
    /// `[a-z0-9_-]`, 1 to 64 characters, unique in the universe.
    pub label: String,
    /// What the block is for (at most 1 KiB), shown to the agent with it.
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub value: String,
    /// Most bytes (UTF-8) the value may hold: 1 to 100,000, default 5,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    /// The agent's tools may not edit it (clients still may).
    #[serde(default)]
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryBlockRef {
    pub label: String,
}

/// A memory block, with its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryBlockView {
    pub label: String,
    pub description: String,
    pub value: String,
    /// Bytes (UTF-8) the value holds now.
    pub bytes: u64,
    pub limit_bytes: u64,
    pub read_only: bool,
    /// Moved by every change; `memory/blocks/update` names the one it read.
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

/// A memory block without its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryBlockSummary {
    pub label: String,
    pub description: String,
    pub bytes: u64,
    pub limit_bytes: u64,
    pub read_only: bool,
    pub revision: u64,
    pub updated_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryBlockListParams {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryBlockListResult {
    /// Every block of the universe, by label.
    pub blocks: Vec<MemoryBlockSummary>,
}

/// Changes a block at the revision the caller read; fields left out stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryBlockUpdateParams {
    pub label: String,
    /// The revision read; another is `-32009 memoryBlockConflict` (with
    /// `data.currentRevision`).
    pub expected_revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryBlockDeleteParams {
    pub label: String,
    /// Detach it from every session that has it; without, a block some session has is
    /// refused (`-32009 memoryBlockLinked`).
    #[serde(default)]
    pub force: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryBlockDeleteResult {
    pub deleted: bool,
    /// Sessions it was detached from.
    pub detached: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionMemoryAttachParams {
    pub session_id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMemoryAttachResult {
    pub block: MemoryBlockSummary,
    /// False when the session had it already.
    pub attached: bool,
    /// The memory tools the session has (`memory_replace`, `memory_append`,
    /// `memory_rethink`, `archival_insert`, `archival_search`).
    pub tools: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionMemoryDetachParams {
    pub session_id: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMemoryDetachResult {
    pub detached: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionMemoryListParams {
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionMemoryListResult {
    /// The session's blocks, by label.
    pub blocks: Vec<MemoryBlockSummary>,
    /// The memory tools the session has.
    pub tools: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryArchivalInsertParams {
    /// 1 to 16 KiB of UTF-8.
    pub text: String,
    /// At most 16, each `[a-z0-9_-]`, 1 to 64 characters.
    #[serde(default)]
    pub tags: Vec<String>,
}

/// An archival passage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryPassageView {
    pub id: String,
    pub text: String,
    pub tags: Vec<String>,
    pub created_at_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryArchivalSearchParams {
    /// Words to look for (at most 1 KiB); a passage matching more of them ranks
    /// higher, newer first on ties.
    pub query: String,
    /// Only passages carrying every one of these tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// 1 to 50, default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryArchivalSearchResult {
    /// Best first.
    pub passages: Vec<MemoryPassageView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryArchivalDeleteParams {
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemoryArchivalDeleteResult {
    pub deleted: bool,
}
