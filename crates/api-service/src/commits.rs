//! Noticing commits made in another process by polling the store's head: one poller
//! per session however many clients wait on it, stopped when the last one leaves.
//! Hosts whose commits happen in-process announce them directly instead.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::store::SessionLog;
use engine::{Seq, SessionId};
use tokio::sync::watch;

/// Default time between two reads of a watched session's head.
pub const POLL_INTERVAL_DEFAULT: Duration = Duration::from_millis(100);

type Key = (String, SessionId);

/// Per-session head pollers, shared by every waiter of a session.
pub struct PolledCommits {
    interval: Duration,
    sessions: Arc<Mutex<BTreeMap<Key, watch::Sender<Seq>>>>,
}

impl Default for PolledCommits {
    fn default() -> Self {
        Self::new(POLL_INTERVAL_DEFAULT)
    }
}

impl PolledCommits {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            sessions: Arc::default(),
        }
    }

    /// A receiver whose value is the newest head seen for `session` in `store`.
    pub fn watch<S: SessionLog + 'static>(
        &self,
        store: Arc<S>,
        universe_id: &str,
        session: &SessionId,
    ) -> watch::Receiver<Seq> {
        let key = (universe_id.to_owned(), session.clone());
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = sessions.get(&key) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(0);
        sessions.insert(key.clone(), sender.clone());
        drop(sessions);
        tokio::spawn(poll(
            self.sessions.clone(),
            key,
            sender,
            store,
            self.interval,
        ));
        receiver
    }

    /// Sessions being polled now (for tests and metrics).
    pub fn polled_sessions(&self) -> usize {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

async fn poll<S: SessionLog>(
    sessions: Arc<Mutex<BTreeMap<Key, watch::Sender<Seq>>>>,
    key: Key,
    sender: watch::Sender<Seq>,
    store: Arc<S>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        {
            // Checked under the map's lock, where new waiters subscribe, so no
            // waiter can join a poller that is about to stop.
            let mut sessions = sessions
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if sender.receiver_count() == 0 {
                sessions.remove(&key);
                return;
            }
        }
        match store.head(&key.1).await {
            Ok(head) => {
                sender.send_if_modified(|seen| {
                    let newer = head > *seen;
                    if newer {
                        *seen = head;
                    }
                    newer
                });
            }
            // A failed read is retried at the next tick; waiters keep their deadlines.
            Err(err) => tracing::debug!(session = %key.1, error = %err, "polling the head failed"),
        }
    }
}
