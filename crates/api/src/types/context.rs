//! What enters a session's context besides its transcript: compaction on request
//! (`session/compact`) and skills found in its mounts (`session/skills/*`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Longest compaction instruction, in bytes.
pub const COMPACT_INSTRUCTION_BYTES_MAX: usize = 4 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionCompactParams {
    pub session_id: String,
    /// What the compaction should keep in particular (at most 4 KiB), e.g.
    /// "the list of failing tests". The summariser is told, and so is OpenAI's
    /// standalone compaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<String>,
}

/// A compaction durably requested. It runs when the session is next between steps (at
/// once when idle, at the next step boundary of a running run); its result appears as
/// a `compaction` item in `context.compacted` (or `context.compaction_failed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionCompactResult {
    pub session_id: String,
    /// The compaction's number in the session (1 for the first).
    pub compaction: u32,
    /// The event cursor of the request.
    pub cursor: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionSkillParams {
    pub session_id: String,
    /// The skill's name (its folder's name).
    pub name: String,
}

/// A skill found in the session's mounts: a folder with a `SKILL.md` under one of
/// the deployment's skill roots (default `.agents/skills`, `.claude/skills`,
/// `skills`) of a mount.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SkillView {
    pub name: String,
    pub description: String,
    /// Session path of its `SKILL.md`.
    pub path: String,
    /// Its body is pinned in the context (`session/skills/activate`); otherwise the
    /// model sees it in the skill catalog and reads it when a task calls for it.
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionSkillsListResult {
    pub skills: Vec<SkillView>,
}
