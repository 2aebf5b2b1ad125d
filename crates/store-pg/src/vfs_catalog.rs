//! The VFS catalog in Postgres: workspace heads in `vfs_workspaces`, each session's
//! mount table as one row of `vfs_mounts` (`migrations/0002_vfs_catalog.sql`).
//!
//! Every change is one transaction that locks the record's row, reads it, decides
//! here and writes, as store-fs does under its lock files. So a compare-and-set
//! compares against the revision the winner left (the loser's conflict names it),
//! and concurrent mount puts on one session queue on its row, so the bound on mounts
//! holds. Reads lock nothing: each record is one row, replaced whole.

use engine::store::StoreError;
use engine::{BlobRef, SessionId};
use sqlx::PgConnection;
use uuid::Uuid;
use vfs::workspace::WORKSPACE_REVISION_INITIAL;
use vfs::{Mount, SessionPath, VfsCatalog, VfsError, Workspace, WorkspaceId};

use crate::PgStore;
use crate::error::{from_bigint, query_failed, to_bigint};
use crate::tx::{begin, finish};

impl VfsCatalog for PgStore {
    async fn workspace_create(
        &self,
        id: &WorkspaceId,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let revision = bigint("workspace revision", WORKSPACE_REVISION_INITIAL)?;
        // A concurrent create of the same id waits for ours and then inserts nothing.
        let created = sqlx::query(
            "INSERT INTO vfs_workspaces (universe_id, workspace_id, revision, snapshot) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (universe_id, workspace_id) DO NOTHING",
        )
        .bind(self.universe_id)
        .bind(id.as_str())
        .bind(revision)
        .bind(snapshot.as_str())
        .execute(&self.pool)
        .await
        .map_err(query_failed("create a workspace"))?;
        if created.rows_affected() == 0 {
            return Err(VfsError::WorkspaceExists(id.clone()));
        }
        Ok(Workspace {
            id: id.clone(),
            revision: WORKSPACE_REVISION_INITIAL,
            snapshot: snapshot.clone(),
        })
    }

    async fn workspace_read(&self, id: &WorkspaceId) -> Result<Option<Workspace>, VfsError> {
        let row: Option<(i64, String)> = sqlx::query_as(
            "SELECT revision, snapshot FROM vfs_workspaces \
             WHERE universe_id = $1 AND workspace_id = $2",
        )
        .bind(self.universe_id)
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read a workspace head"))?;
        Ok(row
            .map(|(revision, snapshot)| decode_head(id, revision, &snapshot))
            .transpose()?)
    }

    async fn workspace_set_head(
        &self,
        id: &WorkspaceId,
        expected_revision: u64,
        snapshot: &BlobRef,
    ) -> Result<Workspace, VfsError> {
        let mut tx = begin(&self.pool, "begin a workspace head move").await?;
        let moved = async {
            let head = lock_head(&mut tx, self.universe_id, id)
                .await?
                .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))?;
            if head.revision != expected_revision {
                return Err(conflict(id, expected_revision, head.revision));
            }
            let revision = head.revision + 1;
            sqlx::query(
                "UPDATE vfs_workspaces SET revision = $3, snapshot = $4 \
                 WHERE universe_id = $1 AND workspace_id = $2",
            )
            .bind(self.universe_id)
            .bind(id.as_str())
            .bind(bigint("workspace revision", revision)?)
            .bind(snapshot.as_str())
            .execute(&mut *tx)
            .await
            .map_err(query_failed("move a workspace head"))?;
            Ok(Workspace {
                id: id.clone(),
                revision,
                snapshot: snapshot.clone(),
            })
        }
        .await;
        finish(tx, moved, "commit a workspace head move").await
    }

    async fn workspace_delete(
        &self,
        id: &WorkspaceId,
        expected_revision: Option<u64>,
    ) -> Result<(), VfsError> {
        let mut tx = begin(&self.pool, "begin a workspace delete").await?;
        let deleted = async {
            let head = lock_head(&mut tx, self.universe_id, id)
                .await?
                .ok_or_else(|| VfsError::WorkspaceNotFound(id.clone()))?;
            if let Some(expected) = expected_revision.filter(|e| *e != head.revision) {
                return Err(conflict(id, expected, head.revision));
            }
            sqlx::query("DELETE FROM vfs_workspaces WHERE universe_id = $1 AND workspace_id = $2")
                .bind(self.universe_id)
                .bind(id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(query_failed("delete a workspace"))?;
            Ok(())
        }
        .await;
        finish(tx, deleted, "commit a workspace delete").await
    }

    async fn mount_put(
        &self,
        session: &SessionId,
        mount: &Mount,
        mounts_max: usize,
    ) -> Result<(), VfsError> {
        let mut tx = begin(&self.pool, "begin a mount put").await?;
        let put = async {
            // Creates the session's row if it has none, and locks it either way, so
            // puts on one session are serialised even while it has no mounts yet. A
            // refused put rolls back, so no row of an empty table survives.
            let text: String = sqlx::query_scalar(
                "INSERT INTO vfs_mounts (universe_id, session_id, mounts) \
                 VALUES ($1, $2, '[]') \
                 ON CONFLICT (universe_id, session_id) DO UPDATE SET mounts = vfs_mounts.mounts \
                 RETURNING mounts::text",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("lock a mount table"))?;
            let mut mounts = decode_mounts(session, &text)?;
            match mounts.binary_search_by(|m| m.path.cmp(&mount.path)) {
                Ok(at) => mounts[at] = mount.clone(),
                Err(_) if mounts.len() >= mounts_max => {
                    return Err(VfsError::TooManyMounts { max: mounts_max });
                }
                Err(at) => mounts.insert(at, mount.clone()),
            }
            write_mounts(&mut tx, self.universe_id, session, &mounts).await
        }
        .await;
        finish(tx, put, "commit a mount put").await
    }

    async fn mount_delete(
        &self,
        session: &SessionId,
        path: &SessionPath,
    ) -> Result<bool, VfsError> {
        let mut tx = begin(&self.pool, "begin a mount delete").await?;
        let deleted = async {
            let text: Option<String> = sqlx::query_scalar(
                "SELECT mounts::text FROM vfs_mounts \
                 WHERE universe_id = $1 AND session_id = $2 FOR UPDATE",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_failed("lock a mount table"))?;
            let Some(text) = text else {
                return Ok(false);
            };
            let mut mounts = decode_mounts(session, &text)?;
            let before = mounts.len();
            mounts.retain(|m| m.path != *path);
            if mounts.len() == before {
                return Ok(false);
            }
            if mounts.is_empty() {
                sqlx::query("DELETE FROM vfs_mounts WHERE universe_id = $1 AND session_id = $2")
                    .bind(self.universe_id)
                    .bind(session.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(query_failed("delete a mount table"))?;
            } else {
                write_mounts(&mut tx, self.universe_id, session, &mounts).await?;
            }
            Ok(true)
        }
        .await;
        finish(tx, deleted, "commit a mount delete").await
    }

    async fn mount_list(&self, session: &SessionId) -> Result<Vec<Mount>, VfsError> {
        let text: Option<String> = sqlx::query_scalar(
            "SELECT mounts::text FROM vfs_mounts WHERE universe_id = $1 AND session_id = $2",
        )
        .bind(self.universe_id)
        .bind(session.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read a mount table"))?;
        match text {
            Some(text) => decode_mounts(session, &text),
            None => Ok(Vec::new()),
        }
    }
}

/// The head of `id`, its row locked until the transaction ends. Under read committed
/// a writer queued on the lock reads the head its predecessor committed.
async fn lock_head(
    conn: &mut PgConnection,
    universe_id: Uuid,
    id: &WorkspaceId,
) -> Result<Option<Workspace>, VfsError> {
    let row: Option<(i64, String)> = sqlx::query_as(
        "SELECT revision, snapshot FROM vfs_workspaces \
         WHERE universe_id = $1 AND workspace_id = $2 FOR UPDATE",
    )
    .bind(universe_id)
    .bind(id.as_str())
    .fetch_optional(conn)
    .await
    .map_err(query_failed("lock a workspace head"))?;
    Ok(row
        .map(|(revision, snapshot)| decode_head(id, revision, &snapshot))
        .transpose()?)
}

async fn write_mounts(
    conn: &mut PgConnection,
    universe_id: Uuid,
    session: &SessionId,
    mounts: &[Mount],
) -> Result<(), VfsError> {
    let json = serde_json::to_string(mounts).map_err(StoreError::permanent)?;
    sqlx::query(
        "UPDATE vfs_mounts SET mounts = $3::jsonb WHERE universe_id = $1 AND session_id = $2",
    )
    .bind(universe_id)
    .bind(session.as_str())
    .bind(json)
    .execute(conn)
    .await
    .map_err(query_failed("write a mount table"))?;
    Ok(())
}

fn decode_head(id: &WorkspaceId, revision: i64, snapshot: &str) -> Result<Workspace, StoreError> {
    let location = format!("vfs_workspaces row {id}");
    let snapshot = BlobRef::parse(snapshot).map_err(|err| StoreError::Corrupt {
        location: location.clone(),
        reason: format!("snapshot: {err}"),
    })?;
    Ok(Workspace {
        id: id.clone(),
        revision: from_bigint(&location, revision)?,
        snapshot,
    })
}

/// A stored mount table. Writers keep it in strictly ascending path order (puts
/// binary-search it), so a row out of order is corrupt, not merely unsorted.
fn decode_mounts(session: &SessionId, text: &str) -> Result<Vec<Mount>, VfsError> {
    let corrupt = |reason: String| StoreError::Corrupt {
        location: format!("vfs_mounts row of session {session}"),
        reason,
    };
    let mounts: Vec<Mount> = serde_json::from_str(text).map_err(|err| corrupt(err.to_string()))?;
    if !mounts.windows(2).all(|pair| pair[0].path < pair[1].path) {
        return Err(corrupt("mounts are not in strictly ascending path order".into()).into());
    }
    Ok(mounts)
}

fn conflict(id: &WorkspaceId, expected: u64, actual: u64) -> VfsError {
    VfsError::Conflict {
        workspace: id.clone(),
        expected,
        actual,
    }
}

fn bigint(what: &'static str, value: u64) -> Result<i64, VfsError> {
    Ok(to_bigint(what, value).map_err(StoreError::from)?)
}
