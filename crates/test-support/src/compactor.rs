//! A deterministic stand-in for LLM summarisation: the summary lists the replaced
//! items' refs, so tests can see exactly what was compacted.

use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::core::effects::CompactionOutcome;
use engine::core::state::SessionState;
use engine::store::BlobStore;
use serde_json::json;

use crate::adapters::{AdapterError, Compactor};

#[derive(Debug, Default, Clone, Copy)]
pub struct ListingCompactor;

impl Compactor for ListingCompactor {
    async fn compact<B: BlobStore>(
        &self,
        state: &SessionState,
        blobs: &B,
    ) -> Result<CompactionOutcome, AdapterError> {
        let replaced: Vec<_> = state
            .context
            .items()
            .iter()
            .filter(|item| item.key.is_none())
            .map(|item| item.content_ref.to_string())
            .collect();
        let bytes = engine::canonical::to_vec(&json!({"type": "summary", "replaces": replaced}));
        let token_estimate = estimate_tokens(&bytes).min(64);
        let content_ref = blobs.put(bytes).await?;
        Ok(CompactionOutcome::Compacted {
            summary: vec![ItemSpec::new(
                ItemKind::Summary,
                content_ref,
                token_estimate,
            )],
        })
    }
}
