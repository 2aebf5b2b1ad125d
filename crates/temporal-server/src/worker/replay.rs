//! Rebuilding full session state from the store: latest checkpoint plus the log tail,
//! or the log from the start when the state is wanted at a position before the
//! latest checkpoint (rare: a generation planned before a checkpoint was taken).

use engine::core::replay::ReplayError;
use engine::core::state::SessionState;
use engine::store::{CheckpointStore, SessionLog, StoreError};
use engine::{Seq, SessionId};

/// Entries read per store round trip.
const READ_PAGE_ENTRIES: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum ReplayFailure {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The log and the engine disagree; retrying will not help.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error("the log ends at entry {head}, before entry {wanted}")]
    ShortLog { head: Seq, wanted: Seq },
}

/// State at the log head.
pub async fn rehydrate<S: SessionLog + CheckpointStore>(
    store: &S,
    session: &SessionId,
) -> Result<SessionState, ReplayFailure> {
    state_at(store, session, Seq::MAX).await
}

/// State with exactly the entries up to `through` applied (`Seq::MAX`: all of them).
pub async fn state_at<S: SessionLog + CheckpointStore>(
    store: &S,
    session: &SessionId,
    through: Seq,
) -> Result<SessionState, ReplayFailure> {
    let mut state = match store.latest_checkpoint(session).await? {
        Some(checkpoint) if checkpoint.seq <= through => {
            SessionState::from_checkpoint(&checkpoint)?
        }
        _ => SessionState::default(),
    };
    while state.head() < through {
        let page = store
            .read(session, state.head() + 1, READ_PAGE_ENTRIES)
            .await?;
        if page.is_empty() {
            break;
        }
        for entry in page.iter().take_while(|entry| entry.seq <= through) {
            state.apply(entry)?;
        }
    }
    if through != Seq::MAX && state.head() != through {
        return Err(ReplayFailure::ShortLog {
            head: state.head(),
            wanted: through,
        });
    }
    Ok(state)
}
