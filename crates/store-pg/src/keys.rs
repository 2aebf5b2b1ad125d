//! The gateway's API keys (`api_keys`), as plain rows. The host adapts
//! [`PgKeyStore`] to the gateway's `KeyStore` trait; this crate does not know it.

use sqlx::PgPool;
use uuid::Uuid;

use crate::error::{PgStoreError, is_unique_violation, to_bigint};

/// What is stored about a key: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRow {
    /// Public id of the key, safe to log.
    pub key_id: String,
    /// The universe every request with this key acts in.
    pub universe_id: Uuid,
    /// Lowercase hex SHA-256 of the plaintext key (64 digits).
    pub key_hash: String,
    pub created_at_ms: u64,
}

/// API-key rows across all universes (a key is what names the universe).
#[derive(Debug, Clone)]
pub struct PgKeyStore {
    pool: PgPool,
}

impl PgKeyStore {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The key whose hash is `key_hash`, if any.
    pub async fn find_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRow>, PgStoreError> {
        let row: Option<(String, Uuid, String, i64)> = sqlx::query_as(
            "SELECT key_id, universe_id, key_hash, created_at_ms FROM api_keys \
             WHERE key_hash = $1",
        )
        .bind(key_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(|source| PgStoreError::Query {
            what: "look up an API key",
            source,
        })?;
        row.map(|(key_id, universe_id, key_hash, created_at_ms)| {
            let created_at_ms =
                u64::try_from(created_at_ms).map_err(|_| PgStoreError::Corrupt {
                    location: format!("api_keys row {key_id}"),
                    reason: format!("negative created_at_ms {created_at_ms}"),
                })?;
            Ok(ApiKeyRow {
                key_id,
                universe_id,
                key_hash,
                created_at_ms,
            })
        })
        .transpose()
    }

    /// Stores `row`, recording its universe if new. A second key with the same hash
    /// or id is [`PgStoreError::DuplicateKey`].
    pub async fn insert(&self, row: &ApiKeyRow) -> Result<(), PgStoreError> {
        let created_at_ms = to_bigint("created_at_ms", row.created_at_ms)?;
        let result = sqlx::query(
            "WITH universe AS ( \
               INSERT INTO universes (universe_id) VALUES ($2) ON CONFLICT DO NOTHING) \
             INSERT INTO api_keys (key_id, universe_id, key_hash, created_at_ms) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(&row.key_id)
        .bind(row.universe_id)
        .bind(&row.key_hash)
        .bind(created_at_ms)
        .execute(&self.pool)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) if is_unique_violation(&err) => Err(PgStoreError::DuplicateKey),
            Err(source) => Err(PgStoreError::Query {
                what: "store an API key",
                source,
            }),
        }
    }
}
