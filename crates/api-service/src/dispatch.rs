//! The operator's hold on a universe's work: `operator/dispatch/pause|resume` and
//! `operator/runs/list|cancel`, acting on the universe the params name (the caller
//! holds an operator key, checked by `api::check_role`).
//!
//! A pause is kept in the universe's store (`DispatchCatalog`), so every gateway
//! and worker sees it, and carried into each session as the engine's `SetDispatch`
//! command, so the hold is in the session's log and no host can start a queued run
//! past it: the pause is admitted into every session with runs in flight or with
//! wake-ups pending (a `wake_me_at` falling due requests its run inside the engine,
//! with no run request through this service), and into any other session just
//! before its next run request (`hold_if_paused`). Resume releases the same
//! sessions; a held session with none left is released by its next run request.

use api::ApiError;
use api::types::operator::{
    DispatchParams, DispatchView, OperatorRunCancelParams, OperatorRunsListParams,
    OperatorRunsListResult, RunInFlightState, RunInFlightView,
};
use api::types::run::{RunAccepted, RunCancelParams};
use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::control::{ControlState, Lifecycle};
use futures::stream::{self, StreamExt, TryStreamExt};
use session_stores::DispatchCatalog;

use crate::errors::internal;
use crate::host::SessionHost;
use crate::mcp::now_ms;
use crate::service::Service;

/// Longest universe id an operator call may name.
const UNIVERSE_ID_BYTES_MAX: usize = 128;
/// Sessions with runs in flight or wake-ups pending a pause or resume reaches in
/// one call; the rest are reached by their next run request (pause) or stay held
/// until resumed again.
const SWEEP_SESSIONS_MAX: usize = 100_000;
/// Sessions admitted the pause (or release) at once.
const SWEEP_CONCURRENCY: usize = 16;
/// Sessions `operator/runs/list` reads unless asked, and at most.
const RUNS_LIST_SESSIONS_DEFAULT: u32 = 100;
const RUNS_LIST_SESSIONS_MAX: u32 = 1_000;

fn universe_of(raw: &str) -> Result<&str, ApiError> {
    if raw.is_empty() || raw.len() > UNIVERSE_ID_BYTES_MAX {
        return Err(ApiError::invalid_params(format!(
            "universeId must be 1 to {UNIVERSE_ID_BYTES_MAX} bytes"
        ))
        .with_reason("invalidUniverseId"));
    }
    Ok(raw)
}

fn dispatch_failed(err: impl std::fmt::Display) -> ApiError {
    internal("reading or changing the universe's dispatch", err)
}

impl<H: SessionHost> Service<H> {
    /// `operator/dispatch/pause` and `operator/dispatch/resume`.
    pub(crate) async fn set_dispatch(
        &self,
        params: DispatchParams,
        paused: bool,
    ) -> Result<DispatchView, ApiError> {
        let universe_id = universe_of(&params.universe_id)?;
        let store = self.store(universe_id).await?;
        // The flag first: a run request from now on reads it and holds its session.
        store
            .set_dispatch_paused(paused.then(now_ms))
            .await
            .map_err(dispatch_failed)?;
        let sessions = store
            .sessions_to_hold(SWEEP_SESSIONS_MAX)
            .await
            .map_err(dispatch_failed)?;
        let changed: Vec<bool> = stream::iter(sessions)
            .map(|session| async move {
                let control = self.control(universe_id, &session).await?;
                self.align_dispatch(universe_id, &session, &control, paused)
                    .await
            })
            .buffer_unordered(SWEEP_CONCURRENCY)
            .try_collect()
            .await?;
        let paused_at_ms = store
            .dispatch_paused_since()
            .await
            .map_err(dispatch_failed)?;
        Ok(DispatchView {
            universe_id: universe_id.to_owned(),
            paused: paused_at_ms.is_some(),
            paused_at_ms,
            sessions: u32::try_from(changed.into_iter().filter(|changed| *changed).count())
                .unwrap_or(u32::MAX),
        })
    }

    /// Before a run request: holds the session when its universe is paused (and
    /// releases one still held from a pause that ended).
    pub(crate) async fn hold_if_paused(
        &self,
        universe_id: &str,
        session: &SessionId,
        control: &ControlState,
    ) -> Result<(), ApiError> {
        let store = self.store(universe_id).await?;
        let paused = store
            .dispatch_paused_since()
            .await
            .map_err(dispatch_failed)?
            .is_some();
        self.align_dispatch(universe_id, session, control, paused)
            .await
            .map(drop)
    }

    /// Admits `SetDispatch { paused }` when the session's queue is not so already;
    /// whether it did. A session closed meanwhile has nothing to hold.
    async fn align_dispatch(
        &self,
        universe_id: &str,
        session: &SessionId,
        control: &ControlState,
        paused: bool,
    ) -> Result<bool, ApiError> {
        if control.lifecycle != Lifecycle::Open || control.dispatch_paused == paused {
            return Ok(false);
        }
        match self
            .admit(universe_id, session, CoreCommand::SetDispatch { paused })
            .await
        {
            Ok(_) => Ok(true),
            Err(err) if err.data.reason.as_deref() == Some("closed") => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// `operator/runs/list`: each session's active run, then its queue, for the
    /// sessions with runs in flight in id order.
    pub(crate) async fn list_runs_in_flight(
        &self,
        params: OperatorRunsListParams,
    ) -> Result<OperatorRunsListResult, ApiError> {
        let universe_id = universe_of(&params.universe_id)?;
        let limit = params
            .limit
            .unwrap_or(RUNS_LIST_SESSIONS_DEFAULT)
            .clamp(1, RUNS_LIST_SESSIONS_MAX) as usize;
        let store = self.store(universe_id).await?;
        let mut sessions = store
            .sessions_in_flight(limit + 1)
            .await
            .map_err(dispatch_failed)?;
        let truncated = sessions.len() > limit;
        sessions.truncate(limit);
        let listed = u32::try_from(sessions.len()).unwrap_or(u32::MAX);
        let now = now_ms();
        let mut runs = Vec::new();
        for session in sessions {
            let control = self.control(universe_id, &session).await?;
            runs.extend(runs_of(&session, &control, now));
        }
        let paused_at_ms = store
            .dispatch_paused_since()
            .await
            .map_err(dispatch_failed)?;
        Ok(OperatorRunsListResult {
            runs,
            dispatch: DispatchView {
                universe_id: universe_id.to_owned(),
                paused: paused_at_ms.is_some(),
                paused_at_ms,
                sessions: listed,
            },
            truncated,
        })
    }

    /// `operator/runs/cancel`: `run/cancel` in the universe the params name.
    pub(crate) async fn cancel_run_as_operator(
        &self,
        params: OperatorRunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        let universe_id = universe_of(&params.universe_id)?;
        self.cancel_run(
            universe_id,
            RunCancelParams {
                session_id: params.session_id,
                run_id: params.run_id,
                reason: Some(
                    params
                        .reason
                        .unwrap_or_else(|| "cancelled by the operator".to_owned()),
                ),
            },
        )
        .await
    }
}

/// The runs in flight of one session, as the operator sees them.
fn runs_of(session: &SessionId, control: &ControlState, now_ms: u64) -> Vec<RunInFlightView> {
    let view = |run_id: &engine::RunId, state, usage: &engine::core::run::Usage| {
        let times = control.run_times.get(run_id).copied().unwrap_or_default();
        RunInFlightView {
            session_id: session.to_string(),
            run_id: run_id.to_string(),
            state,
            requested_at_ms: times.requested_at_ms,
            started_at_ms: times.started_at_ms,
            age_ms: match times.requested_at_ms {
                0 => 0,
                at => now_ms.saturating_sub(at),
            },
            usage: api_projection::views::usage_view(usage),
        }
    };
    let idle = engine::core::run::Usage::default();
    control
        .runs
        .active
        .iter()
        .map(|run| view(&run.run_id, RunInFlightState::Active, &run.usage))
        .chain(
            control
                .runs
                .queue
                .iter()
                .map(|run| view(&run.run_id, RunInFlightState::Queued, &idle)),
        )
        .collect()
}
