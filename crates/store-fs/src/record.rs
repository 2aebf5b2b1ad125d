//! A JSON record file beside its lock file: the unit the VFS and auth catalogs
//! change. Every change takes the record's lock file, reads the record, decides, and
//! replaces it atomically (temporary file, fsync, rename), so compare-and-set holds
//! across store instances and processes. Lock files stay behind after a delete:
//! removing a lock file others may hold would let two writers lock different files.

use std::fs;
use std::io;
use std::path::PathBuf;

use engine::store::StoreError;

use crate::blocking;
use crate::fsio::{self, Existing, io_err};

/// A record file and its lock file.
pub(crate) struct Record {
    pub(crate) data: PathBuf,
    pub(crate) lock: PathBuf,
}

impl Record {
    /// `dir/<name>.json` locked by `dir/<name>.lock`; `name` must be path-safe.
    pub(crate) fn at(dir: PathBuf, name: &str) -> Self {
        Self {
            data: dir.join(format!("{name}.json")),
            lock: dir.join(format!("{name}.lock")),
        }
    }

    /// Runs `work` holding the record's exclusive lock.
    pub(crate) fn locked<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if let Some(dir) = self.lock.parent() {
            fsio::ensure_dir(dir)?;
        }
        let lock = fsio::open_lock_file(&self.lock)?;
        lock.lock().map_err(io_err("lock", &self.lock))?;
        let result = work();
        drop(lock);
        result
    }

    pub(crate) fn read<T: serde::de::DeserializeOwned>(&self) -> Result<Option<T>, StoreError> {
        let bytes = match fs::read(&self.data) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_err("read", &self.data)(err)),
        };
        engine::canonical::from_slice(&bytes)
            .map(Some)
            .map_err(|err| StoreError::Corrupt {
                location: self.data.display().to_string(),
                reason: err.to_string(),
            })
    }

    pub(crate) fn write<T: serde::Serialize>(&self, value: &T) -> Result<(), StoreError> {
        fsio::write_atomic(
            &self.data,
            &engine::canonical::to_vec(value),
            Existing::Replace,
        )
        .map(|_| ())
    }

    pub(crate) fn remove(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.data) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io_err("remove", &self.data)(err)),
        }
        if let Some(dir) = self.data.parent() {
            fsio::sync_dir(dir)?;
        }
        Ok(())
    }
}

/// Runs catalog file work off the async threads (see [`blocking`]), carrying the
/// catalog's own error through it untouched.
pub(crate) async fn run<T: Send + 'static, E: From<StoreError> + Send + 'static>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, E> {
    blocking(move || Ok(work())).await?
}
