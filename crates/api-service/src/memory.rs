//! `memory/*` and `session/memory/*`: the universe's memory blocks and archival
//! passages, and attaching blocks to sessions. Attaching registers the memory tools
//! through the engine's tool patches (so a session's tools stay in its log); the
//! blocks reach the context through effects' `MemorySource`, read before each
//! generation, so an edit by anyone is in every attached session's next request.
//!
//! Every input is checked (labels, sizes, limits) before the store is opened; the
//! catalog checks the bounds under its own lock. Nothing here logs a block's or a
//! passage's content: refusals name labels and sizes only.

use api::types::memory::*;
use api::{ApiError, Quota};
use effects::memory_tools::{MEMORY_TOOLS, memory_definitions};
use engine::SessionId;
use engine::core::control::ControlState;
use memory_registry::{
    ARCHIVAL_PASSAGES_MAX, ArchivalQuery, BLOCKS_MAX, Block, BlockLabel, BlockPatch, MemoryBound,
    MemoryCatalog, MemoryError, NewPassage, Passage, SESSION_BLOCKS_MAX, linked_blocks, passage_id,
};

use crate::host::SessionHost;
use crate::mcp::now_ms;
use crate::service::Service;

impl<H: SessionHost> Service<H> {
    pub(crate) async fn memory_block_create(
        &self,
        universe_id: &str,
        params: MemoryBlockCreateParams,
    ) -> Result<MemoryBlockView, ApiError> {
        let label = label(params.label)?;
        let block = Block::new(
            label,
            params.description,
            params.value,
            params.limit_bytes,
            params.read_only,
            now_ms(),
        )
        .map_err(memory_error)?;
        let store = self.store(universe_id).await?;
        store
            .memory_block_create(&block, BLOCKS_MAX)
            .await
            .map_err(memory_error)?;
        Ok(block_view(&block))
    }

    pub(crate) async fn memory_block_read(
        &self,
        universe_id: &str,
        params: MemoryBlockRef,
    ) -> Result<MemoryBlockView, ApiError> {
        let label = label(params.label)?;
        let store = self.store(universe_id).await?;
        let block = read_block(&*store, &label).await?;
        Ok(block_view(&block))
    }

    pub(crate) async fn memory_block_list(
        &self,
        universe_id: &str,
    ) -> Result<MemoryBlockListResult, ApiError> {
        let store = self.store(universe_id).await?;
        let blocks = store.memory_block_list().await.map_err(memory_error)?;
        Ok(MemoryBlockListResult {
            blocks: blocks.iter().map(block_summary).collect(),
        })
    }

    pub(crate) async fn memory_block_update(
        &self,
        universe_id: &str,
        params: MemoryBlockUpdateParams,
    ) -> Result<MemoryBlockView, ApiError> {
        let label = label(params.label)?;
        // Sizes first: the catalog checks them again against the block.
        if let Some(description) = &params.description {
            memory_registry::block::check_description(description).map_err(memory_error)?;
        }
        if let Some(limit_bytes) = params.limit_bytes {
            memory_registry::block::check_limit(limit_bytes).map_err(memory_error)?;
        }
        if let Some(value) = &params.value {
            let limit = params
                .limit_bytes
                .unwrap_or(memory_registry::block::LIMIT_BYTES_MAX);
            memory_registry::block::check_value(&label, value, limit).map_err(memory_error)?;
        }
        let patch = BlockPatch {
            description: params.description,
            value: params.value,
            limit_bytes: params.limit_bytes,
            read_only: params.read_only,
        };
        let store = self.store(universe_id).await?;
        let block = store
            .memory_block_update(&label, Some(params.expected_revision), &patch, now_ms())
            .await
            .map_err(memory_error)?;
        Ok(block_view(&block))
    }

    pub(crate) async fn memory_block_delete(
        &self,
        universe_id: &str,
        params: MemoryBlockDeleteParams,
    ) -> Result<MemoryBlockDeleteResult, ApiError> {
        let label = label(params.label)?;
        let store = self.store(universe_id).await?;
        let deleted = store
            .memory_block_delete(&label, params.force)
            .await
            .map_err(memory_error)?;
        Ok(MemoryBlockDeleteResult {
            deleted: deleted.deleted,
            detached: deleted.detached as u64,
        })
    }

    pub(crate) async fn memory_attach(
        &self,
        universe_id: &str,
        params: SessionMemoryAttachParams,
    ) -> Result<SessionMemoryAttachResult, ApiError> {
        let label = label(params.label)?;
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let store = self.store(universe_id).await?;
        // The link first: the tools are registered while the session has a block (a
        // failure in between leaves a block without tools, which attaching again
        // repairs).
        let attached = store
            .memory_link_put(&session, &label, SESSION_BLOCKS_MAX)
            .await
            .map_err(memory_error)?;
        let tools = self.patch_memory_tools(universe_id, &session).await?;
        let block = read_block(&*store, &label).await?;
        Ok(SessionMemoryAttachResult {
            block: block_summary(&block),
            attached,
            tools,
        })
    }

    pub(crate) async fn memory_detach(
        &self,
        universe_id: &str,
        params: SessionMemoryDetachParams,
    ) -> Result<SessionMemoryDetachResult, ApiError> {
        let label = label(params.label)?;
        let (session, _) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let store = self.store(universe_id).await?;
        let detached = store
            .memory_link_delete(&session, &label)
            .await
            .map_err(memory_error)?;
        self.patch_memory_tools(universe_id, &session).await?;
        Ok(SessionMemoryDetachResult { detached })
    }

    pub(crate) async fn memory_attached(
        &self,
        universe_id: &str,
        params: SessionMemoryListParams,
    ) -> Result<SessionMemoryListResult, ApiError> {
        let (session, control) = self
            .existing_session(universe_id, &params.session_id)
            .await?;
        let store = self.store(universe_id).await?;
        let blocks = linked_blocks(&*store, &session)
            .await
            .map_err(memory_error)?;
        Ok(SessionMemoryListResult {
            blocks: blocks.iter().map(block_summary).collect(),
            tools: control
                .tools
                .iter()
                .filter(|tool| MEMORY_TOOLS.contains(&tool.name.as_str()))
                .map(|tool| tool.name.clone())
                .collect(),
        })
    }

    pub(crate) async fn archival_insert(
        &self,
        universe_id: &str,
        params: MemoryArchivalInsertParams,
    ) -> Result<MemoryPassageView, ApiError> {
        let nonce = uuid::Uuid::new_v4().to_string();
        let passage = NewPassage::new(passage_id(&[&nonce]), params.text, params.tags, now_ms())
            .map_err(memory_error)?;
        let store = self.store(universe_id).await?;
        let stored = store
            .memory_passage_insert(&passage, ARCHIVAL_PASSAGES_MAX)
            .await
            .map_err(memory_error)?;
        Ok(passage_view(stored))
    }

    pub(crate) async fn archival_search(
        &self,
        universe_id: &str,
        params: MemoryArchivalSearchParams,
    ) -> Result<MemoryArchivalSearchResult, ApiError> {
        let limit = params.limit.map(|limit| limit as usize);
        let query = ArchivalQuery::new(params.query, params.tags, limit).map_err(memory_error)?;
        let store = self.store(universe_id).await?;
        let found = store
            .memory_passage_search(&query)
            .await
            .map_err(memory_error)?;
        Ok(MemoryArchivalSearchResult {
            passages: found.into_iter().map(passage_view).collect(),
        })
    }

    pub(crate) async fn archival_delete(
        &self,
        universe_id: &str,
        params: MemoryArchivalDeleteParams,
    ) -> Result<MemoryArchivalDeleteResult, ApiError> {
        if !memory_registry::archival::is_passage_id(&params.id) {
            return Err(memory_error(MemoryError::Invalid {
                field: "id",
                reason: "32 lowercase hex characters".into(),
            }));
        }
        let store = self.store(universe_id).await?;
        let deleted = store
            .memory_passage_delete(&params.id)
            .await
            .map_err(memory_error)?;
        Ok(MemoryArchivalDeleteResult { deleted })
    }

    /// Makes the session's memory tools match its blocks: all of them while it has
    /// one, none when it has none. Retries when a concurrent patch moved the tool
    /// revision; nothing is admitted when nothing changes. The tools registered.
    async fn patch_memory_tools(
        &self,
        universe_id: &str,
        session: &SessionId,
    ) -> Result<Vec<String>, ApiError> {
        let store = self.store(universe_id).await?;
        let linked = !store
            .memory_link_list(session)
            .await
            .map_err(memory_error)?
            .is_empty();
        let wanted = |_: &ControlState| match linked {
            true => memory_definitions(),
            false => Vec::new(),
        };
        self.sync_tool_family(universe_id, session, &MEMORY_TOOLS, None, wanted)
            .await
    }
}

async fn read_block<S: MemoryCatalog>(store: &S, label: &BlockLabel) -> Result<Block, ApiError> {
    store
        .memory_block_read(label)
        .await
        .map_err(memory_error)?
        .ok_or_else(|| memory_error(MemoryError::BlockNotFound(label.to_string())))
}

fn label(raw: String) -> Result<BlockLabel, ApiError> {
    BlockLabel::new(raw).map_err(memory_error)
}

/// A memory refusal as its contract error.
pub(crate) fn memory_error(err: MemoryError) -> ApiError {
    let code = err.code();
    match err {
        MemoryError::Invalid { .. }
        | MemoryError::TooLarge { .. }
        | MemoryError::ReadOnly(_)
        | MemoryError::OldTextNotFound(_)
        | MemoryError::OldTextAmbiguous { .. } => ApiError::invalid_params(err.to_string()),
        MemoryError::BlockNotFound(_) => ApiError::not_found(err.to_string()),
        MemoryError::BlockExists(_) | MemoryError::Linked { .. } => {
            ApiError::conflict(err.to_string())
        }
        MemoryError::Conflict { actual, .. } => {
            ApiError::conflict(err.to_string()).with_current_revision(actual)
        }
        MemoryError::TooMany { bound, .. } => {
            let quota = match bound {
                MemoryBound::BlocksPerUniverse => Quota::MemoryBlocks,
                MemoryBound::BlocksPerSession => Quota::SessionMemoryBlocks,
                MemoryBound::PassagesPerUniverse => Quota::ArchivalPassages,
            };
            return ApiError::quota_exceeded(quota, err.to_string());
        }
        MemoryError::Store(err) => return crate::errors::internal("the memory catalog", err),
    }
    .with_reason(code)
}

fn block_view(block: &Block) -> MemoryBlockView {
    MemoryBlockView {
        label: block.label.to_string(),
        description: block.description.clone(),
        value: block.value.clone(),
        bytes: block.value.len() as u64,
        limit_bytes: block.limit_bytes,
        read_only: block.read_only,
        revision: block.revision,
        created_at_ms: block.created_at_ms,
        updated_at_ms: block.updated_at_ms,
    }
}

fn block_summary(block: &Block) -> MemoryBlockSummary {
    MemoryBlockSummary {
        label: block.label.to_string(),
        description: block.description.clone(),
        bytes: block.value.len() as u64,
        limit_bytes: block.limit_bytes,
        read_only: block.read_only,
        revision: block.revision,
        updated_at_ms: block.updated_at_ms,
    }
}

fn passage_view(passage: Passage) -> MemoryPassageView {
    MemoryPassageView {
        id: passage.id,
        text: passage.text,
        tags: passage.tags,
        created_at_ms: passage.created_at_ms,
    }
}
