//! [`StoreCredentials`]: MCP credentials from each universe's auth registry, resolved
//! at call time in whichever process calls the server (the worker's tool activity,
//! the gateway's `session/mcp/link`). Values live in memory only for the call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use auth_registry::records::GrantId;
use auth_registry::{AuthError, AuthRegistry, BrokerError, TokenBroker};
use effects::mcp::{CredentialFailure, McpCredentials, ResolvedAuth};
use futures::future::BoxFuture;
use mcp_client::Credential;
use mcp_registry::McpAuth;
use secrecy::ExposeSecret as _;
use session_stores::StoreProvider;

use crate::auth::AuthSettings;

/// Universes whose registry and broker stay cached; beyond it the cache starts over
/// (a broker's single-flight refresh is per instance, so a dropped one only costs a
/// possible second refresh).
const UNIVERSES_CACHED_MAX: usize = 4_096;

struct Universe<S> {
    registry: AuthRegistry<S>,
    broker: TokenBroker<S>,
}

pub struct StoreCredentials<P: StoreProvider> {
    stores: Arc<P>,
    settings: AuthSettings,
    universes: Mutex<HashMap<String, Arc<Universe<P::Store>>>>,
}

impl<P: StoreProvider> StoreCredentials<P> {
    pub fn new(stores: Arc<P>, settings: AuthSettings) -> Self {
        Self {
            stores,
            settings,
            universes: Mutex::default(),
        }
    }

    async fn universe(
        &self,
        universe_id: &str,
    ) -> Result<Arc<Universe<P::Store>>, CredentialFailure> {
        if let Some(found) = self.cached(universe_id) {
            return Ok(found);
        }
        let store = self
            .stores
            .store(universe_id)
            .await
            .map_err(|err| CredentialFailure {
                code: "authUnavailable",
                message: format!("the universe's store cannot be opened: {err}"),
                retryable: true,
            })?;
        let registry = AuthRegistry::new(
            universe_id,
            store,
            self.settings.keyring.clone(),
            self.settings.redirect_uri.clone(),
            self.settings.limits,
        )
        .map_err(|err| failure(&err.to_string(), err.code(), false))?;
        let broker = registry.broker();
        let universe = Arc::new(Universe { registry, broker });
        let mut universes = self
            .universes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if universes.len() >= UNIVERSES_CACHED_MAX {
            universes.clear();
        }
        Ok(universes
            .entry(universe_id.to_owned())
            .or_insert(universe)
            .clone())
    }

    fn cached(&self, universe_id: &str) -> Option<Arc<Universe<P::Store>>> {
        self.universes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(universe_id)
            .cloned()
    }

    async fn resolve_auth(
        &self,
        universe_id: &str,
        auth: &McpAuth,
    ) -> Result<ResolvedAuth, CredentialFailure> {
        let secret = |name: &str| {
            let name = name.to_owned();
            async move {
                let universe = self.universe(universe_id).await?;
                universe
                    .registry
                    .secret_value(&name)
                    .await
                    .map_err(|err| auth_failure(&err))
            }
        };
        match auth {
            McpAuth::None => Ok(ResolvedAuth::None),
            McpAuth::SecretHeader {
                secret: name,
                header,
                prefix,
            } => {
                let value = secret(name).await?;
                Ok(ResolvedAuth::Header(Credential::new(
                    header.clone(),
                    format!("{prefix}{}", value.expose_secret()),
                )))
            }
            McpAuth::SecretEnv { secret: name, var } => Ok(ResolvedAuth::Env {
                var: var.clone(),
                value: secret(name).await?,
            }),
            McpAuth::Grant { grant_id } => {
                let id = GrantId::new(grant_id)
                    .map_err(|err| failure(&err.to_string(), "grantNotFound", false))?;
                let universe = self.universe(universe_id).await?;
                let credential = universe
                    .broker
                    .credential(&id)
                    .await
                    .map_err(|err| broker_failure(&err))?;
                Ok(ResolvedAuth::Header(Credential::new(
                    credential.header_name,
                    credential.header_value.expose_secret().to_owned(),
                )))
            }
        }
    }
}

impl<P: StoreProvider> McpCredentials for StoreCredentials<P> {
    fn resolve<'a>(
        &'a self,
        universe_id: &'a str,
        auth: &'a McpAuth,
    ) -> BoxFuture<'a, Result<ResolvedAuth, CredentialFailure>> {
        Box::pin(self.resolve_auth(universe_id, auth))
    }

    fn refused<'a>(&'a self, universe_id: &'a str, auth: &'a McpAuth) -> BoxFuture<'a, ()> {
        Box::pin(async move {
            // A refused token is refreshed before its next use; a refresh the
            // authorization server refuses marks the grant `needsReauth`.
            if let McpAuth::Grant { grant_id } = auth
                && let (Ok(id), Some(universe)) = (GrantId::new(grant_id), self.cached(universe_id))
            {
                universe.broker.invalidate(&id);
            }
        })
    }
}

fn failure(message: &str, code: &'static str, retryable: bool) -> CredentialFailure {
    CredentialFailure {
        code,
        message: message.to_owned(),
        retryable,
    }
}

fn auth_failure(err: &AuthError) -> CredentialFailure {
    match err {
        AuthError::NotFound { .. } | AuthError::Name(_) => {
            failure(&err.to_string(), "secretNotFound", false)
        }
        AuthError::Catalog(_) => failure(&err.to_string(), "authUnavailable", true),
        _ => failure(&err.to_string(), "authUnavailable", false),
    }
}

fn broker_failure(err: &BrokerError) -> CredentialFailure {
    match err {
        BrokerError::NotFound(_) => failure(&err.to_string(), "grantNotFound", false),
        BrokerError::Revoked(_) => failure(&err.to_string(), "revoked", false),
        BrokerError::NeedsReauth(_) => failure(
            &format!("{err}: start a new authorization (auth/flows/start)"),
            "needsReauth",
            false,
        ),
        BrokerError::SecretMissing { .. } => failure(&err.to_string(), "secretNotFound", false),
        BrokerError::Contended(_) | BrokerError::OAuth(_) | BrokerError::Catalog(_) => {
            failure(&err.to_string(), "authUnavailable", true)
        }
        BrokerError::Keyring(_) => failure(&err.to_string(), "authUnavailable", false),
    }
}
