//! The reference [`MemoryCatalog`]: maps behind a mutex. Search scores every
//! passage (linear), which a reference may.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use engine::SessionId;

use crate::archival::{ArchivalQuery, NewPassage, Passage, rank, terms};
use crate::block::{Block, BlockLabel, BlockPatch};
use crate::catalog::{
    BlockDelete, MemoryCatalog, check_delete, check_links, check_passages, decide_create,
    decide_update,
};
use crate::error::MemoryError;

#[derive(Debug, Default)]
pub struct MemoryMemoryCatalog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    blocks: BTreeMap<BlockLabel, Block>,
    links: BTreeMap<SessionId, BTreeSet<BlockLabel>>,
    passages: BTreeMap<String, (Passage, BTreeSet<String>)>,
    next_seq: u64,
}

impl MemoryMemoryCatalog {
    fn with<T>(&self, work: impl FnOnce(&mut Inner) -> T) -> T {
        // Every change is one insert, remove or field write after its checks, so the
        // maps a panic leaves behind are whole and a poisoned lock is safe to reuse.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut inner)
    }
}

impl MemoryCatalog for MemoryMemoryCatalog {
    async fn memory_block_create(
        &self,
        block: &Block,
        blocks_max: usize,
    ) -> Result<(), MemoryError> {
        self.with(|inner| {
            let exists = inner.blocks.contains_key(&block.label);
            decide_create(block, exists, inner.blocks.len(), blocks_max)?;
            inner.blocks.insert(block.label.clone(), block.clone());
            Ok(())
        })
    }

    async fn memory_block_read(&self, label: &BlockLabel) -> Result<Option<Block>, MemoryError> {
        Ok(self.with(|inner| inner.blocks.get(label).cloned()))
    }

    async fn memory_block_list(&self) -> Result<Vec<Block>, MemoryError> {
        Ok(self.with(|inner| inner.blocks.values().cloned().collect()))
    }

    async fn memory_block_update(
        &self,
        label: &BlockLabel,
        expected_revision: Option<u64>,
        patch: &BlockPatch,
        now_ms: u64,
    ) -> Result<Block, MemoryError> {
        self.with(|inner| {
            let block = decide_update(
                label,
                inner.blocks.get(label),
                expected_revision,
                patch,
                now_ms,
            )?;
            inner.blocks.insert(label.clone(), block.clone());
            Ok(block)
        })
    }

    async fn memory_block_delete(
        &self,
        label: &BlockLabel,
        force: bool,
    ) -> Result<BlockDelete, MemoryError> {
        self.with(|inner| {
            if !inner.blocks.contains_key(label) {
                return Ok(BlockDelete::default());
            }
            let sessions = inner
                .links
                .values()
                .filter(|labels| labels.contains(label))
                .count();
            check_delete(label, sessions, force)?;
            for labels in inner.links.values_mut() {
                labels.remove(label);
            }
            inner.blocks.remove(label);
            Ok(BlockDelete {
                deleted: true,
                detached: sessions,
            })
        })
    }

    async fn memory_link_put(
        &self,
        session: &SessionId,
        label: &BlockLabel,
        links_max: usize,
    ) -> Result<bool, MemoryError> {
        self.with(|inner| {
            if !inner.blocks.contains_key(label) {
                return Err(MemoryError::BlockNotFound(label.to_string()));
            }
            let labels = inner.links.entry(session.clone()).or_default();
            check_links(labels.len(), labels.contains(label), links_max)?;
            Ok(labels.insert(label.clone()))
        })
    }

    async fn memory_link_delete(
        &self,
        session: &SessionId,
        label: &BlockLabel,
    ) -> Result<bool, MemoryError> {
        Ok(self.with(|inner| {
            inner
                .links
                .get_mut(session)
                .is_some_and(|labels| labels.remove(label))
        }))
    }

    async fn memory_link_list(&self, session: &SessionId) -> Result<Vec<BlockLabel>, MemoryError> {
        Ok(self.with(|inner| {
            inner
                .links
                .get(session)
                .map(|labels| labels.iter().cloned().collect())
                .unwrap_or_default()
        }))
    }

    async fn memory_passage_insert(
        &self,
        passage: &NewPassage,
        passages_max: usize,
    ) -> Result<Passage, MemoryError> {
        passage.check()?;
        self.with(|inner| {
            if let Some((stored, _)) = inner.passages.get(&passage.id) {
                return Ok(stored.clone());
            }
            check_passages(inner.passages.len(), passages_max)?;
            inner.next_seq += 1;
            let stored = passage.clone().stored(inner.next_seq);
            let indexed = terms(&stored.text);
            inner
                .passages
                .insert(stored.id.clone(), (stored.clone(), indexed));
            Ok(stored)
        })
    }

    async fn memory_passage_search(
        &self,
        query: &ArchivalQuery,
    ) -> Result<Vec<Passage>, MemoryError> {
        Ok(self.with(|inner| {
            let hits = inner
                .passages
                .values()
                .filter(|(passage, _)| query.tags_match(&passage.tags))
                .map(|(passage, indexed)| (query.score(indexed), passage.seq, passage.clone()))
                .collect();
            rank(hits, query.limit)
        }))
    }

    async fn memory_passage_delete(&self, id: &str) -> Result<bool, MemoryError> {
        Ok(self.with(|inner| inner.passages.remove(id).is_some()))
    }
}
