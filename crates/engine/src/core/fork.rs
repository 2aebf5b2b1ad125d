//! Forking: a new session that starts from another session's state at one of its
//! log entries, sharing its history by reference.
//!
//! A fork's log begins with one `session.forked` entry ([`SessionForked`]) naming the
//! source, the source entry forked at, and the *base*: a format-2 checkpoint of the
//! fork's state after that first entry, stored in the CAS (its item list as chunks of
//! refs, so no transcript content is copied, only the lists that name it). The
//! reducers cannot fold `session.forked` into a state (the entry holds the base by
//! ref, and the engine does no I/O), so a fork is always rehydrated from its base:
//! `engine::rehydrate` starts from the stored checkpoint at entry 1 or, when that was
//! pruned, from the base blob the entry names. Either way the bytes are the ones
//! [`plan_fork`] computed, so a fork rebuilds the same state on every host.
//!
//! What the fork keeps of the source state at the fork point: config, tools, the
//! context (items, their aggregates, the provider's last measurement), the run and
//! compaction numbering (so new run ids never collide with those its transcript
//! came from). What it does not: an active run (a fork point never has one: see
//! [`ForkError::RunActive`]), queued runs, a pending compaction, the submission
//! window, the last finished run and the usage total (those belong to the source's
//! runs), and a closed lifecycle: a fork is open.

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::core::control::{Lifecycle, RunsControl};
use crate::core::event::CoreEvent;
use crate::core::replay::ReplayError;
use crate::core::run::Usage;
use crate::core::state::SessionState;
use crate::ids::SessionId;
use crate::log::{Joins, LogEntry, Seq};
use crate::store::Checkpoint;

/// The first entry of a forked session's log (and only there).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionForked {
    /// The fork itself.
    pub session_id: SessionId,
    pub source_session_id: SessionId,
    /// The source entry whose state the fork starts from.
    pub source_seq: Seq,
    /// CAS blob of the fork's state after this entry: a format-2 checkpoint
    /// (`engine::rehydrate`), item list as chunk refs.
    pub base_ref: BlobRef,
}

/// Where a fork came from, as its control state remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForkOrigin {
    pub session_id: SessionId,
    pub seq: Seq,
}

/// Why a state cannot be forked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForkError {
    /// The state is before the session was opened (entry 0).
    #[error("the session is not open at entry {seq}")]
    NotOpen { seq: Seq },
    /// A run is mid-flight at this entry: its transcript may hold tool calls without
    /// results, which no provider accepts. Fork at the entry before the run started
    /// (`engine::fork::safe_point` finds it).
    #[error("run {run_id} is active at entry {seq}")]
    RunActive { seq: Seq, run_id: String },
    /// The fork would be its own source.
    #[error("a session cannot be forked into itself")]
    SameSession,
}

/// Everything a host writes to create a fork: the CAS blobs (chunks, then the
/// base), the first log entry, and the same base as the fork's checkpoint at entry 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForkPlan {
    /// The fork's state after its first entry.
    pub state: SessionState,
    /// The fork's first entry (seq 1).
    pub entry: LogEntry,
    /// The base checkpoint; `state` bytes are stored in the CAS under
    /// `SessionForked::base_ref`, and the checkpoint as the fork's own at entry 1.
    pub checkpoint: Checkpoint,
    /// Canonical item-list chunks the base names, in order; most are the source's
    /// own checkpoint chunks already (same items, same bytes, same refs).
    pub chunks: Vec<Vec<u8>>,
}

/// Plans the fork `fork_id` of `source` (the source's full state at the fork point)
/// at `observed_at_ms`. Pure: the same inputs give the same plan, byte for byte.
pub fn plan_fork(
    source: &SessionState,
    fork_id: SessionId,
    observed_at_ms: u64,
    parent: Option<crate::core::lineage::ParentLink>,
) -> Result<ForkPlan, ForkError> {
    let control = &source.control;
    let seq = control.head;
    let source_id = match (&control.session_id, control.lifecycle) {
        (Some(id), Lifecycle::Open | Lifecycle::Closed) => id.clone(),
        _ => return Err(ForkError::NotOpen { seq }),
    };
    if source_id == fork_id {
        return Err(ForkError::SameSession);
    }
    if let Some(run) = &control.runs.active {
        return Err(ForkError::RunActive {
            seq,
            run_id: run.run_id.to_string(),
        });
    }
    let state = SessionState {
        control: fork_control(source, &fork_id, observed_at_ms, parent),
        context: source.context.clone(),
    };
    let (chunks, checkpoint) = crate::rehydrate::checkpoint_parts(&state);
    let event = CoreEvent::from(SessionForked {
        session_id: fork_id,
        source_session_id: source_id,
        source_seq: seq,
        base_ref: BlobRef::of_bytes(&checkpoint.state),
    });
    let entry = LogEntry {
        seq: 1,
        observed_at_ms,
        joins: Joins::default(),
        event: event.encode(),
    };
    Ok(ForkPlan {
        state,
        entry,
        checkpoint,
        chunks,
    })
}

/// The fork's control state after its first entry (see the module docs for what
/// is kept).
fn fork_control(
    source: &SessionState,
    fork_id: &SessionId,
    observed_at_ms: u64,
    parent: Option<crate::core::lineage::ParentLink>,
) -> crate::core::control::ControlState {
    let mut control = source.control.clone();
    let origin = ForkOrigin {
        session_id: control
            .session_id
            .clone()
            .unwrap_or_else(|| fork_id.clone()),
        seq: control.head,
    };
    control.head = 1;
    control.last_observed_at_ms = control.last_observed_at_ms.max(observed_at_ms);
    control.lifecycle = Lifecycle::Open;
    control.session_id = Some(fork_id.clone());
    // Run ids are ordinals: keep counting, so the fork's runs never reuse an id its
    // transcript was written under. Nothing is in flight: requested = finished.
    let requested_total = control.runs.requested_total;
    control.runs = RunsControl {
        requested_total,
        finished_total: requested_total,
        ..RunsControl::default()
    };
    control.compaction.pending = None;
    control.usage_total = Usage::default();
    // Holds belong to the source: its wake-ups fire there, not twice, and what a
    // person approved "for the rest of the session" was for that session. Wake-up
    // numbering carries on, as run numbering does.
    control.wake_ups.clear();
    control.approved_tools.clear();
    // A fork has no children, and is the child only of whoever forked it as one
    // (`agent_spawn` with `fork`): the source's links, and what it owed its parent,
    // stay with the source. The link lives in the base state the fork starts from.
    control.parent = parent;
    control.children.clear();
    control.parent_notices.clear();
    control.forked_from = Some(origin);
    control
}

/// The entry as a [`SessionForked`] if it is a fork's first entry; an entry of that
/// kind that does not decode is the log and the engine disagreeing.
pub fn forked_entry(entry: &LogEntry) -> Result<Option<SessionForked>, ReplayError> {
    if entry.seq != 1 || entry.event.kind != SessionForked::KIND {
        return Ok(None);
    }
    match crate::core::replay::decode(entry)? {
        CoreEvent::SessionForked(forked) => Ok(Some(forked)),
        other => Err(ReplayError::Inconsistent {
            seq: entry.seq,
            kind: other.kind().into(),
            reason: "decoded as another kind".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::command::CoreCommand;
    use crate::core::config::{ModelRoute, SessionConfig};
    use crate::core::context::{ItemKind, ItemSpec};
    use crate::drive::{Action, Drive};
    use crate::ids::SubmissionId;

    fn sid(raw: &str) -> SessionId {
        SessionId::new(raw).unwrap()
    }

    /// An open session whose first run has started (waiting for its generation).
    fn running() -> SessionState {
        let mut drive = Drive::new(SessionState::default());
        let config = SessionConfig {
            model: ModelRoute {
                provider_id: "openai".into(),
                api_kind: "openai:responses".into(),
                model: "gpt-5".into(),
            },
            generation: Default::default(),
            context: Default::default(),
            run_limits: Default::default(),
            tool_policy: Default::default(),
            budget: Default::default(),
        };
        let open = CoreCommand::OpenSession {
            session_id: sid("source"),
            config,
            instructions: None,
            parent: Default::default(),
        };
        drive.admit(open, 1).unwrap();
        let input = ItemSpec::new(ItemKind::UserMessage, BlobRef::of_bytes(b"hi"), 1);
        let run = CoreCommand::RequestRun {
            submission_id: SubmissionId::new("sub").unwrap(),
            input: vec![input],
            overrides: Default::default(),
        };
        drive.admit(run, 2).unwrap();
        while let Action::AppendEvents { .. } = drive.next_action() {
            drive.resume_appended().unwrap();
        }
        drive.state().clone()
    }

    #[test]
    fn a_state_with_an_active_run_or_not_yet_open_is_not_a_fork_point() {
        let state = running();
        assert!(state.control.runs.active.is_some());
        assert!(matches!(
            plan_fork(&state, sid("fork"), 3, None),
            Err(ForkError::RunActive { .. })
        ));
        assert_eq!(
            plan_fork(&SessionState::default(), sid("fork"), 3, None),
            Err(ForkError::NotOpen { seq: 0 })
        );
    }

    #[test]
    fn the_fork_is_open_idle_and_keeps_the_run_numbering() {
        let mut state = running();
        state.control.runs.active = None;
        state.control.lifecycle = Lifecycle::Closed;
        assert_eq!(
            plan_fork(&state, sid("source"), 3, None),
            Err(ForkError::SameSession)
        );
        let plan = plan_fork(&state, sid("fork"), 3, None).unwrap();
        let control = &plan.state.control;
        assert_eq!(control.lifecycle, Lifecycle::Open);
        assert_eq!(control.head, 1);
        assert!(control.runs.is_idle() && control.runs.submissions.is_empty());
        assert_eq!(control.runs.requested_total, 1);
        assert_eq!(control.runs.finished_total, 1);
        assert_eq!(plan.state.context, state.context);
        assert_eq!(
            forked_entry(&plan.entry).unwrap().unwrap().source_seq,
            state.head()
        );
    }
}
