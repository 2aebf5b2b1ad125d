//! create / count_tokens against the in-test server: paths, headers, verbatim bodies,
//! error classification, timeouts. Shared helpers for `stream.rs`.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use llm_clients::{
    ApiKey, ApiKind, ErrorKind, EventStream, LlmError, ProviderClient, ProviderConfig, SseEvent,
};

use crate::server::{delayed, json, json_with, serve};

pub(crate) const OPENAI_KEY: &str = "sk-test-openai-0123456789abcd";
pub(crate) const ANTHROPIC_KEY: &str = "sk-ant-test-0123456789wxyz";

pub(crate) fn client(kind: ApiKind, base_url: String, keys: &[&str]) -> ProviderClient {
    let mut config = ProviderConfig::new("test", kind);
    config.base_url = base_url;
    config.api_keys = keys.iter().map(|key| ApiKey::new(*key)).collect();
    ProviderClient::new(config).unwrap()
}

pub(crate) fn with_config(mut config: ProviderConfig, base_url: String) -> ProviderClient {
    config.base_url = base_url;
    ProviderClient::new(config).unwrap()
}

pub(crate) async fn collect(stream: EventStream) -> Vec<Result<SseEvent, LlmError>> {
    stream.collect().await
}

pub(crate) fn event(event: &str, data: &str) -> SseEvent {
    SseEvent {
        event: event.to_owned(),
        data: data.to_owned(),
    }
}

#[tokio::test]
async fn responses_create_sends_body_verbatim_with_bearer_auth() {
    let server =
        serve(|_| json_with(200, &[("x-request-id", "req_1")], r#"{"id":"resp_1"}"#)).await;
    let mut config = ProviderConfig::new("openai", ApiKind::OpenAiResponses);
    config.api_keys = vec![ApiKey::new(OPENAI_KEY)];
    config.extra_headers = vec![
        ("x-extra".to_owned(), "1".to_owned()),
        ("x-extra".to_owned(), "2".to_owned()),
    ];
    // Trailing slash tolerated.
    let client = with_config(config, format!("{}/v1/", server.origin));
    // Odd spacing and key order must survive: the client never re-serialises.
    let body = Bytes::from_static(b"{ \"model\":\"m\",  \"input\" : [1,2] ,\"a\":{}}");
    let response = client.create(body.clone()).await.unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.request_id.as_deref(), Some("req_1"));
    assert_eq!(response.body, Bytes::from_static(br#"{"id":"resp_1"}"#));

    let [request] = server.requests().try_into().unwrap();
    assert_eq!(request.path, "/v1/responses");
    assert_eq!(request.body, body);
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {OPENAI_KEY}").as_str())
    );
    assert_eq!(request.header("content-type"), Some("application/json"));
    assert_eq!(request.header("x-api-key"), None);
    assert_eq!(request.header("anthropic-version"), None);
    let extras: Vec<_> = request.headers.get_all("x-extra").iter().collect();
    assert_eq!(extras, ["1", "2"]);
}

#[tokio::test]
async fn chat_completions_without_keys_sends_no_auth() {
    let server = serve(|_| json(200, "{}")).await;
    let client = client(
        ApiKind::OpenAiCompletions,
        format!("{}/v1", server.origin),
        &[],
    );
    assert_eq!(client.key_count(), 0);
    client.create("{}".into()).await.unwrap();
    let [request] = server.requests().try_into().unwrap();
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("x-api-key"), None);
}

#[tokio::test]
async fn base_url_joining_keeps_path_prefixes() {
    let server = serve(|_| json(200, "{}")).await;
    let cases = [
        (
            ApiKind::OpenAiResponses,
            "/openai/v1//",
            "/openai/v1/responses",
        ),
        (
            ApiKind::OpenAiCompletions,
            "/api/v1",
            "/api/v1/chat/completions",
        ),
        (ApiKind::AnthropicMessages, "", "/v1/messages"),
        (ApiKind::AnthropicMessages, "/", "/v1/messages"),
        (
            ApiKind::AnthropicMessages,
            "/proxy/anthropic/",
            "/proxy/anthropic/v1/messages",
        ),
    ];
    for (kind, suffix, _) in cases {
        let client = client(kind, format!("{}{suffix}", server.origin), &[]);
        client.create("{}".into()).await.unwrap();
    }
    let paths: Vec<_> = server.requests().into_iter().map(|r| r.path).collect();
    let expected: Vec<_> = cases.iter().map(|(_, _, path)| path.to_owned()).collect();
    assert_eq!(paths, expected);
}

#[tokio::test]
async fn anthropic_headers_create_and_count_tokens() {
    let server = serve(|request| match request.path.as_str() {
        "/v1/messages/count_tokens" => json(200, r#"{"input_tokens":12}"#),
        _ => json_with(200, &[("request-id", "req_ant")], r#"{"type":"message"}"#),
    })
    .await;
    let mut config = ProviderConfig::new("anthropic", ApiKind::AnthropicMessages);
    config.api_keys = vec![ApiKey::new(ANTHROPIC_KEY)];
    config.anthropic_version = "2099-01-01".to_owned();
    config.extra_headers = vec![("anthropic-beta".to_owned(), "tools-1".to_owned())];
    let client = with_config(config, server.origin.clone());

    let response = client.create("{\"max_tokens\":1}".into()).await.unwrap();
    assert_eq!(response.request_id.as_deref(), Some("req_ant"));
    let counted = client
        .count_tokens("{\"messages\":[]}".into())
        .await
        .unwrap();
    assert_eq!(counted.body, Bytes::from_static(br#"{"input_tokens":12}"#));

    let requests = server.requests();
    let paths: Vec<_> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/v1/messages", "/v1/messages/count_tokens"]);
    for request in &requests {
        assert_eq!(request.header("x-api-key"), Some(ANTHROPIC_KEY));
        assert_eq!(request.header("anthropic-version"), Some("2099-01-01"));
        assert_eq!(request.header("anthropic-beta"), Some("tools-1"));
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("authorization"), None);
    }
    assert_eq!(requests[1].body, Bytes::from_static(b"{\"messages\":[]}"));
}

#[tokio::test]
async fn create_error_is_classified_and_scrubbed() {
    // A misbehaving server that echoes the key back must not leak it into the error.
    let body = format!(
        r#"{{"error":{{"message":"Incorrect API key provided: {OPENAI_KEY}","type":"invalid_request_error","code":"invalid_api_key"}}}}"#
    );
    let server = serve(move |_| json_with(401, &[("x-request-id", "req_401")], &body)).await;
    let client = client(
        ApiKind::OpenAiResponses,
        server.origin.clone(),
        &[OPENAI_KEY],
    );
    let error = client.create("{}".into()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Auth);
    assert_eq!(error.status, Some(401));
    assert_eq!(error.provider_code.as_deref(), Some("invalid_api_key"));
    assert_eq!(error.request_id.as_deref(), Some("req_401"));
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(OPENAI_KEY), "{shown}");
    // Not even a fragment of the key (the provider's message quotes one).
    assert!(!error.message.contains("abcd"), "{}", error.message);
    assert!(
        error.message.contains("refused the API key"),
        "{}",
        error.message
    );
}

#[tokio::test]
async fn request_timeout_bounds_create_and_stream_headers() {
    let server = serve(|_| delayed(Duration::from_secs(5), json(200, "{}"))).await;
    let mut config = ProviderConfig::new("slow", ApiKind::OpenAiResponses);
    config.request_timeout = Duration::from_millis(200);
    let client = with_config(config, server.origin.clone());
    let error = client.create("{}".into()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
    let Err(error) = client.stream("{}".into()).await else {
        panic!("expected an error")
    };
    assert_eq!(error.kind, ErrorKind::Timeout, "{error}");
}

#[tokio::test]
async fn connection_refused_is_transport() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let client = client(ApiKind::OpenAiCompletions, origin, &[]);
    let error = client.create("{}".into()).await.unwrap_err();
    assert_eq!(error.kind, ErrorKind::Transport, "{error}");
    assert!(error.is_retryable());
}
