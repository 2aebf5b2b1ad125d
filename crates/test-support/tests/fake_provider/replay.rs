//! `--replay`: recorded responses served verbatim, in file-name order.

use std::path::PathBuf;

use bytes::Bytes;
use serde_json::json;
use test_support::fake_provider::{
    FakeProvider, FakeProviderConfig, FakeProviderError, ReplayEntry,
};

pub(crate) fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/replay")
}

async fn start_replay(dir: PathBuf) -> test_support::fake_provider::RunningFakeProvider {
    FakeProvider::start(FakeProviderConfig {
        replay_dir: Some(dir),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn serves_files_verbatim_in_name_order_then_reports_exhaustion() {
    let dir = tempfile::tempdir().unwrap();
    let sse = ReplayEntry {
        status: 200,
        headers: vec![
            ("content-type".into(), "text/event-stream".into()),
            ("x-custom".into(), "kept".into()),
            ("content-length".into(), "999".into()),
        ],
        body: Bytes::from_static(b"event: ping\ndata: {\"type\":\"ping\"}\n\n   odd bytes\n"),
    };
    let error = ReplayEntry {
        status: 429,
        headers: vec![("retry-after".into(), "4".into())],
        body: Bytes::from_static(b"{ \"error\" :  {\"message\": \"slow down\"}}"),
    };
    // Written out of order; names decide.
    std::fs::write(dir.path().join("b-error"), error.to_file_bytes()).unwrap();
    std::fs::write(dir.path().join("a-stream"), sse.to_file_bytes()).unwrap();
    std::fs::write(dir.path().join(".hidden"), b"not a replay file").unwrap();
    std::fs::create_dir(dir.path().join("c-dir")).unwrap();

    let server = start_replay(dir.path().to_path_buf()).await;
    let client = reqwest::Client::new();
    let first = client
        .post(format!("{}/messages", server.anthropic_base_url() + "/v1"))
        .json(&json!({"stream": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["content-type"], "text/event-stream");
    assert_eq!(first.headers()["x-custom"], "kept");
    assert_ne!(
        first.headers().get("content-length").map(|v| v.as_bytes()),
        Some(&b"999"[..])
    );
    assert_eq!(first.bytes().await.unwrap(), sse.body);

    // Any endpoint, even an unknown one, takes the next file.
    let second = client
        .get(format!("http://{}/anything", server.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(second.status(), 429);
    assert_eq!(second.headers()["retry-after"], "4");
    assert_eq!(second.bytes().await.unwrap(), error.body);

    let third = client
        .post(format!("{}/responses", server.openai_base_url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 500);
    let body: serde_json::Value = third.json().await.unwrap();
    assert_eq!(body["error"]["code"], "replay_exhausted");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("all 2 recorded responses")
    );
}

#[tokio::test]
async fn committed_fixtures_replay_byte_for_byte() {
    let server = start_replay(fixtures_dir()).await;
    let client = reqwest::Client::new();
    let mut names: Vec<_> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let entry =
            ReplayEntry::parse(&std::fs::read(fixtures_dir().join(&name)).unwrap()).unwrap();
        let response = client
            .post(format!("{}/responses", server.openai_base_url()))
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), entry.status, "{name:?}");
        assert_eq!(response.bytes().await.unwrap(), entry.body, "{name:?}");
    }
}

#[tokio::test]
async fn malformed_replay_files_fail_at_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("01-bad"), b"{\"status\": \"ok\"}\nbody").unwrap();
    let error = FakeProvider::start(FakeProviderConfig {
        replay_dir: Some(dir.path().to_path_buf()),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap_err();
    assert!(matches!(error, FakeProviderError::ReplayFile { .. }));
    assert!(error.to_string().contains("01-bad"), "{error}");
}
