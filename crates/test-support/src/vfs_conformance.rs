//! The VFS catalog conformance suite: what every [`VfsCatalog`] (in memory, on disk,
//! in Postgres) must do, written once against the trait.
//!
//! Like the store suite, each run uses ids unique to the call, so it can run against
//! a catalog that already holds data, and several times on one catalog.
//!
//! What this module must not do: depend on a backend or check its layout.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail, ensure};
use engine::store::BlobStore;
use engine::{BlobRef, SessionId};
use vfs::workspace::{self, WORKSPACE_REVISION_INITIAL};
use vfs::{
    FileEntry, Limits, Mount, MountMode, MountSource, SessionPath, Snapshot, VfsCatalog, VfsError,
    VfsPath, Workspace, WorkspaceId,
};

/// Runs every check.
pub async fn catalog_suite<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
) -> anyhow::Result<()> {
    workspace_suite(catalog, blobs)
        .await
        .context("workspace suite")?;
    mount_suite(catalog, blobs).await.context("mount suite")?;
    concurrent_writers(catalog, blobs)
        .await
        .context("concurrent writers")?;
    Ok(())
}

/// Create, read, compare-and-set and delete of workspace heads.
pub async fn workspace_suite<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
) -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let id = WorkspaceId::new(format!("{prefix}-ws"))?;
    let first = tree_with(blobs, &[("a.txt", "one")]).await?;
    let second = tree_with(blobs, &[("a.txt", "two")]).await?;

    ensure!(
        catalog.workspace_read(&id).await?.is_none(),
        "unknown workspace reads as none"
    );
    let created = catalog.workspace_create(&id, &first).await?;
    let expected = Workspace {
        id: id.clone(),
        revision: WORKSPACE_REVISION_INITIAL,
        snapshot: first.clone(),
    };
    ensure!(created == expected, "create returned {created:?}");
    ensure!(
        catalog.workspace_read(&id).await? == Some(expected.clone()),
        "read after create"
    );
    match catalog.workspace_create(&id, &second).await {
        Err(VfsError::WorkspaceExists(existing)) if existing == id => {}
        other => bail!("second create must be WorkspaceExists, got {other:?}"),
    }

    let moved = catalog.workspace_set_head(&id, 1, &second).await?;
    ensure!(
        moved.revision == 2 && moved.snapshot == second,
        "set_head moved to {moved:?}"
    );
    match catalog.workspace_set_head(&id, 1, &first).await {
        Err(VfsError::Conflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => bail!("a stale set_head must conflict, got {other:?}"),
    }
    ensure!(
        catalog.workspace_read(&id).await? == Some(moved.clone()),
        "a conflict changes nothing"
    );
    let missing = WorkspaceId::new(format!("{prefix}-missing"))?;
    match catalog.workspace_set_head(&missing, 1, &first).await {
        Err(VfsError::WorkspaceNotFound(_)) => {}
        other => bail!("set_head of an unknown workspace, got {other:?}"),
    }

    match catalog.workspace_delete(&id, Some(1)).await {
        Err(VfsError::Conflict { actual: 2, .. }) => {}
        other => bail!("a stale delete must conflict, got {other:?}"),
    }
    catalog.workspace_delete(&id, Some(2)).await?;
    ensure!(
        catalog.workspace_read(&id).await?.is_none(),
        "deleted workspace reads as none"
    );
    match catalog.workspace_delete(&id, None).await {
        Err(VfsError::WorkspaceNotFound(_)) => {}
        other => bail!("deleting twice must be WorkspaceNotFound, got {other:?}"),
    }
    let again = catalog.workspace_create(&id, &second).await?;
    ensure!(
        again.revision == WORKSPACE_REVISION_INITIAL,
        "a recreated workspace starts over"
    );
    Ok(())
}

/// Put, replace, bound, list and delete of a session's mounts.
pub async fn mount_suite<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
) -> anyhow::Result<()> {
    let prefix = unique_prefix();
    let session = SessionId::new(format!("{prefix}-s"))?;
    let other = SessionId::new(format!("{prefix}-other"))?;
    let snapshot = tree_with(blobs, &[("x", "x")]).await?;
    let mount = |path: &str, mode| -> anyhow::Result<Mount> {
        Ok(Mount {
            path: SessionPath::parse(path)?,
            source: MountSource::Snapshot {
                snapshot: snapshot.clone(),
            },
            mode,
        })
    };

    ensure!(
        catalog.mount_list(&session).await?.is_empty(),
        "no mounts yet"
    );
    for path in ["/work", "/data", "/work/vendor"] {
        catalog
            .mount_put(&session, &mount(path, MountMode::ReadOnly)?, 3)
            .await?;
    }
    let paths = |mounts: Vec<Mount>| -> Vec<String> {
        mounts.into_iter().map(|m| m.path.to_string()).collect()
    };
    let listed = paths(catalog.mount_list(&session).await?);
    ensure!(
        listed == ["/data", "/work", "/work/vendor"],
        "ordered by path: {listed:?}"
    );
    // Replacing a mount at the same path is allowed at the limit; a fourth is not.
    let workspace_mount = Mount {
        source: MountSource::Workspace {
            workspace: WorkspaceId::new(format!("{prefix}-ws"))?,
        },
        mode: MountMode::ReadWrite,
        ..mount("/work", MountMode::ReadWrite)?
    };
    catalog.mount_put(&session, &workspace_mount, 3).await?;
    ensure!(
        catalog.mount_list(&session).await?[1] == workspace_mount,
        "put replaces the mount at its path"
    );
    match catalog
        .mount_put(&session, &mount("/extra", MountMode::ReadOnly)?, 3)
        .await
    {
        Err(VfsError::TooManyMounts { max: 3 }) => {}
        other => bail!("a fourth mount must be refused, got {other:?}"),
    }
    ensure!(
        catalog.mount_list(&other).await?.is_empty(),
        "sessions do not share mounts"
    );
    ensure!(
        catalog
            .mount_delete(&session, &SessionPath::parse("/data")?)
            .await?,
        "delete reports a removal"
    );
    ensure!(
        !catalog
            .mount_delete(&session, &SessionPath::parse("/data")?)
            .await?,
        "deleting twice reports nothing removed"
    );
    for path in ["/work", "/work/vendor"] {
        catalog
            .mount_delete(&session, &SessionPath::parse(path)?)
            .await?;
    }
    ensure!(
        catalog.mount_list(&session).await?.is_empty(),
        "all deleted"
    );
    Ok(())
}

/// Two writers read one head and commit different changes at once: exactly one
/// wins, the other gets the conflict, and after it re-reads and re-applies, both
/// changes are in the workspace.
pub async fn concurrent_writers<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
) -> anyhow::Result<()> {
    let limits = Limits::default();
    let id = WorkspaceId::new(format!("{}-race", unique_prefix()))?;
    let base_ref = tree_with(blobs, &[("shared.txt", "base")]).await?;
    let base = catalog.workspace_create(&id, &base_ref).await?;
    let tree = Snapshot::load(blobs, &base.snapshot).await?;
    let (tree_a, tree_b) = (
        with_file(blobs, &tree, "a.txt", "from a").await?,
        with_file(blobs, &tree, "b.txt", "from b").await?,
    );
    let (a, b) = futures::join!(
        workspace::commit(catalog, blobs, &limits, &base, &tree_a),
        workspace::commit(catalog, blobs, &limits, &base, &tree_b),
    );
    let (won, lost_file) = match (&a, &b) {
        (Ok(won), Err(VfsError::Conflict { expected, .. })) if *expected == base.revision => {
            (won, "b.txt")
        }
        (Err(VfsError::Conflict { expected, .. }), Ok(won)) if *expected == base.revision => {
            (won, "a.txt")
        }
        _ => bail!("exactly one writer must win: {a:?} / {b:?}"),
    };
    ensure!(
        won.revision == base.revision + 1,
        "the winner moved the head once"
    );
    // The loser re-reads and re-applies its change on top of the winner's.
    let head = workspace::read(catalog, &id).await?;
    let current = Snapshot::load(blobs, &head.snapshot).await?;
    let retried = with_file(blobs, &current, lost_file, "retried").await?;
    let last = workspace::commit(catalog, blobs, &limits, &head, &retried).await?;
    ensure!(last.revision == base.revision + 2, "two commits in all");
    let end = Snapshot::load(blobs, &last.snapshot).await?;
    for name in ["shared.txt", "a.txt", "b.txt"] {
        ensure!(
            end.get(&VfsPath::parse(name)?).is_some(),
            "{name} survived the race"
        );
    }
    Ok(())
}

async fn with_file<B: BlobStore>(
    blobs: &B,
    tree: &Snapshot,
    path: &str,
    text: &str,
) -> anyhow::Result<Snapshot> {
    let mut tree = tree.clone();
    let bytes = text.as_bytes().to_vec();
    let entry = FileEntry {
        size_bytes: bytes.len() as u64,
        blob: blobs.put(bytes).await?,
        executable: false,
    };
    tree.insert(VfsPath::parse(path)?, entry)?;
    Ok(tree)
}

async fn tree_with<B: BlobStore>(blobs: &B, files: &[(&str, &str)]) -> anyhow::Result<BlobRef> {
    let mut tree = Snapshot::new();
    for (path, text) in files {
        tree = with_file(blobs, &tree, path, text).await?;
    }
    Ok(tree.store(blobs, &Limits::default()).await?)
}

fn unique_prefix() -> String {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    let call = CALLS.fetch_add(1, Ordering::Relaxed);
    format!("vfs-{}-{nanos}-{call}", std::process::id())
}
