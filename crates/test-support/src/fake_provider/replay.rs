//! Replay files: recorded raw responses served verbatim, one per request, in file-name
//! order.
//!
//! Format: the first line is JSON `{"status": 200, "headers": [["content-type",
//! "text/event-stream"]]}`; every byte after that line's `\n` is the body, unchanged
//! (JSON, SSE, anything). Framing headers (`content-length`, `transfer-encoding`,
//! `connection`) are dropped when serving; the server frames the body itself.

use std::path::{Path, PathBuf};

use axum::http::{HeaderName, HeaderValue, StatusCode};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::FakeProviderError;

/// One recorded response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayEntry {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    status: u16,
    #[serde(default)]
    headers: Vec<(String, String)>,
}

/// Headers the server sets itself; replayed values would contradict the real framing.
const FRAMING_HEADERS: [&str; 3] = ["content-length", "transfer-encoding", "connection"];

impl ReplayEntry {
    /// Parses a replay file's bytes; the error says what is wrong.
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        let newline = bytes
            .iter()
            .position(|byte| *byte == b'\n')
            .ok_or("no newline after the JSON head line")?;
        let head: Head = serde_json::from_slice(&bytes[..newline])
            .map_err(|error| format!("bad head line: {error}"))?;
        StatusCode::from_u16(head.status).map_err(|_| format!("bad status {}", head.status))?;
        for (name, value) in &head.headers {
            HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("bad header name {name:?}"))?;
            HeaderValue::from_str(value).map_err(|_| format!("bad header value {value:?}"))?;
        }
        Ok(ReplayEntry {
            status: head.status,
            headers: head.headers,
            body: Bytes::copy_from_slice(&bytes[newline + 1..]),
        })
    }

    /// The file bytes [`ReplayEntry::parse`] reads back.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let head = Head {
            status: self.status,
            headers: self.headers.clone(),
        };
        // A struct of integers and strings always serializes.
        let mut bytes = serde_json::to_vec(&head).unwrap_or_default();
        bytes.push(b'\n');
        bytes.extend_from_slice(&self.body);
        bytes
    }

    /// Headers to send: the recorded ones minus framing headers.
    pub(crate) fn served_headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .filter(|(name, _)| !FRAMING_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }
}

/// The entries of a replay directory and how many have been served.
#[derive(Debug)]
pub(crate) struct ReplayQueue {
    pub(crate) dir: PathBuf,
    entries: Vec<ReplayEntry>,
    next: usize,
}

impl ReplayQueue {
    /// Loads every regular file in `dir` whose name does not start with `.`, sorted by
    /// file name.
    pub(crate) fn load(dir: &Path) -> Result<Self, FakeProviderError> {
        let io_error = |error| FakeProviderError::Io {
            path: dir.to_path_buf(),
            error,
        };
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io_error)? {
            let entry = entry.map_err(io_error)?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            if !hidden && entry.file_type().map_err(io_error)?.is_file() {
                paths.push(entry.path());
            }
        }
        paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        let mut entries = Vec::with_capacity(paths.len());
        for path in paths {
            let bytes = std::fs::read(&path).map_err(|error| FakeProviderError::Io {
                path: path.clone(),
                error,
            })?;
            let entry = ReplayEntry::parse(&bytes)
                .map_err(|reason| FakeProviderError::ReplayFile { path, reason })?;
            entries.push(entry);
        }
        Ok(ReplayQueue {
            dir: dir.to_path_buf(),
            entries,
            next: 0,
        })
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// The next entry, or `None` once all have been served.
    pub(crate) fn take(&mut self) -> Option<ReplayEntry> {
        let entry = self.entries.get(self.next)?.clone();
        self.next += 1;
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_keeps_the_body_verbatim() {
        let entry = ReplayEntry {
            status: 200,
            headers: vec![("content-type".into(), "text/event-stream".into())],
            body: Bytes::from_static(b"data: {}\n\n\ndata: [DONE]\n\n"),
        };
        assert_eq!(ReplayEntry::parse(&entry.to_file_bytes()).unwrap(), entry);
    }

    #[test]
    fn parse_rejects_bad_heads() {
        assert!(ReplayEntry::parse(b"{\"status\":200}").is_err());
        assert!(ReplayEntry::parse(b"{\"status\":20}\n").is_err());
        assert!(ReplayEntry::parse(b"{\"status\":200,\"headers\":[[\"a b\",\"c\"]]}\n").is_err());
        assert!(ReplayEntry::parse(b"{\"status\":200}\n").is_ok());
    }
}
