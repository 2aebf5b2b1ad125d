//! Typed refusals of the memory catalog and of block edits, each with a stable code
//! (`data.reason` on the wire, and the `code` of an agent tool's error result).
//! Messages name labels and sizes, never a block's or passage's text.

use engine::store::StoreError;

/// Which count a [`MemoryError::TooMany`] would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryBound {
    BlocksPerUniverse,
    BlocksPerSession,
    PassagesPerUniverse,
}

impl std::fmt::Display for MemoryBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::BlocksPerUniverse => "memory blocks per universe",
            Self::BlocksPerSession => "memory blocks per session",
            Self::PassagesPerUniverse => "archival passages per universe",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// A field breaks a rule; the message names it.
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("memory block {0:?} not found")]
    BlockNotFound(String),
    #[error("memory block {0:?} already exists")]
    BlockExists(String),
    /// A value over the block's limit (bytes of UTF-8).
    #[error("memory block {label:?} would hold {bytes} bytes; its limit is {limit_bytes}")]
    TooLarge {
        label: String,
        bytes: usize,
        limit_bytes: u64,
    },
    #[error("memory block {0:?} is read-only")]
    ReadOnly(String),
    #[error("memory block {label:?} is at revision {actual}, not {expected}")]
    Conflict {
        label: String,
        expected: u64,
        actual: u64,
    },
    #[error("old_text was not found in memory block {0:?}")]
    OldTextNotFound(String),
    #[error("old_text occurs {count} times in memory block {label:?}; give more context")]
    OldTextAmbiguous { label: String, count: usize },
    /// A delete without `force` of a block some sessions still have.
    #[error("memory block {label:?} is attached to {sessions} session(s); detach it or force")]
    Linked { label: String, sessions: usize },
    #[error("at most {max} {bound}")]
    TooMany { bound: MemoryBound, max: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MemoryError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalidMemory",
            Self::BlockNotFound(_) => "memoryBlockNotFound",
            Self::BlockExists(_) => "memoryBlockExists",
            Self::TooLarge { .. } => "memoryBlockTooLarge",
            Self::ReadOnly(_) => "memoryBlockReadOnly",
            Self::Conflict { .. } => "memoryBlockConflict",
            Self::OldTextNotFound(_) => "memoryOldTextNotFound",
            Self::OldTextAmbiguous { .. } => "memoryOldTextAmbiguous",
            Self::Linked { .. } => "memoryBlockLinked",
            Self::TooMany { .. } => "quotaExceeded",
            Self::Store(_) => "store",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
