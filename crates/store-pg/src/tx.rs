//! The transaction shape every catalog change takes: begin, lock, read, decide,
//! write, then commit on success or roll back at once on a refusal (releasing row
//! locks now rather than when the connection is next used). Generic over the
//! catalog's error type, which carries store failures.

use engine::SessionId;
use engine::store::StoreError;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use crate::error::query_failed;

pub(crate) async fn begin(
    pool: &PgPool,
    what: &'static str,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    pool.begin().await.map_err(query_failed(what))
}

/// Commits if the change succeeded, else rolls back. A failed rollback is only
/// logged: nothing was committed, so the change's own error is still the answer.
pub(crate) async fn finish<T, E: From<StoreError>>(
    tx: Transaction<'static, Postgres>,
    result: Result<T, E>,
    what: &'static str,
) -> Result<T, E> {
    match result {
        Ok(value) => {
            tx.commit().await.map_err(query_failed(what))?;
            Ok(value)
        }
        Err(err) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(error = %rollback, what, "rolling back a catalog change failed");
            }
            Err(err)
        }
    }
}

/// Serialises one kind of change (`kind`, in a catalog's key `space`) in one universe
/// (and session) until the transaction ends. `hashtext` folds them into the lock's
/// second key; a collision only makes two changes wait for each other, never share a
/// count.
pub(crate) async fn advisory_lock(
    conn: &mut PgConnection,
    space: i32,
    kind: i32,
    universe_id: Uuid,
    session: Option<&SessionId>,
    what: &'static str,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text || '/' || $3) # $4)")
        .bind(space)
        .bind(universe_id)
        .bind(session.map_or("", SessionId::as_str))
        .bind(kind)
        .execute(conn)
        .await
        .map_err(query_failed(what))?;
    Ok(())
}
