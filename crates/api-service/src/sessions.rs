//! Session and run methods: validated inputs become engine commands admitted by the
//! host; views come from the store.

use api::ApiError;
use api::types::run::*;
use api::types::session::*;
use api_projection::{inputs, items};
use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::config::SessionConfig;
use engine::core::control::{ControlState, Lifecycle};
use session_stores::{SessionActivity, SessionIndex};

use crate::errors::{internal, session_not_found};
use crate::host::{Admission, AdmitFailure, SessionHost, SessionKey};
use crate::service::Service;

/// An admission failure as the error clients see.
pub(crate) fn admit_error(failure: AdmitFailure) -> ApiError {
    match failure {
        AdmitFailure::Rejected(rejection) => inputs::rejection(rejection),
        AdmitFailure::Refused(refused) => {
            inputs::rejection_error(refused.code, refused.message, refused.current_revision)
        }
        AdmitFailure::Lost => {
            ApiError::conflict("the session reloaded before the command was committed; retry it")
                .with_reason("admissionLost")
        }
        AdmitFailure::Busy(detail) => {
            tracing::info!(detail = %detail, "admission shed for load");
            ApiError::new(
                api::ErrorKind::Overloaded,
                "the session is busy with other commands; retry shortly",
            )
            .with_reason("sessionOverloaded")
        }
        AdmitFailure::Unavailable(detail) => internal("admitting the command", detail),
    }
}

/// The config of an open session. Every opened session has one; a state without it
/// is a broken invariant of the stored log, reported as a server fault.
fn opened_config(control: &ControlState) -> Result<&SessionConfig, ApiError> {
    control
        .config
        .as_ref()
        .ok_or_else(|| internal("reading the session config", "open session without config"))
}

/// The view of an opened session's committed control state.
pub(crate) fn view_of(session: &SessionId, control: &ControlState) -> SessionView {
    let filesystem = api_projection::filesystem::session_filesystem(control);
    api_projection::views::session_view(session, control, filesystem)
}

pub(crate) fn new_session_id() -> Result<SessionId, ApiError> {
    SessionId::new(format!("session_{}", uuid::Uuid::new_v4().simple()))
        .map_err(|err| internal("naming a session", err))
}

impl<H: SessionHost> Service<H> {
    pub(crate) async fn admit(
        &self,
        universe_id: &str,
        session: &SessionId,
        command: CoreCommand,
    ) -> Result<Admission, ApiError> {
        self.host
            .admit(&SessionKey::new(universe_id, session), command)
            .await
            .map_err(admit_error)
    }

    /// The session named `raw`, if it was ever opened in this universe, with its
    /// committed control state.
    pub(crate) async fn existing_session(
        &self,
        universe_id: &str,
        raw: &str,
    ) -> Result<(SessionId, ControlState), ApiError> {
        let session = inputs::session_id(raw)?;
        let control = self.control(universe_id, &session).await?;
        if control.lifecycle == Lifecycle::Uninitialized {
            return Err(session_not_found(raw));
        }
        Ok((session, control))
    }

    pub(crate) async fn view(
        &self,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<SessionView, ApiError> {
        let control = self.control(universe_id, session).await?;
        if control.lifecycle == Lifecycle::Uninitialized {
            return Err(session_not_found(session.as_str()));
        }
        Ok(view_of(session, &control))
    }

    /// One keyset page: one indexed query for the page's sessions (one more row
    /// than the page, to know whether another follows), then each row's control
    /// state, from the cache, for its status and model. The cost is the page's,
    /// never the universe's.
    pub(crate) async fn list(
        &self,
        universe_id: &str,
        params: SessionListParams,
    ) -> Result<SessionListResult, ApiError> {
        let page = api_projection::views::session_list_page(&params)?;
        let store = self.store(universe_id).await?;
        let after = page
            .after
            .map(|(last_activity_at_ms, session_id)| SessionActivity {
                last_activity_at_ms,
                session_id,
            });
        let mut rows = SessionIndex::sessions_by_activity(&*store, after.as_ref(), page.limit + 1)
            .await
            .map_err(|err| internal("listing sessions", err))?;
        let more = rows.len() > page.limit;
        rows.truncate(page.limit);
        let next_cursor = rows.last().filter(|_| more).map(|last| {
            api_projection::views::session_list_cursor(last.last_activity_at_ms, &last.session_id)
        });
        let mut sessions = Vec::with_capacity(rows.len());
        for row in rows {
            let control = self.control(universe_id, &row.session_id).await?;
            if control.lifecycle != Lifecycle::Uninitialized {
                let mut summary = api_projection::views::session_summary(&row.session_id, &control);
                // The time the page is ordered (and continued) by, even if the
                // session moved on since the query.
                summary.updated_at_ms = row.last_activity_at_ms;
                sessions.push(summary);
            }
        }
        Ok(SessionListResult {
            sessions,
            next_cursor,
        })
    }

    pub(crate) async fn start_session(
        &self,
        universe_id: &str,
        params: SessionStartParams,
    ) -> Result<SessionView, ApiError> {
        let mut prepared = inputs::prepare_session(&params)?;
        inputs::apply_models_to_session(&self.models, &params.config, &mut prepared.config)?;
        self.quotas
            .ceilings
            .check_config(&prepared.config, "config.")?;
        let session_id = match prepared.session_id.clone() {
            Some(id) => id,
            None => new_session_id()?,
        };
        let store = self.store(universe_id).await?;
        if self.control(universe_id, &session_id).await?.lifecycle == Lifecycle::Uninitialized {
            self.check_session_quota(universe_id).await?;
        }
        let instructions = match prepared.instructions {
            Some(instructions) => Some(
                items::instructions_item(&*store, &self.content_gate(&*store), instructions)
                    .await?,
            ),
            None => None,
        };
        let command = CoreCommand::OpenSession {
            session_id: session_id.clone(),
            config: prepared.config.clone(),
            instructions,
            parent: Default::default(),
        };
        match self.admit(universe_id, &session_id, command).await {
            Ok(_) => {}
            // Starting an existing session again is fine with the same config.
            Err(err) if err.data.reason.as_deref() == Some("alreadyOpen") => {
                let control = self.control(universe_id, &session_id).await?;
                if control.config.as_ref() != Some(&prepared.config) {
                    return Err(ApiError::conflict(format!(
                        "session {session_id} exists with another config"
                    ))
                    .with_reason("sessionExists"));
                }
            }
            Err(err) => return Err(err),
        }
        let control = self.control(universe_id, &session_id).await?;
        let timers = match prepared.timers {
            true => effects::timer_tools::timer_definitions(),
            false => Vec::new(),
        };
        let register = api_projection::filesystem::register_command(
            &*store,
            &control,
            prepared.filesystem,
            timers,
        )
        .await?;
        if let Some(command) = register {
            match self.admit(universe_id, &session_id, command).await {
                Ok(_) => {}
                // A concurrent start of the same session registered them first.
                Err(err) if err.data.reason.as_deref() == Some("revisionConflict") => {}
                Err(err) => return Err(err),
            }
        }
        if prepared.schedules {
            let family = &effects::schedule_tools::SCHEDULE_TOOLS;
            // Boxed: inline, this admission's future on top of the start's overflows
            // a runtime thread's stack in debug builds of the Temporal host.
            Box::pin(
                self.sync_tool_family(universe_id, &session_id, family, None, |_| {
                    effects::schedule_tools::schedule_definitions()
                }),
            )
            .await?;
        }
        if prepared.agents {
            let family = &effects::agent_tools::AGENT_TOOLS;
            Box::pin(
                self.sync_tool_family(universe_id, &session_id, family, None, |_| {
                    effects::agent_tools::agent_definitions()
                }),
            )
            .await?;
        }
        self.view(universe_id, &session_id).await
    }

    pub(crate) async fn update_session(
        &self,
        universe_id: &str,
        params: SessionUpdateParams,
    ) -> Result<SessionView, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let current = opened_config(&control)?;
        let mut patch = inputs::config_patch(current, &params.patch)?;
        inputs::apply_models_to_patch(&self.models, current, &params.patch, &mut patch)?;
        self.quotas
            .ceilings
            .check_patch(current, &patch, "patch.")?;
        let command = CoreCommand::PatchConfig {
            expected_revision: params.expected_revision,
            patch,
        };
        self.admit(universe_id, &session, command).await?;
        self.view(universe_id, &session).await
    }

    pub(crate) async fn close_session(
        &self,
        universe_id: &str,
        params: SessionRef,
    ) -> Result<SessionView, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        if control.lifecycle != Lifecycle::Closed
            && let Err(err) = self.admit(universe_id, &session, CoreCommand::Close).await
        {
            // The close may be committed although its reply was lost: Temporal
            // fails the update when the workflow task that ends the workflow after
            // it races an activity's completion, and retries that task. The log
            // decides: a session it shows closed was closed.
            let (_, now) = self
                .existing_session(universe_id, &params.session_id)
                .await?;
            if now.lifecycle != Lifecycle::Closed {
                return Err(err);
            }
            tracing::info!(session = %session, error = %err.message, "the close was committed; its reply was lost");
        }
        self.view(universe_id, &session).await
    }

    pub(crate) async fn start_run(
        &self,
        universe_id: &str,
        params: RunStartParams,
    ) -> Result<RunStartResult, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let submission_id = inputs::submission_id(&params.submission_id)?;
        let config = opened_config(&control)?;
        let overrides = inputs::run_overrides(config, params.overrides.as_ref())?;
        // A submission the session remembers is answered with the run it made (the
        // engine decides, comparing the input), whatever the universe holds now: a
        // client retrying an accepted run/start must not be refused for the run it
        // is asking about. Its input is stored already, so the content gate below
        // finds nothing new in it either.
        if control.runs.submission(&submission_id).is_none() {
            self.quotas.ceilings.check_run(config, &overrides)?;
            inputs::check_run_models(&self.models, config, &overrides)?;
            self.check_runs_quota(universe_id).await?;
        }
        let store = self.store(universe_id).await?;
        let gate = self.content_gate(&*store);
        let voice = items::VoiceNotes::Accepted;
        let input =
            items::input_items(&*store, &gate, &params.input, &self.quotas.input, voice).await?;
        let command = CoreCommand::RequestRun {
            submission_id,
            input,
            overrides,
        };
        // The operator's pause reaches the session before its run does.
        self.hold_if_paused(universe_id, &session, &control).await?;
        let admission = self.admit(universe_id, &session, command).await?;
        let run_id = admission
            .run_id
            .ok_or_else(|| internal("starting a run", "run request admitted without a run"))?;
        Ok(RunStartResult {
            run_id: run_id.to_string(),
            duplicate: admission.duplicate,
            event_cursor: admission.head,
        })
    }

    pub(crate) async fn cancel_run(
        &self,
        universe_id: &str,
        params: RunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let run_id = inputs::run_id(&params.run_id)?;
        let command = CoreCommand::CancelRun {
            run_id,
            reason: params.reason,
        };
        let admission = self.admit(universe_id, &session, command).await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: admission.head,
        })
    }

    pub(crate) async fn steer_run(
        &self,
        universe_id: &str,
        params: RunSteerParams,
    ) -> Result<RunAccepted, ApiError> {
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let run_id = inputs::run_id(&params.run_id)?;
        let store = self.store(universe_id).await?;
        let gate = self.content_gate(&*store);
        let voice = items::VoiceNotes::Refused;
        let input =
            items::input_items(&*store, &gate, &params.input, &self.quotas.input, voice).await?;
        let admission = self
            .admit(universe_id, &session, CoreCommand::Steer { run_id, input })
            .await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: admission.head,
        })
    }
}

#[cfg(test)]
mod tests {
    use api::ErrorKind;
    use engine::core::command::{Rejection, RejectionCode};

    use super::*;
    use crate::host::RemoteRejection;

    #[test]
    fn every_admission_failure_has_its_contract_code() {
        let cases = [
            (
                AdmitFailure::Rejected(Rejection::SessionBusy),
                ErrorKind::Conflict,
            ),
            (
                AdmitFailure::Refused(RemoteRejection {
                    code: RejectionCode::RevisionConflict,
                    message: "expected 1".into(),
                    current_revision: Some(3),
                }),
                ErrorKind::Conflict,
            ),
            (AdmitFailure::Lost, ErrorKind::Conflict),
            (AdmitFailure::Busy("shed".into()), ErrorKind::Overloaded),
            (
                AdmitFailure::Unavailable("dial tcp 10.0.0.1: /var/secret".into()),
                ErrorKind::Internal,
            ),
        ];
        for (failure, kind) in cases {
            let error = admit_error(failure);
            assert_eq!(error.data.kind, kind, "{error:?}");
            // Host details stay in the log, never in what a client reads.
            assert!(!error.message.contains("/var/secret"), "{error:?}");
        }
    }
}
