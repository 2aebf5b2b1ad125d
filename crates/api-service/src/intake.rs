//! `events/ingest`: an event from outside becomes a run (or input to the active
//! run) exactly once per `(source, dedupe key)` within the deployment's window.
//!
//! Two guards, so a redelivery never starts a second run:
//! 1. The universe's store claims the delivery (`DispatchCatalog::claim_delivery`:
//!    Postgres's primary key across every gateway); a delivery that finds a claim
//!    within the window answers `duplicate` with what the first one became.
//! 2. The run's submission id (and a fresh session's id) are derived from the
//!    source and dedupe key, so even two claims (a crash between claiming and
//!    settling, then a redelivery after the window) are one run to the engine,
//!    which answers a repeated submission with the run it made.
//!
//! A delivery that fails to become a run releases its claim, so the sender's retry
//! is taken as new. The `wakeUp` policy fires the session's soonest pending wake-up
//! early (`CoreCommand::WakeUpNow`) with the event after the wake-up's own input.

use api::ApiError;
use api::types::intake::{
    EventIngestParams, EventIngestResult, EventPolicyInput, EventTargetInput,
};
use api::types::run::{InputItem, RunStartParams, RunSteerParams};
use api::types::session::{SessionConfigInput, SessionStartParams};
use api_projection::items;
use engine::core::command::CoreCommand;
use engine::core::control::Lifecycle;
use session_stores::DispatchCatalog;

use crate::errors::internal;
use crate::host::SessionHost;
use crate::mcp::now_ms;
use crate::service::Service;

/// Bounds of event intake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntakeLimits {
    /// Deliveries of one event (source and dedupe key) within this long are one.
    pub dedupe_window_ms: u64,
    /// Largest payload, as compact JSON, bytes.
    pub payload_bytes_max: u64,
}

/// Default [`IntakeLimits::dedupe_window_ms`]: a day, longer than senders retry
/// (GitHub gives up on a delivery within hours).
pub const EVENTS_DEDUPE_WINDOW_S_DEFAULT: u64 = 24 * 60 * 60;
/// Default [`IntakeLimits::payload_bytes_max`].
pub const EVENTS_PAYLOAD_BYTES_MAX_DEFAULT: u64 = 256 * 1024;

impl Default for IntakeLimits {
    fn default() -> Self {
        Self {
            dedupe_window_ms: EVENTS_DEDUPE_WINDOW_S_DEFAULT * 1_000,
            payload_bytes_max: EVENTS_PAYLOAD_BYTES_MAX_DEFAULT,
        }
    }
}

const SOURCE_BYTES_MAX: usize = 128;
const KEY_BYTES_MAX: usize = 256;
const EVENT_TYPE_BYTES_MAX: usize = 128;
/// One claim in this many also forgets deliveries older than the window, so the
/// table stays about a window's deliveries without a sweeper.
const PRUNE_EVERY: u64 = 64;

fn invalid(field: &str, rule: &str) -> ApiError {
    ApiError::invalid_params(format!("{field} must be {rule}")).with_reason("invalidEvent")
}

fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(invalid(
            field,
            &format!("1 to {max} bytes without control characters"),
        ));
    }
    Ok(())
}

fn check_source(source: &str) -> Result<(), ApiError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-');
    if source.is_empty() || source.len() > SOURCE_BYTES_MAX || !source.chars().all(allowed) {
        return Err(invalid(
            "source",
            "1 to 128 bytes of ASCII letters, digits and ._:-",
        ));
    }
    Ok(())
}

/// A short, stable name for `parts` (hex of their sha256, 32 digits).
fn derived(parts: &[&str]) -> String {
    let joined = parts.join("\u{0}");
    let digest = engine::BlobRef::of_bytes(joined.as_bytes());
    digest.hex_digest()[..32].to_owned()
}

/// The run's input: where the event came from, then its payload.
fn event_text(params: &EventIngestParams, payload: &str) -> String {
    let kind = params.event_type.as_deref().unwrap_or("event");
    format!(
        "Event `{kind}` from `{}` (id `{}`):\n\n```json\n{payload}\n```",
        params.source, params.event_id
    )
}

impl<H: SessionHost> Service<H> {
    pub(crate) async fn ingest_event(
        &self,
        universe_id: &str,
        params: EventIngestParams,
    ) -> Result<EventIngestResult, ApiError> {
        check_source(&params.source)?;
        check_text("eventId", &params.event_id, KEY_BYTES_MAX)?;
        let dedupe_key = params.dedupe_key.as_deref().unwrap_or(&params.event_id);
        check_text("dedupeKey", dedupe_key, KEY_BYTES_MAX)?;
        if let Some(kind) = &params.event_type {
            check_text("eventType", kind, EVENT_TYPE_BYTES_MAX)?;
        }
        if let EventTargetInput::Route { routing_key, .. } = &params.target {
            check_text("target.routingKey", routing_key, KEY_BYTES_MAX)?;
        }
        let payload = serde_json::to_string_pretty(&params.payload)
            .map_err(|err| internal("encoding an event payload", err))?;
        let limit = self.quotas.intake.payload_bytes_max;
        if payload.len() as u64 > limit {
            return Err(ApiError::invalid_params(format!(
                "the payload is {} bytes, over the {limit} allowed",
                payload.len()
            ))
            .with_reason("payloadTooLarge"));
        }
        // An unknown session is refused before anything is claimed.
        if let EventTargetInput::Session { session_id } = &params.target {
            self.existing_session(universe_id, session_id).await?;
        }

        let store = self.store(universe_id).await?;
        let now = now_ms();
        let window = self.quotas.intake.dedupe_window_ms;
        let source = params.source.as_str();
        if now.is_multiple_of(PRUNE_EVERY) {
            let before = now.saturating_sub(window);
            if let Err(err) = store.prune_deliveries(before).await {
                tracing::warn!(universe_id, error = %err, "pruning event deliveries failed");
            }
        }
        let claimed = store
            .claim_delivery(source, dedupe_key, now, window)
            .await
            .map_err(|err| internal("claiming an event delivery", err))?;
        if let Some(prior) = claimed {
            return Ok(EventIngestResult {
                duplicate: true,
                received_at_ms: prior.received_at_ms,
                session_id: prior.session_id,
                run_id: prior.run_id,
                steered: false,
            });
        }
        let delivered = self
            .deliver(universe_id, &params, dedupe_key, &payload)
            .await;
        match delivered {
            Ok((session_id, run_id, steered)) => {
                store
                    .settle_delivery(source, dedupe_key, &session_id, Some(&run_id))
                    .await
                    .map_err(|err| internal("recording an event delivery", err))?;
                Ok(EventIngestResult {
                    duplicate: false,
                    received_at_ms: now,
                    session_id: Some(session_id),
                    run_id: Some(run_id),
                    steered,
                })
            }
            Err(err) => {
                if let Err(release) = store.release_delivery(source, dedupe_key).await {
                    tracing::warn!(universe_id, error = %release, "releasing an event delivery failed");
                }
                Err(err)
            }
        }
    }

    /// Turns a claimed delivery into a run or a steer: its session, the run, and
    /// whether it steered.
    async fn deliver(
        &self,
        universe_id: &str,
        params: &EventIngestParams,
        dedupe_key: &str,
        payload: &str,
    ) -> Result<(String, String, bool), ApiError> {
        let source = params.source.as_str();
        let session_id = match &params.target {
            EventTargetInput::Session { session_id } => session_id.clone(),
            EventTargetInput::Route {
                routing_key,
                template,
            } => {
                let id = format!("evt-{}", derived(&["route", source, routing_key]));
                self.ensure_session(universe_id, &id, template).await?;
                id
            }
            EventTargetInput::NewSession { template } => {
                let id = format!("evt-{}", derived(&["event", source, dedupe_key]));
                self.ensure_session(universe_id, &id, template).await?;
                id
            }
        };
        let input = vec![InputItem::Text {
            text: event_text(params, payload),
        }];
        if params.policy == EventPolicyInput::WakeUp
            && let Some(run_id) = self.wake_up_now(universe_id, &session_id, &input).await?
        {
            return Ok((session_id, run_id, false));
        }
        if params.policy == EventPolicyInput::SteerOrRun {
            let (_, control) = self.existing_session(universe_id, &session_id).await?;
            if let Some(active) = &control.runs.active {
                let steer = RunSteerParams {
                    session_id: session_id.clone(),
                    run_id: active.run_id.to_string(),
                    input: input.clone(),
                };
                match Box::pin(self.steer_run(universe_id, steer)).await {
                    Ok(accepted) => return Ok((session_id, accepted.run_id, true)),
                    // It ended meanwhile: the event gets a run of its own.
                    Err(err) if err.data.reason.as_deref() == Some("runNotActive") => {}
                    Err(err) => return Err(err),
                }
            }
        }
        let run = RunStartParams {
            session_id: session_id.clone(),
            submission_id: format!("evt-{}", derived(&["run", source, dedupe_key])),
            input,
            overrides: None,
        };
        let started = Box::pin(self.start_run(universe_id, run)).await?;
        Ok((session_id, started.run_id, false))
    }

    /// Fires the session's soonest pending wake-up now with `input` after its own;
    /// the run it requested, `None` when no wake-up is pending.
    async fn wake_up_now(
        &self,
        universe_id: &str,
        session_id: &str,
        input: &[InputItem],
    ) -> Result<Option<String>, ApiError> {
        let (session, control) = self.existing_session(universe_id, session_id).await?;
        let Some(wake_up) = control
            .wake_ups
            .iter()
            .min_by_key(|wake| (wake.at_ms, wake.wake_up))
            .map(|wake| wake.wake_up)
        else {
            return Ok(None);
        };
        let store = self.store(universe_id).await?;
        let gate = self.content_gate(&*store);
        let voice = items::VoiceNotes::Refused;
        let input = items::input_items(&*store, &gate, input, &self.quotas.input, voice).await?;
        self.hold_if_paused(universe_id, &session, &control).await?;
        match self
            .admit(
                universe_id,
                &session,
                CoreCommand::WakeUpNow { wake_up, input },
            )
            .await
        {
            Ok(admission) => Ok(admission.run_id.map(|run| run.to_string())),
            // It fired or was cancelled meanwhile: the event gets a run of its own.
            Err(err) if err.data.reason.as_deref() == Some("unknownWakeUp") => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Starts session `id` from `template` unless it exists.
    async fn ensure_session(
        &self,
        universe_id: &str,
        id: &str,
        template: &SessionConfigInput,
    ) -> Result<(), ApiError> {
        let session = api_projection::inputs::session_id(id)?;
        if self.control(universe_id, &session).await?.lifecycle != Lifecycle::Uninitialized {
            return Ok(());
        }
        let params = SessionStartParams {
            session_id: Some(id.to_owned()),
            config: template.clone(),
        };
        Box::pin(self.start_session(universe_id, params)).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_and_keys_are_checked_and_names_are_stable() {
        assert!(check_source("github").is_ok());
        assert!(check_source("sensor:door-3.a_b").is_ok());
        assert!(check_source("").is_err());
        assert!(check_source("a b").is_err());
        assert!(check_source(&"x".repeat(129)).is_err());
        assert!(check_text("eventId", "d-1", KEY_BYTES_MAX).is_ok());
        assert!(check_text("eventId", "a\nb", KEY_BYTES_MAX).is_err());
        assert_eq!(derived(&["a", "b"]), derived(&["a", "b"]));
        assert_ne!(derived(&["a", "b"]), derived(&["ab", ""]));
        assert_eq!(derived(&["a"]).len(), 32);
    }
}
