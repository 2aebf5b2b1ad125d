//! `auth/*` and the OAuth callback: a universe's secrets, flows and grants through
//! its [`AuthRegistry`] over the universe's store (which is its auth catalog). No
//! method returns a secret value or a token; errors carry the registry's stable
//! codes and never a value.

use std::sync::Arc;

use api::ApiError;
use api::types::auth::*;
use auth_registry::oauth::parse_state;
use auth_registry::records::{FlowStatus, GrantKind, GrantStatus, SecretPurpose};
use auth_registry::registry::{CallbackOutcome, FlowView, GrantView, StartOAuthRequest};
use auth_registry::{AuthError, AuthLimits, AuthRegistry, Keyring};
use secrecy::SecretString;
use session_stores::StoreProvider;

use crate::errors::internal;
use crate::host::SessionHost;
use crate::service::Service;

type Store<H> = <<H as SessionHost>::Stores as StoreProvider>::Store;

/// The deployment's auth settings: the keyring that seals secrets and tokens
/// (`LIGHTSPEED_SECRET_KEYS`, or a key file the embedded server creates), the OAuth
/// redirect URI (`LIGHTSPEED_AUTH_REDIRECT_URL`, the gateway's `/auth/callback`) and
/// the registry's bounds.
#[derive(Clone)]
pub struct AuthSettings {
    pub keyring: Arc<Keyring>,
    pub redirect_uri: String,
    pub limits: AuthLimits,
}

/// What the OAuth callback route hands the service: the query as it arrived.
#[derive(Debug, Clone, Default)]
pub struct AuthCallback {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
}

impl<H: SessionHost> Service<H> {
    pub(crate) async fn registry(
        &self,
        universe_id: &str,
    ) -> Result<AuthRegistry<Store<H>>, ApiError> {
        let settings = self.auth.as_ref().ok_or_else(|| {
            ApiError::rejected("this deployment has no auth registry")
                .with_reason("authUnavailable")
        })?;
        let store = self.store(universe_id).await?;
        AuthRegistry::new(
            universe_id,
            store,
            settings.keyring.clone(),
            settings.redirect_uri.clone(),
            settings.limits,
        )
        .map_err(auth_error)
    }

    pub(crate) async fn secret_put(
        &self,
        universe_id: &str,
        params: AuthSecretPutParams,
    ) -> Result<AuthSecretView, ApiError> {
        let purpose = match params.purpose.as_deref() {
            None | Some("mcp" | "header") => SecretPurpose::Header,
            Some(other) => SecretPurpose::parse(other).ok_or_else(|| {
                ApiError::invalid_params(format!(
                    "purpose: {other:?} is not one of mcp, header, oauthClientSecret"
                ))
                .with_reason("auth.invalidInput")
            })?,
        };
        let registry = self.registry(universe_id).await?;
        let meta = registry
            .put_secret(&params.name, purpose, SecretString::from(params.value))
            .await
            .map_err(auth_error)?;
        Ok(secret_view(meta))
    }

    pub(crate) async fn secret_list(
        &self,
        universe_id: &str,
    ) -> Result<AuthSecretListResult, ApiError> {
        let registry = self.registry(universe_id).await?;
        let secrets = registry.list_secrets().await.map_err(auth_error)?;
        Ok(AuthSecretListResult {
            secrets: secrets.into_iter().map(secret_view).collect(),
        })
    }

    pub(crate) async fn secret_delete(
        &self,
        universe_id: &str,
        name: &str,
    ) -> Result<AuthSecretDeleteResult, ApiError> {
        let registry = self.registry(universe_id).await?;
        let deleted = registry.delete_secret(name).await.map_err(auth_error)?;
        Ok(AuthSecretDeleteResult { deleted })
    }

    pub(crate) async fn flow_start(
        &self,
        universe_id: &str,
        params: AuthFlowStartParams,
    ) -> Result<AuthFlowView, ApiError> {
        let registry = self.registry(universe_id).await?;
        let grant_name = params
            .grant_name
            .unwrap_or_else(|| default_grant_name(&params.resource_url));
        let started = registry
            .start_oauth(StartOAuthRequest {
                grant_name,
                resource: params.resource_url,
                scopes: params.scopes,
                client_id: params.client_id,
                client_secret_name: params.client_secret,
            })
            .await
            .map_err(auth_error)?;
        let flow = registry
            .read_flow(started.flow_id.as_str())
            .await
            .map_err(auth_error)?;
        let mut view = flow_view(flow);
        view.authorization_url = Some(started.authorization_url);
        Ok(view)
    }

    pub(crate) async fn flow_read(
        &self,
        universe_id: &str,
        flow_id: &str,
    ) -> Result<AuthFlowView, ApiError> {
        let registry = self.registry(universe_id).await?;
        let flow = registry.read_flow(flow_id).await.map_err(auth_error)?;
        Ok(flow_view(flow))
    }

    pub(crate) async fn grant_list(
        &self,
        universe_id: &str,
    ) -> Result<AuthGrantListResult, ApiError> {
        let registry = self.registry(universe_id).await?;
        let grants = registry.list_grants().await.map_err(auth_error)?;
        Ok(AuthGrantListResult {
            grants: grants.into_iter().map(grant_view).collect(),
        })
    }

    pub(crate) async fn grant_revoke(
        &self,
        universe_id: &str,
        grant_id: &str,
    ) -> Result<AuthGrantView, ApiError> {
        let registry = self.registry(universe_id).await?;
        let grant = registry.revoke_grant(grant_id).await.map_err(auth_error)?;
        Ok(grant_view(grant))
    }

    /// Completes the flow the callback's `state` names, in the universe the state
    /// carries (the callback has no API key: the state, verified in constant time by
    /// the registry, is the only authority). The answer is a line for the browser.
    pub async fn complete_auth_callback(&self, callback: AuthCallback) -> Result<String, ApiError> {
        let refused = || {
            ApiError::invalid_params("the callback's state does not match a flow")
                .with_reason("auth.invalidState")
        };
        let state = callback.state.ok_or_else(refused)?;
        let (universe_id, _) = parse_state(&state).ok_or_else(refused)?;
        let outcome = match (callback.code, callback.error) {
            (Some(code), None) => CallbackOutcome::Code(SecretString::from(code)),
            (_, Some(code)) => CallbackOutcome::Error {
                code: code.chars().take(64).collect(),
            },
            (None, None) => {
                return Err(
                    ApiError::invalid_params("the callback has no code or error")
                        .with_reason("auth.invalidInput"),
                );
            }
        };
        let registry = self.registry(&universe_id).await?;
        let grant = registry
            .complete_flow(&SecretString::from(state), outcome)
            .await
            .map_err(auth_error)?;
        Ok(format!(
            "Authorized: grant {} is ready. You can close this window.",
            grant.id
        ))
    }
}

fn default_grant_name(resource: &str) -> String {
    let host = resource
        .split("://")
        .nth(1)
        .unwrap_or(resource)
        .split(['/', ':', '?'])
        .next()
        .unwrap_or("oauth");
    let name: String = host
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(100)
        .collect();
    if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        "oauth".to_owned()
    } else {
        name
    }
}

fn secret_view(meta: auth_registry::records::SecretMeta) -> AuthSecretView {
    AuthSecretView {
        name: meta.name.to_string(),
        purpose: meta.purpose.as_str().to_owned(),
        key_id: meta.key_id.clone(),
        created_at_ms: meta.created_at_ms,
        updated_at_ms: meta.updated_at_ms,
    }
}

fn flow_view(flow: FlowView) -> AuthFlowView {
    let (status, error) = match flow.status {
        FlowStatus::Pending => (AuthFlowStatus::Pending, None),
        FlowStatus::Completed => (AuthFlowStatus::Completed, None),
        FlowStatus::Failed { reason } => (AuthFlowStatus::Failed, Some(reason)),
    };
    AuthFlowView {
        flow_id: flow.id.to_string(),
        status,
        authorization_url: None,
        grant_id: flow.grant_id.map(|id| id.to_string()),
        error,
        expires_at_ms: flow.expires_at_ms,
    }
}

fn grant_view(grant: GrantView) -> AuthGrantView {
    let (kind, resource, scopes, expires_at_ms) = match grant.kind {
        GrantKind::Secret { .. } => ("secret", None, Vec::new(), None),
        GrantKind::Oauth {
            expires_at_ms,
            scopes,
            resource,
            ..
        } => ("oauth", Some(resource), scopes, expires_at_ms),
    };
    AuthGrantView {
        grant_id: grant.id.to_string(),
        name: grant.name.to_string(),
        kind: kind.to_owned(),
        status: match grant.status {
            GrantStatus::Active => AuthGrantStatus::Active,
            GrantStatus::NeedsReauth => AuthGrantStatus::NeedsReauth,
            GrantStatus::Revoked => AuthGrantStatus::Revoked,
        },
        resource,
        scopes,
        expires_at_ms,
        updated_at_ms: grant.updated_at_ms,
    }
}

/// The registry's refusals as API errors; its stable code is the reason. Store and
/// keyring faults are internal (logged, not shown).
pub(crate) fn auth_error(err: AuthError) -> ApiError {
    let code = err.code();
    match &err {
        AuthError::Name(_)
        | AuthError::InvalidInput { .. }
        | AuthError::ValueTooLarge { .. }
        | AuthError::InvalidState => ApiError::invalid_params(err.to_string()),
        AuthError::NotFound { .. } => ApiError::not_found(err.to_string()),
        AuthError::FlowNotPending | AuthError::FlowExpired => ApiError::conflict(err.to_string()),
        AuthError::AuthorizationDenied { .. } | AuthError::OAuth(_) => {
            ApiError::rejected(err.to_string())
        }
        AuthError::Catalog(catalog) if catalog.code() == "auth.tooMany" => {
            ApiError::rejected(err.to_string())
        }
        AuthError::Catalog(catalog) if catalog.code() == "auth.notFound" => {
            ApiError::not_found(err.to_string())
        }
        AuthError::Catalog(catalog) if catalog.code() == "auth.conflict" => {
            ApiError::conflict(err.to_string())
        }
        AuthError::Catalog(_) | AuthError::Keyring(_) | AuthError::Random => {
            return internal("the auth registry", err);
        }
    }
    .with_reason(code)
}
