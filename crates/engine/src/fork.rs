//! Forking a session in a store: finding the fork point, then writing the fork
//! (`core::fork` plans it, purely). Every host forks through [`fork_session`], so the
//! order of the writes is decided once:
//!
//! 1. the item-list chunks the store lacks, then the base checkpoint blob (CAS; the
//!    transcript's own blobs are only named, never read or written);
//! 2. the fork's first entry, appended at head 0: the commit point (a fork id that
//!    already has a log is refused here, before anything names the fork);
//! 3. the base as the fork's checkpoint at entry 1 (only an optimisation: without it,
//!    rehydration loads the base through the first entry).
//!
//! Runtime-free like `rehydrate`: `async` only because the store traits are.

use crate::core::control::ControlState;
use crate::core::event::{CoreEvent, RunStarted};
use crate::core::fork::{ForkError, ForkPlan, plan_fork};
use crate::core::replay::ReplayError;
use crate::core::state::SessionState;
use crate::ids::SessionId;
use crate::log::Seq;
use crate::rehydrate::{READ_PAGE_ENTRIES, RehydrateError, put_chunks, state_at};
use crate::store::{AppendOutcome, BlobStore, CheckpointStore, SessionLog, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ForkFailure {
    #[error(transparent)]
    Rehydrate(#[from] RehydrateError),
    /// The cursor names an entry the source does not have.
    #[error("cursor {cursor} is beyond the session's last entry {head}")]
    CursorBeyondHead { cursor: Seq, head: Seq },
    #[error(transparent)]
    Fork(#[from] ForkError),
    /// The fork's id already names a session with a log.
    #[error("session {0} exists already")]
    ForkExists(SessionId),
}

impl From<StoreError> for ForkFailure {
    fn from(err: StoreError) -> Self {
        Self::Rehydrate(err.into())
    }
}

impl From<ReplayError> for ForkFailure {
    fn from(err: ReplayError) -> Self {
        Self::Rehydrate(err.into())
    }
}

/// A fork written to the store.
#[derive(Debug, Clone)]
pub struct Forked {
    /// The source entry asked for (the head when none was).
    pub cursor: Seq,
    /// The entry the fork starts from: `cursor`, or the last entry before it at
    /// which no run was active ([`safe_point`]).
    pub safe_point: Seq,
    pub plan: ForkPlan,
}

/// The newest entry at or before `cursor` at which the session has no active run:
/// `cursor` itself when no run is active there, otherwise the entry just before
/// that run's `run.started` (where the run was at most queued, and queued runs are
/// not carried into a fork). Reads the control state at `cursor`, then the log
/// backwards over the active run's entries only (bounded by the run's limits).
pub async fn safe_point<S: SessionLog + CheckpointStore + BlobStore>(
    store: &S,
    session: &SessionId,
    cursor: Seq,
) -> Result<Seq, ForkFailure> {
    let control: ControlState = state_at(store, session, cursor).await?;
    let Some(run) = control.runs.active else {
        return Ok(cursor);
    };
    let mut high = cursor;
    while high > 0 {
        let low = high.saturating_sub(READ_PAGE_ENTRIES as Seq - 1).max(1);
        let page = store
            .read(
                session,
                low,
                usize::try_from(high - low + 1).unwrap_or(usize::MAX),
            )
            .await?;
        for entry in page.iter().rev().filter(|entry| entry.seq <= high) {
            if entry.event.kind != RunStarted::KIND {
                continue;
            }
            if let CoreEvent::RunStarted(started) = crate::core::replay::decode(entry)?
                && started.run_id == run.run_id
            {
                return Ok(entry.seq - 1);
            }
        }
        high = low - 1;
    }
    Err(ReplayError::Inconsistent {
        seq: cursor,
        kind: RunStarted::KIND.into(),
        reason: format!("run {} is active but never started", run.run_id),
    }
    .into())
}

/// Forks `source` at `cursor` (`None`: its head) into the new session `fork_id`,
/// observed at `observed_at_ms`: the fork starts from the source's state at the
/// cursor's [`safe_point`].
pub async fn fork_session<S: SessionLog + CheckpointStore + BlobStore>(
    store: &S,
    source: &SessionId,
    cursor: Option<Seq>,
    fork_id: &SessionId,
    observed_at_ms: u64,
    parent: Option<crate::core::lineage::ParentLink>,
) -> Result<Forked, ForkFailure> {
    let head = store.head(source).await?;
    let cursor = cursor.unwrap_or(head);
    if cursor > head {
        return Err(ForkFailure::CursorBeyondHead { cursor, head });
    }
    let safe_point = safe_point(store, source, cursor).await?;
    let state: SessionState = state_at(store, source, safe_point).await?;
    let plan = plan_fork(&state, fork_id.clone(), observed_at_ms, parent)?;
    put_chunks(store, plan.chunks.clone()).await?;
    // Content-addressed: the ref is the entry's `base_ref`, whoever wrote it first.
    store.put(plan.checkpoint.state.clone()).await?;
    match store
        .append(fork_id, 0, std::slice::from_ref(&plan.entry))
        .await
    {
        Ok(AppendOutcome::Appended { .. } | AppendOutcome::AlreadyCommitted { .. }) => {}
        Err(StoreError::HeadConflict { .. }) => {
            return Err(ForkFailure::ForkExists(fork_id.clone()));
        }
        Err(err) => return Err(err.into()),
    }
    store.put_checkpoint(fork_id, &plan.checkpoint).await?;
    Ok(Forked {
        cursor,
        safe_point,
        plan,
    })
}
