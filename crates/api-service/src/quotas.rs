//! The per-universe quotas of [`crate::Quotas`], each checked against a count the
//! store keeps as it writes, before the work it bounds.

use api::types::universe::UniverseUsageView;
use api::{ApiError, Quota};
use api_projection::blobs::ContentGate;
use api_projection::inputs::{ConfigCeilings, nanos_to_usd};
use api_projection::items::InputLimits;
use session_stores::{SessionIndex, UniverseUsage};

use crate::errors::internal;
use crate::host::SessionHost;
use crate::service::Service;

/// Per-universe quotas and the limits on what one request may ask for, as the
/// service enforces them: quotas are refused with -32010 `quotaExceeded` (and
/// `data.quota` naming which), input over its limits with `inputTooLarge`, config
/// over a ceiling with `invalidConfig` (both -32602).
///
/// Quotas are checked against counts the store keeps as it writes
/// (`session_stores::UniverseUsage`, `SessionIndex::session_count`), so a check is a
/// small read, and before the work they bound; requests racing one another may pass
/// a quota by a few. What runs write themselves (model output, tool results) is
/// counted but never refused mid-run: a universe may end a run above its
/// stored-bytes quota, and then stores nothing new through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// Sessions one universe may hold (closed ones count until deleted). Checked
    /// when a new session starts.
    pub sessions_per_universe_max: u64,
    /// Runs requested and not yet finished (queued or active) over all of one
    /// universe's sessions. Checked when `run/start` submits a new submission; a
    /// resubmission of one the session remembers is the same run and always
    /// answered. Finishing, failing or cancelling a run frees its place.
    pub runs_in_flight_per_universe_max: u64,
    /// Bytes one universe's CAS may hold. Checked before new content enters through
    /// the API (`blob/put`, `PUT /blobs`, run and steer text, instructions, snapshot
    /// manifests): content the universe already holds is never refused.
    pub stored_bytes_per_universe_max: u64,
    /// Run and steer input sizes.
    pub input: InputLimits,
    /// The deployment's ceilings on run budgets and provider params.
    pub ceilings: ConfigCeilings,
    /// Schedules one universe may hold (clients' and agents' together, -32010
    /// `quotaExceeded` with `data.quota: schedules` beyond it) and the shortest
    /// interval one may fire at.
    pub schedules: schedule_registry::catalog::ScheduleLimits,
    /// Sub-agent depth, children per session, and sub-agents running per universe.
    pub agents: crate::agents::AgentLimits,
    /// Event intake's dedupe window and payload size (`events/ingest`).
    pub intake: crate::intake::IntakeLimits,
}

/// Default [`Quotas::sessions_per_universe_max`].
pub const SESSIONS_PER_UNIVERSE_MAX_DEFAULT: u64 = 100_000;
/// Default [`Quotas::runs_in_flight_per_universe_max`]: many more than one client
/// keeps busy (a session runs one at a time and queues at most 64), few enough that
/// one tenant cannot fill every worker's queue.
pub const RUNS_IN_FLIGHT_PER_UNIVERSE_MAX_DEFAULT: u64 = 1_000;
/// Default [`Quotas::stored_bytes_per_universe_max`]: 10 GiB.
pub const STORED_BYTES_PER_UNIVERSE_MAX_DEFAULT: u64 = 10 * 1024 * 1024 * 1024;

impl Default for Quotas {
    fn default() -> Self {
        Self {
            sessions_per_universe_max: SESSIONS_PER_UNIVERSE_MAX_DEFAULT,
            runs_in_flight_per_universe_max: RUNS_IN_FLIGHT_PER_UNIVERSE_MAX_DEFAULT,
            stored_bytes_per_universe_max: STORED_BYTES_PER_UNIVERSE_MAX_DEFAULT,
            input: InputLimits::default(),
            ceilings: ConfigCeilings::default(),
            schedules: schedule_registry::catalog::ScheduleLimits::default(),
            agents: crate::agents::AgentLimits::default(),
            intake: crate::intake::IntakeLimits::default(),
        }
    }
}

/// Refuses when the universe already holds `max` or more of what `quota` counts.
fn within(quota: Quota, what: &str, held: u64, max: u64) -> Result<(), ApiError> {
    if held >= max {
        return Err(ApiError::quota_exceeded(
            quota,
            format!("the universe holds {held} {what}, its quota is {max}"),
        ));
    }
    Ok(())
}

impl<H: SessionHost> Service<H> {
    /// A new session must fit the universe's session quota.
    pub(crate) async fn check_session_quota(&self, universe_id: &str) -> Result<(), ApiError> {
        let store = self.store(universe_id).await?;
        let held = store
            .session_count()
            .await
            .map_err(|err| internal("counting sessions", err))?;
        within(
            Quota::Sessions,
            "sessions",
            held,
            self.quotas.sessions_per_universe_max,
        )
    }

    /// A new run must fit the universe's quota of runs in flight.
    pub(crate) async fn check_runs_quota(&self, universe_id: &str) -> Result<(), ApiError> {
        let store = self.store(universe_id).await?;
        let held = store
            .runs_in_flight()
            .await
            .map_err(|err| internal("counting runs in flight", err))?;
        within(
            Quota::RunsInFlight,
            "runs in flight",
            held,
            self.quotas.runs_in_flight_per_universe_max,
        )
    }

    /// `universe/usage`: the counts the store keeps as it writes, one small read each.
    pub(crate) async fn read_universe_usage(
        &self,
        universe_id: &str,
    ) -> Result<UniverseUsageView, ApiError> {
        let store = self.store(universe_id).await?;
        let counted = |what| move |err| internal(what, err);
        Ok(UniverseUsageView {
            sessions: store
                .session_count()
                .await
                .map_err(counted("counting sessions"))?,
            runs_in_flight: store
                .runs_in_flight()
                .await
                .map_err(counted("counting runs in flight"))?,
            stored_bytes: store
                .stored_bytes()
                .await
                .map_err(counted("counting stored bytes"))?,
            cost_usd: nanos_to_usd(
                store
                    .cost_nanos()
                    .await
                    .map_err(counted("summing the universe's cost"))?,
            ),
        })
    }

    /// The universe's stored-bytes quota, as the gate new content passes.
    pub(crate) fn content_gate<'a, S: UniverseUsage>(
        &self,
        store: &'a S,
    ) -> StoredBytesQuota<'a, S> {
        StoredBytesQuota {
            store,
            max: self.quotas.stored_bytes_per_universe_max,
        }
    }
}

/// New content is admitted while the universe's stored bytes plus it stay within
/// the quota.
pub(crate) struct StoredBytesQuota<'a, S> {
    store: &'a S,
    max: u64,
}

impl<S: UniverseUsage> ContentGate for StoredBytesQuota<'_, S> {
    async fn admit(&self, new_bytes: u64) -> Result<(), ApiError> {
        let held = self
            .store
            .stored_bytes()
            .await
            .map_err(|err| internal("counting stored bytes", err))?;
        if held.saturating_add(new_bytes) > self.max {
            return Err(ApiError::quota_exceeded(
                Quota::StoredBytes,
                format!(
                    "the universe stores {held} bytes; {new_bytes} more would pass its quota of {}",
                    self.max
                ),
            ));
        }
        Ok(())
    }
}
