//! Connection places (total and per universe) and the per-WebSocket outbox watch
//! that closes sockets whose reader fell behind or went idle.
//!
//! jsonrpsee keeps one global connection pool and never learns the universe, so the
//! places are counted here, before jsonrpsee sees the request. Its WebSocket task is
//! driven through `ws::connect` (not its tower service, which spawns the task where
//! nobody can end it) so that a slow or idle socket can be dropped: dropping the
//! connection future closes the TCP stream and frees every answer queued for it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use jsonrpsee::server::MethodResponseFuture;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};

/// HTTP requests on `/rpc` without a valid key served at once. 64: refusals are
/// cheap, and the pool is apart from `connections_max`, so unauthenticated clients
/// (which the body-read deadline already bounds in time) cannot lock tenants out.
pub(crate) const ANONYMOUS_PLACES_MAX: usize = 64;

/// Why a connection got no place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoPlace {
    /// Every one of `connections_max` places is taken.
    Total,
    /// Every one of [`ANONYMOUS_PLACES_MAX`] places is taken.
    Anonymous,
    /// The universe holds `universe_connections_max` places.
    Universe,
}

/// The places of the whole gateway.
#[derive(Debug)]
pub(crate) struct Connections {
    total: Arc<Semaphore>,
    /// Places of callers without a valid key, apart from `total`: they only wait for
    /// their refusal, and must not be able to take the places of real tenants.
    anonymous: Arc<Semaphore>,
    universe_max: u32,
    per_universe: Arc<Mutex<HashMap<String, u32>>>,
}

/// One connection's place; given back on drop.
#[derive(Debug)]
pub(crate) struct Place {
    permit: OwnedSemaphorePermit,
    universe: Option<UniversePlace>,
}

impl Place {
    /// The total place (for jsonrpsee's `ConnectionState`) and the universe place.
    pub(crate) fn into_parts(self) -> (OwnedSemaphorePermit, Option<UniversePlace>) {
        (self.permit, self.universe)
    }
}

#[derive(Debug)]
pub(crate) struct UniversePlace {
    universe: String,
    per_universe: Arc<Mutex<HashMap<String, u32>>>,
}

impl Drop for UniversePlace {
    fn drop(&mut self) {
        // A poisoned map still holds valid counts: a panic cannot leave one half-updated.
        let mut map = self
            .per_universe
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = map.get_mut(&self.universe) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                map.remove(&self.universe);
            }
        }
    }
}

impl Connections {
    pub(crate) fn new(total_max: u32, universe_max: u32) -> Self {
        Self {
            total: Arc::new(Semaphore::new(total_max as usize)),
            anonymous: Arc::new(Semaphore::new(ANONYMOUS_PLACES_MAX)),
            universe_max,
            per_universe: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// Takes a place for a connection of `universe`; `None` (a caller without a
    /// valid key, which only holds a place while its refusal is written) takes one
    /// of the separate anonymous places.
    pub(crate) fn acquire(&self, universe: Option<&str>) -> Result<Place, NoPlace> {
        let Some(universe) = universe else {
            let permit = Arc::clone(&self.anonymous)
                .try_acquire_owned()
                .map_err(|_| NoPlace::Anonymous)?;
            return Ok(Place {
                permit,
                universe: None,
            });
        };
        let universe = self.acquire_universe(universe)?;
        let permit = Arc::clone(&self.total)
            .try_acquire_owned()
            .map_err(|_| NoPlace::Total)?;
        Ok(Place {
            permit,
            universe: Some(universe),
        })
    }

    fn acquire_universe(&self, universe: &str) -> Result<UniversePlace, NoPlace> {
        let mut map = self
            .per_universe
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let count = map.entry(universe.to_owned()).or_insert(0);
        if *count >= self.universe_max {
            return Err(NoPlace::Universe);
        }
        *count += 1;
        Ok(UniversePlace {
            universe: universe.to_owned(),
            per_universe: Arc::clone(&self.per_universe),
        })
    }
}

/// Why a WebSocket was closed by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// Answers waited for buffer room longer or in larger number than allowed.
    SlowReader,
    /// No call and no open subscription for the idle timeout.
    Idle,
}

/// What one WebSocket owes its client; shared by its middleware and its methods
/// through the connection's extensions.
#[derive(Debug)]
pub(crate) struct Outbox {
    /// Answers produced but not yet in the socket's send buffer.
    waiting: AtomicU32,
    waiting_max: u32,
    reply_wait: Duration,
    subscriptions: AtomicU32,
    last_call: Mutex<Instant>,
    closing: AtomicBool,
    close: watch::Sender<Option<CloseReason>>,
}

impl Outbox {
    pub(crate) fn new(waiting_max: u32, reply_wait: Duration) -> Arc<Self> {
        Arc::new(Self {
            waiting: AtomicU32::new(0),
            waiting_max,
            reply_wait,
            subscriptions: AtomicU32::new(0),
            last_call: Mutex::new(Instant::now()),
            closing: AtomicBool::new(false),
            close: watch::Sender::new(None),
        })
    }

    fn close(&self, reason: CloseReason) {
        if !self.closing.swap(true, Ordering::AcqRel) {
            self.close.send_replace(Some(reason));
        }
    }

    /// A call arrived: the socket is in use.
    pub(crate) fn touch(&self) {
        *self
            .last_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Watches one answer until it is in the send buffer. An answer that cannot get
    /// there in time, or one too many waiting, means the reader fell behind: the
    /// socket is closed, which drops every waiting answer with it.
    pub(crate) fn watch_delivery(self: &Arc<Self>, delivered: MethodResponseFuture) {
        let waiting = self.waiting.fetch_add(1, Ordering::AcqRel) + 1;
        if waiting > self.waiting_max {
            self.close(CloseReason::SlowReader);
        }
        let this = Arc::clone(self);
        tokio::spawn(async move {
            // `Err` means the connection went away first: nothing more to watch.
            if tokio::time::timeout(this.reply_wait, delivered)
                .await
                .is_err()
            {
                this.close(CloseReason::SlowReader);
            }
            this.waiting.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Counts an open subscription until the guard drops.
    pub(crate) fn subscription(self: &Arc<Self>) -> SubscriptionGuard {
        self.subscriptions.fetch_add(1, Ordering::AcqRel);
        SubscriptionGuard(Arc::clone(self))
    }

    fn idle_for(&self) -> Option<Duration> {
        if self.subscriptions.load(Ordering::Acquire) > 0
            || self.waiting.load(Ordering::Acquire) > 0
        {
            return None;
        }
        let last = *self
            .last_call
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(last.elapsed())
    }

    /// Resolves with the reason once the socket must close: slow reader, or idle
    /// for `idle_timeout`.
    pub(crate) async fn closed(self: Arc<Self>, idle_timeout: Duration) -> CloseReason {
        let mut close = self.close.subscribe();
        let check = (idle_timeout / 4).max(Duration::from_millis(10));
        loop {
            tokio::select! {
                changed = close.wait_for(Option::is_some) => {
                    // The sender lives in `self`, so it cannot be gone here.
                    return changed.ok().and_then(|reason| *reason).unwrap_or(CloseReason::SlowReader);
                }
                () = tokio::time::sleep(check) => {
                    if self.idle_for().is_some_and(|idle| idle >= idle_timeout) {
                        return CloseReason::Idle;
                    }
                }
            }
        }
    }
}

/// One open subscription of a socket.
#[derive(Debug)]
pub(crate) struct SubscriptionGuard(Arc<Outbox>);

impl Drop for SubscriptionGuard {
    fn drop(&mut self) {
        self.0.subscriptions.fetch_sub(1, Ordering::AcqRel);
        self.0.touch();
    }
}
