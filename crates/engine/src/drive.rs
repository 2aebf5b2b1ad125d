//! The drive machine: the one interface hosts use to move a session forward.
//!
//! A host loops: `next_action()` → perform the action → feed its result back through the
//! matching `resume_*` entry point. Commands enter through [`Drive::admit`] at any
//! point, including while an effect is in flight. Decided events are only *staged*;
//! the state advances when the host reports the append committed
//! ([`Drive::resume_appended`]), so only committed entries ever resume the core.
//!
//! Actions are level-triggered: while an effect is outstanding, `next_action()` returns it
//! again. Hosts key in-flight effects by their ids (run, turn, batch, compaction).

use serde::{Deserialize, Serialize};

use crate::core::admit::{self, Admitted};
use crate::core::command::{CoreCommand, Rejection};
use crate::core::control::ControlState;
use crate::core::effects::{self, Accepted, CompactionOutcome, GenerationOutcome, ToolResult};
use crate::core::event::CompactionReason;
use crate::core::planner::{self, Plan, Planned};
use crate::core::replay::ReplayError;
use crate::core::request::Fingerprint;
use crate::core::run::ToolCallRequest;
use crate::core::state::SessionState;
use crate::core::transcription::{TranscriptionIntent, TranscriptionOutcome};
use crate::ids::{RunId, SessionId};
use crate::log::{LogEntry, Seq};

/// Planner steps folded into one append at most; bounds a single `next_action()`.
const PLAN_STEPS_PER_APPEND_MAX: usize = 32;

/// Ask the LLM activity to run the generation planned by entry `planned_at`. The
/// request is not included: the activity rebuilds it from state at `planned_at`
/// and checks `fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationIntent {
    pub session_id: SessionId,
    pub run_id: RunId,
    pub turn: u32,
    pub planned_at: Seq,
    pub fingerprint: Fingerprint,
}

/// Run these tool calls (only the ones still without a result).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolBatchIntent {
    pub session_id: SessionId,
    pub run_id: RunId,
    pub batch: u32,
    pub calls: Vec<ToolCallRequest>,
}

/// Compact the context as of `context_revision`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionIntent {
    pub session_id: SessionId,
    pub compaction: u32,
    pub reason: CompactionReason,
    pub requested_at: Seq,
    pub context_revision: u64,
    pub token_estimate: u64,
}

/// Tell the parent session that this session's run `run_id` ended: admit
/// [`CoreCommand::ChildRunFinished`] into `parent`, then
/// [`CoreCommand::ParentNotified`] here (`core::lineage`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParentNoticeIntent {
    pub session_id: SessionId,
    pub parent: SessionId,
    pub run_id: RunId,
    pub status: crate::core::lineage::ChildRunStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Append `entries` if the log head is `expected_head`, then call
    /// [`Drive::resume_appended`].
    AppendEvents {
        expected_head: Seq,
        entries: Vec<LogEntry>,
    },
    GenerateLlm(GenerationIntent),
    InvokeTools(ToolBatchIntent),
    CompactContext(CompactionIntent),
    NotifyParent(ParentNoticeIntent),
    /// Transcribe the voice notes of the next queued run's input
    /// ([`Drive::resume_transcription`] takes the answer).
    TranscribeInput(TranscriptionIntent),
    /// Nothing to do until a command arrives.
    Idle,
    /// The session is closed; nothing will ever be done again.
    Closed,
}

/// What became of an effect result fed back through a `resume_*` entry point.
///
/// A result that answers the outstanding effect is always recorded, as given or as a
/// failure: refusing it would leave the effect outstanding, and since actions are
/// level-triggered the host would pay for the same call again. Only
/// [`Resumed::Stale`] records nothing; hosts log it and drop the result.
#[must_use = "a stale or invalid result should at least be logged"]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// The result was staged as given; append it (see [`Drive::next_action`]).
    Applied,
    /// The result answered the outstanding effect but broke an engine bound (too many
    /// tool calls, duplicate call ids, oversized text). It was staged as the effect
    /// failing with code [`EffectError::INVALID_RESULT`](crate::core::run::EffectError::INVALID_RESULT):
    /// a generation fails its turn and run, a compaction fails and the session carries
    /// on. `reason` says which bound; a host may log it.
    Invalid { reason: Rejection },
    /// Nothing outstanding matches the result (late, duplicate, or naming no open
    /// call): nothing was staged.
    Stale { reason: Rejection },
}

/// State a drive can run over: the bounded control state alone, or the full state.
pub trait DriveState {
    fn control(&self) -> &ControlState;
    fn apply(&mut self, entry: &LogEntry) -> Result<(), ReplayError>;
}

impl DriveState for ControlState {
    fn control(&self) -> &ControlState {
        self
    }
    fn apply(&mut self, entry: &LogEntry) -> Result<(), ReplayError> {
        ControlState::apply(self, entry)
    }
}

impl DriveState for SessionState {
    fn control(&self) -> &ControlState {
        &self.control
    }
    fn apply(&mut self, entry: &LogEntry) -> Result<(), ReplayError> {
        SessionState::apply(self, entry)
    }
}

#[derive(Debug, Clone)]
pub struct Drive<S> {
    state: S,
    /// Entries decided but not yet confirmed by the store.
    staged: Vec<LogEntry>,
    /// Control state with `staged` applied; decisions are made against it so several
    /// commands can be staged into one append. `None` when nothing is staged.
    projected: Option<ControlState>,
    /// Latest time seen in any input; stamps entries the planner decides on its own.
    clock_ms: u64,
    /// Plan past staged entries (see [`Drive::with_plan_ahead`]).
    plan_ahead: bool,
}

impl<S: DriveState> Drive<S> {
    /// A drive over committed `state` (fresh, replayed, or from a checkpoint + tail).
    pub fn new(state: S) -> Self {
        let clock_ms = state.control().last_observed_at_ms;
        Self {
            state,
            staged: Vec::new(),
            projected: None,
            clock_ms,
            plan_ahead: false,
        }
    }

    /// With `plan_ahead`, [`Drive::next_action`] runs the planner over the projected
    /// state even when entries are already staged (an admission, an effect's result),
    /// so one append carries everything up to the next effect: a run request with
    /// the run's start and its first turn's plan, a generation's result with the
    /// run's end. The state still advances only when the whole batch commits; the
    /// batch is atomic, so planning on its projection decides exactly what planning
    /// after the commit would. Hosts that pay per append (the Temporal workflow)
    /// turn it on; the log's entries are the same either way, only their batching
    /// differs.
    pub fn with_plan_ahead(mut self, plan_ahead: bool) -> Self {
        self.plan_ahead = plan_ahead;
        self
    }

    /// Committed state.
    pub fn state(&self) -> &S {
        &self.state
    }

    pub fn into_state(self) -> S {
        self.state
    }

    /// Control state including staged, uncommitted decisions.
    pub fn projected(&self) -> &ControlState {
        self.projected
            .as_ref()
            .unwrap_or_else(|| self.state.control())
    }

    pub fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    fn observe(&mut self, observed_at_ms: u64) {
        self.clock_ms = self.clock_ms.max(observed_at_ms);
    }

    fn stage(&mut self, planned: Vec<Planned>) {
        let mut projected = self
            .projected
            .take()
            .unwrap_or_else(|| self.state.control().clone());
        for Planned { joins, event } in planned {
            let entry = LogEntry {
                seq: projected.head + 1,
                observed_at_ms: self.clock_ms,
                joins,
                event: event.encode(),
            };
            // The engine just decided this event from this very state; if it cannot be
            // applied, admission and reduction disagree: a bug, not an input error.
            if let Err(err) = projected.apply_decoded(&entry, &event) {
                panic!("engine decided an event it cannot apply: {err}");
            }
            self.staged.push(entry);
        }
        self.projected = Some(projected);
    }

    /// Admits a command: stages its events or refuses it, staging nothing.
    pub fn admit(
        &mut self,
        command: CoreCommand,
        observed_at_ms: u64,
    ) -> Result<Admitted, Rejection> {
        let decision = admit::admit(self.projected(), command)?;
        self.observe(observed_at_ms);
        self.stage(decision.events);
        Ok(decision.admitted)
    }

    /// The next action. Staged events come first; otherwise (or, planning ahead,
    /// after them) the planner runs, folding the events it decides into one append
    /// until it reaches an effect.
    pub fn next_action(&mut self) -> Action {
        if self.staged.is_empty() || self.plan_ahead {
            for _ in 0..PLAN_STEPS_PER_APPEND_MAX {
                match planner::plan(self.projected()) {
                    Plan::Events(events) => self.stage(events),
                    Plan::Action(action) if self.staged.is_empty() => return action,
                    Plan::Action(_) => break,
                }
            }
        }
        Action::AppendEvents {
            expected_head: self.state.control().head,
            entries: self.staged.clone(),
        }
    }

    /// The store committed the staged entries (freshly or as an idempotent retry):
    /// apply them to the committed state.
    pub fn resume_appended(&mut self) -> Result<(), ReplayError> {
        for entry in std::mem::take(&mut self.staged) {
            self.state.apply(&entry)?;
        }
        self.projected = None;
        Ok(())
    }

    /// The store holds the staged decisions as made earlier, at `stamps` (one time per
    /// staged entry): take those times, so what is applied is what the log holds. A
    /// host learns this when a lost task made it decide the same batch again.
    /// `false` (nothing changed) when the count does not match.
    pub fn restamp_staged(&mut self, stamps: &[u64]) -> bool {
        if stamps.len() != self.staged.len() {
            return false;
        }
        // The projection is dropped when the entries are applied; only they matter.
        for (entry, stamp) in self.staged.iter_mut().zip(stamps) {
            entry.observed_at_ms = *stamp;
        }
        true
    }

    /// The append failed (e.g. a head conflict): forget staged decisions. The host
    /// should reload state from the store before driving again.
    pub fn discard_staged(&mut self) {
        self.staged.clear();
        self.projected = None;
    }

    /// Feeds back the outcome of the generation for `turn` of `run_id`.
    pub fn resume_generation(
        &mut self,
        run_id: &RunId,
        turn: u32,
        outcome: GenerationOutcome,
        observed_at_ms: u64,
    ) -> Resumed {
        let accepted = effects::generation(self.projected(), run_id, turn, outcome);
        let resumed = self.settle(accepted, observed_at_ms);
        // The calls the generation asked for meet the tool policy as they open, on
        // the state with them in it (ordinals and batch number as recorded). A stale
        // result opened nothing and must stage nothing: the batch that is open was
        // gated when it opened, and a call a person approved since must not be
        // asked about again.
        if matches!(resumed, Resumed::Stale { .. }) {
            return resumed;
        }
        let gated = crate::core::holds::gate_opened_batch(self.projected());
        if !gated.is_empty() {
            self.stage(gated);
        }
        resumed
    }

    /// Feeds back results of tool calls of `batch` (all of them or some).
    pub fn resume_tool_results(
        &mut self,
        run_id: &RunId,
        batch: u32,
        results: Vec<ToolResult>,
        observed_at_ms: u64,
    ) -> Resumed {
        let accepted = effects::tool_results(self.projected(), run_id, batch, results);
        self.settle(accepted, observed_at_ms)
    }

    /// Feeds back the outcome of compaction number `compaction`.
    pub fn resume_compaction(
        &mut self,
        compaction: u32,
        outcome: CompactionOutcome,
        observed_at_ms: u64,
    ) -> Resumed {
        let accepted = effects::compaction(self.projected(), compaction, outcome);
        self.settle(accepted, observed_at_ms)
    }

    /// Feeds back the transcription of queued run `run_id`'s voice input.
    pub fn resume_transcription(
        &mut self,
        run_id: &RunId,
        outcome: TranscriptionOutcome,
        observed_at_ms: u64,
    ) -> Resumed {
        let accepted = crate::core::transcription::accept(self.projected(), run_id, outcome);
        self.settle(accepted, observed_at_ms)
    }

    fn settle(&mut self, accepted: Result<Accepted, Rejection>, observed_at_ms: u64) -> Resumed {
        match accepted {
            Ok(Accepted { events, invalid }) => {
                self.observe(observed_at_ms);
                self.stage(events);
                match invalid {
                    None => Resumed::Applied,
                    Some(reason) => Resumed::Invalid { reason },
                }
            }
            Err(reason) => Resumed::Stale { reason },
        }
    }
}
