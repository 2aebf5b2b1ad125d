//! Content-addressed blobs at `cas/sha256/<hex[0..2]>/<hex>`.
//!
//! Files are created atomically and never modified in place. Reads verify the digest,
//! so a corrupted file is reported ([`StoreError::DigestMismatch`]), never returned.
//! A put that creates (or repairs) a file moves the universe's stored bytes
//! (`usage`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use engine::BlobRef;
use engine::store::StoreError;

use crate::fsio::{self, Existing, io_err};
use crate::{retention, usage};

/// The blob directory below the store root.
pub(crate) const CAS_DIR: &str = "cas/sha256";

pub(crate) fn blob_path(root: &Path, blob: &BlobRef) -> PathBuf {
    let hex = blob.hex_digest();
    root.join(CAS_DIR).join(&hex[..2]).join(hex)
}

pub(crate) fn put(root: &Path, blob_bytes_max: u64, bytes: &[u8]) -> Result<BlobRef, StoreError> {
    let size_bytes = bytes.len() as u64;
    if size_bytes > blob_bytes_max {
        return Err(StoreError::BlobTooLarge {
            size_bytes,
            limit_bytes: blob_bytes_max,
        });
    }
    let blob = BlobRef::of_bytes(bytes);
    let path = blob_path(root, &blob);
    // Shared with other puts, exclusive with a collection's sweep: what this put
    // finds stored (and touches) is not removed before the caller references it.
    let _collecting = retention::collect_lock(root, false)?;
    let added = match fs::metadata(&path) {
        // Already stored: touched, so collection keeps it. Hashing the existing file
        // on every put would make puts of large blobs cost a full read; comparing
        // sizes catches truncation, and a same-size corruption is still caught by
        // `get`.
        Ok(meta) if meta.len() == size_bytes && retention::touch(&path)? => return Ok(blob),
        // A truncated or otherwise damaged copy: replace it with the good bytes.
        Ok(meta) => {
            fsio::write_atomic(&path, bytes, Existing::Replace)?;
            signed(size_bytes).saturating_sub(signed(meta.len()))
        }
        // New: of racing puts of one blob only the one that creates the file counts it.
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            match fsio::write_atomic(&path, bytes, Existing::Keep)? {
                true => signed(size_bytes),
                false => 0,
            }
        }
        Err(err) => return Err(io_err("inspect blob", &path)(err)),
    };
    if added != 0 {
        usage::add_stored_bytes(root, added)?;
    }
    Ok(blob)
}

fn signed(len: u64) -> i64 {
    i64::try_from(len).unwrap_or(i64::MAX)
}

pub(crate) fn get(root: &Path, blob: &BlobRef) -> Result<Vec<u8>, StoreError> {
    let path = blob_path(root, blob);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            return Err(StoreError::BlobNotFound(blob.clone()));
        }
        Err(err) => return Err(io_err("read blob", &path)(err)),
    };
    engine::store::verify_digest(blob, bytes)
}

/// The blob file's length from its metadata: `stat`, not a read.
pub(crate) fn len(root: &Path, blob: &BlobRef) -> Result<Option<u64>, StoreError> {
    let path = blob_path(root, blob);
    match fs::metadata(&path) {
        Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
        Ok(_) => Ok(None),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(io_err("inspect blob", &path)(err)),
    }
}

pub(crate) fn has(root: &Path, blob: &BlobRef) -> Result<bool, StoreError> {
    let path = blob_path(root, blob);
    match fs::metadata(&path) {
        Ok(meta) => Ok(meta.is_file()),
        Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(io_err("inspect blob", &path)(err)),
    }
}
