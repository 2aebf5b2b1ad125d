//! [`TokenBroker`]: a grant id in, the header to send out.
//!
//! An OAuth grant whose access token expires within the skew (or was invalidated
//! after a 401) is refreshed first, once per grant in this process however many
//! callers ask at the same time: they queue on the grant's lock and, once through,
//! re-read the grant the first one stored. The new tokens are stored by
//! compare-and-set; a process that loses that race re-reads the winner's tokens.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use secrecy::{ExposeSecret as _, SecretString};

use crate::catalog::{AuthCatalog, CatalogError};
use crate::keyring::{Keyring, KeyringError, Purpose, SealContext};
use crate::now_ms;
use crate::oauth::{ClientAuth, OAuthClient, OAuthError};
use crate::records::{Grant, GrantId, GrantKind, GrantStatus};

/// The header a request to the resource carries. Debug redacts the value.
#[derive(Debug, Clone)]
pub struct Credential {
    pub header_name: String,
    pub header_value: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("grant {0} not found")]
    NotFound(GrantId),
    #[error("grant {0} is revoked")]
    Revoked(GrantId),
    /// The refresh token was refused (or there is none): authorize again.
    #[error("grant {0} needs to be authorized again")]
    NeedsReauth(GrantId),
    #[error("the secret {secret} of grant {grant} is gone")]
    SecretMissing { grant: GrantId, secret: String },
    /// Refreshing lost the compare-and-set race more times than it retries.
    #[error("grant {0} kept changing while refreshing")]
    Contended(GrantId),
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    #[error(transparent)]
    OAuth(#[from] OAuthError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
}

impl BrokerError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "broker.notFound",
            Self::Revoked(_) => "broker.revoked",
            Self::NeedsReauth(_) => "broker.needsReauth",
            Self::SecretMissing { .. } => "broker.secretMissing",
            Self::Contended(_) => "broker.contended",
            Self::Keyring(err) => err.code(),
            Self::OAuth(err) => err.code(),
            Self::Catalog(err) => err.code(),
        }
    }
}

/// Compare-and-set attempts of one refresh before giving up.
const REFRESH_ATTEMPTS_MAX: usize = 3;

pub struct TokenBroker<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for TokenBroker<C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<C> std::fmt::Debug for TokenBroker<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBroker")
            .field("universe", &self.inner.universe)
            .finish_non_exhaustive()
    }
}

struct Inner<C> {
    universe: String,
    catalog: Arc<C>,
    keyring: Arc<Keyring>,
    oauth: OAuthClient,
    skew_ms: u64,
    /// One lock per grant this process refreshed; bounded by the universe's grants.
    locks: Mutex<HashMap<GrantId, Arc<tokio::sync::Mutex<()>>>>,
    /// Grants whose token the resource refused since their last refresh here.
    invalidated: Mutex<HashSet<GrantId>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each change is one insert or remove: a poisoned map is still consistent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<C: AuthCatalog> TokenBroker<C> {
    pub fn new(
        universe: String,
        catalog: Arc<C>,
        keyring: Arc<Keyring>,
        oauth: OAuthClient,
        skew_ms: u64,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                universe,
                catalog,
                keyring,
                oauth,
                skew_ms,
                locks: Mutex::new(HashMap::new()),
                invalidated: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// The header for `grant`, refreshing its token first when due.
    pub async fn credential(&self, grant: &GrantId) -> Result<Credential, BrokerError> {
        let current = self.read(grant).await?;
        if !self.refresh_due(&current) {
            return self.header(&current).await;
        }
        let grant_lock = lock(&self.inner.locks)
            .entry(grant.clone())
            .or_default()
            .clone();
        let _held = grant_lock.lock().await;
        // Whoever held the lock before may have refreshed already.
        let mut current = self.read(grant).await?;
        for _ in 0..REFRESH_ATTEMPTS_MAX {
            if !self.refresh_due(&current) {
                return self.header(&current).await;
            }
            match self.refresh(&current).await {
                Ok(stored) => {
                    lock(&self.inner.invalidated).remove(grant);
                    return self.header(&stored).await;
                }
                // Another process stored first: take its tokens (or refresh again
                // if they are due too).
                Err(BrokerError::Catalog(CatalogError::Conflict { .. })) => {
                    lock(&self.inner.invalidated).remove(grant);
                    current = self.read(grant).await?;
                }
                Err(err) => return Err(err),
            }
        }
        Err(BrokerError::Contended(grant.clone()))
    }

    /// The resource answered 401 with this grant's token: refresh before next use.
    pub fn invalidate(&self, grant: &GrantId) {
        lock(&self.inner.invalidated).insert(grant.clone());
    }

    async fn read(&self, id: &GrantId) -> Result<Grant, BrokerError> {
        let grant = self
            .inner
            .catalog
            .grant_get(id)
            .await?
            .ok_or_else(|| BrokerError::NotFound(id.clone()))?;
        match grant.status {
            GrantStatus::Active => Ok(grant),
            GrantStatus::Revoked => Err(BrokerError::Revoked(id.clone())),
            GrantStatus::NeedsReauth => Err(BrokerError::NeedsReauth(id.clone())),
        }
    }

    fn refresh_due(&self, grant: &Grant) -> bool {
        let GrantKind::Oauth { expires_at_ms, .. } = &grant.kind else {
            return false;
        };
        if lock(&self.inner.invalidated).contains(&grant.id) {
            return true;
        }
        expires_at_ms.is_some_and(|at| at <= now_ms().saturating_add(self.inner.skew_ms))
    }

    fn context<'a>(&'a self, purpose: Purpose, grant: &'a GrantId) -> SealContext<'a> {
        SealContext {
            universe: &self.inner.universe,
            purpose,
            name: grant.as_str(),
        }
    }

    async fn header(&self, grant: &Grant) -> Result<Credential, BrokerError> {
        match &grant.kind {
            GrantKind::Secret {
                secret_name,
                header_name,
                prefix,
            } => {
                let secret = self
                    .inner
                    .catalog
                    .secret_get(secret_name)
                    .await?
                    .ok_or_else(|| BrokerError::SecretMissing {
                        grant: grant.id.clone(),
                        secret: secret_name.to_string(),
                    })?;
                let value = self.inner.keyring.open_string(
                    SealContext {
                        universe: &self.inner.universe,
                        purpose: Purpose::Secret,
                        name: secret_name.as_str(),
                    },
                    &secret.value,
                )?;
                let prefix = prefix.as_deref().unwrap_or("");
                Ok(Credential {
                    header_name: header_name.clone(),
                    header_value: SecretString::from(format!("{prefix}{}", value.expose_secret())),
                })
            }
            GrantKind::Oauth { .. } => {
                let sealed = grant
                    .sealed
                    .access_token
                    .as_ref()
                    .ok_or_else(|| BrokerError::NeedsReauth(grant.id.clone()))?;
                let token = self
                    .inner
                    .keyring
                    .open_string(self.context(Purpose::AccessToken, &grant.id), sealed)?;
                Ok(Credential {
                    header_name: "Authorization".into(),
                    header_value: SecretString::from(format!("Bearer {}", token.expose_secret())),
                })
            }
        }
    }

    /// Refreshes and stores by compare-and-set; `invalid_grant` marks the grant
    /// `needsReauth`.
    async fn refresh(&self, grant: &Grant) -> Result<Grant, BrokerError> {
        let GrantKind::Oauth {
            token_endpoint,
            client_id,
            resource,
            ..
        } = &grant.kind
        else {
            return Ok(grant.clone());
        };
        let Some(sealed_refresh) = &grant.sealed.refresh_token else {
            return Err(self.mark_needs_reauth(grant).await);
        };
        let keyring = &self.inner.keyring;
        let refresh_token = keyring.open_string(
            self.context(Purpose::RefreshToken, &grant.id),
            sealed_refresh,
        )?;
        let client_secret = grant
            .sealed
            .client_secret
            .as_ref()
            .map(|s| keyring.open_string(self.context(Purpose::ClientSecret, &grant.id), s))
            .transpose()?;
        let client = ClientAuth {
            client_id,
            client_secret: client_secret.as_ref(),
        };
        let tokens = match self
            .inner
            .oauth
            .refresh(token_endpoint, &client, &refresh_token, resource)
            .await
        {
            Ok(tokens) => tokens,
            Err(err) if err.is_invalid_grant() => return Err(self.mark_needs_reauth(grant).await),
            Err(err) => return Err(err.into()),
        };
        let now = now_ms();
        let mut next = grant.clone();
        next.sealed.access_token = Some(keyring.seal_str(
            self.context(Purpose::AccessToken, &grant.id),
            &tokens.access_token,
        )?);
        // Servers that do not rotate refresh tokens send none back: keep ours.
        if let Some(rotated) = &tokens.refresh_token {
            next.sealed.refresh_token =
                Some(keyring.seal_str(self.context(Purpose::RefreshToken, &grant.id), rotated)?);
        }
        if let GrantKind::Oauth { expires_at_ms, .. } = &mut next.kind {
            *expires_at_ms = tokens
                .expires_in_s
                .map(|s| now.saturating_add(s.saturating_mul(1_000)));
        }
        next.updated_at_ms = now;
        Ok(self
            .inner
            .catalog
            .grant_update(&next, grant.revision)
            .await?)
    }

    /// Stores `needsReauth` (whoever wins a race, the grant ends there or revoked)
    /// and returns the error to answer with.
    async fn mark_needs_reauth(&self, grant: &Grant) -> BrokerError {
        let mut current = grant.clone();
        for _ in 0..REFRESH_ATTEMPTS_MAX {
            if current.status != GrantStatus::Active {
                break;
            }
            let mut next = current.clone();
            next.status = GrantStatus::NeedsReauth;
            next.updated_at_ms = now_ms();
            match self
                .inner
                .catalog
                .grant_update(&next, current.revision)
                .await
            {
                Ok(_) => break,
                Err(CatalogError::Conflict { .. }) => {
                    match self.inner.catalog.grant_get(&grant.id).await {
                        Ok(Some(fresh)) => current = fresh,
                        Ok(None) => return BrokerError::NotFound(grant.id.clone()),
                        Err(err) => return err.into(),
                    }
                }
                Err(err) => return err.into(),
            }
        }
        match current.status {
            GrantStatus::Revoked => BrokerError::Revoked(grant.id.clone()),
            GrantStatus::Active | GrantStatus::NeedsReauth => {
                BrokerError::NeedsReauth(grant.id.clone())
            }
        }
    }
}
