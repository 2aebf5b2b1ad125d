//! The catalog: the few mutable records of the VFS. Snapshots and file contents are
//! CAS blobs and need no catalog; workspaces (their heads) and each session's mounts
//! do. Implemented in memory here ([`crate::memory::MemoryCatalog`]), on disk by
//! `store-fs`, in Postgres by `store-pg`, and checked by one conformance suite
//! (`test-support`).
//!
//! The catalog stores what it is given: callers validate (snapshots exist, limits
//! hold) through the functions of [`crate::workspace`] and [`crate::mount`].

use std::future::Future;

use engine::{BlobRef, SessionId};

use crate::error::VfsError;
use crate::mount::Mount;
use crate::path::SessionPath;
use crate::workspace::{Workspace, WorkspaceId};

pub trait VfsCatalog: Send + Sync {
    /// Creates workspace `id` with head `snapshot` at
    /// [`crate::workspace::WORKSPACE_REVISION_INITIAL`];
    /// [`VfsError::WorkspaceExists`] if the id is taken.
    fn workspace_create(
        &self,
        id: &WorkspaceId,
        snapshot: &BlobRef,
    ) -> impl Future<Output = Result<Workspace, VfsError>> + Send;

    /// The head of workspace `id`, if it exists.
    fn workspace_read(
        &self,
        id: &WorkspaceId,
    ) -> impl Future<Output = Result<Option<Workspace>, VfsError>> + Send;

    /// Atomically moves the head to `snapshot` and the revision up by one, if and only
    /// if the revision is `expected_revision`; else [`VfsError::Conflict`] with the
    /// actual revision (or [`VfsError::WorkspaceNotFound`]).
    fn workspace_set_head(
        &self,
        id: &WorkspaceId,
        expected_revision: u64,
        snapshot: &BlobRef,
    ) -> impl Future<Output = Result<Workspace, VfsError>> + Send;

    /// Deletes workspace `id`; with `expected_revision`, only at that revision.
    /// [`VfsError::WorkspaceNotFound`] if it does not exist.
    fn workspace_delete(
        &self,
        id: &WorkspaceId,
        expected_revision: Option<u64>,
    ) -> impl Future<Output = Result<(), VfsError>> + Send;

    /// Puts `mount` in the session's table, replacing the mount at the same path;
    /// [`VfsError::TooManyMounts`] if the table would exceed `mounts_max`.
    fn mount_put(
        &self,
        session: &SessionId,
        mount: &Mount,
        mounts_max: usize,
    ) -> impl Future<Output = Result<(), VfsError>> + Send;

    /// Removes the mount at `path`; whether there was one.
    fn mount_delete(
        &self,
        session: &SessionId,
        path: &SessionPath,
    ) -> impl Future<Output = Result<bool, VfsError>> + Send;

    /// The session's mounts, ordered by path.
    fn mount_list(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Vec<Mount>, VfsError>> + Send;
}
