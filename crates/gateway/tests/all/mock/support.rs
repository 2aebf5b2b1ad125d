//! The mock's state, the markers tests steer it with, and its small helpers.

use api::types::blob::*;
use api::types::events::*;
use api::{ApiError, Caller};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// What the mock saw; tests assert on it.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Backend calls of any kind.
    pub(crate) calls: AtomicU64,
    /// The universe of the last call.
    pub(crate) last_universe: Mutex<Option<String>>,
    /// Set when a subscription's stream is dropped by the gateway.
    pub(crate) stream_dropped: AtomicBool,
}

#[derive(Debug, Default)]
pub(crate) struct MockApi {
    pub(crate) seen: Arc<Seen>,
    blobs: Mutex<HashMap<(String, String), Vec<u8>>>,
}

/// Session ids with special behaviour.
pub(crate) const MISSING: &str = "missing";
pub(crate) const CONFLICT: &str = "conflict";
/// `session/read` with this id fails as a server fault whose text holds internals.
pub(crate) const FAULT: &str = "fault";
/// `session/subscribe` with this id emits one notification and then waits forever.
pub(crate) const ENDLESS: &str = "endless";
/// `session/subscribe` with this id emits large notifications as fast as it can.
pub(crate) const FLOOD: &str = "flood";
/// Notifications an ordinary subscription emits before it ends.
pub(crate) const NOTIFICATIONS: u32 = 3;

impl MockApi {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(super) fn record(&self, caller: &Caller) {
        self.seen.calls.fetch_add(1, Ordering::SeqCst);
        *self.seen.last_universe.lock().unwrap() = Some(caller.universe_id.clone());
    }

    /// Hashes on the blocking pool, as `store-fs` does: CPU-heavy work stays off the
    /// runtime threads that serve every universe's calls.
    pub(super) async fn store(&self, caller: &Caller, bytes: Vec<u8>) -> BlobPutResult {
        let (blob_ref, bytes) = tokio::task::spawn_blocking(move || {
            (engine::BlobRef::of_bytes(&bytes).as_str().to_owned(), bytes)
        })
        .await
        .unwrap();
        let size_bytes = bytes.len() as u64;
        self.blobs
            .lock()
            .unwrap()
            .insert((caller.universe_id.clone(), blob_ref.clone()), bytes);
        BlobPutResult {
            blob_ref,
            size_bytes,
        }
    }

    pub(super) fn load(&self, caller: &Caller, blob_ref: &str) -> Result<Vec<u8>, ApiError> {
        self.blobs
            .lock()
            .unwrap()
            .get(&(caller.universe_id.clone(), blob_ref.to_owned()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(format!("no blob {blob_ref}")))
    }
}

pub(super) fn unsupported() -> ApiError {
    ApiError::rejected("not in this mock").with_reason("mockUnsupported")
}

pub(super) fn delta(session_id: &str, index: u32, text: String) -> SessionNotification {
    SessionNotification::Delta {
        session_id: session_id.to_owned(),
        delta: DeltaView {
            run_id: "run_1".to_owned(),
            turn: 1,
            output_index: index,
            kind: DeltaKind::Text,
            text,
            call_id: None,
        },
    }
}

/// Sets `flag` when dropped: proves the gateway let go of a stream.
pub(super) struct DropFlag(pub(super) Arc<Seen>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.stream_dropped.store(true, Ordering::SeqCst);
    }
}
