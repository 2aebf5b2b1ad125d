//! The effect adapter traits a host calls to perform the drive's actions, and the
//! error an adapter returns when it cannot produce an outcome at all.

use std::future::Future;
use std::time::Duration;

use engine::core::effects::{CompactionOutcome, GenerationOutcome, ToolResult};
use engine::core::request::GenerationRequest;
use engine::core::run::ToolCallRequest;
use engine::core::state::SessionState;
use engine::store::{BlobStore, StoreError};

/// Why an adapter could not produce an outcome. (An LLM or tool failure the session
/// should record is an outcome, not an error: a tool the model misused returns an
/// error result.) Hosts classify these: `Store` and `Transient` may clear on retry,
/// `Failed` and `Other` will not.
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("adapter store access failed: {0}")]
    Store(#[from] StoreError),
    /// A failure that may clear if the effect is tried again (a provider's 429 or
    /// 5xx, a timeout); `retry_after` is the provider's hint, if it gave one.
    #[error("{message}")]
    Transient {
        message: String,
        retry_after: Option<Duration>,
    },
    /// The effect failed for good; `code` is stable and goes into the session log.
    #[error("{code}: {message}")]
    Failed { code: String, message: String },
    #[error("adapter failed: {0}")]
    Other(String),
    /// Not a failure: the call became a job whose finisher completes the host's
    /// effect (a Temporal activity completed asynchronously); the host must not
    /// record anything for it now.
    #[error("the call completes later (job {})", .0.job_id)]
    Deferred(crate::env::DeferredCall),
}

/// Runs one generation.
pub trait LlmAdapter: Send + Sync {
    fn generate<B: BlobStore>(
        &self,
        request: &GenerationRequest,
        blobs: &B,
    ) -> impl Future<Output = Result<GenerationOutcome, AdapterError>> + Send;
}

/// Runs one tool call.
pub trait ToolAdapter: Send + Sync {
    fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
    ) -> impl Future<Output = Result<ToolResult, AdapterError>> + Send;

    /// [`ToolAdapter::invoke`] for a call of run `run_id`'s tool batch `batch`, for
    /// tools that record where a call belongs (environment calls publish their
    /// output as deltas of that run).
    fn invoke_in_run<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
        run_id: &engine::RunId,
        batch: u32,
    ) -> impl Future<Output = Result<ToolResult, AdapterError>> + Send {
        let _ = (run_id, batch);
        self.invoke(call, blobs)
    }
}

/// Compacts the context of `state` (replayed to the compaction request).
pub trait Compactor: Send + Sync {
    fn compact<B: BlobStore>(
        &self,
        state: &SessionState,
        blobs: &B,
    ) -> impl Future<Output = Result<CompactionOutcome, AdapterError>> + Send;
}
