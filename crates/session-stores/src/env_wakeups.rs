//! Wake-ups for the gateways holding environment daemons: a counter per (universe,
//! environment) bumped whenever a job for that environment is announced, so the
//! daemon's hub claims at once instead of waiting for its next poll.
//!
//! Postgres announces each new job on `lightspeed_env_jobs` from the submitting
//! transaction; one listener per process (`follow_env_jobs`, started by the first
//! watcher) fans notices out here. After its connection was replaced it wakes every
//! watched environment, since jobs submitted meanwhile were not announced. Hubs
//! still poll, rarely, as a backstop: a wake-up is an optimisation, never the only
//! way a job is found.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use store_pg::{EnvJobEvent, PgDatabase};
use tokio::sync::watch;

/// Pause before listening again after a failure.
const RETRY_PAUSE: Duration = Duration::from_secs(1);

type Key = (String, String);

/// One wake-up counter per watched environment.
#[derive(Debug, Default)]
pub struct EnvJobWakeups {
    channels: Mutex<BTreeMap<Key, watch::Sender<u64>>>,
}

impl EnvJobWakeups {
    fn channels(&self) -> std::sync::MutexGuard<'_, BTreeMap<Key, watch::Sender<u64>>> {
        // Every change is one insert, remove or counter bump: whole after a panic.
        self.channels
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A receiver that changes whenever a job for the environment is announced.
    pub fn watch(&self, universe_id: &str, environment_id: &str) -> watch::Receiver<u64> {
        let mut channels = self.channels();
        // Channels nobody watches any more go, so the map holds connected daemons.
        channels.retain(|_, sender| sender.receiver_count() > 0);
        channels
            .entry((universe_id.to_owned(), environment_id.to_owned()))
            .or_insert_with(|| watch::channel(0).0)
            .subscribe()
    }

    /// A job for the environment was announced.
    pub fn wake(&self, universe_id: &str, environment_id: &str) {
        let key = (universe_id.to_owned(), environment_id.to_owned());
        if let Some(sender) = self.channels().get(&key) {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }

    /// Announcements may have been missed: every watched environment looks again.
    pub fn wake_all(&self) {
        for sender in self.channels().values() {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }
}

/// Listens for job notices until the pool is closed, feeding `wakeups`.
pub(crate) async fn follow_env_jobs(db: PgDatabase, wakeups: Arc<EnvJobWakeups>) {
    loop {
        match db.listen_env_jobs().await {
            Ok(mut listener) => {
                // Listening from here: anything submitted before is claimed now.
                wakeups.wake_all();
                loop {
                    match listener.next().await {
                        Ok(EnvJobEvent::Submitted(notice)) => {
                            wakeups.wake(&notice.universe_id.to_string(), &notice.environment_id)
                        }
                        Ok(EnvJobEvent::Resumed) => wakeups.wake_all(),
                        Err(err) => {
                            tracing::warn!(error = %err, "the environment job listener failed; listening again");
                            break;
                        }
                    }
                }
            }
            Err(err) => tracing::warn!(error = %err, "listening for environment jobs failed"),
        }
        if db.pool().is_closed() {
            return;
        }
        tokio::time::sleep(RETRY_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_reach_only_their_environment_and_all_after_a_gap() {
        let wakeups = EnvJobWakeups::default();
        let mut a = wakeups.watch("u", "a");
        let b = wakeups.watch("u", "b");
        wakeups.wake("u", "a");
        assert!(a.has_changed().unwrap_or(false));
        assert!(!b.has_changed().unwrap_or(true));
        a.mark_unchanged();
        wakeups.wake("other", "b");
        assert!(!b.has_changed().unwrap_or(true));
        wakeups.wake_all();
        assert!(a.has_changed().unwrap_or(false) && b.has_changed().unwrap_or(false));
        drop(a);
        let _c = wakeups.watch("u", "c");
        assert_eq!(
            wakeups.channels().len(),
            2,
            "a's channel went with its watcher"
        );
    }
}
