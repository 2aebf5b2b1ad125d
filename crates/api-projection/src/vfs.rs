//! The optional `vfs/*` methods over any store that is both a CAS and a VFS catalog,
//! shared by every backend that serves them. The store is the caller's universe's,
//! so workspaces and mounts belong to the universe whose key made them.

use api::ApiError;
use api::types::vfs::*;
use engine::BlobRef;
use engine::store::{BlobStore, StoreError};
use vfs::{
    FileEntry, Limits, Mount, MountMode, MountSource, SessionPath, Snapshot, VfsCatalog, VfsError,
    VfsPath, Workspace, WorkspaceId,
};

/// Entries per `vfs/snapshot/read` page: default and maximum.
const READ_LIMIT_DEFAULT: u32 = 1_000;
const READ_LIMIT_MAX: u32 = 5_000;

/// The API error for a VFS failure.
fn vfs_error(err: VfsError) -> ApiError {
    let message = err.to_string();
    match err {
        VfsError::Path(_) => ApiError::invalid_params(message).with_reason("invalidPath"),
        VfsError::LimitExceeded { .. } | VfsError::TooManyMounts { .. } => {
            ApiError::invalid_params(message).with_reason("limitExceeded")
        }
        VfsError::InvalidSnapshot(_)
        | VfsError::IsADirectory { .. }
        | VfsError::NotADirectory { .. } => {
            ApiError::invalid_params(message).with_reason("invalidSnapshot")
        }
        VfsError::WritableSnapshotMount => {
            ApiError::invalid_params(message).with_reason("snapshotMountReadOnly")
        }
        VfsError::SnapshotNotFound(_) => {
            ApiError::not_found(message).with_reason("snapshotNotFound")
        }
        VfsError::WorkspaceNotFound(_) => {
            ApiError::not_found(message).with_reason("workspaceNotFound")
        }
        VfsError::Store(StoreError::BlobNotFound(_)) => {
            ApiError::not_found(message).with_reason("blobNotFound")
        }
        VfsError::WorkspaceExists(_) => ApiError::conflict(message).with_reason("workspaceExists"),
        VfsError::Conflict { actual, .. } => ApiError::conflict(message)
            .with_reason("revisionConflict")
            .with_current_revision(actual),
        VfsError::NotFound { .. }
        | VfsError::OutsideMounts { .. }
        | VfsError::ReadOnlyMount { .. }
        | VfsError::CorruptSnapshot { .. }
        | VfsError::Store(_) => ApiError::internal(message),
    }
}

fn workspace_id(raw: &str) -> Result<WorkspaceId, ApiError> {
    WorkspaceId::new(raw).map_err(|err| {
        ApiError::invalid_params(format!("workspaceId: {err}")).with_reason("invalidId")
    })
}

fn snapshot_ref(field: &str, raw: &str) -> Result<BlobRef, ApiError> {
    BlobRef::parse(raw).map_err(|err| {
        ApiError::invalid_params(format!("{field}: {err}")).with_reason("invalidBlobRef")
    })
}

fn mount_path(raw: &str) -> Result<SessionPath, ApiError> {
    SessionPath::parse(raw).map_err(|err| {
        ApiError::invalid_params(format!("mountPath: {err}")).with_reason("invalidPath")
    })
}

fn entry_view(path: &VfsPath, entry: &FileEntry) -> VfsFileEntry {
    VfsFileEntry {
        path: path.to_string(),
        blob_ref: entry.blob.to_string(),
        size_bytes: entry.size_bytes,
        executable: entry.executable,
    }
}

async fn workspace_view<S: BlobStore>(
    store: &S,
    head: Workspace,
) -> Result<VfsWorkspaceView, ApiError> {
    let tree = Snapshot::load(store, &head.snapshot)
        .await
        .map_err(vfs_error)?;
    Ok(VfsWorkspaceView {
        workspace_id: head.id.to_string(),
        revision: head.revision,
        snapshot_ref: head.snapshot.to_string(),
        file_count: tree.file_count(),
        total_bytes: tree.total_bytes(),
    })
}

/// Builds and stores a snapshot of files already in the CAS. Each blob is read to
/// check it exists and has the size claimed, so totals and limits are true.
pub async fn snapshot_commit<S: BlobStore>(
    store: &S,
    params: VfsSnapshotCommitParams,
) -> Result<VfsSnapshotView, ApiError> {
    let limits = Limits::default();
    if params.entries.len() as u64 > limits.snapshot_files_max {
        return Err(vfs_error(VfsError::LimitExceeded {
            limit: "snapshot_files_max",
            value: params.entries.len() as u64,
            max: limits.snapshot_files_max,
        }));
    }
    let mut files = Vec::with_capacity(params.entries.len());
    for (index, input) in params.entries.into_iter().enumerate() {
        let field = |name: &str| format!("entries[{index}].{name}");
        let path = VfsPath::parse(&input.path)
            .map_err(|err| ApiError::invalid_params(format!("{}: {err}", field("path"))))
            .and_then(|path| match path.is_root() {
                true => Err(ApiError::invalid_params(format!(
                    "{}: empty",
                    field("path")
                ))),
                false => Ok(path),
            })
            .map_err(|err| err.with_reason("invalidPath"))?;
        let blob = snapshot_ref(&field("blobRef"), &input.blob_ref)?;
        limits
            .check_file_bytes(input.size_bytes)
            .map_err(vfs_error)?;
        let bytes = store
            .get(&blob)
            .await
            .map_err(|err| vfs_error(err.into()))?;
        if bytes.len() as u64 != input.size_bytes {
            return Err(ApiError::invalid_params(format!(
                "{}: blob {blob} holds {} bytes, not {}",
                field("sizeBytes"),
                bytes.len(),
                input.size_bytes
            ))
            .with_reason("sizeMismatch"));
        }
        let entry = FileEntry {
            blob,
            size_bytes: input.size_bytes,
            executable: input.executable,
        };
        files.push((path, entry));
    }
    let tree = Snapshot::from_files(files).map_err(vfs_error)?;
    let snapshot = tree.store(store, &limits).await.map_err(vfs_error)?;
    Ok(VfsSnapshotView {
        snapshot_ref: snapshot.to_string(),
        file_count: tree.file_count(),
        total_bytes: tree.total_bytes(),
    })
}

pub async fn snapshot_read<S: BlobStore>(
    store: &S,
    params: VfsSnapshotReadParams,
) -> Result<VfsSnapshotReadResult, ApiError> {
    let limit = params.limit.unwrap_or(READ_LIMIT_DEFAULT);
    if !(1..=READ_LIMIT_MAX).contains(&limit) {
        return Err(ApiError::invalid_params(format!(
            "limit must be 1 to {READ_LIMIT_MAX}"
        )));
    }
    let snapshot = snapshot_ref("snapshotRef", &params.snapshot_ref)?;
    let tree = Snapshot::load(store, &snapshot).await.map_err(vfs_error)?;
    // The cursor is the last path of the previous page.
    let after = params.cursor.as_deref().unwrap_or_default();
    let mut page: Vec<VfsFileEntry> = tree
        .files()
        .filter(|(path, _)| path.as_str() > after)
        .take(limit as usize + 1)
        .map(|(path, entry)| entry_view(path, entry))
        .collect();
    let more = page.len() > limit as usize;
    page.truncate(limit as usize);
    Ok(VfsSnapshotReadResult {
        snapshot_ref: snapshot.to_string(),
        file_count: tree.file_count(),
        total_bytes: tree.total_bytes(),
        next_cursor: more.then(|| page.last().map(|e| e.path.clone())).flatten(),
        entries: page,
    })
}

pub async fn workspace_create<S: BlobStore + VfsCatalog>(
    store: &S,
    params: VfsWorkspaceCreateParams,
) -> Result<VfsWorkspaceView, ApiError> {
    let id = match &params.workspace_id {
        Some(raw) => workspace_id(raw)?,
        None => workspace_id(&format!("ws_{}", uuid::Uuid::new_v4().simple()))?,
    };
    let snapshot = match &params.snapshot_ref {
        Some(raw) => Some(snapshot_ref("snapshotRef", raw)?),
        None => None,
    };
    let limits = Limits::default();
    match vfs::workspace::create(store, store, &limits, &id, snapshot.as_ref()).await {
        Ok(head) => workspace_view(store, head).await,
        Err(VfsError::WorkspaceExists(_)) => {
            // A retried create (same id, same tree, untouched since) returns the head.
            let head = vfs::workspace::read(store, &id).await.map_err(vfs_error)?;
            let wanted = match snapshot {
                Some(snapshot) => snapshot,
                None => Snapshot::new()
                    .store(store, &limits)
                    .await
                    .map_err(vfs_error)?,
            };
            if head.revision == vfs::workspace::WORKSPACE_REVISION_INITIAL
                && head.snapshot == wanted
            {
                return workspace_view(store, head).await;
            }
            Err(vfs_error(VfsError::WorkspaceExists(id)))
        }
        Err(err) => Err(vfs_error(err)),
    }
}

pub async fn workspace_read<S: BlobStore + VfsCatalog>(
    store: &S,
    params: VfsWorkspaceRef,
) -> Result<VfsWorkspaceView, ApiError> {
    let id = workspace_id(&params.workspace_id)?;
    let head = vfs::workspace::read(store, &id).await.map_err(vfs_error)?;
    workspace_view(store, head).await
}

pub async fn workspace_update<S: BlobStore + VfsCatalog>(
    store: &S,
    params: VfsWorkspaceUpdateParams,
) -> Result<VfsWorkspaceView, ApiError> {
    let id = workspace_id(&params.workspace_id)?;
    let snapshot = snapshot_ref("snapshotRef", &params.snapshot_ref)?;
    let head = vfs::workspace::update(store, store, &id, params.expected_revision, &snapshot)
        .await
        .map_err(vfs_error)?;
    workspace_view(store, head).await
}

pub async fn workspace_delete<S: BlobStore + VfsCatalog>(
    store: &S,
    params: VfsWorkspaceDeleteParams,
) -> Result<VfsWorkspaceDeleteResult, ApiError> {
    let id = workspace_id(&params.workspace_id)?;
    store
        .workspace_delete(&id, params.expected_revision)
        .await
        .map_err(vfs_error)?;
    Ok(VfsWorkspaceDeleteResult {
        workspace_id: id.to_string(),
    })
}

fn mount_view(mount: &Mount) -> VfsMountView {
    VfsMountView {
        mount_path: mount.path.to_string(),
        source: match &mount.source {
            MountSource::Snapshot { snapshot } => VfsMountSource::Snapshot {
                snapshot_ref: snapshot.to_string(),
            },
            MountSource::Workspace { workspace } => VfsMountSource::Workspace {
                workspace_id: workspace.to_string(),
            },
        },
        mode: match mount.mode {
            MountMode::ReadOnly => VfsMountMode::ReadOnly,
            MountMode::ReadWrite => VfsMountMode::ReadWrite,
        },
    }
}

pub async fn mount_put<S: BlobStore + VfsCatalog>(
    store: &S,
    params: VfsMountPutParams,
) -> Result<VfsMountView, ApiError> {
    let session = crate::inputs::session_id(&params.session_id)?;
    let mount = Mount {
        path: mount_path(&params.mount_path)?,
        source: match &params.source {
            VfsMountSource::Snapshot { snapshot_ref: raw } => MountSource::Snapshot {
                snapshot: snapshot_ref("source.snapshotRef", raw)?,
            },
            VfsMountSource::Workspace { workspace_id: raw } => MountSource::Workspace {
                workspace: workspace_id(raw)?,
            },
        },
        mode: match params.mode {
            VfsMountMode::ReadOnly => MountMode::ReadOnly,
            VfsMountMode::ReadWrite => MountMode::ReadWrite,
        },
    };
    vfs::mount::put(store, store, &Limits::default(), &session, &mount)
        .await
        .map_err(vfs_error)?;
    Ok(mount_view(&mount))
}

pub async fn mount_delete<S: BlobStore + VfsCatalog>(
    store: &S,
    params: VfsMountDeleteParams,
) -> Result<VfsMountDeleteResult, ApiError> {
    let session = crate::inputs::session_id(&params.session_id)?;
    let path = mount_path(&params.mount_path)?;
    let deleted = store
        .mount_delete(&session, &path)
        .await
        .map_err(vfs_error)?;
    Ok(VfsMountDeleteResult { deleted })
}

pub async fn mount_list<S: BlobStore + VfsCatalog>(
    store: &S,
    params: VfsMountListParams,
) -> Result<VfsMountListResult, ApiError> {
    let session = crate::inputs::session_id(&params.session_id)?;
    let mounts = store.mount_list(&session).await.map_err(vfs_error)?;
    Ok(VfsMountListResult {
        mounts: mounts.iter().map(mount_view).collect(),
    })
}
