//! The activity registrations: each method binds one contract of
//! `temporal_workflow::activities` (same name, input and output, checked at compile
//! time by the SDK macro) to the backend.

// The SDK's `#[activities]` expansion unwraps the instance it registers itself.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use engine::core::effects::{CompactionOutcome, GenerationOutcome, ToolResult};
use temporal_workflow::activities::{
    AppendEvents, AppendEventsInput, AppendEventsOutput, CompactContext, CompactContextInput,
    GenerationStep, LlmGenerate, LlmGenerateCommit, LlmGenerateInput, LoadSession,
    LoadSessionInput, LoadSessionOutput, NotifyParent, NotifyParentInput, ToolInvoke,
    ToolInvokeInput, TranscribeInput, TranscribeInputInput,
};
use temporalio_macros::activities;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::backend::SessionActivityBackend;

/// Times one activity attempt into the process's metrics (`activity_seconds`,
/// `activity_failures_total`, `activity_retries_total` by kind).
async fn observed<T>(
    kind: &str,
    attempt: u32,
    work: impl std::future::Future<Output = Result<T, ActivityError>>,
) -> Result<T, ActivityError> {
    let started = std::time::Instant::now();
    let result = work.await;
    telemetry::metrics().activity(kind, started.elapsed(), result.is_err(), attempt > 1);
    result
}

/// The implementer registered with the worker.
pub struct SessionActivities {
    backend: Arc<dyn SessionActivityBackend>,
}

impl SessionActivities {
    pub fn new(backend: Arc<dyn SessionActivityBackend>) -> Self {
        Self { backend }
    }
}

#[activities]
impl SessionActivities {
    #[activity(definition = LoadSession)]
    pub async fn load_session(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: LoadSessionInput,
    ) -> Result<LoadSessionOutput, ActivityError> {
        observed(
            "load_session",
            ctx.info().attempt,
            self.backend.load_session(input),
        )
        .await
    }

    #[activity(definition = AppendEvents)]
    pub async fn append_events(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: AppendEventsInput,
    ) -> Result<AppendEventsOutput, ActivityError> {
        observed(
            "append_events",
            ctx.info().attempt,
            self.backend.append_events(input),
        )
        .await
    }

    #[activity(definition = LlmGenerate)]
    pub async fn llm_generate(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> Result<GenerationOutcome, ActivityError> {
        let attempt = ctx.info().attempt;
        observed(
            "llm_generate",
            attempt,
            self.backend.llm_generate(ctx, input),
        )
        .await
    }

    #[activity(definition = LlmGenerateCommit)]
    pub async fn llm_generate_commit(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: LlmGenerateInput,
    ) -> Result<GenerationStep, ActivityError> {
        let attempt = ctx.info().attempt;
        observed(
            "llm_generate_commit",
            attempt,
            self.backend.llm_generate_commit(ctx, input),
        )
        .await
    }

    #[activity(definition = ToolInvoke)]
    pub async fn tool_invoke(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: ToolInvokeInput,
    ) -> Result<ToolResult, ActivityError> {
        let attempt = ctx.info().attempt;
        super::spans::tool_call(&input);
        observed("tool_invoke", attempt, self.backend.tool_invoke(ctx, input)).await
    }

    #[activity(definition = CompactContext)]
    pub async fn compact_context(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: CompactContextInput,
    ) -> Result<CompactionOutcome, ActivityError> {
        let attempt = ctx.info().attempt;
        observed(
            "compact_context",
            attempt,
            self.backend.compact_context(ctx, input),
        )
        .await
    }

    #[activity(definition = TranscribeInput)]
    pub async fn transcribe_input(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: TranscribeInputInput,
    ) -> Result<engine::core::transcription::TranscriptionOutcome, ActivityError> {
        let attempt = ctx.info().attempt;
        observed(
            "transcribe_input",
            attempt,
            self.backend.transcribe_input(ctx, input),
        )
        .await
    }

    #[activity(definition = NotifyParent)]
    pub async fn notify_parent(
        self: Arc<Self>,
        ctx: ActivityContext,
        input: NotifyParentInput,
    ) -> Result<bool, ActivityError> {
        observed(
            "notify_parent",
            ctx.info().attempt,
            self.backend.notify_parent(input),
        )
        .await
    }
}
