//! Connection places: in total, per universe, and the two pools of callers without
//! a key (HTTP requests waiting for their refusal, WebSockets waiting for their
//! `auth/hello`); and each universe's budget of request bytes being served.
//!
//! jsonrpsee keeps one global connection pool and never learns the universe, so the
//! places are counted here, before jsonrpsee sees the request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use api::{ApiError, ErrorKind};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
    /// Every one of `ws_preauth_connections_max` places of WebSockets opened
    /// without a key is taken.
    PreAuth,
}

impl NoPlace {
    /// The refusal a client reads (-32001 with a reason per pool).
    pub(crate) fn to_api_error(self) -> ApiError {
        let (message, reason) = match self {
            Self::Total => (
                "the gateway serves its maximum of connections",
                "connections",
            ),
            Self::Anonymous => (
                "the gateway serves its maximum of requests without a valid key",
                "anonymousConnections",
            ),
            Self::Universe => (
                "this universe holds its maximum of connections",
                "universeConnections",
            ),
            Self::PreAuth => (
                "the gateway holds its maximum of WebSockets waiting for auth/hello",
                "preAuthConnections",
            ),
        };
        ApiError::new(ErrorKind::Overloaded, message).with_reason(reason)
    }
}

/// The places of the whole gateway.
#[derive(Debug)]
pub(crate) struct Connections {
    total: Arc<Semaphore>,
    /// Places of callers without a valid key, apart from `total`: they only wait for
    /// their refusal, and must not be able to take the places of real tenants.
    anonymous: Arc<Semaphore>,
    /// Places of WebSockets opened without a key until their `auth/hello`, apart
    /// from `total` and from every universe: whose they are is not known yet.
    preauth: Arc<Semaphore>,
    universe_max: u32,
    work_max: u32,
    per_universe: Arc<Mutex<HashMap<String, UniverseEntry>>>,
}

/// What the gateway keeps of a universe while it holds places.
#[derive(Debug)]
struct UniverseEntry {
    places: u32,
    work: UniverseWork,
}

/// The request bytes one universe may have served at once, over all its
/// connections (`universe_in_flight_bytes_max`).
///
/// The backend's work runs on the same runtime threads for every universe, and a
/// call is served in polls the runtime cannot cut: a universe sending many large
/// calls at once could keep every thread busy. Counted in request bytes, so small
/// calls pass freely while large ones are served a few at a time, queued in order.
#[derive(Debug, Clone)]
pub(crate) struct UniverseWork {
    budget: Arc<Semaphore>,
    max: u32,
}

impl UniverseWork {
    fn new(max: u32) -> Self {
        Self {
            budget: Arc::new(Semaphore::new(max as usize)),
            max,
        }
    }

    /// Waits until `bytes` of the budget are free and holds them until the permit
    /// drops. A request larger than the whole budget waits for all of it (it is
    /// served alone); with a budget of 0 nothing waits (`None`).
    pub(crate) async fn enter(&self, bytes: usize) -> Option<OwnedSemaphorePermit> {
        if self.max == 0 {
            return None;
        }
        let permits = u32::try_from(bytes).unwrap_or(u32::MAX).clamp(1, self.max);
        // The semaphore is never closed.
        Arc::clone(&self.budget)
            .acquire_many_owned(permits)
            .await
            .ok()
    }
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

    /// The universe's request budget; `None` for callers without a key.
    pub(crate) fn work(&self) -> Option<UniverseWork> {
        self.universe.as_ref().map(UniversePlace::work)
    }
}

#[derive(Debug)]
pub(crate) struct UniversePlace {
    universe: String,
    work: UniverseWork,
    per_universe: Arc<Mutex<HashMap<String, UniverseEntry>>>,
}

impl UniversePlace {
    pub(crate) fn work(&self) -> UniverseWork {
        self.work.clone()
    }
}

impl Drop for UniversePlace {
    fn drop(&mut self) {
        // A poisoned map still holds valid counts: a panic cannot leave one half-updated.
        let mut map = self
            .per_universe
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = map.get_mut(&self.universe) {
            entry.places = entry.places.saturating_sub(1);
            if entry.places == 0 {
                map.remove(&self.universe);
            }
        }
    }
}

impl Connections {
    pub(crate) fn new(total_max: u32, universe_max: u32, preauth_max: u32, work_max: u32) -> Self {
        Self {
            total: Arc::new(Semaphore::new(total_max as usize)),
            anonymous: Arc::new(Semaphore::new(ANONYMOUS_PLACES_MAX)),
            preauth: Arc::new(Semaphore::new(preauth_max as usize)),
            universe_max,
            work_max,
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

    /// Takes a place for a WebSocket opened without a key, held until it
    /// authenticates (then it takes a universe place instead) or closes.
    pub(crate) fn acquire_preauth(&self) -> Result<OwnedSemaphorePermit, NoPlace> {
        Arc::clone(&self.preauth)
            .try_acquire_owned()
            .map_err(|_| NoPlace::PreAuth)
    }

    fn acquire_universe(&self, universe: &str) -> Result<UniversePlace, NoPlace> {
        let mut map = self
            .per_universe
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A universe's budget lives as long as it holds a place, and every call
        // holds one, so no call's bytes are ever counted in a dropped budget.
        let entry = map
            .entry(universe.to_owned())
            .or_insert_with(|| UniverseEntry {
                places: 0,
                work: UniverseWork::new(self.work_max),
            });
        if entry.places >= self.universe_max {
            return Err(NoPlace::Universe);
        }
        entry.places += 1;
        Ok(UniversePlace {
            universe: universe.to_owned(),
            work: entry.work.clone(),
            per_universe: Arc::clone(&self.per_universe),
        })
    }
}
