//! The sub-agent tools a session started with `tools.agents` has: `agent_spawn`,
//! `agent_send`, `agent_wait`, `agent_read`, `agent_cancel`, `agent_list`.
//!
//! Children are sessions of their own (the API service starts them, through the
//! same method bodies as `session/start` and `run/start`), reached through
//! [`AgentFleet`], which the host supplies. What the parent's engine must know is in
//! the call's result: a run started on a child ([`ToolResult::child`]), or a wait
//! ([`Later::Children`]), which holds the call without an activity until the
//! children's run ends reach the parent (`engine::core::lineage`); then the call runs
//! again and reads their answers.
//!
//! A refusal the model caused (an unknown agent, a limit) is an error result with a
//! stable code, never an `Err`; a fault (store, host) is an `Err` the host retries,
//! and a retried spawn finds the child it made (its id derives from the call).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock, Weak};

use engine::core::effects::{Later, ToolResult};
use engine::core::lineage::{ChildStarted, ChildWait};
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::drive::ParentNoticeIntent;
use engine::store::BlobStore;
use engine::{RunId, SessionId, ToolCallId};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::adapter::AdapterError;
use crate::toolset::result;

pub const AGENT_SPAWN: &str = "agent_spawn";
pub const AGENT_SEND: &str = "agent_send";
pub const AGENT_WAIT: &str = "agent_wait";
pub const AGENT_READ: &str = "agent_read";
pub const AGENT_CANCEL: &str = "agent_cancel";
pub const AGENT_LIST: &str = "agent_list";

/// Every sub-agent tool's name, in registration order.
pub const AGENT_TOOLS: [&str; 6] = [
    AGENT_SPAWN,
    AGENT_SEND,
    AGENT_WAIT,
    AGENT_READ,
    AGENT_CANCEL,
    AGENT_LIST,
];

/// `agent_wait` without a timeout waits this long: one hour.
pub const WAIT_TIMEOUT_SECONDS_DEFAULT: u64 = 3_600;
/// The longest `agent_wait` may wait: seven days.
pub const WAIT_TIMEOUT_SECONDS_MAX: u64 = 7 * 24 * 3_600;
/// Bytes of a child's answer `agent_read` and `agent_wait` return; longer answers
/// are cut (and say so): the model's context is the budget.
pub const ANSWER_BYTES_MAX: usize = 16 * 1_024;
/// Bytes of text the model may give a child (a prompt, instructions, a message).
pub const MESSAGE_BYTES_MAX: usize = 64 * 1_024;

pub type FleetFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, FleetError>> + Send + 'a>>;

/// Why a fleet operation did not go through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// The model asked for something it may not have; `code` is stable (the API's
    /// error reason: `unknownAgent`, `agentDepthExceeded`, `tooManyAgents`, ...).
    #[error("{message}")]
    Refused { code: String, message: String },
    /// A fault the host may retry (store, host).
    #[error("{0}")]
    Fault(String),
}

/// Who calls: the parent session, in its universe, and the call (for idempotency).
#[derive(Debug, Clone, Copy)]
pub struct Caller<'a> {
    pub universe_id: &'a str,
    pub session_id: &'a SessionId,
    pub call_id: &'a ToolCallId,
}

/// What `agent_spawn` asks for.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpawnRequest {
    /// The child's first message.
    pub prompt: String,
    /// The child's instructions (the parent's when absent).
    #[serde(default)]
    pub instructions: Option<String>,
    /// A model id of the deployment's catalog (the parent's when absent).
    #[serde(default)]
    pub model: Option<String>,
    /// Names (or `prefix*` patterns) of the parent's tools the child gets; all of
    /// them when absent.
    #[serde(default)]
    pub tools: Option<Vec<String>>,
    /// Start from a fork of the parent's context (its transcript so far) instead of
    /// an empty one.
    #[serde(default)]
    pub fork: bool,
    /// Mount the parent's workspaces and attach its environments (default), or
    /// give the child none.
    #[serde(default = "yes")]
    pub share_workspace: bool,
    /// The child's cost budget in USD, carved out of this session's budget (when
    /// it has one: then by default a quarter of what is left).
    #[serde(default)]
    pub budget_usd: Option<f64>,
}

fn yes() -> bool {
    true
}

/// How a child stands, as `agent_read`, `agent_wait` and `agent_list` report it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildReport {
    pub agent_id: String,
    /// `running` (a run is active or queued), `idle`, or `closed`.
    pub state: String,
    /// The newest run requested on the child (what a wait waits for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_run_id: Option<String>,
    /// The last run that finished, how (`completed`, `failed`, `cancelled`), and
    /// why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// The last finished run's final answer (cut at [`ANSWER_BYTES_MAX`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<String>,
}

impl ChildReport {
    fn running(&self) -> bool {
        self.state == "running"
    }
}

/// A message `agent_send` delivered: a new run, or a steer of the active one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Run(RunId),
    Steered(RunId),
}

/// The sub-agents of every session of a deployment: the API service, as hosts hold
/// it (object-safe, `Arc<dyn AgentFleet>`).
pub trait AgentFleet: Send + Sync {
    /// Starts a child of the caller with its first run; a retried call finds the
    /// child (and run) it started.
    fn spawn<'a>(
        &'a self,
        caller: Caller<'a>,
        request: SpawnRequest,
    ) -> FleetFuture<'a, ChildStarted>;

    /// Gives child `child` a message: a new run, or with `steer`, a steer of its
    /// active run (a new run when it has none).
    fn send<'a>(
        &'a self,
        caller: Caller<'a>,
        child: &'a str,
        message: String,
        steer: bool,
    ) -> FleetFuture<'a, Sent>;

    /// Reports on the caller's children `only` (every child when empty), with
    /// their answers when `answers`.
    fn children<'a>(
        &'a self,
        caller: Caller<'a>,
        only: &'a [String],
        answers: bool,
    ) -> FleetFuture<'a, Vec<ChildReport>>;

    /// Cancels child `child`'s active and queued runs; the runs cancelled.
    fn cancel<'a>(&'a self, caller: Caller<'a>, child: &'a str) -> FleetFuture<'a, Vec<RunId>>;

    /// Tells the parent of `intent.session_id` that its run ended
    /// ([`engine::core::command::CoreCommand::ChildRunFinished`]): `true` once the
    /// parent has it (now or before), `false` when the parent is closed or gone.
    fn notify_parent<'a>(
        &'a self,
        universe_id: &'a str,
        intent: &'a ParentNoticeIntent,
    ) -> FleetFuture<'a, bool>;
}

/// A fleet bound after the hosts that call it exist (the service holds the host,
/// the host's toolset calls the service): a weak reference, set once.
#[derive(Default)]
pub struct LateFleet {
    fleet: OnceLock<Weak<dyn AgentFleet>>,
}

impl LateFleet {
    pub fn bind(&self, fleet: Weak<dyn AgentFleet>) {
        let _ = self.fleet.set(fleet);
    }

    fn get(&self) -> Result<Arc<dyn AgentFleet>, FleetError> {
        self.fleet
            .get()
            .and_then(Weak::upgrade)
            .ok_or_else(|| FleetError::Fault("the agent fleet is not running".into()))
    }
}

impl AgentFleet for LateFleet {
    fn spawn<'a>(
        &'a self,
        caller: Caller<'a>,
        request: SpawnRequest,
    ) -> FleetFuture<'a, ChildStarted> {
        Box::pin(async move { self.get()?.spawn(caller, request).await })
    }

    fn send<'a>(
        &'a self,
        caller: Caller<'a>,
        child: &'a str,
        message: String,
        steer: bool,
    ) -> FleetFuture<'a, Sent> {
        Box::pin(async move { self.get()?.send(caller, child, message, steer).await })
    }

    fn children<'a>(
        &'a self,
        caller: Caller<'a>,
        only: &'a [String],
        answers: bool,
    ) -> FleetFuture<'a, Vec<ChildReport>> {
        Box::pin(async move { self.get()?.children(caller, only, answers).await })
    }

    fn cancel<'a>(&'a self, caller: Caller<'a>, child: &'a str) -> FleetFuture<'a, Vec<RunId>> {
        Box::pin(async move { self.get()?.cancel(caller, child).await })
    }

    fn notify_parent<'a>(
        &'a self,
        universe_id: &'a str,
        intent: &'a ParentNoticeIntent,
    ) -> FleetFuture<'a, bool> {
        Box::pin(async move { self.get()?.notify_parent(universe_id, intent).await })
    }
}

/// Which sub-agent tool a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentTool {
    Spawn,
    Send,
    Wait,
    Read,
    Cancel,
    List,
}

impl AgentTool {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            AGENT_SPAWN => Some(Self::Spawn),
            AGENT_SEND => Some(Self::Send),
            AGENT_WAIT => Some(Self::Wait),
            AGENT_READ => Some(Self::Read),
            AGENT_CANCEL => Some(Self::Cancel),
            AGENT_LIST => Some(Self::List),
            _ => None,
        }
    }
}

/// The definitions `tools.agents` registers: `(name, canonical definition bytes)`,
/// alike on every API kind.
pub fn agent_definitions() -> Vec<(String, Vec<u8>)> {
    let agent_id = json!({"type": "string", "description": "The sub-agent's id, as agent_spawn or agent_list gave it."});
    let tools = [
        (
            AGENT_SPAWN,
            "Starts a sub-agent: a new agent session that works on `prompt` on its own while \
             you go on. It has your tools (or the ones you list) and, unless share_workspace is \
             false, your files and environments. Returns its agent_id; use agent_wait to wait \
             for it and agent_read to read its answer.",
            json!({
                "type": "object",
                "properties": {
                    "prompt": {"type": "string", "description": "The task: the sub-agent's first message."},
                    "instructions": {"type": "string", "description": "Its instructions (yours when absent)."},
                    "model": {"type": "string", "description": "A model id (yours when absent)."},
                    "tools": {"type": "array", "items": {"type": "string"}, "description": "Names (or prefix* patterns) of your tools it may use (all when absent)."},
                    "fork": {"type": "boolean", "description": "Start from a copy of this conversation so far."},
                    "share_workspace": {"type": "boolean", "description": "Share your files and environments (default true)."},
                    "budget_usd": {"type": "number", "minimum": 0, "description": "Its cost budget in USD, taken from yours."},
                },
                "required": ["prompt"],
                "additionalProperties": false,
            }),
        ),
        (
            AGENT_SEND,
            "Sends a sub-agent a message: a new run of it, or with steer true, guidance for \
             the run it is doing now.",
            json!({
                "type": "object",
                "properties": {
                    "agent_id": agent_id,
                    "message": {"type": "string"},
                    "steer": {"type": "boolean"},
                },
                "required": ["agent_id", "message"],
                "additionalProperties": false,
            }),
        ),
        (
            AGENT_WAIT,
            "Waits until sub-agents finish their current work (all of them, or with mode \
             \"any\" the first one), then returns their answers. Waiting costs nothing; \
             timeout_seconds (default 3600) bounds it.",
            json!({
                "type": "object",
                "properties": {
                    "agent_ids": {"type": "array", "items": agent_id, "description": "Which sub-agents (all when absent)."},
                    "mode": {"type": "string", "enum": ["all", "any"]},
                    "timeout_seconds": {"type": "integer", "minimum": 1},
                },
                "additionalProperties": false,
            }),
        ),
        (
            AGENT_READ,
            "Reads a sub-agent's state and the answer of its last finished run.",
            json!({
                "type": "object",
                "properties": {"agent_id": agent_id},
                "required": ["agent_id"],
                "additionalProperties": false,
            }),
        ),
        (
            AGENT_CANCEL,
            "Cancels what a sub-agent is doing (its current and queued runs).",
            json!({
                "type": "object",
                "properties": {"agent_id": agent_id},
                "required": ["agent_id"],
                "additionalProperties": false,
            }),
        ),
        (
            AGENT_LIST,
            "Lists your sub-agents and whether each is running.",
            json!({"type": "object", "properties": {}, "additionalProperties": false}),
        ),
    ];
    crate::toolset::definitions(tools)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendArgs {
    agent_id: String,
    message: String,
    #[serde(default)]
    steer: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wait {
    #[serde(default)]
    agent_ids: Vec<String>,
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct One {
    agent_id: String,
}

/// What a call's tool decided: a plain output, or a marker for the engine too.
enum Answer {
    Output(Value),
    Started(Value, ChildStarted),
    Wait(Vec<ChildWait>, bool, u64),
}

/// One call of a sub-agent tool.
pub struct AgentCall<'a> {
    pub fleet: &'a dyn AgentFleet,
    pub caller: Caller<'a>,
    pub now_ms: u64,
}

impl AgentCall<'_> {
    pub async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        tool: AgentTool,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        let arguments = blobs.get(&call.arguments_ref).await?;
        let answer = match self.answer(tool, &arguments).await {
            Ok(answer) => answer,
            Err(FleetError::Fault(message)) => {
                return Err(AdapterError::Transient {
                    message,
                    retry_after: None,
                });
            }
            Err(FleetError::Refused { code, message }) => {
                let output = json!({"error": message, "code": code});
                return result(call, blobs, ToolStatus::Error, &output).await;
            }
        };
        match answer {
            Answer::Output(output) => result(call, blobs, ToolStatus::Ok, &output).await,
            Answer::Started(output, started) => {
                let mut done = result(call, blobs, ToolStatus::Ok, &output).await?;
                done.child = Some(started);
                Ok(done)
            }
            Answer::Wait(waits, any, until_ms) => {
                // Recorded nowhere: the call runs again once the wait is met.
                let output = json!({"waiting_for": waits.len()});
                let mut held = result(call, blobs, ToolStatus::Ok, &output).await?;
                held.later = Some(Later::Children {
                    waits,
                    any,
                    until_ms: Some(until_ms),
                });
                Ok(held)
            }
        }
    }

    async fn answer(&self, tool: AgentTool, arguments: &[u8]) -> Result<Answer, FleetError> {
        let fleet = self.fleet;
        let caller = self.caller;
        match tool {
            AgentTool::Spawn => {
                let request: SpawnRequest = parse(arguments)?;
                check_text("prompt", &request.prompt)?;
                if let Some(instructions) = &request.instructions {
                    check_text("instructions", instructions)?;
                }
                let started = fleet.spawn(caller, request).await?;
                let output = json!({
                    "agent_id": started.session_id.as_str(),
                    "run_id": started.run_id.as_str(),
                    "state": "running",
                });
                Ok(Answer::Started(output, started))
            }
            AgentTool::Send => {
                let send: SendArgs = parse(arguments)?;
                check_text("message", &send.message)?;
                match fleet
                    .send(caller, &send.agent_id, send.message, send.steer)
                    .await?
                {
                    Sent::Run(run_id) => {
                        let started = ChildStarted {
                            session_id: child_id(&send.agent_id)?,
                            run_id: run_id.clone(),
                            budget_nanos: Default::default(),
                        };
                        let output = json!({"agent_id": send.agent_id, "run_id": run_id.as_str(), "state": "running"});
                        Ok(Answer::Started(output, started))
                    }
                    Sent::Steered(run_id) => Ok(Answer::Output(
                        json!({"agent_id": send.agent_id, "run_id": run_id.as_str(), "steered": true}),
                    )),
                }
            }
            AgentTool::Wait => {
                let wait: Wait = parse(arguments)?;
                let any = match wait.mode.as_deref() {
                    None | Some("all") => false,
                    Some("any") => true,
                    Some(other) => {
                        return Err(refused(
                            "invalidArguments",
                            format!("mode: {other:?} is not all or any"),
                        ));
                    }
                };
                let timeout = wait
                    .timeout_seconds
                    .unwrap_or(WAIT_TIMEOUT_SECONDS_DEFAULT)
                    .clamp(1, WAIT_TIMEOUT_SECONDS_MAX);
                let reports = fleet.children(caller, &wait.agent_ids, true).await?;
                if reports.is_empty() {
                    return Err(refused(
                        "noAgents",
                        "there are no sub-agents to wait for".into(),
                    ));
                }
                let running: Vec<&ChildReport> = reports.iter().filter(|r| r.running()).collect();
                let met = if any {
                    running.len() < reports.len()
                } else {
                    running.is_empty()
                };
                if met {
                    return Ok(Answer::Output(json!({"agents": reports})));
                }
                let waits = running
                    .iter()
                    .filter_map(|report| {
                        Some(ChildWait {
                            session_id: SessionId::new(report.agent_id.as_str()).ok()?,
                            run_id: RunId::new(report.latest_run_id.as_deref()?).ok()?,
                        })
                    })
                    .collect();
                Ok(Answer::Wait(
                    waits,
                    any,
                    self.now_ms.saturating_add(timeout * 1_000),
                ))
            }
            AgentTool::Read => {
                let one: One = parse(arguments)?;
                let only = [one.agent_id];
                let reports = fleet.children(caller, &only, true).await?;
                Ok(Answer::Output(json!(reports.first())))
            }
            AgentTool::Cancel => {
                let one: One = parse(arguments)?;
                let runs = fleet.cancel(caller, &one.agent_id).await?;
                let runs: Vec<&str> = runs.iter().map(RunId::as_str).collect();
                Ok(Answer::Output(
                    json!({"agent_id": one.agent_id, "cancelled_runs": runs}),
                ))
            }
            AgentTool::List => {
                let reports = fleet.children(caller, &[], false).await?;
                Ok(Answer::Output(json!({"agents": reports})))
            }
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(arguments: &[u8]) -> Result<T, FleetError> {
    serde_json::from_slice(arguments)
        .map_err(|err| refused("invalidArguments", format!("invalid arguments: {err}")))
}

fn check_text(what: &str, text: &str) -> Result<(), FleetError> {
    if text.trim().is_empty() {
        return Err(refused(
            "invalidArguments",
            format!("{what} must not be empty"),
        ));
    }
    if text.len() > MESSAGE_BYTES_MAX {
        return Err(refused(
            "invalidArguments",
            format!("{what} is longer than {MESSAGE_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

fn child_id(raw: &str) -> Result<SessionId, FleetError> {
    SessionId::new(raw).map_err(|_| refused("unknownAgent", format!("no sub-agent {raw:?}")))
}

pub fn refused(code: &str, message: String) -> FleetError {
    FleetError::Refused {
        code: code.to_owned(),
        message,
    }
}

/// `answer` cut at [`ANSWER_BYTES_MAX`] on a character boundary, marked when cut.
pub fn bounded_answer(answer: String) -> String {
    if answer.len() <= ANSWER_BYTES_MAX {
        return answer;
    }
    let mut end = ANSWER_BYTES_MAX;
    while !answer.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}\n[answer cut at {ANSWER_BYTES_MAX} bytes]",
        &answer[..end]
    )
}
