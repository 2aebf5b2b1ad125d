//! Sub-agents: a session that spawned others (its children) and a session spawned by
//! another (its parent).
//!
//! Children are sessions of their own, each driven by its own host (a session
//! workflow of its own on Temporal). What the engine keeps is the links and what the
//! two sides told each other, all in the logs:
//!
//! - A parent's tool call that started a run on a child (`agent_spawn`,
//!   `agent_send`) says so in its result ([`ChildStarted`]); the engine records
//!   `child.run_started` before the call's result and keeps a [`ChildLink`].
//! - A child that finished a run owes its parent a notice ([`ParentNotice`], kept
//!   until delivered): the planner asks the host to deliver it
//!   ([`Action::NotifyParent`]) before anything else, the host admits
//!   [`CoreCommand::ChildRunFinished`] into the parent (idempotent by run), then
//!   [`CoreCommand::ParentNotified`] into the child.
//! - A call that waits for children (`agent_wait`) holds no activity: its tool
//!   answers [`Later::Children`] with the child runs to wait for, the engine records
//!   `tool.awaiting_children` and holds the call until the parent has heard of those
//!   runs' ends (all, or any one). Then the hold is lifted and the call runs again:
//!   its tool reads the children's answers. A deadline ends the wait with a fixed
//!   result instead.
//!
//! Everything here is decided from control state, so replay decides the same.
//! docs/spec/sub-agents.md has the whole story.
//!
//! [`Action::NotifyParent`]: crate::drive::Action::NotifyParent
//! [`CoreCommand::ChildRunFinished`]: crate::core::command::CoreCommand::ChildRunFinished
//! [`CoreCommand::ParentNotified`]: crate::core::command::CoreCommand::ParentNotified
//! [`Later::Children`]: crate::core::effects::Later::Children

use serde::{Deserialize, Serialize};

use crate::core::command::Rejection;
use crate::core::control::ControlState;
use crate::core::event::{self as ev};
use crate::core::planner::Planned;
use crate::core::run::{CallHold, RunOutcome, RunPhase};
use crate::ids::{RunId, SessionId, ToolCallId};
use crate::log::Joins;

/// Children one session may have linked, over its whole life. Deployments set a
/// lower limit (the API service's); this bounds the control state whatever they say.
pub const CHILDREN_MAX: usize = 64;
/// Deepest a session may sit below its root (a root is depth 0).
pub const DEPTH_MAX: u32 = 16;
/// Run ends a child may owe its parent at once; older ones are dropped first (a
/// parent unreachable for that long no longer waits for them).
pub const PARENT_NOTICES_MAX: usize = 16;

/// The session that spawned this one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentLink {
    pub session_id: SessionId,
    /// This session's depth below its root: a root's child is 1.
    pub depth: u32,
}

/// How a child's run ended, as its parent hears it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChildRunStatus {
    Completed,
    Failed,
    Cancelled,
}

impl From<&RunOutcome> for ChildRunStatus {
    fn from(outcome: &RunOutcome) -> Self {
        match outcome {
            RunOutcome::Completed => ChildRunStatus::Completed,
            RunOutcome::Failed { .. } => ChildRunStatus::Failed,
            RunOutcome::Cancelled { .. } => ChildRunStatus::Cancelled,
        }
    }
}

/// A child of this session, as far as this session knows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLink {
    pub session_id: SessionId,
    /// The call that spawned it.
    pub spawned_by: ToolCallId,
    /// The ordinal of the latest child run this session started (`run_N`).
    pub runs_started: u64,
    /// The ordinal of the latest child run whose end this session heard of. Runs of
    /// a session end in order, so every run up to it has ended.
    pub runs_finished: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<ChildRunStatus>,
    /// The part of this session's cost budget given to the child as its own
    /// session budget (the tree budget): counted as spent here from the spawn on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_nanos: Option<u64>,
}

/// A run end this session owes its parent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentNotice {
    pub run_id: RunId,
    pub status: ChildRunStatus,
}

/// Wait until `session_id`'s runs through `run_id` have ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildWait {
    pub session_id: SessionId,
    pub run_id: RunId,
}

/// A tool call started `run_id` on child `session_id` (spawning it when this
/// session has no link to it yet).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildStarted {
    pub session_id: SessionId,
    pub run_id: RunId,
    /// For a new child: the share of this session's budget it was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_nanos: Option<u64>,
}

impl ControlState {
    /// The link to child `session_id`, if this session spawned it.
    pub fn child(&self, session_id: &SessionId) -> Option<&ChildLink> {
        self.children
            .iter()
            .find(|child| child.session_id == *session_id)
    }

    /// What the session's cost budget counts as spent: its own generations, plus
    /// the budgets it gave its children (each child stops at its own).
    pub fn tree_cost_nanos(&self) -> u64 {
        self.children
            .iter()
            .filter_map(|child| child.budget_nanos)
            .fold(self.usage_total.cost_nanos, u64::saturating_add)
    }

    /// Whether the waits of a `Children` hold are met.
    pub fn children_waited_for(&self, waits: &[ChildWait], any: bool) -> bool {
        let ended = |wait: &ChildWait| {
            let ordinal = wait.run_id.ordinal().unwrap_or(u64::MAX);
            self.child(&wait.session_id)
                .is_some_and(|child| child.runs_finished >= ordinal)
        };
        if any {
            waits.iter().any(ended)
        } else {
            waits.iter().all(ended)
        }
    }

    /// Lifts every `Children` hold of the open batch that is met: the call runs
    /// again and its tool reads the answers.
    pub(crate) fn release_met_waits(&mut self) {
        let Some(run) = self.runs.active.as_ref() else {
            return;
        };
        let RunPhase::AwaitingTools { calls, .. } = &run.phase else {
            return;
        };
        let met: Vec<ToolCallId> = calls
            .iter()
            .filter(|call| !call.done)
            .filter_map(|call| match &call.hold {
                Some(CallHold::Children { waits, any, .. })
                    if self.children_waited_for(waits, *any) =>
                {
                    Some(call.request.call_id.clone())
                }
                _ => None,
            })
            .collect();
        if let Some(run) = self.runs.active.as_mut()
            && let RunPhase::AwaitingTools { calls, .. } = &mut run.phase
        {
            calls
                .iter_mut()
                .filter(|call| met.contains(&call.request.call_id))
                .for_each(|call| call.hold = None);
        }
    }

    /// Folds `child.run_started`.
    pub(crate) fn child_run_started(&mut self, e: &ev::ChildRunStarted) {
        let ordinal = e.child_run.ordinal().unwrap_or(0);
        match self
            .children
            .iter_mut()
            .find(|child| child.session_id == e.child)
        {
            Some(child) => child.runs_started = child.runs_started.max(ordinal),
            None => self.children.push(ChildLink {
                session_id: e.child.clone(),
                spawned_by: e.call_id.clone(),
                runs_started: ordinal,
                runs_finished: 0,
                last_status: None,
                budget_nanos: e.budget_nanos,
            }),
        }
    }

    /// Folds `child.run_finished`; `false` when the child is not linked.
    pub(crate) fn child_run_finished(&mut self, e: &ev::ChildRunFinished) -> bool {
        let ordinal = e.child_run.ordinal().unwrap_or(0);
        let Some(child) = self
            .children
            .iter_mut()
            .find(|child| child.session_id == e.child)
        else {
            return false;
        };
        if ordinal > child.runs_finished {
            child.runs_finished = ordinal;
            child.last_status = Some(e.status);
        }
        self.release_met_waits();
        true
    }

    /// A run ended: owe the parent a notice, if there is one.
    pub(crate) fn owe_parent(&mut self, run_id: &RunId, outcome: &RunOutcome) {
        if self.parent.is_none() {
            return;
        }
        self.parent_notices.push(ParentNotice {
            run_id: run_id.clone(),
            status: outcome.into(),
        });
        while self.parent_notices.len() > PARENT_NOTICES_MAX {
            self.parent_notices.remove(0);
        }
    }
}

/// `ChildRunFinished`: a child's run ended. A run end already heard of is refused
/// with `alreadyRecorded` (the child's host retried; nothing changes).
pub(crate) fn child_run_finished(
    control: &ControlState,
    child: SessionId,
    run_id: RunId,
    status: ChildRunStatus,
) -> Result<Vec<Planned>, Rejection> {
    let link = control
        .child(&child)
        .ok_or_else(|| Rejection::UnknownChild(child.clone()))?;
    let Some(ordinal) = run_id.ordinal() else {
        return Err(Rejection::UnknownRun(run_id));
    };
    if ordinal <= link.runs_finished {
        return Err(Rejection::AlreadyRecorded(format!("{child} {run_id}")));
    }
    Ok(vec![Planned::session(ev::ChildRunFinished {
        child,
        child_run: run_id,
        status,
    })])
}

/// `ParentNotified`: the host delivered (or gave up on) the notice for `run_id`.
pub(crate) fn parent_notified(
    control: &ControlState,
    run_id: RunId,
    delivered: bool,
) -> Result<Vec<Planned>, Rejection> {
    if !control
        .parent_notices
        .iter()
        .any(|notice| notice.run_id == run_id)
    {
        return Err(Rejection::StaleResult {
            effect: "parent notice",
            detail: run_id.to_string(),
        });
    }
    Ok(vec![Planned {
        joins: Joins {
            run_id: Some(run_id.clone()),
            ..Joins::default()
        },
        event: ev::ParentNotified { run_id, delivered }.into(),
    }])
}
