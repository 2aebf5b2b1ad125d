//! The gateway's keys and audit log over Postgres (`api_keys`, `operator_keys`,
//! `operator_audit`): store-pg keeps plain rows (it does not know the gateway), this
//! adapts them to [`gateway::KeyStore`].

use gateway::{AuditEntry, KeyRecord, KeyStore, KeyStoreError, UniverseRecord};
use store_pg::{ApiKeyRow, AuditRow, PgKeyStore, PgStoreError, UniverseRow};
use uuid::Uuid;

pub struct PgKeys(pub PgKeyStore);

fn backend(err: PgStoreError) -> KeyStoreError {
    match err {
        PgStoreError::DuplicateKey => KeyStoreError::Duplicate,
        other => KeyStoreError::Backend(Box::new(other)),
    }
}

/// Universes are UUID columns in Postgres; say so instead of a query error.
fn universe_uuid(universe_id: &str) -> Result<Uuid, KeyStoreError> {
    Uuid::parse_str(universe_id).map_err(|err| {
        KeyStoreError::Backend(
            format!(
                "universe {universe_id:?} is not a UUID, which the Postgres store needs: {err}"
            )
            .into(),
        )
    })
}

fn record(row: ApiKeyRow) -> KeyRecord {
    KeyRecord {
        key_id: row.key_id,
        operator: row.universe_id.is_none(),
        universe_id: row.universe_id.map(|id| id.to_string()).unwrap_or_default(),
        key_hash: row.key_hash,
        created_at_ms: row.created_at_ms,
        name: row.name,
        revoked_at_ms: row.revoked_at_ms,
    }
}

impl KeyStore for PgKeys {
    async fn find(&self, key_hash: &str) -> Result<Option<KeyRecord>, KeyStoreError> {
        let row = self.0.find_by_hash(key_hash).await.map_err(backend)?;
        Ok(row.map(record))
    }

    async fn insert(&self, record: KeyRecord) -> Result<(), KeyStoreError> {
        let universe_id = if record.operator {
            None
        } else {
            Some(universe_uuid(&record.universe_id)?)
        };
        let row = ApiKeyRow {
            key_id: record.key_id,
            universe_id,
            key_hash: record.key_hash,
            name: record.name,
            created_at_ms: record.created_at_ms,
            revoked_at_ms: record.revoked_at_ms,
        };
        self.0.insert(&row).await.map_err(backend)
    }

    async fn list(
        &self,
        universe_id: Option<&str>,
        include_revoked: bool,
    ) -> Result<Vec<KeyRecord>, KeyStoreError> {
        let universe = universe_id.map(universe_uuid).transpose()?;
        let rows = self
            .0
            .list(universe, include_revoked)
            .await
            .map_err(backend)?;
        Ok(rows.into_iter().map(record).collect())
    }

    async fn revoke(&self, key_id: &str, at_ms: u64) -> Result<Option<KeyRecord>, KeyStoreError> {
        let row = self.0.revoke(key_id, at_ms).await.map_err(backend)?;
        Ok(row.map(record))
    }

    async fn append_audit(&self, entry: AuditEntry) -> Result<u64, KeyStoreError> {
        let row = AuditRow {
            seq: entry.seq,
            at_ms: entry.at_ms,
            key_id: entry.key_id,
            method: entry.method,
            target: entry.target,
            code: entry.code,
        };
        self.0.append_audit(&row).await.map_err(backend)
    }

    async fn list_audit(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, KeyStoreError> {
        let rows = self.0.list_audit(before, limit).await.map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|row| AuditEntry {
                seq: row.seq,
                at_ms: row.at_ms,
                key_id: row.key_id,
                method: row.method,
                target: row.target,
                code: row.code,
            })
            .collect())
    }

    async fn create_universe(&self, record: UniverseRecord) -> Result<(), KeyStoreError> {
        let universe = universe_uuid(&record.universe_id)?;
        let at_ms = record.created_at_ms.unwrap_or_default();
        match self
            .0
            .create_universe(universe, &record.name, at_ms)
            .await
            .map_err(backend)?
        {
            Some(_) => Ok(()),
            None => Err(KeyStoreError::Duplicate),
        }
    }

    async fn list_universes(&self) -> Result<Vec<UniverseRecord>, KeyStoreError> {
        let rows = self.0.list_universes().await.map_err(backend)?;
        Ok(rows
            .into_iter()
            .map(|row: UniverseRow| UniverseRecord {
                universe_id: row.universe_id.to_string(),
                name: row.name,
                created_at_ms: row.created_at_ms,
                deleted_at_ms: row.deleted_at_ms,
            })
            .collect())
    }

    async fn delete_universe(&self, universe_id: &str, at_ms: u64) -> Result<(), KeyStoreError> {
        let universe = universe_uuid(universe_id)?;
        self.0
            .delete_universe(universe, at_ms)
            .await
            .map_err(backend)
    }
}
