//! Connecting: the pool, the embedded migrations and universe rows.

use std::str::FromStr as _;
use std::time::Duration;

use sqlx::SqlSafeStr as _;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};
use uuid::Uuid;

use crate::error::PgStoreError;
use crate::{ObjectStore, PgKeyStore, PgStore, PgStoreLimits};

/// The schema migrations, embedded at compile time: `(version, description, sql)`.
/// Append new files here; never edit an applied one (its checksum is recorded).
/// Written out by hand rather than with `sqlx::migrate!`, which needs sqlx's
/// proc-macro crate (the `macros` feature) for this one list.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "vfs catalog",
        include_str!("../migrations/0002_vfs_catalog.sql"),
    ),
    (
        3,
        "quota usage",
        include_str!("../migrations/0003_usage.sql"),
    ),
    (
        4,
        "session activity",
        include_str!("../migrations/0004_activity.sql"),
    ),
    (
        5,
        "auth catalog",
        include_str!("../migrations/0005_auth.sql"),
    ),
    (6, "mcp catalog", include_str!("../migrations/0006_mcp.sql")),
    (
        7,
        "environment catalog",
        include_str!("../migrations/0007_env.sql"),
    ),
    (
        8,
        "memory catalog",
        include_str!("../migrations/0008_memory.sql"),
    ),
    (
        9,
        "schedule catalog",
        include_str!("../migrations/0009_schedules.sql"),
    ),
    (
        10,
        "universe cost",
        include_str!("../migrations/0010_cost.sql"),
    ),
    (
        11,
        "sub-agents",
        include_str!("../migrations/0011_sub_agents.sql"),
    ),
    (
        12,
        "deletion and collection",
        include_str!("../migrations/0012_collection.sql"),
    ),
    (
        13,
        "blob pins",
        include_str!("../migrations/0013_blob_pins.sql"),
    ),
    (
        14,
        "operators",
        include_str!("../migrations/0014_operators.sql"),
    ),
    (
        15,
        "dispatch and intake",
        include_str!("../migrations/0015_dispatch_intake.sql"),
    ),
    (
        16,
        "wake-ups pending",
        include_str!("../migrations/0016_wake_ups_pending.sql"),
    ),
];

/// Migrations are additive, so a binary older than the database (a rolling deploy,
/// another checkout sharing the local stack) still starts: versions it does not know
/// are ignored rather than refused.
fn migrator() -> Migrator {
    let mut migrator = Migrator::with_migrations(
        MIGRATIONS
            .iter()
            .map(|&(version, description, sql)| {
                Migration::new(
                    version,
                    description.into(),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    false,
                )
            })
            .collect(),
    );
    migrator.set_ignore_missing(true);
    migrator
}

/// Key of the session-level advisory lock held while migrating, so concurrent
/// starters apply migrations one at a time (sqlx takes its own lock too; this one
/// also covers creating the schema). The value is arbitrary but fixed: "lsmigrat".
const MIGRATION_LOCK_KEY: i64 = 0x6c73_6d69_6772_6174;

/// How to reach Postgres.
#[derive(Clone, PartialEq, Eq)]
pub struct PgConfig {
    /// `postgres://user:password@host:port/database`.
    pub url: String,
    /// Schema to create (if missing) and use instead of `public`: tests use a fresh
    /// one; deployments leave it `None`. ASCII lowercase letters, digits and `_`.
    pub schema: Option<String>,
    /// Pool size. Default 10.
    pub pool_connections_max: u32,
    /// How long an operation waits for a pooled connection. Default 10 s.
    pub acquire_timeout_ms: u64,
    /// How long a starter waits for another one's migrations (the advisory lock).
    /// Default 120 s.
    pub migration_lock_timeout_ms: u64,
}

impl PgConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: None,
            pool_connections_max: 10,
            acquire_timeout_ms: 10_000,
            migration_lock_timeout_ms: 120_000,
        }
    }
}

impl std::fmt::Debug for PgConfig {
    // The URL carries the password; show everything else.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &"<redacted>")
            .field("schema", &self.schema)
            .field("pool_connections_max", &self.pool_connections_max)
            .field("acquire_timeout_ms", &self.acquire_timeout_ms)
            .field("migration_lock_timeout_ms", &self.migration_lock_timeout_ms)
            .finish()
    }
}

/// A migrated database: the connection pool every store of this crate shares.
#[derive(Debug, Clone)]
pub struct PgDatabase {
    pool: PgPool,
}

impl PgDatabase {
    /// Applies the embedded migrations (idempotent; safe when several processes start
    /// at once), then opens the pool.
    pub async fn connect(config: &PgConfig) -> Result<Self, PgStoreError> {
        let options = connect_options(config)?;
        migrate(&options, config).await?;
        let pool = PgPoolOptions::new()
            .max_connections(config.pool_connections_max)
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
            .connect_with(options)
            .await
            .map_err(PgStoreError::Connect)?;
        Ok(Self { pool })
    }

    /// The pool, for queries this crate does not wrap (tests, admin tools).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Records `universe_id` (idempotent). Rows of a universe need this row first.
    pub async fn ensure_universe(&self, universe_id: Uuid) -> Result<(), PgStoreError> {
        sqlx::query("INSERT INTO universes (universe_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(universe_id)
            .execute(&self.pool)
            .await
            .map_err(|source| PgStoreError::Query {
                what: "record the universe",
                source,
            })?;
        Ok(())
    }

    /// The store of one universe (recorded first). Without an object store, blobs
    /// over the inline limit are refused.
    pub async fn store(
        &self,
        universe_id: Uuid,
        object_store: Option<ObjectStore>,
    ) -> Result<PgStore, PgStoreError> {
        self.ensure_universe(universe_id).await?;
        Ok(PgStore {
            pool: self.pool.clone(),
            universe_id,
            object_store,
            limits: PgStoreLimits::default(),
        })
    }

    /// The API-key table.
    pub fn key_store(&self) -> PgKeyStore {
        PgKeyStore::new(self.pool.clone())
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn connect_options(config: &PgConfig) -> Result<PgConnectOptions, PgStoreError> {
    let options = PgConnectOptions::from_str(&config.url)
        .map_err(|err| PgStoreError::Config(format!("invalid Postgres URL: {err}")))?;
    Ok(match &config.schema {
        Some(schema) => {
            check_schema_name(schema)?;
            options.options([("search_path", schema.as_str())])
        }
        None => options,
    })
}

fn check_schema_name(schema: &str) -> Result<(), PgStoreError> {
    check_identifier("schema", schema)
}

/// Checks a name spliced unquoted into SQL (a schema, a notification channel): 1-63
/// lowercase ASCII letters, digits or `_`, not starting with a digit.
pub(crate) fn check_identifier(what: &str, name: &str) -> Result<(), PgStoreError> {
    let valid = (1..=63).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(PgStoreError::Config(format!(
            "{what} {name:?} must be 1-63 lowercase ASCII letters, digits or `_`, not starting with a digit"
        )))
    }
}

/// Applies the migrations on a dedicated connection that is closed afterwards, so the
/// session-level advisory locks can never leak into the pool, even on error.
async fn migrate(options: &PgConnectOptions, config: &PgConfig) -> Result<(), PgStoreError> {
    let lock_timeout = format!("{}ms", config.migration_lock_timeout_ms);
    let options = options
        .clone()
        .options([("lock_timeout", lock_timeout.as_str())]);
    let mut conn = PgConnection::connect_with(&options)
        .await
        .map_err(PgStoreError::Connect)?;
    let result = migrate_locked(&mut conn, config.schema.as_deref()).await;
    // Closing ends the session, which releases the advisory locks whatever happened.
    let closed = conn.close().await;
    result?;
    closed.map_err(|source| PgStoreError::Query {
        what: "close the migration connection",
        source,
    })
}

async fn migrate_locked(conn: &mut PgConnection, schema: Option<&str>) -> Result<(), PgStoreError> {
    let failed = |what| move |source| PgStoreError::Query { what, source };
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(&mut *conn)
        .await
        .map_err(failed("take the migration lock"))?;
    if let Some(schema) = schema {
        // The name was checked by `check_schema_name`, so quoting is not needed.
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema}"
        )))
        .execute(&mut *conn)
        .await
        .map_err(failed("create the schema"))?;
    }
    migrator()
        .run(&mut *conn)
        .await
        .map_err(PgStoreError::Migrate)?;
    tracing::debug!(migrations = MIGRATIONS.len(), "Postgres schema is current");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        for good in ["public", "t_1", "lightspeed_test_abc"] {
            assert!(check_schema_name(good).is_ok(), "{good}");
        }
        for bad in ["", "1abc", "Upper", "a-b", "a;drop", &"a".repeat(64)] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_the_url() {
        let config = PgConfig::new("postgres://u:secret@h/db");
        assert!(!format!("{config:?}").contains("secret"));
    }
}
