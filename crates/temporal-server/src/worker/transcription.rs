//! The `transcribe_input` activity: a queued run's voice notes to text through the
//! configured provider (`effects::transcriber`), before the run starts.
//!
//! Error policy as for compaction: a provider's retryable failure is an activity
//! error (Temporal retries it, with the provider's `retry-after` as the next delay)
//! until `attempts_max`, after which it is recorded as the failed transcription the
//! run ends with; store failures are retried while the backend says they may clear.

use effects::Compactor;
use effects::transcriber::LlmTranscriber;
use engine::core::run::EffectError;
use engine::core::transcription::TranscriptionOutcome;
use session_stores::StoreProvider;
use temporal_workflow::activities::TranscribeInputInput;
use temporalio_sdk::activities::{ActivityContext, ActivityError};

use super::backend::{ActivityResult, Backend, adapter_failure, bounded, heartbeating};
use effects::SessionToolset;

impl<P, T, C> Backend<P, T, C>
where
    P: StoreProvider,
    T: SessionToolset<P::Store>,
    C: Compactor + 'static,
{
    pub(super) async fn transcribe(
        &self,
        ctx: ActivityContext,
        input: TranscribeInputInput,
    ) -> ActivityResult<TranscriptionOutcome> {
        let intent = &input.intent;
        let store = self.universe_store(&input.universe_id).await?;
        let transcriber = LlmTranscriber::new(self.llm.runtime.clone(), self.transcription.clone());
        match heartbeating(&ctx, transcriber.transcribe(intent, &*store)).await {
            None => Err(ActivityError::cancelled()),
            Some(Ok(outcome)) => Ok(outcome),
            Some(Err(err)) => {
                let session = intent.session_id.as_str();
                adapter_failure(
                    &ctx,
                    (input.attempts_max, "transcription", session),
                    err,
                    failed,
                )
            }
        }
    }
}

fn failed(code: &str, message: String) -> TranscriptionOutcome {
    TranscriptionOutcome::Failed {
        error: EffectError {
            code: code.to_owned(),
            message: bounded(message),
        },
    }
}
