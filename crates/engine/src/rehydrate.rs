//! Rebuilding session state from a store: the latest usable checkpoint plus the log
//! tail after it. Every host (the Temporal worker's activities, the API service's
//! control-state cache, the in-process runner) rehydrates through these functions,
//! so "checkpoint + tail" is written once.
//!
//! Runtime-free like the rest of the crate: the functions are `async` only because
//! the store traits are.

use crate::core::control::ControlState;
use crate::core::replay::ReplayError;
use crate::core::state::SessionState;
use crate::drive::DriveState;
use crate::ids::SessionId;
use crate::log::Seq;
use crate::store::{Checkpoint, CheckpointStore, SessionLog, StoreError};

/// Entries read per store round trip while rehydrating.
pub const READ_PAGE_ENTRIES: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum RehydrateError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log (or a checkpoint) and the engine disagree; retrying will not help.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// The state was wanted at an entry the log does not have (yet).
    #[error("the log ends at entry {head}, before entry {wanted}")]
    ShortLog { head: Seq, wanted: Seq },
}

/// A state that can start from a checkpoint: the full state, or its control part.
pub trait Rehydratable: DriveState + Default {
    fn from_checkpoint(checkpoint: &Checkpoint) -> Result<Self, ReplayError>;
}

impl Rehydratable for SessionState {
    fn from_checkpoint(checkpoint: &Checkpoint) -> Result<Self, ReplayError> {
        SessionState::from_checkpoint(checkpoint)
    }
}

/// A checkpoint's control part alone. The context item list beside it (which grows
/// with the transcript) is skipped by the parser, never built, so control-only
/// rehydration (`load_session`, the API's control cache) does not pay for it.
#[derive(serde::Deserialize)]
struct CheckpointControl {
    control: ControlState,
}

impl Rehydratable for ControlState {
    fn from_checkpoint(checkpoint: &Checkpoint) -> Result<Self, ReplayError> {
        let CheckpointControl { control } = crate::canonical::from_slice(&checkpoint.state)?;
        if control.head != checkpoint.seq {
            return Err(ReplayError::Inconsistent {
                seq: checkpoint.seq,
                kind: "checkpoint".into(),
                reason: format!("checkpoint state is at entry {}", control.head),
            });
        }
        Ok(control)
    }
}

/// Full state at the log head.
pub async fn rehydrate<S: SessionLog + CheckpointStore>(
    store: &S,
    session: &SessionId,
) -> Result<SessionState, RehydrateError> {
    state_at(store, session, Seq::MAX).await
}

/// State with exactly the entries up to `through` applied (`Seq::MAX`: all of
/// them), from the newest checkpoint not above `through` plus the entries after it.
pub async fn state_at<T: Rehydratable, S: SessionLog + CheckpointStore>(
    store: &S,
    session: &SessionId,
    through: Seq,
) -> Result<T, RehydrateError> {
    let state = match store.checkpoint_at_or_before(session, through).await? {
        Some(checkpoint) => T::from_checkpoint(&checkpoint)?,
        None => T::default(),
    };
    advance(store, session, state, through).await
}

/// Applies the entries after `state`'s head up to `through` (`Seq::MAX`: the log
/// head). Used to bring a cached state up to date.
pub async fn advance<T: DriveState, S: SessionLog>(
    store: &S,
    session: &SessionId,
    mut state: T,
    through: Seq,
) -> Result<T, RehydrateError> {
    while state.control().head < through {
        let page = store
            .read(session, state.control().head + 1, READ_PAGE_ENTRIES)
            .await?;
        if page.is_empty() {
            break;
        }
        for entry in page.iter().take_while(|entry| entry.seq <= through) {
            state.apply(entry)?;
        }
    }
    let head = state.control().head;
    if through != Seq::MAX && head != through {
        return Err(RehydrateError::ShortLog {
            head,
            wanted: through,
        });
    }
    Ok(state)
}
