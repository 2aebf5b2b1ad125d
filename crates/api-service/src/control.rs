//! Control state for views, read from the store (not from the host's driver: reads
//! keep working while no worker runs, and never wait behind a generation). Each
//! session's control state is cached and advanced by the log tail on every read, so
//! a read costs the entries committed since the last one.
//!
//! The cache is least-recently-used at two levels, so one tenant cannot push out
//! another's sessions: each universe has its own share of
//! `sessions_per_universe_max` sessions, and reading more of its sessions evicts
//! only its own least recently read; universes themselves are kept for the
//! `universes_max` most recently read, so only when more universes than that are
//! active does the least recently read one lose its share. Memory is bounded by
//! `universes_max × sessions_per_universe_max` states (each bounded by the engine's
//! limits, not by the transcript).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex, MutexGuard};

use engine::core::control::ControlState;
use engine::rehydrate::{self, RehydrateError};
use engine::store::{BlobStore, CheckpointStore, SessionLog};
use engine::{Seq, SessionId};
use lru::LruCache;

/// Sessions of one universe whose control state is kept between reads by default.
pub const CACHED_SESSIONS_PER_UNIVERSE_MAX_DEFAULT: usize = 1_024;
/// Universes whose sessions are kept by default (the most recently read).
pub const CACHED_UNIVERSES_MAX_DEFAULT: usize = 8;

type Slot = Arc<tokio::sync::Mutex<ControlState>>;
type Universes = LruCache<String, LruCache<SessionId, Slot>>;

pub struct ControlCache {
    sessions_per_universe_max: NonZeroUsize,
    universes: Mutex<Universes>,
}

impl Default for ControlCache {
    fn default() -> Self {
        Self::new(
            CACHED_UNIVERSES_MAX_DEFAULT,
            CACHED_SESSIONS_PER_UNIVERSE_MAX_DEFAULT,
        )
    }
}

impl ControlCache {
    /// A cache keeping up to `sessions_per_universe_max` sessions of each of the
    /// `universes_max` most recently read universes (each at least 1).
    pub fn new(universes_max: usize, sessions_per_universe_max: usize) -> Self {
        Self {
            sessions_per_universe_max: NonZeroUsize::new(sessions_per_universe_max)
                .unwrap_or(NonZeroUsize::MIN),
            universes: Mutex::new(LruCache::new(
                NonZeroUsize::new(universes_max).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Universes> {
        // Every entry can be rebuilt from the store; a panic elsewhere leaves the
        // map itself intact.
        self.universes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `session`'s control state is cached now (without counting as a
    /// read).
    pub fn is_cached(&self, universe_id: &str, session: &SessionId) -> bool {
        self.lock()
            .peek(universe_id)
            .is_some_and(|sessions| sessions.contains(session))
    }

    fn slot(&self, universe_id: &str, session: &SessionId) -> Slot {
        let mut universes = self.lock();
        let per_universe = self.sessions_per_universe_max;
        let sessions =
            universes.get_or_insert_mut(universe_id.to_owned(), || LruCache::new(per_universe));
        sessions
            .get_or_insert(session.clone(), Slot::default)
            .clone()
    }

    /// Drops `session`'s cached state (it was deleted).
    pub fn forget(&self, universe_id: &str, session: &SessionId) {
        if let Some(sessions) = self.lock().peek_mut(universe_id) {
            sessions.pop(session);
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
        // An evicted slot still serves the reads holding it; the next read of the
        // session starts a fresh one from the store.
        let slot = self.slot(universe_id, session);
        let mut control = slot.lock().await;
        let cached = std::mem::take(&mut *control);
        // A log shorter than what was cached was deleted (by another gateway, whose
        // `forget` does not reach this cache) and perhaps started over: read it anew.
        let shrunk = cached.head > 0 && store.head(session).await? < cached.head;
        let fresh = match cached.head {
            _ if shrunk => rehydrate::state_at(store, session, Seq::MAX).await?,
            0 => rehydrate::state_at(store, session, Seq::MAX).await?,
            _ => rehydrate::advance(store, session, cached, Seq::MAX).await?,
        };
        *control = fresh.clone();
        Ok(fresh)
    }
}

#[cfg(test)]
mod tests {
    use engine::memory::MemoryStore;

    use super::*;

    fn sid(raw: String) -> SessionId {
        SessionId::new(raw).unwrap_or_else(|err| panic!("{err}"))
    }

    #[tokio::test]
    async fn a_busy_tenant_evicts_only_its_own_sessions() {
        let cache = ControlCache::new(2, 4);
        let store = MemoryStore::default();
        let read = |universe: &'static str, session: SessionId| {
            let (cache, store) = (&cache, &store);
            async move {
                cache
                    .read(store, universe, &session)
                    .await
                    .unwrap_or_else(|err| panic!("{err}"));
            }
        };
        let quiet = sid("quiet".into());
        read("b", quiet.clone()).await;
        // Universe a reads three times its share.
        for n in 0..12 {
            read("a", sid(format!("busy-{n}"))).await;
        }
        assert!(
            cache.is_cached("b", &quiet),
            "b's session survived a's reads"
        );
        let cached_of_a = (0..12)
            .filter(|n| cache.is_cached("a", &sid(format!("busy-{n}"))))
            .collect::<Vec<_>>();
        assert_eq!(
            cached_of_a,
            vec![8, 9, 10, 11],
            "a kept its most recent four"
        );

        // Reading one again keeps it over the ones read before it.
        read("a", sid("busy-8".into())).await;
        read("a", sid("busy-12".into())).await;
        assert!(cache.is_cached("a", &sid("busy-8".into())));
        assert!(!cache.is_cached("a", &sid("busy-9".into())));

        // A third universe displaces the least recently read one, here b.
        read("c", sid("other".into())).await;
        assert!(!cache.is_cached("b", &quiet));
        assert!(cache.is_cached("a", &sid("busy-12".into())));
    }
}
