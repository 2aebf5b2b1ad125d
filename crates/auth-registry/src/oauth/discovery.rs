//! MCP authorization discovery: the resource's protected-resource metadata
//! (RFC 9728), then its authorization server's metadata (RFC 8414, falling back to
//! OpenID Connect discovery).

use reqwest::Url;
use serde::Deserialize;

use super::http::{checked_url, decode};
use super::{OAuthClient, OAuthError};

/// What a flow needs from the authorization server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub registration_endpoint: Option<String>,
    pub revocation_endpoint: Option<String>,
    pub scopes_supported: Vec<String>,
}

#[derive(Deserialize)]
struct ResourceMetadata {
    #[serde(default)]
    authorization_servers: Vec<String>,
}

#[derive(Deserialize)]
struct AsMetadata {
    issuer: Option<String>,
    authorization_endpoint: String,
    token_endpoint: String,
    registration_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    #[serde(default)]
    scopes_supported: Vec<String>,
    #[serde(default)]
    code_challenge_methods_supported: Option<Vec<String>>,
}

/// Most discovery documents tried for one resource: bounds the work a hostile
/// resource can cause.
const WELL_KNOWN_TRIES_MAX: usize = 3;

impl OAuthClient {
    /// Discovers the authorization server of the MCP server at `resource`.
    pub async fn discover(&self, resource: &str) -> Result<ServerMetadata, OAuthError> {
        let resource_url = checked_url("resource", resource)?;
        let issuer = match self.resource_metadata(&resource_url).await? {
            Some(metadata) => metadata
                .authorization_servers
                .into_iter()
                .next()
                .ok_or_else(|| OAuthError::Discovery {
                    reason: "protected-resource metadata names no authorization server".into(),
                })?,
            // MCP's fallback for servers without RFC 9728: the resource's origin is
            // its own authorization server.
            None => origin(&resource_url),
        };
        self.server_metadata(&issuer).await
    }

    /// RFC 9728: the `resource_metadata` of a 401's `WWW-Authenticate`, else the
    /// well-known document at the resource's origin (path-suffixed first).
    async fn resource_metadata(
        &self,
        resource: &Url,
    ) -> Result<Option<ResourceMetadata>, OAuthError> {
        let what = "protected-resource metadata";
        let probe = self.http().get(resource.clone());
        let (response, _) = self.send("probe the resource", probe).await?;
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            let hinted = response
                .headers()
                .get_all("www-authenticate")
                .iter()
                .filter_map(|value| value.to_str().ok())
                .find_map(resource_metadata_param);
            if let Some(url) = hinted {
                let url = checked_url(what, &url)?;
                return self.get_json(what, &url).await.map(Some);
            }
        }
        for url in well_known_urls(resource, "oauth-protected-resource")
            .into_iter()
            .take(WELL_KNOWN_TRIES_MAX)
        {
            match self.get_json::<ResourceMetadata>(what, &url).await {
                Ok(metadata) => return Ok(Some(metadata)),
                Err(OAuthError::Status { .. }) => continue,
                Err(other) => return Err(other),
            }
        }
        Ok(None)
    }

    /// RFC 8414 at the issuer (path-inserted), then OpenID discovery (inserted, then
    /// appended, as servers deploy both).
    pub async fn server_metadata(&self, issuer: &str) -> Result<ServerMetadata, OAuthError> {
        let what = "authorization-server metadata";
        let issuer_url = checked_url("issuer", issuer)?;
        let mut candidates = well_known_urls(&issuer_url, "oauth-authorization-server");
        candidates.truncate(1);
        candidates.extend(
            well_known_urls(&issuer_url, "openid-configuration")
                .into_iter()
                .take(1),
        );
        if issuer_url.path() != "/" && !issuer_url.path().is_empty() {
            let appended = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            candidates.push(checked_url(what, &appended)?);
        }
        for url in candidates {
            match self.send(what, self.http().get(url.clone())).await {
                Ok((response, body)) if response.status() == reqwest::StatusCode::OK => {
                    let metadata: AsMetadata = decode(what, &body)?;
                    return to_server_metadata(issuer, metadata);
                }
                Ok(_) => continue,
                Err(err) => return Err(err),
            }
        }
        Err(OAuthError::Discovery {
            reason: "no authorization-server metadata at the issuer".into(),
        })
    }
}

fn to_server_metadata(issuer: &str, metadata: AsMetadata) -> Result<ServerMetadata, OAuthError> {
    // OAuth 2.1 requires PKCE; a server that lists methods without S256 cannot do it.
    if let Some(methods) = &metadata.code_challenge_methods_supported
        && !methods.iter().any(|m| m == "S256")
    {
        return Err(OAuthError::Discovery {
            reason: "the authorization server does not support PKCE S256".into(),
        });
    }
    let endpoint = |what, url: String| checked_url(what, &url).map(|_| url);
    Ok(ServerMetadata {
        issuer: metadata.issuer.unwrap_or_else(|| issuer.to_owned()),
        authorization_endpoint: endpoint(
            "authorization endpoint",
            metadata.authorization_endpoint,
        )?,
        token_endpoint: endpoint("token endpoint", metadata.token_endpoint)?,
        registration_endpoint: metadata
            .registration_endpoint
            .map(|url| endpoint("registration endpoint", url))
            .transpose()?,
        revocation_endpoint: metadata
            .revocation_endpoint
            .map(|url| endpoint("revocation endpoint", url))
            .transpose()?,
        scopes_supported: metadata.scopes_supported,
    })
}

fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// `{origin}/.well-known/{name}{path}` (when the URL has a path), then
/// `{origin}/.well-known/{name}`.
fn well_known_urls(url: &Url, name: &str) -> Vec<Url> {
    let origin = origin(url);
    let path = url.path().trim_end_matches('/');
    let mut urls = Vec::with_capacity(2);
    if !path.is_empty() {
        urls.extend(Url::parse(&format!("{origin}/.well-known/{name}{path}")).ok());
    }
    urls.extend(Url::parse(&format!("{origin}/.well-known/{name}")).ok());
    urls
}

/// The `resource_metadata` parameter of a `Bearer` challenge, if any.
fn resource_metadata_param(header: &str) -> Option<String> {
    let rest = header.trim_start();
    let scheme_end = rest.find(char::is_whitespace).unwrap_or(rest.len());
    if !rest[..scheme_end].eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut params = &rest[scheme_end..];
    // Bounded: each step consumes at least one byte of the header.
    while !params.trim_start().is_empty() {
        params = params.trim_start().trim_start_matches(',').trim_start();
        let eq = params.find('=')?;
        let key = params[..eq].trim();
        let after = &params[eq + 1..];
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let end = quoted.find('"')?;
            (&quoted[..end], &quoted[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        if key.eq_ignore_ascii_case("resource_metadata") {
            return Some(value.to_owned());
        }
        params = next;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_resource_metadata_in_a_bearer_challenge() {
        assert_eq!(
            resource_metadata_param(
                r#"Bearer realm="mcp", error="invalid_token", resource_metadata="https://a.example/.well-known/oauth-protected-resource/mcp""#
            )
            .as_deref(),
            Some("https://a.example/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            resource_metadata_param("Bearer resource_metadata=https://x/y").as_deref(),
            Some("https://x/y")
        );
        assert_eq!(resource_metadata_param(r#"Basic realm="x""#), None);
        assert_eq!(
            resource_metadata_param(r#"Bearer realm="unterminated"#),
            None
        );
    }

    #[test]
    fn well_known_urls_try_the_path_suffixed_form_first() {
        let url =
            Url::parse("https://h.example:8443/tenant/mcp").unwrap_or_else(|_| unreachable!());
        let urls: Vec<String> = well_known_urls(&url, "oauth-protected-resource")
            .iter()
            .map(Url::to_string)
            .collect();
        assert_eq!(
            urls,
            [
                "https://h.example:8443/.well-known/oauth-protected-resource/tenant/mcp",
                "https://h.example:8443/.well-known/oauth-protected-resource",
            ]
        );
    }
}
