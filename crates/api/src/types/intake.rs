//! Event intake (`events/ingest`): an event from outside (a webhook, a sensor, a
//! queue) becomes a run, or input to the active run, in a session the event names
//! or that its route or template makes. Deliveries of the same event (source and
//! dedupe key) within the deployment's window are one event, however many
//! gateways they reach (docs/operating/events.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::session::SessionConfigInput;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EventIngestParams {
    /// Who sent it: 1 to 128 bytes of ASCII letters, digits and `._:-` (`github`,
    /// `sensor:door-3`).
    pub source: String,
    /// The sender's id for the event, 1 to 256 bytes.
    pub event_id: String,
    /// Deliveries with the same source and dedupe key within the window are one
    /// event (default: `eventId`), 1 to 256 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedupe_key: Option<String>,
    /// What kind of event it is (GitHub's `X-GitHub-Event`), at most 128 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_type: Option<String>,
    /// The event's data, any JSON, at most `LIGHTSPEED_EVENTS_PAYLOAD_BYTES_MAX`
    /// encoded: the run's input, with the source, type and id.
    pub payload: serde_json::Value,
    pub target: EventTargetInput,
    #[serde(default)]
    pub policy: EventPolicyInput,
}

/// Which session the event goes to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum EventTargetInput {
    /// This existing session.
    #[serde(rename_all = "camelCase")]
    Session { session_id: String },
    /// The session the source's routing key maps to (one per source and key,
    /// started from `template` by the first event that needs it).
    #[serde(rename_all = "camelCase")]
    Route {
        routing_key: String,
        template: Box<SessionConfigInput>,
    },
    /// A fresh session per event, started from `template`.
    #[serde(rename_all = "camelCase")]
    NewSession { template: Box<SessionConfigInput> },
}

/// What the event does in its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum EventPolicyInput {
    /// A run of its own, queued behind the session's runs (the default).
    #[default]
    Run,
    /// Input to the session's active run (`run/steer`), or a run of its own when
    /// none is active.
    SteerOrRun,
    /// Wakes the session's soonest pending wake-up (`wake_me_at`) now: its run
    /// starts with the wake-up's input, then the event. A run of its own when none
    /// is pending.
    WakeUp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventIngestResult {
    /// An earlier delivery of this event was taken within the window: nothing new
    /// was done, and the ids are that delivery's (absent while it is still being
    /// turned into a run).
    pub duplicate: bool,
    /// When the delivery that counts was received.
    pub received_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// The run it started (or woke), or the active run it steered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// It became input to the active run rather than a run of its own.
    pub steered: bool,
}
