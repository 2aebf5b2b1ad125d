//! Schedules (`schedule/*`): runs started on a session, or on a fresh session per
//! firing, every N seconds or on a cron expression, with an overlap policy; a
//! firing missed during downtime is coalesced with the others of its window into
//! one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::types::session::SessionConfigInput;

/// When a schedule fires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum ScheduleSpecInput {
    /// Every `everySeconds` (at least the deployment's floor, 60 by default), at the
    /// multiples of it since the Unix epoch.
    #[serde(rename_all = "camelCase")]
    Interval { every_seconds: u64 },
    /// A 5-field cron expression (minute hour day-of-month month day-of-week), in
    /// `timezone` (an IANA name; UTC when absent). No `L`, `W`, `#`, `?` or
    /// `@nicknames`, and not both a day of month and a day of week.
    #[serde(rename_all = "camelCase")]
    Cron {
        expression: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timezone: Option<String>,
    },
}

/// Where each firing's run goes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub enum ScheduleTargetInput {
    /// A run on this existing session.
    #[serde(rename_all = "camelCase")]
    Session { session_id: String },
    /// A fresh session per firing, started with this config.
    #[serde(rename_all = "camelCase")]
    NewSession { config: Box<SessionConfigInput> },
}

/// What a firing does while the schedule's previous firing's run is still queued
/// or running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OverlapPolicyInput {
    /// Dropped (the default).
    #[default]
    Skip,
    /// Kept (one at most) until the previous run finishes.
    BufferOne,
    /// Started at once: its run queues in the session.
    AllowAll,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleCreateParams {
    /// `[a-z0-9_-]`, 1 to 64 characters, unique in the universe; generated when
    /// absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_id: Option<String>,
    /// For people (at most 256 bytes).
    #[serde(default)]
    pub name: String,
    pub spec: ScheduleSpecInput,
    pub target: ScheduleTargetInput,
    /// The text of each firing's run (at most 32 KiB).
    pub input: String,
    #[serde(default)]
    pub overlap: OverlapPolicyInput,
    /// Created paused (nothing fires until `schedule/pause` with `paused: false`).
    #[serde(default)]
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleRef {
    pub schedule_id: String,
}

/// Changes a schedule; fields left out stay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleUpdateParams {
    pub schedule_id: String,
    /// The revision read; another is `-32009 scheduleConflict` (with
    /// `data.currentRevision`). Absent: whatever the revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_revision: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<ScheduleSpecInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<ScheduleTargetInput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap: Option<OverlapPolicyInput>,
}

/// Pauses (`paused: true`) or resumes (`paused: false`) a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchedulePauseParams {
    pub schedule_id: String,
    pub paused: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduleListParams {}

/// The last firing of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleFiringView {
    /// When it was due.
    pub scheduled_at_ms: u64,
    /// When it ran (later than due after downtime).
    pub fired_at_ms: u64,
    /// The session its run went to, once requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// Why no run was started (the refusal's `data.reason`), if one was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    pub schedule_id: String,
    pub name: String,
    pub spec: ScheduleSpecInput,
    pub target: ScheduleTargetInput,
    pub input: String,
    pub overlap: OverlapPolicyInput,
    pub paused: bool,
    /// The session whose agent created it with its `schedule_create` tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_session: Option<String>,
    /// Moved by every change; `schedule/update` may name the one it read.
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// Firings so far (firings coalesced after downtime are not counted).
    pub firings: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_firing: Option<ScheduleFiringView>,
    /// When it fires next; absent while paused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_firing_at_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleListResult {
    /// Every schedule of the universe, by id.
    pub schedules: Vec<ScheduleView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleDeleteResult {
    pub deleted: bool,
}
