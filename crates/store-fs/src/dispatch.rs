//! The operator's dispatch pause and the event deliveries `events/ingest` has seen,
//! below the store root:
//!
//! ```text
//! dispatch_paused              decimal: when dispatch was paused (absent: running)
//! deliveries/<hex>             JSON: one delivery, named by sha256(source NUL key)
//! ```
//!
//! A delivery file is created with no-clobber rename, so of two processes offered
//! the same event exactly one claims it; a file older than the window is replaced
//! by the next claim (two claims racing on an expired file may both win: the
//! engine's submission ids, derived from the dedupe key, still keep it one run).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use engine::store::StoreError;
use serde::{Deserialize, Serialize};

use crate::fsio::{self, Existing, TEMP_PREFIX, io_err};

const PAUSED_FILE: &str = "dispatch_paused";
const DELIVERIES_DIR: &str = "deliveries";

/// An earlier delivery of the same event (see `store_pg::PriorDelivery`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PriorDelivery {
    pub received_at_ms: u64,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub run_id: Option<String>,
}

pub(crate) fn paused_since(root: &Path) -> Result<Option<u64>, StoreError> {
    let path = root.join(PAUSED_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| StoreError::Corrupt {
                location: path.display().to_string(),
                reason: "not a time in milliseconds".to_owned(),
            }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_err("read", &path)(err)),
    }
}

pub(crate) fn set_paused(root: &Path, paused_at_ms: Option<u64>) -> Result<(), StoreError> {
    let path = root.join(PAUSED_FILE);
    match paused_at_ms {
        // Pausing again keeps the first pause's time.
        Some(at_ms) => {
            fsio::write_atomic(&path, at_ms.to_string().as_bytes(), Existing::Keep).map(drop)
        }
        None => match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io_err("remove", &path)(err)),
        },
    }
}

fn delivery_path(root: &Path, source: &str, dedupe_key: &str) -> PathBuf {
    let mut named = Vec::with_capacity(source.len() + 1 + dedupe_key.len());
    named.extend_from_slice(source.as_bytes());
    named.push(0);
    named.extend_from_slice(dedupe_key.as_bytes());
    let digest = engine::BlobRef::of_bytes(&named);
    root.join(DELIVERIES_DIR).join(digest.hex_digest())
}

fn read_delivery(path: &Path) -> Result<Option<PriorDelivery>, StoreError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|err| StoreError::Corrupt {
                location: path.display().to_string(),
                reason: err.to_string(),
            }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_err("read", path)(err)),
    }
}

fn write_delivery(
    path: &Path,
    delivery: &PriorDelivery,
    existing: Existing,
) -> Result<bool, StoreError> {
    let bytes = serde_json::to_vec(delivery).map_err(|err| StoreError::Corrupt {
        location: path.display().to_string(),
        reason: err.to_string(),
    })?;
    fsio::write_atomic(path, &bytes, existing)
}

pub(crate) fn claim(
    root: &Path,
    source: &str,
    dedupe_key: &str,
    at_ms: u64,
    window_ms: u64,
) -> Result<Option<PriorDelivery>, StoreError> {
    let path = delivery_path(root, source, dedupe_key);
    let fresh = PriorDelivery {
        received_at_ms: at_ms,
        session_id: None,
        run_id: None,
    };
    if write_delivery(&path, &fresh, Existing::Keep)? {
        return Ok(None);
    }
    match read_delivery(&path)? {
        Some(prior) if prior.received_at_ms >= at_ms.saturating_sub(window_ms) => Ok(Some(prior)),
        // Outside the window, or released meanwhile: taken as new.
        _ => write_delivery(&path, &fresh, Existing::Replace).map(|_| None),
    }
}

pub(crate) fn settle(
    root: &Path,
    source: &str,
    dedupe_key: &str,
    session_id: &str,
    run_id: Option<&str>,
) -> Result<(), StoreError> {
    let path = delivery_path(root, source, dedupe_key);
    let Some(mut delivery) = read_delivery(&path)? else {
        return Ok(());
    };
    delivery.session_id = Some(session_id.to_owned());
    delivery.run_id = run_id.map(str::to_owned);
    write_delivery(&path, &delivery, Existing::Replace).map(drop)
}

pub(crate) fn release(root: &Path, source: &str, dedupe_key: &str) -> Result<(), StoreError> {
    let path = delivery_path(root, source, dedupe_key);
    match read_delivery(&path)? {
        Some(delivery) if delivery.session_id.is_none() => match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(io_err("remove", &path)(err)),
        },
        _ => Ok(()),
    }
}

pub(crate) fn prune(root: &Path, before_ms: u64) -> Result<u64, StoreError> {
    let dir = root.join(DELIVERIES_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(err) => return Err(io_err("list", &dir)(err)),
    };
    let mut removed = 0;
    for entry in entries {
        let entry = entry.map_err(io_err("list", &dir))?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let path = entry.path();
        if let Some(delivery) = read_delivery(&path)?
            && delivery.received_at_ms < before_ms
        {
            match fs::remove_file(&path) {
                Ok(()) => removed += 1,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_err("remove", &path)(err)),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_is_claimed_once_within_its_window_and_again_after() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        assert_eq!(claim(root, "github", "d1", 1_000, 500).unwrap(), None);
        let prior = claim(root, "github", "d1", 1_200, 500).unwrap().unwrap();
        assert_eq!(prior.received_at_ms, 1_000);
        // Another source's key of the same text is another event.
        assert_eq!(claim(root, "generic", "d1", 1_200, 500).unwrap(), None);
        settle(root, "github", "d1", "ses_1", Some("run_1")).unwrap();
        let prior = claim(root, "github", "d1", 1_300, 500).unwrap().unwrap();
        assert_eq!(prior.run_id.as_deref(), Some("run_1"));
        // Past the window it is new again.
        assert_eq!(claim(root, "github", "d1", 1_600, 500).unwrap(), None);
        // A released (failed) claim is new at once; a settled one is never released.
        release(root, "github", "d1").unwrap();
        assert_eq!(claim(root, "github", "d1", 1_610, 500).unwrap(), None);
        settle(root, "github", "d1", "ses_1", None).unwrap();
        release(root, "github", "d1").unwrap();
        assert!(claim(root, "github", "d1", 1_620, 500).unwrap().is_some());
        // generic/d1 was received at 1,200, github/d1 last at 1,610.
        assert_eq!(prune(root, 1_300).unwrap(), 1);
        assert_eq!(prune(root, 10_000).unwrap(), 1);
    }

    #[test]
    fn pausing_keeps_the_first_time_and_resuming_clears_it() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(paused_since(dir.path()).unwrap(), None);
        set_paused(dir.path(), Some(5)).unwrap();
        set_paused(dir.path(), Some(9)).unwrap();
        assert_eq!(paused_since(dir.path()).unwrap(), Some(5));
        set_paused(dir.path(), None).unwrap();
        set_paused(dir.path(), None).unwrap();
        assert_eq!(paused_since(dir.path()).unwrap(), None);
    }
}
