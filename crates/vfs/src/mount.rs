//! Mounts: a session path bound to a snapshot (always read-only) or a workspace
//! (read-only or read-write). A session's [`MountTable`] routes a path to the mount
//! with the longest prefix of whole names, so mounts may nest.

use engine::store::BlobStore;
use engine::{BlobRef, SessionId};
use serde::{Deserialize, Serialize};

use crate::catalog::VfsCatalog;
use crate::error::VfsError;
use crate::limits::Limits;
use crate::path::{SessionPath, VfsPath};
use crate::snapshot::Snapshot;
use crate::workspace::{self, Workspace, WorkspaceId};

/// What a mount shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MountSource {
    Snapshot { snapshot: BlobRef },
    Workspace { workspace: WorkspaceId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MountMode {
    ReadOnly,
    ReadWrite,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub path: SessionPath,
    pub source: MountSource,
    pub mode: MountMode,
}

/// Validates `mount` and puts it in the session's table: snapshot mounts must be
/// read-only, and the snapshot or workspace must exist.
pub async fn put<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
    limits: &Limits,
    session: &SessionId,
    mount: &Mount,
) -> Result<(), VfsError> {
    check(limits, mount)?;
    match &mount.source {
        MountSource::Snapshot { snapshot } => {
            Snapshot::load(blobs, snapshot).await?;
        }
        MountSource::Workspace { workspace } => {
            workspace::read(catalog, workspace).await?;
        }
    }
    catalog
        .mount_put(session, mount, limits.session_mounts_max)
        .await
}

/// The rules of a mount that need no storage: its path's limits, and that a
/// snapshot mount is read-only. [`put`] checks them first; a host that validates
/// the source itself (decoding off its async runtime) checks them through this.
pub fn check(limits: &Limits, mount: &Mount) -> Result<(), VfsError> {
    limits.check_names(mount.path.names())?;
    match (&mount.source, mount.mode) {
        (MountSource::Snapshot { .. }, MountMode::ReadWrite) => {
            Err(VfsError::WritableSnapshotMount)
        }
        _ => Ok(()),
    }
}

/// A session's mounts, ready to route paths.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountTable {
    /// Ordered by path, one per path.
    mounts: Vec<Mount>,
}

impl MountTable {
    pub fn new(mut mounts: Vec<Mount>) -> Self {
        mounts.sort_by(|a, b| a.path.cmp(&b.path));
        mounts.dedup_by(|later, earlier| later.path == earlier.path);
        Self { mounts }
    }

    /// Reads the session's table from the catalog.
    pub async fn load<C: VfsCatalog>(catalog: &C, session: &SessionId) -> Result<Self, VfsError> {
        Ok(Self::new(catalog.mount_list(session).await?))
    }

    pub fn mounts(&self) -> &[Mount] {
        &self.mounts
    }

    pub fn is_empty(&self) -> bool {
        self.mounts.is_empty()
    }

    /// Where relative paths start: the first writable mount (in path order), else
    /// the first mount, else `/`.
    pub fn working_dir(&self) -> SessionPath {
        self.mounts
            .iter()
            .find(|mount| is_writable(mount))
            .or(self.mounts.first())
            .map_or_else(SessionPath::root, |mount| mount.path.clone())
    }

    /// Normalises `raw` (relative to [`Self::working_dir`]) and checks its limits.
    pub fn resolve(&self, raw: &str, limits: &Limits) -> Result<SessionPath, VfsError> {
        let path = SessionPath::resolve(raw, &self.working_dir())?;
        limits.check_names(path.names())?;
        Ok(path)
    }

    /// The mount with the longest prefix of `path`, and `path` inside it.
    pub fn route(&self, path: &SessionPath) -> Option<(&Mount, VfsPath)> {
        self.mounts
            .iter()
            .filter_map(|mount| Some((mount, path.strip_prefix(&mount.path)?)))
            .max_by_key(|(mount, _)| mount.path.names().count())
    }

    /// Like [`Self::route`], but a path outside every mount is an error naming them.
    pub fn route_or_err(&self, path: &SessionPath) -> Result<(&Mount, VfsPath), VfsError> {
        self.route(path).ok_or_else(|| self.outside(path))
    }

    /// Mounts strictly below `path` (shown as directories where they attach).
    pub fn mounts_below<'a>(&'a self, path: &'a SessionPath) -> impl Iterator<Item = &'a Mount> {
        self.mounts.iter().filter(move |mount| {
            mount
                .path
                .strip_prefix(path)
                .is_some_and(|rest| !rest.is_root())
        })
    }

    /// Whether a file at `path` of `mount` is hidden by a mount nested below it.
    pub fn is_shadowed(&self, mount: &Mount, path: &SessionPath) -> bool {
        self.route(path)
            .is_some_and(|(owner, _)| owner.path != mount.path)
    }

    pub fn outside(&self, path: &SessionPath) -> VfsError {
        let mounts: Vec<&str> = self.mounts.iter().map(|m| m.path.as_str()).collect();
        VfsError::OutsideMounts {
            path: path.to_string(),
            mounts: match mounts.is_empty() {
                true => "none".to_owned(),
                false => mounts.join(", "),
            },
        }
    }
}

/// A mount's tree as read at one moment, with the head it was read at.
#[derive(Debug, Clone)]
pub struct MountState {
    pub tree: Snapshot,
    /// The workspace head read; `None` for a snapshot mount.
    pub head: Option<Workspace>,
}

/// Reads the current tree of `mount`.
pub async fn open<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
    mount: &Mount,
) -> Result<MountState, VfsError> {
    match &mount.source {
        MountSource::Snapshot { snapshot } => Ok(MountState {
            tree: Snapshot::load(blobs, snapshot).await?,
            head: None,
        }),
        MountSource::Workspace { workspace } => {
            let head = workspace::read(catalog, workspace).await?;
            Ok(MountState {
                tree: Snapshot::load(blobs, &head.snapshot).await?,
                head: Some(head),
            })
        }
    }
}

/// Commits `tree` to the workspace behind `mount`, from the head in `base`.
/// [`VfsError::ReadOnlyMount`] for read-only and snapshot mounts;
/// [`VfsError::Conflict`] if the head moved since `base` was read.
pub async fn commit<C: VfsCatalog, B: BlobStore>(
    catalog: &C,
    blobs: &B,
    limits: &Limits,
    mount: &Mount,
    base: &MountState,
    tree: &Snapshot,
) -> Result<Workspace, VfsError> {
    let head = match (&base.head, mount.mode) {
        (Some(head), MountMode::ReadWrite) => head,
        _ => return Err(read_only(mount, &mount.path)),
    };
    workspace::commit(catalog, blobs, limits, head, tree).await
}

/// [`VfsError::ReadOnlyMount`] for a write to `path` on `mount`.
pub fn read_only(mount: &Mount, path: &SessionPath) -> VfsError {
    VfsError::ReadOnlyMount {
        path: path.to_string(),
        mount: mount.path.to_string(),
    }
}

/// Whether `mount` accepts writes.
pub fn is_writable(mount: &Mount) -> bool {
    mount.mode == MountMode::ReadWrite && matches!(mount.source, MountSource::Workspace { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mount(path: &str) -> Mount {
        Mount {
            path: SessionPath::parse(path).unwrap(),
            source: MountSource::Workspace {
                workspace: WorkspaceId::new("w").unwrap(),
            },
            mode: MountMode::ReadWrite,
        }
    }

    fn route(table: &MountTable, path: &str) -> Option<(String, String)> {
        let path = SessionPath::parse(path).unwrap();
        table
            .route(&path)
            .map(|(mount, rest)| (mount.path.to_string(), rest.to_string()))
    }

    #[test]
    fn longest_whole_name_prefix_wins() {
        let table = MountTable::new(vec![mount("/work/vendor"), mount("/work"), mount("/data")]);
        let pair = |a: &str, b: &str| Some((a.to_owned(), b.to_owned()));
        assert_eq!(route(&table, "/work/src/a.rs"), pair("/work", "src/a.rs"));
        assert_eq!(route(&table, "/work/vendor/x"), pair("/work/vendor", "x"));
        assert_eq!(route(&table, "/work/vendored"), pair("/work", "vendored"));
        assert_eq!(route(&table, "/work"), pair("/work", ""));
        assert_eq!(route(&table, "/workshop/a"), None);
        assert_eq!(route(&table, "/"), None);
        assert_eq!(table.working_dir().as_str(), "/data");
        let read_only = |path| Mount {
            mode: MountMode::ReadOnly,
            ..mount(path)
        };
        let mixed = MountTable::new(vec![read_only("/a"), mount("/b")]);
        assert_eq!(mixed.working_dir().as_str(), "/b");
        let work = &table.mounts()[1];
        let hidden = SessionPath::parse("/work/vendor/x").unwrap();
        assert!(table.is_shadowed(work, &hidden));
        let root = SessionPath::root();
        let below: Vec<&str> = table.mounts_below(&root).map(|m| m.path.as_str()).collect();
        assert_eq!(below, ["/data", "/work", "/work/vendor"]);
    }
}
