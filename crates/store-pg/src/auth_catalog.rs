//! The auth catalog in Postgres: `auth_secrets`, `auth_grants`, `auth_flows`
//! (`migrations/0005_auth.sql`), every query keyed by this store's universe.
//!
//! Sealed parts are bytea (`Sealed::to_bytes`), descriptions jsonb. Updates are one
//! transaction that locks the row, compares the revision and writes, as the VFS
//! catalog's heads; creates that count against a bound first take an advisory
//! transaction lock on (kind, universe), so concurrent creates cannot both pass it.

use auth_registry::memory::check_revision;
use auth_registry::records::{FlowSpec, GrantSealed};
use auth_registry::{
    AuthCatalog, CatalogError, Flow, FlowId, FlowStatus, Grant, GrantId, GrantKind, GrantName,
    GrantStatus, Sealed, SecretMeta, SecretName, SecretPurpose, StoredSecret,
};
use engine::store::StoreError;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PgStore;
use crate::error::{from_bigint, query_failed, to_bigint};
use crate::tx::{begin, finish};

/// First key of the advisory locks (ASCII "auth"); the second is the kind.
const LOCK_SPACE: i32 = 0x6175_7468;
const LOCK_SECRETS: i32 = 1;
const LOCK_GRANTS: i32 = 2;
const LOCK_FLOWS: i32 = 3;

type SecretRow = (String, String, String, Vec<u8>, i64, i64);
type GrantRow = (
    String,
    String,
    String,
    i64,
    String,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    i64,
    i64,
);
type FlowRow = (
    String,
    i64,
    String,
    Option<String>,
    String,
    Vec<u8>,
    Option<Vec<u8>>,
    i64,
    i64,
);

const GRANT_COLUMNS: &str = "grant_id, name, status, revision, kind::text, access_token, \
     refresh_token, client_secret, created_at_ms, updated_at_ms";
const FLOW_COLUMNS: &str = "flow_id, revision, status::text, grant_id, spec::text, verifier, \
     client_secret, created_at_ms, expires_at_ms";

fn corrupt(location: String, reason: impl std::fmt::Display) -> CatalogError {
    StoreError::Corrupt {
        location,
        reason: reason.to_string(),
    }
    .into()
}

fn bigint(what: &'static str, value: u64) -> Result<i64, CatalogError> {
    Ok(to_bigint(what, value).map_err(StoreError::from)?)
}

/// A description encoded for a jsonb column.
fn json(encoded: serde_json::Result<String>) -> Result<String, CatalogError> {
    Ok(encoded.map_err(StoreError::permanent)?)
}

fn sealed(location: &str, bytes: Option<Vec<u8>>) -> Result<Option<Sealed>, CatalogError> {
    bytes
        .map(|b| Sealed::from_bytes(&b).map_err(|err| corrupt(location.to_owned(), err)))
        .transpose()
}

fn decode_secret(row: SecretRow) -> Result<StoredSecret, CatalogError> {
    let (name, purpose, key_id, value, created, updated) = row;
    let location = format!("auth_secrets row {name}");
    Ok(StoredSecret {
        meta: SecretMeta {
            name: SecretName::new(name).map_err(|err| corrupt(location.clone(), err))?,
            purpose: SecretPurpose::parse(&purpose)
                .ok_or_else(|| corrupt(location.clone(), "unknown purpose"))?,
            created_at_ms: from_bigint(&location, created)?,
            updated_at_ms: from_bigint(&location, updated)?,
            key_id,
        },
        value: Sealed::from_bytes(&value).map_err(|err| corrupt(location.clone(), err))?,
    })
}

fn decode_grant(row: GrantRow) -> Result<Grant, CatalogError> {
    let (id, name, status, revision, kind, access, refresh, client_secret, created, updated) = row;
    let location = format!("auth_grants row {id}");
    let bad = |err: &dyn std::fmt::Display| corrupt(location.clone(), err);
    Ok(Grant {
        id: GrantId::new(id.as_str()).map_err(|e| bad(&e))?,
        name: GrantName::new(name).map_err(|e| bad(&e))?,
        status: GrantStatus::parse(&status).ok_or_else(|| bad(&"unknown status"))?,
        revision: from_bigint(&location, revision)?,
        created_at_ms: from_bigint(&location, created)?,
        updated_at_ms: from_bigint(&location, updated)?,
        kind: serde_json::from_str::<GrantKind>(&kind).map_err(|e| bad(&e))?,
        sealed: GrantSealed {
            access_token: sealed(&location, access)?,
            refresh_token: sealed(&location, refresh)?,
            client_secret: sealed(&location, client_secret)?,
        },
    })
}

fn decode_flow(row: FlowRow) -> Result<Flow, CatalogError> {
    let (id, revision, status, grant_id, spec, verifier, client_secret, created, expires) = row;
    let location = format!("auth_flows row {id}");
    let bad = |err: &dyn std::fmt::Display| corrupt(location.clone(), err);
    Ok(Flow {
        id: FlowId::new(id.as_str()).map_err(|e| bad(&e))?,
        revision: from_bigint(&location, revision)?,
        status: serde_json::from_str::<FlowStatus>(&status).map_err(|e| bad(&e))?,
        grant_id: grant_id
            .map(GrantId::new)
            .transpose()
            .map_err(|e| bad(&e))?,
        created_at_ms: from_bigint(&location, created)?,
        expires_at_ms: from_bigint(&location, expires)?,
        spec: serde_json::from_str::<FlowSpec>(&spec).map_err(|e| bad(&e))?,
        verifier: Sealed::from_bytes(&verifier).map_err(|e| bad(&e))?,
        client_secret: sealed(&location, client_secret)?,
    })
}

/// Serialises this universe's creates of one kind until the transaction ends, and
/// counts the kind's rows.
async fn lock_and_count(
    conn: &mut PgConnection,
    universe_id: Uuid,
    kind: i32,
    table: &'static str,
) -> Result<usize, CatalogError> {
    // hashtext folds the universe into the lock's second key; a collision only makes
    // two universes' creates wait for each other, never share a count.
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2::text) # $3)")
        .bind(LOCK_SPACE)
        .bind(universe_id)
        .bind(kind)
        .execute(&mut *conn)
        .await
        .map_err(query_failed("lock the auth catalog for a create"))?;
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        // `table` is one of this file's constants, never input.
        "SELECT count(*) FROM {table} WHERE universe_id = $1"
    )))
    .bind(universe_id)
    .fetch_one(&mut *conn)
    .await
    .map_err(query_failed("count auth records"))?;
    Ok(usize::try_from(count).unwrap_or(usize::MAX))
}

impl AuthCatalog for PgStore {
    async fn secret_put(
        &self,
        secret: &StoredSecret,
        secrets_max: usize,
    ) -> Result<StoredSecret, CatalogError> {
        let mut tx = begin(&self.pool, "begin a secret put").await?;
        let put = async {
            let present =
                lock_and_count(&mut tx, self.universe_id, LOCK_SECRETS, "auth_secrets").await?;
            let existing: Option<i64> = sqlx::query_scalar(
                "SELECT created_at_ms FROM auth_secrets WHERE universe_id = $1 AND name = $2",
            )
            .bind(self.universe_id)
            .bind(secret.meta.name.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_failed("read a secret"))?;
            if existing.is_none() && present >= secrets_max {
                return Err(CatalogError::TooMany {
                    what: "secrets",
                    max: secrets_max,
                });
            }
            let row: SecretRow = sqlx::query_as(
                "INSERT INTO auth_secrets \
                 (universe_id, name, purpose, key_id, value, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (universe_id, name) DO UPDATE SET purpose = EXCLUDED.purpose, \
                 key_id = EXCLUDED.key_id, value = EXCLUDED.value, \
                 updated_at_ms = EXCLUDED.updated_at_ms \
                 RETURNING name, purpose, key_id, value, created_at_ms, updated_at_ms",
            )
            .bind(self.universe_id)
            .bind(secret.meta.name.as_str())
            .bind(secret.meta.purpose.as_str())
            .bind(&secret.meta.key_id)
            .bind(secret.value.to_bytes())
            .bind(bigint("created_at_ms", secret.meta.created_at_ms)?)
            .bind(bigint("updated_at_ms", secret.meta.updated_at_ms)?)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("put a secret"))?;
            decode_secret(row)
        }
        .await;
        finish(tx, put, "commit a secret put").await
    }

    async fn secret_get(&self, name: &SecretName) -> Result<Option<StoredSecret>, CatalogError> {
        let row: Option<SecretRow> = sqlx::query_as(
            "SELECT name, purpose, key_id, value, created_at_ms, updated_at_ms \
             FROM auth_secrets WHERE universe_id = $1 AND name = $2",
        )
        .bind(self.universe_id)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read a secret"))?;
        row.map(decode_secret).transpose()
    }

    async fn secret_list(&self) -> Result<Vec<SecretMeta>, CatalogError> {
        let rows: Vec<SecretRow> = sqlx::query_as(
            "SELECT name, purpose, key_id, value, created_at_ms, updated_at_ms \
             FROM auth_secrets WHERE universe_id = $1 ORDER BY name COLLATE \"C\"",
        )
        .bind(self.universe_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list secrets"))?;
        rows.into_iter()
            .map(|row| decode_secret(row).map(|s| s.meta))
            .collect()
    }

    async fn secret_delete(&self, name: &SecretName) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM auth_secrets WHERE universe_id = $1 AND name = $2")
            .bind(self.universe_id)
            .bind(name.as_str())
            .execute(&self.pool)
            .await
            .map_err(query_failed("delete a secret"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn grant_create(&self, grant: &Grant, grants_max: usize) -> Result<(), CatalogError> {
        let mut tx = begin(&self.pool, "begin a grant create").await?;
        let created = async {
            let present =
                lock_and_count(&mut tx, self.universe_id, LOCK_GRANTS, "auth_grants").await?;
            if present >= grants_max {
                return Err(CatalogError::TooMany {
                    what: "grants",
                    max: grants_max,
                });
            }
            let done = sqlx::query(
                "INSERT INTO auth_grants (universe_id, grant_id, name, status, revision, kind, \
                 access_token, refresh_token, client_secret, created_at_ms, updated_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11) \
                 ON CONFLICT (universe_id, grant_id) DO NOTHING",
            )
            .bind(self.universe_id)
            .bind(grant.id.as_str())
            .bind(grant.name.as_str())
            .bind(grant.status.as_str())
            .bind(bigint("revision", grant.revision)?)
            .bind(json(serde_json::to_string(&grant.kind))?)
            .bind(grant.sealed.access_token.as_ref().map(Sealed::to_bytes))
            .bind(grant.sealed.refresh_token.as_ref().map(Sealed::to_bytes))
            .bind(grant.sealed.client_secret.as_ref().map(Sealed::to_bytes))
            .bind(bigint("created_at_ms", grant.created_at_ms)?)
            .bind(bigint("updated_at_ms", grant.updated_at_ms)?)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("create a grant"))?;
            if done.rows_affected() == 0 {
                return Err(CatalogError::Exists {
                    what: "grant",
                    id: grant.id.to_string(),
                });
            }
            Ok(())
        }
        .await;
        finish(tx, created, "commit a grant create").await
    }

    async fn grant_get(&self, id: &GrantId) -> Result<Option<Grant>, CatalogError> {
        let row: Option<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM auth_grants WHERE universe_id = $1 AND grant_id = $2"
        )))
        .bind(self.universe_id)
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read a grant"))?;
        row.map(decode_grant).transpose()
    }

    async fn grant_list(&self) -> Result<Vec<Grant>, CatalogError> {
        let rows: Vec<GrantRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {GRANT_COLUMNS} FROM auth_grants WHERE universe_id = $1 \
             ORDER BY grant_id COLLATE \"C\""
        )))
        .bind(self.universe_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list grants"))?;
        rows.into_iter().map(decode_grant).collect()
    }

    async fn grant_update(
        &self,
        grant: &Grant,
        expected_revision: u64,
    ) -> Result<Grant, CatalogError> {
        let mut tx = begin(&self.pool, "begin a grant update").await?;
        let updated = async {
            let stored: Option<i64> = sqlx::query_scalar(
                "SELECT revision FROM auth_grants \
                 WHERE universe_id = $1 AND grant_id = $2 FOR UPDATE",
            )
            .bind(self.universe_id)
            .bind(grant.id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_failed("lock a grant"))?;
            let stored = stored
                .map(|r| from_bigint("auth_grants revision", r))
                .transpose()?;
            check_revision("grant", grant.id.as_str(), stored, expected_revision)?;
            let mut next = grant.clone();
            next.revision = expected_revision + 1;
            sqlx::query(
                "UPDATE auth_grants SET name = $3, status = $4, revision = $5, kind = $6::jsonb, \
                 access_token = $7, refresh_token = $8, client_secret = $9, updated_at_ms = $10 \
                 WHERE universe_id = $1 AND grant_id = $2",
            )
            .bind(self.universe_id)
            .bind(next.id.as_str())
            .bind(next.name.as_str())
            .bind(next.status.as_str())
            .bind(bigint("revision", next.revision)?)
            .bind(json(serde_json::to_string(&next.kind))?)
            .bind(next.sealed.access_token.as_ref().map(Sealed::to_bytes))
            .bind(next.sealed.refresh_token.as_ref().map(Sealed::to_bytes))
            .bind(next.sealed.client_secret.as_ref().map(Sealed::to_bytes))
            .bind(bigint("updated_at_ms", next.updated_at_ms)?)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("update a grant"))?;
            Ok(next)
        }
        .await;
        finish(tx, updated, "commit a grant update").await
    }

    async fn grant_delete(&self, id: &GrantId) -> Result<bool, CatalogError> {
        let done = sqlx::query("DELETE FROM auth_grants WHERE universe_id = $1 AND grant_id = $2")
            .bind(self.universe_id)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(query_failed("delete a grant"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn flow_create(&self, flow: &Flow, flows_max: usize) -> Result<(), CatalogError> {
        let mut tx = begin(&self.pool, "begin a flow create").await?;
        let created = async {
            let present =
                lock_and_count(&mut tx, self.universe_id, LOCK_FLOWS, "auth_flows").await?;
            if present >= flows_max {
                return Err(CatalogError::TooMany {
                    what: "flows",
                    max: flows_max,
                });
            }
            let done = sqlx::query(
                "INSERT INTO auth_flows (universe_id, flow_id, revision, status, grant_id, spec, \
                 verifier, client_secret, created_at_ms, expires_at_ms) \
                 VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9, $10) \
                 ON CONFLICT (universe_id, flow_id) DO NOTHING",
            )
            .bind(self.universe_id)
            .bind(flow.id.as_str())
            .bind(bigint("revision", flow.revision)?)
            .bind(json(serde_json::to_string(&flow.status))?)
            .bind(flow.grant_id.as_ref().map(GrantId::as_str))
            .bind(json(serde_json::to_string(&flow.spec))?)
            .bind(flow.verifier.to_bytes())
            .bind(flow.client_secret.as_ref().map(Sealed::to_bytes))
            .bind(bigint("created_at_ms", flow.created_at_ms)?)
            .bind(bigint("expires_at_ms", flow.expires_at_ms)?)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("create a flow"))?;
            if done.rows_affected() == 0 {
                return Err(CatalogError::Exists {
                    what: "flow",
                    id: flow.id.to_string(),
                });
            }
            Ok(())
        }
        .await;
        finish(tx, created, "commit a flow create").await
    }

    async fn flow_get(&self, id: &FlowId) -> Result<Option<Flow>, CatalogError> {
        let row: Option<FlowRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {FLOW_COLUMNS} FROM auth_flows WHERE universe_id = $1 AND flow_id = $2"
        )))
        .bind(self.universe_id)
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read a flow"))?;
        row.map(decode_flow).transpose()
    }

    async fn flow_update(&self, flow: &Flow, expected_revision: u64) -> Result<Flow, CatalogError> {
        let mut tx = begin(&self.pool, "begin a flow update").await?;
        let updated = async {
            let stored: Option<i64> = sqlx::query_scalar(
                "SELECT revision FROM auth_flows \
                 WHERE universe_id = $1 AND flow_id = $2 FOR UPDATE",
            )
            .bind(self.universe_id)
            .bind(flow.id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_failed("lock a flow"))?;
            let stored = stored
                .map(|r| from_bigint("auth_flows revision", r))
                .transpose()?;
            check_revision("flow", flow.id.as_str(), stored, expected_revision)?;
            let mut next = flow.clone();
            next.revision = expected_revision + 1;
            sqlx::query(
                "UPDATE auth_flows SET revision = $3, status = $4::jsonb, grant_id = $5, \
                 spec = $6::jsonb, verifier = $7, client_secret = $8, expires_at_ms = $9 \
                 WHERE universe_id = $1 AND flow_id = $2",
            )
            .bind(self.universe_id)
            .bind(next.id.as_str())
            .bind(bigint("revision", next.revision)?)
            .bind(json(serde_json::to_string(&next.status))?)
            .bind(next.grant_id.as_ref().map(GrantId::as_str))
            .bind(json(serde_json::to_string(&next.spec))?)
            .bind(next.verifier.to_bytes())
            .bind(next.client_secret.as_ref().map(Sealed::to_bytes))
            .bind(bigint("expires_at_ms", next.expires_at_ms)?)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("update a flow"))?;
            Ok(next)
        }
        .await;
        finish(tx, updated, "commit a flow update").await
    }

    async fn flow_prune(&self, expired_before_ms: u64) -> Result<usize, CatalogError> {
        let done =
            sqlx::query("DELETE FROM auth_flows WHERE universe_id = $1 AND expires_at_ms < $2")
                .bind(self.universe_id)
                .bind(bigint("expired_before_ms", expired_before_ms)?)
                .execute(&self.pool)
                .await
                .map_err(query_failed("prune flows"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}
