//! File-system helpers shared by the log, the blob store and the checkpoints: io
//! errors that name their path, directory fsync, and atomic file creation.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use engine::store::StoreError;

/// An I/O failure, with what was being done and to which path. Carried as the source
/// of [`StoreError::Backend`]; downcast to inspect [`io::ErrorKind`] (e.g. disk full).
#[derive(Debug, thiserror::Error)]
#[error("cannot {action} {}: {source}", path.display())]
pub struct IoError {
    action: &'static str,
    path: PathBuf,
    source: io::Error,
}

impl IoError {
    pub fn kind(&self) -> io::ErrorKind {
        self.source.kind()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the same operation may succeed later: an interrupted or timed-out
    /// call, or a full disk an operator can free. Missing files, permissions and
    /// invalid data stay as they are.
    pub fn is_retryable(&self) -> bool {
        io_retryable(self.source.kind())
    }
}

/// The io error kinds that are conditions of the moment rather than of the request.
pub(crate) fn io_retryable(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
            | io::ErrorKind::StorageFull
    )
}

/// A backend [`StoreError`] for an io error without a path to name.
pub(crate) fn io_failure(err: io::Error) -> StoreError {
    if io_retryable(err.kind()) {
        StoreError::transient(err)
    } else {
        StoreError::permanent(err)
    }
}

/// Builds a `map_err` adapter turning an [`io::Error`] into a backend [`StoreError`].
pub(crate) fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_owned();
    move |source| {
        let err = IoError {
            action,
            path,
            source,
        };
        if err.is_retryable() {
            StoreError::transient(err)
        } else {
            StoreError::permanent(err)
        }
    }
}

/// Makes a new directory entry in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    #[cfg(unix)]
    {
        File::open(dir)
            .and_then(|handle| handle.sync_all())
            .map_err(io_err("fsync directory", dir))?;
    }
    // Elsewhere directories cannot be opened as files; renames are durable once the
    // file itself is synced on the platforms we support besides unix (none yet).
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates `dir` and its missing ancestors, fsyncing the parent of each one created.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut missing = Vec::new();
    let mut current = Some(dir);
    while let Some(path) = current.filter(|path| !path.as_os_str().is_empty() && !path.exists()) {
        missing.push(path);
        current = path.parent();
    }
    fs::create_dir_all(dir).map_err(io_err("create directory", dir))?;
    for created in missing.iter().rev() {
        if let Some(parent) = created.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_dir(parent)?;
        }
    }
    Ok(())
}

/// Opens (creating) a lock file, whose only use is `flock`: never truncated, since
/// other holders may have it open.
pub(crate) fn open_lock_file(path: &Path) -> Result<File, StoreError> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err("open", path))
}

/// Whether an atomic write replaces an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Replace it (the new content is known to be at least as good).
    Replace,
    /// Keep it: the first writer wins and later writes are no-ops.
    Keep,
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory is
/// written, fsynced and renamed into place, then the directory is fsynced. Returns
/// whether this call created the file (false when [`Existing::Keep`] found one).
pub(crate) fn write_atomic(
    path: &Path,
    bytes: &[u8],
    existing: Existing,
) -> Result<bool, StoreError> {
    let dir = path
        .parent()
        .ok_or_else(|| io_err("find the directory of", path)(io::ErrorKind::InvalidInput.into()))?;
    ensure_dir(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempfile_in(dir)
        .map_err(io_err("create a temporary file in", dir))?;
    temp.write_all(bytes)
        .and_then(|()| temp.as_file().sync_all())
        .map_err(io_err("write temporary file", temp.path()))?;
    let persisted = match existing {
        Existing::Replace => temp.persist(path).map(drop),
        Existing::Keep => temp.persist_noclobber(path).map(drop),
    };
    match persisted {
        Ok(()) => {}
        Err(err)
            if existing == Existing::Keep && err.error.kind() == io::ErrorKind::AlreadyExists =>
        {
            return Ok(false);
        }
        Err(err) => return Err(io_err("rename a temporary file to", path)(err.error)),
    }
    sync_dir(dir)?;
    Ok(true)
}

/// Name prefix of temporary files; readers skip such files.
pub(crate) const TEMP_PREFIX: &str = ".tmp-";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_failures_are_retryable_only_when_momentary() {
        let path = Path::new("/tmp/x");
        let timed_out = io_err("read", path)(io::Error::from(io::ErrorKind::TimedOut));
        assert!(timed_out.is_retryable());
        let full = io_failure(io::Error::from(io::ErrorKind::StorageFull));
        assert!(full.is_retryable());
        let denied = io_err("read", path)(io::Error::from(io::ErrorKind::PermissionDenied));
        assert!(!denied.is_retryable());
        let bad = io_failure(io::Error::from(io::ErrorKind::InvalidData));
        assert!(!bad.is_retryable());
    }
}
