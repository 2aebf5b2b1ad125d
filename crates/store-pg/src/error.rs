//! The crate's error type, and its mapping into the engine's [`StoreError`].

use engine::store::StoreError;

/// What can go wrong outside the engine traits (connecting, migrating, API keys), and
/// the backend cause inside [`StoreError::Backend`] for trait calls.
#[derive(Debug, thiserror::Error)]
pub enum PgStoreError {
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot connect to Postgres: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("applying migrations failed: {0}")]
    Migrate(#[source] sqlx::migrate::MigrateError),
    #[error("Postgres failed to {what}: {source}")]
    Query {
        what: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error("object store failed to {what} {key}: {source}")]
    ObjectStore {
        what: &'static str,
        key: String,
        /// Whether the request may succeed when retried (timeouts, connection
        /// failures, 5xx and 429 responses).
        retryable: bool,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A value does not fit its column (e.g. a `u64` above `i64::MAX`).
    #[error("{what} is {value}, beyond what Postgres can store")]
    OutOfRange { what: &'static str, value: u64 },
    #[error("an API key with this hash or id already exists")]
    DuplicateKey,
    #[error("corrupt row in {location}: {reason}")]
    Corrupt { location: String, reason: String },
}

impl PgStoreError {
    /// Whether retrying the same operation later may succeed (the database or object
    /// store was unreachable or busy), as opposed to a logic or data error.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Connect(_) => true,
            Self::Query { source, .. } => is_transient(source),
            Self::ObjectStore { retryable, .. } => *retryable,
            Self::Migrate(sqlx::migrate::MigrateError::Execute(source)) => is_transient(source),
            Self::Migrate(_)
            | Self::Config(_)
            | Self::OutOfRange { .. }
            | Self::DuplicateKey
            | Self::Corrupt { .. } => false,
        }
    }
}

/// Trait calls report Postgres failures as [`StoreError::Backend`], keeping whether
/// they are worth retrying.
impl From<PgStoreError> for StoreError {
    fn from(err: PgStoreError) -> Self {
        if err.is_retryable() {
            StoreError::transient(err)
        } else {
            StoreError::permanent(err)
        }
    }
}

fn is_transient(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed
    ) || error
        .as_database_error()
        .and_then(|db| db.code())
        // 40001 serialization failure, 40P01 deadlock, 57P01 admin shutdown,
        // 55P03 lock not available.
        .is_some_and(|code| matches!(&*code, "40001" | "40P01" | "57P01" | "55P03"))
}

/// Whether `error` is a unique-constraint violation (SQLSTATE 23505).
pub(crate) fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|db| db.is_unique_violation())
}

/// Maps a failed query to [`StoreError::Backend`], naming what was being done.
pub(crate) fn query_failed(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::from(PgStoreError::Query { what, source })
}

/// `value` as a Postgres `bigint`, or an error naming `what`.
pub(crate) fn to_bigint(what: &'static str, value: u64) -> Result<i64, PgStoreError> {
    i64::try_from(value).map_err(|_| PgStoreError::OutOfRange { what, value })
}

/// A `bigint` read back as the `u64` it was written from; negative values cannot
/// have been written (the columns have `CHECK (>= 0)`), so they are corruption.
pub(crate) fn from_bigint(location: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        location: location.to_owned(),
        reason: format!("negative value {value}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backend's own classification survives the trip into `StoreError`.
    #[test]
    fn store_errors_keep_the_postgres_classification() {
        let busy = StoreError::from(PgStoreError::Query {
            what: "append",
            source: sqlx::Error::PoolTimedOut,
        });
        assert!(busy.is_retryable());
        let corrupt = StoreError::from(PgStoreError::Corrupt {
            location: "log row 3".into(),
            reason: "bad json".into(),
        });
        assert!(!corrupt.is_retryable());
        let out_of_range = StoreError::from(PgStoreError::OutOfRange {
            what: "seq",
            value: u64::MAX,
        });
        assert!(!out_of_range.is_retryable());
        assert!(!StoreError::from(PgStoreError::DuplicateKey).is_retryable());
    }
}
