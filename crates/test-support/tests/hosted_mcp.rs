//! Provider-hosted MCP end to end on the in-process host: a server whose credential
//! is a stored secret, linked `hosted`; the provider receives the server as an `mcp`
//! tool with the secret in its header, resolved from the universe's auth registry at
//! send time, and the session's own view never shows it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClientBuilder;
use serde_json::{Value, json};
use test_support::api_conformance::local::{LocalStack, LocalStackConfig, Quotas};
use test_support::rpc_client::{bearer_headers, params};

const SECRET: &str = "hosted-secret-0123456789";

#[tokio::test(flavor = "multi_thread")]
async fn the_provider_gets_the_server_and_its_credential_at_send_time() {
    let host = LocalStack::start(LocalStackConfig {
        script: json!({"turns": [{"text": "Asked the docs."}]}),
        universes: vec!["universe-a".into()],
        llm_attempts_max: 1,
        quotas: Quotas::default(),
    })
    .await
    .unwrap();
    let client = HttpClientBuilder::default()
        .set_headers(bearer_headers(&host.universes[0].1))
        .build(format!("http://{}/rpc", host.addr().unwrap()))
        .unwrap();
    let call = |method: &'static str, args: Value| {
        let client = &client;
        async move {
            let result: Value = client.request(method, params(args)).await.unwrap();
            result
        }
    };
    call(
        "auth/secrets/put",
        json!({"name": "docs-token", "value": SECRET}),
    )
    .await;
    call(
        "mcp/servers/put",
        json!({"name": "docs",
               "transport": {"type": "streamableHttp", "url": "https://mcp.example.com/mcp"},
               "auth": {"type": "secretHeader", "secret": "docs-token"}}),
    )
    .await;
    call(
        "session/start",
        json!({"sessionId": "hosted", "config": {"model":
            {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"}}}),
    )
    .await;
    let link = call(
        "session/mcp/link",
        json!({"sessionId": "hosted", "server": "docs", "mode": "hosted"}),
    )
    .await;
    assert!(!link.to_string().contains(SECRET));
    call(
        "run/start",
        json!({"sessionId": "hosted", "submissionId": "s1",
               "input": [{"type": "text", "text": "Ask the docs."}]}),
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let view = loop {
        let view = call("session/read", json!({"sessionId": "hosted"})).await;
        if view["activeRun"].is_null() && !view["lastRun"].is_null() {
            break view;
        }
        assert!(tokio::time::Instant::now() < deadline, "{view}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(view["lastRun"]["status"], "completed", "{view}");
    let requests = host.provider.requests();
    let tool = &requests.last().unwrap().body["tools"][0];
    assert_eq!(tool["type"], "mcp");
    assert_eq!(tool["server_label"], "docs");
    assert_eq!(tool["headers"]["Authorization"], format!("Bearer {SECRET}"));
    let events = call(
        "session/events/read",
        json!({"sessionId": "hosted", "cursor": 0}),
    )
    .await;
    assert!(!events.to_string().contains(SECRET));
}
