//! Deleting a session's records and collecting the blobs nothing references.
//!
//! Collection is decided above the stores (`session_stores::collect`); this module
//! answers its questions for one root: which refs the records name (every file
//! outside `cas/` is read and scanned, whatever catalog wrote it, so a new catalog
//! is covered without a change here), which blobs the CAS holds, and deleting the
//! ones found unreferenced.
//!
//! A blob's "touched" time is its file's mtime: a put of bytes already stored sets
//! it to now (`cas::put`). Puts hold `cas/collect.lock` shared while they look and
//! touch; a sweep holds it exclusive while it checks each file's mtime and removes
//! it, so a blob put again during a collection is never removed under its writer.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use engine::store::StoreError;
use engine::{BlobRef, SessionId};

use crate::cas::{self, CAS_DIR};
use crate::fsio::{self, TEMP_PREFIX, io_err};
use crate::{SESSIONS_DIR, log, session_dir_name, usage};

/// Taken shared by puts and exclusive by sweeps (see the module docs).
const COLLECT_LOCK: &str = "cas/collect.lock";
/// Where a deleted session's directory is moved before it is removed, so a crash
/// mid-removal never leaves half a log under `sessions/`.
const TRASH_DIR: &str = "trash";

/// Holds the collection lock of `root` shared (a put) or exclusive (a sweep) until
/// dropped.
pub(crate) struct CollectGuard {
    _file: File,
}

pub(crate) fn collect_lock(root: &Path, exclusive: bool) -> Result<CollectGuard, StoreError> {
    let path = root.join(COLLECT_LOCK);
    let file = fsio::open_lock_file(&path)?;
    let locked = if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    };
    locked.map_err(io_err("lock", &path))?;
    Ok(CollectGuard { _file: file })
}

/// The per-session records other than the log directory: `<dir>/<name>.json` (and
/// its `.lock`) for mounts, MCP links, environment attachments and memory links,
/// and the quota markers.
fn session_records(root: &Path, name: &str) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for dir in ["vfs/mounts", "mcp/links", "env/attachments", "memory/links"] {
        paths.push(root.join(dir).join(format!("{name}.json")));
        paths.push(root.join(dir).join(format!("{name}.lock")));
    }
    paths.push(root.join(usage::RUNS_DIR).join(name));
    paths.push(root.join(usage::WAKE_UPS_DIR).join(name));
    paths.push(root.join(usage::CHILDREN_DIR).join(name));
    paths
}

/// Removes `session`'s log, checkpoints and records. The log directory is moved to
/// `trash/` under the session's exclusive log lock (an append in flight finishes
/// first, one after finds no log), then removed. Environment jobs are left to
/// expire with their deadlines. Returns how many log entries were removed.
pub(crate) fn delete_session(
    root: &Path,
    index: &std::sync::Mutex<log::LogIndex>,
    session: &SessionId,
) -> Result<u64, StoreError> {
    let name = session_dir_name(session);
    let dir = root.join(SESSIONS_DIR).join(&name);
    let entries = log::head(&dir, index)?;
    let trash = root.join(TRASH_DIR);
    fsio::ensure_dir(&trash)?;
    let moved = trash.join(format!("{name}.{}", unique_suffix()));
    {
        let mut guard = log::lock_index(index);
        let lock = match File::open(dir.join(log::LOCK_FILE)) {
            Ok(lock) => Some(lock),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(io_err("open", &dir)(err)),
        };
        if let Some(lock) = &lock {
            lock.lock().map_err(io_err("lock", &dir))?;
        }
        match fs::rename(&dir, &moved) {
            Ok(()) => fsio::sync_dir(&root.join(SESSIONS_DIR))?,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(io_err("move to trash", &dir)(err)),
        }
        // The session's records (quota markers among them) go while its log is
        // still held: a session started again under the same id in this process
        // waits for the index, so its fresh markers are never the ones removed.
        for path in session_records(root, &name) {
            match fs::remove_file(&path) {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_err("remove", &path)(err)),
            }
        }
        guard.clear();
    }
    match fs::remove_dir_all(&moved) {
        Ok(()) => {}
        Err(err) if err.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(io_err("remove", &moved)(err)),
    }
    Ok(entries)
}

fn unique_suffix() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    format!("{nanos}-{}", std::process::id())
}

/// Every ref named by a file outside `cas/` and `trash/` (lock and temporary files
/// skipped).
pub(crate) fn blob_roots(root: &Path) -> Result<HashSet<BlobRef>, StoreError> {
    let mut roots = HashSet::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_err("list", &dir)(err)),
        };
        for entry in entries {
            let entry = entry.map_err(io_err("list", &dir))?;
            let path = entry.path();
            let kind = entry.file_type().map_err(io_err("inspect", &path))?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                if path != root.join("cas") && path != root.join(TRASH_DIR) {
                    dirs.push(path);
                }
            } else if kind.is_file() && !name.ends_with(".lock") && !name.starts_with(TEMP_PREFIX) {
                let bytes = match fs::read(&path) {
                    Ok(bytes) => bytes,
                    // Removed since it was listed (a record deleted meanwhile).
                    Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(io_err("read", &path)(err)),
                };
                roots.extend(engine::blob_ref::refs_in(&bytes));
            }
        }
    }
    Ok(roots)
}

/// Up to `limit` blobs after `after` in digest order: `(blob, size, mtime in ms)`.
pub(crate) fn blob_page(
    root: &Path,
    after: Option<&BlobRef>,
    limit: usize,
) -> Result<Vec<(BlobRef, u64, u64)>, StoreError> {
    let cas_dir = root.join(CAS_DIR);
    let after_hex = after.map(|blob| blob.hex_digest().to_owned());
    let mut prefixes = list_names(&cas_dir)?;
    prefixes.retain(|prefix| prefix.len() == 2);
    prefixes.sort();
    let mut page = Vec::new();
    for prefix in prefixes {
        if after_hex
            .as_deref()
            .is_some_and(|after| prefix.as_str() < &after[..2])
        {
            continue;
        }
        let mut names = list_names(&cas_dir.join(&prefix))?;
        names.sort();
        for name in names {
            if after_hex
                .as_deref()
                .is_some_and(|after| name.as_str() <= after)
            {
                continue;
            }
            let Ok(blob) = BlobRef::parse(&format!("sha256:{name}")) else {
                continue; // a temporary file or something left by hand
            };
            let path = cas::blob_path(root, &blob);
            let meta = match fs::metadata(&path) {
                Ok(meta) => meta,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(io_err("inspect blob", &path)(err)),
            };
            page.push((blob, meta.len(), mtime_ms(&meta)));
            if page.len() >= limit {
                return Ok(page);
            }
        }
    }
    Ok(page)
}

fn list_names(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_err("list", dir)(err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", dir))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

fn mtime_ms(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| since.as_millis() as u64)
}

/// Removes those of `blobs` whose file was last touched before
/// `touched_before_ms`, under the exclusive collection lock, and moves the stored
/// bytes. Returns `(blobs, bytes)` removed.
pub(crate) fn delete_blobs(
    root: &Path,
    blobs: &[BlobRef],
    touched_before_ms: u64,
) -> Result<(u64, u64), StoreError> {
    let _guard = collect_lock(root, true)?;
    let (mut count, mut bytes) = (0u64, 0u64);
    for blob in blobs {
        let path = cas::blob_path(root, blob);
        let meta = match fs::metadata(&path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_err("inspect blob", &path)(err)),
        };
        if mtime_ms(&meta) >= touched_before_ms {
            continue;
        }
        fs::remove_file(&path).map_err(io_err("remove blob", &path))?;
        count += 1;
        bytes += meta.len();
    }
    if bytes > 0 {
        usage::add_stored_bytes(root, -i64::try_from(bytes).unwrap_or(i64::MAX))?;
    }
    Ok((count, bytes))
}

/// Sets the blob file's mtime to now: a put of stored bytes (the caller holds the
/// collection lock shared). False when the file is gone.
pub(crate) fn touch(path: &Path) -> Result<bool, StoreError> {
    let file = match File::options().write(true).open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(err) => return Err(io_err("open blob", path)(err)),
    };
    file.set_modified(SystemTime::now())
        .map_err(io_err("touch blob", path))?;
    Ok(true)
}

/// Pins live at `pins/<hex>`, each holding its ref and time (so the roots scan
/// finds them like any record); changes hold `pins/.lock`.
const PINS_DIR: &str = "pins";

#[derive(serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct PinRecord {
    blob_ref: BlobRef,
    pinned_at_ms: u64,
}

/// See `FsStore::pin_blob`.
pub(crate) fn pin_blob(
    root: &Path,
    blob: &BlobRef,
    at_ms: u64,
    pins_max: u64,
) -> Result<Option<bool>, StoreError> {
    let dir = root.join(PINS_DIR);
    fsio::ensure_dir(&dir)?;
    let lock_path = dir.join(".lock");
    let lock = fsio::open_lock_file(&lock_path)?;
    lock.lock().map_err(io_err("lock", &lock_path))?;
    let path = dir.join(blob.hex_digest());
    if path.is_file() {
        return Ok(Some(false));
    }
    let count = list_names(&dir)?
        .iter()
        .filter(|name| BlobRef::parse(&format!("sha256:{name}")).is_ok())
        .count() as u64;
    if count >= pins_max {
        return Ok(None);
    }
    let record = PinRecord {
        blob_ref: blob.clone(),
        pinned_at_ms: at_ms,
    };
    let bytes = serde_json::to_vec(&record).map_err(StoreError::permanent)?;
    fsio::write_atomic(&path, &bytes, fsio::Existing::Keep)?;
    Ok(Some(true))
}

/// See `FsStore::unpin_blob`.
pub(crate) fn unpin_blob(root: &Path, blob: &BlobRef) -> Result<bool, StoreError> {
    let path = root.join(PINS_DIR).join(blob.hex_digest());
    match fs::remove_file(&path) {
        Ok(()) => Ok(true),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(io_err("remove pin", &path)(err)),
    }
}

/// See `FsStore::pinned_blobs`.
pub(crate) fn pinned_blobs(root: &Path) -> Result<Vec<(BlobRef, u64)>, StoreError> {
    let dir = root.join(PINS_DIR);
    let mut names = list_names(&dir)?;
    names.sort();
    let mut pins = Vec::new();
    for name in names {
        if BlobRef::parse(&format!("sha256:{name}")).is_err() {
            continue; // the lock file, a temporary file
        }
        let path = dir.join(&name);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
            Err(err) => return Err(io_err("read pin", &path)(err)),
        };
        let record: PinRecord =
            serde_json::from_slice(&bytes).map_err(|err| StoreError::Corrupt {
                location: path.display().to_string(),
                reason: err.to_string(),
            })?;
        pins.push((record.blob_ref, record.pinned_at_ms));
    }
    Ok(pins)
}
