//! The operator's methods (`operator/...`), served here because the gateway holds the
//! keys: backends only ever see a resolved `api::Caller`, never a key or its hash.
//! Every operator call is written to the audit log (who, which method, on what, and
//! the code it answered), served or refused.
//!
//! Keys are minted, listed and revoked through the gateway's [`KeyStore`]; a revoked
//! key is refused on its next request by every gateway sharing the store, and an open
//! WebSocket is closed within `key_recheck_ms` (`app`).

use std::time::{SystemTime, UNIX_EPOCH};

use api::types::operator::{
    ApiKeyCreateParams, ApiKeyCreateResult, ApiKeyListParams, ApiKeyListResult, ApiKeyRevokeParams,
    ApiKeyRevokeResult, ApiKeyView, AuditEntryView, AuditListParams, AuditListResult,
};
use api::{ApiError, Caller, ErrorKind, LightspeedApi};
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::keys::{AuditEntry, KeyRecord, KeyStore, KeyStoreError, UniverseRecord, mint_key};

/// Longest key label.
pub const KEY_NAME_BYTES_MAX: usize = 128;
/// Longest universe id a key may name.
const UNIVERSE_ID_BYTES_MAX: usize = 128;
/// Audit entries per page unless asked, and at most.
const AUDIT_PAGE_DEFAULT: u32 = 100;
const AUDIT_PAGE_MAX: u32 = 1_000;

/// The key store behind a trait object, for the RPC module (which is not generic
/// over the store).
pub(crate) trait KeyAdmin: Send + Sync {
    fn insert(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), KeyStoreError>>;
    fn list<'a>(
        &'a self,
        universe_id: Option<&'a str>,
        include_revoked: bool,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, KeyStoreError>>;
    fn revoke<'a>(
        &'a self,
        key_id: &'a str,
        at_ms: u64,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, KeyStoreError>>;
    fn append_audit(&self, entry: AuditEntry) -> BoxFuture<'_, Result<u64, KeyStoreError>>;
    fn list_audit(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, KeyStoreError>>;
    fn create_universe(&self, record: UniverseRecord) -> BoxFuture<'_, Result<(), KeyStoreError>>;
    fn list_universes(&self) -> BoxFuture<'_, Result<Vec<UniverseRecord>, KeyStoreError>>;
    fn delete_universe<'a>(
        &'a self,
        universe_id: &'a str,
        at_ms: u64,
    ) -> BoxFuture<'a, Result<(), KeyStoreError>>;
}

impl<K: KeyStore> KeyAdmin for K {
    fn insert(&self, record: KeyRecord) -> BoxFuture<'_, Result<(), KeyStoreError>> {
        Box::pin(KeyStore::insert(self, record))
    }
    fn list<'a>(
        &'a self,
        universe_id: Option<&'a str>,
        include_revoked: bool,
    ) -> BoxFuture<'a, Result<Vec<KeyRecord>, KeyStoreError>> {
        Box::pin(KeyStore::list(self, universe_id, include_revoked))
    }
    fn revoke<'a>(
        &'a self,
        key_id: &'a str,
        at_ms: u64,
    ) -> BoxFuture<'a, Result<Option<KeyRecord>, KeyStoreError>> {
        Box::pin(KeyStore::revoke(self, key_id, at_ms))
    }
    fn append_audit(&self, entry: AuditEntry) -> BoxFuture<'_, Result<u64, KeyStoreError>> {
        Box::pin(KeyStore::append_audit(self, entry))
    }
    fn list_audit(
        &self,
        before: Option<u64>,
        limit: u32,
    ) -> BoxFuture<'_, Result<Vec<AuditEntry>, KeyStoreError>> {
        Box::pin(KeyStore::list_audit(self, before, limit))
    }
    fn create_universe(&self, record: UniverseRecord) -> BoxFuture<'_, Result<(), KeyStoreError>> {
        Box::pin(KeyStore::create_universe(self, record))
    }
    fn list_universes(&self) -> BoxFuture<'_, Result<Vec<UniverseRecord>, KeyStoreError>> {
        Box::pin(KeyStore::list_universes(self))
    }
    fn delete_universe<'a>(
        &'a self,
        universe_id: &'a str,
        at_ms: u64,
    ) -> BoxFuture<'a, Result<(), KeyStoreError>> {
        Box::pin(KeyStore::delete_universe(self, universe_id, at_ms))
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A store failure, without the store's text on the wire (`rpc::error_object` logs
/// an internal error's message and replaces it).
pub(crate) fn store_failed(err: KeyStoreError) -> ApiError {
    match err {
        KeyStoreError::Duplicate => ApiError::new(
            ErrorKind::Conflict,
            "a key with this id or hash already exists",
        )
        .with_reason("duplicateKey"),
        other => ApiError::internal(format!("key store: {other}")).with_reason("keyStoreFailed"),
    }
}

fn view(record: KeyRecord) -> ApiKeyView {
    ApiKeyView {
        key_id: record.key_id,
        universe_id: record.universe_id,
        name: record.name,
        operator: record.operator,
        created_at_ms: record.created_at_ms,
        revoked_at_ms: record.revoked_at_ms,
    }
}

/// A universe id an operator names: 1 to [`UNIVERSE_ID_BYTES_MAX`] bytes, no control
/// characters.
pub(crate) fn check_universe_id(universe_id: &str) -> Result<(), ApiError> {
    if universe_id.trim().is_empty()
        || universe_id.len() > UNIVERSE_ID_BYTES_MAX
        || universe_id.chars().any(char::is_control)
    {
        return Err(ApiError::invalid_params(format!(
            "universeId must be 1 to {UNIVERSE_ID_BYTES_MAX} bytes without control characters"
        ))
        .with_reason("invalidUniverseId"));
    }
    Ok(())
}

/// A label for people (a key's, a universe's): at most [`KEY_NAME_BYTES_MAX`] bytes.
pub(crate) fn check_name(name: &str) -> Result<(), ApiError> {
    if name.len() > KEY_NAME_BYTES_MAX {
        return Err(ApiError::invalid_params(format!(
            "name is longer than {KEY_NAME_BYTES_MAX} bytes"
        ))
        .with_reason("nameTooLong"));
    }
    Ok(())
}

pub(crate) fn parse<P: DeserializeOwned>(method: &str, params: Value) -> Result<P, ApiError> {
    let params = match params {
        Value::Null => Value::Object(serde_json::Map::new()),
        other => other,
    };
    serde_json::from_value(params)
        .map_err(|err| ApiError::invalid_params(format!("{method}: {err}")))
}

pub(crate) fn answer<R: Serialize>(result: R) -> Result<Value, ApiError> {
    serde_json::to_value(result)
        .map_err(|err| ApiError::internal(format!("encoding the result failed: {err}")))
}

/// What a call names, for the audit log: ids only.
fn target_of(params: &Value) -> String {
    let text = |field: &str| params.get(field).and_then(Value::as_str);
    let bounded = |text: &str| text.chars().take(UNIVERSE_ID_BYTES_MAX).collect::<String>();
    match (text("keyId"), text("universeId"), text("runId")) {
        (Some(key), _, _) => format!("key:{}", bounded(key)),
        (None, Some(universe), Some(run)) => {
            format!("run:{}/{}", bounded(universe), bounded(run))
        }
        (None, Some(universe), None) => format!("universe:{}", bounded(universe)),
        (None, None, _) => String::new(),
    }
}

/// Serves operator method `method` for `caller` (already checked to hold an operator
/// key) and audits the call: keys and the audit log here, universes in
/// `operator_universes`, dispatch and runs in the backend. Methods that read a
/// universe's own data call `api` as that universe.
pub(crate) async fn serve<A: LightspeedApi>(
    api: &A,
    keys: &dyn KeyAdmin,
    caller: &Caller,
    method: &str,
    params: Value,
) -> Result<Value, ApiError> {
    let target = target_of(&params);
    let result = match method {
        "operator/universes/create"
        | "operator/universes/list"
        | "operator/universes/read"
        | "operator/universes/delete" => {
            crate::operator_universes::serve(api, keys, caller, method, params).await
        }
        "operator/api-keys/create"
        | "operator/api-keys/list"
        | "operator/api-keys/revoke"
        | "operator/audit/list" => serve_unaudited(keys, caller, method, params).await,
        // Dispatch and runs act on a universe's sessions: the backend's.
        _ => api::dispatch(api, caller, method, params).await,
    };
    let entry = AuditEntry {
        seq: 0,
        at_ms: now_ms(),
        key_id: caller.key_id.clone(),
        method: method.to_owned(),
        target,
        code: result.as_ref().err().map_or(0, ApiError::code),
    };
    // An action that cannot be audited is not answered as done: the operator sees a
    // failure and may retry (creating a key twice mints two; revoking is idempotent).
    if let Err(err) = keys.append_audit(entry).await {
        return Err(store_failed(err));
    }
    result
}

async fn serve_unaudited(
    keys: &dyn KeyAdmin,
    caller: &Caller,
    method: &str,
    params: Value,
) -> Result<Value, ApiError> {
    match method {
        "operator/api-keys/create" => {
            let params: ApiKeyCreateParams = parse(method, params)?;
            let universe = params.universe_id.trim();
            check_universe_id(universe)?;
            check_name(&params.name)?;
            let (key, mut record) = mint_key(universe, now_ms());
            record.name = params.name;
            keys.insert(record.clone()).await.map_err(store_failed)?;
            answer(ApiKeyCreateResult {
                key,
                record: view(record),
            })
        }
        "operator/api-keys/list" => {
            let params: ApiKeyListParams = parse(method, params)?;
            let records = keys
                .list(params.universe_id.as_deref(), params.include_revoked)
                .await
                .map_err(store_failed)?;
            answer(ApiKeyListResult {
                keys: records.into_iter().map(view).collect(),
            })
        }
        "operator/api-keys/revoke" => {
            let params: ApiKeyRevokeParams = parse(method, params)?;
            if params.key_id == caller.key_id {
                return Err(ApiError::rejected(
                    "an operator key cannot revoke itself; revoke it with another",
                )
                .with_reason("selfRevocation"));
            }
            match keys
                .revoke(&params.key_id, now_ms())
                .await
                .map_err(store_failed)?
            {
                Some(record) => answer(ApiKeyRevokeResult {
                    record: view(record),
                }),
                None => Err(ApiError::not_found(format!("no key {:?}", params.key_id))
                    .with_reason("keyNotFound")),
            }
        }
        "operator/audit/list" => {
            let params: AuditListParams = parse(method, params)?;
            let limit = params
                .limit
                .unwrap_or(AUDIT_PAGE_DEFAULT)
                .clamp(1, AUDIT_PAGE_MAX);
            let entries = keys
                .list_audit(params.before, limit)
                .await
                .map_err(store_failed)?;
            let next_before = (entries.len() == limit as usize)
                .then(|| entries.last().map(|entry| entry.seq))
                .flatten();
            answer(AuditListResult {
                entries: entries
                    .into_iter()
                    .map(|entry| AuditEntryView {
                        seq: entry.seq,
                        at_ms: entry.at_ms,
                        key_id: entry.key_id,
                        method: entry.method,
                        target: entry.target,
                        code: entry.code,
                    })
                    .collect(),
                next_before,
            })
        }
        other => {
            Err(ApiError::not_found(format!("unknown method {other:?}"))
                .with_reason("methodNotFound"))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn audit_targets_are_ids_only() {
        assert_eq!(
            target_of(&json!({"keyId": "key_1", "universeId": "u"})),
            "key:key_1"
        );
        assert_eq!(
            target_of(&json!({"universeId": "u", "name": "ci"})),
            "universe:u"
        );
        assert_eq!(target_of(&json!({"limit": 3})), "");
        assert_eq!(
            target_of(&json!({"universeId": "u", "sessionId": "s", "runId": "run_2"})),
            "run:u/run_2"
        );
        let long = "x".repeat(1_000);
        assert_eq!(
            target_of(&json!({ "universeId": long })).len(),
            "universe:".len() + UNIVERSE_ID_BYTES_MAX
        );
    }
}
