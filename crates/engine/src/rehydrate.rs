//! Rebuilding session state from a store: the latest usable checkpoint plus the log
//! tail after it. Every host (the Temporal worker's activities, the API service's
//! control-state cache, the in-process runner) rehydrates through these functions,
//! so "checkpoint + tail" is written once.
//!
//! Runtime-free like the rest of the crate: the functions are `async` only because
//! the store traits are.

use std::future::Future;

use crate::blob_ref::BlobRef;
use crate::core::context::ContextItem;
use crate::core::control::ControlState;
use crate::core::replay::ReplayError;
use crate::core::state::{ContextState, SessionState};
use crate::drive::DriveState;
use crate::ids::SessionId;
use crate::log::Seq;
use crate::store::{BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError};

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

/// Items per CAS chunk of a format-2 checkpoint: ~50 KB of canonical JSON, under the
/// Postgres store's inline blob limit (64 KiB).
pub const CHECKPOINT_CHUNK_ITEMS: usize = 256;

/// A checkpoint as stored, either format: the control state, and the item list
/// inline (format 1) or as refs of chunks in the CAS (format 2). One parse of the
/// bytes tells which.
#[derive(serde::Deserialize)]
struct StoredCheckpoint {
    control: ControlState,
    #[serde(default)]
    context: Option<ContextState>,
    #[serde(default)]
    context_chunks: Option<Vec<BlobRef>>,
}

/// What [`write_checkpoint`] stores (format 2). Its size grows by one ref per
/// [`CHECKPOINT_CHUNK_ITEMS`] items, not with every item; chunks that did not change
/// since the last checkpoint are the same blobs, so they are not written again.
#[derive(serde::Serialize)]
struct ChunkedCheckpoint<'a> {
    format: u32,
    control: &'a ControlState,
    context_chunks: Vec<BlobRef>,
    context_items: u64,
}

/// A state that can start from a checkpoint: the full state, or its control part.
pub trait Rehydratable: DriveState + Default {
    fn from_checkpoint<B: BlobStore>(
        checkpoint: &Checkpoint,
        blobs: &B,
    ) -> impl Future<Output = Result<Self, RehydrateError>> + Send;
}

fn decode_checkpoint(checkpoint: &Checkpoint) -> Result<StoredCheckpoint, RehydrateError> {
    let stored: StoredCheckpoint =
        crate::canonical::from_slice(&checkpoint.state).map_err(ReplayError::from)?;
    if stored.control.head != checkpoint.seq {
        return Err(ReplayError::Inconsistent {
            seq: checkpoint.seq,
            kind: "checkpoint".into(),
            reason: format!("checkpoint state is at entry {}", stored.control.head),
        }
        .into());
    }
    Ok(stored)
}

impl Rehydratable for SessionState {
    async fn from_checkpoint<B: BlobStore>(
        checkpoint: &Checkpoint,
        blobs: &B,
    ) -> Result<Self, RehydrateError> {
        let stored = decode_checkpoint(checkpoint)?;
        let context = match (stored.context, stored.context_chunks) {
            (Some(context), None) => context,
            (None, Some(chunks)) => {
                let mut items = Vec::new();
                for chunk in &chunks {
                    let bytes = blobs.get(chunk).await?;
                    let part: Vec<ContextItem> =
                        crate::canonical::from_slice(&bytes).map_err(ReplayError::from)?;
                    items.extend(part);
                }
                ContextState::from_planned_items(items, checkpoint.seq)?
            }
            _ => {
                return Err(ReplayError::Inconsistent {
                    seq: checkpoint.seq,
                    kind: "checkpoint".into(),
                    reason: "a checkpoint holds its items either inline or in chunks".into(),
                }
                .into());
            }
        };
        Ok(SessionState {
            control: stored.control,
            context,
        })
    }
}

/// A checkpoint's control part alone: an inline item list beside it is skipped by
/// the parser, never built, and chunks are not fetched, so control-only rehydration
/// (`load_session`, the API's control cache) does not pay for the transcript.
impl Rehydratable for ControlState {
    async fn from_checkpoint<B: BlobStore>(
        checkpoint: &Checkpoint,
        _blobs: &B,
    ) -> Result<Self, RehydrateError> {
        #[derive(serde::Deserialize)]
        struct ControlOnly {
            control: ControlState,
        }
        let ControlOnly { control } =
            crate::canonical::from_slice(&checkpoint.state).map_err(ReplayError::from)?;
        if control.head != checkpoint.seq {
            return Err(ReplayError::Inconsistent {
                seq: checkpoint.seq,
                kind: "checkpoint".into(),
                reason: format!("checkpoint state is at entry {}", control.head),
            }
            .into());
        }
        Ok(control)
    }
}

/// Checkpoints older than this many entries behind a new one are deleted: an
/// activity wants state at most a few appends behind the head, and the newest
/// checkpoint at or before that entry is what it starts from.
pub const CHECKPOINT_RETENTION_ENTRIES: Seq = 1_024;

/// Stores `state` as a format-2 checkpoint: its item list in CAS chunks of
/// [`CHECKPOINT_CHUNK_ITEMS`] (only chunks the store lacks are written), the
/// checkpoint itself holding the control state and the chunk refs. Then deletes
/// checkpoints more than [`CHECKPOINT_RETENTION_ENTRIES`] behind it.
pub async fn write_checkpoint<S: BlobStore + CheckpointStore>(
    store: &S,
    session: &SessionId,
    state: &SessionState,
) -> Result<(), RehydrateError> {
    let (chunks, checkpoint) = checkpoint_parts(state);
    put_chunks(store, chunks).await?;
    let seq = checkpoint.seq;
    store.put_checkpoint(session, &checkpoint).await?;
    store
        .prune_checkpoints(session, seq.saturating_sub(CHECKPOINT_RETENTION_ENTRIES))
        .await?;
    Ok(())
}

/// The format-2 checkpoint of `state` and the canonical item-list chunks it names
/// (pure: what [`write_checkpoint`] stores, and a fork's base, `core::fork`).
pub fn checkpoint_parts(state: &SessionState) -> (Vec<Vec<u8>>, Checkpoint) {
    let chunks: Vec<Vec<u8>> = state
        .context
        .items()
        .chunks(CHECKPOINT_CHUNK_ITEMS)
        .map(crate::canonical::to_vec)
        .collect();
    let refs: Vec<BlobRef> = chunks
        .iter()
        .map(|bytes| BlobRef::of_bytes(bytes))
        .collect();
    let stored = ChunkedCheckpoint {
        format: 2,
        control: &state.control,
        context_chunks: refs,
        context_items: state.context.items().len() as u64,
    };
    let checkpoint = Checkpoint {
        seq: state.head(),
        state: crate::canonical::to_vec(&stored),
    };
    (chunks, checkpoint)
}

/// Stores the chunks the store does not hold yet (one `has_many`, then a put each).
pub async fn put_chunks<S: BlobStore>(store: &S, chunks: Vec<Vec<u8>>) -> Result<(), StoreError> {
    let refs: Vec<BlobRef> = chunks
        .iter()
        .map(|bytes| BlobRef::of_bytes(bytes))
        .collect();
    let held = store.has_many(&refs).await?;
    for (bytes, held) in chunks.into_iter().zip(held) {
        if !held {
            store.put(bytes).await?;
        }
    }
    Ok(())
}

/// Full state at the log head.
pub async fn rehydrate<S: SessionLog + CheckpointStore + BlobStore>(
    store: &S,
    session: &SessionId,
) -> Result<SessionState, RehydrateError> {
    state_at(store, session, Seq::MAX).await
}

/// State with exactly the entries up to `through` applied (`Seq::MAX`: all of
/// them), from the newest checkpoint not above `through` plus the entries after it.
pub async fn state_at<T: Rehydratable, S: SessionLog + CheckpointStore + BlobStore>(
    store: &S,
    session: &SessionId,
    through: Seq,
) -> Result<T, RehydrateError> {
    let state = match store.checkpoint_at_or_before(session, through).await? {
        Some(checkpoint) => T::from_checkpoint(&checkpoint, store).await?,
        None if through == 0 => T::default(),
        None => fork_base_or_default(store, session).await?,
    };
    advance(store, session, state, through).await
}

/// Where a log without a usable checkpoint starts: a fork at its base (the blob its
/// first entry names, `core::fork`), any other session at the empty state. Costs one
/// read of the first entry, only when no checkpoint serves.
async fn fork_base_or_default<T: Rehydratable, S: SessionLog + BlobStore>(
    store: &S,
    session: &SessionId,
) -> Result<T, RehydrateError> {
    let first = store.read(session, 1, 1).await?;
    let Some(entry) = first.first() else {
        return Ok(T::default());
    };
    let Some(forked) = crate::core::fork::forked_entry(entry)? else {
        return Ok(T::default());
    };
    let base = Checkpoint {
        seq: 1,
        state: store.get(&forked.base_ref).await?,
    };
    let state = T::from_checkpoint(&base, store).await?;
    if state.control().session_id.as_ref() != Some(&forked.session_id) {
        return Err(ReplayError::Inconsistent {
            seq: 1,
            kind: entry.event.kind.clone(),
            reason: "the fork's base belongs to another session".into(),
        }
        .into());
    }
    Ok(state)
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
