//! Resolving `Authorization: Bearer <key>` (or the key of a WebSocket's
//! `auth/hello`, see `ws_auth`) into the [`api::Caller`].
//!
//! The outcome is computed once per HTTP request or WebSocket upgrade and travels in
//! the request's extensions; the RPC middleware refuses calls without a caller. The
//! key itself is hashed here and then forgotten: it is never logged or stored.

use std::sync::Arc;
use std::time::Duration;

use api::{ApiError, Caller, ErrorKind};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use futures::future::BoxFuture;

use crate::keys::{KeyStore, hash_key};

/// Longest bearer token looked up; anything longer cannot be one of our keys.
const KEY_CHARS_MAX: usize = 256;

/// Why a request carries no caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Denial {
    /// No `Authorization: Bearer` header.
    MissingKey,
    /// A bearer token that matches no stored key.
    UnknownKey,
    /// A key an operator revoked.
    Revoked,
    /// The key store could not answer.
    StoreFailed,
}

/// The caller of a request, or why there is none.
#[derive(Debug, Clone)]
pub(crate) enum AuthOutcome {
    Caller(Caller),
    Denied(Denial),
}

impl Denial {
    pub(crate) fn to_api_error(self) -> ApiError {
        match self {
            Self::MissingKey => ApiError::new(
                ErrorKind::Unauthorized,
                "missing API key: send `Authorization: Bearer <key>`",
            )
            .with_reason("missingKey"),
            Self::UnknownKey => {
                ApiError::new(ErrorKind::Unauthorized, "unknown API key").with_reason("unknownKey")
            }
            Self::Revoked => ApiError::new(ErrorKind::Unauthorized, "this API key was revoked")
                .with_reason("keyRevoked"),
            Self::StoreFailed => {
                ApiError::internal("the key store is unavailable").with_reason("keyStoreFailed")
            }
        }
    }
}

/// The bearer token of `headers`, if there is exactly one well-formed one.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim();
    (!token.is_empty()).then_some(token)
}

/// Looks the request's key up in `keys`.
pub(crate) async fn resolve<K: KeyStore>(keys: &K, headers: &HeaderMap) -> AuthOutcome {
    let Some(token) = bearer_token(headers) else {
        return AuthOutcome::Denied(Denial::MissingKey);
    };
    resolve_token(keys, token).await
}

/// The hash of the request's bearer key, if it has one.
pub(crate) fn bearer_hash(headers: &HeaderMap) -> Option<String> {
    bearer_token(headers).map(hash_key)
}

/// Looks a plaintext key up in `keys`.
pub(crate) async fn resolve_token<K: KeyStore>(keys: &K, token: &str) -> AuthOutcome {
    if token.is_empty() {
        return AuthOutcome::Denied(Denial::MissingKey);
    }
    if token.len() > KEY_CHARS_MAX {
        return AuthOutcome::Denied(Denial::UnknownKey);
    }
    resolve_hash(keys, &hash_key(token)).await
}

/// Looks a key up in `keys` by its hash.
async fn resolve_hash<K: KeyStore>(keys: &K, key_hash: &str) -> AuthOutcome {
    match keys.find(key_hash).await {
        Ok(Some(record)) if record.revoked_at_ms.is_some() => AuthOutcome::Denied(Denial::Revoked),
        Ok(Some(record)) => AuthOutcome::Caller(Caller {
            universe_id: record.universe_id,
            key_id: record.key_id,
            operator: record.operator,
        }),
        Ok(None) => AuthOutcome::Denied(Denial::UnknownKey),
        Err(err) => {
            tracing::error!(error = %err, "key store lookup failed");
            AuthOutcome::Denied(Denial::StoreFailed)
        }
    }
}

/// Key lookup behind a trait object, so a WebSocket's auth state (which outlives
/// the handler and travels in non-generic extensions) can resolve `auth/hello`.
pub(crate) trait ResolveKey: Send + Sync {
    fn resolve<'a>(&'a self, token: &'a str) -> BoxFuture<'a, AuthOutcome>;
    /// [`Self::resolve`] by the key's hash (an open socket's key, looked up again).
    fn recheck<'a>(&'a self, key_hash: &'a str) -> BoxFuture<'a, AuthOutcome>;
}

impl<K: KeyStore> ResolveKey for K {
    fn resolve<'a>(&'a self, token: &'a str) -> BoxFuture<'a, AuthOutcome> {
        Box::pin(resolve_token(self, token))
    }

    fn recheck<'a>(&'a self, key_hash: &'a str) -> BoxFuture<'a, AuthOutcome> {
        Box::pin(resolve_hash(self, key_hash))
    }
}

/// The key an open WebSocket authenticated with, by hash (set at the upgrade, or by
/// its `auth/hello`).
#[derive(Debug, Default)]
pub(crate) struct SocketKey(std::sync::Mutex<Option<String>>);

impl SocketKey {
    pub(crate) fn set(&self, key_hash: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(key_hash);
    }

    fn get(&self) -> Option<String> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// Resolves once the socket's key stops admitting callers (revoked, or gone),
/// looking it up every `every`. A key store that cannot answer keeps the socket: an
/// outage must not close every socket at once.
pub(crate) async fn key_withdrawn(keys: Arc<dyn ResolveKey>, key: Arc<SocketKey>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(key_hash) = key.get() else {
            continue;
        };
        if let AuthOutcome::Denied(Denial::Revoked | Denial::UnknownKey) =
            keys.recheck(&key_hash).await
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn bearer_tokens_are_parsed_strictly() {
        assert_eq!(bearer_token(&headers(&["Bearer abc"])), Some("abc"));
        assert_eq!(bearer_token(&headers(&["bearer  abc "])), Some("abc"));
        assert_eq!(bearer_token(&headers(&[])), None);
        assert_eq!(bearer_token(&headers(&["Basic abc"])), None);
        assert_eq!(bearer_token(&headers(&["Bearer "])), None);
        assert_eq!(bearer_token(&headers(&["Bearer a", "Bearer b"])), None);
    }
}
