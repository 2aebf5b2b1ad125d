//! Bounds of snapshots, paths and mount tables. Every limit is checked where a value
//! is created (a commit, a write, a mount). Loading what was already stored checks
//! its structure and the default limits (the format's caps, which any tenant's
//! uploaded blob may try to exceed): the manifest's size before it is read or
//! parsed, then its entry count, and every path's shape while it is parsed. A
//! deployment's [`Limits`] may lower the defaults for new data, never raise them.

use crate::error::VfsError;
use crate::path::VfsPath;

/// Default of [`Limits::snapshot_files_max`]: files in one snapshot. Every write
/// rewrites the whole manifest (about 120 bytes a file), so this also bounds the cost
/// of one write to a few megabytes.
pub const SNAPSHOT_FILES_MAX: u64 = 50_000;
/// Default of [`Limits::snapshot_bytes_max`]: total file bytes in one snapshot (1 GiB).
pub const SNAPSHOT_BYTES_MAX: u64 = 1 << 30;
/// Default of [`Limits::file_bytes_max`]: bytes of one file (32 MiB). Tools hold a
/// file whole in memory while they read or edit it.
pub const FILE_BYTES_MAX: u64 = 32 << 20;
/// Default of [`Limits::path_depth_max`]: names in one path.
pub const PATH_DEPTH_MAX: usize = 64;
/// Default of [`Limits::path_bytes_max`]: bytes of one path (Linux's `PATH_MAX`).
pub const PATH_BYTES_MAX: usize = 4_096;
/// Default of [`Limits::name_bytes_max`]: bytes of one name (Linux's `NAME_MAX`).
pub const NAME_BYTES_MAX: usize = 255;
/// Default of [`Limits::manifest_bytes_max`]: bytes of one encoded manifest (16 MiB):
/// room for [`SNAPSHOT_FILES_MAX`] entries of about 330 bytes each. Checked before a
/// stored manifest is fetched (through the store's length) and before it is parsed.
pub const MANIFEST_BYTES_MAX: u64 = 16 << 20;
/// Default of [`Limits::session_mounts_max`]: mounts of one session.
pub const SESSION_MOUNTS_MAX: usize = 32;

/// The bounds a VFS deployment enforces. Defaults are the constants of this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub snapshot_files_max: u64,
    pub snapshot_bytes_max: u64,
    pub file_bytes_max: u64,
    pub path_depth_max: usize,
    pub path_bytes_max: usize,
    pub name_bytes_max: usize,
    pub session_mounts_max: usize,
    pub manifest_bytes_max: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            snapshot_files_max: SNAPSHOT_FILES_MAX,
            snapshot_bytes_max: SNAPSHOT_BYTES_MAX,
            file_bytes_max: FILE_BYTES_MAX,
            path_depth_max: PATH_DEPTH_MAX,
            path_bytes_max: PATH_BYTES_MAX,
            name_bytes_max: NAME_BYTES_MAX,
            session_mounts_max: SESSION_MOUNTS_MAX,
            manifest_bytes_max: MANIFEST_BYTES_MAX,
        }
    }
}

impl Limits {
    /// Checks the depth and lengths of a path of `names` joined by `/`.
    pub fn check_names<'a>(&self, names: impl Iterator<Item = &'a str>) -> Result<(), VfsError> {
        let (mut depth, mut bytes) = (0usize, 0usize);
        for name in names {
            depth += 1;
            bytes += name.len() + 1;
            exceeds("name_bytes_max", name.len(), self.name_bytes_max)?;
        }
        exceeds("path_depth_max", depth, self.path_depth_max)?;
        exceeds("path_bytes_max", bytes, self.path_bytes_max)
    }

    /// Checks a path inside a snapshot.
    pub fn check_path(&self, path: &VfsPath) -> Result<(), VfsError> {
        self.check_names(path.names())
    }

    /// Checks the size of one file.
    pub fn check_file_bytes(&self, size_bytes: u64) -> Result<(), VfsError> {
        exceeds("file_bytes_max", size_bytes, self.file_bytes_max)
    }
}

/// [`VfsError::LimitExceeded`] when `value > max`.
pub(crate) fn exceeds(
    limit: &'static str,
    value: impl TryInto<u64>,
    max: impl TryInto<u64>,
) -> Result<(), VfsError> {
    let value = value.try_into().unwrap_or(u64::MAX);
    let max = max.try_into().unwrap_or(u64::MAX);
    if value > max {
        return Err(VfsError::LimitExceeded { limit, value, max });
    }
    Ok(())
}
