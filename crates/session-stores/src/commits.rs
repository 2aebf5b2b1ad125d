//! Commits pushed to the readers waiting for them: one watch channel per watched
//! session in this process, however many readers wait on it, fed by whatever hears
//! the session's commits (an in-process store's commit hook, the Postgres commit
//! listener). An idle reader costs no store query: it waits on its channel until a
//! commit, or a resynchronisation after a lost listener, moves the head.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use engine::{Seq, SessionId};
use tokio::sync::watch;

type Sessions = HashMap<SessionId, watch::Sender<Seq>>;

/// The per-session commit channels of one process, keyed by universe then session.
#[derive(Debug, Default)]
pub struct CommitHub {
    universes: Mutex<BTreeMap<String, Sessions>>,
}

impl CommitHub {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Sessions>> {
        // Every value is a channel sender; a panic elsewhere leaves them usable.
        self.universes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A receiver whose value is the newest head heard for `session` since the
    /// session was first watched (0 before any). It changes only when the head
    /// moves, so a reader subscribes first, then reads the head from the store, and
    /// waits for a change only if it needs more.
    pub fn watch(self: &Arc<Self>, universe_id: &str, session: &SessionId) -> watch::Receiver<Seq> {
        let mut universes = self.lock();
        let sessions = universes.entry(universe_id.to_owned()).or_default();
        if let Some(sender) = sessions.get(session) {
            return sender.subscribe();
        }
        let (sender, receiver) = watch::channel(0);
        sessions.insert(session.clone(), sender.clone());
        drop(universes);
        // The channel is forgotten once its last reader leaves, so the hub holds
        // only watched sessions (and a resynchronisation reads only their heads).
        // Outside a runtime nothing can wait on it anyway; `publish` then forgets it.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(forget_when_unwatched(
                Arc::downgrade(self),
                universe_id.to_owned(),
                session.clone(),
                sender,
            ));
        }
        receiver
    }

    /// `session`'s head is now `head` (or newer): wakes its readers if that is news.
    /// Heads heard out of order (two processes' notifications, a resynchronisation
    /// racing a commit) never move a channel back.
    pub fn publish(&self, universe_id: &str, session: &SessionId, head: Seq) {
        let mut universes = self.lock();
        let Some(sessions) = universes.get_mut(universe_id) else {
            return;
        };
        let Some(sender) = sessions.get(session) else {
            return;
        };
        if sender.receiver_count() == 0 {
            remove(&mut universes, universe_id, session);
            return;
        }
        sender.send_if_modified(|seen| {
            let newer = head > *seen;
            if newer {
                *seen = head;
            }
            newer
        });
    }

    /// Every watched session, by universe: what a listener that may have missed
    /// commits re-reads.
    pub fn watched(&self) -> Vec<(String, SessionId)> {
        self.lock()
            .iter()
            .flat_map(|(universe, sessions)| {
                sessions
                    .keys()
                    .map(move |session| (universe.clone(), session.clone()))
            })
            .collect()
    }

    /// How many sessions are watched now (for tests and metrics).
    pub fn watched_sessions(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }
}

fn remove(universes: &mut BTreeMap<String, Sessions>, universe_id: &str, session: &SessionId) {
    if let Some(sessions) = universes.get_mut(universe_id) {
        sessions.remove(session);
        if sessions.is_empty() {
            universes.remove(universe_id);
        }
    }
}

async fn forget_when_unwatched(
    hub: Weak<CommitHub>,
    universe_id: String,
    session: SessionId,
    sender: watch::Sender<Seq>,
) {
    loop {
        sender.closed().await;
        let Some(hub) = hub.upgrade() else { return };
        let mut universes = hub.lock();
        // Checked under the lock new readers subscribe under: one may have come
        // since the last left, and then the channel stays.
        if sender.receiver_count() == 0 {
            let current = universes
                .get(&universe_id)
                .and_then(|sessions| sessions.get(&session));
            // Only this channel: a later one for the session has its own task.
            if current.is_some_and(|current| current.same_channel(&sender)) {
                remove(&mut universes, &universe_id, &session);
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn sid(raw: &str) -> SessionId {
        SessionId::new(raw).unwrap_or_else(|err| panic!("{err}"))
    }

    #[tokio::test]
    async fn readers_of_a_session_share_one_channel_that_only_moves_forward() {
        let hub = Arc::new(CommitHub::default());
        let (s1, s2) = (sid("s1"), sid("s2"));
        let mut first = hub.watch("u1", &s1);
        let mut second = hub.watch("u1", &s1);
        let mut other_universe = hub.watch("u2", &s1);
        let _other_session = hub.watch("u1", &s2);
        assert_eq!(hub.watched_sessions(), 3);

        hub.publish("u1", &s1, 4);
        assert!(first.has_changed().unwrap_or(false));
        assert!(second.has_changed().unwrap_or(false));
        assert!(!other_universe.has_changed().unwrap_or(true));
        assert_eq!(*first.borrow_and_update(), 4);
        second.mark_unchanged();

        // An older head (a late notification) is no news.
        hub.publish("u1", &s1, 3);
        assert!(!first.has_changed().unwrap_or(true));
        hub.publish("u1", &s1, 5);
        assert_eq!(*first.borrow_and_update(), 5);
        other_universe.mark_unchanged();
        assert!(!other_universe.has_changed().unwrap_or(true));
    }

    #[tokio::test]
    async fn a_session_is_forgotten_when_its_last_reader_leaves() {
        let hub = Arc::new(CommitHub::default());
        let s1 = sid("s1");
        let first = hub.watch("u1", &s1);
        let second = hub.watch("u1", &s1);
        drop(first);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(hub.watched_sessions(), 1, "one reader is left");
        drop(second);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while hub.watched_sessions() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(hub.watched_sessions(), 0);
        assert!(hub.watched().is_empty());
        // Watching again makes a fresh channel that still hears commits.
        let mut again = hub.watch("u1", &s1);
        hub.publish("u1", &s1, 1);
        assert_eq!(*again.borrow_and_update(), 1);
    }
}
