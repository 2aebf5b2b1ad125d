//! The optional `vfs/*` methods over any store that is both a CAS and a VFS catalog,
//! shared by every backend that serves them. The store is the caller's universe's,
//! so workspaces and mounts belong to the universe whose key made them.

use std::collections::HashMap;

use api::ApiError;
use api::types::vfs::*;
use engine::BlobRef;
use engine::store::{BlobStore, StoreError};
use vfs::{
    FileEntry, Limits, Mount, MountMode, MountSource, SessionPath, Snapshot, VfsCatalog, VfsError,
    VfsPath, Workspace, WorkspaceId,
};

use crate::blobs::{ContentGate, admit_new};

/// Entries per `vfs/snapshot/read` page: default and maximum.
const READ_LIMIT_DEFAULT: u32 = 1_000;
const READ_LIMIT_MAX: u32 = 5_000;

/// The API error for a VFS failure.
fn vfs_error(err: VfsError) -> ApiError {
    let message = err.to_string();
    match err {
        VfsError::Path(err) => ApiError::invalid_params(message).with_reason(err.reason()),
        VfsError::ManifestTooLarge { .. } => {
            ApiError::invalid_params(message).with_reason("manifestTooLarge")
        }
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

/// Runs CPU-bound VFS work (decoding, building and encoding manifests) on the
/// blocking pool: it is bounded, but a large manifest still takes milliseconds that
/// would otherwise stall every request sharing a runtime thread.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VfsError> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(vfs_error),
        Err(err) => Err(ApiError::internal(format!(
            "VFS work did not finish: {err}"
        ))),
    }
}

/// [`Snapshot::load`], with the decoding off the runtime's threads.
async fn load_snapshot<S: BlobStore>(store: &S, snapshot: &BlobRef) -> Result<Snapshot, ApiError> {
    let bytes = Snapshot::fetch(store, snapshot).await.map_err(vfs_error)?;
    let snapshot = snapshot.clone();
    off_runtime(move || Snapshot::decode(&snapshot, &bytes)).await
}

/// [`load_snapshot`] of a ref the client named: any blob can be named, so one that
/// is not a valid manifest (or breaks a limit inside) is the request's fault,
/// -32602 `invalidSnapshot`, not the server's. A workspace head, validated when it
/// was set, stays an internal error if it fails to load.
async fn load_named<S: BlobStore>(store: &S, snapshot: &BlobRef) -> Result<Snapshot, ApiError> {
    let bytes = Snapshot::fetch(store, snapshot).await.map_err(vfs_error)?;
    let snapshot = snapshot.clone();
    let decoded = tokio::task::spawn_blocking(move || Snapshot::decode(&snapshot, &bytes)).await;
    match decoded {
        Ok(Err(err @ VfsError::CorruptSnapshot { .. })) => {
            Err(ApiError::invalid_params(err.to_string()).with_reason("invalidSnapshot"))
        }
        Ok(result) => result.map_err(vfs_error),
        Err(err) => Err(ApiError::internal(format!(
            "VFS work did not finish: {err}"
        ))),
    }
}

async fn workspace_view<S: BlobStore>(
    store: &S,
    head: Workspace,
) -> Result<VfsWorkspaceView, ApiError> {
    let tree = load_snapshot(store, &head.snapshot).await?;
    Ok(VfsWorkspaceView {
        workspace_id: head.id.to_string(),
        revision: head.revision,
        snapshot_ref: head.snapshot.to_string(),
        file_count: tree.file_count(),
        total_bytes: tree.total_bytes(),
    })
}

/// One commit entry's path, blob and claimed size, checked before any storage work.
fn commit_entry(
    limits: &Limits,
    index: usize,
    input: &VfsFileEntry,
) -> Result<(VfsPath, BlobRef), ApiError> {
    let field = |name: &str| format!("entries[{index}].{name}");
    let path = match VfsPath::parse(&input.path) {
        Ok(path) if path.is_root() => Err(ApiError::invalid_params(format!(
            "{}: empty",
            field("path")
        ))
        .with_reason("invalidPath")),
        Ok(path) => Ok(path),
        Err(err) => Err(
            ApiError::invalid_params(format!("{}: {err}", field("path"))).with_reason(err.reason()),
        ),
    }?;
    limits.check_path(&path).map_err(vfs_error)?;
    let blob = snapshot_ref(&field("blobRef"), &input.blob_ref)?;
    limits
        .check_file_bytes(input.size_bytes)
        .map_err(vfs_error)?;
    Ok((path, blob))
}

/// Builds and stores a snapshot of files already in the CAS. Each blob's size is
/// asked of the store (its record, not its content: nothing is read or hashed),
/// once per distinct blob, so totals and limits are true.
pub async fn snapshot_commit<S: BlobStore, G: ContentGate>(
    store: &S,
    gate: &G,
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
    let mut sizes: HashMap<BlobRef, u64> = HashMap::new();
    let mut files = Vec::with_capacity(params.entries.len());
    for (index, input) in params.entries.iter().enumerate() {
        let (path, blob) = commit_entry(&limits, index, input)?;
        let size = match sizes.get(&blob) {
            Some(size) => *size,
            None => {
                let size = store
                    .blob_len(&blob)
                    .await
                    .map_err(|err| vfs_error(err.into()))?
                    .ok_or_else(|| vfs_error(StoreError::BlobNotFound(blob.clone()).into()))?;
                sizes.insert(blob.clone(), size);
                size
            }
        };
        if size != input.size_bytes {
            return Err(ApiError::invalid_params(format!(
                "entries[{index}].sizeBytes: blob {blob} holds {size} bytes, not {}",
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
    let (tree, manifest, manifest_ref) = off_runtime(move || {
        let tree = Snapshot::from_files(files)?;
        let manifest = tree.encode_checked(&limits)?;
        let manifest_ref = BlobRef::of_bytes(&manifest);
        Ok((tree, manifest, manifest_ref))
    })
    .await?;
    // The manifest is the one new blob a commit may add (the files are stored).
    let manifest_len = manifest.len() as u64;
    admit_new(store, gate, &[(manifest_ref, manifest_len)]).await?;
    let snapshot = store
        .put(manifest)
        .await
        .map_err(|err| vfs_error(err.into()))?;
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
    let tree = load_named(store, &snapshot).await?;
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
    let created = match &snapshot {
        // The snapshot is validated here, off the runtime, rather than inside
        // `vfs::workspace::create`, which would decode it on this thread.
        Some(snapshot) => match load_named(store, snapshot).await {
            Ok(_) => store.workspace_create(&id, snapshot).await,
            Err(err) => return Err(err),
        },
        None => vfs::workspace::create(store, store, &limits, &id, None).await,
    };
    match created {
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
    // What `vfs::workspace::update` does, with the decoding off the runtime.
    load_named(store, &snapshot).await?;
    let head = store
        .workspace_set_head(&id, params.expected_revision, &snapshot)
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
    let limits = Limits::default();
    match &mount.source {
        // What `vfs::mount::put` does, with the decoding off the runtime.
        MountSource::Snapshot { snapshot } => {
            vfs::mount::check(&limits, &mount).map_err(vfs_error)?;
            load_named(store, snapshot).await?;
            store
                .mount_put(&session, &mount, limits.session_mounts_max)
                .await
                .map_err(vfs_error)?;
        }
        MountSource::Workspace { .. } => {
            vfs::mount::put(store, store, &limits, &session, &mount)
                .await
                .map_err(vfs_error)?;
        }
    }
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

/// Gives session `to` the mounts of session `from` (a sub-agent sharing its
/// parent's workspaces); the number shared.
pub async fn share_mounts<S: VfsCatalog>(
    store: &S,
    from: &engine::SessionId,
    to: &engine::SessionId,
) -> Result<usize, ApiError> {
    let limits = Limits::default();
    let mounts = store.mount_list(from).await.map_err(vfs_error)?;
    for mount in &mounts {
        store
            .mount_put(to, mount, limits.session_mounts_max)
            .await
            .map_err(vfs_error)?;
    }
    Ok(mounts.len())
}
