//! `--record`: one JSON line per request, secrets redacted, exact body kept.

use serde_json::{Value, json};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RecordedRequest, Script};

#[tokio::test]
async fn record_file_redacts_secrets_and_keeps_the_raw_body() {
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("requests.jsonl");
    std::fs::write(&record, "").unwrap();
    let server = FakeProvider::start(FakeProviderConfig {
        script: Some(Script::default()),
        record_file: Some(record.clone()),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    // Odd spacing, key order and escapes must survive in `raw_body`.
    let raw =
        "{ \"model\":\"m\",  \"stream\" : false, \"input\":\"caf\\u00e9 \u{1F600}\", \"a\":1.50 }";
    client
        .post(format!("{}/responses", server.openai_base_url()))
        .header("authorization", "Bearer sk-live")
        .header("x-api-key", "ant-key")
        .header("api-key", "azure-key")
        .header("x-custom-token", "tok")
        .header("openai-beta", "responses=v1")
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    client
        .post(format!(
            "{}/v1/messages/count_tokens",
            server.anthropic_base_url()
        ))
        .body("not json")
        .send()
        .await
        .unwrap();

    let text = std::fs::read_to_string(&record).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    let first = &lines[0];
    assert_eq!(first["path"], "/v1/responses");
    assert_eq!(first["method"], "POST");
    let headers = &first["headers"];
    for secret in ["authorization", "x-api-key", "api-key", "x-custom-token"] {
        assert_eq!(headers[secret], "[redacted]", "{secret}");
    }
    assert_eq!(headers["openai-beta"], "responses=v1");
    assert!(!text.contains("sk-live") && !text.contains("ant-key") && !text.contains("azure-key"));
    assert_eq!(first["body"]["input"], "café \u{1F600}");
    assert_eq!(first["raw_body"], raw);
    assert_eq!(lines[1]["path"], "/v1/messages/count_tokens");
    assert_eq!(lines[1]["body"], "not json");
    assert_eq!(lines[1]["raw_body"], "not json");

    // The in-memory copy is what the file holds.
    let from_file: Vec<RecordedRequest> = lines
        .into_iter()
        .map(|line| serde_json::from_value(line).unwrap())
        .collect();
    assert_eq!(server.requests(), from_file);
}

#[tokio::test]
async fn requests_keeps_only_the_newest() {
    let server = FakeProvider::start(FakeProviderConfig {
        requests_kept_max: 2,
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    for index in 0..3 {
        let body = json!({"messages": [{"role": "user", "content": format!("m{index}")}]});
        crate::post(&server, "/v1/messages", &body).await;
    }
    let kept: Vec<String> = server
        .requests()
        .iter()
        .map(|r| {
            r.body["messages"][0]["content"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(kept, ["m1", "m2"]);
    server.shutdown().await;
}
