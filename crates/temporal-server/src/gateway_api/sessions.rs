//! Session and run methods: validated inputs become engine commands admitted through
//! the session workflow; views come from the store.

use api::ApiError;
use api::types::run::*;
use api::types::session::*;
use api_projection::{inputs, items};
use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::control::{ControlState, Lifecycle};
use temporal_workflow::{AdmitRejected, AdmitReply};

use super::TemporalApi;
use crate::sessions::AdmitError;
use crate::stores::StoreProvider;

/// An engine rejection (or a Temporal failure) as the API error clients see. The
/// codes are those of `api_projection::inputs::rejection`, which classifies the
/// same engine rejections for the in-process backend.
pub(crate) fn admit_error(err: AdmitError) -> ApiError {
    let rejected = match err {
        AdmitError::Rejected(rejected) => rejected,
        AdmitError::Temporal(message) => return ApiError::internal(message),
    };
    let AdmitRejected {
        code,
        message,
        current_revision,
    } = rejected;
    let error = match code.as_str() {
        "revisionConflict"
        | "submissionConflict"
        | "sessionBusy"
        | "alreadyOpen"
        | "compactionPending"
        | AdmitRejected::ADMISSION_LOST => ApiError::conflict(message),
        "notOpen" | "unknownRun" | "runNotActive" => ApiError::not_found(message),
        "closed" | "alreadyCancelling" | "staleResult" => ApiError::rejected(message),
        _ => ApiError::invalid_params(message),
    };
    let error = error.with_reason(code);
    match current_revision {
        Some(revision) => error.with_current_revision(revision),
        None => error,
    }
}

fn opened_config(control: &ControlState) -> Result<engine::core::config::SessionConfig, ApiError> {
    control
        .config
        .clone()
        .ok_or_else(|| ApiError::internal("open session without config"))
}

impl<P: StoreProvider> TemporalApi<P> {
    pub(crate) async fn admit(
        &self,
        universe_id: &str,
        session: &SessionId,
        command: CoreCommand,
    ) -> Result<AdmitReply, ApiError> {
        self.sessions
            .admit(universe_id, session, command)
            .await
            .map_err(admit_error)
    }

    pub(crate) async fn start_session(
        &self,
        universe_id: &str,
        params: SessionStartParams,
    ) -> Result<SessionView, ApiError> {
        let prepared = inputs::prepare_session(&params)?;
        let session_id = match prepared.session_id.clone() {
            Some(id) => id,
            None => SessionId::new(format!("session_{}", uuid::Uuid::new_v4().simple()))
                .map_err(|err| ApiError::internal(err.to_string()))?,
        };
        let store = self.store(universe_id).await?;
        let instructions = match prepared.instructions {
            Some(instructions) => Some(items::instructions_item(&*store, instructions).await?),
            None => None,
        };
        let command = CoreCommand::OpenSession {
            session_id: session_id.clone(),
            config: prepared.config.clone(),
            instructions,
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
        let register =
            api_projection::filesystem::register_command(&*store, &control, prepared.filesystem)
                .await?;
        if let Some(command) = register {
            match self.admit(universe_id, &session_id, command).await {
                Ok(_) => {}
                // A concurrent start of the same session registered them first.
                Err(err) if err.data.reason.as_deref() == Some("revisionConflict") => {}
                Err(err) => return Err(err),
            }
        }
        self.view(universe_id, &session_id).await
    }

    pub(crate) async fn update_session(
        &self,
        universe_id: &str,
        params: SessionUpdateParams,
    ) -> Result<SessionView, ApiError> {
        let session = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let control = self.control(universe_id, &session).await?;
        let patch = inputs::config_patch(&opened_config(&control)?, &params.patch)?;
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
        let session = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        if self.control(universe_id, &session).await?.lifecycle != Lifecycle::Closed {
            self.admit(universe_id, &session, CoreCommand::Close)
                .await?;
        }
        self.view(universe_id, &session).await
    }

    pub(crate) async fn start_run(
        &self,
        universe_id: &str,
        params: RunStartParams,
    ) -> Result<RunStartResult, ApiError> {
        let session = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let submission_id = inputs::submission_id(&params.submission_id)?;
        let store = self.store(universe_id).await?;
        let input = items::input_items(&*store, &params.input).await?;
        let control = self.control(universe_id, &session).await?;
        let overrides =
            inputs::run_overrides(&opened_config(&control)?, params.overrides.as_ref())?;
        let command = CoreCommand::RequestRun {
            submission_id,
            input,
            overrides,
        };
        let reply = self.admit(universe_id, &session, command).await?;
        let run_id = reply
            .run_id
            .ok_or_else(|| ApiError::internal("run request admitted without a run"))?;
        Ok(RunStartResult {
            run_id: run_id.to_string(),
            duplicate: reply.duplicate,
            event_cursor: reply.head,
        })
    }

    pub(crate) async fn cancel_run(
        &self,
        universe_id: &str,
        params: RunCancelParams,
    ) -> Result<RunAccepted, ApiError> {
        let session = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let run_id = inputs::run_id(&params.run_id)?;
        let command = CoreCommand::CancelRun {
            run_id,
            reason: params.reason,
        };
        let reply = self.admit(universe_id, &session, command).await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: reply.head,
        })
    }

    pub(crate) async fn steer_run(
        &self,
        universe_id: &str,
        params: RunSteerParams,
    ) -> Result<RunAccepted, ApiError> {
        let session = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let run_id = inputs::run_id(&params.run_id)?;
        let store = self.store(universe_id).await?;
        let input = items::input_items(&*store, &params.input).await?;
        let reply = self
            .admit(universe_id, &session, CoreCommand::Steer { run_id, input })
            .await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: reply.head,
        })
    }
}
