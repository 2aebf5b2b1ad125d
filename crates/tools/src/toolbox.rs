//! [`Toolbox`]: what one invocation works with (the session's mounts, the catalog,
//! the blobs, the mode and limits), and the file access every tool shares: resolving
//! paths, reading files, listing what is visible below a path across mounts, and
//! committing edits with compare-and-set retries.

use engine::core::run::ToolStatus;
use engine::store::BlobStore;
use vfs::mount::{self, MountState};
use vfs::{
    FileEntry, Mount, MountTable, NodeKind, SessionPath, Snapshot, VfsCatalog, VfsError, VfsPath,
};

use crate::error::{Failure, InvokeError, Result, ToolError};
use crate::limits::{BINARY_SNIFF_BYTES, Limits};
use crate::names::{Mode, ToolKind};

/// Room kept for the truncation marker within `output_bytes_max`.
const MARKER_BYTES_MAX: usize = 100;

/// A finished call: what the model is told, and whether it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolOutcome {
    pub status: ToolStatus,
    /// UTF-8 text.
    pub output: Vec<u8>,
}

/// Everything one invocation works with.
pub struct Toolbox<'a, C, B> {
    pub mounts: &'a MountTable,
    pub catalog: &'a C,
    pub blobs: &'a B,
    pub mode: Mode,
    pub limits: &'a Limits,
}

impl<C: VfsCatalog, B: BlobStore> Toolbox<'_, C, B> {
    /// Runs the tool `name` (either spelling) with `arguments` (JSON text). Every
    /// failure the model caused comes back as an outcome with status `error`; only a
    /// storage failure is an `Err`.
    pub async fn invoke(
        &self,
        name: &str,
        arguments: &[u8],
    ) -> std::result::Result<ToolOutcome, InvokeError> {
        match self.run(name, arguments).await {
            Ok(output) => Ok(ToolOutcome {
                status: ToolStatus::Ok,
                output: self.cap_output(output).into_bytes(),
            }),
            Err(Failure::Tool(err)) => Ok(ToolOutcome {
                status: ToolStatus::Error,
                output: self.cap_output(format!("Error: {err}")).into_bytes(),
            }),
            Err(Failure::Infra(err)) => Err(err),
        }
    }

    async fn run(&self, name: &str, arguments: &[u8]) -> Result<String> {
        let kind =
            ToolKind::from_name(name).ok_or_else(|| ToolError::UnknownTool(name.to_owned()))?;
        if kind.writes() && self.mode == Mode::ReadOnly {
            return Err(ToolError::ReadOnlyMode(kind.canonical_name()).into());
        }
        match kind {
            ToolKind::ReadFile => crate::read::read_file(self, parse(arguments)?).await,
            ToolKind::WriteFile => crate::edit::write_file(self, parse(arguments)?).await,
            ToolKind::EditFile => crate::edit::edit_file(self, parse(arguments)?).await,
            ToolKind::ApplyPatch => {
                crate::patch::apply_patch(self, crate::patch::arguments(arguments)?).await
            }
            ToolKind::Grep => crate::search::grep(self, parse(arguments)?).await,
            ToolKind::Glob => crate::search::glob(self, parse(arguments)?).await,
            ToolKind::ListDir => crate::list::list_dir(self, parse(arguments)?).await,
        }
    }

    /// Cuts `output` at the last line break that leaves room for a marker within
    /// `output_bytes_max`, and adds the marker.
    fn cap_output(&self, output: String) -> String {
        let max = self.limits.output_bytes_max;
        if output.len() <= max {
            return output;
        }
        let mut cut = max.saturating_sub(MARKER_BYTES_MAX);
        while !output.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = output[..cut].rfind('\n').map_or(cut, |at| at + 1);
        format!(
            "{}\n[output truncated: {} of {} bytes shown (output_bytes_max)]",
            &output[..cut],
            cut,
            output.len()
        )
    }

    /// Normalises `raw` against the mounts.
    pub(crate) fn resolve(&self, raw: &str) -> Result<SessionPath> {
        Ok(self.mounts.resolve(raw, &self.limits.vfs)?)
    }

    /// The mount holding `path`, and `path` inside it.
    pub(crate) fn route(&self, path: &SessionPath) -> Result<(&Mount, VfsPath)> {
        Ok(self.mounts.route_or_err(path)?)
    }

    pub(crate) async fn open(&self, mount: &Mount) -> Result<MountState> {
        Ok(mount::open(self.catalog, self.blobs, mount).await?)
    }

    /// The bytes of a file.
    pub(crate) async fn load(&self, entry: &FileEntry) -> Result<Vec<u8>> {
        Ok(self.blobs.get(&entry.blob).await?)
    }

    /// The file at `path`: its entry and bytes. A directory or a missing path is a
    /// tool error.
    pub(crate) async fn read(&self, path: &SessionPath) -> Result<(FileEntry, Vec<u8>)> {
        let (mount, inner) = self.route(path)?;
        let state = self.open(mount).await?;
        let entry = file_in(&state.tree, &inner, path)?.clone();
        let bytes = self.load(&entry).await?;
        Ok((entry, bytes))
    }

    /// Every file visible at or below `path`, across mounts (nested mounts hide what
    /// lies below them in the mount above), in path order. `None` if `path` is a file.
    pub(crate) async fn visible(&self, path: &SessionPath) -> Result<Visible> {
        let mut visible = Visible::default();
        let mut found = false;
        if let Some((mount, inner)) = self.mounts.route(path) {
            let state = self.open(mount).await?;
            match state.tree.kind(&inner) {
                Some(NodeKind::File(entry)) => {
                    visible.files.push((path.clone(), entry.clone()));
                    visible.is_file = true;
                    return Ok(visible);
                }
                Some(NodeKind::Directory) => found = true,
                None => {}
            }
            self.collect(&mut visible, mount, &state.tree, &inner);
        }
        for mount in self.mounts.mounts_below(path) {
            found = true;
            let state = self.open(mount).await?;
            visible.mount_points.push(mount.path.clone());
            self.collect(&mut visible, mount, &state.tree, &VfsPath::root());
        }
        if !found {
            return Err(match self.mounts.route(path) {
                Some(_) => VfsError::NotFound {
                    path: path.to_string(),
                },
                None => self.mounts.outside(path),
            }
            .into());
        }
        visible.files.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(visible)
    }

    fn collect(&self, visible: &mut Visible, mount: &Mount, tree: &Snapshot, dir: &VfsPath) {
        for (inner, entry) in tree.files_below(dir) {
            let path = mount.path.join(inner);
            if !self.mounts.is_shadowed(mount, &path) {
                visible.files.push((path, entry.clone()));
            }
        }
    }

    /// Starts an edit of the mount holding `path`; refuses read-only mounts.
    pub(crate) async fn begin<'m>(&self, mount: &'m Mount, path: &SessionPath) -> Result<Edit<'m>> {
        if !mount::is_writable(mount) {
            return Err(mount::read_only(mount, path).into());
        }
        let base = self.open(mount).await?;
        let tree = base.tree.clone();
        Ok(Edit { mount, base, tree })
    }

    /// Stores `bytes` and puts them at `inner` in the edit's tree.
    pub(crate) async fn put(
        &self,
        edit: &mut Edit<'_>,
        inner: VfsPath,
        bytes: Vec<u8>,
        executable: bool,
    ) -> Result<()> {
        let size_bytes = bytes.len() as u64;
        self.limits.vfs.check_file_bytes(size_bytes)?;
        let blob = self.blobs.put(bytes).await?;
        let entry = FileEntry {
            blob,
            size_bytes,
            executable,
        };
        let mount_path = &edit.mount.path;
        // The tree names paths inside the mount; the model knows session paths.
        let shown = |inner: &str| match VfsPath::parse(inner) {
            Ok(inner) => mount_path.join(&inner).to_string(),
            Err(_) => inner.to_owned(),
        };
        match edit.tree.insert(inner, entry) {
            Ok(_) => Ok(()),
            Err(VfsError::NotADirectory { file, .. }) => {
                Err(ToolError::NotADirectory { path: shown(&file) }.into())
            }
            Err(VfsError::IsADirectory { path }) => {
                Err(ToolError::IsADirectory { path: shown(&path) }.into())
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Commits the edit. `Ok(false)` if another write moved the head first: the
    /// caller starts over from a fresh [`Self::begin`].
    pub(crate) async fn finish(&self, edit: Edit<'_>) -> Result<bool> {
        match mount::commit(
            self.catalog,
            self.blobs,
            &self.limits.vfs,
            edit.mount,
            &edit.base,
            &edit.tree,
        )
        .await
        {
            Ok(_) => Ok(true),
            Err(VfsError::Conflict { .. }) => Ok(false),
            Err(err) => Err(err.into()),
        }
    }

    /// The attempts a write makes before giving up on a busy workspace.
    pub(crate) fn attempts(&self) -> std::ops::RangeInclusive<u32> {
        1..=self.limits.write_attempts_max.max(1)
    }

    pub(crate) fn conflict(&self) -> Failure {
        ToolError::WriteConflict {
            attempts: self.limits.write_attempts_max.max(1),
        }
        .into()
    }
}

/// An edit in progress: the tree as read, and the tree being changed.
pub(crate) struct Edit<'m> {
    pub(crate) mount: &'m Mount,
    base: MountState,
    pub(crate) tree: Snapshot,
}

/// Files visible below a path, and the mounts attached below it.
#[derive(Debug, Default)]
pub(crate) struct Visible {
    pub(crate) files: Vec<(SessionPath, FileEntry)>,
    pub(crate) mount_points: Vec<SessionPath>,
    /// The path itself is a file (the only entry of `files`).
    pub(crate) is_file: bool,
}

/// The entry of the file `inner` in `tree`, shown to the model as `path`.
pub(crate) fn file_in<'t>(
    tree: &'t Snapshot,
    inner: &VfsPath,
    path: &SessionPath,
) -> Result<&'t FileEntry> {
    match tree.kind(inner) {
        Some(NodeKind::File(entry)) => Ok(entry),
        Some(NodeKind::Directory) => Err(ToolError::IsADirectory {
            path: path.to_string(),
        }
        .into()),
        None => Err(VfsError::NotFound {
            path: path.to_string(),
        }
        .into()),
    }
}

/// Whether `bytes` look binary: a NUL byte among the first few kilobytes.
pub(crate) fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(BINARY_SNIFF_BYTES).any(|b| *b == 0)
}

/// Decodes JSON arguments; a mismatch is a tool error naming the problem.
pub(crate) fn parse<T: serde::de::DeserializeOwned>(arguments: &[u8]) -> Result<T> {
    serde_json::from_slice(arguments).map_err(|err| ToolError::Arguments(err.to_string()).into())
}
