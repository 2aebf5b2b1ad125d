//! What several case families share: the session config on the fake provider,
//! inputs, following a run, uploading files, and reading items out of events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

use super::client::{Conn, RUN_FINISHED};

/// Event pages [`Conn::read_until`] reads before it gives up (each waits up to 2 s).
const FOLLOW_PAGES_MAX: usize = 150;

/// A session config on the fake provider, with `tools.filesystem` = `filesystem`.
pub(crate) fn session_config(filesystem: &str) -> Value {
    json!({"model": {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"},
           "instructions": {"type": "text", "text": "Answer briefly."},
           "generation": {"reasoningEffort": "low"},
           "tools": {"filesystem": filesystem}})
}

/// One text input item.
pub(crate) fn text_input(text: &str) -> Value {
    json!([{"type": "text", "text": text}])
}

/// Helpers over the contract that several families share.
impl Conn {
    /// `session/start` with [`session_config`] (no file tools).
    pub async fn start_session(&self, session_id: &str) -> Value {
        let args = json!({"sessionId": session_id, "config": session_config("none")});
        self.call("session/start", args).await
    }

    /// `run/start` with one text item; the run id.
    pub async fn start_run(&self, session_id: &str, submission_id: &str, text: &str) -> String {
        let args = json!({"sessionId": session_id, "submissionId": submission_id,
                          "input": text_input(text)});
        let run = self.call("run/start", args).await;
        run["runId"].as_str().unwrap().to_owned()
    }

    /// Reads `session/events/read` (long-polling) from `cursor` until an event
    /// matches `done`; every event read, and the cursor after them.
    pub async fn read_until(
        &self,
        session_id: &str,
        mut cursor: u64,
        done: impl Fn(&Value) -> bool,
    ) -> (Vec<Value>, u64) {
        let mut events = Vec::new();
        for _ in 0..FOLLOW_PAGES_MAX {
            let args = json!({"sessionId": session_id, "cursor": cursor, "waitMs": 2_000});
            let page = self.call("session/events/read", args).await;
            cursor = page["nextCursor"].as_u64().unwrap();
            for event in page["events"].as_array().unwrap() {
                events.push(event.clone());
                if done(event) {
                    return (events, cursor);
                }
            }
        }
        panic!("no awaited event in {session_id}: {events:#?}");
    }

    /// `session/read` once its view covers `cursor`, an event the caller has read.
    /// The view may trail the event log for a moment (LocalApi publishes it after
    /// the step that committed the events); the contract only promises it catches up,
    /// so wait for that, generously.
    pub async fn read_session_at(&self, session_id: &str, cursor: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let view = self
                .call("session/read", json!({"sessionId": session_id}))
                .await;
            if view["eventCursor"].as_u64().unwrap() >= cursor {
                return view;
            }
            assert!(
                Instant::now() < deadline,
                "session/read never reached cursor {cursor}: {view}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Every event from the start until `run_id` finishes.
    pub async fn follow(&self, session_id: &str, run_id: &str) -> Vec<Value> {
        let finished = |e: &Value| e["kind"] == RUN_FINISHED && e["runId"] == run_id;
        self.read_until(session_id, 0, finished).await.0
    }

    /// Waits until `run_id` has planned a turn: its generation is under way.
    pub async fn wait_generating(&self, session_id: &str, run_id: &str) {
        let planned =
            |e: &Value| e["kind"] == "lightspeed.core.turn.planned" && e["runId"] == run_id;
        self.read_until(session_id, 0, planned).await;
    }

    /// `blob/put` of `bytes`; the ref.
    pub async fn put_blob(&self, bytes: &[u8]) -> String {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        let put = self.call("blob/put", json!({"dataBase64": data})).await;
        put["blobRef"].as_str().unwrap().to_owned()
    }

    /// Uploads `files` and commits them as a snapshot; its ref.
    pub async fn commit(&self, files: &[(&str, &str)]) -> String {
        let mut entries = Vec::new();
        for (path, text) in files {
            let blob_ref = self.put_blob(text.as_bytes()).await;
            entries.push(json!({"path": path, "blobRef": blob_ref, "sizeBytes": text.len()}));
        }
        let view = self
            .call("vfs/snapshot/commit", json!({"entries": entries}))
            .await;
        view["snapshotRef"].as_str().unwrap().to_owned()
    }

    /// Every file of a snapshot as (path, text), through `vfs/snapshot/read` and
    /// `blob/get`.
    pub async fn files(&self, snapshot_ref: &Value) -> Vec<(String, String)> {
        let tree = self
            .call("vfs/snapshot/read", json!({"snapshotRef": snapshot_ref}))
            .await;
        let mut files = Vec::new();
        for entry in tree["entries"].as_array().unwrap() {
            let blob = self
                .call("blob/get", json!({"blobRef": entry["blobRef"]}))
                .await;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(blob["dataBase64"].as_str().unwrap())
                .unwrap();
            let path = entry["path"].as_str().unwrap().to_owned();
            files.push((path, String::from_utf8(bytes).unwrap()));
        }
        files
    }
}

/// Every item the events added, in order.
pub(crate) fn items(events: &[Value]) -> Vec<Value> {
    events
        .iter()
        .flat_map(|event| event["items"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// The text of the last assistant message in `events`.
pub(crate) fn final_assistant_text(events: &[Value]) -> String {
    let items = items(events);
    let last = items
        .iter()
        .rev()
        .find(|item| item["type"] == "assistantMessage")
        .unwrap_or_else(|| panic!("no assistant message in {events:#?}"));
    last["text"].as_str().unwrap().to_owned()
}

/// The tool results of `events`: (name, status, output).
pub(crate) fn tool_results(events: &[Value]) -> Vec<(String, String, String)> {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
    items(events)
        .iter()
        .filter(|item| item["type"] == "toolCall" && item.get("result").is_some())
        .map(|item| {
            (
                text(&item["name"]),
                text(&item["result"]["status"]),
                text(&item["result"]["output"]),
            )
        })
        .collect()
}

/// The status of the run in its `run.finished` event.
pub(crate) fn finished_status(events: &[Value], run_id: &str) -> String {
    let finished = events
        .iter()
        .find(|e| e["kind"] == RUN_FINISHED && e["runId"] == run_id)
        .unwrap_or_else(|| panic!("{run_id} did not finish: {events:#?}"));
    finished["run"]["status"].as_str().unwrap().to_owned()
}
