//! The storage a universe's memory lives in. One implementation per store (memory
//! here, store-fs, store-pg), each scoped to one universe and passing the same
//! conformance suite (`test-support`'s `memory_conformance`). The decisions below are
//! made by every implementation under its own lock, so they cannot disagree.

use std::future::Future;

use engine::SessionId;

use crate::archival::{ArchivalQuery, NewPassage, Passage};
use crate::block::{Block, BlockLabel, BlockPatch};
use crate::error::{MemoryBound, MemoryError};

/// Memory blocks per universe.
pub const BLOCKS_MAX: usize = 1_000;
/// Memory blocks attached to one session.
pub const SESSION_BLOCKS_MAX: usize = 16;
/// Archival passages per universe.
pub const ARCHIVAL_PASSAGES_MAX: usize = 100_000;

/// What a block delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BlockDelete {
    pub deleted: bool,
    /// Sessions the block was detached from (a forced delete).
    pub detached: usize,
}

pub trait MemoryCatalog: Send + Sync {
    /// Stores a new block (checked by [`decide_create`]): [`MemoryError::BlockExists`]
    /// if the label is taken, [`MemoryError::TooMany`] beyond `blocks_max`.
    fn memory_block_create(
        &self,
        block: &Block,
        blocks_max: usize,
    ) -> impl Future<Output = Result<(), MemoryError>> + Send;

    fn memory_block_read(
        &self,
        label: &BlockLabel,
    ) -> impl Future<Output = Result<Option<Block>, MemoryError>> + Send;

    /// Every block, ordered by label.
    fn memory_block_list(&self) -> impl Future<Output = Result<Vec<Block>, MemoryError>> + Send;

    /// Applies `patch` at `expected_revision` (any revision when `None`), as
    /// [`decide_update`] says; the stored block.
    fn memory_block_update(
        &self,
        label: &BlockLabel,
        expected_revision: Option<u64>,
        patch: &BlockPatch,
        now_ms: u64,
    ) -> impl Future<Output = Result<Block, MemoryError>> + Send;

    /// Deletes a block; refused with [`MemoryError::Linked`] while sessions have it,
    /// unless `force`, which detaches it from them first.
    fn memory_block_delete(
        &self,
        label: &BlockLabel,
        force: bool,
    ) -> impl Future<Output = Result<BlockDelete, MemoryError>> + Send;

    /// Attaches block `label` to the session: [`MemoryError::BlockNotFound`] if there
    /// is none, [`MemoryError::TooMany`] for a new one beyond `links_max`. Whether it
    /// was new.
    fn memory_link_put(
        &self,
        session: &SessionId,
        label: &BlockLabel,
        links_max: usize,
    ) -> impl Future<Output = Result<bool, MemoryError>> + Send;

    /// Detaches block `label` from the session; whether it was attached.
    fn memory_link_delete(
        &self,
        session: &SessionId,
        label: &BlockLabel,
    ) -> impl Future<Output = Result<bool, MemoryError>> + Send;

    /// The labels of the session's blocks, in label order.
    fn memory_link_list(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Vec<BlockLabel>, MemoryError>> + Send;

    /// Stores a passage (checked by [`NewPassage::check`]) after every other, or finds
    /// the one stored under its id; [`MemoryError::TooMany`] beyond `passages_max`.
    fn memory_passage_insert(
        &self,
        passage: &NewPassage,
        passages_max: usize,
    ) -> impl Future<Output = Result<Passage, MemoryError>> + Send;

    /// The passages matching `query`, best first (see [`crate::archival`]).
    fn memory_passage_search(
        &self,
        query: &ArchivalQuery,
    ) -> impl Future<Output = Result<Vec<Passage>, MemoryError>> + Send;

    /// Deletes a passage; whether there was one.
    fn memory_passage_delete(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<bool, MemoryError>> + Send;
}

/// The session's blocks, in label order (a label whose block is gone meanwhile is
/// left out).
pub async fn linked_blocks<C: MemoryCatalog>(
    catalog: &C,
    session: &SessionId,
) -> Result<Vec<Block>, MemoryError> {
    let mut blocks = Vec::new();
    for label in catalog.memory_link_list(session).await? {
        if let Some(block) = catalog.memory_block_read(&label).await? {
            blocks.push(block);
        }
    }
    Ok(blocks)
}

/// Whether `block` may be created in a universe holding `count` blocks, one of them
/// labelled alike if `exists`.
pub fn decide_create(
    block: &Block,
    exists: bool,
    count: usize,
    blocks_max: usize,
) -> Result<(), MemoryError> {
    block.check()?;
    if block.revision != 1 {
        return Err(MemoryError::invalid("revision", "a new block is at 1"));
    }
    if exists {
        return Err(MemoryError::BlockExists(block.label.to_string()));
    }
    if count >= blocks_max {
        return Err(MemoryError::TooMany {
            bound: MemoryBound::BlocksPerUniverse,
            max: blocks_max,
        });
    }
    Ok(())
}

/// The block `patch` makes of `existing` at `expected_revision`, one revision up
/// (unchanged when the patch changes nothing), or the refusal.
pub fn decide_update(
    label: &BlockLabel,
    existing: Option<&Block>,
    expected_revision: Option<u64>,
    patch: &BlockPatch,
    now_ms: u64,
) -> Result<Block, MemoryError> {
    let existing = existing.ok_or_else(|| MemoryError::BlockNotFound(label.to_string()))?;
    if let Some(expected) = expected_revision
        && expected != existing.revision
    {
        return Err(MemoryError::Conflict {
            label: label.to_string(),
            expected,
            actual: existing.revision,
        });
    }
    if patch.is_noop(existing) {
        return Ok(existing.clone());
    }
    let mut block = existing.clone();
    if let Some(description) = &patch.description {
        block.description.clone_from(description);
    }
    if let Some(value) = &patch.value {
        block.value.clone_from(value);
    }
    if let Some(limit_bytes) = patch.limit_bytes {
        block.limit_bytes = limit_bytes;
    }
    if let Some(read_only) = patch.read_only {
        block.read_only = read_only;
    }
    block.check()?;
    block.revision = existing.revision + 1;
    block.updated_at_ms = now_ms.max(existing.updated_at_ms);
    Ok(block)
}

/// Whether a delete may go ahead while `sessions` have the block.
pub fn check_delete(label: &BlockLabel, sessions: usize, force: bool) -> Result<(), MemoryError> {
    if sessions > 0 && !force {
        return Err(MemoryError::Linked {
            label: label.to_string(),
            sessions,
        });
    }
    Ok(())
}

/// The refusal of a new link beyond `links_max` when the session has `links`.
pub fn check_links(links: usize, replacing: bool, links_max: usize) -> Result<(), MemoryError> {
    if !replacing && links >= links_max {
        return Err(MemoryError::TooMany {
            bound: MemoryBound::BlocksPerSession,
            max: links_max,
        });
    }
    Ok(())
}

/// The refusal of a new passage beyond `passages_max` when the universe has `count`.
pub fn check_passages(count: usize, passages_max: usize) -> Result<(), MemoryError> {
    if count >= passages_max {
        return Err(MemoryError::TooMany {
            bound: MemoryBound::PassagesPerUniverse,
            max: passages_max,
        });
    }
    Ok(())
}
