//! Workspaces: a mutable head (snapshot + revision) over immutable snapshots.
//!
//! Every write stores a new snapshot and compare-and-sets the head from the revision
//! it read; if another write moved the head first, the write fails with
//! [`VfsError::Conflict`] and nothing changes. Nothing is ever lost: the loser
//! re-reads the head and applies its change on top.

use std::fmt;

use engine::BlobRef;
use engine::store::BlobStore;
use serde::{Deserialize, Serialize};

use crate::catalog::VfsCatalog;
use crate::error::VfsError;
use crate::limits::Limits;
use crate::snapshot::Snapshot;

/// Revision of a newly created workspace; each write adds one.
pub const WORKSPACE_REVISION_INITIAL: u64 = 1;
/// Longest workspace id, in bytes.
pub const WORKSPACE_ID_BYTES_MAX: usize = 128;

/// A workspace id: 1 to 128 of `[A-Za-z0-9_.-]`, starting with a letter or digit
/// (so it is a safe file name and never `.` or `..`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct WorkspaceId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "workspace id must be 1 to {WORKSPACE_ID_BYTES_MAX} of [A-Za-z0-9_.-], starting with a letter or digit"
)]
pub struct WorkspaceIdError;

impl WorkspaceId {
    pub fn new(value: impl Into<String>) -> Result<Self, WorkspaceIdError> {
        let value = value.into();
        let valid = (1..=WORKSPACE_ID_BYTES_MAX).contains(&value.len())
            && value
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        match valid {
            true => Ok(Self(value)),
            false => Err(WorkspaceIdError),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for WorkspaceId {
    type Error = WorkspaceIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<WorkspaceId> for String {
    fn from(id: WorkspaceId) -> String {
        id.0
    }
}

impl fmt::Display for WorkspaceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A workspace's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workspace {
    pub id: WorkspaceId,
    pub revision: u64,
    pub snapshot: BlobRef,
}

/// Creates workspace `id` at `snapshot` (which must load), or at the empty snapshot.
pub async fn create<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
    limits: &Limits,
    id: &WorkspaceId,
    snapshot: Option<&BlobRef>,
) -> Result<Workspace, VfsError> {
    let snapshot = match snapshot {
        Some(snapshot) => {
            Snapshot::load(blobs, snapshot).await?;
            snapshot.clone()
        }
        None => Snapshot::new().store(blobs, limits).await?,
    };
    catalog.workspace_create(id, &snapshot).await
}

/// Reads workspace `id`; [`VfsError::WorkspaceNotFound`] if there is none.
pub async fn read<C: VfsCatalog>(catalog: &C, id: &WorkspaceId) -> Result<Workspace, VfsError> {
    catalog
        .workspace_read(id)
        .await?
        .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))
}

/// Moves the head of `id` from `expected_revision` to `snapshot` (which must load).
pub async fn update<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
    id: &WorkspaceId,
    expected_revision: u64,
    snapshot: &BlobRef,
) -> Result<Workspace, VfsError> {
    Snapshot::load(blobs, snapshot).await?;
    catalog
        .workspace_set_head(id, expected_revision, snapshot)
        .await
}

/// Stores `tree` as a new snapshot and moves the head of `id` to it from
/// `expected_revision`. An unchanged tree moves nothing and returns the head as is.
pub async fn commit<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
    limits: &Limits,
    base: &Workspace,
    tree: &Snapshot,
) -> Result<Workspace, VfsError> {
    let snapshot = tree.store(blobs, limits).await?;
    if snapshot == base.snapshot {
        return Ok(base.clone());
    }
    catalog
        .workspace_set_head(&base.id, base.revision, &snapshot)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_file_name_safe() {
        for good in ["ws", "ws-1", "a.b_c", "9"] {
            assert!(WorkspaceId::new(good).is_ok(), "{good}");
        }
        let long = "a".repeat(WORKSPACE_ID_BYTES_MAX + 1);
        for bad in [
            "",
            ".",
            "..",
            ".hidden",
            "-x",
            "a/b",
            "a b",
            "a:b",
            long.as_str(),
        ] {
            assert!(WorkspaceId::new(bad).is_err(), "{bad}");
        }
    }
}
