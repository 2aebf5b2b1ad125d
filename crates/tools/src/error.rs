//! Two kinds of failure. A [`ToolError`] is an answer for the model (a bad path, no
//! match, a read-only mount): it becomes a tool result with status `error`. An
//! [`InvokeError`] means the storage failed, so no answer exists; the host retries or
//! reports it, as it would any failed activity.

use vfs::VfsError;

/// A failure reported to the model as the tool's (error) output.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    #[error("unknown tool {0:?}")]
    UnknownTool(String),
    #[error("{0} is not available: this session's file tools are read-only")]
    ReadOnlyMode(&'static str),
    #[error("invalid arguments: {0}")]
    Arguments(String),
    #[error(transparent)]
    Vfs(VfsError),
    #[error("{path} is a binary file ({size_bytes} bytes); the file tools show and edit text only")]
    Binary { path: String, size_bytes: u64 },
    #[error("{path} is not UTF-8 text")]
    NotText { path: String },
    #[error("offset {offset} is past the end of {path} ({lines} lines)")]
    OffsetPastEnd {
        path: String,
        offset: usize,
        lines: usize,
    },
    #[error("{path} is a directory; use list_dir")]
    IsADirectory { path: String },
    #[error("{path} is a file, not a directory")]
    NotADirectory { path: String },
    #[error("{path} already exists")]
    AlreadyExists { path: String },
    #[error("old_string was not found in {path}")]
    NoMatch { path: String },
    #[error(
        "old_string occurs {count} times in {path}; add surrounding context to make it unique, or set replace_all"
    )]
    AmbiguousMatch { path: String, count: usize },
    #[error("old_string and new_string are the same; nothing to change")]
    NoChange,
    #[error("old_string must not be empty; use write_file to create or replace a file")]
    EmptyOldString,
    #[error("invalid patch, line {line}: {reason}")]
    PatchSyntax { line: usize, reason: String },
    #[error("patch does not apply to {path}: {reason}")]
    PatchContext { path: String, reason: String },
    #[error("a patch may change one mount at a time; it touches {first} and {second}")]
    PatchAcrossMounts { first: String, second: String },
    #[error("invalid {what}: {reason}")]
    Pattern { what: &'static str, reason: String },
    #[error("{limit} exceeded: {value} > {max}")]
    LimitExceeded {
        limit: &'static str,
        value: u64,
        max: u64,
    },
    #[error(
        "the workspace kept changing under this write ({attempts} attempts); read it again and retry"
    )]
    WriteConflict { attempts: u32 },
}

/// The storage failed; the call has no answer.
#[derive(Debug, thiserror::Error)]
#[error("file tool storage failed: {0}")]
pub struct InvokeError(#[source] pub VfsError);

/// What a tool body fails with: an answer for the model or a storage failure.
#[derive(Debug)]
pub(crate) enum Failure {
    Tool(ToolError),
    Infra(InvokeError),
}

impl From<ToolError> for Failure {
    fn from(err: ToolError) -> Self {
        Self::Tool(err)
    }
}

impl From<VfsError> for Failure {
    fn from(err: VfsError) -> Self {
        if err.is_infrastructure() {
            return Self::Infra(InvokeError(err));
        }
        Self::Tool(match err {
            VfsError::IsADirectory { path } => ToolError::IsADirectory { path },
            VfsError::LimitExceeded { limit, value, max } => {
                ToolError::LimitExceeded { limit, value, max }
            }
            other => ToolError::Vfs(other),
        })
    }
}

impl From<engine::store::StoreError> for Failure {
    fn from(err: engine::store::StoreError) -> Self {
        VfsError::Store(err).into()
    }
}

impl From<vfs::PathError> for Failure {
    fn from(err: vfs::PathError) -> Self {
        VfsError::Path(err).into()
    }
}

pub(crate) type Result<T> = std::result::Result<T, Failure>;

/// [`ToolError::LimitExceeded`] when `value > max`.
pub(crate) fn check_limit(limit: &'static str, value: usize, max: usize) -> Result<()> {
    if value > max {
        return Err(ToolError::LimitExceeded {
            limit,
            value: value as u64,
            max: max as u64,
        }
        .into());
    }
    Ok(())
}
