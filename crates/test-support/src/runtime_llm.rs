//! An [`LlmAdapter`] over the real `llm-runtime`: provider-native HTTP calls (to the
//! fake provider in tests, to real APIs otherwise), with the retry policy a Temporal
//! activity would apply: retry what the typed error says is retryable, honouring the
//! provider's retry-after, and record anything else as a failed generation.

use std::time::Duration;

use engine::core::effects::GenerationOutcome;
use engine::core::request::GenerationRequest;
use engine::core::run::EffectError;
use engine::store::BlobStore;
use llm_runtime::{DeltaSink, LlmRuntime, NoDeltas, RuntimeError, Transport};

use crate::adapters::{AdapterError, LlmAdapter};

/// Bounded exponential backoff. Defaults: 4 attempts, 200 ms doubling up to 5 s.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts_max: u32,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts_max: 4,
            backoff_initial: Duration::from_millis(200),
            backoff_max: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1` after `err`.
    fn delay(&self, attempt: u32, err: &RuntimeError) -> Duration {
        let hinted = match err {
            RuntimeError::Provider(err) => err.retry_after,
            _ => None,
        };
        let backoff = self
            .backoff_initial
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        hinted.unwrap_or(backoff).min(self.backoff_max)
    }
}

pub struct RuntimeLlm<S = NoDeltas> {
    runtime: LlmRuntime,
    transport: Transport,
    retry: RetryPolicy,
    sink: S,
    /// Credentials of provider-hosted MCP servers, as the Temporal worker's
    /// generation activity has them.
    hosted: Option<Box<dyn llm_runtime::HostedMcpAuth>>,
}

impl RuntimeLlm<NoDeltas> {
    pub fn new(runtime: LlmRuntime, transport: Transport) -> Self {
        Self {
            runtime,
            transport,
            retry: RetryPolicy::default(),
            sink: NoDeltas,
            hosted: None,
        }
    }
}

impl<S: DeltaSink> RuntimeLlm<S> {
    /// Provider-hosted MCP servers get their headers from `hosted` at send time.
    pub fn with_hosted_mcp(mut self, hosted: Option<Box<dyn llm_runtime::HostedMcpAuth>>) -> Self {
        self.hosted = hosted;
        self
    }

    pub fn with_sink<T: DeltaSink>(self, sink: T) -> RuntimeLlm<T> {
        RuntimeLlm {
            runtime: self.runtime,
            transport: self.transport,
            retry: self.retry,
            sink,
            hosted: self.hosted,
        }
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }
}

impl<S: DeltaSink> LlmAdapter for RuntimeLlm<S> {
    async fn generate<B: BlobStore>(
        &self,
        request: &GenerationRequest,
        blobs: &B,
    ) -> Result<GenerationOutcome, AdapterError> {
        let mut attempt = 1;
        loop {
            match self
                .runtime
                .generate_hosted(
                    request.clone(),
                    blobs,
                    self.transport,
                    &self.sink,
                    self.hosted.as_deref().unwrap_or(&llm_runtime::NoHostedMcp),
                )
                .await
            {
                Ok(result) => return Ok(GenerationOutcome::Completed(result)),
                Err(err) if err.is_retryable() && attempt < self.retry.attempts_max => {
                    tokio::time::sleep(self.retry.delay(attempt, &err)).await;
                    attempt += 1;
                    // What the failed attempt streamed is void.
                    self.sink.delta(llm_runtime::retry_delta(
                        request.run_id.clone(),
                        request.turn,
                    ));
                }
                Err(err) => {
                    let error = EffectError {
                        code: err.code().to_owned(),
                        message: err.to_string(),
                    };
                    return Ok(GenerationOutcome::Failed { error });
                }
            }
        }
    }
}
