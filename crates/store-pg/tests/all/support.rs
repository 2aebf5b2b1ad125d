//! Service discovery from the environment, fresh universes and schemas, entries.

use std::time::{SystemTime, UNIX_EPOCH};

use engine::SessionId;
use engine::log::{EventEnvelope, Joins, LogEntry, Seq};
use serde_json::json;
use store_pg::{ObjectStore, ObjectStoreConfig, PgConfig, PgDatabase, PgStore};
use uuid::Uuid;

/// The services the tests reach, from the variables `local/env.sh` exports.
pub(crate) struct Services {
    pub(crate) postgres_url: String,
    pub(crate) object_store: Option<ObjectStoreConfig>,
}

impl Services {
    /// The configured services. A missing Postgres URL skips the test (returns
    /// `None` after a note) or, under `CI=true`, fails it.
    pub(crate) fn from_env(test: &str) -> Option<Self> {
        install_crypto_provider();
        let Some(postgres_url) = var("LIGHTSPEED_POSTGRES_URL") else {
            missing(test, "LIGHTSPEED_POSTGRES_URL");
            return None;
        };
        let object_store = var("LIGHTSPEED_OBJECT_STORE_BUCKET").map(|bucket| {
            let region = var("LIGHTSPEED_OBJECT_STORE_REGION").unwrap_or("us-east-1".into());
            let mut config = ObjectStoreConfig::new(bucket, region);
            config.endpoint_url = var("LIGHTSPEED_OBJECT_STORE_ENDPOINT");
            config.access_key_id = var("LIGHTSPEED_OBJECT_STORE_ACCESS_KEY");
            config.secret_access_key = var("LIGHTSPEED_OBJECT_STORE_SECRET_KEY");
            config
        });
        Some(Self {
            postgres_url,
            object_store,
        })
    }

    /// Like [`Self::from_env`], but the object store is required too.
    pub(crate) fn with_object_store(test: &str) -> Option<(Self, ObjectStoreConfig)> {
        let services = Self::from_env(test)?;
        let Some(config) = services.object_store.clone() else {
            missing(test, "LIGHTSPEED_OBJECT_STORE_BUCKET");
            return None;
        };
        Some((services, config))
    }

    pub(crate) fn pg_config(&self) -> PgConfig {
        PgConfig::new(&self.postgres_url)
    }

    pub(crate) async fn database(&self) -> PgDatabase {
        PgDatabase::connect(&self.pg_config())
            .await
            .expect("connect to Postgres (is local/up.sh running?)")
    }

    /// A database on a fresh schema of its own (created and migrated on connect);
    /// [`drop_schema`] removes it.
    pub(crate) async fn schema_database(&self, tag: &str) -> (PgDatabase, String) {
        let schema = fresh_schema(tag);
        let config = PgConfig {
            schema: Some(schema.clone()),
            ..self.pg_config()
        };
        let db = PgDatabase::connect(&config)
            .await
            .expect("connect to Postgres (is local/up.sh running?)");
        (db, schema)
    }

    /// A store in a fresh universe, without an object store.
    pub(crate) async fn store(&self) -> (PgDatabase, PgStore) {
        let db = self.database().await;
        let store = db.store(Uuid::new_v4(), None).await.unwrap();
        (db, store)
    }
}

/// A store in a fresh universe with the object store (its bucket created if needed).
pub(crate) async fn store_with_s3(services: &Services, config: &ObjectStoreConfig) -> PgStore {
    let object_store = ObjectStore::connect(config).await.unwrap();
    object_store
        .ensure_bucket()
        .await
        .expect("reach the object store (is local/up.sh running?)");
    let db = services.database().await;
    db.store(Uuid::new_v4(), Some(object_store)).await.unwrap()
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn missing(test: &str, variable: &str) {
    if var("CI").is_some_and(|ci| ci == "true" || ci == "1") {
        panic!(
            "{test}: {variable} is not set, and CI=true forbids skipping service tests; \
             run the tests through local/test.sh (or source local/env.sh after local/up.sh)"
        );
    }
    eprintln!("skipping {test}: {variable} is not set (run local/up.sh, then source local/env.sh)");
}

/// The AWS SDK's HTTPS client needs one rustls provider; both are linked.
fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

/// Drops a schema made by [`Services::schema_database`], closing `db` first.
pub(crate) async fn drop_schema(db: PgDatabase, schema: &str) {
    let pool = db.pool().clone();
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
        .execute(&pool)
        .await
        .unwrap();
    db.close().await;
}

/// A schema name no other run uses.
pub(crate) fn fresh_schema(tag: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("store_pg_test_{tag}_{}_{nanos}", std::process::id())
}

/// A database in a schema of its own (two connections), for a test that takes a
/// migration back with [`migrate_again`].
pub(crate) async fn migration_database(services: &Services, tag: &str) -> (PgConfig, PgDatabase) {
    let config = PgConfig {
        schema: Some(fresh_schema(tag)),
        pool_connections_max: 2,
        ..services.pg_config()
    };
    let db = PgDatabase::connect(&config).await.unwrap();
    (config, db)
}

/// Takes migration `version` back with `undo` (data kept), then connects again, so
/// the migration runs over what was written before it.
pub(crate) async fn migrate_again(
    db: PgDatabase,
    config: &PgConfig,
    version: i64,
    undo: &[&'static str],
) -> PgDatabase {
    for &statement in undo {
        sqlx::query(statement).execute(db.pool()).await.unwrap();
    }
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
        .bind(version)
        .execute(db.pool())
        .await
        .unwrap();
    db.close().await;
    PgDatabase::connect(config).await.unwrap()
}

/// An entry of event `kind` with an empty payload: what counts by kind read.
pub(crate) fn kind_entry(kind: &str, seq: Seq) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: seq,
        joins: Joins::default(),
        event: EventEnvelope {
            kind: kind.into(),
            version: 1,
            payload: json!({}),
        },
    }
}

pub(crate) fn fresh_session(tag: &str) -> SessionId {
    SessionId::new(format!("{tag}-{}", Uuid::new_v4().simple())).unwrap()
}

pub(crate) fn entry(seq: Seq, note: &str) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: 1_700_000_000_000 + seq,
        joins: Joins::default(),
        event: EventEnvelope {
            kind: "store_pg.test".into(),
            version: 1,
            payload: json!({ "note": note, "seq": seq }),
        },
    }
}

pub(crate) fn entries(seqs: std::ops::RangeInclusive<Seq>, note: &str) -> Vec<LogEntry> {
    seqs.map(|seq| entry(seq, note)).collect()
}
