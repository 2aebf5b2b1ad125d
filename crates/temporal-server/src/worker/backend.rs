//! What the session activities do, generic over the store, the tools and the
//! compactor. [`super::activities`] registers them with the SDK through the
//! object-safe [`SessionActivityBackend`].
//!
//! Error policy: deterministic failures are returned as values the engine records (a
//! failed generation, an error tool result, an append conflict); only failures that
//! may clear on retry (store backends, retryable provider errors below the attempt
//! bound) are activity errors, which Temporal retries.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use effects::{AdapterError, Compactor, ToolAdapter};
use engine::core::context::estimate_tokens;
use engine::core::control::ControlState;
use engine::core::effects::{CompactionOutcome, GenerationOutcome, ToolResult};
use engine::core::request::GenerationRequest;
use engine::core::run::{EffectError, ToolStatus};
use engine::core::transcription::TranscriptionOutcome;
use engine::drive::{Action, Drive, GenerationIntent, Resumed};
use engine::store::{AppendOutcome, BlobStore, SessionLog, StoreError};
use engine::{Seq, SessionId};
use futures::future::BoxFuture;
use llm_runtime::{LlmRuntime, Transport};
use serde_json::json;
use telemetry::traces::FutureExt as _;
use temporal_workflow::activities::{
    AppendEventsInput, AppendEventsOutput, CommittedStep, CompactContextInput, GenerationStep,
    LlmGenerateInput, LoadSessionInput, LoadSessionOutput, NotifyParentInput, ToolInvokeInput,
    TranscribeInputInput, entries_digest,
};
use temporalio_sdk::ApplicationFailure;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use crate::deltas::DeltaHub;
use effects::SessionToolset;
use engine::rehydrate::{RehydrateError as ReplayFailure, rehydrate, state_at, write_checkpoint};
use session_stores::StoreProvider;

/// Longest error message recorded in the log (the engine bounds it too).
const ERROR_MESSAGE_BYTES_MAX: usize = 1_024;
/// Heartbeat period when the activity has no heartbeat timeout.
const HEARTBEAT_DEFAULT: Duration = Duration::from_secs(5);

pub(super) type ActivityResult<T> = Result<T, ActivityError>;

/// The session activities, object-safe so one registration serves any store.
pub trait SessionActivityBackend: Send + Sync + 'static {
    fn load_session(
        &self,
        input: LoadSessionInput,
    ) -> BoxFuture<'_, ActivityResult<LoadSessionOutput>>;
    fn append_events(
        &self,
        input: AppendEventsInput,
    ) -> BoxFuture<'_, ActivityResult<AppendEventsOutput>>;
    fn llm_generate(
        &self,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> BoxFuture<'_, ActivityResult<GenerationOutcome>>;
    fn llm_generate_commit(
        &self,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> BoxFuture<'_, ActivityResult<GenerationStep>>;
    fn tool_invoke(
        &self,
        ctx: ActivityContext,
        input: ToolInvokeInput,
    ) -> BoxFuture<'_, ActivityResult<ToolResult>>;
    fn compact_context(
        &self,
        ctx: ActivityContext,
        input: CompactContextInput,
    ) -> BoxFuture<'_, ActivityResult<CompactionOutcome>>;
    fn notify_parent(&self, input: NotifyParentInput) -> BoxFuture<'_, ActivityResult<bool>>;
    fn transcribe_input(
        &self,
        ctx: ActivityContext,
        input: TranscribeInputInput,
    ) -> BoxFuture<'_, ActivityResult<TranscriptionOutcome>>;
}

/// How generations reach providers.
#[derive(Clone)]
pub struct LlmSettings {
    pub runtime: LlmRuntime,
    pub transport: Transport,
}

pub struct Backend<P, T, C> {
    pub stores: P,
    pub llm: LlmSettings,
    pub tools: T,
    pub compactor: C,
    pub deltas: Arc<DeltaHub>,
    /// A checkpoint is written whenever the head crosses a multiple of this.
    pub checkpoint_interval_entries: u64,
    /// Which provider transcribes voice notes, and their limits.
    pub transcription: effects::transcriber::TranscriptionSettings,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Counts the runs that `entries`, just committed, started and ended.
fn observe_committed(entries: &[engine::LogEntry]) {
    use engine::core::event::{CoreEvent, RunFinished, RunStarted};
    use engine::core::run::RunOutcome;
    for entry in entries {
        match entry.event.kind.as_str() {
            RunStarted::KIND => telemetry::metrics().run_started(),
            RunFinished::KIND => {
                let outcome = match CoreEvent::decode(&entry.event) {
                    Ok(CoreEvent::RunFinished(finished)) => match finished.outcome {
                        RunOutcome::Completed => "completed",
                        RunOutcome::Failed { .. } => "failed",
                        RunOutcome::Cancelled { .. } => "cancelled",
                    },
                    _ => "unknown",
                };
                telemetry::metrics().run_finished(outcome);
            }
            _ => {}
        }
    }
}

/// A failure worth retrying (Temporal applies the activity's retry policy).
pub(super) fn retryable(err: impl Display) -> ActivityError {
    ActivityError::application(ApplicationFailure::new(err.to_string()))
}

/// A failure no retry can fix.
fn fatal(err: impl Display) -> ActivityError {
    ActivityError::application(ApplicationFailure::non_retryable(err.to_string()))
}

/// A store failure, retried only when the backend says it may clear: a corrupt row,
/// a digest mismatch or a constraint violation fails the activity for good.
pub(super) fn store_failure(err: StoreError) -> ActivityError {
    if err.is_retryable() {
        retryable(err)
    } else {
        fatal(err)
    }
}

pub(super) fn bounded(message: impl Display) -> String {
    let mut text = message.to_string();
    if text.len() > ERROR_MESSAGE_BYTES_MAX {
        let mut end = ERROR_MESSAGE_BYTES_MAX;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn failed_generation(code: &str, message: impl Display) -> GenerationOutcome {
    GenerationOutcome::Failed {
        error: EffectError {
            code: code.to_owned(),
            message: bounded(message),
        },
    }
}

/// Store failures are classified by the store; a log the engine cannot replay is
/// never retried.
fn replay_error(err: ReplayFailure) -> ActivityError {
    match err {
        ReplayFailure::Store(err) => store_failure(err),
        other => fatal(other),
    }
}

/// Runs `work` while heartbeating. `None`: the activity was cancelled (the workflow
/// no longer wants the result); `work` is dropped.
pub(super) async fn heartbeating<F: Future>(ctx: &ActivityContext, work: F) -> Option<F::Output> {
    let period = ctx
        .info()
        .heartbeat_timeout
        .map_or(HEARTBEAT_DEFAULT, |timeout| timeout / 3)
        .max(Duration::from_millis(50));
    let mut ticker = tokio::time::interval(period);
    let mut work = std::pin::pin!(work);
    loop {
        tokio::select! {
            output = &mut work => return Some(output),
            () = ctx.cancelled() => return None,
            _ = ticker.tick() => {
                // A heartbeat that cannot be encoded is impossible for `()`.
                let _ = ctx.record_heartbeat(()).await;
            }
        }
    }
}

impl<P, T, C> Backend<P, T, C>
where
    P: StoreProvider,
    T: SessionToolset<P::Store>,
    C: Compactor + 'static,
{
    /// The universe's store. A transient backend failure may clear, so it is retried;
    /// a universe the provider refuses (not a UUID for Postgres, not path-safe for the
    /// filesystem) never will.
    pub(super) async fn universe_store(&self, universe_id: &str) -> ActivityResult<Arc<P::Store>> {
        self.stores.store(universe_id).await.map_err(store_failure)
    }

    async fn load(&self, input: LoadSessionInput) -> ActivityResult<LoadSessionOutput> {
        let store = self.universe_store(&input.key.universe_id).await?;
        // Control only: the checkpoint's item list is neither built nor fetched.
        let control: ControlState = state_at(&*store, &input.key.session_id, Seq::MAX)
            .await
            .map_err(replay_error)?;
        Ok(LoadSessionOutput { control })
    }

    async fn append(&self, input: AppendEventsInput) -> ActivityResult<AppendEventsOutput> {
        let store = self.universe_store(&input.key.universe_id).await?;
        let session = &input.key.session_id;
        let started = std::time::Instant::now();
        let appended = store
            .append(session, input.expected_head, &input.entries)
            .await;
        telemetry::metrics().store("append", started.elapsed());
        let head = match appended {
            Ok(AppendOutcome::Appended { head }) => {
                observe_committed(&input.entries);
                head
            }
            Ok(AppendOutcome::AlreadyCommitted { head }) => head,
            Err(StoreError::HeadConflict { actual, .. }) => {
                if let Some(stamps) = self.same_decision(&store, &input, actual).await? {
                    return Ok(AppendEventsOutput::Committed {
                        head: input.expected_head + input.entries.len() as u64,
                        restamped: Some(stamps),
                    });
                }
                return Ok(AppendEventsOutput::Conflict { head: actual });
            }
            Err(StoreError::InvalidBatch { .. }) => {
                let head = store.head(session).await.map_err(store_failure)?;
                return Ok(AppendEventsOutput::Conflict { head });
            }
            Err(other) => return Err(store_failure(other)),
        };
        self.checkpoint_if_due(&store, session, input.expected_head, head)
            .await;
        Ok(AppendEventsOutput::Committed {
            head,
            restamped: None,
        })
    }

    /// Whether the log already holds this batch as decided at another time: the same
    /// events at the same places, only `observed_at_ms` different. That is a local
    /// activity run again after its workflow task was lost (its marker never
    /// recorded): the workflow decided the same thing again, stamped with the new
    /// task's time. The stored times are returned so the workflow applies exactly
    /// what the log holds.
    async fn same_decision(
        &self,
        store: &P::Store,
        input: &AppendEventsInput,
        actual_head: Seq,
    ) -> ActivityResult<Option<Vec<u64>>> {
        let count = input.entries.len();
        if count == 0 || actual_head < input.expected_head + count as u64 {
            return Ok(None);
        }
        let stored = store
            .read(&input.key.session_id, input.expected_head + 1, count)
            .await
            .map_err(store_failure)?;
        let same = stored.len() == count
            && stored.iter().zip(&input.entries).all(|(stored, ours)| {
                stored.seq == ours.seq && stored.joins == ours.joins && stored.event == ours.event
            });
        Ok(same.then(|| stored.iter().map(|entry| entry.observed_at_ms).collect()))
    }

    /// Writes a checkpoint when an append from `from` to `head` crossed a multiple
    /// of the checkpoint interval.
    async fn checkpoint_if_due(&self, store: &P::Store, session: &SessionId, from: Seq, head: Seq) {
        let interval = self.checkpoint_interval_entries.max(1);
        if head / interval <= from / interval {
            return;
        }
        // Checkpoints only bound rehydration cost: a failure is logged, not fatal.
        match rehydrate(store, session).await {
            Ok(state) => {
                if let Err(err) = write_checkpoint(store, session, &state).await {
                    tracing::warn!(%session, error = %err, "writing a checkpoint failed");
                }
            }
            Err(err) => tracing::warn!(%session, error = %err, "checkpoint replay failed"),
        }
    }

    /// `llm_generate_commit`: the generation, then its commit when the log is still
    /// at `commit_at` (see `temporal_workflow::activities::GenerationStep`).
    async fn generate_commit(
        &self,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> ActivityResult<GenerationStep> {
        // Absent: the workflow's head was the planning entry itself.
        let commit_at = input.commit_at.unwrap_or(input.intent.planned_at);
        let universe_id = input.universe_id.clone();
        let intent = input.intent.clone();
        let outcome = self.generate(ctx, input).await?;
        let committed = self
            .commit_generation(&universe_id, &intent, commit_at, &outcome)
            .await;
        Ok(GenerationStep { outcome, committed })
    }

    /// Decides what the workflow's drive will decide for `outcome` at `at` and
    /// appends it. Any failure leaves the commit to the workflow (its own append
    /// retries), so a generation is never paid for twice because of the store.
    async fn commit_generation(
        &self,
        universe_id: &str,
        intent: &GenerationIntent,
        at: Seq,
        outcome: &GenerationOutcome,
    ) -> Option<CommittedStep> {
        let session = &intent.session_id;
        let store = self.universe_store(universe_id).await.ok()?;
        let control: ControlState = match state_at(&*store, session, at).await {
            Ok(control) => control,
            Err(err) => {
                tracing::info!(%session, error = %err, "not committing the generation: replay failed");
                return None;
            }
        };
        let observed_at_ms = now_ms();
        let mut drive = Drive::new(control).with_plan_ahead(true);
        let resumed =
            drive.resume_generation(&intent.run_id, intent.turn, outcome.clone(), observed_at_ms);
        if matches!(resumed, Resumed::Stale { .. }) {
            return None;
        }
        let Action::AppendEvents {
            expected_head,
            entries,
        } = drive.next_action()
        else {
            return None;
        };
        let started = std::time::Instant::now();
        let appended = store.append(session, expected_head, &entries).await;
        telemetry::metrics().store("append", started.elapsed());
        match appended {
            Ok(
                outcome @ (AppendOutcome::Appended { head }
                | AppendOutcome::AlreadyCommitted { head }),
            ) => {
                if matches!(outcome, AppendOutcome::Appended { .. }) {
                    observe_committed(&entries);
                }
                self.checkpoint_if_due(&store, session, expected_head, head)
                    .await;
                Some(CommittedStep {
                    observed_at_ms,
                    entries_digest: entries_digest(&entries),
                })
            }
            // The workflow appended meanwhile (an admission): it commits the outcome.
            Err(StoreError::HeadConflict { .. } | StoreError::InvalidBatch { .. }) => None,
            Err(err) => {
                tracing::info!(%session, error = %err, "not committing the generation: append failed");
                None
            }
        }
    }

    async fn generate(
        &self,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> ActivityResult<GenerationOutcome> {
        let intent = &input.intent;
        let store = self.universe_store(&input.universe_id).await?;
        let state = match state_at(&*store, &intent.session_id, intent.planned_at).await {
            Ok(state) => state,
            Err(ReplayFailure::Store(err)) => return Err(store_failure(err)),
            Err(other) => return Ok(failed_generation("rebuild_failed", other)),
        };
        let request = match GenerationRequest::rebuild(&state) {
            Ok(request) => request,
            Err(err) => return Ok(failed_generation("rebuild_failed", err)),
        };
        if request.fingerprint() != intent.fingerprint
            || request.run_id != intent.run_id
            || request.turn != intent.turn
        {
            return Ok(failed_generation(
                "fingerprint_mismatch",
                format!(
                    "the log plans {} turn {} as {}, the workflow asked for {} turn {} as {}",
                    request.run_id,
                    request.turn,
                    request.fingerprint(),
                    intent.run_id,
                    intent.turn,
                    intent.fingerprint
                ),
            ));
        }
        // Sourced items (AGENTS.md, skills, memory) as they are now: the difference
        // goes into the request and, with the result, into the log. Reading files
        // from an environment waits for its daemon (up to its own deadline, longer
        // than the heartbeat timeout while the daemon reconnects), so the activity
        // heartbeats meanwhile: else Temporal would time this attempt out and start
        // another that calls the model a second time.
        let refresh = heartbeating(
            &ctx,
            self.tools.context_sources().refresh(
                &input.universe_id,
                &store,
                &intent.session_id,
                &state,
            ),
        )
        .await;
        let refresh = match refresh {
            None => return Err(ActivityError::cancelled()),
            Some(Ok(refresh)) => refresh,
            Some(Err(AdapterError::Store(err))) => return Err(store_failure(err)),
            Some(Err(err)) => return Err(retryable(err)),
        };
        let request = match request.refreshed(&state, &refresh) {
            Ok(request) => request,
            Err(err) => return Ok(failed_generation("refresh_invalid", err)),
        };
        let sink = self
            .deltas
            .sink(&input.universe_id, intent.session_id.as_str());
        if ctx.info().attempt > 1 {
            // An earlier attempt may have streamed part of this turn: void it.
            llm_runtime::DeltaSink::delta(
                &sink,
                llm_runtime::retry_delta(intent.run_id.clone(), intent.turn),
            );
        }
        let hosted = self.tools.hosted_mcp(&input.universe_id, &store);
        let hosted: &dyn llm_runtime::HostedMcpAuth = match &hosted {
            Some(hosted) => hosted.as_ref(),
            None => &llm_runtime::NoHostedMcp,
        };
        let route = (
            request.model.provider_id.clone(),
            request.model.model.clone(),
        );
        let span = super::spans::generation(intent, &route.0, &route.1);
        let generation = self
            .llm
            .runtime
            .generate_hosted(request, &*store, self.llm.transport, &sink, hosted)
            .with_context(span.clone());
        let generated = heartbeating(&ctx, generation).await;
        super::spans::generation_finished(
            &span,
            match &generated {
                Some(Ok(result)) => Ok(&result.usage),
                Some(Err(err)) => Err(err.code()),
                None => Err("cancelled"),
            },
        );
        match generated {
            None => Err(ActivityError::cancelled()),
            Some(Ok(mut result)) => {
                let usage = &result.usage;
                let turn = telemetry::TurnUsage {
                    input_tokens: usage.input_tokens,
                    cached_input_tokens: usage.cached_input_tokens,
                    output_tokens: usage.output_tokens,
                    reasoning_tokens: usage.reasoning_tokens,
                    cost_nanos: usage.cost_nanos,
                };
                telemetry::metrics().turn(&route.0, &route.1, turn);
                result.context_refresh = refresh;
                Ok(GenerationOutcome::Completed(result))
            }
            Some(Err(err)) if err.is_retryable() && ctx.info().attempt < input.attempts_max => {
                // A zero delay is no hint (and the server treats it as "never").
                let hint = match &err {
                    llm_runtime::RuntimeError::Provider(provider) => provider.retry_after,
                    _ => None,
                }
                .filter(|delay| !delay.is_zero());
                tracing::info!(
                    run = %intent.run_id, turn = intent.turn, attempt = ctx.info().attempt,
                    error = %err, "generation failed; retrying"
                );
                let failure = ApplicationFailure::builder(bounded(&err))
                    .maybe_next_retry_delay(hint)
                    .build();
                Err(ActivityError::application(failure))
            }
            Some(Err(err)) => Ok(failed_generation(err.code(), &err)),
        }
    }

    async fn invoke(
        &self,
        ctx: ActivityContext,
        input: ToolInvokeInput,
    ) -> ActivityResult<ToolResult> {
        let store = self.universe_store(&input.key.universe_id).await?;
        let message = if input.definition_ref.is_none() {
            effects::toolset::unavailable_tool_message(&input.call.name)
        } else {
            // MCP tools report progress as live deltas of the session's running run.
            let progress: Arc<dyn effects::mcp::ToolProgress> = Arc::new(DeltaProgress {
                deltas: self.deltas.clone(),
                universe_id: input.key.universe_id.clone(),
                session_id: input.key.session_id.as_str().to_owned(),
                run_id: input.run_id.clone(),
                batch: input.batch,
            });
            // Environment calls become jobs keyed by the call, so a retried attempt
            // finds its job; this attempt's task token lets whoever finishes the job
            // complete the activity, which holds no worker slot meanwhile.
            let job_id = env_registry::job_id(
                input.key.session_id.as_str(),
                input.run_id.as_str(),
                input.batch,
                input.call.call_id.as_str(),
            );
            let context = effects::toolset::CallContext {
                run_id: input.run_id.as_str().to_owned(),
                batch: input.batch,
                progress: Some(progress),
                completion: effects::env::Completion::Async {
                    job_id,
                    task_token: ctx.info().task_token.clone(),
                    budget_ms: input.timeout_ms,
                },
            };
            let tools = self.tools.call_tools(
                &input.key.universe_id,
                &store,
                &input.key.session_id,
                context,
            );
            let timeout = Duration::from_millis(input.timeout_ms.max(1));
            let work = tokio::time::timeout(timeout, tools.invoke(&input.call, &*store));
            match heartbeating(&ctx, work).await {
                None => return Err(ActivityError::cancelled()),
                Some(Ok(Ok(result))) => return Ok(result),
                Some(Ok(Err(AdapterError::Deferred(deferred)))) => {
                    crate::worker::env_jobs::watch(
                        ctx.client(),
                        store.clone(),
                        ctx.info().task_token.clone(),
                        ctx.info().heartbeat_timeout,
                        deferred,
                    );
                    return Err(ActivityError::WillCompleteAsync);
                }
                Some(Ok(Err(AdapterError::Store(err)))) => return Err(store_failure(err)),
                Some(Ok(Err(err))) => bounded(err),
                Some(Err(_elapsed)) => {
                    format!("the tool did not finish within {} ms", input.timeout_ms)
                }
            }
        };
        let bytes = engine::canonical::to_vec(&json!({ "error": message }));
        let token_estimate = estimate_tokens(&bytes);
        let output_ref = store.put(bytes).await.map_err(store_failure)?;
        Ok(ToolResult {
            call_id: input.call.call_id,
            status: ToolStatus::Error,
            output_ref,
            token_estimate,
            later: None,
            child: Default::default(),
        })
    }

    async fn compact(
        &self,
        ctx: ActivityContext,
        input: CompactContextInput,
    ) -> ActivityResult<CompactionOutcome> {
        let intent = &input.intent;
        let failed = |code: &str, message: String| CompactionOutcome::Failed {
            error: EffectError {
                code: code.to_owned(),
                message: bounded(message),
            },
        };
        let store = self.universe_store(&input.universe_id).await?;
        let state: engine::core::state::SessionState =
            match state_at(&*store, &intent.session_id, input.at_head).await {
                Ok(state) => state,
                Err(ReplayFailure::Store(err)) => return Err(store_failure(err)),
                Err(other) => return Ok(failed("rebuild_failed", other.to_string())),
            };
        if state.control.context.revision != intent.context_revision {
            let message = format!(
                "context is at revision {} at entry {}, compaction was planned at {}",
                state.control.context.revision, input.at_head, intent.context_revision
            );
            return Ok(failed("stale_context", message));
        }
        match heartbeating(&ctx, self.compactor.compact(&state, &*store)).await {
            None => Err(ActivityError::cancelled()),
            Some(Ok(outcome)) => Ok(outcome),
            Some(Err(err)) => {
                let session = intent.session_id.as_str();
                adapter_failure(
                    &ctx,
                    (input.attempts_max, "compaction", session),
                    err,
                    failed,
                )
            }
        }
    }
}

/// An adapter's failure as the answer of an activity that records failures (a
/// compaction, a transcription): a store failure retried while it may clear; a
/// transient provider failure retried, after the provider's `retry-after`, until
/// attempt `attempts_max`; anything else, and a transient failure at the last
/// attempt, recorded through `failed` (code `<effect>_failed` unless the adapter
/// gave one).
pub(super) fn adapter_failure<O>(
    ctx: &ActivityContext,
    (attempts_max, effect, session): (u32, &str, &str),
    err: AdapterError,
    failed: impl FnOnce(&str, String) -> O,
) -> ActivityResult<O> {
    match err {
        AdapterError::Store(err) => Err(store_failure(err)),
        AdapterError::Transient {
            message,
            retry_after,
        } if ctx.info().attempt < attempts_max => {
            tracing::info!(
                session, effect, attempt = ctx.info().attempt, error = %message,
                "effect failed; retrying"
            );
            // A zero delay is no hint (and the server treats it as "never").
            let failure = ApplicationFailure::builder(bounded(message))
                .maybe_next_retry_delay(retry_after.filter(|delay| !delay.is_zero()))
                .build();
            Err(ActivityError::application(failure))
        }
        AdapterError::Failed { code, message } => Ok(failed(&code, message)),
        err => Ok(failed(&format!("{effect}_failed"), err.to_string())),
    }
}

impl<P, T, C> SessionActivityBackend for Backend<P, T, C>
where
    P: StoreProvider,
    T: SessionToolset<P::Store>,
    C: Compactor + 'static,
{
    fn load_session(
        &self,
        input: LoadSessionInput,
    ) -> BoxFuture<'_, ActivityResult<LoadSessionOutput>> {
        Box::pin(self.load(input))
    }

    fn append_events(
        &self,
        input: AppendEventsInput,
    ) -> BoxFuture<'_, ActivityResult<AppendEventsOutput>> {
        Box::pin(self.append(input))
    }

    fn llm_generate(
        &self,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> BoxFuture<'_, ActivityResult<GenerationOutcome>> {
        Box::pin(self.generate(ctx, input))
    }

    fn llm_generate_commit(
        &self,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> BoxFuture<'_, ActivityResult<GenerationStep>> {
        Box::pin(self.generate_commit(ctx, input))
    }

    fn tool_invoke(
        &self,
        ctx: ActivityContext,
        input: ToolInvokeInput,
    ) -> BoxFuture<'_, ActivityResult<ToolResult>> {
        Box::pin(self.invoke(ctx, input))
    }

    fn compact_context(
        &self,
        ctx: ActivityContext,
        input: CompactContextInput,
    ) -> BoxFuture<'_, ActivityResult<CompactionOutcome>> {
        Box::pin(self.compact(ctx, input))
    }

    fn transcribe_input(
        &self,
        ctx: ActivityContext,
        input: TranscribeInputInput,
    ) -> BoxFuture<'_, ActivityResult<TranscriptionOutcome>> {
        Box::pin(self.transcribe(ctx, input))
    }

    /// Through the toolset's fleet (the API service): delivered, or the parent is
    /// gone (`false`); a busy parent is retried. Without a fleet nobody can be told.
    fn notify_parent(&self, input: NotifyParentInput) -> BoxFuture<'_, ActivityResult<bool>> {
        Box::pin(async move {
            let Some(fleet) = self.tools.fleet() else {
                return Ok(false);
            };
            fleet
                .notify_parent(&input.key.universe_id, &input.intent)
                .await
                .map_err(retryable)
        })
    }
}

/// A tool call's progress as a live delta of its session (`toolProgress`, `turn` the
/// tool batch), through the process's delta hub like generation deltas.
struct DeltaProgress {
    deltas: Arc<DeltaHub>,
    universe_id: String,
    session_id: String,
    run_id: engine::RunId,
    batch: u32,
}

impl effects::mcp::ToolProgress for DeltaProgress {
    fn progress(&self, call: &engine::core::run::ToolCallRequest, line: String) {
        use llm_runtime::DeltaSink as _;
        // Published, not delivered: with Postgres the hub relays it to every
        // gateway, so a gateway in another process than this worker hears it too.
        self.deltas
            .sink(&self.universe_id, &self.session_id)
            .delta(llm_runtime::Delta {
                run_id: self.run_id.clone(),
                turn: self.batch,
                output_index: 0,
                kind: llm_runtime::DeltaKind::ToolProgress,
                text: line,
                call_id: Some(call.call_id.as_str().to_owned()),
            });
    }
}
