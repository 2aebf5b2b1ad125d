//! Paths and the rules every path obeys.
//!
//! - [`VfsPath`]: a file's place inside a snapshot: relative, already normal (names
//!   joined by single `/`, no `.` or `..`); the empty path is the snapshot's root.
//! - [`SessionPath`]: what a session (and the model) sees: absolute, normal; `/` is
//!   the root. Mounts attach snapshots and workspaces at session paths.
//!
//! A name is never empty, `.` or `..`, and holds no NUL, control character or
//! backslash. Backslashes are refused rather than treated as names so that a path
//! can never mean something else to a tool that materialises it on Windows.
//!
//! There are no symlinks: a snapshot maps names to file contents and nothing else,
//! so lexical normalisation is exact, and `..` is resolved before routing. A `..`
//! that would climb above `/` is an escape and refused.

use std::borrow::Borrow;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::limits::{NAME_BYTES_MAX, PATH_BYTES_MAX, PATH_DEPTH_MAX};

/// Why a string is not an acceptable path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path contains a NUL byte")]
    Nul,
    #[error("path contains a control character")]
    ControlChar,
    #[error("path contains a backslash; separate names with `/`")]
    Backslash,
    #[error("path climbs above the root with `..`")]
    Escape,
    #[error("path must be relative, without a leading `/`")]
    Absolute,
    #[error("path must be absolute, starting with `/`")]
    Relative,
    /// A snapshot path with an empty, `.` or `..` name.
    #[error("path is not normal: name {0:?} is not allowed")]
    NotNormal(String),
    /// Checked on the raw input's length before anything else, so an over-long
    /// input costs one comparison.
    #[error("path is {len} bytes, more than {max}")]
    TooLong { len: usize, max: usize },
    #[error("path has more than {max} names")]
    TooDeep { max: usize },
    #[error("a name is {len} bytes, more than {max}")]
    NameTooLong { len: usize, max: usize },
}

impl PathError {
    /// The short machine-readable reason an API answers with.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLong { .. } => "pathTooLong",
            Self::TooDeep { .. } => "pathTooDeep",
            Self::NameTooLong { .. } => "nameTooLong",
            _ => "invalidPath",
        }
    }
}

/// Checks the shape limits of `raw` in one pass, before any allocation: its length
/// first (so what follows is bounded), then the number and length of its names.
/// These are the format's hard caps ([`crate::limits`] defaults); a deployment's
/// [`crate::Limits`] can only lower them.
fn check_shape(raw: &str) -> Result<(), PathError> {
    // `path_bytes_max` counts a separator before every name, as an absolute path.
    if raw.len() >= PATH_BYTES_MAX {
        return Err(PathError::TooLong {
            len: raw.len(),
            max: PATH_BYTES_MAX - 1,
        });
    }
    let mut depth = 0usize;
    for name in raw.split('/').filter(|name| !name.is_empty()) {
        depth += 1;
        if depth > PATH_DEPTH_MAX {
            return Err(PathError::TooDeep {
                max: PATH_DEPTH_MAX,
            });
        }
        if name.len() > NAME_BYTES_MAX {
            return Err(PathError::NameTooLong {
                len: name.len(),
                max: NAME_BYTES_MAX,
            });
        }
    }
    Ok(())
}

/// Checks one name (the part between two `/`).
fn check_name(name: &str) -> Result<(), PathError> {
    if name.is_empty() || name == "." || name == ".." {
        return Err(PathError::NotNormal(name.to_owned()));
    }
    check_chars(name)
}

fn check_chars(raw: &str) -> Result<(), PathError> {
    for c in raw.chars() {
        match c {
            '\0' => return Err(PathError::Nul),
            '\\' => return Err(PathError::Backslash),
            c if c.is_control() => return Err(PathError::ControlChar),
            _ => {}
        }
    }
    Ok(())
}

/// A normal path inside a snapshot; the empty path is the root directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VfsPath(String);

impl VfsPath {
    /// The root directory of a snapshot.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Parses an already normal relative path (`a/b.txt`; `""` is the root).
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if raw.starts_with('/') {
            return Err(PathError::Absolute);
        }
        check_shape(raw)?;
        if !raw.is_empty() {
            raw.split('/').try_for_each(check_name)?;
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The names from the root down; none for the root.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|name| !name.is_empty())
    }

    /// Number of names.
    pub fn depth(&self) -> usize {
        self.names().count()
    }

    /// The last name; `None` for the root.
    pub fn file_name(&self) -> Option<&str> {
        self.names().last()
    }

    /// The directory holding this path; `None` for the root.
    pub fn parent(&self) -> Option<VfsPath> {
        if self.is_root() {
            return None;
        }
        Some(match self.0.rfind('/') {
            Some(at) => Self(self.0[..at].to_owned()),
            None => Self::root(),
        })
    }

    /// Every proper ancestor except the root, nearest last (`a`, `a/b` for `a/b/c`).
    /// Borrowed slices: walking the ancestors copies nothing.
    pub fn ancestors(&self) -> impl Iterator<Item = &str> + '_ {
        self.0.match_indices('/').map(|(at, _)| &self.0[..at])
    }

    /// `self/name`; `name` must be one valid name.
    pub fn child(&self, name: &str) -> Result<VfsPath, PathError> {
        check_name(name)?;
        let joined = self.join_unchecked(name);
        check_shape(&joined.0)?;
        Ok(joined)
    }

    /// `self/rest`.
    pub fn join(&self, rest: &VfsPath) -> VfsPath {
        self.join_unchecked(&rest.0)
    }

    fn join_unchecked(&self, rest: &str) -> VfsPath {
        match (self.is_root(), rest.is_empty()) {
            (_, true) => self.clone(),
            (true, false) => Self(rest.to_owned()),
            (false, false) => Self(format!("{}/{rest}", self.0)),
        }
    }

    /// Whether this path is `dir` or below it.
    pub fn is_within(&self, dir: &VfsPath) -> bool {
        self.strip_prefix(dir).is_some()
    }

    /// This path relative to `dir`, if it is `dir` or below it.
    pub fn strip_prefix(&self, dir: &VfsPath) -> Option<VfsPath> {
        if dir.is_root() {
            return Some(self.clone());
        }
        let rest = self.0.strip_prefix(dir.as_str())?;
        match rest.strip_prefix('/') {
            Some(rest) => Some(Self(rest.to_owned())),
            None if rest.is_empty() => Some(Self::root()),
            None => None,
        }
    }

    /// The smallest and the first-after strings bounding every path strictly below
    /// `self` in byte order: `"dir/"` and `"dir0"` (`'0'` follows `'/'`).
    pub(crate) fn below_bounds(&self) -> Option<(VfsPath, VfsPath)> {
        if self.is_root() {
            return None;
        }
        Some((Self(format!("{}/", self.0)), Self(format!("{}0", self.0))))
    }
}

// Equality, order and hash are those of the string, so maps keyed by paths can be
// probed with borrowed slices (see [`VfsPath::ancestors`]).
impl Borrow<str> for VfsPath {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for VfsPath {
    type Error = PathError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<VfsPath> for String {
    fn from(path: VfsPath) -> String {
        path.0
    }
}

impl fmt::Display for VfsPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An absolute, normal path as a session sees it; `/` is the root.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SessionPath(String);

impl SessionPath {
    pub fn root() -> Self {
        Self("/".to_owned())
    }

    /// Normalises an absolute path: repeated `/` and `.` go, `..` removes the name
    /// before it; climbing above `/` is [`PathError::Escape`].
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        if !raw.starts_with('/') {
            return Err(PathError::Relative);
        }
        Self::resolve(raw, &Self::root())
    }

    /// Normalises `raw`, resolving a relative path against `cwd`.
    pub fn resolve(raw: &str, cwd: &SessionPath) -> Result<Self, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        check_shape(raw)?;
        check_chars(raw)?;
        let mut names: Vec<&str> = match raw.starts_with('/') {
            true => Vec::new(),
            false => cwd.names().collect(),
        };
        for name in raw.split('/') {
            match name {
                "" | "." => {}
                ".." => {
                    names.pop().ok_or(PathError::Escape)?;
                }
                name => names.push(name),
            }
        }
        let path = format!("/{}", names.join("/"));
        // The input was bounded; `cwd` plus the input may still not be.
        check_shape(&path[1..])?;
        Ok(Self(path))
    }

    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|name| !name.is_empty())
    }

    /// This path relative to `base`, if it is `base` or below it (whole names only:
    /// `/workspace2` is not below `/workspace`).
    pub fn strip_prefix(&self, base: &SessionPath) -> Option<VfsPath> {
        if base.is_root() {
            return Some(VfsPath(self.0[1..].to_owned()));
        }
        let rest = self.0.strip_prefix(base.as_str())?;
        match rest.strip_prefix('/') {
            Some(rest) => Some(VfsPath(rest.to_owned())),
            None if rest.is_empty() => Some(VfsPath::root()),
            None => None,
        }
    }

    /// `self/rest`.
    pub fn join(&self, rest: &VfsPath) -> SessionPath {
        match (self.is_root(), rest.is_root()) {
            (_, true) => self.clone(),
            (true, false) => Self(format!("/{rest}")),
            (false, false) => Self(format!("{}/{rest}", self.0)),
        }
    }
}

impl TryFrom<String> for SessionPath {
    type Error = PathError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let path = Self::parse(&value)?;
        // Stored and wire paths are already normal; a path that normalises to
        // something else is refused rather than silently changed.
        match path.0 == value {
            true => Ok(path),
            false => Err(PathError::NotNormal(value)),
        }
    }
}

impl From<SessionPath> for String {
    fn from(path: SessionPath) -> String {
        path.0
    }
}

impl fmt::Display for SessionPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(raw: &str) -> Result<String, PathError> {
        let cwd = SessionPath::parse("/work").unwrap();
        SessionPath::resolve(raw, &cwd).map(String::from)
    }

    #[test]
    fn session_paths_normalise_lexically() {
        assert_eq!(resolve("/work/./a//b/").unwrap(), "/work/a/b");
        assert_eq!(resolve("a/../b").unwrap(), "/work/b");
        assert_eq!(resolve("..").unwrap(), "/");
        assert_eq!(resolve("/work/../etc/passwd").unwrap(), "/etc/passwd");
        assert_eq!(resolve("../..").unwrap_err(), PathError::Escape);
        assert_eq!(resolve("/../x").unwrap_err(), PathError::Escape);
        assert_eq!(resolve("").unwrap_err(), PathError::Empty);
        assert_eq!(resolve("a\0b").unwrap_err(), PathError::Nul);
        assert_eq!(resolve("..\\..\\x").unwrap_err(), PathError::Backslash);
        assert_eq!(resolve("a\nb").unwrap_err(), PathError::ControlChar);
        assert_eq!(SessionPath::parse("work").unwrap_err(), PathError::Relative);
    }

    #[test]
    fn prefixes_match_whole_names() {
        let base = SessionPath::parse("/work").unwrap();
        let inside = SessionPath::parse("/work/a/b").unwrap();
        let sibling = SessionPath::parse("/workshop/a").unwrap();
        assert_eq!(inside.strip_prefix(&base).unwrap().as_str(), "a/b");
        assert_eq!(base.strip_prefix(&base).unwrap(), VfsPath::root());
        assert_eq!(sibling.strip_prefix(&base), None);
        assert_eq!(
            inside.strip_prefix(&SessionPath::root()).unwrap().as_str(),
            "work/a/b"
        );
        assert_eq!(
            base.join(&VfsPath::parse("x/y").unwrap()).as_str(),
            "/work/x/y"
        );
        assert_eq!(
            SessionPath::root()
                .join(&VfsPath::parse("x").unwrap())
                .as_str(),
            "/x"
        );
    }

    #[test]
    fn snapshot_paths_must_be_normal() {
        assert!(VfsPath::parse("a/b.txt").is_ok());
        assert!(VfsPath::parse("").unwrap().is_root());
        for bad in ["/a", "a//b", "a/./b", "a/../b", "..", "a/", "a\\b", "a\0"] {
            assert!(VfsPath::parse(bad).is_err(), "{bad:?}");
        }
        let path = VfsPath::parse("a/b/c").unwrap();
        let ancestors: Vec<String> = path.ancestors().map(String::from).collect();
        assert_eq!(ancestors, ["a", "a/b"]);
        assert_eq!(path.parent().unwrap().as_str(), "a/b");
        assert_eq!(path.file_name(), Some("c"));
        let dir = VfsPath::parse("a").unwrap();
        assert_eq!(path.strip_prefix(&dir).unwrap().as_str(), "b/c");
        assert!(!VfsPath::parse("ab/c").unwrap().is_within(&dir));
        assert!(serde_json::from_str::<SessionPath>("\"/a/../b\"").is_err());
        assert!(serde_json::from_str::<SessionPath>("\"/a/b\"").is_ok());
    }
}
