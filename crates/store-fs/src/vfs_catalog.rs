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
//! Every change takes the record's lock file, reads the record, decides, and replaces
//! it atomically (temporary file, fsync, rename), so compare-and-set holds across
//! store instances and processes. Lock files stay behind after a delete: removing a
//! lock file others may hold would let two writers lock different files.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use engine::store::StoreError;
use engine::{BlobRef, SessionId};
use vfs::workspace::WORKSPACE_REVISION_INITIAL;
use vfs::{Mount, SessionPath, VfsCatalog, VfsError, Workspace, WorkspaceId};

use crate::fsio::{self, Existing, io_err};
use crate::{FsStore, blocking, session_dir_name};

const WORKSPACES_DIR: &str = "vfs/workspaces";
const MOUNTS_DIR: &str = "vfs/mounts";

/// A record file and its lock file.
struct Record {
    data: PathBuf,
    lock: PathBuf,
}

impl Record {
    fn workspace(root: &Path, id: &WorkspaceId) -> Self {
        // Workspace ids are `[A-Za-z0-9_.-]` starting with a letter or digit: safe names.
        Self::at(root.join(WORKSPACES_DIR), id.as_str())
    }

    fn mounts(root: &Path, session: &SessionId) -> Self {
        Self::at(root.join(MOUNTS_DIR), &session_dir_name(session))
    }

    fn at(dir: PathBuf, name: &str) -> Self {
        Self {
            data: dir.join(format!("{name}.json")),
            lock: dir.join(format!("{name}.lock")),
        }
    }

    /// Runs `work` holding the record's exclusive lock.
    fn locked<T>(&self, work: impl FnOnce() -> Result<T, VfsError>) -> Result<T, VfsError> {
        if let Some(dir) = self.lock.parent() {
            fsio::ensure_dir(dir)?;
        }
        let lock = fsio::open_lock_file(&self.lock)?;
        lock.lock().map_err(io_err("lock", &self.lock))?;
        let result = work();
        drop(lock);
        result
    }

    fn read<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, VfsError> {
        let bytes = match fs::read(&self.data) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_err("read", &self.data)(err).into()),
        };
        engine::canonical::from_slice(&bytes)
            .map(Some)
            .map_err(|err| {
                StoreError::Corrupt {
                    location: self.data.display().to_string(),
                    reason: err.to_string(),
                }
                .into()
            })
    }

    fn write<T: serde::Serialize>(&self, value: &T) -> Result<(), VfsError> {
        fsio::write_atomic(
            &self.data,
            &engine::canonical::to_vec(value),
            Existing::Replace,
        )?;
        Ok(())
    }

    fn remove(&self) -> Result<(), VfsError> {
        match fs::remove_file(&self.data) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io_err("remove", &self.data)(err).into()),
        }
        if let Some(dir) = self.data.parent() {
            fsio::sync_dir(dir)?;
        }
        Ok(())
    }
}

fn conflict(id: &WorkspaceId, expected: u64, actual: u64) -> VfsError {
    VfsError::Conflict {
        workspace: id.clone(),
        expected,
        actual,
    }
}

/// Runs catalog file work off the async threads (see [`blocking`]).
async fn run<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VfsError> + Send + 'static,
) -> Result<T, VfsError> {
    // `blocking` speaks `StoreError`; carry the VFS error through it untouched.
    blocking(move || Ok(work())).await?
}

impl VfsCatalog for FsStore {
    async fn workspace_create(
        &self,
        id: &WorkspaceId,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let record = Record::workspace(self.root(), id);
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
        let record = Record::workspace(self.root(), id);
        // Heads are replaced by rename, so a reader sees the old or the new file whole.
        run(move || record.read()).await
    }

    async fn workspace_set_head(
        &self,
        id: &WorkspaceId,
        expected_revision: u64,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let record = Record::workspace(self.root(), id);
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
        let record = Record::workspace(self.root(), id);
        let id = id.clone();
        run(move || {
            record.locked(|| {
                let head: Workspace = record
                    .read()?
                    .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))?;
                if let Some(expected) = expected_revision.filter(|e| *e != head.revision) {
                    return Err(conflict(&id, expected, head.revision));
                }
                record.remove()
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
        let record = Record::mounts(self.root(), session);
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
                record.write(&mounts)
            })
        })
        .await
    }

    async fn mount_delete(
        &self,
        session: &SessionId,
        path: &SessionPath,
    ) -> Result<bool, VfsError> {
        let record = Record::mounts(self.root(), session);
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
        let record = Record::mounts(self.root(), session);
        run(move || Ok(record.read()?.unwrap_or_default())).await
    }
}
