//! Live calls to the real provider APIs, with tiny prompts. Ignored by default; run with
//!
//! ```sh
//! OPENAI_API_KEY=... ANTHROPIC_API_KEY=... cargo test -p llm-clients --test all live -- --ignored
//! ```
//!
//! A test whose key variable is unset returns early. Models can be overridden with
//! `OPENAI_MODEL` (default `gpt-4.1-mini`) and `ANTHROPIC_MODEL` (default `claude-haiku-4-5`).

use futures::StreamExt;
use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};

fn live_client(kind: ApiKind, key_var: &str) -> Option<ProviderClient> {
    let Ok(key) = std::env::var(key_var) else {
        eprintln!("{key_var} not set: skipping");
        return None;
    };
    let mut config = ProviderConfig::new("live", kind);
    config.api_keys = vec![ApiKey::new(key)];
    Some(ProviderClient::new(config).unwrap())
}

fn openai_model() -> String {
    std::env::var("OPENAI_MODEL").unwrap_or_else(|_| "gpt-4.1-mini".to_owned())
}

fn anthropic_model() -> String {
    std::env::var("ANTHROPIC_MODEL").unwrap_or_else(|_| "claude-haiku-4-5".to_owned())
}

#[tokio::test]
#[ignore = "calls the real OpenAI API; needs OPENAI_API_KEY"]
async fn live_openai_responses() {
    let Some(client) = live_client(ApiKind::OpenAiResponses, "OPENAI_API_KEY") else {
        return;
    };
    let body = format!(
        r#"{{"model":"{}","input":"Say ok.","max_output_tokens":16}}"#,
        openai_model()
    );
    let response = client.create(body.into()).await.unwrap();
    assert_eq!(response.status, 200);
    assert!(response.request_id.is_some());
    let body = format!(
        r#"{{"model":"{}","input":"Say ok.","max_output_tokens":16,"stream":true}}"#,
        openai_model()
    );
    let events: Vec<_> = client.stream(body.into()).await.unwrap().collect().await;
    let last = events.last().unwrap().as_ref().unwrap();
    assert_eq!(last.event, "response.completed");
}

#[tokio::test]
#[ignore = "calls the real OpenAI API; needs OPENAI_API_KEY"]
async fn live_openai_chat_completions() {
    let Some(client) = live_client(ApiKind::OpenAiCompletions, "OPENAI_API_KEY") else {
        return;
    };
    let body = format!(
        r#"{{"model":"{}","messages":[{{"role":"user","content":"Say ok."}}],"max_completion_tokens":16,"stream":true}}"#,
        openai_model()
    );
    let events: Vec<_> = client.stream(body.into()).await.unwrap().collect().await;
    assert!(!events.is_empty());
    assert!(events.iter().all(Result::is_ok), "{events:?}");
}

#[tokio::test]
#[ignore = "calls the real Anthropic API; needs ANTHROPIC_API_KEY"]
async fn live_anthropic_messages_and_count_tokens() {
    let Some(client) = live_client(ApiKind::AnthropicMessages, "ANTHROPIC_API_KEY") else {
        return;
    };
    let messages = r#"[{"role":"user","content":"Say ok."}]"#;
    let model = anthropic_model();
    let counted = client
        .count_tokens(format!(r#"{{"model":"{model}","messages":{messages}}}"#).into())
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&counted.body).contains("input_tokens"));
    let body =
        format!(r#"{{"model":"{model}","max_tokens":16,"messages":{messages},"stream":true}}"#);
    let events: Vec<_> = client.stream(body.into()).await.unwrap().collect().await;
    let last = events.last().unwrap().as_ref().unwrap();
    assert_eq!(last.event, "message_stop");
    let error = client
        .create(r#"{"model":"no-such-model","max_tokens":1,"messages":[]}"#.into())
        .await;
    assert!(error.is_err());
}
