//! Snapshots: an immutable file tree, stored as one canonical manifest blob in the
//! CAS. The manifest's ref is the snapshot's identity: equal trees have equal refs.
//!
//! Manifest (canonical JSON, keys sorted, entries in byte order of their paths):
//!
//! ```json
//! {"entries":[{"blob":"sha256:…","executable":true,"path":"bin/run","size_bytes":120},
//!             {"blob":"sha256:…","path":"src/lib.rs","size_bytes":42}],
//!  "file_count":2,"format":"lightspeed.vfs.snapshot.v1","total_bytes":162}
//! ```
//!
//! `executable` appears only when true. Directories are implicit: a directory exists
//! while a file lies below it, so there are no empty directories, and no path is
//! both a file and a directory. There are no symlinks.

use std::collections::BTreeMap;

use engine::BlobRef;
use engine::store::{BlobStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::error::VfsError;
use crate::limits::{Limits, MANIFEST_BYTES_MAX, exceeds};
use crate::path::VfsPath;

/// The manifest format tag.
pub const SNAPSHOT_FORMAT: &str = "lightspeed.vfs.snapshot.v1";

/// One file: its content in the CAS and its mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    pub blob: BlobRef,
    pub size_bytes: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub executable: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// What a path names in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind<'a> {
    File(&'a FileEntry),
    Directory,
}

/// A file tree, in memory. Edit it, then [`Snapshot::store`] it as a new snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    files: BTreeMap<VfsPath, FileEntry>,
    total_bytes: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Manifest {
    format: String,
    file_count: u64,
    total_bytes: u64,
    entries: Vec<ManifestEntry>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ManifestEntry {
    path: VfsPath,
    blob: BlobRef,
    size_bytes: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    executable: bool,
}

impl Snapshot {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a tree from files; fails if two share a path or one lies below another.
    pub fn from_files(
        files: impl IntoIterator<Item = (VfsPath, FileEntry)>,
    ) -> Result<Self, VfsError> {
        let mut snapshot = Self::new();
        for (path, entry) in files {
            if snapshot.files.contains_key(&path) {
                return Err(VfsError::InvalidSnapshot(format!("{path} appears twice")));
            }
            snapshot.insert(path, entry)?;
        }
        Ok(snapshot)
    }

    pub fn file_count(&self) -> u64 {
        self.files.len() as u64
    }

    pub fn total_bytes(&self) -> u64 {
        self.total_bytes
    }

    pub fn get(&self, path: &VfsPath) -> Option<&FileEntry> {
        self.files.get(path)
    }

    /// Every file, in path order.
    pub fn files(&self) -> impl Iterator<Item = (&VfsPath, &FileEntry)> {
        self.files.iter()
    }

    /// Files strictly below directory `dir`, in path order.
    pub fn files_below<'a>(
        &'a self,
        dir: &VfsPath,
    ) -> Box<dyn Iterator<Item = (&'a VfsPath, &'a FileEntry)> + 'a> {
        match dir.below_bounds() {
            None => Box::new(self.files.iter()),
            Some((start, end)) => Box::new(self.files.range(start..end)),
        }
    }

    /// Whether `path` is a directory (the root always is).
    pub fn is_dir(&self, path: &VfsPath) -> bool {
        path.is_root() || self.files_below(path).next().is_some()
    }

    /// What `path` names, if anything.
    pub fn kind(&self, path: &VfsPath) -> Option<NodeKind<'_>> {
        match self.files.get(path) {
            Some(entry) => Some(NodeKind::File(entry)),
            None if self.is_dir(path) => Some(NodeKind::Directory),
            None => None,
        }
    }

    /// Puts a file at `path` (creating its directories), replacing a file there.
    /// Returns the replaced entry. Fails if `path` is a directory or a name on the
    /// way to it is a file.
    pub fn insert(
        &mut self,
        path: VfsPath,
        entry: FileEntry,
    ) -> Result<Option<FileEntry>, VfsError> {
        if path.is_root() || self.is_dir(&path) {
            return Err(VfsError::IsADirectory {
                path: path.to_string(),
            });
        }
        if let Some(file) = path.ancestors().find(|dir| self.files.contains_key(*dir)) {
            return Err(VfsError::NotADirectory {
                path: path.to_string(),
                file: file.to_owned(),
            });
        }
        let replaced_bytes = self.files.get(&path).map_or(0, |old| old.size_bytes);
        // Sizes come from stored manifests too, which anyone may have written.
        self.total_bytes = (self.total_bytes - replaced_bytes)
            .checked_add(entry.size_bytes)
            .ok_or_else(|| VfsError::InvalidSnapshot("total size overflows".into()))?;
        Ok(self.files.insert(path, entry))
    }

    /// Removes the file at `path`.
    pub fn remove(&mut self, path: &VfsPath) -> Option<FileEntry> {
        let removed = self.files.remove(path)?;
        self.total_bytes -= removed.size_bytes;
        Some(removed)
    }

    /// Checks every limit a new snapshot must meet.
    pub fn check_limits(&self, limits: &Limits) -> Result<(), VfsError> {
        exceeds(
            "snapshot_files_max",
            self.file_count(),
            limits.snapshot_files_max,
        )?;
        exceeds(
            "snapshot_bytes_max",
            self.total_bytes,
            limits.snapshot_bytes_max,
        )?;
        for (path, entry) in &self.files {
            limits.check_path(path)?;
            limits.check_file_bytes(entry.size_bytes)?;
        }
        Ok(())
    }

    /// The canonical manifest bytes.
    pub fn encode(&self) -> Vec<u8> {
        let manifest = Manifest {
            format: SNAPSHOT_FORMAT.to_owned(),
            file_count: self.file_count(),
            total_bytes: self.total_bytes,
            entries: self
                .files
                .iter()
                .map(|(path, entry)| ManifestEntry {
                    path: path.clone(),
                    blob: entry.blob.clone(),
                    size_bytes: entry.size_bytes,
                    executable: entry.executable,
                })
                .collect(),
        };
        engine::canonical::to_vec(&manifest)
    }

    /// Decodes manifest bytes, checking every rule of the format and the default
    /// limits: the encoded size before parsing, each path's shape while parsing (see
    /// [`VfsPath::parse`]), the entry count before any entry is inserted, and each
    /// size after. Work is linear in `bytes`, which is at most
    /// [`crate::limits::MANIFEST_BYTES_MAX`]; callers on an async runtime should still
    /// run it where blocking is allowed.
    pub fn decode(snapshot: &BlobRef, bytes: &[u8]) -> Result<Self, VfsError> {
        let limits = Limits::default();
        let corrupt = |reason: String| VfsError::CorruptSnapshot {
            snapshot: snapshot.clone(),
            reason,
        };
        check_manifest_len(snapshot, bytes.len() as u64, &limits)?;
        let manifest: Manifest =
            engine::canonical::from_slice(bytes).map_err(|err| corrupt(err.to_string()))?;
        if manifest.format != SNAPSHOT_FORMAT {
            return Err(corrupt(format!("unknown format {:?}", manifest.format)));
        }
        let count = manifest.file_count.max(manifest.entries.len() as u64);
        exceeds("snapshot_files_max", count, limits.snapshot_files_max)?;
        let mut previous: Option<&VfsPath> = None;
        for entry in &manifest.entries {
            if entry.path.is_root() || previous.is_some_and(|prev| *prev >= entry.path) {
                return Err(corrupt(format!("entry {:?} is out of order", entry.path)));
            }
            previous = Some(&entry.path);
        }
        let files = manifest.entries.into_iter().map(|entry| {
            let file = FileEntry {
                blob: entry.blob,
                size_bytes: entry.size_bytes,
                executable: entry.executable,
            };
            (entry.path, file)
        });
        let decoded = Self::from_files(files).map_err(|err| corrupt(err.to_string()))?;
        if decoded.file_count() != manifest.file_count
            || decoded.total_bytes != manifest.total_bytes
        {
            return Err(corrupt("totals do not match the entries".into()));
        }
        if decoded.encode() != bytes {
            return Err(corrupt("manifest is not canonical".into()));
        }
        decoded.check_limits(&limits)?;
        Ok(decoded)
    }

    /// Checks the limits and encodes the manifest, refusing one larger than a load
    /// would accept: the CPU-bound half of [`Snapshot::store`].
    pub fn encode_checked(&self, limits: &Limits) -> Result<Vec<u8>, VfsError> {
        self.check_limits(limits)?;
        let bytes = self.encode();
        exceeds(
            "manifest_bytes_max",
            bytes.len() as u64,
            limits.manifest_bytes_max.min(MANIFEST_BYTES_MAX),
        )?;
        Ok(bytes)
    }

    /// Checks the limits, then stores the manifest; returns the snapshot's ref.
    pub async fn store<B: BlobStore>(
        &self,
        blobs: &B,
        limits: &Limits,
    ) -> Result<BlobRef, VfsError> {
        let bytes = self.encode_checked(limits)?;
        Ok(blobs.put(bytes).await?)
    }

    /// Fetches the manifest bytes of `snapshot`, refusing (by the store's length,
    /// before reading it) one larger than any manifest may be.
    pub async fn fetch<B: BlobStore>(blobs: &B, snapshot: &BlobRef) -> Result<Vec<u8>, VfsError> {
        match blobs.blob_len(snapshot).await? {
            None => return Err(VfsError::SnapshotNotFound(snapshot.clone())),
            Some(len) => check_manifest_len(snapshot, len, &Limits::default())?,
        }
        match blobs.get(snapshot).await {
            Ok(bytes) => Ok(bytes),
            Err(StoreError::BlobNotFound(_)) => Err(VfsError::SnapshotNotFound(snapshot.clone())),
            Err(err) => Err(err.into()),
        }
    }

    /// Loads and checks the snapshot `snapshot`.
    pub async fn load<B: BlobStore>(blobs: &B, snapshot: &BlobRef) -> Result<Self, VfsError> {
        Self::decode(snapshot, &Self::fetch(blobs, snapshot).await?)
    }
}

fn check_manifest_len(snapshot: &BlobRef, len: u64, limits: &Limits) -> Result<(), VfsError> {
    match len > limits.manifest_bytes_max {
        true => Err(VfsError::ManifestTooLarge {
            snapshot: snapshot.clone(),
            len,
            max: limits.manifest_bytes_max,
        }),
        false => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(content: &[u8]) -> FileEntry {
        FileEntry {
            blob: BlobRef::of_bytes(content),
            size_bytes: content.len() as u64,
            executable: false,
        }
    }

    fn path(raw: &str) -> VfsPath {
        VfsPath::parse(raw).unwrap()
    }

    #[test]
    fn directories_are_implicit_and_exclusive_with_files() {
        let mut tree = Snapshot::new();
        tree.insert(path("a/b.txt"), file(b"b")).unwrap();
        tree.insert(path("a.txt"), file(b"aa")).unwrap();
        assert!(tree.is_dir(&path("a")));
        assert!(!tree.is_dir(&path("a.txt")));
        assert!(matches!(
            tree.insert(path("a"), file(b"x")),
            Err(VfsError::IsADirectory { .. })
        ));
        assert!(matches!(
            tree.insert(path("a.txt/c"), file(b"x")),
            Err(VfsError::NotADirectory { .. })
        ));
        assert_eq!(tree.total_bytes(), 3);
        let below: Vec<&str> = tree
            .files_below(&path("a"))
            .map(|(p, _)| p.as_str())
            .collect();
        assert_eq!(below, ["a/b.txt"]);
        tree.insert(path("a.txt"), file(b"a")).unwrap();
        assert_eq!(tree.total_bytes(), 2);
        tree.remove(&path("a/b.txt"));
        assert_eq!(tree.kind(&path("a")), None);
        let huge = FileEntry {
            size_bytes: u64::MAX,
            ..file(b"")
        };
        assert!(matches!(
            tree.insert(path("huge"), huge),
            Err(VfsError::InvalidSnapshot(_))
        ));
        assert_eq!(tree.total_bytes(), 1, "a refused insert changes nothing");
    }

    #[test]
    fn manifest_round_trips_canonically() {
        let mut tree = Snapshot::new();
        let mut exe = file(b"#!/bin/sh");
        exe.executable = true;
        tree.insert(path("bin/run"), exe).unwrap();
        tree.insert(path("a.b"), file(b"x")).unwrap();
        tree.insert(path("a/c"), file(b"y")).unwrap();
        let bytes = tree.encode();
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(text.starts_with("{\"entries\":[{\"blob\""), "{text}");
        assert_eq!(text.matches("executable").count(), 1, "{text}");
        let blob = BlobRef::of_bytes(&bytes);
        assert_eq!(Snapshot::decode(&blob, &bytes).unwrap(), tree);
        // Any other spelling of the same tree is refused.
        let spaced = text.replacen(',', ", ", 1);
        assert!(Snapshot::decode(&blob, spaced.as_bytes()).is_err());
        let wrong_total = text.replace("\"total_bytes\":11", "\"total_bytes\":12");
        assert!(Snapshot::decode(&blob, wrong_total.as_bytes()).is_err());
    }

    #[test]
    fn limits_are_checked() {
        let mut tree = Snapshot::new();
        tree.insert(path("a/b/c"), file(b"12345")).unwrap();
        let tight = Limits {
            path_depth_max: 2,
            ..Limits::default()
        };
        assert!(matches!(
            tree.check_limits(&tight),
            Err(VfsError::LimitExceeded {
                limit: "path_depth_max",
                ..
            })
        ));
        let small = Limits {
            file_bytes_max: 4,
            ..Limits::default()
        };
        assert!(tree.check_limits(&small).is_err());
        assert!(tree.check_limits(&Limits::default()).is_ok());
    }
}
