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

use crate::messages::{AdmitRejected, PhaseView, WorkflowStatus};

/// Admissions received but not yet decided. More are refused with `tooMany`.
pub const PENDING_ADMISSIONS_MAX: usize = 256;

/// How a queued admission was decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Staged; committed once the head reaches `commit_seq` in reload `epoch`.
    Accepted {
        run_id: Option<RunId>,
        duplicate: bool,
        commit_seq: Seq,
        epoch: u64,
    },
    Rejected(AdmitRejected),
}

#[derive(Debug, Default)]
pub struct WorkflowState {
    /// `None` until the first `load_session` returns.
    drive: Option<Drive<ControlState>>,
    queue: VecDeque<(u64, CoreCommand)>,
    decided: BTreeMap<u64, Decision>,
    next_admission: u64,
    /// Update handlers that have not replied yet.
    handlers_waiting: u32,
    /// Bumped whenever staged entries are dropped and state is reloaded.
    epoch: u64,
}

impl WorkflowState {
    pub fn drive(&self) -> Option<&Drive<ControlState>> {
        self.drive.as_ref()
    }

    pub fn drive_mut(&mut self) -> Option<&mut Drive<ControlState>> {
        self.drive.as_mut()
    }

    /// Installs freshly loaded state. Anything staged before is gone, so admissions
    /// waiting for it to commit are told so through the epoch.
    pub fn load(&mut self, control: ControlState) {
        if self.drive.is_some() {
            self.epoch += 1;
        }
        self.drive = Some(Drive::new(control));
    }

    pub fn epoch(&self) -> u64 {
        self.epoch
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
        for (_, queued) in &self.queue {
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
        self.queue.push_back((id, command));
        self.handlers_waiting += 1;
        id
    }

    /// Decides every queued admission against the drive (a step boundary).
    pub fn decide_queued(&mut self, now_ms: u64) {
        let Some(drive) = self.drive.as_mut() else {
            return;
        };
        while let Some((id, command)) = self.queue.pop_front() {
            let decision = match drive.admit(command, now_ms) {
                Ok(admitted) => {
                    let (run_id, duplicate) = match admitted {
                        Admitted::Accepted => (None, false),
                        Admitted::Run { run_id, duplicate } => (Some(run_id), duplicate),
                    };
                    Decision::Accepted {
                        run_id,
                        duplicate,
                        commit_seq: drive.projected().head,
                        epoch: self.epoch,
                    }
                }
                Err(rejection) => Decision::Rejected(AdmitRejected::from(&rejection)),
            };
            self.decided.insert(id, decision);
        }
    }

    /// Takes the decision on admission `id`, once made.
    pub fn take_decision(&mut self, id: u64) -> Option<Decision> {
        self.decided.remove(&id)
    }

    pub fn is_decided(&self, id: u64) -> bool {
        self.decided.contains_key(&id)
    }

    /// Whether an accepted admission is committed (`Some(true)`), still pending
    /// (`Some(false)`), or lost to a reload (`None`).
    pub fn is_committed(&self, commit_seq: Seq, epoch: u64) -> Option<bool> {
        if self.epoch != epoch {
            return None;
        }
        Some(self.committed_head() >= commit_seq)
    }

    /// An update handler replied.
    pub fn handler_done(&mut self) {
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
            },
            instructions: None,
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
        let Some(Decision::Accepted {
            commit_seq, epoch, ..
        }) = state.take_decision(open)
        else {
            panic!("open accepted");
        };
        let Some(Decision::Accepted {
            run_id,
            commit_seq: run_seq,
            ..
        }) = state.take_decision(run)
        else {
            panic!("run accepted");
        };
        assert_eq!(run_id.unwrap().as_str(), "run_1");
        assert!(run_seq > commit_seq);
        let Some(Decision::Rejected(rejected)) = state.take_decision(refused) else {
            panic!("second open refused");
        };
        assert_eq!(rejected.code, "alreadyOpen");
        assert_eq!(state.is_committed(run_seq, epoch), Some(false));
        commit(&mut state);
        assert_eq!(state.is_committed(run_seq, epoch), Some(true));
        assert_eq!(state.committed_head(), run_seq);
    }

    #[test]
    fn a_reload_loses_uncommitted_admissions() {
        let mut state = WorkflowState::default();
        state.load(ControlState::default());
        state.enqueue(open_command());
        state.decide_queued(1);
        let Some(Decision::Accepted {
            commit_seq, epoch, ..
        }) = state.take_decision(0)
        else {
            panic!("accepted");
        };
        // The append conflicted: the workflow reloads what the store has.
        state.load(ControlState::default());
        assert_eq!(state.is_committed(commit_seq, epoch), None);
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
