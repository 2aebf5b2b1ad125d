//! The host interface: what differs between the Temporal host and the in-process
//! host, and nothing more.

use std::future::Future;
use std::sync::Arc;

use api::types::events::{DeltaKind as ApiDeltaKind, DeltaView};
use engine::core::command::{CoreCommand, Rejection, RejectionCode};
use engine::{RunId, Seq, SessionId};
use llm_runtime::{Delta, DeltaKind};
use schedule_registry::Scheduler;
use session_stores::StoreProvider;
use tokio::sync::broadcast;

/// Which session of which universe (tenant) a host call is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SessionKey {
    pub universe_id: String,
    pub session_id: SessionId,
}

impl SessionKey {
    pub fn new(universe_id: &str, session_id: &SessionId) -> Self {
        Self {
            universe_id: universe_id.to_owned(),
            session_id: session_id.clone(),
        }
    }
}

/// A command the host committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admission {
    /// The run a run request created (or found, for a duplicate submission).
    pub run_id: Option<RunId>,
    /// The submission id was already used with the same input.
    pub duplicate: bool,
    /// The log head once the command's events were committed.
    pub head: Seq,
}

/// A refusal decided by an engine in another process (the session workflow), as it
/// arrived: the engine's stable code, its message and, for revision conflicts, the
/// current revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRejection {
    pub code: RejectionCode,
    pub message: String,
    pub current_revision: Option<u64>,
}

/// Why an admission did not go through.
#[derive(Debug)]
pub enum AdmitFailure {
    /// The engine refused the command in this process; nothing was recorded.
    Rejected(Rejection),
    /// The engine refused the command in the process that drives the session.
    Refused(RemoteRejection),
    /// The session reloaded before the command was committed; the client may retry.
    Lost,
    /// The host shed load (too many commands in flight for the session, a rate
    /// limit); the client may retry after a while.
    Busy(String),
    /// The host could not be reached or failed the call. The message is for logs
    /// only: clients get a generic internal error.
    Unavailable(String),
}

/// What a host provides to the [`crate::Service`].
pub trait SessionHost: Send + Sync + 'static {
    type Stores: StoreProvider;

    /// Where each universe's data lives, and what pushes its commits to the
    /// readers waiting for them (`StoreProvider::commits`): the commits of a
    /// worker in any process, so no host announces them itself.
    fn stores(&self) -> &Self::Stores;

    /// Admits `command` into the session (creating the session's driver if it has
    /// none) and resolves once its events are committed to the log.
    fn admit(
        &self,
        key: &SessionKey,
        command: CoreCommand,
    ) -> impl Future<Output = Result<Admission, AdmitFailure>> + Send;

    /// Stops driving the session for good, before its records are deleted: whatever
    /// runs it is stopped where it is (on Temporal, its workflow execution is
    /// deleted, which terminates it first) and nothing the host held for it
    /// survives. A session the host was not driving is no error.
    fn retire(&self, key: &SessionKey) -> impl Future<Output = Result<(), String>> + Send;

    /// Live deltas of the session's running generation, from now on. Best effort:
    /// a slow receiver misses some, nothing else changes.
    fn deltas(&self, key: &SessionKey) -> broadcast::Receiver<Delta>;

    /// Publishes a delta of the session to its subscribers in every gateway (an
    /// environment command's output, heard by the gateway holding its daemon).
    /// Best effort, never blocks.
    fn publish_delta(&self, key: &SessionKey, delta: Delta) {
        let _ = (key, delta);
    }

    /// What makes the universe's schedules fire: Temporal Schedules, or timer tasks
    /// in process. The service keeps each one in step with its record
    /// (`schedule_registry::ops`); a firing comes back through
    /// [`crate::ScheduleFirer`].
    fn scheduler(&self) -> Arc<dyn Scheduler>;

    /// Completes the tool activity waiting under `task_token` with `result` (an
    /// environment call finished by the gateway holding its daemon). Hosts without
    /// asynchronously completed activities have nothing to do: their callers wait
    /// for the job themselves.
    fn complete_tool(
        &self,
        task_token: Vec<u8>,
        result: engine::core::effects::ToolResult,
    ) -> impl Future<Output = Result<(), String>> + Send {
        let _ = (task_token, result);
        std::future::ready(Ok(()))
    }
}

/// A runtime delta as clients see it.
pub fn delta_view(delta: Delta) -> DeltaView {
    DeltaView {
        run_id: delta.run_id.to_string(),
        turn: delta.turn,
        output_index: delta.output_index,
        kind: match delta.kind {
            DeltaKind::Text => ApiDeltaKind::Text,
            DeltaKind::Reasoning => ApiDeltaKind::Reasoning,
            DeltaKind::ToolArguments => ApiDeltaKind::ToolArguments,
            DeltaKind::ToolProgress => ApiDeltaKind::ToolProgress,
            DeltaKind::ToolOutput => ApiDeltaKind::ToolOutput,
            DeltaKind::Retry => ApiDeltaKind::Retry,
        },
        text: delta.text,
        call_id: delta.call_id,
    }
}
