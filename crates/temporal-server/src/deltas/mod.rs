//! The streaming side channel: LLM activities publish text deltas here
//! and the gateway relays them to subscribers. Deltas never enter workflow history or
//! the log; a subscriber that is slow or absent misses some, nothing else changes.
//!
//! Two shapes:
//! - in process ([`DeltaHub::default`]): a worker and a gateway sharing a process with
//!   no Postgres (`server dev`, tests) hand deltas over directly;
//! - relayed ([`DeltaHub::relayed`] + [`postgres`]): with Postgres configured, every
//!   publisher sends deltas through `NOTIFY` and every gateway delivers what it hears
//!   on `LISTEN`, so a gateway sees the deltas of workers in any process, its own
//!   included, exactly once.

pub mod postgres;

use std::collections::BTreeMap;
use std::sync::Mutex;

use llm_runtime::{Delta, DeltaSink};
use tokio::sync::{broadcast, mpsc};

/// Deltas buffered per session for slow subscribers before they start missing some.
const DELTAS_BUFFERED_MAX: usize = 1_024;

/// Whose delta it is: (universe, session).
pub type SessionKey = (String, String);

/// A delta on its way to another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelayedDelta {
    pub universe_id: String,
    pub session_id: String,
    pub delta: Delta,
}

#[derive(Default)]
pub struct DeltaHub {
    channels: Mutex<BTreeMap<SessionKey, broadcast::Sender<Delta>>>,
    /// Where published deltas go when they are relayed instead of handed over here.
    relay: Option<mpsc::Sender<RelayedDelta>>,
}

impl DeltaHub {
    /// A hub whose publishers hand deltas to the returned receiver (for a relay such
    /// as [`postgres::spawn_publisher`]) instead of to local subscribers; local
    /// subscribers get what [`Self::deliver`] brings back. `capacity` deltas may wait
    /// for the relay before new ones are dropped.
    pub fn relayed(capacity: usize) -> (Self, mpsc::Receiver<RelayedDelta>) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let hub = Self {
            channels: Mutex::default(),
            relay: Some(sender),
        };
        (hub, receiver)
    }

    /// Receives the deltas of one session from now on.
    pub fn subscribe(&self, universe_id: &str, session_id: &str) -> broadcast::Receiver<Delta> {
        let mut channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Forget channels nobody listens to any more (bounds the map).
        channels.retain(|_, sender| sender.receiver_count() > 0);
        channels
            .entry((universe_id.to_owned(), session_id.to_owned()))
            .or_insert_with(|| broadcast::channel(DELTAS_BUFFERED_MAX).0)
            .subscribe()
    }

    /// A sink publishing to one session's subscribers.
    pub fn sink(&self, universe_id: &str, session_id: &str) -> SessionDeltas<'_> {
        SessionDeltas {
            hub: self,
            key: (universe_id.to_owned(), session_id.to_owned()),
        }
    }

    /// Hands `delta` to this process's subscribers of its session.
    pub fn deliver(&self, universe_id: &str, session_id: &str, delta: Delta) {
        let channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // A lookup by borrowed parts would need a custom key type; sessions with
        // subscribers are few, so the allocation is not worth avoiding.
        if let Some(sender) = channels.get(&(universe_id.to_owned(), session_id.to_owned())) {
            // No receiver is fine: deltas are best effort.
            let _ = sender.send(delta);
        }
    }

    fn publish(&self, key: &SessionKey, delta: Delta) {
        match &self.relay {
            // Full or closed relay: drop, never block the generation.
            Some(relay) => {
                let relayed = RelayedDelta {
                    universe_id: key.0.clone(),
                    session_id: key.1.clone(),
                    delta,
                };
                if relay.try_send(relayed).is_err() {
                    telemetry::metrics().delta_dropped();
                }
            }
            None => self.deliver(&key.0, &key.1, delta),
        }
    }
}

pub struct SessionDeltas<'a> {
    hub: &'a DeltaHub,
    key: SessionKey,
}

impl DeltaSink for SessionDeltas<'_> {
    fn delta(&self, delta: Delta) {
        self.hub.publish(&self.key, delta);
    }
}
