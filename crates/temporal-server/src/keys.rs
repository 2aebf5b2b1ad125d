//! The gateway's key lookups over the Postgres `api_keys` table: store-pg keeps plain
//! rows (it does not know the gateway), this adapts them to [`gateway::KeyStore`].

use gateway::{KeyRecord, KeyStore, KeyStoreError};
use store_pg::{ApiKeyRow, PgKeyStore, PgStoreError};
use uuid::Uuid;

pub struct PgKeys(pub PgKeyStore);

fn backend(err: PgStoreError) -> KeyStoreError {
    match err {
        PgStoreError::DuplicateKey => KeyStoreError::Duplicate,
        other => KeyStoreError::Backend(Box::new(other)),
    }
}

impl KeyStore for PgKeys {
    async fn find(&self, key_hash: &str) -> Result<Option<KeyRecord>, KeyStoreError> {
        let row = self.0.find_by_hash(key_hash).await.map_err(backend)?;
        Ok(row.map(|row| KeyRecord {
            key_id: row.key_id,
            universe_id: row.universe_id.to_string(),
            key_hash: row.key_hash,
            created_at_ms: row.created_at_ms,
        }))
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), KeyStoreError> {
        // Universes are UUID columns in Postgres; say so instead of a query error.
        let universe_id = Uuid::parse_str(&record.universe_id).map_err(|err| {
            KeyStoreError::Backend(
                format!(
                    "universe {:?} is not a UUID, which the Postgres store needs: {err}",
                    record.universe_id
                )
                .into(),
            )
        })?;
        let row = ApiKeyRow {
            key_id: record.key_id,
            universe_id,
            key_hash: record.key_hash,
            created_at_ms: record.created_at_ms,
        };
        self.0.insert(&row).await.map_err(backend)
    }
}
