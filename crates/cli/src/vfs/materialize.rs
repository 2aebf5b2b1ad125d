//! A VFS snapshot to a local directory. Files that already match (same size and
//! digest) are left alone; the rest are downloaded, checked against their ref and
//! written through a temporary file. Nothing is ever written through a symlink, so
//! a planted link cannot send a write outside the destination.
//!
//! The snapshot is the server's word (and, through the file tools, an agent's):
//! before anything is written, every path is checked against [`super::names`], and
//! one version-control metadata path or Windows-unsafe name refuses the whole
//! snapshot. Executable bits are applied only when the user keeps modes; otherwise
//! files get the default mode of new files.

use std::path::{Path, PathBuf};

use api::types::vfs::{VfsFileEntry, VfsSnapshotReadParams};
use futures::StreamExt as _;
use futures::stream::FuturesUnordered;
use serde::Serialize;

use super::snapshot::{SNAPSHOT_FILES_MAX, hash_file};
use crate::client::Client;
use crate::error::CliError;

/// Entries per `vfs/snapshot/read` page (the contract's maximum).
const READ_PAGE_ENTRIES_MAX: u32 = 5_000;
/// Downloads at once.
const DOWNLOADS_IN_FLIGHT_MAX: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MaterializeSummary {
    pub snapshot_ref: String,
    pub destination: String,
    pub file_count: u64,
    pub downloaded: u64,
    pub unchanged: u64,
    pub bytes_downloaded: u64,
}

/// How many refused paths an error names.
const REFUSED_SHOWN_MAX: usize = 10;

/// Writes snapshot `snapshot_ref` under `destination`; applies executable bits from
/// the snapshot only when `keep_modes`.
pub async fn materialize(
    client: &Client,
    snapshot_ref: &str,
    destination: &Path,
    keep_modes: bool,
) -> Result<MaterializeSummary, CliError> {
    let entries = read_entries(client, snapshot_ref).await?;
    refuse_unsafe(snapshot_ref, &entries)?;
    std::fs::create_dir_all(destination).map_err(|err| CliError::local(destination, err))?;
    let mut downloads = Vec::new();
    let mut unchanged = 0u64;
    for entry in &entries {
        let target = target_path(destination, &entry.path)?;
        if matches_local(&target, entry)? {
            if keep_modes {
                set_executable(&target, entry.executable)?;
            }
            unchanged += 1;
        } else {
            downloads.push((target, entry));
        }
    }
    let downloaded = downloads.len() as u64;
    let mut in_flight = FuturesUnordered::new();
    let mut pending = downloads.into_iter();
    let mut bytes_downloaded = 0u64;
    loop {
        while in_flight.len() < DOWNLOADS_IN_FLIGHT_MAX {
            let Some((target, entry)) = pending.next() else {
                break;
            };
            in_flight.push(download(client, target, entry, keep_modes));
        }
        match in_flight.next().await {
            Some(result) => bytes_downloaded += result?,
            None => break,
        }
    }
    Ok(MaterializeSummary {
        snapshot_ref: snapshot_ref.to_owned(),
        destination: destination.display().to_string(),
        file_count: entries.len() as u64,
        downloaded,
        unchanged,
        bytes_downloaded,
    })
}

/// Refuses the snapshot if any path is one materialize must not write; names the
/// first few and why.
fn refuse_unsafe(snapshot_ref: &str, entries: &[VfsFileEntry]) -> Result<(), CliError> {
    let refused: Vec<String> = entries
        .iter()
        .filter_map(|entry| {
            super::names::materialize_refusal(&entry.path)
                .map(|why| format!("  {:?}: {why}", entry.path))
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    let more = match refused.len().saturating_sub(REFUSED_SHOWN_MAX) {
        0 => String::new(),
        n => format!("\n  and {n} more"),
    };
    Err(CliError::Usage(format!(
        "snapshot {snapshot_ref} has {} paths materialize will not write; nothing written:\n{}{more}",
        refused.len(),
        refused[..refused.len().min(REFUSED_SHOWN_MAX)].join("\n"),
    )))
}

async fn read_entries(client: &Client, snapshot_ref: &str) -> Result<Vec<VfsFileEntry>, CliError> {
    let mut entries = Vec::new();
    let mut cursor = None;
    let pages_max = SNAPSHOT_FILES_MAX / READ_PAGE_ENTRIES_MAX as usize + 2;
    for _ in 0..pages_max {
        let params = VfsSnapshotReadParams {
            snapshot_ref: snapshot_ref.to_owned(),
            cursor,
            limit: Some(READ_PAGE_ENTRIES_MAX),
        };
        let page = client.vfs_snapshot_read(&params).await?;
        entries.extend(page.entries);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(entries),
        }
    }
    Err(CliError::Usage(format!(
        "snapshot {snapshot_ref} has more pages than {SNAPSHOT_FILES_MAX} files fill"
    )))
}

/// Where `path` goes under `destination`, creating its directories. Refuses paths
/// that are not plain and relative, and any symlink on the way.
fn target_path(destination: &Path, path: &str) -> Result<PathBuf, CliError> {
    let names: Vec<&str> = path.split('/').collect();
    let plain = |name: &&str| {
        !name.is_empty() && *name != "." && *name != ".." && !name.contains(['\\', '\0'])
    };
    if !names.iter().all(plain) {
        return Err(CliError::Usage(format!(
            "the snapshot names {path:?}, which is not a plain relative path; nothing written for it"
        )));
    }
    let mut current = destination.to_path_buf();
    for (index, name) in names.iter().enumerate() {
        current.push(name);
        let last = index + 1 == names.len();
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(CliError::Usage(format!(
                    "{} is a symlink; refusing to write through it",
                    current.display()
                )));
            }
            Ok(meta) if last && meta.is_dir() => {
                return Err(CliError::Usage(format!(
                    "{} is a directory, but the snapshot has a file there",
                    current.display()
                )));
            }
            Ok(meta) if !last && !meta.is_dir() => {
                return Err(CliError::Usage(format!(
                    "{} is a file, but the snapshot has a directory there",
                    current.display()
                )));
            }
            Ok(_) => {}
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && !last => {
                std::fs::create_dir(&current).map_err(|err| CliError::local(&current, err))?;
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(CliError::local(&current, err)),
        }
    }
    Ok(current)
}

/// Whether `target` already holds `entry`'s content.
fn matches_local(target: &Path, entry: &VfsFileEntry) -> Result<bool, CliError> {
    match std::fs::symlink_metadata(target) {
        Ok(meta) if meta.is_file() && meta.len() == entry.size_bytes => {
            Ok(hash_file(target)?.1 == entry.blob_ref)
        }
        Ok(_) => Ok(false),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(err) => Err(CliError::local(target, err)),
    }
}

async fn download(
    client: &Client,
    target: PathBuf,
    entry: &VfsFileEntry,
    keep_modes: bool,
) -> Result<u64, CliError> {
    let bytes = client.blob_download(&entry.blob_ref).await?;
    let actual = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
    if actual != entry.blob_ref || bytes.len() as u64 != entry.size_bytes {
        return Err(CliError::Usage(format!(
            "the gateway sent other bytes for {} than {} names; nothing written",
            entry.path, entry.blob_ref
        )));
    }
    let size = bytes.len() as u64;
    // Without `keep_modes` the new file keeps the default mode: never executable.
    let executable = keep_modes && entry.executable;
    tokio::task::spawn_blocking(move || write_file(&target, &bytes, executable))
        .await
        .map_err(|err| CliError::local(Path::new(&entry.path), err))??;
    Ok(size)
}

/// Writes through a temporary file in the same directory, then renames it over.
fn write_file(target: &Path, bytes: &[u8], executable: bool) -> Result<(), CliError> {
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = target.with_file_name(format!(
        ".{name}.lightspeed-{}.tmp",
        uuid::Uuid::new_v4().simple()
    ));
    let written = std::fs::write(&temporary, bytes)
        .map_err(|err| CliError::local(&temporary, err))
        .and_then(|()| set_executable(&temporary, executable))
        .and_then(|()| {
            std::fs::rename(&temporary, target).map_err(|err| CliError::local(target, err))
        });
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) -> Result<(), CliError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|err| CliError::local(path, err))?;
    let mode = meta.permissions().mode();
    let wanted = match executable {
        // Execute wherever read is allowed.
        true => mode | ((mode & 0o444) >> 2),
        false => mode & !0o111,
    };
    if wanted != mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(wanted))
            .map_err(|err| CliError::local(path, err))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn set_executable(_path: &Path, _executable: bool) -> Result<(), CliError> {
    Ok(())
}
