//! The gateway's API keys (`api_keys`, and `operator_keys` for keys of no universe)
//! and the operators' audit log (`operator_audit`), as plain rows. The host adapts
//! [`PgKeyStore`] to the gateway's `KeyStore` trait; this crate does not know it.

use sqlx::PgPool;
use sqlx::postgres::PgRow;
use uuid::Uuid;

use crate::error::{PgStoreError, is_unique_violation, to_bigint};

/// What is stored about a key: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// Public id of the key, safe to log.
    pub key_id: String,
    /// The universe every request with this key acts in; `None` for an operator key.
    pub universe_id: Option<Uuid>,
    /// Lowercase hex SHA-256 of the plaintext key (64 digits).
    pub key_hash: String,
    pub name: String,
    pub created_at_ms: u64,
    pub revoked_at_ms: Option<u64>,
}

/// One audited operator call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Assigned by the store on append (ignored there).
    pub seq: u64,
    pub at_ms: u64,
    pub key_id: String,
    pub method: String,
    pub target: String,
    pub code: i32,
}

/// A universe the operator created or deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UniverseRow {
    pub universe_id: Uuid,
    pub name: String,
    pub created_at_ms: Option<u64>,
    pub deleted_at_ms: Option<u64>,
}

type UniverseTuple = (Uuid, String, Option<i64>, Option<i64>);

fn universe_row(
    (universe_id, name, created, deleted): UniverseTuple,
) -> Result<UniverseRow, PgStoreError> {
    let location = format!("universe {universe_id}");
    Ok(UniverseRow {
        universe_id,
        name,
        created_at_ms: created
            .map(|at| non_negative(&location, "operator_created_at_ms", at))
            .transpose()?,
        deleted_at_ms: deleted
            .map(|at| non_negative(&location, "deleted_at_ms", at))
            .transpose()?,
    })
}

/// API-key rows across all universes (a key is what names the universe).
#[derive(Debug, Clone)]
pub struct PgKeyStore {
    pool: PgPool,
}

/// Both key tables as one relation (an operator key has a NULL universe); a macro so
/// queries stay static strings (`concat!`).
macro_rules! keys_relation {
    () => {
        "(SELECT key_id, universe_id, key_hash, name, created_at_ms, revoked_at_ms \
          FROM api_keys \
          UNION ALL \
          SELECT key_id, NULL::uuid, key_hash, name, created_at_ms, revoked_at_ms \
          FROM operator_keys) AS keys"
    };
}

/// Revoking in each table (the first time stays).
const REVOKE_UNIVERSE_KEY: &str = "UPDATE api_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $2) \
     WHERE key_id = $1 \
     RETURNING key_id, universe_id, key_hash, name, created_at_ms, revoked_at_ms";
const REVOKE_OPERATOR_KEY: &str = "UPDATE operator_keys SET revoked_at_ms = COALESCE(revoked_at_ms, $2) \
     WHERE key_id = $1 \
     RETURNING key_id, NULL::uuid AS universe_id, key_hash, name, created_at_ms, revoked_at_ms";

fn non_negative(location: &str, field: &str, value: i64) -> Result<u64, PgStoreError> {
    u64::try_from(value).map_err(|_| PgStoreError::Corrupt {
        location: location.to_owned(),
        reason: format!("negative {field} {value}"),
    })
}

fn key_row(row: &PgRow) -> Result<ApiKeyRow, PgStoreError> {
    use sqlx::Row as _;
    let read = |source| PgStoreError::Query {
        what: "read an API key row",
        source,
    };
    let key_id: String = row.try_get("key_id").map_err(read)?;
    let location = format!("api key {key_id}");
    let created_at_ms: i64 = row.try_get("created_at_ms").map_err(read)?;
    let revoked_at_ms: Option<i64> = row.try_get("revoked_at_ms").map_err(read)?;
    Ok(ApiKeyRow {
        universe_id: row.try_get("universe_id").map_err(read)?,
        key_hash: row.try_get("key_hash").map_err(read)?,
        name: row.try_get("name").map_err(read)?,
        created_at_ms: non_negative(&location, "created_at_ms", created_at_ms)?,
        revoked_at_ms: revoked_at_ms
            .map(|at| non_negative(&location, "revoked_at_ms", at))
            .transpose()?,
        key_id,
    })
}

impl PgKeyStore {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The key whose hash is `key_hash`, if any (revoked ones too: the caller says
    /// why it refuses).
    pub async fn find_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>, PgStoreError> {
        let row = sqlx::query(concat!(
            "SELECT * FROM ",
            keys_relation!(),
            " WHERE key_hash = $1"
        ))
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "look up an API key",
            source,
        })?;
        row.as_ref().map(key_row).transpose()
    }

    /// Stores `row` (an operator key when it names no universe), recording its
    /// universe if new. A second key with the same hash or id is
    /// [`PgStoreError::DuplicateKey`].
    pub async fn insert(&self, row: &ApiKeyRow) -> Result<(), PgStoreError> {
        let created_at_ms = to_bigint("created_at_ms", row.created_at_ms)?;
        let query = match row.universe_id {
            Some(universe_id) => sqlx::query(
                "WITH universe AS ( \
                   INSERT INTO universes (universe_id) VALUES ($5) ON CONFLICT DO NOTHING) \
                 INSERT INTO api_keys (key_id, key_hash, name, created_at_ms, universe_id) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&row.key_id)
            .bind(&row.key_hash)
            .bind(&row.name)
            .bind(created_at_ms)
            .bind(universe_id),
            None => sqlx::query(
                "INSERT INTO operator_keys (key_id, key_hash, name, created_at_ms) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(&row.key_id)
            .bind(&row.key_hash)
            .bind(&row.name)
            .bind(created_at_ms),
        };
        match query.execute(&self.pool).await {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(PgStoreError::DuplicateKey),
            Err(source) => Err(PgStoreError::Query {
                what: "store an API key",
                source,
            }),
        }
    }

    /// Keys, newest first: `universe`'s, or all (operator keys included).
    pub async fn list(
        &self,
        universe: Option<Uuid>,
        include_revoked: bool,
    ) -> Result<Vec<ApiKeyRow>, PgStoreError> {
        let rows = sqlx::query(concat!(
            "SELECT * FROM ",
            keys_relation!(),
            " WHERE ($1::uuid IS NULL OR universe_id = $1) AND ($2 OR revoked_at_ms IS NULL) \
             ORDER BY created_at_ms DESC, key_id"
        ))
        .bind(universe)
        .bind(include_revoked)
        .fetch_all(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "list API keys",
            source,
        })?;
        rows.iter().map(key_row).collect()
    }

    /// Marks key `key_id` revoked at `at_ms` (a revoked key keeps its first time);
    /// the row as it is now, `None` when no key has that id.
    pub async fn revoke(
        &self,
        key_id: &str,
        at_ms: u64,
    ) -> Result<Option<ApiKeyRow>, PgStoreError> {
        let at_ms = to_bigint("revoked_at_ms", at_ms)?;
        for query in [REVOKE_UNIVERSE_KEY, REVOKE_OPERATOR_KEY] {
            let row = sqlx::query(query)
                .bind(key_id)
                .bind(at_ms)
                .fetch_optional(&self.pool)
                .await
                .map_err(|source| PgStoreError::Query {
                    what: "revoke an API key",
                    source,
                })?;
            if let Some(row) = row {
                return key_row(&row).map(Some);
            }
        }
        Ok(None)
    }

    /// Appends an audit entry; its sequence number.
    pub async fn append_audit(&self, entry: &AuditRow) -> Result<u64, PgStoreError> {
        let seq: i64 = sqlx::query_scalar(
            "INSERT INTO operator_audit (at_ms, key_id, method, target, code) \
             VALUES ($1, $2, $3, $4, $5) RETURNING seq",
        )
        .bind(to_bigint("at_ms", entry.at_ms)?)
        .bind(&entry.key_id)
        .bind(&entry.method)
        .bind(&entry.target)
        .bind(entry.code)
        .fetch_one(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "append to the operator audit log",
            source,
        })?;
        non_negative("operator_audit", "seq", seq)
    }

    /// Audit entries older than `before` (all when `None`), newest first, at most
    /// `limit`.
    pub async fn list_audit(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditRow>, PgStoreError> {
        let before = before.map(|seq| to_bigint("before", seq)).transpose()?;
        let rows: Vec<(i64, i64, String, String, String, i32)> = sqlx::query_as(
            "SELECT seq, at_ms, key_id, method, target, code FROM operator_audit \
             WHERE ($1::bigint IS NULL OR seq < $1) ORDER BY seq DESC LIMIT $2",
        )
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "read the operator audit log",
            source,
        })?;
        rows.into_iter()
            .map(|(seq, at_ms, key_id, method, target, code)| {
                Ok(AuditRow {
                    seq: non_negative("operator_audit", "seq", seq)?,
                    at_ms: non_negative("operator_audit", "at_ms", at_ms)?,
                    key_id,
                    method,
                    target,
                    code,
                })
            })
            .collect()
    }

    /// Creates universe `universe_id` (again, when it was deleted); `None` when it
    /// exists already.
    pub async fn create_universe(
        &self,
        universe_id: Uuid,
        name: &str,
        at_ms: u64,
    ) -> Result<Option<UniverseRow>, PgStoreError> {
        let row: Option<UniverseTuple> = sqlx::query_as(
            "INSERT INTO universes (universe_id, name, operator_created_at_ms) VALUES ($1, $2, $3) \
             ON CONFLICT (universe_id) DO UPDATE \
             SET name = EXCLUDED.name, \
                 operator_created_at_ms = EXCLUDED.operator_created_at_ms, deleted_at_ms = NULL \
             WHERE universes.operator_created_at_ms IS NULL \
                OR universes.deleted_at_ms IS NOT NULL \
             RETURNING universe_id, name, operator_created_at_ms, deleted_at_ms",
        )
        .bind(universe_id)
        .bind(name)
        .bind(to_bigint("at_ms", at_ms)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "create a universe",
            source,
        })?;
        row.map(universe_row).transpose()
    }

    /// The universes the operator created or deleted, in id order.
    pub async fn list_universes(&self) -> Result<Vec<UniverseRow>, PgStoreError> {
        let rows: Vec<UniverseTuple> = sqlx::query_as(
            "SELECT universe_id, name, operator_created_at_ms, deleted_at_ms FROM universes \
             WHERE operator_created_at_ms IS NOT NULL OR deleted_at_ms IS NOT NULL \
             ORDER BY universe_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "list universes",
            source,
        })?;
        rows.into_iter().map(universe_row).collect()
    }

    /// Marks universe `universe_id` deleted at `at_ms` (the first time stays).
    pub async fn delete_universe(&self, universe_id: Uuid, at_ms: u64) -> Result<(), PgStoreError> {
        sqlx::query(
            "INSERT INTO universes (universe_id, deleted_at_ms) VALUES ($1, $2) \
             ON CONFLICT (universe_id) DO UPDATE \
             SET deleted_at_ms = COALESCE(universes.deleted_at_ms, EXCLUDED.deleted_at_ms)",
        )
        .bind(universe_id)
        .bind(to_bigint("at_ms", at_ms)?)
        .execute(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "delete a universe",
            source,
        })?;
        Ok(())
    }
}
