//! The one error type of the VFS and of every [`crate::VfsCatalog`].

use engine::BlobRef;
use engine::store::StoreError;

use crate::path::PathError;
use crate::workspace::WorkspaceId;

#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{limit} exceeded: {value} > {max}")]
    LimitExceeded {
        limit: &'static str,
        value: u64,
        max: u64,
    },
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path} is a directory")]
    IsADirectory { path: String },
    /// A name on the way to `path` is a file.
    #[error("{path}: {file} is a file, not a directory")]
    NotADirectory { path: String, file: String },
    #[error("{path} is outside every mount (mounts: {mounts})")]
    OutsideMounts { path: String, mounts: String },
    #[error("{path} is on the read-only mount {mount}")]
    ReadOnlyMount { path: String, mount: String },
    /// A snapshot mount asked for read-write: snapshots never change.
    #[error("snapshot mounts are read-only; mount a workspace to write")]
    WritableSnapshotMount,
    #[error("a session has at most {max} mounts")]
    TooManyMounts { max: usize },
    #[error("snapshot {0} not found")]
    SnapshotNotFound(BlobRef),
    /// A stored manifest does not decode or breaks the format's rules.
    #[error("snapshot {snapshot} is corrupt: {reason}")]
    CorruptSnapshot { snapshot: BlobRef, reason: String },
    /// A stored blob named as a snapshot is larger than any manifest may be; refused
    /// before it is read or parsed.
    #[error("snapshot {snapshot} is {len} bytes, more than the {max} a manifest may be")]
    ManifestTooLarge {
        snapshot: BlobRef,
        len: u64,
        max: u64,
    },
    /// Entries handed to a commit do not form a snapshot.
    #[error("invalid snapshot: {0}")]
    InvalidSnapshot(String),
    #[error("workspace {0} not found")]
    WorkspaceNotFound(WorkspaceId),
    #[error("workspace {0} already exists")]
    WorkspaceExists(WorkspaceId),
    /// Another write moved the workspace head first. Re-read and retry.
    #[error("workspace {workspace} is at revision {actual}, not {expected}")]
    Conflict {
        workspace: WorkspaceId,
        expected: u64,
        actual: u64,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VfsError {
    /// Whether the failure is the storage's, not the caller's: a host retries these
    /// (or reports an outage); everything else is an answer about the request.
    pub fn is_infrastructure(&self) -> bool {
        match self {
            Self::Store(err) => match err {
                StoreError::BlobTooLarge { .. } => false,
                StoreError::HeadConflict { .. }
                | StoreError::InvalidBatch { .. }
                | StoreError::BlobNotFound(_)
                | StoreError::DigestMismatch { .. }
                | StoreError::Corrupt { .. }
                | StoreError::Backend { .. } => true,
            },
            Self::CorruptSnapshot { .. } => true,
            Self::Path(_)
            | Self::LimitExceeded { .. }
            | Self::NotFound { .. }
            | Self::IsADirectory { .. }
            | Self::NotADirectory { .. }
            | Self::OutsideMounts { .. }
            | Self::ReadOnlyMount { .. }
            | Self::WritableSnapshotMount
            | Self::TooManyMounts { .. }
            | Self::SnapshotNotFound(_)
            | Self::ManifestTooLarge { .. }
            | Self::InvalidSnapshot(_)
            | Self::WorkspaceNotFound(_)
            | Self::WorkspaceExists(_)
            | Self::Conflict { .. } => false,
        }
    }
}
