//! The schedule tools a session started with `tools.schedules` has: the agent
//! manages schedules that start runs on its own session (`schedule_create`,
//! `schedule_list`, `schedule_pause`, `schedule_delete`), within the universe's cap
//! on schedules, through `schedule_registry::ops` (the same code as `schedule/*`),
//! so the host's scheduler follows each change.
//!
//! An agent sees and changes only the schedules whose target is its own session;
//! any other id is `scheduleNotFound`. A failure the model caused (a bad spec, the
//! cap) is an error result carrying the refusal's stable code, never an `Err`; a
//! store failure is an `Err` the host retries, and a retried `schedule_create` call
//! finds the schedule it made (its id is derived from the session and the call).

use std::sync::Arc;

use engine::SessionId;
use engine::core::effects::ToolResult;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use schedule_registry::catalog::ScheduleLimits;
use schedule_registry::schedule::agent_schedule_id;
use schedule_registry::{
    OverlapPolicy, Schedule, ScheduleCatalog, ScheduleError, ScheduleId, SchedulePatch,
    ScheduleSpec, ScheduleTarget, Scheduler, ops,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adapter::AdapterError;
use crate::toolset::result;

pub const SCHEDULE_CREATE: &str = "schedule_create";
pub const SCHEDULE_LIST: &str = "schedule_list";
pub const SCHEDULE_PAUSE: &str = "schedule_pause";
pub const SCHEDULE_DELETE: &str = "schedule_delete";

/// Every schedule tool's name, in registration order.
pub const SCHEDULE_TOOLS: [&str; 4] = [
    SCHEDULE_CREATE,
    SCHEDULE_LIST,
    SCHEDULE_PAUSE,
    SCHEDULE_DELETE,
];

/// What the schedule tools work with beyond the store: the host's scheduler and
/// the deployment's limits (the API service's must be the same).
#[derive(Clone)]
pub struct ScheduleTools {
    pub scheduler: Arc<dyn Scheduler>,
    pub limits: ScheduleLimits,
}

/// Which schedule tool a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleTool {
    Create,
    List,
    Pause,
    Delete,
}

impl ScheduleTool {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            SCHEDULE_CREATE => Some(Self::Create),
            SCHEDULE_LIST => Some(Self::List),
            SCHEDULE_PAUSE => Some(Self::Pause),
            SCHEDULE_DELETE => Some(Self::Delete),
            _ => None,
        }
    }
}

/// The definitions `tools.schedules` registers: `(name, canonical definition
/// bytes)`, alike on every API kind.
pub fn schedule_definitions() -> Vec<(String, Vec<u8>)> {
    let id = json!({"type": "string", "description": "The schedule's id, as schedule_create or schedule_list gave it."});
    let tools = [
        (
            SCHEDULE_CREATE,
            "Schedules future runs of this session: each firing starts a run with `input` as \
             the user message. Give `every_seconds` (an interval) or `cron` (5 fields: minute \
             hour day-of-month month day-of-week, in `timezone` or UTC). A firing while the \
             previous one's run is still going is skipped.",
            json!({
                "type": "object",
                "properties": {
                    "input": {"type": "string", "description": "The message each run starts with."},
                    "every_seconds": {"type": "integer", "minimum": 1},
                    "cron": {"type": "string", "description": "e.g. \"0 9 * * MON-FRI\""},
                    "timezone": {"type": "string", "description": "IANA name, e.g. Europe/Paris."},
                    "name": {"type": "string", "description": "What it is for."},
                },
                "required": ["input"],
                "additionalProperties": false,
            }),
        ),
        (
            SCHEDULE_LIST,
            "Lists the schedules that start runs of this session, with when each fires next.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
        (
            SCHEDULE_PAUSE,
            "Pauses (paused: true) or resumes (paused: false) one of this session's schedules.",
            json!({
                "type": "object",
                "properties": {"schedule_id": id, "paused": {"type": "boolean"}},
                "required": ["schedule_id", "paused"],
                "additionalProperties": false,
            }),
        ),
        (
            SCHEDULE_DELETE,
            "Deletes one of this session's schedules.",
            json!({
                "type": "object",
                "properties": {"schedule_id": id},
                "required": ["schedule_id"],
                "additionalProperties": false,
            }),
        ),
    ];
    crate::toolset::definitions(tools)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Create {
    input: String,
    #[serde(default)]
    every_seconds: Option<u64>,
    #[serde(default)]
    cron: Option<String>,
    #[serde(default)]
    timezone: Option<String>,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct Pause {
    schedule_id: String,
    paused: bool,
}

#[derive(Deserialize)]
struct Delete {
    schedule_id: String,
}

/// One call of a schedule tool of `session` in universe `universe_id`.
pub struct ScheduleCall<'a, S> {
    pub tools: &'a ScheduleTools,
    pub store: &'a S,
    pub universe_id: &'a str,
    pub session: &'a SessionId,
    pub now_ms: u64,
}

impl<S: ScheduleCatalog> ScheduleCall<'_, S> {
    pub async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        tool: ScheduleTool,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        let arguments = blobs.get(&call.arguments_ref).await?;
        let outcome = match tool {
            ScheduleTool::Create => match parse::<Create>(&arguments) {
                Ok(args) => self.create(call, args).await,
                Err(refusal) => Err(refusal),
            },
            ScheduleTool::List => self.list().await,
            ScheduleTool::Pause => match parse::<Pause>(&arguments) {
                Ok(args) => self.pause(args).await,
                Err(refusal) => Err(refusal),
            },
            ScheduleTool::Delete => match parse::<Delete>(&arguments) {
                Ok(args) => self.delete(args).await,
                Err(refusal) => Err(refusal),
            },
        };
        match outcome {
            Ok(output) => result(call, blobs, ToolStatus::Ok, &output).await,
            Err(ScheduleError::Store(err)) => Err(AdapterError::Store(err)),
            Err(ScheduleError::Scheduler(message)) => Err(AdapterError::Transient {
                message,
                retry_after: None,
            }),
            Err(refusal) => {
                let output = json!({"error": refusal.to_string(), "code": refusal.code()});
                result(call, blobs, ToolStatus::Error, &output).await
            }
        }
    }

    async fn create(&self, call: &ToolCallRequest, args: Create) -> Result<Value, ScheduleError> {
        let spec = match (args.every_seconds, args.cron) {
            (Some(every_seconds), None) => ScheduleSpec::Interval { every_seconds },
            (None, Some(expression)) => ScheduleSpec::Cron {
                expression,
                timezone: args.timezone,
            },
            _ => {
                return Err(ScheduleError::invalid(
                    "arguments",
                    "give every_seconds or cron, one of them",
                ));
            }
        };
        let schedule = Schedule {
            id: agent_schedule_id(self.session.as_str(), call.call_id.as_str()),
            name: args.name,
            spec,
            target: ScheduleTarget::Session {
                session_id: self.session.to_string(),
            },
            input: args.input,
            overlap: OverlapPolicy::Skip,
            paused: false,
            created_by_session: Some(self.session.to_string()),
            revision: 1,
            created_at_ms: self.now_ms,
            updated_at_ms: self.now_ms,
            firings: 0,
            last_firing: None,
        };
        let scheduler = &*self.tools.scheduler;
        match ops::create(
            self.store,
            scheduler,
            self.universe_id,
            &schedule,
            &self.tools.limits,
        )
        .await
        {
            Ok(()) => {}
            // A retried call: the schedule this call made.
            Err(ScheduleError::Exists(_)) => {
                scheduler
                    .put(self.universe_id, &schedule)
                    .await
                    .map_err(|err| ScheduleError::Scheduler(err.0))?;
            }
            Err(err) => return Err(err),
        }
        Ok(summary(&schedule, self.now_ms))
    }

    async fn list(&self) -> Result<Value, ScheduleError> {
        let schedules = self.store.schedule_list().await?;
        let mine: Vec<Value> = schedules
            .iter()
            .filter(|schedule| self.is_mine(schedule))
            .map(|schedule| summary(schedule, self.now_ms))
            .collect();
        Ok(json!({"schedules": mine}))
    }

    async fn pause(&self, args: Pause) -> Result<Value, ScheduleError> {
        let id = self.mine(&args.schedule_id).await?;
        let patch = SchedulePatch {
            paused: Some(args.paused),
            ..SchedulePatch::default()
        };
        let schedule = ops::update(
            self.store,
            &*self.tools.scheduler,
            self.universe_id,
            (&id, None),
            &patch,
            self.now_ms,
            &self.tools.limits,
        )
        .await?;
        Ok(summary(&schedule, self.now_ms))
    }

    async fn delete(&self, args: Delete) -> Result<Value, ScheduleError> {
        let id = self.mine(&args.schedule_id).await?;
        let deleted =
            ops::delete(self.store, &*self.tools.scheduler, self.universe_id, &id).await?;
        Ok(json!({"deleted": deleted, "schedule_id": id.as_str()}))
    }

    fn is_mine(&self, schedule: &Schedule) -> bool {
        matches!(&schedule.target, ScheduleTarget::Session { session_id } if session_id == self.session.as_str())
    }

    /// `raw` as the id of a schedule of this session, or `scheduleNotFound`.
    async fn mine(&self, raw: &str) -> Result<ScheduleId, ScheduleError> {
        let id = ScheduleId::new(raw)?;
        match self.store.schedule_read(&id).await? {
            Some(schedule) if self.is_mine(&schedule) => Ok(id),
            _ => Err(ScheduleError::NotFound(raw.to_owned())),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(arguments: &[u8]) -> Result<T, ScheduleError> {
    serde_json::from_slice(arguments)
        .map_err(|err| ScheduleError::invalid("arguments", err.to_string()))
}

/// What the model sees of a schedule.
fn summary(schedule: &Schedule, now_ms: u64) -> Value {
    json!({
        "schedule_id": schedule.id.as_str(),
        "name": schedule.name,
        "spec": schedule.spec,
        "paused": schedule.paused,
        "firings": schedule.firings,
        "next_firing_at_ms": schedule.next_firing_ms(now_ms),
    })
}
