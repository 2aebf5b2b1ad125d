//! The drive loop: the workflow as a host of the drive machine.
//!
//! Each iteration decides queued admissions (a step boundary), asks the drive for its
//! next action and performs it through an activity. Effects (generation, tool calls,
//! compaction) stay in flight across iterations: while one runs, the loop also wakes
//! for admissions, commits them, and re-asks the drive. If the drive no longer wants
//! the effect (a cancel or close ended the run), the effect's activity is cancelled.
//! The drive is level-triggered, so an effect it still wants is simply awaited again.

use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, UNIX_EPOCH};

use engine::core::control::ControlState;
use engine::core::effects::{CompactionOutcome, GenerationOutcome, ToolResult};
use engine::core::limits::TEXT_FIELD_BYTES_MAX;
use engine::core::run::EffectError;
use engine::drive::{Action, CompactionIntent, GenerationIntent, Resumed, ToolBatchIntent};
use engine::{LogEntry, RunId, Seq, ToolCallId};
use futures::FutureExt as _;
use opentelemetry::trace::FutureExt as _;
use temporalio_workflow::ActivityExecutionError;
use temporalio_workflow::common::error::ApplicationFailure;
use temporalio_workflow::{
    CancellableFuture, ContinueAsNewOptions, TimerResult, WorkflowContext, WorkflowResult,
    WorkflowTermination, select,
};

use engine::core::transcription::TranscriptionOutcome;

use crate::activities::{
    AppendEvents, AppendEventsInput, AppendEventsOutput, CommittedStep, CompactContext,
    CompactContextInput, GenerationStep, LlmGenerate, LlmGenerateCommit, LlmGenerateInput,
    LoadSession, LoadSessionInput, SessionKey, ToolInvoke, ToolInvokeInput, entries_digest,
};
use crate::messages::{SessionWorkflowInput, SessionWorkflowOutcome};
use crate::workflow::AgentSessionWorkflow;

mod idle;
mod notify;
mod transcribe;

pub(crate) type Ctx = WorkflowContext<AgentSessionWorkflow>;
type Activity<'a, T> =
    Pin<Box<dyn CancellableFuture<Output = Result<T, ActivityExecutionError>> + 'a>>;

/// The one effect the drive has outstanding, keyed by the ids the drive uses.
enum InFlight<'a> {
    Generation {
        run_id: RunId,
        turn: u32,
        activity: GenerationActivity<'a>,
    },
    Tools {
        run_id: RunId,
        batch: u32,
        calls: Vec<(ToolCallId, Activity<'a, ToolResult>)>,
    },
    Compaction {
        compaction: u32,
        activity: Activity<'a, CompactionOutcome>,
    },
    Transcription {
        run_id: RunId,
        activity: Activity<'a, TranscriptionOutcome>,
    },
}

/// The generation activity: committing its outcome itself (the history budget's
/// shape) or not (histories recorded before it).
enum GenerationActivity<'a> {
    Plain(Activity<'a, GenerationOutcome>),
    Committing(Activity<'a, GenerationStep>),
}

impl GenerationActivity<'_> {
    fn cancel(&self) {
        match self {
            GenerationActivity::Plain(activity) => activity.cancel(),
            GenerationActivity::Committing(activity) => activity.cancel(),
        }
    }

    // The error is the SDK's own (large) type, passed along as the SDK returns it.
    #[allow(clippy::result_large_err)]
    fn poll_step(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Result<GenerationStep, ActivityExecutionError>> {
        match self {
            GenerationActivity::Plain(activity) => activity.as_mut().poll(cx).map(|result| {
                result.map(|outcome| GenerationStep {
                    outcome,
                    committed: None,
                })
            }),
            GenerationActivity::Committing(activity) => activity.as_mut().poll(cx),
        }
    }
}

impl InFlight<'_> {
    fn cancel(self) {
        match self {
            InFlight::Generation { activity, .. } => activity.cancel(),
            InFlight::Compaction { activity, .. } => activity.cancel(),
            InFlight::Transcription { activity, .. } => activity.cancel(),
            InFlight::Tools { calls, .. } => calls.iter().for_each(|(_, call)| call.cancel()),
        }
    }
}

/// The idle timer, kept pending across busy periods (see [`Host::idle`]).
struct IdleTimer<'a> {
    timer: Pin<Box<dyn CancellableFuture<Output = TimerResult> + 'a>>,
}

struct Host<'a> {
    ctx: &'a Ctx,
    input: SessionWorkflowInput,
    key: SessionKey,
    in_flight: Option<InFlight<'a>>,
    /// Activities scheduled by this run; makes activity ids unique.
    scheduled: u64,
    /// The history budget's shape (`HISTORY_BUDGET_PATCH`): store work as local
    /// activities, appends planned ahead, one idle timer for many idle periods.
    lean: bool,
    idle_timer: Option<IdleTimer<'a>>,
    /// The upgrade drill's change: a timer before each generation (`crate::drill`).
    #[cfg(feature = "upgrade-drill")]
    pause_before_generation: bool,
}

/// Marks workflow histories whose idle waits may end in the idle timer.
const IDLE_TIMEOUT_PATCH: &str = "session-idle-timeout-v1";
/// Marks workflow histories recorded with the history budget's shape
/// (docs/spec/workflow.md, "History budget"); older ones replay as recorded.
const HISTORY_BUDGET_PATCH: &str = "history-budget-v1";

pub(crate) async fn drive_session(
    ctx: &mut Ctx,
    input: SessionWorkflowInput,
) -> WorkflowResult<SessionWorkflowOutcome> {
    let ctx: &Ctx = ctx;
    let input_legacy = input.settings.legacy_history_shape;
    let key = SessionKey {
        universe_id: input.universe_id.clone(),
        session_id: input.session_id.clone(),
    };
    let mut host = Host {
        ctx,
        input,
        key,
        in_flight: None,
        scheduled: 0,
        // The setting is part of the workflow input, so replay takes the same branch.
        lean: !input_legacy && ctx.patched(HISTORY_BUDGET_PATCH),
        idle_timer: None,
        #[cfg(feature = "upgrade-drill")]
        pause_before_generation: crate::drill::pauses_before_generation(ctx),
    };
    if host.lean {
        ctx.state_mut(|wf| wf.session.plan_ahead());
    }
    host.load().await?;
    loop {
        // Cancelling the workflow stops driving the session; what is committed stays,
        // and the next admission starts a new run that carries on from the store.
        if ctx.cancellation_token().is_cancelled() {
            host.settle_in_flight(|_| false);
            return Err(WorkflowTermination::cancelled());
        }
        let now = now_ms(ctx);
        let next = ctx.state_mut(|wf| {
            wf.decide_queued(now);
            let drive = wf.session.drive_mut()?;
            let action = drive.next_action();
            let trace = run_of(&action, drive.projected()).and_then(|run| wf.traces.of(run));
            Some((action, trace))
        });
        let Some((action, trace)) = next else {
            host.load().await?;
            continue;
        };
        // What the step schedules joins the trace of the run it acts for (with traces
        // off there is none, and the plugin is not installed either).
        let step = host.step(action);
        let outcome = match trace {
            Some(trace) => step.with_context(trace).await?,
            None => step.await?,
        };
        if let Some(outcome) = outcome {
            return Ok(outcome);
        }
    }
}

/// The run `action` is taken for: the one it names, else the active one.
fn run_of<'a>(action: &'a Action, control: &'a ControlState) -> Option<&'a RunId> {
    match action {
        Action::GenerateLlm(intent) => Some(&intent.run_id),
        Action::InvokeTools(intent) => Some(&intent.run_id),
        Action::NotifyParent(intent) => Some(&intent.run_id),
        Action::TranscribeInput(intent) => Some(&intent.run_id),
        Action::AppendEvents { .. } | Action::CompactContext(_) | Action::Idle | Action::Closed => {
            control.runs.active.as_ref().map(|active| &active.run_id)
        }
    }
}

impl Host<'_> {
    /// Performs one action; the session's outcome when the workflow is done.
    async fn step(&mut self, action: Action) -> WorkflowResult<Option<SessionWorkflowOutcome>> {
        match action {
            Action::AppendEvents {
                expected_head,
                entries,
            } => self.append(expected_head, entries).await?,
            Action::GenerateLlm(intent) => self.generate(intent).await?,
            Action::InvokeTools(intent) => self.invoke_tools(intent).await,
            Action::CompactContext(intent) => self.compact(intent).await,
            Action::NotifyParent(intent) => self.notify_parent(intent).await?,
            Action::TranscribeInput(intent) => self.transcribe(intent).await,
            Action::Idle => return self.idle().await,
            Action::Closed => return self.closed().await.map(Some),
        }
        Ok(None)
    }
}

fn now_ms(ctx: &Ctx) -> u64 {
    ctx.workflow_time()
        .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// An activity failure as an effect error the engine can record.
fn effect_error(code: &str, err: &ActivityExecutionError) -> EffectError {
    EffectError {
        code: code.to_owned(),
        message: describe(err),
    }
}

/// An activity failure with its retry state and causes (the top-level message is
/// only "Activity task failed").
fn describe(err: &ActivityExecutionError) -> String {
    let mut text = err.to_string();
    if let ActivityExecutionError::Failed(failed) = err {
        text.push_str(&format!(" (retry state {:?})", failed.retry_state()));
    }
    let mut cause = err.failure().and_then(|failure| failure.cause.as_deref());
    // Bounded: cause chains are a few links long.
    for _ in 0..4 {
        let Some(failure) = cause else { break };
        text.push_str(": ");
        text.push_str(&failure.message);
        cause = failure.cause.as_deref();
    }
    truncate(text)
}

impl<'a> Host<'a> {
    /// A unique id for the next activity. In the history budget's shape it is the
    /// first letter of `what` and the counter (`g12`): ids are in every scheduled
    /// event and local-activity marker, and the activity's type and input already
    /// say what it is for.
    fn activity_id(&mut self, what: String) -> String {
        self.scheduled += 1;
        if self.lean {
            let initial = what.chars().next().unwrap_or('a');
            format!("{initial}{}", self.scheduled)
        } else {
            format!("{what}#{}", self.scheduled)
        }
    }

    fn settings(&self) -> &crate::settings::WorkflowSettings {
        &self.input.settings
    }

    /// Reads the session from the store (first start, continue-as-new, or after a
    /// failed append).
    async fn load(&mut self) -> WorkflowResult<()> {
        let id = self.activity_id("load".into());
        let input = LoadSessionInput {
            key: self.key.clone(),
        };
        let loaded = if self.lean {
            let options = self.settings().store_local_options(id);
            self.ctx
                .execute_local_activity(LoadSession, input, options)
                .await?
        } else {
            let options = self.settings().store_options(id);
            self.ctx
                .execute_activity(LoadSession, input, options)
                .await?
        };
        self.ctx.state_mut(|wf| wf.session.load(loaded.control));
        Ok(())
    }

    /// Commits staged entries; on a conflict drops them and reloads.
    async fn append(&mut self, expected_head: Seq, entries: Vec<LogEntry>) -> WorkflowResult<()> {
        let id = self.activity_id(format!("append/{expected_head}"));
        let input = AppendEventsInput {
            key: self.key.clone(),
            expected_head,
            entries,
        };
        let outcome = if self.lean {
            let options = self.settings().store_local_options(id);
            self.ctx
                .execute_local_activity(AppendEvents, input, options)
                .await
        } else {
            let options = self.settings().store_options(id);
            self.ctx
                .execute_activity(AppendEvents, input, options)
                .await
        };
        match outcome {
            Ok(AppendEventsOutput::Committed { restamped, .. }) => {
                if let Some(stamps) = restamped {
                    let restamped = self.ctx.state_mut(|wf| {
                        wf.session
                            .drive_mut()
                            .is_some_and(|drive| drive.restamp_staged(&stamps))
                    });
                    if !restamped {
                        return self.reload().await;
                    }
                }
                self.staged_committed()
            }
            _ => self.reload().await,
        }
    }

    /// The store holds the drive's staged entries: apply them.
    fn staged_committed(&mut self) -> WorkflowResult<()> {
        {
            let applied = self.ctx.state_mut(|wf| {
                wf.session
                    .drive_mut()
                    .map_or(Ok(()), |drive| drive.resume_appended())
            });
            // The drive decided these entries itself and the store holds them: if they
            // do not apply, the engine's deciders and reducers disagree. Reloading would
            // hit the same entries again (or hide the bug), so fail the workflow loudly.
            if let Err(err) = applied {
                let message = format!(
                    "engine invariant broken: committed entries it decided do not apply: {err}"
                );
                return Err(WorkflowTermination::failed_application(
                    ApplicationFailure::non_retryable(truncate(message)),
                ));
            }
        }
        Ok(())
    }

    /// The log is not what the drive staged on: drop the staged entries and read
    /// the session from the store.
    async fn reload(&mut self) -> WorkflowResult<()> {
        self.ctx.state_mut(|wf| {
            if let Some(drive) = wf.session.drive_mut() {
                drive.discard_staged();
            }
        });
        self.load().await
    }

    /// An activity appended a batch on the workflow's behalf. If it is the batch the
    /// drive staged from the same outcome (same position, same digest), it is
    /// committed; otherwise the log holds something the drive did not decide, so
    /// read it back.
    async fn adopt(&mut self, committed: CommittedStep) -> WorkflowResult<()> {
        let same = self.ctx.state_mut(|wf| {
            let drive = wf.session.drive_mut()?;
            match drive.next_action() {
                Action::AppendEvents { entries, .. } => {
                    Some(entries_digest(&entries) == committed.entries_digest)
                }
                _ => Some(false),
            }
        });
        if same == Some(true) {
            self.staged_committed()
        } else {
            if !self.ctx.is_replaying() {
                tracing::info!("a step an activity committed differs from the drive's; reloading");
            }
            self.reload().await
        }
    }

    /// Cancels the in-flight effect unless `keep` says the drive still wants it.
    fn settle_in_flight(&mut self, keep: impl FnOnce(&InFlight<'a>) -> bool) {
        if let Some(in_flight) = self.in_flight.take() {
            if keep(&in_flight) {
                self.in_flight = Some(in_flight);
            } else {
                in_flight.cancel();
            }
        }
    }

    /// Waits until admissions are queued (or the workflow is cancelled, which the
    /// loop checks next). Used beside an in-flight effect.
    async fn admissions(ctx: &Ctx) {
        let _ = ctx.wait_condition(|wf| wf.session.has_queued()).await;
    }

    /// The result of an in-flight `activity`, or `None` when admissions arrived
    /// first (the activity stays in flight; the loop admits them and comes back).
    #[allow(clippy::result_large_err)]
    async fn beside_admissions<T>(
        ctx: &Ctx,
        activity: &mut Activity<'_, T>,
    ) -> Option<Result<T, ActivityExecutionError>> {
        select! {
            result = activity.as_mut() => Some(result),
            () = Self::admissions(ctx).fuse() => None,
        }
    }

    async fn generate(&mut self, intent: GenerationIntent) -> WorkflowResult<()> {
        self.settle_in_flight(|in_flight| {
            matches!(in_flight, InFlight::Generation { run_id, turn, .. }
                if *run_id == intent.run_id && *turn == intent.turn)
        });
        if self.in_flight.is_none() {
            #[cfg(feature = "upgrade-drill")]
            if self.pause_before_generation {
                // The drill's change (crate::drill); the timer's result does not matter.
                let _ = self.ctx.timer(crate::drill::DRILL_PAUSE).await;
            }
            let id = self.activity_id(format!("llm/{}/{}", intent.run_id, intent.turn));
            let options = self.settings().llm_options(id);
            let mut input = LlmGenerateInput {
                universe_id: self.key.universe_id.clone(),
                intent: intent.clone(),
                attempts_max: self.settings().llm_attempts_max,
                commit_at: None,
            };
            let activity = if self.lean {
                // Usually the head is the planning entry itself: then it goes unsaid.
                let head = self.ctx.state(|wf| wf.session.committed_head());
                input.commit_at = (head != intent.planned_at).then_some(head);
                GenerationActivity::Committing(Box::pin(self.ctx.execute_activity(
                    LlmGenerateCommit,
                    input,
                    options,
                )))
            } else {
                GenerationActivity::Plain(Box::pin(self.ctx.execute_activity(
                    LlmGenerate,
                    input,
                    options,
                )))
            };
            self.in_flight = Some(InFlight::Generation {
                run_id: intent.run_id.clone(),
                turn: intent.turn,
                activity,
            });
        }
        let Some(InFlight::Generation { activity, .. }) = self.in_flight.as_mut() else {
            return Ok(());
        };
        let ctx = self.ctx;
        let step = futures::future::poll_fn(|cx| activity.poll_step(cx));
        let result = select! {
            result = step.fuse() => Some(result),
            () = Self::admissions(ctx).fuse() => None,
        };
        let Some(result) = result else {
            return Ok(());
        };
        self.in_flight = None;
        let (outcome, committed) = match result {
            Ok(step) => (step.outcome, step.committed),
            Err(err) => (
                GenerationOutcome::Failed {
                    error: effect_error("activity_failed", &err),
                },
                None,
            ),
        };
        // Decide with the activity's time when it committed, so both decide alike.
        let now = committed
            .as_ref()
            .map_or_else(|| now_ms(ctx), |step| step.observed_at_ms);
        let resumed = ctx.state_mut(|wf| {
            wf.session
                .drive_mut()
                .map(|drive| drive.resume_generation(&intent.run_id, intent.turn, outcome, now))
        });
        report(ctx, "generation", resumed);
        match committed {
            Some(step) => self.adopt(step).await,
            None => Ok(()),
        }
    }

    async fn invoke_tools(&mut self, intent: ToolBatchIntent) {
        self.settle_in_flight(|in_flight| {
            matches!(in_flight, InFlight::Tools { run_id, batch, .. }
                if *run_id == intent.run_id && *batch == intent.batch)
        });
        if self.in_flight.is_none() {
            let registered = self.ctx.state(|wf| {
                wf.session
                    .drive()
                    .map(|drive| drive.state().tools.clone())
                    .unwrap_or_default()
            });
            let mut calls = Vec::with_capacity(intent.calls.len());
            for call in &intent.calls {
                let id = self.activity_id(format!(
                    "tool/{}/{}/{}",
                    intent.run_id, intent.batch, call.call_id
                ));
                let options = self.settings().tool_options(id);
                let input = ToolInvokeInput {
                    key: self.key.clone(),
                    run_id: intent.run_id.clone(),
                    batch: intent.batch,
                    call: call.clone(),
                    definition_ref: registered
                        .iter()
                        .find(|tool| tool.name == call.name)
                        .map(|tool| tool.definition_ref.clone()),
                    timeout_ms: self.settings().tool_timeout_ms,
                };
                let activity = self.ctx.execute_activity(ToolInvoke, input, options);
                calls.push((call.call_id.clone(), Box::pin(activity) as Activity<'a, _>));
            }
            self.in_flight = Some(InFlight::Tools {
                run_id: intent.run_id.clone(),
                batch: intent.batch,
                calls,
            });
        }
        let Some(InFlight::Tools { calls, .. }) = self.in_flight.as_mut() else {
            return;
        };
        let ctx = self.ctx;
        // The first finished call, scanning in call order: deterministic on replay.
        let first_done = futures::future::poll_fn(|cx| {
            for (index, (_, call)) in calls.iter_mut().enumerate() {
                if let Poll::Ready(result) = call.as_mut().poll(cx) {
                    return Poll::Ready((index, result));
                }
            }
            Poll::Pending
        });
        let done = select! {
            done = first_done.fuse() => Some(done),
            () = Self::admissions(ctx).fuse() => None,
        };
        let Some((index, result)) = done else { return };
        let (call_id, _) = calls.remove(index);
        if calls.is_empty() {
            self.in_flight = None;
        }
        let now = now_ms(ctx);
        match result {
            Ok(result) => {
                let resumed = ctx.state_mut(|wf| {
                    wf.session.drive_mut().map(|drive| {
                        drive.resume_tool_results(&intent.run_id, intent.batch, vec![result], now)
                    })
                });
                report(ctx, "tool result", resumed);
            }
            Err(err) => {
                // The activity retries store failures itself; reaching here means the
                // call cannot produce a result at all. End the run rather than wait.
                let reason = format!("tool call {call_id} failed: {}", describe(&err));
                let command = engine::core::command::CoreCommand::CancelRun {
                    run_id: intent.run_id.clone(),
                    reason: Some(truncate(reason)),
                };
                let admitted = ctx.state_mut(|wf| {
                    wf.session
                        .drive_mut()
                        .map(|drive| drive.admit(command, now))
                });
                // Refused only when the run already ended or is being cancelled:
                // either way it no longer waits for this call.
                if let Some(Err(rejection)) = admitted
                    && !ctx.is_replaying()
                {
                    tracing::info!(%rejection, "cancel after a failed tool call was refused");
                }
            }
        }
    }

    async fn compact(&mut self, intent: CompactionIntent) {
        self.settle_in_flight(|in_flight| {
            matches!(in_flight, InFlight::Compaction { compaction, .. }
                if *compaction == intent.compaction)
        });
        if self.in_flight.is_none() {
            let id = self.activity_id(format!("compact/{}", intent.compaction));
            let options = self.settings().compaction_options(id);
            let input = CompactContextInput {
                universe_id: self.key.universe_id.clone(),
                at_head: self.ctx.state(|wf| wf.session.committed_head()),
                intent: intent.clone(),
                attempts_max: self.settings().llm_attempts_max,
            };
            let activity = self.ctx.execute_activity(CompactContext, input, options);
            self.in_flight = Some(InFlight::Compaction {
                compaction: intent.compaction,
                activity: Box::pin(activity),
            });
        }
        let Some(InFlight::Compaction { activity, .. }) = self.in_flight.as_mut() else {
            return;
        };
        let ctx = self.ctx;
        let Some(result) = Self::beside_admissions(ctx, activity).await else {
            return;
        };
        self.in_flight = None;
        let outcome = result.unwrap_or_else(|err| CompactionOutcome::Failed {
            error: effect_error("activity_failed", &err),
        });
        let now = now_ms(ctx);
        let resumed = ctx.state_mut(|wf| {
            wf.session
                .drive_mut()
                .map(|drive| drive.resume_compaction(intent.compaction, outcome, now))
        });
        report(ctx, "compaction", resumed);
    }
}

/// Says what the drive did with an effect result. Nothing here changes what the
/// drive does next: an invalid result is already recorded as a failed effect, and a
/// stale one answered an effect the drive had already settled (a cancel, a close or
/// an earlier result moved on). Logged only outside replay, so each is logged once.
fn report(ctx: &Ctx, effect: &'static str, resumed: Option<Resumed>) {
    let replaying = ctx.is_replaying();
    match resumed {
        // No drive: the session was never loaded, so no effect can have been asked.
        None | Some(Resumed::Applied) => {}
        Some(Resumed::Invalid { reason }) => {
            if !replaying {
                tracing::warn!(effect, %reason, "effect result recorded as invalid_result");
            }
        }
        Some(Resumed::Stale { reason }) => {
            if !replaying {
                tracing::info!(effect, %reason, "stale effect result dropped");
            }
        }
    }
}

fn truncate(mut text: String) -> String {
    if text.len() > TEXT_FIELD_BYTES_MAX {
        let mut end = TEXT_FIELD_BYTES_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}
