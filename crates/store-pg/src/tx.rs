//! The transaction frame of the catalogs' read-decide-write changes (VFS, auth).

use engine::store::StoreError;
use sqlx::{PgPool, Postgres, Transaction};

use crate::error::query_failed;

pub(crate) async fn begin(
    pool: &PgPool,
    what: &'static str,
) -> Result<Transaction<'static, Postgres>, StoreError> {
    pool.begin().await.map_err(query_failed(what))
}

/// Commits if the change succeeded, else rolls back at once (releasing the row lock
/// now rather than when the connection is next used). A failed rollback is only
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
