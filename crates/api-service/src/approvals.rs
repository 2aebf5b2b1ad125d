//! `run/approve` and `run/deny`: a person's decision on the calls a session's tool
//! policy holds for approval (docs/spec/orchestration.md). Both are ordinary
//! admissions, so a decision is durable the moment it is accepted and acts at once,
//! however long the call waited.

use api::ApiError;
use api::types::run::{RunAccepted, RunApproveParams, RunDenyParams};
use api_projection::inputs;
use engine::ToolCallId;
use engine::core::command::{ApprovalDecision, CoreCommand};
use engine::core::limits::TOOL_CALLS_PER_TURN_MAX;

use crate::host::SessionHost;
use crate::service::Service;

/// Bytes of a denial message: it becomes each denied call's result.
pub(crate) const DENIAL_MESSAGE_BYTES_MAX: usize = 4 * 1024;

fn call_ids(raw: &[String]) -> Result<Vec<ToolCallId>, ApiError> {
    if raw.len() > TOOL_CALLS_PER_TURN_MAX {
        return Err(ApiError::invalid_params(format!(
            "callIds has {} entries; at most {TOOL_CALLS_PER_TURN_MAX} are allowed",
            raw.len()
        ))
        .with_reason("tooMany"));
    }
    raw.iter()
        .map(|id| {
            ToolCallId::new(id).map_err(|err| {
                ApiError::invalid_params(format!("callIds: {err}")).with_reason("invalidId")
            })
        })
        .collect()
}

impl<H: SessionHost> Service<H> {
    pub(crate) async fn approve_run(
        &self,
        universe_id: &str,
        params: RunApproveParams,
    ) -> Result<RunAccepted, ApiError> {
        let call_ids = call_ids(&params.call_ids)?;
        let run_id = inputs::run_id(&params.run_id)?;
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let command = CoreCommand::DecideApproval {
            run_id,
            call_ids,
            decision: ApprovalDecision::Approve {
                remember: params.remember,
            },
        };
        let admission = self.admit(universe_id, &session, command).await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: admission.head,
        })
    }

    pub(crate) async fn deny_run(
        &self,
        universe_id: &str,
        params: RunDenyParams,
    ) -> Result<RunAccepted, ApiError> {
        if params
            .message
            .as_ref()
            .is_some_and(|text| text.len() > DENIAL_MESSAGE_BYTES_MAX)
        {
            return Err(ApiError::invalid_params(format!(
                "message is longer than {DENIAL_MESSAGE_BYTES_MAX} bytes"
            ))
            .with_reason("inputTooLarge"));
        }
        let call_ids = call_ids(&params.call_ids)?;
        let run_id = inputs::run_id(&params.run_id)?;
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let decision = match params.message.filter(|text| !text.trim().is_empty()) {
            // The model reads this as the call's result: say plainly what happened.
            Some(message) => {
                let text =
                    format!("Tool call not executed: the user denied it and said: {message}");
                let stored = self.put_text(universe_id, text).await?;
                ApprovalDecision::Deny {
                    output_ref: Some(stored.content_ref),
                    token_estimate: stored.token_estimate,
                }
            }
            None => ApprovalDecision::Deny {
                output_ref: None,
                token_estimate: 0,
            },
        };
        let command = CoreCommand::DecideApproval {
            run_id,
            call_ids,
            decision,
        };
        let admission = self.admit(universe_id, &session, command).await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: admission.head,
        })
    }
}

impl<H: SessionHost> Service<H> {
    /// `session/wake-ups/cancel`.
    pub(crate) async fn cancel_wake_up(
        &self,
        universe_id: &str,
        params: api::types::session::SessionWakeUpCancelParams,
    ) -> Result<api::types::session::SessionView, ApiError> {
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let command = CoreCommand::CancelWakeUp {
            wake_up: params.wake_up,
        };
        self.admit(universe_id, &session, command).await?;
        self.view(universe_id, &session).await
    }
}

/// Bytes of a waiting call's arguments shown in its view.
const ARGUMENTS_PREVIEW_BYTES: usize = 2 * 1024;

impl<H: SessionHost> Service<H> {
    /// The session view with each waiting call's arguments filled in (cut at 2 KiB),
    /// so whoever decides an approval sees what the call would do.
    pub(crate) async fn view_with_waiting(
        &self,
        universe_id: &str,
        session: &engine::SessionId,
        control: &engine::core::control::ControlState,
    ) -> Result<api::types::session::SessionView, ApiError> {
        use engine::core::run::RunPhase;
        use engine::store::BlobStore;
        let mut view = crate::sessions::view_of(session, control);
        let (Some(run_view), Some(run)) = (view.active_run.as_mut(), control.runs.active.as_ref())
        else {
            return Ok(view);
        };
        let RunPhase::AwaitingTools { calls, .. } = &run.phase else {
            return Ok(view);
        };
        if run_view.waiting.is_empty() {
            return Ok(view);
        }
        let store = self.store(universe_id).await?;
        for waiting in &mut run_view.waiting {
            let Some(call) = calls
                .iter()
                .find(|call| call.request.call_id.as_str() == waiting.call_id)
            else {
                continue;
            };
            let arguments_ref = &call.request.arguments_ref;
            // Bounded before reading: arguments come from the model.
            match store.blob_len(arguments_ref).await {
                Ok(Some(len)) if len <= 64 * 1024 => {}
                _ => continue,
            }
            if let Ok(bytes) = store.get(arguments_ref).await {
                waiting.arguments = Some(preview(&bytes));
            }
        }
        Ok(view)
    }
}

/// Up to [`ARGUMENTS_PREVIEW_BYTES`] of `bytes` as text, marked when cut.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= ARGUMENTS_PREVIEW_BYTES {
        return text.into_owned();
    }
    let mut end = ARGUMENTS_PREVIEW_BYTES;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &text[..end], bytes.len())
}
