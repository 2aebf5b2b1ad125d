//! What one firing of a schedule does, for every host: the Temporal worker's firing
//! activity and the in-process host's timer task both call [`ScheduleFirer`].
//!
//! 1. Claim the firing in the catalog (`schedule_registry::catalog::decide_claim`):
//!    a firing missed during downtime is folded into the one that ran after it, so
//!    a missed window fires once; a paused or deleted schedule fires nothing.
//! 2. Request the run through the same method body as `run/start`, with the
//!    submission id `sched-<key>` derived from the universe, the schedule and the
//!    firing's due time, so a retried firing never starts a second run. A fresh
//!    session per firing is started first through `session/start`'s body, under an
//!    id derived the same way (`sched-<schedule>-<key>`).
//! 3. Record the outcome on the schedule's last firing.
//!
//! A refusal of the run (a closed session, a quota) is an outcome, recorded and
//! not retried; a fault (store, host) is an error, and the caller retries.

use std::future::Future;
use std::pin::Pin;

use api::types::run::{InputItem, RunStartParams};
use api::types::session::SessionStartParams;
use api::{ApiError, ErrorKind};
use schedule_registry::{
    Claim, FiringOutcome, Schedule, ScheduleCatalog, ScheduleId, ScheduleTarget, firing_key,
};

use crate::host::SessionHost;
use crate::mcp::now_ms;
use crate::schedules::schedule_error;
use crate::service::Service;

/// What a firing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired {
    /// A run was requested (or found, for a retried firing).
    Started { session_id: String, run_id: String },
    /// Folded into a firing that ran at or after this one's due time.
    Coalesced,
    /// The schedule is paused, or gone.
    Skipped,
    /// The run was refused; the refusal's reason.
    Refused { reason: String },
}

pub type FireFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'a>>;

/// Fires schedules and follows their runs: the API service, as hosts' schedulers
/// hold it (object-safe, `Arc<dyn ScheduleFirer>`).
pub trait ScheduleFirer: Send + Sync {
    /// Fires schedule `schedule_id` of the universe for its firing due at
    /// `scheduled_at_ms`.
    fn fire<'a>(
        &'a self,
        universe_id: &'a str,
        schedule_id: &'a str,
        scheduled_at_ms: u64,
    ) -> FireFuture<'a, Fired>;

    /// Whether run `run_id` of the session is still queued or running (a closed or
    /// unknown session's is not).
    fn run_pending<'a>(
        &'a self,
        universe_id: &'a str,
        session_id: &'a str,
        run_id: &'a str,
    ) -> FireFuture<'a, bool>;
}

impl<H: SessionHost> ScheduleFirer for Service<H> {
    fn fire<'a>(
        &'a self,
        universe_id: &'a str,
        schedule_id: &'a str,
        scheduled_at_ms: u64,
    ) -> FireFuture<'a, Fired> {
        Box::pin(self.fire_schedule(universe_id, schedule_id, scheduled_at_ms))
    }

    fn run_pending<'a>(
        &'a self,
        universe_id: &'a str,
        session_id: &'a str,
        run_id: &'a str,
    ) -> FireFuture<'a, bool> {
        Box::pin(async move {
            let session = api_projection::inputs::session_id(session_id)?;
            let control = self.control(universe_id, &session).await?;
            let runs = &control.runs;
            Ok(runs
                .active
                .as_ref()
                .is_some_and(|run| run.run_id.as_str() == run_id)
                || runs.queue.iter().any(|run| run.run_id.as_str() == run_id))
        })
    }
}

impl<H: SessionHost> Service<H> {
    async fn fire_schedule(
        &self,
        universe_id: &str,
        schedule_id: &str,
        scheduled_at_ms: u64,
    ) -> Result<Fired, ApiError> {
        let id = ScheduleId::new(schedule_id).map_err(schedule_error)?;
        let store = self.store(universe_id).await?;
        let claim = store
            .schedule_claim(&id, scheduled_at_ms, now_ms())
            .await
            .map_err(schedule_error)?;
        let schedule = match claim {
            Claim::Fire(schedule) => *schedule,
            Claim::Coalesced => return Ok(Fired::Coalesced),
            Claim::Paused | Claim::Gone => return Ok(Fired::Skipped),
        };
        let key = firing_key(universe_id, &id, scheduled_at_ms);
        let (fired, outcome) = match self.request_run(universe_id, &schedule, &key).await {
            Ok((session_id, run_id)) => (
                Fired::Started {
                    session_id: session_id.clone(),
                    run_id: run_id.clone(),
                },
                FiringOutcome::Started { session_id, run_id },
            ),
            Err(err) if refused(&err) => {
                let reason = err.data.reason.clone().unwrap_or_else(|| "refused".into());
                tracing::info!(%universe_id, schedule = %id, %reason, "a schedule's run was refused");
                (
                    Fired::Refused {
                        reason: reason.clone(),
                    },
                    FiringOutcome::Failed { code: reason },
                )
            }
            Err(err) => return Err(err),
        };
        store
            .schedule_record_outcome(&id, scheduled_at_ms, &outcome)
            .await
            .map_err(schedule_error)?;
        Ok(fired)
    }

    /// Starts the firing's run (and its fresh session); the session and run ids.
    async fn request_run(
        &self,
        universe_id: &str,
        schedule: &Schedule,
        key: &str,
    ) -> Result<(String, String), ApiError> {
        let session_id = match &schedule.target {
            ScheduleTarget::Session { session_id } => session_id.clone(),
            ScheduleTarget::NewSession { config_json } => {
                let config = serde_json::from_str(config_json).map_err(|err| {
                    crate::errors::internal("reading a schedule's session template", err)
                })?;
                let params = SessionStartParams {
                    session_id: Some(format!("sched-{}-{key}", schedule.id)),
                    config,
                };
                Box::pin(self.start_session(universe_id, params))
                    .await?
                    .session_id
            }
        };
        let params = RunStartParams {
            session_id: session_id.clone(),
            submission_id: format!("sched-{key}"),
            input: vec![InputItem::Text {
                text: schedule.input.clone(),
            }],
            overrides: None,
        };
        let started = Box::pin(self.start_run(universe_id, params)).await?;
        Ok((session_id, started.run_id))
    }
}

/// Whether a run request's failure is the API refusing it (recorded, not retried)
/// rather than a fault (retried).
fn refused(err: &ApiError) -> bool {
    match err.data.kind {
        ErrorKind::InvalidParams
        | ErrorKind::NotFound
        | ErrorKind::Rejected
        | ErrorKind::InvalidRequest
        | ErrorKind::ParseError => true,
        ErrorKind::Conflict => err.data.reason.as_deref() != Some("admissionLost"),
        ErrorKind::Overloaded | ErrorKind::Unauthorized | ErrorKind::Internal => false,
    }
}
