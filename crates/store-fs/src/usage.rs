//! What the per-universe quotas count, kept so that counting never walks the store:
//!
//! ```text
//! runs_in_flight/<session>     empty: the session may have runs in flight
//! runs_in_flight/%marked       empty: sessions written before markers were marked
//! wake_ups_pending/<session>   empty: the session may hold wake-ups that can fire
//! wake_ups_pending/%marked     empty: as for runs
//! children/<session>           the parent's id: the session is a sub-agent
//! cas/stored_bytes             decimal: the bytes of every blob under cas/sha256
//! cas/stored_bytes.lock        exclusive lock for changing it
//! cost_nanos                   decimal: what every turn recorded as its cost, nano-USD
//! cost_nanos.lock              exclusive lock for changing it
//! ```
//!
//! Runs in flight: the count itself is always read from the session's log (its
//! index counts run requests and run ends by event kind as it indexes), so it cannot
//! drift. The markers only say which sessions to look at: the appender sets one
//! before writing a batch that requests a run and clears it after a batch that
//! leaves none, under the session's exclusive lock. A session with runs in flight
//! therefore always has its marker; a crash can leave a marker whose session has
//! none, which costs a look until that session's next run ends. Counting costs one
//! index refresh per marked session: about the runs in flight, not every session.
//! Wake-ups pending (`engine::core::event::WakeUpsMove`) are marked the same way,
//! so an operator's pause finds the sessions that would request runs by themselves.
//!
//! Stored bytes: a counter moved by every put that creates a blob file (or replaces
//! a damaged one), under its lock. When it is missing or unreadable (a store from
//! before it existed, a crash while replacing it) the next reader recounts the CAS
//! once. A crash between a blob's rename and the counter's update leaves that blob
//! uncounted; deleting `cas/stored_bytes` has it recounted.
//!
//! Cost: a counter moved after every append that commits turns with a cost. When it
//! is missing (a store from before it existed) appends leave it missing and the next
//! reader rebuilds it from every session's log index, outside the counter's lock
//! (so no reader holds it while waiting for a session's log lock an appender holds).
//! A crash between an append and the counter's update, or an append racing that
//! one rebuild, leaves that append's cost uncounted; deleting `cost_nanos` has it
//! recounted.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use engine::store::StoreError;

use crate::cas::CAS_DIR;
use crate::fsio::{self, Existing, TEMP_PREFIX, io_err};

/// Marker directory below the store root: sessions with runs in flight.
pub(crate) const RUNS_DIR: &str = "runs_in_flight";
/// Marker directory below the store root: sessions with wake-ups pending.
pub(crate) const WAKE_UPS_DIR: &str = "wake_ups_pending";
/// Sub-agent markers below the store root.
pub(crate) const CHILDREN_DIR: &str = "children";
const STORED_BYTES_FILE: &str = "cas/stored_bytes";
const STORED_BYTES_LOCK: &str = "cas/stored_bytes.lock";
const COST_FILE: &str = "cost_nanos";
const COST_LOCK: &str = "cost_nanos.lock";

/// A session's markers (see the module docs).
pub(crate) struct Markers {
    pub(crate) runs: Marker,
    pub(crate) wake_ups: Marker,
}

impl Markers {
    pub(crate) fn new(root: &Path, session_dir_name: &str) -> Self {
        Self {
            runs: Marker {
                path: root.join(RUNS_DIR).join(session_dir_name),
            },
            wake_ups: Marker {
                path: root.join(WAKE_UPS_DIR).join(session_dir_name),
            },
        }
    }
}

/// One marker of one session.
pub(crate) struct Marker {
    path: PathBuf,
}

impl Marker {
    /// Makes sure the marker exists (durably) before a batch that needs it is written.
    pub(crate) fn set(&self) -> Result<(), StoreError> {
        if self.path.is_file() {
            return Ok(());
        }
        create_empty(&self.path)
    }

    /// Removes the marker once what it marks is gone. Durable, so a crash cannot
    /// bring it back.
    pub(crate) fn clear(&self) -> Result<(), StoreError> {
        match fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(io_err("remove", &self.path)(err)),
        }
        match self.path.parent() {
            Some(dir) => fsio::sync_dir(dir),
            None => Ok(()),
        }
    }
}

/// Creates an empty file and makes its name durable. No temporary file is needed
/// (there is no content to tear), so the directory holds nothing but markers.
pub(crate) fn create_empty(path: &Path) -> Result<(), StoreError> {
    let dir = path
        .parent()
        .ok_or_else(|| io_err("find the directory of", path)(io::ErrorKind::InvalidInput.into()))?;
    fsio::ensure_dir(dir)?;
    match OpenOptions::new().write(true).create_new(true).open(path) {
        Ok(_) => {}
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(err) => return Err(io_err("create", path)(err)),
    }
    fsio::sync_dir(dir)
}

/// The names in `marker_dir` ([`RUNS_DIR`], [`WAKE_UPS_DIR`]): the directory names
/// of the sessions marked there, and the sentinel (which names no session).
pub(crate) fn marked_sessions(root: &Path, marker_dir: &str) -> Result<Vec<String>, StoreError> {
    let dir = root.join(marker_dir);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_err("list", &dir)(err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io_err("list", &dir))?;
        if let Some(name) = entry.file_name().to_str() {
            names.push(name.to_owned());
        }
    }
    Ok(names)
}

/// Adds `delta` bytes to the universe's count (after a blob file was created or
/// replaced), recounting instead when there is no usable count.
pub(crate) fn add_stored_bytes(root: &Path, delta: i64) -> Result<(), StoreError> {
    with_counter(root, STORED_BYTES, |stored| match stored {
        Some(stored) => Ok(Some(stored.saturating_add_signed(delta))),
        None => recount(root).map(Some),
    })
    .map(drop)
}

/// The bytes of every blob in the store.
pub(crate) fn stored_bytes(root: &Path) -> Result<u64, StoreError> {
    with_counter(root, STORED_BYTES, |stored| match stored {
        Some(_) => Ok(None),
        None => recount(root).map(Some),
    })
}

/// Adds what an append's turns cost to the universe's count; a missing count stays
/// missing, for the next reader to rebuild (see the module docs).
pub(crate) fn add_cost_nanos(root: &Path, delta: u64) -> Result<(), StoreError> {
    with_counter(root, COST, |stored| {
        Ok(stored.map(|stored| stored.saturating_add(delta)))
    })
    .map(drop)
}

/// The universe's cost count, `None` when it must be rebuilt.
pub(crate) fn cost_nanos(root: &Path) -> Result<Option<u64>, StoreError> {
    let mut present = true;
    let total = with_counter(root, COST, |stored| {
        present = stored.is_some();
        Ok(None)
    })?;
    Ok(present.then_some(total))
}

/// Stores a rebuilt cost count unless another reader stored one meanwhile; the
/// count in force.
pub(crate) fn settle_cost_nanos(root: &Path, rebuilt: u64) -> Result<u64, StoreError> {
    with_counter(root, COST, |stored| Ok(stored.is_none().then_some(rebuilt)))
}

/// A counter file and its lock, below the store root.
#[derive(Clone, Copy)]
struct Counter {
    file: &'static str,
    lock: &'static str,
}

const STORED_BYTES: Counter = Counter {
    file: STORED_BYTES_FILE,
    lock: STORED_BYTES_LOCK,
};
const COST: Counter = Counter {
    file: COST_FILE,
    lock: COST_LOCK,
};

/// Runs `change` on the counter under its lock: it gets the stored count (`None`
/// when missing or unreadable) and returns the count to write (`None`: keep it).
/// Returns the count after the change.
fn with_counter(
    root: &Path,
    counter: Counter,
    change: impl FnOnce(Option<u64>) -> Result<Option<u64>, StoreError>,
) -> Result<u64, StoreError> {
    let lock_path = root.join(counter.lock);
    let lock = fsio::open_lock_file(&lock_path)?;
    lock.lock().map_err(io_err("lock", &lock_path))?;
    let path = root.join(counter.file);
    let stored = match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u64>().ok(),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) => return Err(io_err("read", &path)(err)),
    };
    match change(stored)? {
        Some(next) => {
            fsio::write_atomic(&path, next.to_string().as_bytes(), Existing::Replace)?;
            Ok(next)
        }
        None => Ok(stored.unwrap_or(0)),
    }
}

/// Sums the sizes of every blob file: the one walk of the CAS, for a store without a
/// usable count.
fn recount(root: &Path) -> Result<u64, StoreError> {
    let cas = root.join(CAS_DIR);
    let mut total: u64 = 0;
    for shard in read_dir_or_empty(&cas)? {
        let shard = shard.map_err(io_err("list", &cas))?;
        if !shard.file_type().map_err(io_err("inspect", &cas))?.is_dir() {
            continue;
        }
        let shard_path = shard.path();
        for blob in read_dir_or_empty(&shard_path)? {
            let blob = blob.map_err(io_err("list", &shard_path))?;
            let temporary = blob
                .file_name()
                .to_str()
                .is_none_or(|name| name.starts_with(TEMP_PREFIX));
            let meta = blob.metadata().map_err(io_err("inspect", &blob.path()))?;
            if !temporary && meta.is_file() {
                total = total.saturating_add(meta.len());
            }
        }
    }
    Ok(total)
}

fn read_dir_or_empty(dir: &Path) -> Result<Vec<io::Result<fs::DirEntry>>, StoreError> {
    match fs::read_dir(dir) {
        Ok(entries) => Ok(entries.collect()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(err) => Err(io_err("list", dir)(err)),
    }
}
