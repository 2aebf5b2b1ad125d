//! The schedule record, its rules, and its patch.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ScheduleError;
use crate::spec::ScheduleSpec;

/// Longest id, in characters (all ASCII).
pub const ID_CHARS_MAX: usize = 64;
/// Longest name, in bytes of UTF-8.
pub const NAME_BYTES_MAX: usize = 256;
/// Longest input text a firing sends, in bytes of UTF-8.
pub const INPUT_BYTES_MAX: usize = 32 * 1024;
/// Longest session template (the session config as JSON), in bytes.
pub const TEMPLATE_BYTES_MAX: usize = 32 * 1024;

/// `[a-z0-9_-]`, 1 to 64 characters, unique in a universe: it names the schedule to
/// clients, agents and the host's scheduler (the Temporal Schedule id is derived
/// from the universe and it).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScheduleId(String);

impl ScheduleId {
    pub fn new(id: impl Into<String>) -> Result<Self, ScheduleError> {
        let id = id.into();
        if id.is_empty() || id.len() > ID_CHARS_MAX {
            return Err(ScheduleError::invalid(
                "id",
                format!("must be 1 to {ID_CHARS_MAX} characters"),
            ));
        }
        let valid = id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(ScheduleError::invalid("id", "only a-z, 0-9, '-' and '_'"));
        }
        Ok(Self(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ScheduleId {
    type Error = ScheduleError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<ScheduleId> for String {
    fn from(value: ScheduleId) -> Self {
        value.0
    }
}

impl std::fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a firing's run goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ScheduleTarget {
    /// A run on this existing session (queued behind its active run, if any).
    #[serde(rename_all = "camelCase")]
    Session { session_id: String },
    /// A fresh session per firing, started with this config (the API's session
    /// config as JSON, checked by the API layer when the schedule is written).
    #[serde(rename_all = "camelCase")]
    NewSession { config_json: String },
}

/// What a firing does while the schedule's previous firing is still running (its
/// run queued or active). Temporal's `ScheduleOverlapPolicy` of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum OverlapPolicy {
    /// Dropped (the default).
    #[default]
    Skip,
    /// Kept, one at most, and fired when the previous one finishes.
    BufferOne,
    /// Fired at once: its run queues in the session behind the previous one.
    AllowAll,
}

/// How a firing ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum FiringOutcome {
    /// A run was requested.
    #[serde(rename_all = "camelCase")]
    Started { session_id: String, run_id: String },
    /// The run could not be started (the session was closed, a quota); the
    /// refusal's code.
    #[serde(rename_all = "camelCase")]
    Failed { code: String },
}

/// The last firing of a schedule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Firing {
    /// When it was due.
    pub scheduled_at_ms: u64,
    /// When it was claimed (a late firing after downtime: later than due).
    pub fired_at_ms: u64,
    /// Filled once the run was requested (or refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<FiringOutcome>,
}

/// One schedule of a universe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub id: ScheduleId,
    /// For people; may be empty.
    pub name: String,
    pub spec: ScheduleSpec,
    pub target: ScheduleTarget,
    /// The text of each firing's run.
    pub input: String,
    pub overlap: OverlapPolicy,
    pub paused: bool,
    /// The session whose agent created it through its tools, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by_session: Option<String>,
    /// 1 when created, one up with every change of the fields above.
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
    /// Firings claimed so far (coalesced ones are not counted).
    #[serde(default)]
    pub firings: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_firing: Option<Firing>,
}

impl Schedule {
    /// Every rule a stored schedule keeps, with the deployment's floor on intervals.
    pub fn check(&self, interval_seconds_min: u64) -> Result<(), ScheduleError> {
        check_name(&self.name)?;
        self.spec.check(interval_seconds_min)?;
        check_target(&self.target)?;
        check_input(&self.input)
    }

    /// The next time it fires after `now_ms`, if it is not paused.
    pub fn next_firing_ms(&self, now_ms: u64) -> Option<u64> {
        match self.paused {
            true => None,
            false => self.spec.next_after_ms(now_ms),
        }
    }
}

pub fn check_name(name: &str) -> Result<(), ScheduleError> {
    if name.len() > NAME_BYTES_MAX {
        return Err(ScheduleError::invalid(
            "name",
            format!("at most {NAME_BYTES_MAX} bytes"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ScheduleError::invalid("name", "no control characters"));
    }
    Ok(())
}

pub fn check_input(input: &str) -> Result<(), ScheduleError> {
    if input.trim().is_empty() {
        return Err(ScheduleError::invalid("input", "must not be empty"));
    }
    if input.len() > INPUT_BYTES_MAX {
        return Err(ScheduleError::invalid(
            "input",
            format!("at most {INPUT_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

pub fn check_target(target: &ScheduleTarget) -> Result<(), ScheduleError> {
    match target {
        ScheduleTarget::Session { session_id } => {
            engine::SessionId::new(session_id.clone())
                .map_err(|err| ScheduleError::invalid("target.sessionId", err.to_string()))?;
        }
        ScheduleTarget::NewSession { config_json } => {
            if config_json.len() > TEMPLATE_BYTES_MAX {
                return Err(ScheduleError::invalid(
                    "target.config",
                    format!("at most {TEMPLATE_BYTES_MAX} bytes"),
                ));
            }
        }
    }
    Ok(())
}

/// Changes to a schedule; fields left `None` stay.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SchedulePatch {
    pub name: Option<String>,
    pub spec: Option<ScheduleSpec>,
    pub target: Option<ScheduleTarget>,
    pub input: Option<String>,
    pub overlap: Option<OverlapPolicy>,
    pub paused: Option<bool>,
}

impl SchedulePatch {
    /// The schedule this patch makes of `schedule` (unchecked, same revision).
    pub fn apply(&self, schedule: &Schedule) -> Schedule {
        let mut next = schedule.clone();
        if let Some(name) = &self.name {
            next.name.clone_from(name);
        }
        if let Some(spec) = &self.spec {
            next.spec = spec.clone();
        }
        if let Some(target) = &self.target {
            next.target = target.clone();
        }
        if let Some(input) = &self.input {
            next.input.clone_from(input);
        }
        if let Some(overlap) = self.overlap {
            next.overlap = overlap;
        }
        if let Some(paused) = self.paused {
            next.paused = paused;
        }
        next
    }
}

/// The key of one firing of schedule `id`, due at `scheduled_at_ms`: the same for
/// every attempt at it, so a retried firing submits the same run (`run/start`'s
/// submission id) and, for a fresh-session target, starts the same session.
/// 32 hex characters of SHA-256 over the universe, the id and the time.
pub fn firing_key(universe_id: &str, id: &ScheduleId, scheduled_at_ms: u64) -> String {
    digest(&[universe_id, id.as_str(), &scheduled_at_ms.to_string()])
}

/// The id of the schedule an agent's `schedule_create` call makes: the same for
/// every attempt at the call (a retried tool call finds the schedule it made).
pub fn agent_schedule_id(session_id: &str, call_id: &str) -> ScheduleId {
    ScheduleId(format!("agent-{}", digest(&[session_id, call_id])))
}

/// 32 hex characters of SHA-256 over the length-prefixed parts.
fn digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}
