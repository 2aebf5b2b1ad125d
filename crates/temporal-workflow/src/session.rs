//! The workflow's state, kept free of SDK types so it is unit-tested like any other
//! reducer: the drive over the bounded control state, and the admissions that the
//! `admit` update queues for the drive loop.
//!
//! Only the drive loop mutates the drive. Update handlers enqueue a command and wait;
//! the loop decides queued commands at the next step boundary (also while an effect
//! is in flight) and the handler replies once the command's events are committed.

use std::collections::{BTreeMap, VecDeque};

use engine::core::admit::Admitted;
use engine::core::command::CoreCommand;
use engine::core::control::ControlState;
use engine::core::run::{ActiveRunStatus, RunPhase};
use engine::drive::Drive;
use engine::{RunId, Seq};

use crate::messages::{AdmitRejected, AdmitReply, PhaseView, WorkflowStatus};

/// Admissions received but not yet decided. More are refused with `tooMany`.
pub const PENDING_ADMISSIONS_MAX: usize = 256;

/// Where one admission is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Admission {
    /// Received; decided at the next step boundary.
    Queued(CoreCommand),
    /// Accepted and staged; committed once the head reaches `commit_seq`.
    Staged {
        command: CoreCommand,
        run_id: Option<RunId>,
        duplicate: bool,
        commit_seq: Seq,
    },
    /// Refused, or lost to a reload (histories before the history budget's shape).
    Rejected(AdmitRejected),
}

/// The reply to an admission, once it has one.
pub type AdmitOutcome = Result<AdmitReply, AdmitRejected>;

#[derive(Debug, Default)]
pub struct WorkflowState {
    /// `None` until the first `load_session` returns.
    drive: Option<Drive<ControlState>>,
    admissions: BTreeMap<u64, Admission>,
    /// Ids of [`Admission::Queued`] admissions, in the order they are decided.
    queue: VecDeque<u64>,
    next_admission: u64,
    /// Update handlers that have not replied yet.
    handlers_waiting: u32,
    /// Drives plan past staged entries (`Drive::with_plan_ahead`), and a reload
    /// decides uncommitted admissions again instead of losing them: the history
    /// budget's shape.
    plan_ahead: bool,
}

impl WorkflowState {
    pub fn drive(&self) -> Option<&Drive<ControlState>> {
        self.drive.as_ref()
    }

    pub fn drive_mut(&mut self) -> Option<&mut Drive<ControlState>> {
        self.drive.as_mut()
    }

    /// Installs freshly loaded state. Anything staged before is gone: admissions
    /// whose entries were committed (the old committed head reached them) keep their
    /// reply; the others are queued again, ahead of newer ones, and decided afresh
    /// against the loaded state (before the history budget's shape they were lost).
    pub fn load(&mut self, control: ControlState) {
        let old_head = self.committed_head();
        let mut requeued = Vec::new();
        for (id, admission) in &mut self.admissions {
            let Admission::Staged {
                command,
                commit_seq,
                ..
            } = admission
            else {
                continue;
            };
            if *commit_seq <= old_head {
                continue;
            }
            if self.plan_ahead {
                requeued.push(*id);
                *admission = Admission::Queued(command.clone());
            } else {
                *admission = Admission::Rejected(AdmitRejected::lost());
            }
        }
        for id in requeued.into_iter().rev() {
            self.queue.push_front(id);
        }
        self.drive = Some(Drive::new(control).with_plan_ahead(self.plan_ahead));
    }

    /// Makes drives installed from now on plan past staged entries, so one append
    /// carries everything up to the next effect (fewer appends per turn).
    pub fn plan_ahead(&mut self) {
        self.plan_ahead = true;
        if let Some(drive) = self.drive.take() {
            self.drive = Some(drive.with_plan_ahead(true));
        }
    }

    pub fn committed_head(&self) -> Seq {
        self.drive.as_ref().map_or(0, |drive| drive.state().head)
    }

    pub fn has_queued(&self) -> bool {
        !self.queue.is_empty()
    }

    pub fn handlers_waiting(&self) -> u32 {
        self.handlers_waiting
    }

    fn queued_commands(&self) -> impl Iterator<Item = &CoreCommand> {
        self.queue
            .iter()
            .filter_map(|id| match self.admissions.get(id) {
                Some(Admission::Queued(command)) => Some(command),
                _ => None,
            })
    }

    /// Would `command` be admitted after everything already queued? Runs admission
    /// on a copy; before the state is loaded everything is provisionally accepted
    /// (the loop decides for real).
    pub fn validate(&self, command: &CoreCommand) -> Result<(), AdmitRejected> {
        if self.queue.len() >= PENDING_ADMISSIONS_MAX {
            return Err(AdmitRejected {
                code: "tooMany".into(),
                message: format!(
                    "{PENDING_ADMISSIONS_MAX} admissions are already waiting; retry later"
                ),
                current_revision: None,
            });
        }
        let Some(drive) = &self.drive else {
            return Ok(());
        };
        let mut copy = drive.clone();
        for queued in self.queued_commands() {
            // Earlier admissions that would be refused change nothing.
            let _ = copy.admit(queued.clone(), 0);
        }
        copy.admit(command.clone(), 0)
            .map(|_| ())
            .map_err(|rejection| AdmitRejected::from(&rejection))
    }

    /// Queues `command` for the loop; returns its admission id.
    pub fn enqueue(&mut self, command: CoreCommand) -> u64 {
        let id = self.next_admission;
        self.next_admission += 1;
        self.admissions.insert(id, Admission::Queued(command));
        self.queue.push_back(id);
        self.handlers_waiting += 1;
        id
    }

    /// Decides every queued admission against the drive (a step boundary); returns
    /// the admissions that asked for a run, with its id.
    pub fn decide_queued(&mut self, now_ms: u64) -> Vec<(u64, RunId)> {
        let mut runs = Vec::new();
        let Some(drive) = self.drive.as_mut() else {
            return runs;
        };
        while let Some(id) = self.queue.pop_front() {
            let Some(Admission::Queued(command)) = self.admissions.remove(&id) else {
                continue;
            };
            let admission = match drive.admit(command.clone(), now_ms) {
                Ok(admitted) => {
                    let (run_id, duplicate) = match admitted {
                        Admitted::Accepted => (None, false),
                        Admitted::Run { run_id, duplicate } => {
                            runs.push((id, run_id.clone()));
                            (Some(run_id), duplicate)
                        }
                    };
                    Admission::Staged {
                        command,
                        run_id,
                        duplicate,
                        commit_seq: drive.projected().head,
                    }
                }
                Err(rejection) => Admission::Rejected(AdmitRejected::from(&rejection)),
            };
            self.admissions.insert(id, admission);
        }
        runs
    }

    /// The reply to admission `id`, once it is committed or refused.
    pub fn outcome(&self, id: u64) -> Option<AdmitOutcome> {
        match self.admissions.get(&id)? {
            Admission::Queued(_) => None,
            Admission::Staged {
                run_id,
                duplicate,
                commit_seq,
                ..
            } => (self.committed_head() >= *commit_seq).then(|| {
                Ok(AdmitReply {
                    run_id: run_id.clone(),
                    duplicate: *duplicate,
                    head: self.committed_head(),
                })
            }),
            Admission::Rejected(rejected) => Some(Err(rejected.clone())),
        }
    }

    /// The handler of admission `id` replied: forget it.
    pub fn handler_done(&mut self, id: u64) {
        self.admissions.remove(&id);
        self.handlers_waiting = self.handlers_waiting.saturating_sub(1);
    }

    pub fn status(&self, chain_index: u32) -> WorkflowStatus {
        let control = self.drive.as_ref().map(|drive| drive.state());
        let active = control.and_then(|control| control.runs.active.as_ref());
        let phase = active.map(|run| match (&run.status, &run.phase) {
            (ActiveRunStatus::Cancelling { .. }, _) => PhaseView::Cancelling,
            (ActiveRunStatus::Running, RunPhase::Ready) => PhaseView::Ready,
            (ActiveRunStatus::Running, RunPhase::Generating { .. }) => PhaseView::Generating,
            (ActiveRunStatus::Running, RunPhase::Answered) => PhaseView::Answered,
            (ActiveRunStatus::Running, RunPhase::AwaitingTools { .. }) => PhaseView::AwaitingTools,
        });
        WorkflowStatus {
            loaded: control.is_some(),
            head: control.map_or(0, |control| control.head),
            lifecycle: control.map(|control| control.lifecycle).unwrap_or_default(),
            active_run_id: active.map(|run| run.run_id.clone()),
            phase,
            queued_runs: control.map_or(0, |control| control.runs.queue.len()),
            finished_runs: control.map_or(0, |control| control.runs.finished_total),
            pending_admissions: self.queue.len(),
            chain_index,
        }
    }
}

#[cfg(test)]
mod tests {
    use engine::core::config::{ModelRoute, SessionConfig};
    use engine::core::context::{ItemKind, ItemSpec};
    use engine::drive::Action;
    use engine::{BlobRef, SessionId, SubmissionId};

    use super::*;

    fn open_command() -> CoreCommand {
        CoreCommand::OpenSession {
            session_id: SessionId::new("s-1").unwrap(),
            config: SessionConfig {
                model: ModelRoute {
                    provider_id: "fake".into(),
                    api_kind: "openai:responses".into(),
                    model: "m".into(),
                },
                generation: Default::default(),
                context: Default::default(),
                run_limits: Default::default(),
                tool_policy: Default::default(),
                budget: Default::default(),
            },
            instructions: None,
            parent: Default::default(),
        }
    }

    fn run_command(submission: &str) -> CoreCommand {
        CoreCommand::RequestRun {
            submission_id: SubmissionId::new(submission).unwrap(),
            input: vec![ItemSpec::new(
                ItemKind::UserMessage,
                BlobRef::of_bytes(b"hi"),
                1,
            )],
            overrides: Default::default(),
        }
    }

    /// Commits whatever the drive staged, as the append activity would.
    fn commit(state: &mut WorkflowState) {
        let drive = state.drive_mut().unwrap();
        if let Action::AppendEvents { .. } = drive.next_action() {
            drive.resume_appended().unwrap();
        }
    }

    #[test]
    fn validation_runs_admission_on_a_copy_after_queued_commands() {
        let mut state = WorkflowState::default();
        // Before the first load everything is provisionally accepted.
        assert_eq!(state.validate(&run_command("a")), Ok(()));
        state.load(ControlState::default());
        let refused = state.validate(&run_command("a")).unwrap_err();
        assert_eq!(refused.code, "notOpen");
        // An open queued ahead makes the run valid; nothing was staged by validating.
        state.enqueue(open_command());
        assert_eq!(state.validate(&run_command("a")), Ok(()));
        assert!(!state.drive().unwrap().has_staged());
        assert_eq!(
            state.validate(&open_command()).unwrap_err().code,
            "alreadyOpen"
        );
    }

    #[test]
    fn accepted_admissions_reply_once_committed() {
        let mut state = WorkflowState::default();
        state.load(ControlState::default());
        let open = state.enqueue(open_command());
        let run = state.enqueue(run_command("a"));
        let refused = state.enqueue(open_command());
        assert_eq!(state.handlers_waiting(), 3);
        state.decide_queued(7);
        assert!(!state.has_queued());
        assert_eq!(state.outcome(open), None, "staged, not committed");
        assert_eq!(state.outcome(run), None);
        let Some(Err(rejected)) = state.outcome(refused) else {
            panic!("second open refused");
        };
        assert_eq!(rejected.code, "alreadyOpen");
        commit(&mut state);
        let Some(Ok(reply)) = state.outcome(run) else {
            panic!("run committed");
        };
        assert_eq!(reply.run_id.unwrap().as_str(), "run_1");
        assert!(!reply.duplicate);
        assert_eq!(reply.head, state.committed_head());
        assert!(matches!(state.outcome(open), Some(Ok(_))));
        state.handler_done(run);
        assert_eq!(state.outcome(run), None);
        assert_eq!(state.handlers_waiting(), 2);
    }

    #[test]
    fn a_reload_loses_uncommitted_admissions_before_the_history_budget() {
        let mut state = WorkflowState::default();
        state.load(ControlState::default());
        let open = state.enqueue(open_command());
        state.decide_queued(1);
        // The append conflicted: the workflow reloads what the store has.
        state.load(ControlState::default());
        let Some(Err(lost)) = state.outcome(open) else {
            panic!("lost");
        };
        assert_eq!(lost, AdmitRejected::lost());
    }

    #[test]
    fn a_reload_decides_uncommitted_admissions_again() {
        let mut state = WorkflowState::default();
        state.plan_ahead();
        state.load(ControlState::default());
        let open = state.enqueue(open_command());
        state.decide_queued(1);
        commit(&mut state);
        let run = state.enqueue(run_command("a"));
        let later = state.enqueue(run_command("b"));
        state.decide_queued(2);
        // Someone else moved the head: the staged run request is dropped with the
        // reload, and queued again ahead of the newer one.
        let committed = state.drive().unwrap().state().clone();
        state.load(committed);
        assert!(
            matches!(state.outcome(open), Some(Ok(_))),
            "committed stays"
        );
        assert_eq!(state.outcome(run), None);
        assert!(state.has_queued());
        state.decide_queued(3);
        commit(&mut state);
        let Some(Ok(first)) = state.outcome(run) else {
            panic!("decided again and committed");
        };
        let Some(Ok(second)) = state.outcome(later) else {
            panic!("committed");
        };
        assert_eq!(first.run_id.unwrap().as_str(), "run_1", "kept its place");
        assert_eq!(second.run_id.unwrap().as_str(), "run_2");
    }

    #[test]
    fn restamped_entries_are_applied_with_the_stored_times() {
        let mut state = WorkflowState::default();
        state.plan_ahead();
        state.load(ControlState::default());
        state.enqueue(open_command());
        state.decide_queued(5_000);
        let drive = state.drive_mut().unwrap();
        let Action::AppendEvents { entries, .. } = drive.next_action() else {
            panic!("staged entries come first");
        };
        assert!(
            !drive.restamp_staged(&vec![1; entries.len() + 1]),
            "count must match"
        );
        assert!(drive.restamp_staged(&vec![1_000; entries.len()]));
        drive.resume_appended().unwrap();
        assert_eq!(drive.state().last_observed_at_ms, 1_000);
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut state = WorkflowState::default();
        for i in 0..PENDING_ADMISSIONS_MAX {
            state.enqueue(run_command(&format!("s{i}")));
        }
        assert_eq!(
            state.validate(&run_command("x")).unwrap_err().code,
            "tooMany"
        );
    }

    #[test]
    fn status_reflects_the_committed_state() {
        let mut state = WorkflowState::default();
        assert!(!state.status(0).loaded);
        state.load(ControlState::default());
        state.enqueue(open_command());
        state.enqueue(run_command("a"));
        state.decide_queued(1);
        commit(&mut state);
        let status = state.status(3);
        assert!(status.loaded);
        assert_eq!(status.chain_index, 3);
        assert_eq!(status.queued_runs, 1);
        assert_eq!(status.head, state.committed_head());
    }
}
