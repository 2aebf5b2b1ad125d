//! The memory catalog in Postgres: `memory_blocks`, `memory_links` and
//! `memory_passages` (`migrations/0008_memory.sql`), implementing
//! `memory_registry::MemoryCatalog` with its shared decisions.
//!
//! Block creates and deletes of a universe queue on a transaction-scoped advisory
//! lock (the bound on blocks), links of a session on another (the bound per
//! session), passage inserts of a universe on a third (the bound on passages). An
//! update locks its block's row, decides and writes (compare-and-set on the
//! revision). A link holds its block: attaching takes the block row's key-share
//! lock, which a delete's row lock waits for and excludes, so a delete without force
//! never misses a link being made. Search is `websearch_to_tsquery` over the
//! query's terms joined by `or`, ranked by `ts_rank` then newest, at most
//! `SEARCH_LIMIT_MAX` rows.

use engine::SessionId;
use engine::store::StoreError;
use memory_registry::catalog::{
    check_delete, check_links, check_passages, decide_create, decide_update,
};
use memory_registry::{
    ArchivalQuery, Block, BlockDelete, BlockLabel, BlockPatch, MemoryCatalog, MemoryError,
    NewPassage, Passage,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PgStore;
use crate::error::{from_bigint, query_failed, to_bigint};
use crate::tx::{begin, finish};

/// First key of the advisory locks (ASCII "memo"); the second folds in the kind.
const LOCK_SPACE: i32 = 0x6d65_6d6f;
const LOCK_BLOCKS: i32 = 1;
const LOCK_LINKS: i32 = 2;
const LOCK_PASSAGES: i32 = 3;

const BLOCK_COLUMNS: &str =
    "label, description, value, limit_bytes, read_only, revision, created_at_ms, updated_at_ms";
const PASSAGE_COLUMNS: &str = "passage_id, text, tags, created_at_ms, seq";

type BlockRow = (String, String, String, i64, bool, i64, i64, i64);
type PassageRow = (String, String, Vec<String>, i64, i64);

fn block_of(row: BlockRow) -> Result<Block, MemoryError> {
    let (label, description, value, limit_bytes, read_only, revision, created, updated) = row;
    let location = "memory_blocks row";
    let corrupt = |err: MemoryError| StoreError::Corrupt {
        location: location.to_owned(),
        reason: err.to_string(),
    };
    Ok(Block {
        label: BlockLabel::new(label).map_err(corrupt)?,
        description,
        value,
        limit_bytes: from_bigint(location, limit_bytes)?,
        read_only,
        revision: from_bigint(location, revision)?,
        created_at_ms: from_bigint(location, created)?,
        updated_at_ms: from_bigint(location, updated)?,
    })
}

fn passage_of(row: PassageRow) -> Result<Passage, MemoryError> {
    let (id, text, tags, created_at_ms, seq) = row;
    let location = "memory_passages row";
    Ok(Passage {
        id,
        text,
        tags,
        created_at_ms: from_bigint(location, created_at_ms)?,
        seq: from_bigint(location, seq)?,
    })
}

fn bigint(what: &'static str, value: u64) -> Result<i64, StoreError> {
    to_bigint(what, value).map_err(StoreError::from)
}

/// Serialises one kind of change of a universe (and session) until the transaction
/// ends.
async fn lock(
    conn: &mut PgConnection,
    kind: i32,
    universe_id: Uuid,
    session: Option<&SessionId>,
) -> Result<(), StoreError> {
    crate::tx::advisory_lock(
        conn,
        LOCK_SPACE,
        kind,
        universe_id,
        session,
        "lock the memory catalog",
    )
    .await
}

async fn read_block(
    conn: &mut PgConnection,
    universe_id: Uuid,
    label: &BlockLabel,
    locking: &str,
) -> Result<Option<Block>, MemoryError> {
    let row: Option<BlockRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {BLOCK_COLUMNS} FROM memory_blocks WHERE universe_id = $1 AND label = $2 {locking}"
    )))
    .bind(universe_id)
    .bind(label.as_str())
    .fetch_optional(conn)
    .await
    .map_err(query_failed("read a memory block"))?;
    row.map(block_of).transpose()
}

async fn count(
    conn: &mut PgConnection,
    sql: &'static str,
    universe_id: Uuid,
) -> Result<usize, StoreError> {
    let count: i64 = sqlx::query_scalar(sql)
        .bind(universe_id)
        .fetch_one(conn)
        .await
        .map_err(query_failed("count memory records"))?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

impl MemoryCatalog for PgStore {
    async fn memory_block_create(
        &self,
        block: &Block,
        blocks_max: usize,
    ) -> Result<(), MemoryError> {
        let mut tx = begin(&self.pool, "begin a memory block create").await?;
        let created = async {
            lock(&mut tx, LOCK_BLOCKS, self.universe_id, None).await?;
            let exists = read_block(&mut tx, self.universe_id, &block.label, "")
                .await?
                .is_some();
            let held = count(
                &mut tx,
                "SELECT count(*) FROM memory_blocks WHERE universe_id = $1",
                self.universe_id,
            )
            .await?;
            decide_create(block, exists, held, blocks_max)?;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "INSERT INTO memory_blocks (universe_id, {BLOCK_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
            )))
            .bind(self.universe_id)
            .bind(block.label.as_str())
            .bind(&block.description)
            .bind(&block.value)
            .bind(bigint("limit_bytes", block.limit_bytes)?)
            .bind(block.read_only)
            .bind(bigint("revision", block.revision)?)
            .bind(bigint("created_at_ms", block.created_at_ms)?)
            .bind(bigint("updated_at_ms", block.updated_at_ms)?)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("write a memory block"))?;
            Ok(())
        }
        .await;
        finish(tx, created, "commit a memory block create").await
    }

    async fn memory_block_read(&self, label: &BlockLabel) -> Result<Option<Block>, MemoryError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(query_failed("read a memory block"))?;
        read_block(&mut conn, self.universe_id, label, "").await
    }

    async fn memory_block_list(&self) -> Result<Vec<Block>, MemoryError> {
        let rows: Vec<BlockRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {BLOCK_COLUMNS} FROM memory_blocks WHERE universe_id = $1 ORDER BY label"
        )))
        .bind(self.universe_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list memory blocks"))?;
        rows.into_iter().map(block_of).collect()
    }

    async fn memory_block_update(
        &self,
        label: &BlockLabel,
        expected_revision: Option<u64>,
        patch: &BlockPatch,
        now_ms: u64,
    ) -> Result<Block, MemoryError> {
        let mut tx = begin(&self.pool, "begin a memory block update").await?;
        let updated = async {
            let existing = read_block(&mut tx, self.universe_id, label, "FOR UPDATE").await?;
            let block = decide_update(label, existing.as_ref(), expected_revision, patch, now_ms)?;
            if existing.as_ref() == Some(&block) {
                return Ok(block);
            }
            sqlx::query(
                "UPDATE memory_blocks SET description = $3, value = $4, limit_bytes = $5, \
                 read_only = $6, revision = $7, updated_at_ms = $8 \
                 WHERE universe_id = $1 AND label = $2",
            )
            .bind(self.universe_id)
            .bind(label.as_str())
            .bind(&block.description)
            .bind(&block.value)
            .bind(bigint("limit_bytes", block.limit_bytes)?)
            .bind(block.read_only)
            .bind(bigint("revision", block.revision)?)
            .bind(bigint("updated_at_ms", block.updated_at_ms)?)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("update a memory block"))?;
            Ok(block)
        }
        .await;
        finish(tx, updated, "commit a memory block update").await
    }

    async fn memory_block_delete(
        &self,
        label: &BlockLabel,
        force: bool,
    ) -> Result<BlockDelete, MemoryError> {
        let mut tx = begin(&self.pool, "begin a memory block delete").await?;
        let deleted = async {
            lock(&mut tx, LOCK_BLOCKS, self.universe_id, None).await?;
            if read_block(&mut tx, self.universe_id, label, "FOR UPDATE")
                .await?
                .is_none()
            {
                return Ok(BlockDelete::default());
            }
            let sessions: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM memory_links WHERE universe_id = $1 AND label = $2",
            )
            .bind(self.universe_id)
            .bind(label.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("count a memory block's sessions"))?;
            let sessions = usize::try_from(sessions).unwrap_or(usize::MAX);
            check_delete(label, sessions, force)?;
            // Its links go with it (ON DELETE CASCADE).
            sqlx::query("DELETE FROM memory_blocks WHERE universe_id = $1 AND label = $2")
                .bind(self.universe_id)
                .bind(label.as_str())
                .execute(&mut *tx)
                .await
                .map_err(query_failed("delete a memory block"))?;
            Ok(BlockDelete {
                deleted: true,
                detached: sessions,
            })
        }
        .await;
        finish(tx, deleted, "commit a memory block delete").await
    }

    async fn memory_link_put(
        &self,
        session: &SessionId,
        label: &BlockLabel,
        links_max: usize,
    ) -> Result<bool, MemoryError> {
        let mut tx = begin(&self.pool, "begin a memory block attach").await?;
        let put = async {
            lock(&mut tx, LOCK_LINKS, self.universe_id, Some(session)).await?;
            if read_block(&mut tx, self.universe_id, label, "FOR KEY SHARE")
                .await?
                .is_none()
            {
                return Err(MemoryError::BlockNotFound(label.to_string()));
            }
            let (taken, count): (bool, i64) = sqlx::query_as(
                "SELECT bool_or(label = $3) IS TRUE, count(*) FROM memory_links \
                 WHERE universe_id = $1 AND session_id = $2",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .bind(label.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("count a session's memory blocks"))?;
            check_links(
                usize::try_from(count).unwrap_or(usize::MAX),
                taken,
                links_max,
            )?;
            if taken {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO memory_links (universe_id, session_id, label) VALUES ($1, $2, $3)",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .bind(label.as_str())
            .execute(&mut *tx)
            .await
            .map_err(query_failed("attach a memory block"))?;
            Ok(true)
        }
        .await;
        finish(tx, put, "commit a memory block attach").await
    }

    async fn memory_link_delete(
        &self,
        session: &SessionId,
        label: &BlockLabel,
    ) -> Result<bool, MemoryError> {
        let done = sqlx::query(
            "DELETE FROM memory_links WHERE universe_id = $1 AND session_id = $2 AND label = $3",
        )
        .bind(self.universe_id)
        .bind(session.as_str())
        .bind(label.as_str())
        .execute(&self.pool)
        .await
        .map_err(query_failed("detach a memory block"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn memory_link_list(&self, session: &SessionId) -> Result<Vec<BlockLabel>, MemoryError> {
        let labels: Vec<String> = sqlx::query_scalar(
            "SELECT label FROM memory_links WHERE universe_id = $1 AND session_id = $2 \
             ORDER BY label",
        )
        .bind(self.universe_id)
        .bind(session.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list a session's memory blocks"))?;
        labels
            .into_iter()
            .map(|label| {
                BlockLabel::new(label).map_err(|err| {
                    MemoryError::from(StoreError::Corrupt {
                        location: "memory_links row".into(),
                        reason: err.to_string(),
                    })
                })
            })
            .collect()
    }

    async fn memory_passage_insert(
        &self,
        passage: &NewPassage,
        passages_max: usize,
    ) -> Result<Passage, MemoryError> {
        passage.check()?;
        let mut tx = begin(&self.pool, "begin an archival insert").await?;
        let inserted = async {
            lock(&mut tx, LOCK_PASSAGES, self.universe_id, None).await?;
            let existing: Option<PassageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {PASSAGE_COLUMNS} FROM memory_passages \
                 WHERE universe_id = $1 AND passage_id = $2"
            )))
            .bind(self.universe_id)
            .bind(&passage.id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_failed("read an archival passage"))?;
            if let Some(row) = existing {
                return passage_of(row);
            }
            let held = count(
                &mut tx,
                "SELECT count(*) FROM memory_passages WHERE universe_id = $1",
                self.universe_id,
            )
            .await?;
            check_passages(held, passages_max)?;
            let seq: i64 = sqlx::query_scalar(
                "INSERT INTO memory_passages (universe_id, passage_id, text, tags, created_at_ms) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING seq",
            )
            .bind(self.universe_id)
            .bind(&passage.id)
            .bind(&passage.text)
            .bind(&passage.tags)
            .bind(bigint("created_at_ms", passage.created_at_ms)?)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("write an archival passage"))?;
            Ok(passage
                .clone()
                .stored(from_bigint("memory_passages row", seq)?))
        }
        .await;
        finish(tx, inserted, "commit an archival insert").await
    }

    async fn memory_passage_search(
        &self,
        query: &ArchivalQuery,
    ) -> Result<Vec<Passage>, MemoryError> {
        // Terms are runs of letters and digits, so joined by `or` they are
        // websearch syntax with no operator but `or` ("or" itself, a stop word, is
        // left out).
        let text: Vec<&str> = query
            .terms
            .iter()
            .map(String::as_str)
            .filter(|term| *term != "or")
            .collect();
        let limit = query.limit.min(memory_registry::archival::SEARCH_LIMIT_MAX);
        let rows: Vec<PassageRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {PASSAGE_COLUMNS} FROM memory_passages, \
             websearch_to_tsquery('english', $2) AS query \
             WHERE universe_id = $1 AND tsv @@ query AND tags @> $3 \
             ORDER BY ts_rank(tsv, query) DESC, seq DESC LIMIT $4"
        )))
        .bind(self.universe_id)
        .bind(text.join(" or "))
        .bind(&query.tags)
        .bind(i64::try_from(limit).unwrap_or(0))
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("search archival passages"))?;
        rows.into_iter().map(passage_of).collect()
    }

    async fn memory_passage_delete(&self, id: &str) -> Result<bool, MemoryError> {
        let done =
            sqlx::query("DELETE FROM memory_passages WHERE universe_id = $1 AND passage_id = $2")
                .bind(self.universe_id)
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(query_failed("delete an archival passage"))?;
        Ok(done.rows_affected() > 0)
    }
}
