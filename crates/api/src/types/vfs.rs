//! The virtual filesystem: snapshots (immutable trees of CAS blobs), workspaces
//! (a mutable head with a revision) and mounts (a session path bound to either).
//! Upload file contents first (`blob/put` or `PUT /blobs/{ref}`), then commit a
//! snapshot that names them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One file of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsFileEntry {
    /// Relative and normal: names joined by `/`, no `.`, `..`, empty names, NUL,
    /// control characters or backslashes.
    pub path: String,
    /// The file's content, already in the CAS.
    pub blob_ref: String,
    /// Must equal the blob's size.
    pub size_bytes: u64,
    #[serde(default)]
    pub executable: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsSnapshotCommitParams {
    /// The files, in any order; at most 50,000 (the default limit).
    pub entries: Vec<VfsFileEntry>,
}

/// A snapshot's identity and totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfsSnapshotView {
    /// The ref of the snapshot's manifest: equal trees have equal refs.
    pub snapshot_ref: String,
    pub file_count: u64,
    pub total_bytes: u64,
}

pub type VfsSnapshotCommitResult = VfsSnapshotView;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsSnapshotReadParams {
    pub snapshot_ref: String,
    /// From a previous page's `nextCursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Entries per page: 1 to 5,000; default 1,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfsSnapshotReadResult {
    pub snapshot_ref: String,
    pub file_count: u64,
    pub total_bytes: u64,
    /// This page of files, in byte order of their paths.
    pub entries: Vec<VfsFileEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsWorkspaceCreateParams {
    /// Client-chosen id (1 to 128 of `[A-Za-z0-9_.-]`, starting with a letter or
    /// digit); creating it again with the same snapshot returns it unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace_id: Option<String>,
    /// The initial tree; default empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_ref: Option<String>,
}

/// A workspace's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfsWorkspaceView {
    pub workspace_id: String,
    /// Starts at 1; every write adds one. `vfs/workspace/update` must name it.
    pub revision: u64,
    pub snapshot_ref: String,
    pub file_count: u64,
    pub total_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsWorkspaceRef {
    pub workspace_id: String,
}

/// Moves the head to another snapshot, if the revision still matches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsWorkspaceUpdateParams {
    pub workspace_id: String,
    pub expected_revision: u64,
    pub snapshot_ref: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsWorkspaceDeleteParams {
    pub workspace_id: String,
    /// Delete only at this revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfsWorkspaceDeleteResult {
    pub workspace_id: String,
}

/// What a mount shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum VfsMountSource {
    /// An immutable snapshot: always read-only.
    #[serde(rename_all = "camelCase")]
    Snapshot { snapshot_ref: String },
    /// A workspace's current head, read at every tool call.
    #[serde(rename_all = "camelCase")]
    Workspace { workspace_id: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum VfsMountMode {
    #[default]
    ReadOnly,
    /// Workspaces only.
    ReadWrite,
}

/// Attaches a snapshot or workspace at a session path (replacing a mount there).
/// The session need not be started yet; its file tools read the mounts at each call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsMountPutParams {
    pub session_id: String,
    /// Absolute, e.g. `/workspace`; normalised (`..` may not climb above `/`).
    pub mount_path: String,
    pub source: VfsMountSource,
    /// Default `readOnly`.
    #[serde(default)]
    pub mode: VfsMountMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfsMountView {
    pub mount_path: String,
    pub source: VfsMountSource,
    pub mode: VfsMountMode,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsMountDeleteParams {
    pub session_id: String,
    pub mount_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfsMountDeleteResult {
    /// Whether a mount was there.
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VfsMountListParams {
    pub session_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VfsMountListResult {
    /// Ordered by path; at most 32 (the default limit).
    pub mounts: Vec<VfsMountView>,
}
