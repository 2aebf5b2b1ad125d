//! The effect adapters a [`crate::runner::SessionRunner`] calls. Production hosts have
//! their own (llm-runtime, tools over the VFS); these traits keep the runner generic.

use std::future::Future;

use engine::core::effects::{CompactionOutcome, GenerationOutcome, ToolResult};
use engine::core::request::GenerationRequest;
use engine::core::run::ToolCallRequest;
use engine::core::state::SessionState;
use engine::store::{BlobStore, StoreError};

/// Why an adapter could not produce an outcome at all. (An LLM or tool failure the
/// session should record is an outcome, not an error.)
#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    #[error("adapter store access failed: {0}")]
    Store(#[from] StoreError),
    #[error("adapter script exhausted: {0}")]
    ScriptExhausted(String),
    #[error("adapter failed: {0}")]
    Other(String),
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
}

/// Compacts the context of `state` (replayed to the compaction request).
pub trait Compactor: Send + Sync {
    fn compact<B: BlobStore>(
        &self,
        state: &SessionState,
        blobs: &B,
    ) -> impl Future<Output = Result<CompactionOutcome, AdapterError>> + Send;
}

/// A rough token estimate for `bytes`: four bytes a token, at least one.
pub fn estimate_tokens(bytes: &[u8]) -> u64 {
    (bytes.len() as u64).div_ceil(4).max(1)
}
