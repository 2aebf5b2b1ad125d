//! [`AuthRegistry`]: the operations the API layer calls for one universe.

use std::sync::Arc;

use secrecy::{ExposeSecret as _, SecretString};
use serde::Serialize;

use crate::broker::TokenBroker;
use crate::catalog::{AuthCatalog, CatalogError};
use crate::error::AuthError;
use crate::keyring::{Keyring, Purpose, SealContext};
use crate::now_ms;
use crate::oauth::{AuthorizeParams, ClientAuth, HttpLimits, OAuthClient, Pkce, StateToken, pkce};
use crate::records::{
    Flow, FlowId, FlowSpec, FlowStatus, Grant, GrantId, GrantKind, GrantName, GrantSealed,
    GrantStatus, REVISION_INITIAL, SecretMeta, SecretName, SecretPurpose, StoredSecret,
};

/// The registry's bounds, each checked before the work it bounds.
#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    pub secret_value_bytes_max: usize,
    pub secrets_max: usize,
    pub grants_max: usize,
    /// Flows stored at once (expired ones are pruned before a new one starts).
    pub flows_max: usize,
    pub flow_ttl_ms: u64,
    pub header_name_bytes_max: usize,
    pub url_bytes_max: usize,
    pub scopes_max: usize,
    /// A token expiring within this is refreshed before use.
    pub refresh_skew_ms: u64,
    pub http: HttpLimits,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            secret_value_bytes_max: 64 * 1024,
            secrets_max: 1_000,
            grants_max: 1_000,
            flows_max: 1_000,
            flow_ttl_ms: 10 * 60 * 1_000,
            header_name_bytes_max: 128,
            url_bytes_max: 2_048,
            scopes_max: 32,
            refresh_skew_ms: 60_000,
            http: HttpLimits::default(),
        }
    }
}

/// A grant as clients see it: never a token or secret value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GrantView {
    pub id: GrantId,
    pub name: GrantName,
    pub status: GrantStatus,
    pub kind: GrantKind,
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

impl From<&Grant> for GrantView {
    fn from(grant: &Grant) -> Self {
        Self {
            id: grant.id.clone(),
            name: grant.name.clone(),
            status: grant.status,
            kind: grant.kind.clone(),
            revision: grant.revision,
            created_at_ms: grant.created_at_ms,
            updated_at_ms: grant.updated_at_ms,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowView {
    pub id: FlowId,
    pub status: FlowStatus,
    pub grant_id: Option<GrantId>,
    pub resource: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
}

impl From<&Flow> for FlowView {
    fn from(flow: &Flow) -> Self {
        Self {
            id: flow.id.clone(),
            status: flow.status.clone(),
            grant_id: flow.grant_id.clone(),
            resource: flow.spec.resource.clone(),
            created_at_ms: flow.created_at_ms,
            expires_at_ms: flow.expires_at_ms,
        }
    }
}

/// A static grant: a stored secret sent as a header.
#[derive(Debug, Clone)]
pub struct SecretGrantRequest {
    pub name: String,
    pub secret_name: String,
    pub header_name: String,
    /// E.g. `Bearer ` (with its space).
    pub prefix: Option<String>,
}

#[derive(Debug, Clone)]
pub struct StartOAuthRequest {
    pub grant_name: String,
    /// The MCP server's URL: the protected resource.
    pub resource: String,
    pub scopes: Vec<String>,
    /// A preset client; without one the client is registered dynamically.
    pub client_id: Option<String>,
    /// A stored secret (purpose `oauthClientSecret`) for a preset confidential client.
    pub client_secret_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FlowStarted {
    pub flow_id: FlowId,
    pub authorization_url: String,
    pub status: FlowStatus,
}

/// What the authorization server sent back to the redirect URI.
#[derive(Debug)]
pub enum CallbackOutcome {
    Code(SecretString),
    Error { code: String },
}

pub struct AuthRegistry<C> {
    pub(crate) universe: String,
    pub(crate) catalog: Arc<C>,
    pub(crate) keyring: Arc<Keyring>,
    pub(crate) oauth: OAuthClient,
    pub(crate) limits: AuthLimits,
    redirect_uri: String,
    client_name: String,
}

impl<C> std::fmt::Debug for AuthRegistry<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRegistry")
            .field("universe", &self.universe)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

/// Longest universe id (it travels in `state`).
const UNIVERSE_BYTES_MAX: usize = 128;

impl<C: AuthCatalog> AuthRegistry<C> {
    /// The registry of `universe` over its catalog. `redirect_uri` is the deployment's
    /// callback (`LIGHTSPEED_AUTH_REDIRECT_URL`).
    pub fn new(
        universe: impl Into<String>,
        catalog: Arc<C>,
        keyring: Arc<Keyring>,
        redirect_uri: impl Into<String>,
        limits: AuthLimits,
    ) -> Result<Self, AuthError> {
        let universe = universe.into();
        if universe.is_empty()
            || universe.len() > UNIVERSE_BYTES_MAX
            || !universe
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return Err(AuthError::InvalidInput {
                field: "universe",
                reason: "1-128 of [A-Za-z0-9_.-]",
            });
        }
        let redirect_uri = redirect_uri.into();
        crate::oauth::checked_redirect(&redirect_uri)?;
        Ok(Self {
            universe,
            catalog,
            keyring,
            oauth: OAuthClient::new(limits.http)?,
            limits,
            redirect_uri,
            client_name: "Lightspeed".into(),
        })
    }

    pub fn universe(&self) -> &str {
        &self.universe
    }

    /// The broker that turns this universe's grants into headers. Make one per
    /// process and share it: single-flight refresh is per broker.
    pub fn broker(&self) -> TokenBroker<C> {
        TokenBroker::new(
            self.universe.clone(),
            self.catalog.clone(),
            self.keyring.clone(),
            self.oauth.clone(),
            self.limits.refresh_skew_ms,
        )
    }

    pub(crate) fn context<'a>(&'a self, purpose: Purpose, name: &'a str) -> SealContext<'a> {
        SealContext {
            universe: &self.universe,
            purpose,
            name,
        }
    }

    pub async fn put_secret(
        &self,
        name: &str,
        purpose: SecretPurpose,
        value: SecretString,
    ) -> Result<SecretMeta, AuthError> {
        let name = SecretName::new(name)?;
        let bytes_max = self.limits.secret_value_bytes_max;
        if value.expose_secret().len() > bytes_max {
            return Err(AuthError::ValueTooLarge { bytes_max });
        }
        if value.expose_secret().is_empty() {
            return Err(AuthError::InvalidInput {
                field: "value",
                reason: "empty",
            });
        }
        let sealed = self
            .keyring
            .seal_str(self.context(Purpose::Secret, name.as_str()), &value)?;
        let now = now_ms();
        let secret = StoredSecret {
            meta: SecretMeta {
                name,
                purpose,
                created_at_ms: now,
                updated_at_ms: now,
                key_id: sealed.key_id.clone(),
            },
            value: sealed,
        };
        let stored = self
            .catalog
            .secret_put(&secret, self.limits.secrets_max)
            .await?;
        Ok(stored.meta)
    }

    pub async fn list_secrets(&self) -> Result<Vec<SecretMeta>, AuthError> {
        Ok(self.catalog.secret_list().await?)
    }

    pub async fn delete_secret(&self, name: &str) -> Result<bool, AuthError> {
        Ok(self.catalog.secret_delete(&SecretName::new(name)?).await?)
    }

    pub async fn create_secret_grant(
        &self,
        request: SecretGrantRequest,
    ) -> Result<GrantView, AuthError> {
        let name = GrantName::new(request.name)?;
        let secret_name = SecretName::new(request.secret_name)?;
        if !valid_header_name(&request.header_name, self.limits.header_name_bytes_max) {
            return Err(AuthError::InvalidInput {
                field: "headerName",
                reason: "an HTTP token of at most 128 bytes",
            });
        }
        if let Some(prefix) = &request.prefix
            && (prefix.len() > self.limits.header_name_bytes_max
                || prefix.bytes().any(|b| b.is_ascii_control()))
        {
            return Err(AuthError::InvalidInput {
                field: "prefix",
                reason: "at most 128 bytes, no control characters",
            });
        }
        if self.catalog.secret_get(&secret_name).await?.is_none() {
            return Err(AuthError::NotFound {
                what: "secret",
                id: secret_name.to_string(),
            });
        }
        let now = now_ms();
        let grant = Grant {
            id: GrantId::generate(),
            name,
            status: GrantStatus::Active,
            revision: REVISION_INITIAL,
            created_at_ms: now,
            updated_at_ms: now,
            kind: GrantKind::Secret {
                secret_name,
                header_name: request.header_name,
                prefix: request.prefix,
            },
            sealed: GrantSealed::default(),
        };
        self.catalog
            .grant_create(&grant, self.limits.grants_max)
            .await?;
        Ok(GrantView::from(&grant))
    }

    /// Discovers the resource's authorization server, registers a client when none is
    /// preset and the server offers registration, and stores a pending flow.
    pub async fn start_oauth(&self, request: StartOAuthRequest) -> Result<FlowStarted, AuthError> {
        let grant_name = GrantName::new(request.grant_name)?;
        if request.resource.len() > self.limits.url_bytes_max {
            return Err(AuthError::InvalidInput {
                field: "resource",
                reason: "URL too long",
            });
        }
        if request.scopes.len() > self.limits.scopes_max
            || request
                .scopes
                .iter()
                .any(|s| s.is_empty() || s.len() > 256 || !s.bytes().all(|b| b.is_ascii_graphic()))
        {
            return Err(AuthError::InvalidInput {
                field: "scopes",
                reason: "at most 32 scopes of printable ASCII without spaces",
            });
        }
        let client_secret = match &request.client_secret_name {
            Some(name) => Some(self.open_secret(&SecretName::new(name.as_str())?).await?),
            None => None,
        };
        let metadata = self.oauth.discover(&request.resource).await?;
        let (client_id, client_secret, registered) =
            match request.client_id {
                Some(id) if !id.is_empty() && id.len() <= 256 => (id, client_secret, false),
                Some(_) => {
                    return Err(AuthError::InvalidInput {
                        field: "clientId",
                        reason: "1-256 bytes",
                    });
                }
                None => {
                    let endpoint = metadata.registration_endpoint.as_deref().ok_or(
                        AuthError::InvalidInput {
                            field: "clientId",
                            reason: "the server offers no dynamic registration; give a client id",
                        },
                    )?;
                    let registration = self
                        .oauth
                        .register(endpoint, &self.redirect_uri, &self.client_name)
                        .await?;
                    (registration.client_id, registration.client_secret, true)
                }
            };
        let flow_id = FlowId::generate();
        let pkce = Pkce::generate().ok_or(AuthError::Random)?;
        let state = StateToken::generate(&self.universe, &flow_id).ok_or(AuthError::Random)?;
        let verifier = self.keyring.seal_str(
            self.context(Purpose::PkceVerifier, flow_id.as_str()),
            &pkce.verifier,
        )?;
        let sealed_client_secret = client_secret
            .as_ref()
            .map(|s| {
                self.keyring
                    .seal_str(self.context(Purpose::ClientSecret, flow_id.as_str()), s)
            })
            .transpose()?;
        let authorization_url = self.oauth.authorization_url(
            &AuthorizeParams {
                authorization_endpoint: &metadata.authorization_endpoint,
                client_id: &client_id,
                redirect_uri: &self.redirect_uri,
                scopes: &request.scopes,
                code_challenge: &pkce.challenge,
                resource: &request.resource,
            },
            &state.value,
        )?;
        let now = now_ms();
        let flow = Flow {
            id: flow_id.clone(),
            revision: REVISION_INITIAL,
            status: FlowStatus::Pending,
            grant_id: None,
            created_at_ms: now,
            expires_at_ms: now.saturating_add(self.limits.flow_ttl_ms),
            spec: FlowSpec {
                state_digest: state.digest,
                redirect_uri: self.redirect_uri.clone(),
                resource: request.resource,
                token_endpoint: metadata.token_endpoint,
                revocation_endpoint: metadata.revocation_endpoint,
                client_id,
                client_registered: registered,
                scopes: request.scopes,
                grant_name,
            },
            verifier,
            client_secret: sealed_client_secret,
        };
        // Expired flows are useless; pruning keeps the bound about live ones.
        self.catalog.flow_prune(now).await?;
        self.catalog
            .flow_create(&flow, self.limits.flows_max)
            .await?;
        Ok(FlowStarted {
            flow_id,
            authorization_url,
            status: FlowStatus::Pending,
        })
    }

    pub async fn read_flow(&self, id: &str) -> Result<FlowView, AuthError> {
        let id = FlowId::new(id)?;
        let flow = self
            .catalog
            .flow_get(&id)
            .await?
            .ok_or(AuthError::NotFound {
                what: "flow",
                id: id.to_string(),
            })?;
        Ok(FlowView::from(&flow))
    }

    /// Completes the flow `state` names. Single use: the flow is claimed (moved out of
    /// `pending` by compare-and-set) before the code is exchanged, so a replayed
    /// callback finds it no longer pending.
    pub async fn complete_flow(
        &self,
        state: &SecretString,
        outcome: CallbackOutcome,
    ) -> Result<GrantView, AuthError> {
        let (universe, flow_id) =
            pkce::parse_state(state.expose_secret()).ok_or(AuthError::InvalidState)?;
        if universe != self.universe {
            return Err(AuthError::InvalidState);
        }
        let flow = self
            .catalog
            .flow_get(&flow_id)
            .await?
            .ok_or(AuthError::InvalidState)?;
        if !pkce::state_matches(state, &self.universe, &flow.id, &flow.spec.state_digest) {
            return Err(AuthError::InvalidState);
        }
        if flow.status != FlowStatus::Pending {
            return Err(AuthError::FlowNotPending);
        }
        let now = now_ms();
        if now > flow.expires_at_ms {
            self.finish_flow(&flow, FlowStatus::failed("expired"), None)
                .await?;
            return Err(AuthError::FlowExpired);
        }
        let code = match outcome {
            CallbackOutcome::Code(code) => code,
            CallbackOutcome::Error { code } => {
                let code: String = code
                    .chars()
                    .filter(|c| c.is_ascii_lowercase() || *c == '_')
                    .take(64)
                    .collect();
                self.finish_flow(&flow, FlowStatus::failed(&code), None)
                    .await?;
                return Err(AuthError::AuthorizationDenied { code });
            }
        };
        let grant_id = GrantId::generate();
        let claimed = self
            .finish_flow(&flow, FlowStatus::Completed, Some(grant_id.clone()))
            .await?;
        match self.exchange(&claimed, grant_id, &code, now).await {
            Ok(grant) => Ok(GrantView::from(&grant)),
            Err(err) => {
                let reason = format!("code exchange failed: {}", err.code());
                // Best effort: the exchange's error is the answer either way.
                if let Err(mark) = self
                    .finish_flow(&claimed, FlowStatus::failed(&reason), None)
                    .await
                {
                    tracing::warn!(flow = %claimed.id, error = %mark, "marking a flow failed");
                }
                Err(err)
            }
        }
    }

    async fn finish_flow(
        &self,
        flow: &Flow,
        status: FlowStatus,
        grant_id: Option<GrantId>,
    ) -> Result<Flow, AuthError> {
        let mut next = flow.clone();
        next.status = status;
        next.grant_id = grant_id;
        match self.catalog.flow_update(&next, flow.revision).await {
            Ok(stored) => Ok(stored),
            // Someone else finished it first: this callback lost the single use.
            Err(CatalogError::Conflict { .. }) => Err(AuthError::FlowNotPending),
            Err(err) => Err(err.into()),
        }
    }

    async fn exchange(
        &self,
        flow: &Flow,
        grant_id: GrantId,
        code: &SecretString,
        now: u64,
    ) -> Result<Grant, AuthError> {
        let verifier = self.keyring.open_string(
            self.context(Purpose::PkceVerifier, flow.id.as_str()),
            &flow.verifier,
        )?;
        let client_secret = flow
            .client_secret
            .as_ref()
            .map(|s| {
                self.keyring
                    .open_string(self.context(Purpose::ClientSecret, flow.id.as_str()), s)
            })
            .transpose()?;
        let tokens = self
            .oauth
            .exchange_code(
                &flow.spec.token_endpoint,
                &ClientAuth {
                    client_id: &flow.spec.client_id,
                    client_secret: client_secret.as_ref(),
                },
                code,
                &verifier,
                &flow.spec.redirect_uri,
                &flow.spec.resource,
            )
            .await?;
        let at = |purpose| self.context(purpose, grant_id.as_str());
        let sealed = GrantSealed {
            access_token: Some(
                self.keyring
                    .seal_str(at(Purpose::AccessToken), &tokens.access_token)?,
            ),
            refresh_token: tokens
                .refresh_token
                .as_ref()
                .map(|t| self.keyring.seal_str(at(Purpose::RefreshToken), t))
                .transpose()?,
            client_secret: client_secret
                .as_ref()
                .map(|s| self.keyring.seal_str(at(Purpose::ClientSecret), s))
                .transpose()?,
        };
        let scopes = match &tokens.scope {
            Some(scope) => scope
                .split_whitespace()
                .take(self.limits.scopes_max)
                .map(str::to_owned)
                .collect(),
            None => flow.spec.scopes.clone(),
        };
        let grant = Grant {
            id: grant_id,
            name: flow.spec.grant_name.clone(),
            status: GrantStatus::Active,
            revision: REVISION_INITIAL,
            created_at_ms: now,
            updated_at_ms: now,
            kind: GrantKind::Oauth {
                expires_at_ms: tokens
                    .expires_in_s
                    .map(|s| now.saturating_add(s.saturating_mul(1_000))),
                token_endpoint: flow.spec.token_endpoint.clone(),
                revocation_endpoint: flow.spec.revocation_endpoint.clone(),
                client_id: flow.spec.client_id.clone(),
                scopes,
                resource: flow.spec.resource.clone(),
            },
            sealed,
        };
        self.catalog
            .grant_create(&grant, self.limits.grants_max)
            .await?;
        Ok(grant)
    }

    pub async fn list_grants(&self) -> Result<Vec<GrantView>, AuthError> {
        Ok(self
            .catalog
            .grant_list()
            .await?
            .iter()
            .map(GrantView::from)
            .collect())
    }

    pub async fn read_grant(&self, id: &str) -> Result<GrantView, AuthError> {
        let id = GrantId::new(id)?;
        let grant = self.grant(&id).await?;
        Ok(GrantView::from(&grant))
    }

    async fn grant(&self, id: &GrantId) -> Result<Grant, AuthError> {
        self.catalog
            .grant_get(id)
            .await?
            .ok_or_else(|| AuthError::NotFound {
                what: "grant",
                id: id.to_string(),
            })
    }

    /// Marks the grant revoked and drops its sealed tokens, then asks the server to
    /// revoke the refresh (else access) token when it offers RFC 7009 (best effort).
    pub async fn revoke_grant(&self, id: &str) -> Result<GrantView, AuthError> {
        let id = GrantId::new(id)?;
        // Bounded retries: each conflict means another writer moved the grant.
        for _ in 0..4 {
            let grant = self.grant(&id).await?;
            let mut next = grant.clone();
            next.status = GrantStatus::Revoked;
            next.sealed = GrantSealed::default();
            next.updated_at_ms = now_ms();
            match self.catalog.grant_update(&next, grant.revision).await {
                Ok(stored) => {
                    self.revoke_at_server(&grant).await;
                    return Ok(GrantView::from(&stored));
                }
                Err(CatalogError::Conflict { .. }) => continue,
                Err(err) => return Err(err.into()),
            }
        }
        Err(AuthError::Catalog(CatalogError::Conflict {
            what: "grant",
            id: id.to_string(),
            expected: 0,
            actual: 0,
        }))
    }

    async fn revoke_at_server(&self, grant: &Grant) {
        let GrantKind::Oauth {
            revocation_endpoint: Some(endpoint),
            client_id,
            ..
        } = &grant.kind
        else {
            return;
        };
        let at = |purpose| self.context(purpose, grant.id.as_str());
        let (token, hint) = match (&grant.sealed.refresh_token, &grant.sealed.access_token) {
            (Some(refresh), _) => (
                self.keyring.open_string(at(Purpose::RefreshToken), refresh),
                "refresh_token",
            ),
            (None, Some(access)) => (
                self.keyring.open_string(at(Purpose::AccessToken), access),
                "access_token",
            ),
            (None, None) => return,
        };
        let client_secret = grant
            .sealed
            .client_secret
            .as_ref()
            .and_then(|s| self.keyring.open_string(at(Purpose::ClientSecret), s).ok());
        let result = match token {
            Ok(token) => self
                .oauth
                .revoke(
                    endpoint,
                    &ClientAuth {
                        client_id,
                        client_secret: client_secret.as_ref(),
                    },
                    &token,
                    hint,
                )
                .await
                .map_err(AuthError::from),
            Err(err) => Err(err.into()),
        };
        if let Err(err) = result {
            tracing::warn!(grant = %grant.id, code = err.code(), "revoking a grant's token at its server failed");
        }
    }

    /// The value of secret `name`, for a host that sends it where it was configured
    /// to go (an MCP server's header or a stdio child's environment), at call time.
    /// Never for a client: no API method returns it.
    pub async fn secret_value(&self, name: &str) -> Result<SecretString, AuthError> {
        self.open_secret(&SecretName::new(name)?).await
    }

    async fn open_secret(&self, name: &SecretName) -> Result<SecretString, AuthError> {
        let secret = self
            .catalog
            .secret_get(name)
            .await?
            .ok_or_else(|| AuthError::NotFound {
                what: "secret",
                id: name.to_string(),
            })?;
        Ok(self
            .keyring
            .open_string(self.context(Purpose::Secret, name.as_str()), &secret.value)?)
    }
}

/// An HTTP field name (RFC 9110 token), bounded.
fn valid_header_name(name: &str, bytes_max: usize) -> bool {
    !name.is_empty()
        && name.len() <= bytes_max
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
