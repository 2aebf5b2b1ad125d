//! Control state for views, read from the store (not from the host's driver: reads
//! keep working while no worker runs, and never wait behind a generation). Each
//! session's control state is cached and advanced by the log tail on every read, so
//! a read costs the entries committed since the last one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use engine::core::control::ControlState;
use engine::rehydrate::{self, RehydrateError};
use engine::store::{BlobStore, CheckpointStore, SessionLog};
use engine::{Seq, SessionId};

/// Sessions whose control state is kept between reads by default; beyond it the
/// cache starts over (each entry is bounded by the engine's limits, not by the
/// transcript).
pub const CACHED_SESSIONS_MAX_DEFAULT: usize = 4_096;

type Key = (String, SessionId);

pub struct ControlCache {
    sessions_max: usize,
    sessions: Mutex<BTreeMap<Key, Arc<tokio::sync::Mutex<ControlState>>>>,
}

impl Default for ControlCache {
    fn default() -> Self {
        Self::new(CACHED_SESSIONS_MAX_DEFAULT)
    }
}

impl ControlCache {
    pub fn new(sessions_max: usize) -> Self {
        Self {
            sessions_max: sessions_max.max(1),
            sessions: Mutex::default(),
        }
    }

    /// The committed control state of `session` (default, uninitialized, when the
    /// session has no log).
    pub async fn read<S: SessionLog + CheckpointStore + BlobStore>(
        &self,
        store: &S,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<ControlState, RehydrateError> {
        let slot = {
            let mut sessions = self
                .sessions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if sessions.len() >= self.sessions_max {
                sessions.clear();
            }
            sessions
                .entry((universe_id.to_owned(), session.clone()))
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(ControlState::default())))
                .clone()
        };
        let mut control = slot.lock().await;
        let cached = std::mem::take(&mut *control);
        let fresh = match cached.head {
            0 => rehydrate::state_at(store, session, Seq::MAX).await?,
            _ => rehydrate::advance(store, session, cached, Seq::MAX).await?,
        };
        *control = fresh.clone();
        Ok(fresh)
    }
}
