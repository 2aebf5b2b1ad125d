//! `schedule/*`: a universe's schedules. Every input is checked (ids, spec, target,
//! input, the floor on intervals) before the store is opened; the catalog checks the
//! cap under its own lock; the host's [`Scheduler`](schedule_registry::Scheduler)
//! (`SessionHost::scheduler`: Temporal Schedules, or timer tasks in process) follows
//! each change through `schedule_registry::ops`, the same code the agent's
//! `schedule_*` tools use. What a firing does is `crate::firing`.

use api::types::schedule::*;
use api::types::session::SessionStartParams;
use api::{ApiError, Quota};
use api_projection::inputs;
use schedule_registry::{
    FiringOutcome, OverlapPolicy, Schedule, ScheduleCatalog, ScheduleError, ScheduleId,
    SchedulePatch, ScheduleSpec, ScheduleTarget, ops,
};

use crate::host::SessionHost;
use crate::mcp::now_ms;
use crate::service::Service;

impl<H: SessionHost> Service<H> {
    pub(crate) async fn schedule_create(
        &self,
        universe_id: &str,
        params: ScheduleCreateParams,
    ) -> Result<ScheduleView, ApiError> {
        let id = match params.schedule_id {
            Some(raw) => schedule_id(raw)?,
            None => new_schedule_id()?,
        };
        let now = now_ms();
        let schedule = Schedule {
            id,
            name: params.name,
            spec: spec(params.spec),
            target: self.target(universe_id, params.target).await?,
            input: params.input,
            overlap: overlap(params.overlap),
            paused: params.paused,
            created_by_session: None,
            revision: 1,
            created_at_ms: now,
            updated_at_ms: now,
            firings: 0,
            last_firing: None,
        };
        schedule
            .check(self.quotas.schedules.interval_seconds_min)
            .map_err(schedule_error)?;
        let store = self.store(universe_id).await?;
        let scheduler = self.host.scheduler();
        ops::create(
            &*store,
            &*scheduler,
            universe_id,
            &schedule,
            &self.quotas.schedules,
        )
        .await
        .map_err(schedule_error)?;
        Ok(schedule_view(&schedule, now))
    }

    pub(crate) async fn schedule_read(
        &self,
        universe_id: &str,
        params: ScheduleRef,
    ) -> Result<ScheduleView, ApiError> {
        let id = schedule_id(params.schedule_id)?;
        let store = self.store(universe_id).await?;
        let schedule = store
            .schedule_read(&id)
            .await
            .map_err(schedule_error)?
            .ok_or_else(|| schedule_error(ScheduleError::NotFound(id.to_string())))?;
        Ok(schedule_view(&schedule, now_ms()))
    }

    pub(crate) async fn schedule_list(
        &self,
        universe_id: &str,
    ) -> Result<ScheduleListResult, ApiError> {
        let store = self.store(universe_id).await?;
        let schedules = store.schedule_list().await.map_err(schedule_error)?;
        let now = now_ms();
        Ok(ScheduleListResult {
            schedules: schedules.iter().map(|s| schedule_view(s, now)).collect(),
        })
    }

    pub(crate) async fn schedule_update(
        &self,
        universe_id: &str,
        params: ScheduleUpdateParams,
    ) -> Result<ScheduleView, ApiError> {
        let id = schedule_id(params.schedule_id)?;
        let spec = params.spec.map(spec);
        if let Some(spec) = &spec {
            spec.check(self.quotas.schedules.interval_seconds_min)
                .map_err(schedule_error)?;
        }
        if let Some(name) = &params.name {
            schedule_registry::schedule::check_name(name).map_err(schedule_error)?;
        }
        if let Some(input) = &params.input {
            schedule_registry::schedule::check_input(input).map_err(schedule_error)?;
        }
        let target = match params.target {
            Some(target) => Some(self.target(universe_id, target).await?),
            None => None,
        };
        let patch = SchedulePatch {
            name: params.name,
            spec,
            target,
            input: params.input,
            overlap: params.overlap.map(overlap),
            paused: None,
        };
        self.schedule_patch(universe_id, &id, params.expected_revision, &patch)
            .await
    }

    pub(crate) async fn schedule_pause(
        &self,
        universe_id: &str,
        params: SchedulePauseParams,
    ) -> Result<ScheduleView, ApiError> {
        let id = schedule_id(params.schedule_id)?;
        let patch = SchedulePatch {
            paused: Some(params.paused),
            ..SchedulePatch::default()
        };
        self.schedule_patch(universe_id, &id, None, &patch).await
    }

    pub(crate) async fn schedule_delete(
        &self,
        universe_id: &str,
        params: ScheduleRef,
    ) -> Result<ScheduleDeleteResult, ApiError> {
        let id = schedule_id(params.schedule_id)?;
        let store = self.store(universe_id).await?;
        let scheduler = self.host.scheduler();
        let deleted = ops::delete(&*store, &*scheduler, universe_id, &id)
            .await
            .map_err(schedule_error)?;
        Ok(ScheduleDeleteResult { deleted })
    }

    async fn schedule_patch(
        &self,
        universe_id: &str,
        id: &ScheduleId,
        expected_revision: Option<u64>,
        patch: &SchedulePatch,
    ) -> Result<ScheduleView, ApiError> {
        let store = self.store(universe_id).await?;
        let scheduler = self.host.scheduler();
        let now = now_ms();
        let schedule = ops::update(
            &*store,
            &*scheduler,
            universe_id,
            (id, expected_revision),
            patch,
            now,
            &self.quotas.schedules,
        )
        .await
        .map_err(schedule_error)?;
        Ok(schedule_view(&schedule, now))
    }

    /// A target as stored: an existing session of the universe, or a session config
    /// checked as `session/start` checks it.
    async fn target(
        &self,
        universe_id: &str,
        target: ScheduleTargetInput,
    ) -> Result<ScheduleTarget, ApiError> {
        match target {
            ScheduleTargetInput::Session { session_id } => {
                let (session, _) = self.existing_session(universe_id, &session_id).await?;
                Ok(ScheduleTarget::Session {
                    session_id: session.to_string(),
                })
            }
            ScheduleTargetInput::NewSession { config } => {
                let params = SessionStartParams {
                    session_id: None,
                    config: *config,
                };
                let mut prepared = inputs::prepare_session(&params)?;
                inputs::apply_models_to_session(
                    &self.models,
                    &params.config,
                    &mut prepared.config,
                )?;
                self.quotas
                    .ceilings
                    .check_config(&prepared.config, "target.config.")?;
                let config_json = serde_json::to_string(&params.config)
                    .map_err(|err| crate::errors::internal("storing a session template", err))?;
                Ok(ScheduleTarget::NewSession { config_json })
            }
        }
    }
}

fn new_schedule_id() -> Result<ScheduleId, ApiError> {
    ScheduleId::new(format!("sch-{}", uuid::Uuid::new_v4().simple()))
        .map_err(|err| crate::errors::internal("naming a schedule", err))
}

fn schedule_id(raw: String) -> Result<ScheduleId, ApiError> {
    ScheduleId::new(raw).map_err(schedule_error)
}

fn spec(input: ScheduleSpecInput) -> ScheduleSpec {
    match input {
        ScheduleSpecInput::Interval { every_seconds } => ScheduleSpec::Interval { every_seconds },
        ScheduleSpecInput::Cron {
            expression,
            timezone,
        } => ScheduleSpec::Cron {
            expression,
            timezone,
        },
    }
}

fn overlap(input: OverlapPolicyInput) -> OverlapPolicy {
    match input {
        OverlapPolicyInput::Skip => OverlapPolicy::Skip,
        OverlapPolicyInput::BufferOne => OverlapPolicy::BufferOne,
        OverlapPolicyInput::AllowAll => OverlapPolicy::AllowAll,
    }
}

/// A schedule refusal as its contract error.
pub(crate) fn schedule_error(err: ScheduleError) -> ApiError {
    let code = err.code();
    match err {
        ScheduleError::Invalid { .. } => ApiError::invalid_params(err.to_string()),
        ScheduleError::NotFound(_) => ApiError::not_found(err.to_string()),
        ScheduleError::Exists(_) => ApiError::conflict(err.to_string()),
        ScheduleError::Conflict { actual, .. } => {
            ApiError::conflict(err.to_string()).with_current_revision(actual)
        }
        ScheduleError::TooMany { .. } => {
            return ApiError::quota_exceeded(Quota::Schedules, err.to_string());
        }
        ScheduleError::Scheduler(detail) => {
            return crate::errors::internal("the scheduler", detail);
        }
        ScheduleError::Store(err) => return crate::errors::internal("the schedule catalog", err),
    }
    .with_reason(code)
}

/// The view of a stored schedule at `now_ms`.
pub(crate) fn schedule_view(schedule: &Schedule, now_ms: u64) -> ScheduleView {
    ScheduleView {
        schedule_id: schedule.id.to_string(),
        name: schedule.name.clone(),
        spec: match &schedule.spec {
            ScheduleSpec::Interval { every_seconds } => ScheduleSpecInput::Interval {
                every_seconds: *every_seconds,
            },
            ScheduleSpec::Cron {
                expression,
                timezone,
            } => ScheduleSpecInput::Cron {
                expression: expression.clone(),
                timezone: timezone.clone(),
            },
        },
        target: target_view(&schedule.target),
        input: schedule.input.clone(),
        overlap: match schedule.overlap {
            OverlapPolicy::Skip => OverlapPolicyInput::Skip,
            OverlapPolicy::BufferOne => OverlapPolicyInput::BufferOne,
            OverlapPolicy::AllowAll => OverlapPolicyInput::AllowAll,
        },
        paused: schedule.paused,
        created_by_session: schedule.created_by_session.clone(),
        revision: schedule.revision,
        created_at_ms: schedule.created_at_ms,
        updated_at_ms: schedule.updated_at_ms,
        firings: schedule.firings,
        last_firing: schedule.last_firing.as_ref().map(|last| {
            let (session_id, run_id, error) = match &last.outcome {
                Some(FiringOutcome::Started { session_id, run_id }) => {
                    (Some(session_id.clone()), Some(run_id.clone()), None)
                }
                Some(FiringOutcome::Failed { code }) => (None, None, Some(code.clone())),
                None => (None, None, None),
            };
            ScheduleFiringView {
                scheduled_at_ms: last.scheduled_at_ms,
                fired_at_ms: last.fired_at_ms,
                session_id,
                run_id,
                error,
            }
        }),
        next_firing_at_ms: schedule.next_firing_ms(now_ms),
    }
}

fn target_view(target: &ScheduleTarget) -> ScheduleTargetInput {
    match target {
        ScheduleTarget::Session { session_id } => ScheduleTargetInput::Session {
            session_id: session_id.clone(),
        },
        ScheduleTarget::NewSession { config_json } => {
            match serde_json::from_str(config_json) {
                Ok(config) => ScheduleTargetInput::NewSession { config },
                // Written by `target` from the same type; a record that no longer
                // decodes (a field since removed) shows as a template-less target.
                Err(err) => {
                    tracing::warn!(error = %err, "a stored session template does not decode");
                    ScheduleTargetInput::Session {
                        session_id: String::new(),
                    }
                }
            }
        }
    }
}
