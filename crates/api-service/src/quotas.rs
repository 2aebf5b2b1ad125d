//! The per-universe quotas of [`crate::Quotas`], each checked against a count the
//! store keeps as it writes, before the work it bounds.

use api::{ApiError, Quota};
use api_projection::blobs::ContentGate;
use session_stores::{SessionIndex, UniverseUsage};

use crate::errors::internal;
use crate::host::SessionHost;
use crate::service::Service;

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
