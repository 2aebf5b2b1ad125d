//! The VFS catalog on disk: workspace heads and per-session mount tables.
//! (Snapshots and file contents are blobs in the CAS already.)
//!
//! ```text
//! vfs/workspaces/<workspace>.json   {"id":…,"revision":N,"snapshot":"sha256:…"}
//! vfs/workspaces/<workspace>.lock   exclusive lock for reads-then-writes of the head
//! vfs/mounts/<session>.json         [<Mount>, …] ordered by path
//! vfs/mounts/<session>.lock
//! ```
//!
//! Each record changes under its own lock file ([`crate::record`]).

use std::path::Path;

use engine::{BlobRef, SessionId};
use vfs::workspace::WORKSPACE_REVISION_INITIAL;
use vfs::{Mount, SessionPath, VfsCatalog, VfsError, Workspace, WorkspaceId};

use crate::record::{Record, run};
use crate::{FsStore, session_dir_name};

const WORKSPACES_DIR: &str = "vfs/workspaces";
const MOUNTS_DIR: &str = "vfs/mounts";

fn conflict(id: &WorkspaceId, expected: u64, actual: u64) -> VfsError {
    VfsError::Conflict {
        workspace: id.clone(),
        expected,
        actual,
    }
}

fn workspace_record(root: &Path, id: &WorkspaceId) -> Record {
    // Workspace ids are `[A-Za-z0-9_.-]` starting with a letter or digit: safe names.
    Record::at(root.join(WORKSPACES_DIR), id.as_str())
}

fn mounts_record(root: &Path, session: &SessionId) -> Record {
    Record::at(root.join(MOUNTS_DIR), &session_dir_name(session))
}

impl VfsCatalog for FsStore {
    async fn workspace_create(
        &self,
        id: &WorkspaceId,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let record = workspace_record(self.root(), id);
        let workspace = Workspace {
            id: id.clone(),
            revision: WORKSPACE_REVISION_INITIAL,
            snapshot: snapshot.clone(),
        };
        run(move || {
            record.locked(|| {
                if record.read::<Workspace>()?.is_some() {
                    return Err(VfsError::WorkspaceExists(workspace.id.clone()));
                }
                record.write(&workspace)?;
                Ok(workspace)
            })
        })
        .await
    }

    async fn workspace_read(&self, id: &WorkspaceId) -> Result<Option<Workspace>, VfsError> {
        let record = workspace_record(self.root(), id);
        // Heads are replaced by rename, so a reader sees the old or the new file whole.
        run(move || Ok(record.read()?)).await
    }

    async fn workspace_set_head(
        &self,
        id: &WorkspaceId,
        expected_revision: u64,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let record = workspace_record(self.root(), id);
        let (id, snapshot) = (id.clone(), snapshot.clone());
        run(move || {
            record.locked(|| {
                let mut head: Workspace = record
                    .read()?
                    .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))?;
                if head.revision != expected_revision {
                    return Err(conflict(&id, expected_revision, head.revision));
                }
                head.revision += 1;
                head.snapshot = snapshot;
                record.write(&head)?;
                Ok(head)
            })
        })
        .await
    }

    async fn workspace_delete(
        &self,
        id: &WorkspaceId,
        expected_revision: Option<u64>,
    ) -> Result<(), VfsError> {
        let record = workspace_record(self.root(), id);
        let id = id.clone();
        run(move || {
            record.locked(|| {
                let head: Workspace = record
                    .read()?
                    .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))?;
                if let Some(expected) = expected_revision.filter(|e| *e != head.revision) {
                    return Err(conflict(&id, expected, head.revision));
                }
                Ok(record.remove()?)
            })
        })
        .await
    }

    async fn mount_put(
        &self,
        session: &SessionId,
        mount: &Mount,
        mounts_max: usize,
    ) -> Result<(), VfsError> {
        let record = mounts_record(self.root(), session);
        let mount = mount.clone();
        run(move || {
            record.locked(|| {
                let mut mounts: Vec<Mount> = record.read()?.unwrap_or_default();
                match mounts.binary_search_by(|m| m.path.cmp(&mount.path)) {
                    Ok(at) => mounts[at] = mount,
                    Err(_) if mounts.len() >= mounts_max => {
                        return Err(VfsError::TooManyMounts { max: mounts_max });
                    }
                    Err(at) => mounts.insert(at, mount),
                }
                Ok(record.write(&mounts)?)
            })
        })
        .await
    }

    async fn mount_delete(
        &self,
        session: &SessionId,
        path: &SessionPath,
    ) -> Result<bool, VfsError> {
        let record = mounts_record(self.root(), session);
        let path = path.clone();
        run(move || {
            record.locked(|| {
                let mut mounts: Vec<Mount> = record.read()?.unwrap_or_default();
                let before = mounts.len();
                mounts.retain(|m| m.path != path);
                if mounts.len() == before {
                    return Ok(false);
                }
                match mounts.is_empty() {
                    true => record.remove()?,
                    false => record.write(&mounts)?,
                }
                Ok(true)
            })
        })
        .await
    }

    async fn mount_list(&self, session: &SessionId) -> Result<Vec<Mount>, VfsError> {
        let record = mounts_record(self.root(), session);
        run(move || Ok(record.read()?.unwrap_or_default())).await
    }
}
