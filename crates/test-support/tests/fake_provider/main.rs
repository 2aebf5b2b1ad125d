//! The fake provider over real HTTP: every endpoint streaming and not, scripted errors,
//! script semantics, replay, record, the binary, and the committed replay fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod anthropic;
mod binary;
mod chat;
mod fixtures;
mod record;
mod replay;
mod responses;
mod script;

use reqwest::header::HeaderMap;
use serde_json::Value;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider, Script};

/// Starts a server serving `script` (a `{"turns": [...]}` JSON value).
pub(crate) async fn start(script: Value) -> RunningFakeProvider {
    let script: Script = serde_json::from_value(script).unwrap();
    FakeProvider::start(FakeProviderConfig {
        script: Some(script),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap()
}

/// Starts a server without a script (it echoes).
pub(crate) async fn start_echo() -> RunningFakeProvider {
    FakeProvider::start(FakeProviderConfig::default())
        .await
        .unwrap()
}

/// A finished HTTP exchange.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) text: String,
}

impl Answer {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap()
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|value| value.to_str().unwrap())
    }

    pub(crate) fn events(&self) -> Vec<Sse> {
        assert_eq!(self.header("content-type"), Some("text/event-stream"));
        parse_sse(&self.text)
    }
}

/// POSTs `body` to `http://ADDR{path}`.
pub(crate) async fn post(server: &RunningFakeProvider, path: &str, body: &Value) -> Answer {
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", server.addr()))
        .header("authorization", "Bearer sk-test-secret")
        .json(body)
        .send()
        .await
        .unwrap();
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        text: response.text().await.unwrap(),
    }
}

/// One SSE event: its `event:` name (if any) and `data:` payload.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Sse {
    pub(crate) event: Option<String>,
    pub(crate) data: String,
}

impl Sse {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// Parses an SSE body (frames separated by blank lines).
pub(crate) fn parse_sse(text: &str) -> Vec<Sse> {
    text.split("\n\n")
        .filter(|frame| !frame.trim().is_empty())
        .map(|frame| {
            let mut event = None;
            let mut data = Vec::new();
            for line in frame.lines() {
                if let Some(name) = line.strip_prefix("event: ") {
                    event = Some(name.to_owned());
                } else if let Some(payload) = line.strip_prefix("data: ") {
                    data.push(payload);
                } else {
                    panic!("unexpected SSE line {line:?}");
                }
            }
            Sse {
                event,
                data: data.join("\n"),
            }
        })
        .collect()
}

/// The `type` of each event's data, checking it agrees with the `event:` name.
pub(crate) fn event_types(events: &[Sse]) -> Vec<String> {
    events
        .iter()
        .map(|sse| {
            let kind = sse.json()["type"].as_str().unwrap().to_owned();
            assert_eq!(sse.event.as_deref(), Some(kind.as_str()));
            kind
        })
        .collect()
}
