//! Round-robin key selection with per-key cooldowns.
//!
//! A key that hit a rate limit is avoided until its cooldown deadline. Selection walks
//! the keys round-robin from the last pick, skipping cooling keys; if every key is
//! cooling it takes the one whose cooldown ends first (the caller's own retry policy
//! decides whether to wait). A successful response clears the key's cooldown.
//! Wall-clock `Instant`s are fine here: this crate is not deterministic code.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The longest a key is ever benched, whatever `retry-after` said.
pub(crate) const KEY_COOLDOWN_MAX: Duration = Duration::from_secs(24 * 60 * 60);

/// Cooldown state of a provider's keys, addressed by index into `ProviderConfig::api_keys`.
#[derive(Debug)]
pub(crate) struct KeyPool {
    state: Mutex<PoolState>,
}

#[derive(Debug)]
struct PoolState {
    /// Index where the next round-robin walk starts.
    next: usize,
    /// Per key: avoid it until this instant.
    cooldown_until: Vec<Option<Instant>>,
}

impl KeyPool {
    pub(crate) fn new(key_count: usize) -> Self {
        KeyPool {
            state: Mutex::new(PoolState {
                next: 0,
                cooldown_until: vec![None; key_count],
            }),
        }
    }

    pub(crate) fn key_count(&self) -> usize {
        self.lock().cooldown_until.len()
    }

    /// The key to use for the next request, or `None` when there are no keys.
    pub(crate) fn pick(&self, now: Instant) -> Option<usize> {
        let mut state = self.lock();
        let count = state.cooldown_until.len();
        if count == 0 {
            return None;
        }
        let is_ready = |index: usize| state.cooldown_until[index].is_none_or(|until| until <= now);
        let ready = (0..count)
            .map(|offset| (state.next + offset) % count)
            .find(|&index| is_ready(index));
        let picked = ready.or_else(|| {
            (0..count).min_by_key(|&index| state.cooldown_until[index].unwrap_or(now))
        })?;
        state.next = (picked + 1) % count;
        Some(picked)
    }

    /// Avoid key `index` for `cooldown` from `now` (capped at [`KEY_COOLDOWN_MAX`]). An
    /// existing later deadline is kept.
    pub(crate) fn cool_down(&self, index: usize, now: Instant, cooldown: Duration) {
        let Some(until) = now.checked_add(cooldown.min(KEY_COOLDOWN_MAX)) else {
            return;
        };
        let mut state = self.lock();
        if let Some(slot) = state.cooldown_until.get_mut(index) {
            *slot = Some(slot.map_or(until, |existing| existing.max(until)));
        }
    }

    /// Key `index` just worked: forget its cooldown.
    pub(crate) fn clear(&self, index: usize) {
        if let Some(slot) = self.lock().cooldown_until.get_mut(index) {
            *slot = None;
        }
    }

    /// The state is a few integers that every update leaves consistent, so a panic
    /// elsewhere while holding the lock cannot corrupt it: recover from poisoning.
    fn lock(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn no_keys_picks_none() {
        assert_eq!(KeyPool::new(0).pick(Instant::now()), None);
    }

    #[test]
    fn round_robin_skips_cooling_keys() {
        let pool = KeyPool::new(3);
        let now = Instant::now();
        let picks: Vec<_> = (0..4).map(|_| pool.pick(now).unwrap()).collect();
        assert_eq!(picks, [0, 1, 2, 0]);
        pool.cool_down(1, now, Duration::from_secs(10));
        let picks: Vec<_> = (0..4).map(|_| pool.pick(now).unwrap()).collect();
        assert_eq!(picks, [2, 0, 2, 0]);
        // After the deadline the key is back in the rotation.
        let later = now + Duration::from_secs(11);
        let picks: Vec<_> = (0..3).map(|_| pool.pick(later).unwrap()).collect();
        assert_eq!(picks, [1, 2, 0]);
    }

    #[test]
    fn all_cooling_picks_earliest_deadline() {
        let pool = KeyPool::new(3);
        let now = Instant::now();
        pool.cool_down(0, now, Duration::from_secs(30));
        pool.cool_down(1, now, Duration::from_secs(5));
        pool.cool_down(2, now, Duration::from_secs(20));
        assert_eq!(pool.pick(now), Some(1));
        assert_eq!(pool.pick(now), Some(1));
        pool.clear(1);
        pool.cool_down(1, now, Duration::from_secs(60));
        assert_eq!(pool.pick(now), Some(2));
    }

    #[test]
    fn cooldown_keeps_later_deadline_and_is_capped() {
        let pool = KeyPool::new(2);
        let now = Instant::now();
        pool.cool_down(0, now, Duration::from_secs(100));
        pool.cool_down(0, now, Duration::from_secs(1));
        pool.cool_down(1, now, Duration::MAX);
        let state = pool.lock();
        assert_eq!(
            state.cooldown_until[0],
            Some(now + Duration::from_secs(100))
        );
        assert_eq!(state.cooldown_until[1], Some(now + KEY_COOLDOWN_MAX));
    }
}
