//! The in-memory catalog: the reference implementation of [`VfsCatalog`].

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use engine::{BlobRef, SessionId};

use crate::catalog::VfsCatalog;
use crate::error::VfsError;
use crate::mount::Mount;
use crate::path::SessionPath;
use crate::workspace::{WORKSPACE_REVISION_INITIAL, Workspace, WorkspaceId};

#[derive(Debug, Default)]
pub struct MemoryCatalog {
    workspaces: Mutex<BTreeMap<WorkspaceId, Workspace>>,
    mounts: Mutex<BTreeMap<SessionId, BTreeMap<SessionPath, Mount>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every mutation below is a single insert or remove, so a poisoned map is still
    // consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl MemoryCatalog {
    pub fn new() -> Self {
        Self::default()
    }
}

impl VfsCatalog for MemoryCatalog {
    async fn workspace_create(
        &self,
        id: &WorkspaceId,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let mut workspaces = lock(&self.workspaces);
        if workspaces.contains_key(id) {
            return Err(VfsError::WorkspaceExists(id.clone()));
        }
        let workspace = Workspace {
            id: id.clone(),
            revision: WORKSPACE_REVISION_INITIAL,
            snapshot: snapshot.clone(),
        };
        workspaces.insert(id.clone(), workspace.clone());
        Ok(workspace)
    }

    async fn workspace_read(&self, id: &WorkspaceId) -> Result<Option<Workspace>, VfsError> {
        Ok(lock(&self.workspaces).get(id).cloned())
    }

    async fn workspace_set_head(
        &self,
        id: &WorkspaceId,
        expected_revision: u64,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let mut workspaces = lock(&self.workspaces);
        let current = workspaces
            .get_mut(id)
            .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))?;
        if current.revision != expected_revision {
            return Err(VfsError::Conflict {
                workspace: id.clone(),
                expected: expected_revision,
                actual: current.revision,
            });
        }
        current.revision += 1;
        current.snapshot = snapshot.clone();
        Ok(current.clone())
    }

    async fn workspace_delete(
        &self,
        id: &WorkspaceId,
        expected_revision: Option<u64>,
    ) -> Result<(), VfsError> {
        let mut workspaces = lock(&self.workspaces);
        let current = workspaces
            .get(id)
            .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))?;
        if let Some(expected) = expected_revision.filter(|e| *e != current.revision) {
            return Err(VfsError::Conflict {
                workspace: id.clone(),
                expected,
                actual: current.revision,
            });
        }
        workspaces.remove(id);
        Ok(())
    }

    async fn mount_put(
        &self,
        session: &SessionId,
        mount: &Mount,
        mounts_max: usize,
    ) -> Result<(), VfsError> {
        let mut sessions = lock(&self.mounts);
        let table = sessions.entry(session.clone()).or_default();
        if !table.contains_key(&mount.path) && table.len() >= mounts_max {
            return Err(VfsError::TooManyMounts { max: mounts_max });
        }
        table.insert(mount.path.clone(), mount.clone());
        Ok(())
    }

    async fn mount_delete(
        &self,
        session: &SessionId,
        path: &SessionPath,
    ) -> Result<bool, VfsError> {
        let mut sessions = lock(&self.mounts);
        let Some(table) = sessions.get_mut(session) else {
            return Ok(false);
        };
        let removed = table.remove(path).is_some();
        if table.is_empty() {
            sessions.remove(session);
        }
        Ok(removed)
    }

    async fn mount_list(&self, session: &SessionId) -> Result<Vec<Mount>, VfsError> {
        Ok(lock(&self.mounts)
            .get(session)
            .map(|table| table.values().cloned().collect())
            .unwrap_or_default())
    }
}
