//! The control state: everything the drive needs to choose the next action, and
//! nothing that grows with the transcript. Hosts that must keep memory flat (the
//! Temporal workflow) hold and replay only this.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::blob_ref::BlobRef;
use crate::core::config::SessionConfig;
use crate::core::context::{ContextDigest, ContextItem, ItemKind};
use crate::core::event::{self as ev, CompactionReason, CoreEvent};
use crate::core::fork::ForkOrigin;
use crate::core::holds::PendingWakeUp;
use crate::core::limits::SUBMISSION_WINDOW_MAX;
use crate::core::lineage::{ChildLink, ParentLink, ParentNotice};
use crate::core::replay::ReplayError;
use crate::core::run::{
    ActiveRun, ActiveRunStatus, CallHold, PendingToolCall, QueuedRun, RunOutcome, RunPhase, Usage,
};
use crate::core::tools::ToolSpec;
use crate::ids::{RunId, SessionId, SubmissionId};
use crate::log::{LogEntry, Seq};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lifecycle {
    #[default]
    Uninitialized,
    Open,
    Closed,
}

/// Aggregates of the context item list: enough to fingerprint a request and decide
/// on compaction. Only keyed items (bounded in number) are held individually.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContextControl {
    /// Bumped by every change to the item list.
    pub revision: u64,
    pub next_ordinal: u64,
    pub item_count: u64,
    pub token_estimate: u64,
    pub digest: ContextDigest,
    pub keyed: BTreeMap<String, ContextItem>,
    /// The context size the provider measured for the last generation, and the
    /// estimate it was measured against; cleared when a compaction replaces the
    /// transcript. Absent from older checkpoints, where it is simply not known yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured: Option<MeasuredContext>,
}

/// A provider's count of a request's context, with the engine's estimate of the same
/// request, so growth since is added in estimated tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasuredContext {
    pub tokens: u64,
    pub estimate: u64,
}

impl ContextControl {
    fn add(&mut self, item: &ContextItem) {
        if let Some(key) = &item.key {
            match self.keyed.insert(key.clone(), item.clone()) {
                Some(old) => self.forget(&old),
                None => self.item_count += 1,
            }
        } else {
            self.item_count += 1;
        }
        self.digest.add(item);
        self.token_estimate = self.token_estimate.saturating_add(item.token_estimate);
        self.next_ordinal = self.next_ordinal.max(item.ordinal + 1);
        self.revision += 1;
    }

    fn forget(&mut self, item: &ContextItem) {
        self.digest.remove(item);
        self.token_estimate = self.token_estimate.saturating_sub(item.token_estimate);
    }

    fn remove_key(&mut self, key: &str) -> bool {
        let Some(old) = self.keyed.remove(key) else {
            return false;
        };
        self.forget(&old);
        self.item_count -= 1;
        self.revision += 1;
        true
    }

    /// The context size compaction decisions use: the provider's last measurement
    /// plus the estimated growth since, or the estimate alone when nothing was
    /// measured (estimates run low on code and high on prose; the provider knows).
    pub fn effective_tokens(&self) -> u64 {
        match self.measured {
            Some(measured) => measured
                .tokens
                .saturating_add(self.token_estimate.saturating_sub(measured.estimate)),
            None => self.token_estimate,
        }
    }

    fn compact(&mut self, summary: &[ContextItem]) {
        self.measured = None;
        let kept = self.keyed.values();
        self.digest = ContextDigest::of_items(kept.clone().chain(summary));
        self.token_estimate = kept
            .clone()
            .chain(summary)
            .map(|item| item.token_estimate)
            .fold(0, u64::saturating_add);
        self.item_count = (self.keyed.len() + summary.len()) as u64;
        if let Some(last) = summary.iter().map(|item| item.ordinal).max() {
            self.next_ordinal = self.next_ordinal.max(last + 1);
        }
        self.revision += 1;
    }
}

/// A remembered submission, for idempotent resubmission.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubmissionRecord {
    pub submission_id: SubmissionId,
    pub run_id: RunId,
    pub input_digest: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishedRun {
    pub run_id: RunId,
    pub outcome: RunOutcome,
    pub usage: Usage,
    pub turns: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunsControl {
    pub requested_total: u64,
    pub active: Option<ActiveRun>,
    pub queue: Vec<QueuedRun>,
    /// The last [`SUBMISSION_WINDOW_MAX`] submissions, oldest first.
    pub submissions: VecDeque<SubmissionRecord>,
    pub finished_total: u64,
    pub last_finished: Option<FinishedRun>,
}

impl RunsControl {
    pub fn submission(&self, id: &SubmissionId) -> Option<&SubmissionRecord> {
        self.submissions
            .iter()
            .find(|record| record.submission_id == *id)
    }

    pub fn is_idle(&self) -> bool {
        self.active.is_none() && self.queue.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingCompaction {
    pub compaction: u32,
    pub reason: CompactionReason,
    pub requested_at: Seq,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instruction: Option<BlobRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct CompactionControl {
    pub requested_total: u32,
    pub pending: Option<PendingCompaction>,
    /// Context estimate right after the last compaction ended (either way). Automatic
    /// compaction waits until the context has grown well past it, so a summary that
    /// is itself above the watermark cannot make compaction loop.
    pub settled_token_estimate: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ControlState {
    /// Sequence of the last applied entry.
    pub head: Seq,
    pub last_observed_at_ms: u64,
    pub lifecycle: Lifecycle,
    pub session_id: Option<SessionId>,
    pub config: Option<SessionConfig>,
    pub config_revision: u64,
    /// Sorted by name.
    pub tools: Vec<ToolSpec>,
    pub tools_revision: u64,
    pub context: ContextControl,
    pub runs: RunsControl,
    pub compaction: CompactionControl,
    pub usage_total: Usage,
    /// The session and entry a fork started from (`core::fork`); absent otherwise,
    /// so the bytes of every other session's state are unchanged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forked_from: Option<ForkOrigin>,
    /// Tools approved "for the rest of the session" (`run/approve` with `remember`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub approved_tools: BTreeSet<String>,
    /// Runs the session will request by itself (`wake_me_at`), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wake_ups: Vec<PendingWakeUp>,
    /// Wake-ups ever scheduled; numbers the next one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub wake_ups_total: u32,
    /// The session that spawned this one (`core::lineage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentLink>,
    /// Sessions this one spawned, in spawn order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<ChildLink>,
    /// Run ends the parent has not been told of yet, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parent_notices: Vec<ParentNotice>,
    /// The queue is held: requested runs wait, none starts (`SetDispatch`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub dispatch_paused: bool,
    /// When each run in flight was requested and started, as the host observed the
    /// entries (from the log, so replay rebuilds it); for the operator's view of
    /// work in flight. Absent from older checkpoints until their runs end.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub run_times: BTreeMap<RunId, RunTimes>,
}

/// When a run in flight was requested and started (Unix milliseconds, host clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RunTimes {
    pub requested_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at_ms: Option<u64>,
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &u32) -> bool {
    *value == 0
}

fn inconsistent(entry: &LogEntry, reason: impl Into<String>) -> ReplayError {
    ReplayError::Inconsistent {
        seq: entry.seq,
        kind: entry.event.kind.clone(),
        reason: reason.into(),
    }
}

impl ControlState {
    /// Decodes and applies one committed entry.
    pub fn apply(&mut self, entry: &LogEntry) -> Result<(), ReplayError> {
        let event = crate::core::replay::decode(entry)?;
        self.apply_decoded(entry, &event)
    }

    /// Applies an already decoded entry. Events that the current state cannot
    /// explain are a typed error: the log and this engine disagree.
    pub fn apply_decoded(
        &mut self,
        entry: &LogEntry,
        event: &CoreEvent,
    ) -> Result<(), ReplayError> {
        if entry.seq != self.head + 1 {
            return Err(ReplayError::SeqGap {
                expected: self.head + 1,
                found: entry.seq,
            });
        }
        self.reduce(entry, event)?;
        self.head = entry.seq;
        self.last_observed_at_ms = self.last_observed_at_ms.max(entry.observed_at_ms);
        Ok(())
    }

    fn active_mut(
        &mut self,
        entry: &LogEntry,
        run_id: &RunId,
    ) -> Result<&mut ActiveRun, ReplayError> {
        match self.runs.active.as_mut() {
            Some(run) if run.run_id == *run_id => Ok(run),
            _ => Err(inconsistent(entry, format!("run {run_id} is not active"))),
        }
    }

    fn reduce(&mut self, entry: &LogEntry, event: &CoreEvent) -> Result<(), ReplayError> {
        match event {
            CoreEvent::SessionOpened(e) => {
                if self.lifecycle != Lifecycle::Uninitialized {
                    return Err(inconsistent(entry, "session opened twice"));
                }
                self.lifecycle = Lifecycle::Open;
                self.session_id = Some(e.session_id.clone());
                self.config = Some(e.config.clone());
                self.config_revision = 1;
                self.parent = e.parent.clone();
            }
            CoreEvent::ConfigChanged(e) => {
                self.config = Some(e.config.clone());
                self.config_revision = e.revision;
            }
            CoreEvent::SessionClosed(_) => {
                self.lifecycle = Lifecycle::Closed;
                // An outstanding compaction is abandoned with the session.
                self.compaction.pending = None;
            }
            CoreEvent::ToolsChanged(e) => {
                self.tools = e.tools.clone();
                self.tools_revision = e.revision;
            }
            CoreEvent::ContextItemUpserted(e) => self.context.add(&e.item),
            CoreEvent::ContextItemRemoved(e) => {
                if !self.context.remove_key(&e.key) {
                    return Err(inconsistent(entry, format!("no keyed item {:?}", e.key)));
                }
            }
            CoreEvent::CompactionRequested(e) => {
                self.compaction.requested_total = e.compaction;
                self.compaction.pending = Some(ev_pending(e, entry.seq));
            }
            CoreEvent::ContextCompacted(e) => {
                self.take_compaction(entry, e.compaction)?;
                self.context.compact(&e.summary);
                self.compaction.settled_token_estimate = Some(self.context.token_estimate);
            }
            CoreEvent::CompactionFailed(e) => {
                self.take_compaction(entry, e.compaction)?;
                self.compaction.settled_token_estimate = Some(self.context.token_estimate);
            }
            CoreEvent::RunRequested(e) => {
                self.runs.requested_total += 1;
                self.runs.submissions.push_back(SubmissionRecord {
                    submission_id: e.run.submission_id.clone(),
                    run_id: e.run.run_id.clone(),
                    input_digest: e.input_digest.clone(),
                });
                while self.runs.submissions.len() > SUBMISSION_WINDOW_MAX {
                    self.runs.submissions.pop_front();
                }
                self.runs.queue.push(e.run.clone());
                self.run_times.insert(
                    e.run.run_id.clone(),
                    RunTimes {
                        requested_at_ms: entry.observed_at_ms,
                        started_at_ms: None,
                    },
                );
            }
            CoreEvent::RunInputTranscribed(e) => {
                let queued = self
                    .runs
                    .queue
                    .iter_mut()
                    .find(|run| run.run_id == e.run_id);
                let Some(queued) = queued else {
                    return Err(inconsistent(
                        entry,
                        format!("run {} is not queued", e.run_id),
                    ));
                };
                crate::core::transcription::apply(queued, e)
                    .map_err(|detail| inconsistent(entry, detail))?;
            }
            CoreEvent::RunStarted(e) => {
                if self.runs.active.is_some() {
                    return Err(inconsistent(entry, "a run is already active"));
                }
                let position = self
                    .runs
                    .queue
                    .iter()
                    .position(|run| run.run_id == e.run_id);
                let Some(position) = position else {
                    return Err(inconsistent(
                        entry,
                        format!("run {} is not queued", e.run_id),
                    ));
                };
                let queued = self.runs.queue.remove(position);
                if let Some(times) = self.run_times.get_mut(&queued.run_id) {
                    times.started_at_ms = Some(entry.observed_at_ms);
                }
                e.input.iter().for_each(|item| self.context.add(item));
                self.runs.active = Some(ActiveRun {
                    run_id: queued.run_id,
                    submission_id: queued.submission_id,
                    overrides: queued.overrides,
                    limits: queued.limits,
                    status: ActiveRunStatus::Running,
                    phase: RunPhase::Ready,
                    turns_used: 0,
                    tool_batches_used: 0,
                    usage: Usage::default(),
                    pending_steers: Vec::new(),
                    yielded: false,
                });
            }
            CoreEvent::RunSteered(e) => {
                let run = self.active_mut(entry, &e.run_id)?;
                run.pending_steers.extend(e.input.iter().cloned());
            }
            CoreEvent::SteerApplied(e) => {
                let run = self.active_mut(entry, &e.run_id)?;
                run.pending_steers.clear();
                if run.phase == RunPhase::Answered {
                    run.phase = RunPhase::Ready;
                }
                e.items.iter().for_each(|item| self.context.add(item));
            }
            CoreEvent::RunCancelRequested(e) => {
                let run = self.active_mut(entry, &e.run_id)?;
                run.status = ActiveRunStatus::Cancelling {
                    reason: e.reason.clone(),
                };
            }
            CoreEvent::RunFinished(e) => {
                self.finish_run(entry, e)?;
                self.run_times.remove(&e.run_id);
            }
            CoreEvent::DispatchChanged(e) => self.dispatch_paused = e.paused,
            // A fork starts from its base checkpoint, which `engine::rehydrate` loads;
            // folding the entry itself would need the base's content (I/O).
            CoreEvent::SessionForked(_) => {
                return Err(inconsistent(
                    entry,
                    "a forked session is rehydrated from its base checkpoint, not replayed from its first entry",
                ));
            }
            CoreEvent::TurnPlanned(e) => {
                let run = self.active_mut(entry, &e.run_id)?;
                if run.phase != RunPhase::Ready {
                    return Err(inconsistent(
                        entry,
                        "turn planned while the run is not ready",
                    ));
                }
                run.turns_used = e.turn;
                run.phase = RunPhase::Generating {
                    turn: e.turn,
                    planned_at: entry.seq,
                    fingerprint: e.fingerprint.clone(),
                };
            }
            CoreEvent::TurnCompleted(e) => {
                let run = self.active_mut(entry, &e.run_id)?;
                if !matches!(run.phase, RunPhase::Generating { turn, .. } if turn == e.turn) {
                    return Err(inconsistent(
                        entry,
                        "turn completed while not generating it",
                    ));
                }
                run.usage.add(&e.usage);
                run.phase = if e.tool_calls.is_empty() {
                    RunPhase::Answered
                } else {
                    RunPhase::AwaitingTools {
                        batch: run.tool_batches_used + 1,
                        calls: e
                            .tool_calls
                            .iter()
                            .map(|request| PendingToolCall {
                                request: request.clone(),
                                done: false,
                                hold: None,
                            })
                            .collect(),
                    }
                };
                self.usage_total.add(&e.usage);
                if e.items.iter().any(|item| item.kind == ItemKind::Compaction) {
                    // The provider compacted inline: its compaction item stands in for
                    // every unkeyed item before the turn (docs/spec/context.md).
                    self.context.compact(&e.items);
                    self.compaction.settled_token_estimate = Some(self.context.token_estimate);
                } else {
                    e.items.iter().for_each(|item| self.context.add(item));
                    // Providers count the request and its output: the context as it
                    // stands after the turn, which is what the estimate now covers.
                    self.context.measured = e.context_tokens.map(|tokens| MeasuredContext {
                        tokens,
                        estimate: self.context.token_estimate,
                    });
                }
            }
            CoreEvent::TurnFailed(ev::TurnFailed { run_id, .. })
            | CoreEvent::TurnAborted(ev::TurnAborted { run_id, .. }) => {
                let run = self.active_mut(entry, run_id)?;
                run.phase = RunPhase::Ready;
            }
            CoreEvent::ToolResultRecorded(e) => {
                let run = self.active_mut(entry, &e.run_id)?;
                let RunPhase::AwaitingTools { batch, calls } = &mut run.phase else {
                    return Err(inconsistent(entry, "tool result while no batch is open"));
                };
                if *batch != e.batch {
                    return Err(inconsistent(entry, "tool result for another batch"));
                }
                let Some(call) = calls
                    .iter_mut()
                    .find(|call| call.request.call_id == e.call_id)
                else {
                    return Err(inconsistent(
                        entry,
                        format!("unknown tool call {}", e.call_id),
                    ));
                };
                call.done = true;
                call.hold = None;
                if calls.iter().all(|call| call.done) {
                    run.tool_batches_used += 1;
                    run.phase = RunPhase::Ready;
                }
                self.context.add(&e.item);
            }
            CoreEvent::ApprovalRequested(e) => {
                let deadline_ms = e
                    .timeout_ms
                    .map(|timeout| entry.observed_at_ms.saturating_add(timeout));
                for call in self.open_calls(entry, &e.run_id, e.batch, &e.calls)? {
                    call.hold = Some(CallHold::Approval { deadline_ms });
                }
            }
            CoreEvent::ApprovalDecided(e) => {
                let mut names = Vec::new();
                for call in self.open_calls(entry, &e.run_id, e.batch, &e.calls)? {
                    if e.approved {
                        call.hold = None;
                    }
                    names.push(call.request.name.clone());
                }
                if e.approved && e.remember {
                    self.approved_tools.extend(names);
                }
            }
            CoreEvent::ToolCallDeferred(e) => {
                let ids = std::slice::from_ref(&e.call_id);
                for call in self.open_calls(entry, &e.run_id, e.batch, ids)? {
                    call.hold = Some(CallHold::Timer {
                        due_ms: e.until_ms,
                        status: e.status,
                        output_ref: e.output_ref.clone(),
                        token_estimate: e.token_estimate,
                    });
                }
            }
            CoreEvent::WakeUpScheduled(e) => {
                self.wake_ups.push(PendingWakeUp {
                    wake_up: e.wake_up,
                    at_ms: e.at_ms,
                    input: e.input.clone(),
                });
                self.wake_ups_total = self.wake_ups_total.max(e.wake_up);
                if let Some(run_id) = &e.run_id {
                    self.active_mut(entry, run_id)?.yielded = true;
                }
            }
            CoreEvent::ChildRunStarted(e) => self.child_run_started(e),
            CoreEvent::ChildRunFinished(e) => {
                if !self.child_run_finished(e) {
                    return Err(inconsistent(entry, format!("no child {}", e.child)));
                }
            }
            CoreEvent::ToolAwaitingChildren(e) => {
                let ids = std::slice::from_ref(&e.call_id);
                for call in self.open_calls(entry, &e.run_id, e.batch, ids)? {
                    call.hold = Some(CallHold::Children {
                        waits: e.waits.clone(),
                        any: e.any,
                        deadline_ms: e.until_ms,
                    });
                }
                // Ends heard of while the tool ran count: the call runs again now.
                self.release_met_waits();
            }
            CoreEvent::ParentNotified(e) => {
                self.parent_notices
                    .retain(|notice| notice.run_id != e.run_id);
            }
            CoreEvent::WakeUpEnded(e) => {
                let before = self.wake_ups.len();
                self.wake_ups.retain(|wake| wake.wake_up != e.wake_up);
                if self.wake_ups.len() == before {
                    return Err(inconsistent(entry, format!("no wake-up {}", e.wake_up)));
                }
            }
        }
        Ok(())
    }

    /// The open, unanswered calls `ids` of `batch` of the active run `run_id`.
    fn open_calls(
        &mut self,
        entry: &LogEntry,
        run_id: &RunId,
        batch: u32,
        ids: &[crate::ids::ToolCallId],
    ) -> Result<Vec<&mut PendingToolCall>, ReplayError> {
        let run = self.active_mut(entry, run_id)?;
        let RunPhase::AwaitingTools { batch: open, calls } = &mut run.phase else {
            return Err(inconsistent(entry, "no batch is open"));
        };
        if *open != batch {
            return Err(inconsistent(entry, "another batch is open"));
        }
        let chosen: Vec<&mut PendingToolCall> = calls
            .iter_mut()
            .filter(|call| !call.done && ids.contains(&call.request.call_id))
            .collect();
        if chosen.len() != ids.len() {
            return Err(inconsistent(entry, "a named call is not open"));
        }
        Ok(chosen)
    }

    fn take_compaction(&mut self, entry: &LogEntry, compaction: u32) -> Result<(), ReplayError> {
        match self.compaction.pending.take() {
            Some(pending) if pending.compaction == compaction => Ok(()),
            _ => Err(inconsistent(
                entry,
                format!("compaction {compaction} is not pending"),
            )),
        }
    }

    fn finish_run(&mut self, entry: &LogEntry, e: &ev::RunFinished) -> Result<(), ReplayError> {
        if self
            .runs
            .active
            .as_ref()
            .is_some_and(|run| run.run_id == e.run_id)
        {
            self.runs.active = None;
        } else if let Some(position) = self
            .runs
            .queue
            .iter()
            .position(|run| run.run_id == e.run_id)
        {
            self.runs.queue.remove(position);
        } else {
            return Err(inconsistent(
                entry,
                format!("run {} is neither active nor queued", e.run_id),
            ));
        }
        self.owe_parent(&e.run_id, &e.outcome);
        self.runs.finished_total += 1;
        self.runs.last_finished = Some(FinishedRun {
            run_id: e.run_id.clone(),
            outcome: e.outcome.clone(),
            usage: e.usage,
            turns: e.turns,
        });
        Ok(())
    }

    /// Canonical bytes of this control state.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        crate::canonical::to_vec(self)
    }
}

fn ev_pending(e: &ev::CompactionRequested, seq: Seq) -> PendingCompaction {
    PendingCompaction {
        compaction: e.compaction,
        reason: e.reason,
        requested_at: seq,
        instruction: e.instruction.clone(),
    }
}
