//! Replay: rebuilding state from the log, and the errors that stop it.

use crate::canonical::DecodeError;
use crate::core::event::{CoreEvent, EventDecodeError};
use crate::log::{LogEntry, Seq};

/// The log and this engine disagree. Never ignored: replay stops here.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("entry {seq}: {source}")]
    Decode {
        seq: Seq,
        #[source]
        source: EventDecodeError,
    },
    #[error("expected entry {expected} next, found {found}")]
    SeqGap { expected: Seq, found: Seq },
    #[error("entry {seq} ({kind}) cannot follow the current state: {reason}")]
    Inconsistent {
        seq: Seq,
        kind: String,
        reason: String,
    },
    #[error("checkpoint cannot be decoded: {0}")]
    Checkpoint(#[from] DecodeError),
}

pub(crate) fn decode(entry: &LogEntry) -> Result<CoreEvent, ReplayError> {
    CoreEvent::decode(&entry.event).map_err(|source| ReplayError::Decode {
        seq: entry.seq,
        source,
    })
}
