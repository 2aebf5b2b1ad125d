//! The memory catalog on disk (`memory_registry::MemoryCatalog`).
//!
//! ```text
//! memory/catalog.lock                   creates, deletes and links of blocks
//! memory/blocks/<label>.json            a Block, changed under <label>.lock
//! memory/links/<session>.json           the labels of a session's blocks
//! memory/archival/index.json            created order, the id → seq map, and the
//!                                       term → ids index search reads
//! memory/archival/index.lock            every passage insert and delete
//! memory/archival/passages/<id>.json    a Passage
//! ```
//!
//! Block creates and deletes and every link change take the catalog lock, so the
//! bound on blocks and the refusal to delete a linked block hold against concurrent
//! writers; a block's value changes under its own lock (compare-and-set on its
//! revision). Listing blocks and deleting a linked one read every file of their
//! directory (linear, which the development store accepts). Labels and passage ids
//! are path-safe by construction (`[a-z0-9_-]`, hex).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use engine::SessionId;
use engine::store::StoreError;
use memory_registry::archival::{rank, terms};
use memory_registry::catalog::{
    check_delete, check_links, check_passages, decide_create, decide_update,
};
use memory_registry::{
    ArchivalQuery, Block, BlockDelete, BlockLabel, BlockPatch, MemoryCatalog, MemoryError,
    NewPassage, Passage,
};
use serde::{Deserialize, Serialize};

use crate::fsio::io_err;
use crate::record::{Record, run};
use crate::{FsStore, session_dir_name};

type Labels = BTreeSet<BlockLabel>;

/// Where one universe's memory lives.
#[derive(Clone)]
struct Dirs {
    root: PathBuf,
}

impl Dirs {
    fn of(store: &FsStore) -> Self {
        Self {
            root: store.root().join("memory"),
        }
    }

    fn catalog(&self) -> Record {
        Record::at(self.root.clone(), "catalog")
    }

    fn blocks(&self) -> PathBuf {
        self.root.join("blocks")
    }

    fn block(&self, label: &BlockLabel) -> Record {
        Record::at(self.blocks(), label.as_str())
    }

    fn links_dir(&self) -> PathBuf {
        self.root.join("links")
    }

    fn links(&self, session: &SessionId) -> Record {
        Record::at(self.links_dir(), &session_dir_name(session))
    }

    fn index(&self) -> Record {
        Record::at(self.root.join("archival"), "index")
    }

    fn passage(&self, id: &str) -> Record {
        Record::at(self.root.join("archival/passages"), id)
    }
}

/// The stems of the `.json` records of `dir` (none when it does not exist), sorted.
fn record_names(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_err("list", dir)(err)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let file = entry.map_err(io_err("list", dir))?.file_name();
        // Lock files and temporary files of atomic writes are not records.
        if let Some(stem) = file.to_str().and_then(|name| name.strip_suffix(".json"))
            && !stem.starts_with('.')
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

fn block_labels(dirs: &Dirs) -> Result<Vec<BlockLabel>, StoreError> {
    Ok(record_names(&dirs.blocks())?
        .into_iter()
        .filter_map(|name| BlockLabel::new(name).ok())
        .collect())
}

/// The archival index: everything search and the bound need without reading
/// passages.
#[derive(Debug, Default, Serialize, Deserialize)]
struct ArchivalIndex {
    next_seq: u64,
    /// Passage id → its seq.
    passages: BTreeMap<String, u64>,
    /// Term → ids of the passages holding it.
    terms: BTreeMap<String, BTreeSet<String>>,
}

impl MemoryCatalog for FsStore {
    async fn memory_block_create(
        &self,
        block: &Block,
        blocks_max: usize,
    ) -> Result<(), MemoryError> {
        let dirs = Dirs::of(self);
        let block = block.clone();
        run(move || {
            dirs.catalog().locked(|| {
                let labels = block_labels(&dirs)?;
                decide_create(
                    &block,
                    labels.contains(&block.label),
                    labels.len(),
                    blocks_max,
                )?;
                let record = dirs.block(&block.label);
                record.locked(|| Ok::<_, MemoryError>(record.write(&block)?))
            })
        })
        .await
    }

    async fn memory_block_read(&self, label: &BlockLabel) -> Result<Option<Block>, MemoryError> {
        let record = Dirs::of(self).block(label);
        // Replaced by rename: a reader sees the old or the new file whole.
        run(move || Ok(record.read()?)).await
    }

    async fn memory_block_list(&self) -> Result<Vec<Block>, MemoryError> {
        let dirs = Dirs::of(self);
        run(move || {
            let mut blocks = Vec::new();
            for label in block_labels(&dirs)? {
                if let Some(block) = dirs.block(&label).read()? {
                    blocks.push(block);
                }
            }
            Ok(blocks)
        })
        .await
    }

    async fn memory_block_update(
        &self,
        label: &BlockLabel,
        expected_revision: Option<u64>,
        patch: &BlockPatch,
        now_ms: u64,
    ) -> Result<Block, MemoryError> {
        let record = Dirs::of(self).block(label);
        let (label, patch) = (label.clone(), patch.clone());
        run(move || {
            record.locked(|| {
                let existing: Option<Block> = record.read()?;
                let block =
                    decide_update(&label, existing.as_ref(), expected_revision, &patch, now_ms)?;
                if existing.as_ref() != Some(&block) {
                    record.write(&block)?;
                }
                Ok(block)
            })
        })
        .await
    }

    async fn memory_block_delete(
        &self,
        label: &BlockLabel,
        force: bool,
    ) -> Result<BlockDelete, MemoryError> {
        let dirs = Dirs::of(self);
        let label = label.clone();
        run(move || {
            dirs.catalog().locked(|| {
                let record = dirs.block(&label);
                if record.read::<Block>()?.is_none() {
                    return Ok(BlockDelete::default());
                }
                let mut holders = Vec::new();
                for name in record_names(&dirs.links_dir())? {
                    let links = Record::at(dirs.links_dir(), &name);
                    let labels: Labels = links.read()?.unwrap_or_default();
                    if labels.contains(&label) {
                        holders.push((links, labels));
                    }
                }
                check_delete(&label, holders.len(), force)?;
                for (links, labels) in &mut holders {
                    labels.remove(&label);
                    links.write(labels)?;
                }
                record.locked(|| record.remove())?;
                Ok(BlockDelete {
                    deleted: true,
                    detached: holders.len(),
                })
            })
        })
        .await
    }

    async fn memory_link_put(
        &self,
        session: &SessionId,
        label: &BlockLabel,
        links_max: usize,
    ) -> Result<bool, MemoryError> {
        let dirs = Dirs::of(self);
        let (session, label) = (session.clone(), label.clone());
        run(move || {
            dirs.catalog().locked(|| {
                if dirs.block(&label).read::<Block>()?.is_none() {
                    return Err(MemoryError::BlockNotFound(label.to_string()));
                }
                let record = dirs.links(&session);
                let mut labels: Labels = record.read()?.unwrap_or_default();
                check_links(labels.len(), labels.contains(&label), links_max)?;
                if !labels.insert(label) {
                    return Ok(false);
                }
                record.write(&labels)?;
                Ok(true)
            })
        })
        .await
    }

    async fn memory_link_delete(
        &self,
        session: &SessionId,
        label: &BlockLabel,
    ) -> Result<bool, MemoryError> {
        let dirs = Dirs::of(self);
        let (session, label) = (session.clone(), label.clone());
        run(move || {
            dirs.catalog().locked(|| {
                let record = dirs.links(&session);
                let mut labels: Labels = record.read()?.unwrap_or_default();
                if !labels.remove(&label) {
                    return Ok(false);
                }
                record.write(&labels)?;
                Ok(true)
            })
        })
        .await
    }

    async fn memory_link_list(&self, session: &SessionId) -> Result<Vec<BlockLabel>, MemoryError> {
        let record = Dirs::of(self).links(session);
        run(move || {
            Ok(record
                .read::<Labels>()?
                .unwrap_or_default()
                .into_iter()
                .collect())
        })
        .await
    }

    async fn memory_passage_insert(
        &self,
        passage: &NewPassage,
        passages_max: usize,
    ) -> Result<Passage, MemoryError> {
        passage.check()?;
        let dirs = Dirs::of(self);
        let passage = passage.clone();
        run(move || {
            let index_record = dirs.index();
            index_record.locked(|| {
                let mut index: ArchivalIndex = index_record.read()?.unwrap_or_default();
                let record = dirs.passage(&passage.id);
                if index.passages.contains_key(&passage.id)
                    && let Some(stored) = record.read::<Passage>()?
                {
                    return Ok(stored);
                }
                check_passages(index.passages.len(), passages_max)?;
                index.next_seq += 1;
                let stored = passage.stored(index.next_seq);
                // The passage before the index: an index entry always has its file.
                record.write(&stored)?;
                index.passages.insert(stored.id.clone(), stored.seq);
                for term in terms(&stored.text) {
                    index
                        .terms
                        .entry(term)
                        .or_default()
                        .insert(stored.id.clone());
                }
                index_record.write(&index)?;
                Ok(stored)
            })
        })
        .await
    }

    async fn memory_passage_search(
        &self,
        query: &ArchivalQuery,
    ) -> Result<Vec<Passage>, MemoryError> {
        let dirs = Dirs::of(self);
        let query = query.clone();
        run(move || {
            let index: ArchivalIndex = dirs.index().read()?.unwrap_or_default();
            let mut scores: BTreeMap<&str, usize> = BTreeMap::new();
            for term in &query.terms {
                for id in index.terms.get(term).into_iter().flatten() {
                    *scores.entry(id).or_default() += 1;
                }
            }
            let hits = scores
                .into_iter()
                .filter_map(|(id, score)| Some((score, *index.passages.get(id)?, id)))
                .collect();
            let mut found = Vec::new();
            // Best first; tags are read from the passages, until the page is full.
            for id in rank(hits, usize::MAX) {
                if found.len() == query.limit {
                    break;
                }
                if let Some(passage) = dirs.passage(id).read::<Passage>()?
                    && query.tags_match(&passage.tags)
                {
                    found.push(passage);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn memory_passage_delete(&self, id: &str) -> Result<bool, MemoryError> {
        if !memory_registry::archival::is_passage_id(id) {
            return Ok(false);
        }
        let dirs = Dirs::of(self);
        let id = id.to_owned();
        run(move || {
            let index_record = dirs.index();
            index_record.locked(|| {
                let mut index: ArchivalIndex = index_record.read()?.unwrap_or_default();
                if index.passages.remove(&id).is_none() {
                    return Ok(false);
                }
                let record = dirs.passage(&id);
                if let Some(passage) = record.read::<Passage>()? {
                    for term in terms(&passage.text) {
                        if let Some(ids) = index.terms.get_mut(&term) {
                            ids.remove(&id);
                            if ids.is_empty() {
                                index.terms.remove(&term);
                            }
                        }
                    }
                }
                // The index before the passage: an index entry always has its file.
                index_record.write(&index)?;
                record.remove()?;
                Ok(true)
            })
        })
        .await
    }
}
