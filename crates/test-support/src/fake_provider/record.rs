//! Recording received requests: one JSON line per request in the `--record` file, and an
//! in-memory copy for [`super::RunningFakeProvider::requests`]. Secret headers are
//! redacted; the exact body text is kept in `raw_body` so tests can check that provider
//! items round-trip byte for byte.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use axum::http::request::Parts;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::FakeProviderError;

/// Replaces the value of every secret header.
pub const REDACTED: &str = "[redacted]";

/// One received request, as written to the record file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecordedRequest {
    /// The URI path, without the query.
    pub path: String,
    pub method: String,
    /// Lower-case names; repeated headers joined with `, `; secrets are [`REDACTED`].
    pub headers: BTreeMap<String, String>,
    /// The parsed JSON body, or the body text when it is not JSON.
    pub body: Value,
    /// The exact body bytes as UTF-8 (lossy for invalid UTF-8).
    pub raw_body: String,
}

impl RecordedRequest {
    pub(crate) fn new(parts: &Parts, body: &[u8]) -> Self {
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        for (name, value) in &parts.headers {
            let value = if is_secret_header(name.as_str()) {
                REDACTED.to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            headers
                .entry(name.as_str().to_owned())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(&value);
                })
                .or_insert(value);
        }
        let raw_body = String::from_utf8_lossy(body).into_owned();
        let body = serde_json::from_slice(body).unwrap_or_else(|_| Value::String(raw_body.clone()));
        RecordedRequest {
            path: parts.uri.path().to_owned(),
            method: parts.method.as_str().to_owned(),
            headers,
            body,
            raw_body,
        }
    }
}

/// Whether a header's value is replaced by [`REDACTED`]: `authorization`,
/// `proxy-authorization`, `cookie`, and any name containing `key`, `token` or `secret`
/// (`x-api-key`, `api-key`, …).
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization" | "proxy-authorization" | "cookie"
    ) || ["key", "token", "secret"]
        .iter()
        .any(|part| name.contains(part))
}

/// Appends to the record file and keeps the newest requests in memory.
#[derive(Debug)]
pub(crate) struct Recorder {
    file: Option<(PathBuf, tokio::sync::Mutex<tokio::fs::File>)>,
    kept: Mutex<VecDeque<RecordedRequest>>,
    kept_max: usize,
}

impl Recorder {
    pub(crate) async fn open(
        path: Option<&Path>,
        kept_max: usize,
    ) -> Result<Self, FakeProviderError> {
        let file = match path {
            Some(path) => {
                let file = tokio::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .await
                    .map_err(|error| FakeProviderError::Io {
                        path: path.to_path_buf(),
                        error,
                    })?;
                Some((path.to_path_buf(), tokio::sync::Mutex::new(file)))
            }
            None => None,
        };
        Ok(Recorder {
            file,
            kept: Mutex::new(VecDeque::new()),
            kept_max,
        })
    }

    /// Writes the request's line (if recording to a file), then keeps it in memory. The
    /// file lock is held across both so the two orders agree.
    pub(crate) async fn record(&self, request: RecordedRequest) -> Result<(), FakeProviderError> {
        let _file_guard = match &self.file {
            Some((path, file)) => {
                let mut line = serde_json::to_string(&request).map_err(|source| {
                    FakeProviderError::Internal(format!("cannot serialize request: {source}"))
                })?;
                line.push('\n');
                let mut file = file.lock().await;
                let written = async {
                    file.write_all(line.as_bytes()).await?;
                    file.flush().await
                };
                written.await.map_err(|error| FakeProviderError::Io {
                    path: path.clone(),
                    error,
                })?;
                Some(file)
            }
            None => None,
        };
        if self.kept_max > 0 {
            let mut kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
            if kept.len() == self.kept_max {
                kept.pop_front();
            }
            kept.push_back(request);
        }
        Ok(())
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        let kept = self.kept.lock().unwrap_or_else(PoisonError::into_inner);
        kept.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_recognised_by_name() {
        for secret in [
            "Authorization",
            "x-api-key",
            "api-key",
            "x-goog-api-key",
            "x-auth-token",
            "client-secret",
            "cookie",
        ] {
            assert!(is_secret_header(secret), "{secret}");
        }
        for plain in [
            "content-type",
            "anthropic-version",
            "openai-beta",
            "user-agent",
        ] {
            assert!(!is_secret_header(plain), "{plain}");
        }
    }
}
