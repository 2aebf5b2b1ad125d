//! The authorization URL, dynamic client registration (RFC 7591), code exchange,
//! refresh (both with RFC 8707's `resource`) and revocation (RFC 7009).
//!
//! Clients with a secret authenticate with `client_secret_post`: one form, no second
//! encoding for a Basic header; public (registered) clients send only `client_id`.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;

use super::http::{checked_url, decode};
use super::{OAuthClient, OAuthError};

/// What a token endpoint granted. Debug redacts the tokens.
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub expires_in_s: Option<u64>,
    pub scope: Option<String>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("expires_in_s", &self.expires_in_s)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

/// A dynamically registered client.
pub struct Registration {
    pub client_id: String,
    pub client_secret: Option<SecretString>,
}

impl std::fmt::Debug for Registration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registration")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenBody {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
    scope: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

#[derive(Deserialize)]
struct RegistrationBody {
    client_id: String,
    client_secret: Option<String>,
}

/// Longest OAuth error code kept; longer or odd ones are reported as `unknown`.
const ERROR_CODE_BYTES_MAX: usize = 64;

/// An error response's `error` code, if it is a plausible one (RFC 6749 limits it to
/// printable ASCII; we keep `[a-z_]` so nothing odd reaches logs).
fn server_error(what: &'static str, status: u16, body: &[u8]) -> OAuthError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error })
            if !error.is_empty()
                && error.len() <= ERROR_CODE_BYTES_MAX
                && error.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
        {
            OAuthError::Server { what, code: error }
        }
        _ => OAuthError::Status { what, status },
    }
}

/// What the authorization URL carries.
#[derive(Debug)]
pub struct AuthorizeParams<'a> {
    pub authorization_endpoint: &'a str,
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub scopes: &'a [String],
    pub code_challenge: &'a str,
    pub resource: &'a str,
}

/// The client's identity on a token request.
#[derive(Debug)]
pub struct ClientAuth<'a> {
    pub client_id: &'a str,
    pub client_secret: Option<&'a SecretString>,
}

impl OAuthClient {
    /// The URL a person opens to authorize (response_type=code, PKCE S256, resource).
    pub fn authorization_url(
        &self,
        params: &AuthorizeParams<'_>,
        state: &SecretString,
    ) -> Result<String, OAuthError> {
        let mut url = checked_url("authorization endpoint", params.authorization_endpoint)?;
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", params.client_id)
                .append_pair("redirect_uri", params.redirect_uri)
                .append_pair("code_challenge", params.code_challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", state.expose_secret())
                .append_pair("resource", params.resource);
            if !params.scopes.is_empty() {
                query.append_pair("scope", &params.scopes.join(" "));
            }
        }
        Ok(url.into())
    }

    /// RFC 7591: registers a public client for `redirect_uri` (authorization code +
    /// refresh token, no client authentication).
    pub async fn register(
        &self,
        registration_endpoint: &str,
        redirect_uri: &str,
        client_name: &str,
    ) -> Result<Registration, OAuthError> {
        let what = "client registration";
        let url = checked_url(what, registration_endpoint)?;
        let body = serde_json::json!({
            "client_name": client_name,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        let request = self.http().post(url).json(&body);
        let (response, bytes) = self.send(what, request).await?;
        if !response.status().is_success() {
            return Err(server_error(what, response.status().as_u16(), &bytes));
        }
        let registered: RegistrationBody = decode(what, &bytes)?;
        if registered.client_id.is_empty() {
            return Err(OAuthError::Decode {
                what,
                reason: "empty client_id".into(),
            });
        }
        Ok(Registration {
            client_id: registered.client_id,
            client_secret: registered.client_secret.map(SecretString::from),
        })
    }

    /// Exchanges an authorization code (with its PKCE verifier) for tokens.
    pub async fn exchange_code(
        &self,
        token_endpoint: &str,
        client: &ClientAuth<'_>,
        code: &SecretString,
        verifier: &SecretString,
        redirect_uri: &str,
        resource: &str,
    ) -> Result<TokenSet, OAuthError> {
        let form = vec![
            ("grant_type", "authorization_code"),
            ("code", code.expose_secret()),
            ("code_verifier", verifier.expose_secret()),
            ("redirect_uri", redirect_uri),
            ("resource", resource),
        ];
        self.token_request("code exchange", token_endpoint, client, form)
            .await
    }

    /// Trades a refresh token for new tokens.
    pub async fn refresh(
        &self,
        token_endpoint: &str,
        client: &ClientAuth<'_>,
        refresh_token: &SecretString,
        resource: &str,
    ) -> Result<TokenSet, OAuthError> {
        let form = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose_secret()),
            ("resource", resource),
        ];
        self.token_request("token refresh", token_endpoint, client, form)
            .await
    }

    async fn token_request(
        &self,
        what: &'static str,
        token_endpoint: &str,
        client: &ClientAuth<'_>,
        mut form: Vec<(&str, &str)>,
    ) -> Result<TokenSet, OAuthError> {
        let url = checked_url("token endpoint", token_endpoint)?;
        form.push(("client_id", client.client_id));
        if let Some(secret) = client.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        let request = self
            .http()
            .post(url)
            .header("accept", "application/json")
            .form(&form);
        let (response, bytes) = self.send(what, request).await?;
        let bytes = zeroize::Zeroizing::new(bytes);
        if !response.status().is_success() {
            return Err(server_error(what, response.status().as_u16(), &bytes));
        }
        let body: TokenBody = decode(what, &bytes)?;
        if body.access_token.is_empty() {
            return Err(OAuthError::Decode {
                what,
                reason: "empty access_token".into(),
            });
        }
        Ok(TokenSet {
            access_token: SecretString::from(body.access_token),
            refresh_token: body.refresh_token.map(SecretString::from),
            expires_in_s: body.expires_in,
            scope: body.scope,
        })
    }

    /// RFC 7009 revocation of `token` (`hint`: `refresh_token` or `access_token`).
    pub async fn revoke(
        &self,
        revocation_endpoint: &str,
        client: &ClientAuth<'_>,
        token: &SecretString,
        hint: &str,
    ) -> Result<(), OAuthError> {
        let what = "token revocation";
        let url = checked_url(what, revocation_endpoint)?;
        let mut form = vec![
            ("token", token.expose_secret()),
            ("token_type_hint", hint),
            ("client_id", client.client_id),
        ];
        if let Some(secret) = client.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        let (response, bytes) = self.send(what, self.http().post(url).form(&form)).await?;
        if !response.status().is_success() {
            return Err(server_error(what, response.status().as_u16(), &bytes));
        }
        Ok(())
    }
}
