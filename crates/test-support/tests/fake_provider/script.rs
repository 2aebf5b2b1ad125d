//! Script semantics shared by every endpoint: order, `match`, echo, delay, determinism,
//! and the server's own errors.

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, FakeProviderError, Script};

use crate::{post, start, start_echo};

fn responses_text(answer: &Value) -> String {
    answer["output"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn one_script_serves_every_api_in_order() {
    let server =
        start(json!({"turns": [{"text": "one"}, {"text": "two"}, {"text": "three"}]})).await;
    let first = post(&server, "/v1/responses", &json!({"input": "q"}))
        .await
        .json();
    assert_eq!(responses_text(&first), "one");
    let second = post(&server, "/v1/chat/completions", &json!({"messages": []}))
        .await
        .json();
    assert_eq!(second["choices"][0]["message"]["content"], "two");
    let third = post(&server, "/v1/messages", &json!({"messages": []}))
        .await
        .json();
    assert_eq!(third["content"][0]["text"], "three");
    assert_eq!(third["model"], "fake-model");
}

#[tokio::test]
async fn matching_turns_are_taken_before_the_next_in_order() {
    let server = start(json!({"turns": [
        {"text": "first"},
        {"text": "about weather", "match": {"last_user_contains": "weather"}},
        {"text": "second"},
    ]}))
    .await;
    let ask = |text: &str| json!({"input": [{"role": "user", "content": text}]});
    let text = |answer: Value| responses_text(&answer);
    assert_eq!(
        text(post(&server, "/v1/responses", &ask("hello")).await.json()),
        "first"
    );
    assert_eq!(
        text(
            post(&server, "/v1/responses", &ask("the weather?"))
                .await
                .json()
        ),
        "about weather"
    );
    assert_eq!(
        text(
            post(&server, "/v1/responses", &ask("the weather?"))
                .await
                .json()
        ),
        "second"
    );
    // Exhausted: echo.
    assert_eq!(
        text(
            post(&server, "/v1/responses", &ask("weather again"))
                .await
                .json()
        ),
        "echo: weather again"
    );
}

#[tokio::test]
async fn unmatched_match_turns_are_never_taken_in_order() {
    let server = start(json!({"turns": [
        {"text": "never", "match": {"last_user_contains": "zebra"}},
    ]}))
    .await;
    let answer = post(
        &server,
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": "hi"}]}),
    )
    .await;
    assert_eq!(
        answer.json()["choices"][0]["message"]["content"],
        "echo: hi"
    );
}

#[tokio::test]
async fn echo_understands_each_request_shape() {
    let server = start_echo().await;
    let responses = json!({"input": [
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "from responses"}]},
        {"type": "function_call_output", "call_id": "c", "output": "ignored"},
    ]});
    let answer = post(&server, "/v1/responses", &responses).await.json();
    assert_eq!(responses_text(&answer), "echo: from responses");
    let answer = post(&server, "/v1/responses", &json!({"input": "plain string"}))
        .await
        .json();
    assert_eq!(responses_text(&answer), "echo: plain string");

    let chat = json!({"messages": [
        {"role": "user", "content": [{"type": "text", "text": "from chat"}]},
        {"role": "assistant", "content": null, "tool_calls": []},
        {"role": "tool", "tool_call_id": "c", "content": "ignored"},
    ]});
    let answer = post(&server, "/v1/chat/completions", &chat).await.json();
    assert_eq!(
        answer["choices"][0]["message"]["content"],
        "echo: from chat"
    );

    let anthropic = json!({"messages": [
        {"role": "user", "content": "from anthropic"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ignored"}]},
    ]});
    let answer = post(&server, "/v1/messages", &anthropic).await.json();
    assert_eq!(answer["content"][0]["text"], "echo: from anthropic");
}

#[tokio::test]
async fn delay_holds_json_and_spreads_across_stream_events() {
    let server = start(json!({"turns": [
        {"text": "slow", "delay_ms": 300},
        {"text": "one two three four five six", "delay_ms": 600},
    ]}))
    .await;
    let started = Instant::now();
    let answer = post(&server, "/v1/chat/completions", &json!({"messages": []})).await;
    assert_eq!(answer.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(format!("{}/chat/completions", server.openai_base_url()))
        .json(&json!({"messages": [], "stream": true}))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    let first_at = started.elapsed();
    assert!(!first.is_empty());
    let mut chunks_count = 1;
    while let Some(chunk) = body.next().await {
        chunk.unwrap();
        chunks_count += 1;
    }
    let total = started.elapsed();
    assert!(total >= Duration::from_millis(600), "{total:?}");
    assert!(
        first_at < Duration::from_millis(400),
        "first event at {first_at:?}"
    );
    assert!(chunks_count > 1, "the stream arrived in pieces");
}

#[tokio::test]
async fn same_script_gives_byte_identical_answers() {
    let script = json!({"turns": [
        {"reasoning": "r", "text": "t", "tool_calls": [{"name": "f", "arguments": {"k": "v"}}]},
        {"reasoning": "r", "text": "t", "tool_calls": [{"name": "f", "arguments": {"k": "v"}}]},
        {"reasoning": "r", "text": "t", "tool_calls": [{"name": "f", "arguments": {"k": "v"}}]},
    ]});
    let mut runs = Vec::new();
    for _ in 0..2 {
        let server = start(script.clone()).await;
        let include = json!(["reasoning.encrypted_content"]);
        let mut texts = Vec::new();
        for (path, body) in [
            (
                "/v1/responses",
                json!({"input": "x", "stream": true, "include": include}),
            ),
            (
                "/v1/chat/completions",
                json!({"messages": [], "stream": true}),
            ),
            ("/v1/messages", json!({"messages": [], "stream": true})),
        ] {
            texts.push(post(&server, path, &body).await.text);
        }
        runs.push(texts);
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn unknown_routes_and_bad_json_get_api_errors() {
    let server = start(json!({"turns": [{"text": "kept"}]})).await;
    let answer = post(&server, "/v1/embeddings", &json!({})).await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.json()["error"]["code"], "unknown_url");

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/v1/messages", server.anthropic_base_url()))
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "invalid_request_error");
    // Neither consumed the turn.
    let answer = post(&server, "/v1/messages", &json!({"messages": []}))
        .await
        .json();
    assert_eq!(answer["content"][0]["text"], "kept");
}

#[tokio::test]
async fn invalid_scripts_are_rejected_with_the_file_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken-script.json");
    std::fs::write(&path, r#"{"turns": [{"text": "a"}, {"txet": "b"}]}"#).unwrap();
    let error = Script::from_file(&path).unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, FakeProviderError::ScriptJson { .. }));
    assert!(message.contains("broken-script.json"), "{message}");
    assert!(message.contains("txet"), "{message}");

    std::fs::write(&path, r#"{"turns": [{"delay_ms": 1}]}"#).unwrap();
    let message = Script::from_file(&path).unwrap_err().to_string();
    assert!(
        message.contains("broken-script.json") && message.contains("turn 0"),
        "{message}"
    );
}

#[tokio::test]
async fn script_and_replay_are_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let result = FakeProvider::start(FakeProviderConfig {
        script: Some(Script::default()),
        replay_dir: Some(dir.path().to_path_buf()),
        ..FakeProviderConfig::default()
    })
    .await;
    assert!(matches!(result, Err(FakeProviderError::ScriptAndReplay)));
}
