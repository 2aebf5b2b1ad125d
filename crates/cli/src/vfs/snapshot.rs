//! A local directory to a VFS snapshot: walk it (honouring `.gitignore` and
//! `.ignore`, never `.git/`), hash every file, upload the blobs the store lacks,
//! commit the manifest.
//!
//! Symlinks, special files and names the VFS cannot hold are skipped and reported,
//! never followed: a snapshot only ever holds what is inside the directory.
//! Environment files, private keys and credential files (see [`super::names`]) are
//! skipped and reported too unless the caller includes secrets: a snapshot goes to
//! the server and, through the file tools, to a model provider.

use std::io::Read as _;
use std::path::{Component, Path, PathBuf};

use api::types::vfs::{VfsFileEntry, VfsSnapshotCommitParams};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::client::{Client, HAS_MANY_REFS_MAX};
use crate::error::CliError;

/// Files in one snapshot (the VFS default limit).
pub const SNAPSHOT_FILES_MAX: usize = 50_000;
/// Blob uploads at once.
const UPLOADS_IN_FLIGHT_MAX: usize = 8;
/// Bytes read at a time while hashing.
const HASH_CHUNK_BYTES: usize = 64 * 1024;

/// What a snapshot of a directory produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotSummary {
    pub snapshot_ref: String,
    pub file_count: u64,
    pub total_bytes: u64,
    /// Blobs the store did not have yet, and their bytes.
    pub blobs_uploaded: u64,
    pub bytes_uploaded: u64,
    /// Paths left out, each with why.
    pub skipped: Vec<String>,
}

/// One file found by the walk.
#[derive(Debug, Clone)]
struct LocalFile {
    /// Relative, `/`-joined: the snapshot path.
    path: String,
    absolute: PathBuf,
    size_bytes: u64,
    executable: bool,
    blob_ref: String,
}

#[derive(Debug, Default)]
struct Walked {
    files: Vec<LocalFile>,
    skipped: Vec<String>,
}

/// Snapshots `dir` into the store behind `client`; secret files only when
/// `include_secrets`.
pub async fn snapshot_dir(
    client: &Client,
    dir: &Path,
    include_secrets: bool,
) -> Result<SnapshotSummary, CliError> {
    let root = dir.to_path_buf();
    let walked = tokio::task::spawn_blocking(move || walk(&root, include_secrets))
        .await
        .map_err(|err| CliError::local(dir, err))??;
    let (blobs_uploaded, bytes_uploaded) = upload_missing(client, &walked.files).await?;
    let entries = walked
        .files
        .iter()
        .map(|file| VfsFileEntry {
            path: file.path.clone(),
            blob_ref: file.blob_ref.clone(),
            size_bytes: file.size_bytes,
            executable: file.executable,
        })
        .collect();
    let snapshot = client
        .vfs_snapshot_commit(&VfsSnapshotCommitParams { entries })
        .await?;
    Ok(SnapshotSummary {
        snapshot_ref: snapshot.snapshot_ref,
        file_count: snapshot.file_count,
        total_bytes: snapshot.total_bytes,
        blobs_uploaded,
        bytes_uploaded,
        skipped: walked.skipped,
    })
}

fn walk(root: &Path, include_secrets: bool) -> Result<Walked, CliError> {
    let metadata = std::fs::metadata(root).map_err(|err| CliError::local(root, err))?;
    if !metadata.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is not a directory",
            root.display()
        )));
    }
    let walker = ignore::WalkBuilder::new(root)
        .hidden(false)
        .git_ignore(true)
        .git_exclude(true)
        .git_global(false)
        .require_git(false)
        .follow_links(false)
        .filter_entry(|entry| entry.file_name() != ".git")
        .sort_by_file_name(|a, b| a.cmp(b))
        .build();
    let mut walked = Walked::default();
    for entry in walker {
        let entry = entry.map_err(|err| CliError::local(root, err))?;
        if entry.depth() == 0 {
            continue;
        }
        let shown = entry.path().display().to_string();
        let kind = entry.file_type();
        if kind.is_some_and(|kind| kind.is_dir()) {
            continue;
        }
        if kind.is_some_and(|kind| kind.is_symlink()) {
            walked.skipped.push(format!("{shown}: a symlink"));
            continue;
        }
        if !kind.is_some_and(|kind| kind.is_file()) {
            walked.skipped.push(format!("{shown}: not a regular file"));
            continue;
        }
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        let path = match snapshot_path(relative) {
            Ok(path) => path,
            Err(why) => {
                walked.skipped.push(format!("{shown}: {why}"));
                continue;
            }
        };
        if !include_secrets && let Some(why) = super::names::secret_reason(path.split('/')) {
            walked
                .skipped
                .push(format!("{shown}: {why} (--include-secrets uploads it)"));
            continue;
        }
        if walked.files.len() == SNAPSHOT_FILES_MAX {
            return Err(CliError::Usage(format!(
                "{} holds more than {SNAPSHOT_FILES_MAX} files; list what to leave out in a \
                 .gitignore or .ignore file",
                root.display()
            )));
        }
        let (size_bytes, blob_ref) = hash_file(entry.path())?;
        walked.files.push(LocalFile {
            path,
            absolute: entry.path().to_path_buf(),
            size_bytes,
            executable: is_executable(entry.path()),
            blob_ref,
        });
    }
    Ok(walked)
}

/// The snapshot path of `relative`, or why the VFS cannot hold it.
fn snapshot_path(relative: &Path) -> Result<String, &'static str> {
    let mut names = Vec::new();
    for component in relative.components() {
        let Component::Normal(name) = component else {
            return Err("not a plain relative path");
        };
        let name = name.to_str().ok_or("the name is not UTF-8")?;
        if name.chars().any(|c| c.is_control() || c == '\\') {
            return Err("the name holds a control character or a backslash");
        }
        names.push(name);
    }
    Ok(names.join("/"))
}

/// Size and `sha256:` ref of a file, read in chunks.
pub(crate) fn hash_file(path: &Path) -> Result<(u64, String), CliError> {
    let mut file = std::fs::File::open(path).map_err(|err| CliError::local(path, err))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; HASH_CHUNK_BYTES];
    let mut size = 0u64;
    loop {
        let read = file
            .read(&mut buffer)
            .map_err(|err| CliError::local(path, err))?;
        if read == 0 {
            break;
        }
        hasher.update(&buffer[..read]);
        size += read as u64;
    }
    Ok((size, format!("sha256:{}", hex::encode(hasher.finalize()))))
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(_path: &Path) -> bool {
    false
}

/// Uploads the files whose blobs the store lacks; returns how many and their bytes.
async fn upload_missing(client: &Client, files: &[LocalFile]) -> Result<(u64, u64), CliError> {
    let mut unique: Vec<&LocalFile> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for file in files {
        if seen.insert(file.blob_ref.as_str()) {
            unique.push(file);
        }
    }
    let mut missing: Vec<&LocalFile> = Vec::new();
    for chunk in unique.chunks(HAS_MANY_REFS_MAX) {
        let refs: Vec<String> = chunk.iter().map(|file| file.blob_ref.clone()).collect();
        let answer = client.blob_has_many(&refs).await?;
        let absent: std::collections::BTreeSet<&str> =
            answer.missing.iter().map(String::as_str).collect();
        missing.extend(
            chunk
                .iter()
                .filter(|file| absent.contains(file.blob_ref.as_str())),
        );
    }
    let mut uploads = FuturesUnordered::new();
    let (mut count, mut bytes) = (0u64, 0u64);
    let mut pending = missing.into_iter();
    loop {
        while uploads.len() < UPLOADS_IN_FLIGHT_MAX {
            let Some(file) = pending.next() else { break };
            uploads.push(upload(client, file));
        }
        match uploads.next().await {
            Some(result) => {
                bytes += result?;
                count += 1;
            }
            None => break,
        }
    }
    Ok((count, bytes))
}

async fn upload(client: &Client, file: &LocalFile) -> Result<u64, CliError> {
    let content = tokio::fs::read(&file.absolute)
        .await
        .map_err(|err| CliError::local(&file.absolute, err))?;
    let size = content.len() as u64;
    // A file changed since it was hashed is refused by the gateway (digest mismatch).
    client.blob_upload(&file.blob_ref, content).await?;
    Ok(size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_paths() {
        assert_eq!(snapshot_path(Path::new("a/b.txt")), Ok("a/b.txt".into()));
        assert!(snapshot_path(Path::new("../x")).is_err());
        assert!(snapshot_path(Path::new("a\\b")).is_err());
        assert!(snapshot_path(Path::new("tab\there")).is_err());
    }
}
