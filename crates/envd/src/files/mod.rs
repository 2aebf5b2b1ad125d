//! File operations under the daemon's directory: `read`, `write` (with
//! compare-and-set), `list`, `stat`, `search`, `glob`. Every path goes through
//! [`Root`]; every answer is bounded by [`Limits`] (and by
//! [`RESULT_BYTES_MAX`], so it fits a frame). Blocking I/O: callers run these on
//! the blocking pool.

mod root;
mod walk;

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{FileExt, PermissionsExt};
use std::time::UNIX_EPOCH;

use env_protocol::{CallResult, DirEntry, EntryKind, FailureCode, SearchMatch};
use globset::{Glob, GlobBuilder, GlobMatcher};
use regex::RegexBuilder;
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use sha2::{Digest, Sha256};

use crate::config::Limits;
pub(crate) use root::{RelPath, Root};
use walk::{Walk, WalkEntry};

/// Bytes of entries, paths or matches one answer carries at most, well within
/// [`env_protocol::FRAME_BYTES_MAX`] after JSON escaping.
pub(crate) const RESULT_BYTES_MAX: usize = 1024 * 1024;

/// Bytes of one matching line returned by `search`.
const LINE_BYTES_MAX: usize = 1000;

/// Bytes of a regular expression or glob.
const PATTERN_BYTES_MAX: usize = 4096;

/// Compiled size of a `search` regular expression.
const REGEX_SIZE_MAX: usize = 4 * 1024 * 1024;

/// Bytes looked at to tell text from binary.
const SNIFF_BYTES: usize = 8192;

/// Directory levels `search` and `glob` descend at most.
const WALK_DEPTH_MAX: usize = 64;

/// The `expected_sha256` of a file that must not exist yet.
pub(crate) const EXPECT_ABSENT: &str = "absent";

/// A refused or failed file operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub(crate) struct FileError {
    pub(crate) code: FailureCode,
    pub(crate) message: String,
}

impl FileError {
    pub(crate) fn new(code: FailureCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Classifies an I/O error on `path`.
    pub(crate) fn io(path: &str, err: io::Error) -> Self {
        let code = match err.raw_os_error().map(Errno::from_raw_os_error) {
            // Refused by openat2: a symlink, or a way out.
            Some(Errno::LOOP | Errno::XDEV) => FailureCode::OutsideRoot,
            Some(Errno::NOENT) => FailureCode::NotFound,
            Some(Errno::NOTDIR) => FailureCode::NotADirectory,
            Some(Errno::ISDIR) => FailureCode::NotAFile,
            _ => FailureCode::Io,
        };
        let message = match code {
            FailureCode::OutsideRoot => format!("{path}: resolves outside the directory"),
            _ => format!("{path}: {err}"),
        };
        Self { code, message }
    }

    pub(crate) fn into_result(self) -> CallResult {
        CallResult::Failed {
            code: self.code,
            message: self.message,
        }
    }
}

/// The file operations over one root.
#[derive(Debug)]
pub(crate) struct Files {
    root: Root,
    limits: Limits,
    /// Writes are compare-and-set: one at a time, so two of this daemon's never
    /// interleave between the check and the rename.
    write_lock: std::sync::Mutex<()>,
}

impl Files {
    pub(crate) fn new(root: Root, limits: Limits) -> Self {
        Self {
            root,
            limits,
            write_lock: std::sync::Mutex::new(()),
        }
    }

    /// A directory for a command to run in.
    pub(crate) fn workdir(&self, path: &str) -> Result<std::path::PathBuf, FileError> {
        let rel = self.root.resolve(path, true)?;
        let fd = self
            .root
            .open(&rel, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|err| FileError::io(path, err))?;
        drop(fd);
        Ok(self.root.absolute(&rel))
    }

    pub(crate) fn read(
        &self,
        path: &str,
        offset: u64,
        limit: u64,
    ) -> Result<CallResult, FileError> {
        let rel = self.root.resolve(path, true)?;
        let file = self.open_file(path, &rel)?;
        let size = file
            .metadata()
            .map_err(|err| FileError::io(path, err))?
            .len();
        let limit = limit.min(self.limits.read_bytes_max);
        let mut bytes =
            vec![0u8; usize::try_from(limit.min(size.saturating_sub(offset))).unwrap_or(0)];
        let mut filled = 0;
        while filled < bytes.len() {
            match file.read_at(&mut bytes[filled..], offset + filled as u64) {
                Ok(0) => break,
                Ok(read) => filled += read,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(FileError::io(path, err)),
            }
        }
        bytes.truncate(filled);
        let sha256 = hash_file(&file).map_err(|err| FileError::io(path, err))?;
        let binary = is_binary(&bytes);
        Ok(CallResult::Read {
            content: String::from_utf8_lossy(&bytes).into_owned(),
            binary,
            size,
            sha256,
        })
    }

    pub(crate) fn write(
        &self,
        path: &str,
        content: &str,
        expected_sha256: Option<&str>,
    ) -> Result<CallResult, FileError> {
        if content.len() > self.limits.write_bytes_max {
            return Err(FileError::new(
                FailureCode::TooLarge,
                format!(
                    "{path}: {} bytes, more than {} a write takes",
                    content.len(),
                    self.limits.write_bytes_max
                ),
            ));
        }
        let rel = self.root.resolve(path, true)?;
        let Some((parent, name)) = rel.parent_and_name() else {
            return Err(FileError::new(
                FailureCode::NotAFile,
                format!("{path}: is the directory itself"),
            ));
        };
        let _guard = self
            .write_lock
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        self.create_dirs(path, &parent)?;
        let existing = match self.root.open(&rel, OFlags::RDONLY | OFlags::NONBLOCK) {
            Ok(fd) => Some(File::from(fd)),
            Err(err) if err.kind() == io::ErrorKind::NotFound => None,
            Err(err) => return Err(FileError::io(path, err)),
        };
        let mode = match &existing {
            Some(file) => {
                let meta = file.metadata().map_err(|err| FileError::io(path, err))?;
                if !meta.is_file() {
                    return Err(FileError::new(
                        FailureCode::NotAFile,
                        format!("{path}: not a regular file"),
                    ));
                }
                Some(meta.permissions().mode())
            }
            None => None,
        };
        if let Some(expected) = expected_sha256 {
            let current = match &existing {
                Some(file) => hash_file(file).map_err(|err| FileError::io(path, err))?,
                None => EXPECT_ABSENT.to_owned(),
            };
            if !current.eq_ignore_ascii_case(expected) {
                return Err(FileError::new(
                    FailureCode::Conflict,
                    format!("{path}: expected {expected}, found {current}"),
                ));
            }
        }
        self.replace(path, &parent, name, content.as_bytes(), mode)?;
        Ok(CallResult::Written {
            size: content.len() as u64,
            sha256: hex::encode(Sha256::digest(content.as_bytes())),
        })
    }

    /// Creates the missing directories of `dir`, each beneath the root.
    fn create_dirs(&self, path: &str, dir: &RelPath) -> Result<(), FileError> {
        let mut at = RelPath::default();
        let mut names = Vec::new();
        let mut rest = dir.clone();
        while let Some((parent, name)) = rest.parent_and_name() {
            names.push(name.to_owned());
            rest = parent;
        }
        for name in names.into_iter().rev() {
            let parent = self
                .root
                .open(&at, OFlags::PATH | OFlags::DIRECTORY)
                .map_err(|err| FileError::io(path, err))?;
            match rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(0o777)) {
                Ok(()) | Err(Errno::EXIST) => {}
                Err(err) => return Err(FileError::io(path, err.into())),
            }
            at = at.join(&name);
        }
        Ok(())
    }

    /// Writes `bytes` to a temporary file beside the target, then renames it
    /// over the target: readers see the old content or the new, never half.
    fn replace(
        &self,
        path: &str,
        parent: &RelPath,
        name: &std::ffi::OsStr,
        bytes: &[u8],
        mode: Option<u32>,
    ) -> Result<(), FileError> {
        let dir = self
            .root
            .open(parent, OFlags::RDONLY | OFlags::DIRECTORY)
            .map_err(|err| FileError::io(path, err))?;
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".lightspeed-{:016x}.tmp", fastrand::u64(..)));
        let temp = parent.join(&temp_name);
        let fd = self
            .root
            .open_mode(
                &temp,
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL,
                Mode::from_raw_mode(0o666),
            )
            .map_err(|err| FileError::io(path, err))?;
        let mut file = File::from(fd);
        let written = (|| {
            std::io::Write::write_all(&mut file, bytes)?;
            if let Some(mode) = mode {
                file.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
            }
            rustix::fs::renameat(&dir, &temp_name, &dir, name)?;
            Ok::<(), io::Error>(())
        })();
        if let Err(err) = written {
            let _ = rustix::fs::unlinkat(&dir, &temp_name, rustix::fs::AtFlags::empty());
            return Err(FileError::io(path, err));
        }
        Ok(())
    }

    pub(crate) fn stat(&self, path: &str) -> Result<CallResult, FileError> {
        let rel = self.root.resolve(path, true)?;
        let fd = self
            .root
            .open(&rel, OFlags::PATH)
            .map_err(|err| FileError::io(path, err))?;
        let meta = File::from(fd)
            .metadata()
            .map_err(|err| FileError::io(path, err))?;
        let kind = if meta.is_dir() {
            EntryKind::Dir
        } else if meta.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        Ok(CallResult::Stat {
            entry: DirEntry {
                path: rel.display(),
                kind,
                size: meta.len(),
                modified_ms: meta
                    .modified()
                    .ok()
                    .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                    .and_then(|since| u64::try_from(since.as_millis()).ok()),
            },
        })
    }

    pub(crate) fn list(&self, path: &str, depth: u32, limit: u32) -> Result<CallResult, FileError> {
        let base = self.root.resolve(path, true)?;
        let limit = limit.min(self.limits.list_entries_max) as usize;
        let depth = (depth.max(1) as usize).min(WALK_DEPTH_MAX);
        let mut walk = Walk::new(&self.root, path, &base, depth, self.limits.walk_entries_max)?;
        let mut entries = Vec::new();
        let mut bytes = 0;
        let mut truncated = false;
        while let Some(entry) = walk.next_entry()? {
            if entries.len() >= limit || bytes >= RESULT_BYTES_MAX {
                truncated = true;
                break;
            }
            let entry = entry.to_dir_entry();
            bytes += entry.path.len() + 64;
            entries.push(entry);
        }
        Ok(CallResult::Listed {
            entries,
            truncated: truncated || walk.cut_short(),
        })
    }

    pub(crate) fn glob(&self, path: &str, glob: &str, limit: u32) -> Result<CallResult, FileError> {
        let base = self.root.resolve(path, true)?;
        let matcher = compile_glob(glob, true)?;
        let limit = limit.min(self.limits.glob_paths_max) as usize;
        let mut walk = Walk::new(
            &self.root,
            path,
            &base,
            WALK_DEPTH_MAX,
            self.limits.walk_entries_max,
        )?
        .skipping_git();
        let mut paths = Vec::new();
        let mut bytes = 0;
        let mut truncated = false;
        while let Some(entry) = walk.next_entry()? {
            if entry.kind != EntryKind::File || !matcher.is_match(entry.rel.display_below(&base)) {
                continue;
            }
            if paths.len() >= limit || bytes >= RESULT_BYTES_MAX {
                truncated = true;
                break;
            }
            let shown = entry.rel.display();
            bytes += shown.len() + 8;
            paths.push(shown);
        }
        Ok(CallResult::Globbed {
            paths,
            truncated: truncated || walk.cut_short(),
        })
    }

    pub(crate) fn search(
        &self,
        path: &str,
        pattern: &str,
        glob: Option<&str>,
        limit: u32,
    ) -> Result<CallResult, FileError> {
        if pattern.len() > PATTERN_BYTES_MAX {
            return Err(FileError::new(
                FailureCode::InvalidArguments,
                "pattern too long",
            ));
        }
        let regex = RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_MAX)
            .build()
            .map_err(|err| FileError::new(FailureCode::InvalidArguments, err.to_string()))?;
        // Like ripgrep's `-g`: a glob without `/` matches file names at any depth.
        let matcher = glob
            .map(|glob| compile_glob(glob, glob.contains('/')).map(|m| (m, glob.contains('/'))))
            .transpose()?;
        let base = self.root.resolve(path, true)?;
        let limit = limit.min(self.limits.search_matches_max) as usize;
        let mut walk = Walk::new(
            &self.root,
            path,
            &base,
            WALK_DEPTH_MAX,
            self.limits.walk_entries_max,
        )?
        .skipping_git();
        let mut matches = Vec::new();
        let mut bytes = 0;
        let mut scanned = 0u64;
        let mut truncated = false;
        'files: while let Some(entry) = walk.next_entry()? {
            if entry.kind != EntryKind::File {
                continue;
            }
            if let Some((matcher, by_path)) = &matcher {
                let subject = if *by_path {
                    entry.rel.display_below(&base)
                } else {
                    entry
                        .rel
                        .name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default()
                };
                if !matcher.is_match(subject) {
                    continue;
                }
            }
            if scanned >= self.limits.search_bytes_max {
                truncated = true;
                break;
            }
            let Some(text) = self.head_text(&entry)? else {
                continue;
            };
            scanned += text.len() as u64;
            for (number, line) in text.lines().enumerate() {
                if !regex.is_match(line) {
                    continue;
                }
                if matches.len() >= limit || bytes >= RESULT_BYTES_MAX {
                    truncated = true;
                    break 'files;
                }
                let line = &line[..line.floor_char_boundary(LINE_BYTES_MAX)];
                let found = SearchMatch {
                    path: entry.rel.display(),
                    line: number as u64 + 1,
                    text: line.to_owned(),
                };
                bytes += found.path.len() + found.text.len() + 32;
                matches.push(found);
            }
        }
        Ok(CallResult::Searched {
            matches,
            truncated: truncated || walk.cut_short(),
        })
    }

    /// The head of a text file for `search`; `None` for binary or vanished files.
    fn head_text(&self, entry: &WalkEntry) -> Result<Option<String>, FileError> {
        let fd = match self
            .root
            .open(&entry.rel, OFlags::RDONLY | OFlags::NONBLOCK)
        {
            Ok(fd) => fd,
            // Changed since the listing: skipped, like any file that vanishes.
            Err(_) => return Ok(None),
        };
        let mut bytes = Vec::new();
        let read = File::from(fd)
            .take(self.limits.search_file_bytes_max)
            .read_to_end(&mut bytes);
        if read.is_err() || is_binary(&bytes) {
            return Ok(None);
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn open_file(&self, path: &str, rel: &RelPath) -> Result<File, FileError> {
        let fd = self
            .root
            // Non-blocking: opening a FIFO must not wait for a writer.
            .open(rel, OFlags::RDONLY | OFlags::NONBLOCK)
            .map_err(|err| FileError::io(path, err))?;
        let file = File::from(fd);
        let meta = file.metadata().map_err(|err| FileError::io(path, err))?;
        if !meta.is_file() {
            return Err(FileError::new(
                FailureCode::NotAFile,
                format!("{path}: not a regular file"),
            ));
        }
        Ok(file)
    }
}

fn compile_glob(glob: &str, literal_separator: bool) -> Result<GlobMatcher, FileError> {
    if glob.len() > PATTERN_BYTES_MAX {
        return Err(FileError::new(
            FailureCode::InvalidArguments,
            "glob too long",
        ));
    }
    let compiled: Result<Glob, _> = GlobBuilder::new(glob)
        .literal_separator(literal_separator)
        .build();
    compiled
        .map(|glob| glob.compile_matcher())
        .map_err(|err| FileError::new(FailureCode::InvalidArguments, err.to_string()))
}

/// The hex SHA-256 of a whole file (read from its start, whatever the caller read).
fn hash_file(file: &File) -> io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    loop {
        match file.read_at(&mut buffer, offset) {
            Ok(0) => break,
            Ok(read) => {
                hasher.update(&buffer[..read]);
                offset += read as u64;
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Not text: a NUL byte early on, or bytes that are not UTF-8 (a character cut
/// at the end of a partial read does not count).
fn is_binary(bytes: &[u8]) -> bool {
    if bytes[..bytes.len().min(SNIFF_BYTES)].contains(&0) {
        return true;
    }
    match std::str::from_utf8(bytes) {
        Ok(_) => false,
        Err(err) => err.error_len().is_some(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_is_told_from_text() {
        assert!(!is_binary(b"plain text\n"));
        assert!(!is_binary("é".as_bytes()));
        assert!(!is_binary(&"é".as_bytes()[..1]));
        assert!(is_binary(b"a\0b"));
        assert!(is_binary(b"\xff\xfe"));
    }
}
