//! A breadth-first walk below a directory: entries sorted by name within each
//! directory, symlinks reported and never followed, `.git` never descended into,
//! bounded in depth and in entries visited.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use env_protocol::{DirEntry, EntryKind};
use rustix::fs::{AtFlags, Dir, FileType, OFlags, statat};

use super::{FileError, RelPath, Root};

/// One entry found.
#[derive(Debug)]
pub(crate) struct WalkEntry {
    pub(crate) rel: RelPath,
    pub(crate) kind: EntryKind,
    pub(crate) size: u64,
    pub(crate) modified_ms: Option<u64>,
}

impl WalkEntry {
    pub(crate) fn to_dir_entry(&self) -> DirEntry {
        DirEntry {
            path: self.rel.display(),
            kind: self.kind,
            size: self.size,
            modified_ms: self.modified_ms,
        }
    }
}

#[derive(Debug)]
pub(crate) struct Walk<'a> {
    root: &'a Root,
    base_depth: usize,
    /// Directories still to read, with their depth below the base.
    dirs: VecDeque<(RelPath, usize)>,
    ready: VecDeque<WalkEntry>,
    depth_max: usize,
    visited: usize,
    visited_max: usize,
    hide_git: bool,
    cut: bool,
}

impl<'a> Walk<'a> {
    /// Walks below `base` (a directory), `depth_max` levels deep.
    pub(crate) fn new(
        root: &'a Root,
        path: &str,
        base: &RelPath,
        depth_max: usize,
        visited_max: usize,
    ) -> Result<Self, FileError> {
        let fd = root
            .open(base, OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|err| FileError::io(path, err))?;
        drop(fd);
        Ok(Self {
            root,
            base_depth: base.depth(),
            dirs: VecDeque::from([(base.clone(), 0)]),
            ready: VecDeque::new(),
            depth_max,
            visited: 0,
            visited_max,
            hide_git: false,
            cut: false,
        })
    }

    /// Leaves `.git` out of the entries too (search and glob).
    pub(crate) fn skipping_git(mut self) -> Self {
        self.hide_git = true;
        self
    }

    /// Whether the walk stopped at its bound of entries visited.
    pub(crate) fn cut_short(&self) -> bool {
        self.cut
    }

    pub(crate) fn next_entry(&mut self) -> Result<Option<WalkEntry>, FileError> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                let depth = entry.rel.depth() - self.base_depth;
                let is_git = entry.rel.name() == Some(OsStr::new(".git"));
                if entry.kind == EntryKind::Dir && depth < self.depth_max && !is_git {
                    self.dirs.push_back((entry.rel.clone(), depth));
                }
                if is_git && self.hide_git {
                    continue;
                }
                return Ok(Some(entry));
            }
            if self.cut {
                return Ok(None);
            }
            let Some((dir, _)) = self.dirs.pop_front() else {
                return Ok(None);
            };
            self.read_dir(&dir);
        }
    }

    /// Reads one directory into `ready`; one that vanished or cannot be read
    /// is skipped.
    fn read_dir(&mut self, dir: &RelPath) {
        let Ok(fd) = self.root.open(dir, OFlags::RDONLY | OFlags::DIRECTORY) else {
            return;
        };
        let Ok(listing) = Dir::read_from(&fd) else {
            return;
        };
        let mut entries = Vec::new();
        for item in listing {
            let Ok(item) = item else {
                break;
            };
            let name = OsStr::from_bytes(item.file_name().to_bytes());
            if name == "." || name == ".." {
                continue;
            }
            if self.visited >= self.visited_max {
                self.cut = true;
                break;
            }
            self.visited += 1;
            let Ok(stat) = statat(&fd, name, AtFlags::SYMLINK_NOFOLLOW) else {
                continue;
            };
            let kind = match FileType::from_raw_mode(stat.st_mode) {
                FileType::RegularFile => EntryKind::File,
                FileType::Directory => EntryKind::Dir,
                FileType::Symlink => EntryKind::Symlink,
                _ => EntryKind::Other,
            };
            let modified_ms = modified_ms(&stat);
            entries.push(WalkEntry {
                rel: dir.join(name),
                kind,
                size: u64::try_from(stat.st_size).unwrap_or(0),
                modified_ms,
            });
        }
        entries.sort_by(|a, b| a.rel.name().cmp(&b.rel.name()));
        self.ready.extend(entries);
    }
}

/// Milliseconds since the epoch of a modification time (none before it).
// `st_mtime_nsec` is u64 here, u32 or i64 on other targets.
#[allow(clippy::unnecessary_cast)]
fn modified_ms(stat: &rustix::fs::Stat) -> Option<u64> {
    let secs = u64::try_from(stat.st_mtime).ok()?;
    Some(secs.saturating_mul(1000) + (stat.st_mtime_nsec as u64) / 1_000_000)
}
