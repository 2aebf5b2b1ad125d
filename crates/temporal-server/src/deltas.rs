//! The streaming side channel (DESIGN §5): LLM activities publish text deltas here
//! and the gateway relays them to subscribers. Deltas never enter workflow history or
//! the log; a subscriber that is slow or absent misses some, nothing else changes.
//!
//! In-process only: it reaches subscribers when the worker and the gateway share a
//! process (`server`, `server dev`). Separate worker and gateway processes need a
//! shared bus (e.g. Postgres `NOTIFY`), which this does not provide yet.

use std::collections::BTreeMap;
use std::sync::Mutex;

use llm_runtime::{Delta, DeltaSink};
use tokio::sync::broadcast;

/// Deltas buffered per session for slow subscribers before they start missing some.
const DELTAS_BUFFERED_MAX: usize = 1_024;

type SessionKey = (String, String);

#[derive(Default)]
pub struct DeltaHub {
    channels: Mutex<BTreeMap<SessionKey, broadcast::Sender<Delta>>>,
}

impl DeltaHub {
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

    fn publish(&self, key: &SessionKey, delta: Delta) {
        let channels = self
            .channels
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(sender) = channels.get(key) {
            // No receiver is fine: deltas are best effort.
            let _ = sender.send(delta);
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
