//! Control state for views, read from the store (not from the workflow: reads keep
//! working while no worker runs, and never wait behind a generation). Each session's
//! control state is cached and advanced by the log tail on every read, so a read
//! costs the entries committed since the last one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use engine::SessionId;
use engine::core::control::ControlState;
use engine::core::state::SessionState;
use engine::store::{CheckpointStore, SessionLog};

use crate::worker::replay::ReplayFailure;

/// Sessions whose control state is kept between reads; beyond it the cache starts
/// over (each entry is bounded by the engine's limits, not by the transcript).
const CACHED_SESSIONS_MAX: usize = 4_096;
/// Entries read per store round trip.
const READ_PAGE_ENTRIES: usize = 1_000;

type Key = (String, SessionId);

#[derive(Default)]
pub(crate) struct ControlCache {
    sessions: Mutex<BTreeMap<Key, Arc<tokio::sync::Mutex<ControlState>>>>,
}

impl ControlCache {
    /// The committed control state of `session` (default/uninitialized when the
    /// session has no log).
    pub(crate) async fn read<S: SessionLog + CheckpointStore>(
        &self,
        store: &S,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<ControlState, ReplayFailure> {
        let slot = {
            let mut sessions = self
                .sessions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if sessions.len() >= CACHED_SESSIONS_MAX {
                sessions.clear();
            }
            sessions
                .entry((universe_id.to_owned(), session.clone()))
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(ControlState::default())))
                .clone()
        };
        let mut control = slot.lock().await;
        if control.head == 0
            && let Some(checkpoint) = store.latest_checkpoint(session).await?
        {
            *control = SessionState::from_checkpoint(&checkpoint)?.control;
        }
        loop {
            let page = store
                .read(session, control.head + 1, READ_PAGE_ENTRIES)
                .await?;
            if page.is_empty() {
                break;
            }
            for entry in &page {
                control.apply(entry)?;
            }
        }
        Ok(control.clone())
    }
}
