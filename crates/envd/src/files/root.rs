//! The directory file operations are confined to, and the one way paths are
//! turned into files under it.
//!
//! A path is resolved component by component: `..` above the directory is
//! refused, and so is any symlink whose target leads outside it (an absolute
//! target must name the directory itself or something below it). The result is a
//! path relative to the directory with no symlink and no `..` in it, opened with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from the directory's file
//! descriptor: if a command swapped a component for a symlink between the
//! resolution and the open, the open fails instead of following it. So nothing
//! outside the directory is ever read or written, however the tree changes
//! meanwhile. (`cap-std` would give the same guarantee; this is the few lines of
//! it needed, with the exact refusal rules above.)

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use env_protocol::FailureCode;
use rustix::fs::{AtFlags, FileType, Mode, OFlags, readlinkat, statat};

use super::FileError;

/// Symlinks followed while resolving one path.
const SYMLINKS_MAX: usize = 40;

/// Bytes of a path given to an operation.
pub(crate) const PATH_BYTES_MAX: usize = 4096;

/// The confining directory.
#[derive(Debug)]
pub(crate) struct Root {
    path: PathBuf,
    fd: OwnedFd,
}

/// A path below the root with no symlink and no `..`: its components.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RelPath(Vec<OsString>);

impl RelPath {
    pub(crate) fn join(&self, name: &OsStr) -> Self {
        let mut components = self.0.clone();
        components.push(name.to_owned());
        Self(components)
    }

    pub(crate) fn parent_and_name(&self) -> Option<(RelPath, &OsStr)> {
        let (name, parent) = self.0.split_last()?;
        Some((Self(parent.to_vec()), name.as_os_str()))
    }

    pub(crate) fn name(&self) -> Option<&OsStr> {
        self.0.last().map(OsString::as_os_str)
    }

    /// What `openat2` is given: `.` for the root itself.
    pub(crate) fn to_path(&self) -> PathBuf {
        if self.0.is_empty() {
            PathBuf::from(".")
        } else {
            self.0.iter().collect()
        }
    }

    /// `/`-separated, for the wire (lossy for names that are not UTF-8).
    pub(crate) fn display(&self) -> String {
        let names: Vec<_> = self.0.iter().map(|name| name.to_string_lossy()).collect();
        names.join("/")
    }

    /// This path relative to `base` (which it is below), `/`-separated.
    pub(crate) fn display_below(&self, base: &RelPath) -> String {
        let names: Vec<_> = self.0[base.0.len().min(self.0.len())..]
            .iter()
            .map(|name| name.to_string_lossy())
            .collect();
        names.join("/")
    }

    pub(crate) fn depth(&self) -> usize {
        self.0.len()
    }
}

impl Root {
    /// Opens `dir` (canonicalised); refuses a kernel without `openat2`, which
    /// every operation needs.
    pub(crate) fn new(dir: &Path) -> io::Result<Self> {
        let path = dir.canonicalize()?;
        let fd = rustix::fs::open(
            &path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let root = Self { path, fd };
        root.open(&RelPath::default(), OFlags::PATH | OFlags::DIRECTORY)
            .map_err(|err| io::Error::other(format!("openat2 beneath a directory: {err}")))?;
        Ok(root)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The absolute path of `rel` (for a command's working directory).
    pub(crate) fn absolute(&self, rel: &RelPath) -> PathBuf {
        let mut path = self.path.clone();
        path.extend(&rel.0);
        path
    }

    /// Resolves a wire path (relative to the root; a leading `/` is the root).
    /// With `follow_last`, a final symlink is followed too.
    pub(crate) fn resolve(&self, path: &str, follow_last: bool) -> Result<RelPath, FileError> {
        if path.len() > PATH_BYTES_MAX || path.contains('\0') {
            return Err(FileError::new(
                FailureCode::InvalidArguments,
                format!("invalid path ({} bytes)", path.len()),
            ));
        }
        let mut resolved: Vec<OsString> = Vec::new();
        let mut pending: VecDeque<OsString> = split(OsStr::new(path)).collect();
        let mut symlinks = 0;
        while let Some(name) = pending.pop_front() {
            if name == ".." {
                if resolved.pop().is_none() {
                    return Err(outside(path));
                }
                continue;
            }
            resolved.push(name);
            if pending.is_empty() && !follow_last {
                break;
            }
            let here = RelPath(resolved.clone());
            let is_symlink = match statat(&self.fd, here.to_path(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) => FileType::from_raw_mode(stat.st_mode) == FileType::Symlink,
                // Missing (to be created) or below a file: not a symlink; the open
                // reports what is wrong.
                Err(_) => false,
            };
            if !is_symlink {
                continue;
            }
            symlinks += 1;
            if symlinks > SYMLINKS_MAX {
                return Err(FileError::new(
                    FailureCode::InvalidArguments,
                    format!("{path}: too many symlinks"),
                ));
            }
            let target = readlinkat(&self.fd, here.to_path(), Vec::new())
                .map_err(|err| FileError::io(path, err.into()))?;
            let target = PathBuf::from(OsStr::from_bytes(target.as_bytes()));
            resolved.pop();
            let mut replacement: Vec<OsString> = if target.is_absolute() {
                let Ok(below) = target.strip_prefix(&self.path) else {
                    return Err(outside(path));
                };
                resolved.clear();
                split(below.as_os_str()).collect()
            } else {
                split(target.as_os_str()).collect()
            };
            replacement.extend(pending.drain(..));
            pending = replacement.into();
        }
        Ok(RelPath(resolved))
    }

    /// Opens a resolved path, refusing (ELOOP, EXDEV) anything that is or
    /// became a symlink or leads outside.
    pub(crate) fn open(&self, rel: &RelPath, flags: OFlags) -> io::Result<OwnedFd> {
        self.open_mode(rel, flags, Mode::empty())
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn open_mode(
        &self,
        rel: &RelPath,
        flags: OFlags,
        mode: Mode,
    ) -> io::Result<OwnedFd> {
        use rustix::fs::{ResolveFlags, openat2};
        use rustix::io::Errno;
        loop {
            match openat2(
                &self.fd,
                rel.to_path(),
                flags | OFlags::CLOEXEC | OFlags::NOFOLLOW,
                mode,
                ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
            ) {
                // EAGAIN: a concurrent rename elsewhere on the filesystem; retry.
                Err(Errno::AGAIN) | Err(Errno::INTR) => continue,
                result => return result.map_err(io::Error::from),
            }
        }
    }

    /// Elsewhere there is no race-free open beneath a directory: the daemon
    /// refuses to start ([`Root::new`] fails).
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn open_mode(
        &self,
        rel: &RelPath,
        flags: OFlags,
        mode: Mode,
    ) -> io::Result<OwnedFd> {
        let _ = (&self.fd, rel, flags, mode);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "the environment daemon needs Linux (openat2)",
        ))
    }
}

/// The names of a path, without empty and `.` components (`..` kept).
fn split(path: &OsStr) -> impl Iterator<Item = OsString> + '_ {
    Path::new(path)
        .components()
        .filter_map(|component| match component {
            Component::Normal(name) => Some(name.to_owned()),
            Component::ParentDir => Some(OsString::from("..")),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
        })
}

fn outside(path: &str) -> FileError {
    FileError::new(
        FailureCode::OutsideRoot,
        format!("{path}: resolves outside the directory"),
    )
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::symlink;

    use super::*;

    fn code(result: Result<RelPath, FileError>) -> Option<FailureCode> {
        result.err().map(|err| err.code)
    }

    #[test]
    fn paths_resolve_inside_or_are_refused() -> anyhow::Result<()> {
        let outside_dir = tempfile::tempdir()?;
        let dir = tempfile::tempdir()?;
        let root = Root::new(dir.path())?;
        std::fs::create_dir(dir.path().join("a"))?;
        symlink("a", dir.path().join("to_a"))?;
        symlink(root.path().join("a"), dir.path().join("abs_a"))?;
        symlink("/etc/passwd", dir.path().join("passwd"))?;
        symlink(outside_dir.path(), dir.path().join("out"))?;
        symlink("../..", dir.path().join("a/up"))?;
        symlink("loop", dir.path().join("loop"))?;

        assert_eq!(root.resolve("/", true)?, RelPath::default());
        assert_eq!(root.resolve("a/../a/./x", true)?.display(), "a/x");
        assert_eq!(
            root.resolve("/to_a/new/file", true)?.display(),
            "a/new/file"
        );
        assert_eq!(root.resolve("abs_a/f", true)?.display(), "a/f");
        assert_eq!(root.resolve("passwd", false)?.display(), "passwd");
        assert_eq!(
            code(root.resolve("../x", true)),
            Some(FailureCode::OutsideRoot)
        );
        assert_eq!(
            code(root.resolve("a/../../x", true)),
            Some(FailureCode::OutsideRoot)
        );
        assert_eq!(
            code(root.resolve("passwd", true)),
            Some(FailureCode::OutsideRoot)
        );
        assert_eq!(
            code(root.resolve("out/x", true)),
            Some(FailureCode::OutsideRoot)
        );
        assert_eq!(
            code(root.resolve("a/up/x", true)),
            Some(FailureCode::OutsideRoot)
        );
        assert_eq!(
            code(root.resolve("loop", true)),
            Some(FailureCode::InvalidArguments)
        );
        // The open refuses a symlink that appears after the resolution.
        let resolved = root.resolve("b", true)?;
        symlink("/etc", dir.path().join("b"))?;
        assert!(root.open(&resolved, OFlags::RDONLY).is_err());
        Ok(())
    }
}
