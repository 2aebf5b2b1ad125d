//! `SessionRunner`: drives one session in-process against a store and adapters.
//!
//! It is the simplest possible host of the drive machine and shows its contract:
//! commit staged entries before anything else, rebuild the generation request from
//! state at the planning entry and check its fingerprint, feed every effect result
//! back through `resume_*`. Rehydration reads the latest checkpoint plus the tail
//! (`engine::rehydrate`, as every host does).

use std::sync::Arc;

use engine::core::admit::Admitted;
use engine::core::command::{CoreCommand, Rejection};
use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::core::effects::ToolResult;
use engine::core::replay::ReplayError;
use engine::core::request::{GenerationRequest, RebuildError};
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::core::state::SessionState;
use engine::core::transcription::TranscriptionOutcome;
use engine::core::wellknown::well_known_blobs;
use engine::drive::{Action, Drive, Resumed};
use engine::rehydrate::{READ_PAGE_ENTRIES, RehydrateError, rehydrate, state_at, write_checkpoint};
use engine::store::{BlobStore, CheckpointStore, SessionLog, StoreError};
use engine::{LogEntry, Seq, SessionId};

use crate::adapters::{AdapterError, Compactor, LlmAdapter, ToolAdapter};
use crate::compactor::ListingCompactor;

/// Steps `run_until_idle` takes before it gives up: a runaway loop is a bug.
const STEPS_PER_RUN_MAX: usize = 10_000;
/// Default distance, in entries, between checkpoints.
pub const CHECKPOINT_INTERVAL_ENTRIES_DEFAULT: u64 = 256;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Replay(#[from] ReplayError),
    #[error(transparent)]
    Rehydrate(#[from] RehydrateError),
    #[error(transparent)]
    Rebuild(#[from] RebuildError),
    #[error("rejected: {0}")]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Adapter(#[from] AdapterError),
    #[error("session did not settle within {STEPS_PER_RUN_MAX} steps")]
    Runaway,
}

/// What one [`SessionRunner::step`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Appended { entries: usize },
    Generated { turn: u32 },
    ToolsInvoked { calls: usize },
    Compacted,
    ParentNotified,
    Transcribed,
    Idle,
    Closed,
}

/// Checks what the drive did with an effect result. An invalid result is already
/// recorded as a failed effect (the session carries on); a stale one cannot happen,
/// since the runner answers only the effect the drive just asked for.
fn settled(resumed: Resumed) -> Result<(), RunnerError> {
    match resumed {
        Resumed::Applied | Resumed::Invalid { .. } => Ok(()),
        Resumed::Stale { reason } => Err(RunnerError::Rejected(reason)),
    }
}

/// Where the session settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Idle,
    Closed,
}

pub struct SessionRunner<S, L, T, C = ListingCompactor> {
    store: Arc<S>,
    session_id: SessionId,
    drive: Drive<SessionState>,
    llm: L,
    tools: T,
    compactor: C,
    /// Fake wall clock, advanced by one millisecond per input (and kept at least at
    /// the real time with [`SessionRunner::with_wall_clock`]).
    clock_ms: u64,
    wall_clock: bool,
    checkpoint_interval_entries: u64,
    checkpointed_at: Seq,
    /// Refreshed into each generation's request, as the worker does.
    sources: Option<(String, effects::ContextSources<S>)>,
    /// Who tells a parent session of this session's run ends, and the universe.
    parents: Option<(String, Arc<dyn effects::agent_tools::AgentFleet>)>,
    /// Who transcribes voice notes; without one they fail `transcription_unavailable`.
    transcriber: Option<effects::transcriber::LlmTranscriber>,
}

impl<S, L, T> SessionRunner<S, L, T, ListingCompactor>
where
    S: SessionLog + BlobStore + CheckpointStore,
    L: LlmAdapter,
    T: ToolAdapter,
{
    /// Opens (or rehydrates) `session_id` from `store`.
    pub async fn new(
        store: Arc<S>,
        session_id: SessionId,
        llm: L,
        tools: T,
    ) -> Result<Self, RunnerError> {
        Self::with_compactor(store, session_id, llm, tools, ListingCompactor).await
    }
}

impl<S, L, T, C> SessionRunner<S, L, T, C>
where
    S: SessionLog + BlobStore + CheckpointStore,
    L: LlmAdapter,
    T: ToolAdapter,
    C: Compactor,
{
    pub async fn with_compactor(
        store: Arc<S>,
        session_id: SessionId,
        llm: L,
        tools: T,
        compactor: C,
    ) -> Result<Self, RunnerError> {
        for bytes in well_known_blobs() {
            store.put(bytes.to_vec()).await?;
        }
        let state = rehydrate(&*store, &session_id).await?;
        let clock_ms = state.control.last_observed_at_ms;
        let checkpointed_at = state.head();
        Ok(Self {
            store,
            session_id,
            drive: Drive::new(state),
            llm,
            tools,
            compactor,
            clock_ms,
            wall_clock: false,
            checkpoint_interval_entries: CHECKPOINT_INTERVAL_ENTRIES_DEFAULT,
            checkpointed_at,
            sources: None,
            parents: None,
            transcriber: None,
        })
    }

    /// Transcribes voice notes of run input with `transcriber`, as the worker does.
    pub fn with_transcriber(mut self, transcriber: effects::transcriber::LlmTranscriber) -> Self {
        self.transcriber = Some(transcriber);
        self
    }

    /// Refreshes what `sources` provide into every generation of universe
    /// `universe_id`'s session, as the Temporal worker does.
    pub fn with_context_sources(
        mut self,
        universe_id: &str,
        sources: effects::ContextSources<S>,
    ) -> Self {
        self.sources = Some((universe_id.to_owned(), sources));
        self
    }

    /// Tells the parent of universe `universe_id`'s session of its run ends
    /// through `fleet`, as the worker's activity does. Without one, a run end owed
    /// to a parent is acknowledged as undeliverable.
    pub fn with_parent_notifier(
        mut self,
        universe_id: &str,
        fleet: Arc<dyn effects::agent_tools::AgentFleet>,
    ) -> Self {
        self.parents = Some((universe_id.to_owned(), fleet));
        self
    }

    pub fn with_checkpoint_interval(mut self, entries: u64) -> Self {
        self.checkpoint_interval_entries = entries.max(1);
        self
    }

    /// Simulates a crash and restart: drops every in-memory decision and rebuilds
    /// from what the store holds.
    pub async fn restart(self) -> Result<Self, RunnerError> {
        let Self {
            store,
            session_id,
            llm,
            tools,
            compactor,
            checkpoint_interval_entries,
            transcriber,
            ..
        } = self;
        let mut runner = Self::with_compactor(store, session_id, llm, tools, compactor).await?;
        runner.transcriber = transcriber;
        Ok(runner.with_checkpoint_interval(checkpoint_interval_entries))
    }

    pub fn state(&self) -> &SessionState {
        self.drive.state()
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn llm(&self) -> &L {
        &self.llm
    }

    pub fn session_id(&self) -> &SessionId {
        &self.session_id
    }

    /// Times follow the real clock (never going back), so timed holds (approval
    /// deadlines, `sleep`, wake-ups) come due in real time, as on the worker.
    pub fn with_wall_clock(mut self) -> Self {
        self.wall_clock = true;
        self
    }

    fn tick(&mut self) -> u64 {
        self.clock_ms += 1;
        if self.wall_clock {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |since| since.as_millis() as u64);
            self.clock_ms = self.clock_ms.max(now);
        }
        self.clock_ms
    }

    /// When the session's next timed hold comes due (see
    /// `ControlState::next_deadline_ms`), in this runner's clock.
    pub fn next_deadline_ms(&self) -> Option<u64> {
        self.drive.state().control.next_deadline_ms()
    }

    /// Fires what is due at the runner's clock, as the workflow does when its timer
    /// fires; `false` when nothing was.
    pub async fn fire_due(&mut self) -> Result<bool, RunnerError> {
        let now = self.tick();
        match self
            .drive
            .admit(CoreCommand::FireTimers { now_ms: now }, now)
        {
            Ok(_) => {
                self.commit_staged().await?;
                Ok(true)
            }
            Err(Rejection::NothingDue) => Ok(false),
            Err(rejection) => Err(rejection.into()),
        }
    }

    /// Stores `text` as a user message blob and returns the item to submit.
    pub async fn user_text(&self, text: &str) -> Result<ItemSpec, RunnerError> {
        let bytes = text.as_bytes().to_vec();
        let estimate = estimate_tokens(&bytes);
        Ok(ItemSpec::new(
            ItemKind::UserMessage,
            self.store.put(bytes).await?,
            estimate,
        ))
    }

    /// Admits a command and commits it before returning: once this returns `Ok`,
    /// the command is durably accepted.
    pub async fn admit(&mut self, command: CoreCommand) -> Result<Admitted, RunnerError> {
        let now = self.tick();
        let admitted = self.drive.admit(command, now)?;
        self.commit_staged().await?;
        Ok(admitted)
    }

    /// The action the runner would perform next, without performing it.
    pub fn peek(&mut self) -> Action {
        self.drive.next_action()
    }

    async fn commit_staged(&mut self) -> Result<usize, RunnerError> {
        if !self.drive.has_staged() {
            return Ok(0);
        }
        let Action::AppendEvents {
            expected_head,
            entries,
        } = self.drive.next_action()
        else {
            return Ok(0);
        };
        if let Err(err) = self
            .store
            .append(&self.session_id, expected_head, &entries)
            .await
        {
            self.drive.discard_staged();
            return Err(err.into());
        }
        self.drive.resume_appended()?;
        self.maybe_checkpoint().await?;
        Ok(entries.len())
    }

    /// Writes the staged entries to the store but "crashes" before the drive hears
    /// about it: the next [`Self::restart`] must not duplicate them.
    pub async fn append_then_crash(self) -> Result<Arc<S>, RunnerError> {
        let mut runner = self;
        if let Action::AppendEvents {
            expected_head,
            entries,
        } = runner.drive.next_action()
        {
            runner
                .store
                .append(&runner.session_id, expected_head, &entries)
                .await?;
        }
        Ok(runner.store)
    }

    async fn maybe_checkpoint(&mut self) -> Result<(), RunnerError> {
        let state = self.drive.state();
        if state.head() >= self.checkpointed_at + self.checkpoint_interval_entries {
            write_checkpoint(&*self.store, &self.session_id, state).await?;
            self.checkpointed_at = state.head();
        }
        Ok(())
    }

    /// Performs one action.
    pub async fn step(&mut self) -> Result<Step, RunnerError> {
        match self.drive.next_action() {
            Action::AppendEvents { .. } => Ok(Step::Appended {
                entries: self.commit_staged().await?,
            }),
            Action::GenerateLlm(intent) => {
                let state = self.state_at(intent.planned_at).await?;
                let request = GenerationRequest::rebuild(&state)?;
                let refresh = match &self.sources {
                    Some((universe_id, sources)) => {
                        sources
                            .refresh(universe_id, &self.store, &self.session_id, &state)
                            .await?
                    }
                    None => Default::default(),
                };
                let request = request.refreshed(&state, &refresh)?;
                let mut outcome = self.llm.generate(&request, &*self.store).await?;
                if let engine::core::effects::GenerationOutcome::Completed(result) = &mut outcome {
                    result.context_refresh = refresh;
                }
                let now = self.tick();
                let resumed =
                    self.drive
                        .resume_generation(&intent.run_id, intent.turn, outcome, now);
                settled(resumed)?;
                Ok(Step::Generated { turn: intent.turn })
            }
            Action::InvokeTools(intent) => {
                let mut results = Vec::with_capacity(intent.calls.len());
                for call in &intent.calls {
                    results.push(self.invoke(call, &intent.run_id, intent.batch).await?);
                }
                let now = self.tick();
                let resumed =
                    self.drive
                        .resume_tool_results(&intent.run_id, intent.batch, results, now);
                settled(resumed)?;
                Ok(Step::ToolsInvoked {
                    calls: intent.calls.len(),
                })
            }
            Action::CompactContext(intent) => {
                let outcome = self
                    .compactor
                    .compact(self.drive.state(), &*self.store)
                    .await?;
                let now = self.tick();
                let resumed = self
                    .drive
                    .resume_compaction(intent.compaction, outcome, now);
                settled(resumed)?;
                Ok(Step::Compacted)
            }
            Action::NotifyParent(intent) => {
                let delivered = match &self.parents {
                    Some((universe_id, fleet)) => fleet
                        .notify_parent(universe_id, &intent)
                        .await
                        .map_err(|err| AdapterError::Transient {
                        message: err.to_string(),
                        retry_after: None,
                    })?,
                    None => false,
                };
                let now = self.tick();
                let command = CoreCommand::ParentNotified {
                    run_id: intent.run_id,
                    delivered,
                };
                self.drive.admit(command, now)?;
                Ok(Step::ParentNotified)
            }
            Action::TranscribeInput(intent) => {
                let outcome = match &self.transcriber {
                    Some(transcriber) => transcriber.transcribe(&intent, &*self.store).await?,
                    None => TranscriptionOutcome::Failed {
                        error: engine::core::run::EffectError {
                            code: "transcription_unavailable".into(),
                            message: "this host transcribes no voice notes".into(),
                        },
                    },
                };
                let now = self.tick();
                let resumed = self
                    .drive
                    .resume_transcription(&intent.run_id, outcome, now);
                settled(resumed)?;
                Ok(Step::Transcribed)
            }
            Action::Idle => Ok(Step::Idle),
            Action::Closed => Ok(Step::Closed),
        }
    }

    /// Runs one call, if the session registered its tool (as the Temporal worker
    /// does: models can name any tool, only the session's own are served).
    async fn invoke(
        &self,
        call: &ToolCallRequest,
        run_id: &engine::RunId,
        batch: u32,
    ) -> Result<ToolResult, RunnerError> {
        let control = &self.drive.state().control;
        if control.tools.iter().any(|tool| tool.name == call.name) {
            return Ok(self
                .tools
                .invoke_in_run(call, &*self.store, run_id, batch)
                .await?);
        }
        let message = effects::toolset::unavailable_tool_message(&call.name);
        let output = serde_json::json!({ "error": message });
        Ok(effects::toolset::result(call, &*self.store, ToolStatus::Error, &output).await?)
    }

    /// Steps until nothing is left to do.
    pub async fn run_until_idle(&mut self) -> Result<Settled, RunnerError> {
        for _ in 0..STEPS_PER_RUN_MAX {
            match self.step().await? {
                Step::Idle => return Ok(Settled::Idle),
                Step::Closed => return Ok(Settled::Closed),
                _ => {}
            }
        }
        Err(RunnerError::Runaway)
    }

    /// Every committed entry.
    pub async fn log(&self) -> Result<Vec<LogEntry>, RunnerError> {
        read_all(&*self.store, &self.session_id, 1, Seq::MAX).await
    }

    /// Full state as of entry `seq` (the current state when `seq` is the head).
    async fn state_at(&self, seq: Seq) -> Result<SessionState, RunnerError> {
        let state = self.drive.state();
        if state.head() == seq {
            return Ok(state.clone());
        }
        Ok(state_at(&*self.store, &self.session_id, seq).await?)
    }
}

async fn read_all<S: SessionLog>(
    store: &S,
    session_id: &SessionId,
    from_seq: Seq,
    through_seq: Seq,
) -> Result<Vec<LogEntry>, RunnerError> {
    let mut entries = Vec::new();
    let mut next = from_seq;
    while next <= through_seq {
        let page = store.read(session_id, next, READ_PAGE_ENTRIES).await?;
        let Some(last) = page.last() else { break };
        next = last.seq + 1;
        entries.extend(page.into_iter().filter(|entry| entry.seq <= through_seq));
    }
    Ok(entries)
}
