//! Schedules on Temporal: [`TemporalScheduler`], the API host's
//! `schedule_registry::Scheduler`, keeps one Temporal Schedule per Lightspeed
//! schedule (id [`temporal_workflow::schedule::schedule_id`]: universe and schedule
//! id), whose action starts a [`ScheduleFiringWorkflow`] on the sessions' task
//! queue; [`ScheduleActivities`] are that workflow's activities, over the API
//! service ([`ScheduleFirer`]).
//!
//! - create: `CreateSchedule` (spec, overlap policy, paused state), then the catchup
//!   window ([`CATCHUP_WINDOW`]) through `UpdateSchedule`; update: `UpdateSchedule`
//!   (the whole spec and policies); pause and resume: `PatchSchedule`; delete:
//!   `DeleteSchedule`. A missing Schedule is created by any of them but delete, so
//!   a record whose Schedule was lost is repaired by its next change.
//! - a firing's due time is the suffix Temporal appends to the workflow id (RFC
//!   3339, the nominal time before jitter), read by `schedule_fire`.
//!
//! Coalescing after downtime is the catalog's claim (a firing due before the last
//! claimed one ran is folded into it); the overlap policy and the catchup window
//! only decide which firing workflows Temporal starts.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use api_service::{Fired, ScheduleFirer};
use schedule_registry::scheduler::{SchedulerError, SchedulerFuture, boxed};
use schedule_registry::{OverlapPolicy, Schedule, ScheduleId, ScheduleSpec, Scheduler};
use temporal_workflow::ScheduleFiringWorkflow;
use temporal_workflow::schedule::{
    FiringResult, ScheduleFiringInput, WAIT_POLL_MS_MAX, WaitRunInput, WaitRunOutput, schedule_id,
};
use temporalio_client::Client;
use temporalio_client::schedules::{
    CreateScheduleOptions, ScheduleAction, ScheduleError, ScheduleOverlapPolicy,
    ScheduleSpec as TemporalSpec,
};
use temporalio_client::tonic;
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

/// How late a missed firing may still start after Temporal itself was down: a day.
/// Whatever it lets through is coalesced into one firing by the catalog's claim.
pub const CATCHUP_WINDOW: Duration = Duration::from_secs(24 * 3600);

/// Temporal Schedules for the universe's schedules, started on `task_queue`.
#[derive(Clone)]
pub struct TemporalScheduler {
    client: Client,
    task_queue: String,
}

impl TemporalScheduler {
    pub fn new(client: Client, task_queue: impl Into<String>) -> Self {
        Self {
            client,
            task_queue: task_queue.into(),
        }
    }

    async fn put_schedule(&self, universe_id: &str, schedule: &Schedule) -> Result<(), String> {
        let id = schedule_id(universe_id, schedule.id.as_str());
        match Box::pin(self.update_schedule(&id, schedule)).await {
            Err(ScheduleError::Rpc(status)) if status.code() == tonic::Code::NotFound => {}
            other => return other.map_err(|err| err.to_string()),
        }
        let action = ScheduleAction::start_workflow(
            ScheduleFiringWorkflow::run,
            ScheduleFiringInput {
                universe_id: universe_id.to_owned(),
                schedule_id: schedule.id.to_string(),
            },
            self.task_queue.clone(),
            id.clone(),
        );
        let options = CreateScheduleOptions::builder()
            .action(action)
            .spec(spec(&schedule.spec))
            .overlap_policy(overlap(schedule.overlap))
            .paused(schedule.paused)
            .note(format!("lightspeed schedule {}", schedule.id))
            .build();
        // Boxed, as every client call here: the SDK's schedule futures are large, and
        // debug builds overflow a runtime thread's stack holding them inline.
        match Box::pin(self.client.create_schedule(id.clone(), options)).await {
            Ok(_) => {}
            // Created meanwhile by a concurrent put: the update below sets it whole.
            Err(ScheduleError::Rpc(status)) if status.code() == tonic::Code::AlreadyExists => {}
            Err(err) => return Err(err.to_string()),
        }
        self.update_schedule(&id, schedule)
            .await
            .map_err(|err| err.to_string())
    }

    async fn update_schedule(&self, id: &str, schedule: &Schedule) -> Result<(), ScheduleError> {
        let (spec, overlap, paused) = (
            spec(&schedule.spec),
            overlap(schedule.overlap),
            schedule.paused,
        );
        let handle = self.client.get_schedule_handle(id);
        Box::pin(handle.update(
            move |update| {
                update
                    .set_spec(spec)
                    .set_overlap_policy(overlap)
                    .set_paused(paused)
                    .set_catchup_window(CATCHUP_WINDOW);
            },
            Default::default(),
        ))
        .await
    }

    async fn pause(&self, universe_id: &str, schedule: &Schedule) -> Result<(), String> {
        let handle = self
            .client
            .get_schedule_handle(schedule_id(universe_id, schedule.id.as_str()));
        let done = match schedule.paused {
            true => Box::pin(handle.pause(Some("paused"), Default::default())).await,
            false => Box::pin(handle.unpause(Some("resumed"), Default::default())).await,
        };
        match done {
            Err(ScheduleError::Rpc(status)) if status.code() == tonic::Code::NotFound => {
                Box::pin(self.put_schedule(universe_id, schedule)).await
            }
            other => other.map_err(|err| err.to_string()),
        }
    }

    async fn delete(&self, universe_id: &str, id: &ScheduleId) -> Result<(), String> {
        let handle = self
            .client
            .get_schedule_handle(schedule_id(universe_id, id.as_str()));
        match Box::pin(handle.delete(Default::default())).await {
            Err(ScheduleError::Rpc(status)) if status.code() == tonic::Code::NotFound => Ok(()),
            other => other.map_err(|err| err.to_string()),
        }
    }
}

impl Scheduler for TemporalScheduler {
    fn put<'a>(&'a self, universe_id: &'a str, schedule: &'a Schedule) -> SchedulerFuture<'a, ()> {
        boxed(async move {
            self.put_schedule(universe_id, schedule)
                .await
                .map_err(SchedulerError)
        })
    }

    fn set_paused<'a>(
        &'a self,
        universe_id: &'a str,
        schedule: &'a Schedule,
    ) -> SchedulerFuture<'a, ()> {
        boxed(async move {
            self.pause(universe_id, schedule)
                .await
                .map_err(SchedulerError)
        })
    }

    fn remove<'a>(&'a self, universe_id: &'a str, id: &'a ScheduleId) -> SchedulerFuture<'a, ()> {
        boxed(async move { self.delete(universe_id, id).await.map_err(SchedulerError) })
    }
}

fn spec(spec: &ScheduleSpec) -> TemporalSpec {
    match spec {
        ScheduleSpec::Interval { every_seconds } => {
            TemporalSpec::from_interval(Duration::from_secs(*every_seconds))
        }
        ScheduleSpec::Cron {
            expression,
            timezone,
        } => TemporalSpec::builder()
            .cron_strings(vec![expression.clone()])
            .timezone_name(timezone.clone().unwrap_or_default())
            .build(),
    }
}

fn overlap(policy: OverlapPolicy) -> ScheduleOverlapPolicy {
    match policy {
        OverlapPolicy::Skip => ScheduleOverlapPolicy::Skip,
        OverlapPolicy::BufferOne => ScheduleOverlapPolicy::BufferOne,
        OverlapPolicy::AllowAll => ScheduleOverlapPolicy::AllowAll,
    }
}

/// The due time (ms since the Unix epoch) of the firing whose workflow id is
/// `workflow_id`: the RFC 3339 time Temporal appended to the Schedule's prefix.
pub fn scheduled_at_ms(prefix: &str, workflow_id: &str) -> Option<u64> {
    let time = workflow_id.strip_prefix(prefix)?.strip_prefix('-')?;
    let parsed = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    u64::try_from(parsed.timestamp_millis()).ok()
}

/// `ScheduleFiringWorkflow`'s activities, over the API service.
pub struct ScheduleActivities {
    firer: Arc<dyn ScheduleFirer>,
}

impl ScheduleActivities {
    pub fn new(firer: Arc<dyn ScheduleFirer>) -> Self {
        Self { firer }
    }
}

fn retryable(message: impl Into<String>) -> ActivityError {
    ActivityError::application(ApplicationFailure::new(message.into()))
}

fn fatal(message: impl Into<String>) -> ActivityError {
    ActivityError::application(ApplicationFailure::non_retryable(message.into()))
}

/// How often `schedule_wait_run` looks at the run (and heartbeats).
const WAIT_POLL: Duration = Duration::from_millis(500);

// The SDK's `#[activities]` expansion unwraps the instance it registers itself.
#[allow(clippy::unwrap_used)]
#[temporalio_macros::activities]
impl ScheduleActivities {
    #[activity(definition = temporal_workflow::schedule::FireSchedule)]
    pub async fn schedule_fire(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ScheduleFiringInput,
    ) -> Result<FiringResult, ActivityError> {
        let prefix = schedule_id(&input.universe_id, &input.schedule_id);
        let workflow_id = ctx.info().workflow_id.clone().unwrap_or_default();
        // A firing workflow started by anything but its Schedule has no due time:
        // nothing to claim.
        let Some(due_ms) = scheduled_at_ms(&prefix, &workflow_id) else {
            return Err(fatal(format!(
                "workflow id {workflow_id:?} carries no firing time"
            )));
        };
        let fired = self
            .firer
            .fire(&input.universe_id, &input.schedule_id, due_ms)
            .await
            .map_err(|err| retryable(format!("firing the schedule: {}", err.message)))?;
        Ok(match fired {
            Fired::Started { session_id, run_id } => FiringResult::Started { session_id, run_id },
            Fired::Coalesced => FiringResult::Coalesced,
            Fired::Skipped => FiringResult::Skipped,
            Fired::Refused { reason } => FiringResult::Refused { reason },
        })
    }

    #[activity(definition = temporal_workflow::schedule::WaitScheduledRun)]
    pub async fn schedule_wait_run(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: WaitRunInput,
    ) -> Result<WaitRunOutput, ActivityError> {
        let started = SystemTime::now();
        loop {
            let pending = self
                .firer
                .run_pending(&input.universe_id, &input.session_id, &input.run_id)
                .await
                .map_err(|err| retryable(format!("reading the run: {}", err.message)))?;
            if !pending {
                return Ok(WaitRunOutput { finished: true });
            }
            let waited = started.elapsed().unwrap_or_default();
            if waited >= Duration::from_millis(WAIT_POLL_MS_MAX) || ctx.is_cancelled() {
                return Ok(WaitRunOutput { finished: false });
            }
            let _ = ctx.record_heartbeat(()).await;
            tokio::time::sleep(WAIT_POLL).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_due_time_is_read_from_the_firing_workflow_id() {
        let prefix = schedule_id("u1", "tick");
        assert_eq!(
            scheduled_at_ms(&prefix, &format!("{prefix}-2024-01-01T00:00:02Z")),
            Some(1_704_067_202_000)
        );
        assert_eq!(scheduled_at_ms(&prefix, &prefix), None);
        assert_eq!(
            scheduled_at_ms(&prefix, "sched/u1/other-2024-01-01T00:00:02Z"),
            None
        );
    }
}
