//! Bounded HTTP: URL checks, capped body reads, JSON decoding without echoing input.

use std::net::IpAddr;

use reqwest::{RequestBuilder, Response, Url};
use serde::de::DeserializeOwned;

use super::{OAuthClient, OAuthError};

/// Parses `url` and refuses plain http to anything but a loopback host.
pub(crate) fn checked_url(what: &'static str, url: &str) -> Result<Url, OAuthError> {
    let parsed = Url::parse(url).map_err(|_| OAuthError::InvalidUrl {
        what,
        reason: "does not parse",
    })?;
    let Some(host) = parsed.host_str() else {
        return Err(OAuthError::InvalidUrl {
            what,
            reason: "no host",
        });
    };
    match parsed.scheme() {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => return Err(OAuthError::InsecureUrl { what }),
        _ => {
            return Err(OAuthError::InvalidUrl {
                what,
                reason: "scheme is not https",
            });
        }
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(OAuthError::InvalidUrl {
            what,
            reason: "credentials in the URL",
        });
    }
    Ok(parsed)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn transport(what: &'static str) -> impl FnOnce(reqwest::Error) -> OAuthError {
    move |err| OAuthError::Http {
        what,
        reason: if err.is_timeout() {
            "timed out"
        } else if err.is_connect() {
            "could not connect"
        } else {
            "transport error"
        },
    }
}

impl OAuthClient {
    /// Sends `request` and reads at most `response_bytes_max` of its body.
    pub(crate) async fn send(
        &self,
        what: &'static str,
        request: RequestBuilder,
    ) -> Result<(Response, Vec<u8>), OAuthError> {
        let mut response = request.send().await.map_err(transport(what))?;
        let bytes_max = self.limits.response_bytes_max;
        if response
            .content_length()
            .is_some_and(|len| len > bytes_max as u64)
        {
            return Err(OAuthError::TooLarge { what, bytes_max });
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport(what))? {
            if body.len() + chunk.len() > bytes_max {
                return Err(OAuthError::TooLarge { what, bytes_max });
            }
            body.extend_from_slice(&chunk);
        }
        Ok((response, body))
    }

    /// GETs `url` and decodes a 200 response as JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        what: &'static str,
        url: &Url,
    ) -> Result<T, OAuthError> {
        let request = self
            .http
            .get(url.clone())
            .header("accept", "application/json");
        let (response, body) = self.send(what, request).await?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(OAuthError::Status {
                what,
                status: response.status().as_u16(),
            });
        }
        decode(what, &body)
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// Decodes JSON; the error names the category and position only, since serde's
/// messages may quote the input (which can be a token).
pub(crate) fn decode<T: DeserializeOwned>(
    what: &'static str,
    body: &[u8],
) -> Result<T, OAuthError> {
    serde_json::from_slice(body).map_err(|err| OAuthError::Decode {
        what,
        reason: format!(
            "{:?} at line {} column {}",
            err.classify(),
            err.line(),
            err.column()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_everywhere_and_http_only_on_loopback() {
        for ok in [
            "https://mcp.example/mcp",
            "http://127.0.0.1:8080/x",
            "http://localhost/x",
            "http://[::1]:9/x",
        ] {
            assert!(checked_url("t", ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://mcp.example/mcp",
            "ftp://127.0.0.1/",
            "not a url",
            "https://user:pw@mcp.example/",
            "http://127.0.0.1.evil.example/",
        ] {
            assert!(checked_url("t", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decode_errors_do_not_quote_the_body() {
        #[derive(serde::Deserialize, Debug)]
        struct T {
            #[allow(dead_code)]
            n: u64,
        }
        let err = decode::<T>("t", br#"{"n":"secret-token-value"}"#).unwrap_err();
        assert!(!err.to_string().contains("secret-token-value"), "{err}");
    }
}
