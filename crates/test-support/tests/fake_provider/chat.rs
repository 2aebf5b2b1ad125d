//! `POST /v1/chat/completions`.

use serde_json::{Value, json};

use crate::{post, start};

const PATH: &str = "/v1/chat/completions";

fn request(stream: bool, include_usage: bool) -> Value {
    let mut body = json!({
        "model": "gpt-chat",
        "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "hi"},
        ],
        "stream": stream,
    });
    if include_usage {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

#[tokio::test]
async fn text_json_has_the_documented_shape() {
    let server = start(json!({"turns": [{"text": "Hello"}]})).await;
    let answer = post(&server, PATH, &request(false, false)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-request-id"), Some("req_fake_000001"));
    let body = answer.json();
    assert_eq!(body["id"], "chatcmpl-fake-000001");
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["model"], "gpt-chat");
    let choice = &body["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], "Hello");
    assert!(choice["message"].get("tool_calls").is_none());
    assert!(choice["message"].get("reasoning_content").is_none());
    let usage = &body["usage"];
    assert_eq!(usage["completion_tokens"], 2);
    assert_eq!(usage["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["completion_tokens_details"]["reasoning_tokens"], 0);
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["prompt_tokens"].as_u64().unwrap() + 2)
    );
}

#[tokio::test]
async fn tool_calls_and_reasoning_json() {
    let server = start(json!({"turns": [{
        "reasoning": "hmm",
        "tool_calls": [{"name": "a", "arguments": {"x": 1}}, {"name": "b"}],
    }]}))
    .await;
    let body = post(&server, PATH, &request(false, false)).await.json();
    let choice = &body["choices"][0];
    assert_eq!(choice["finish_reason"], "tool_calls");
    assert_eq!(choice["message"]["content"], Value::Null);
    assert_eq!(choice["message"]["reasoning_content"], "hmm");
    assert_eq!(
        choice["message"]["tool_calls"],
        json!([
            {"id": "call_fake_000001_0", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
            {"id": "call_fake_000001_1", "type": "function", "function": {"name": "b", "arguments": "{}"}},
        ])
    );
    assert_eq!(
        body["usage"]["completion_tokens_details"]["reasoning_tokens"],
        1
    );
}

#[tokio::test]
async fn stream_sends_role_deltas_tool_calls_finish_usage_and_done() {
    let server = start(json!({"turns": [{
        "reasoning": "let me think",
        "text": "Sure thing",
        "tool_calls": [{"name": "lookup", "arguments": {"query": "rust streams"}}],
    }]}))
    .await;
    let answer = post(&server, PATH, &request(true, true)).await;
    assert_eq!(answer.status, 200);
    let events = answer.events();
    assert!(events.iter().all(|e| e.event.is_none()));
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    for chunk in &chunks {
        assert_eq!(chunk["object"], "chat.completion.chunk");
        assert_eq!(chunk["id"], "chatcmpl-fake-000001");
    }
    let delta = |chunk: &Value| chunk["choices"][0]["delta"].clone();
    assert_eq!(
        delta(&chunks[0]),
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    assert_eq!(chunks[0]["usage"], Value::Null);
    let concat = |field: &str| -> String {
        chunks
            .iter()
            .filter_map(|c| delta(c)[field].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(concat("reasoning_content"), "let me think");
    assert_eq!(concat("content"), "Sure thing");

    let calls: Vec<Value> = chunks
        .iter()
        .filter_map(|c| delta(c).get("tool_calls").map(|t| t[0].clone()))
        .collect();
    assert_eq!(
        calls[0],
        json!({"index": 0, "id": "call_fake_000001_0", "type": "function", "function": {"name": "lookup", "arguments": ""}})
    );
    assert!(calls.len() > 2, "arguments arrive in fragments");
    for fragment in &calls[1..] {
        assert_eq!(fragment["index"], 0);
        assert!(fragment.get("id").is_none());
    }
    let arguments: String = calls
        .iter()
        .map(|c| c["function"]["arguments"].as_str().unwrap())
        .collect();
    assert_eq!(
        serde_json::from_str::<Value>(&arguments).unwrap(),
        json!({"query": "rust streams"})
    );

    let finish = &chunks[chunks.len() - 2];
    assert_eq!(finish["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(delta(finish), json!({}));
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert!(usage["usage"]["completion_tokens"].as_u64().unwrap() > 0);
    assert!(
        usage["usage"]["completion_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn stream_without_include_usage_has_no_usage_chunk() {
    let server = start(json!({"turns": [{"text": "a b", "truncated": true}]})).await;
    let events = post(&server, PATH, &request(true, false)).await.events();
    assert_eq!(events.last().unwrap().data, "[DONE]");
    let chunks: Vec<Value> = events[..events.len() - 1]
        .iter()
        .map(|e| e.json())
        .collect();
    assert!(chunks.iter().all(|c| c.get("usage").is_none()));
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "length"
    );
}

#[tokio::test]
async fn scripted_errors() {
    let server = start(json!({"turns": [
        {"error": {"status": 429, "retry_after_s": 2}},
        {"error": {"status": 400, "type": "context_length_exceeded"}},
        {"text": "part", "error": {"status": 529, "mid_stream": true}},
    ]}))
    .await;
    let answer = post(&server, PATH, &request(true, true)).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), Some("2"));
    assert_eq!(answer.json()["error"]["code"], "rate_limit_exceeded");

    let answer = post(&server, PATH, &request(false, false)).await;
    assert_eq!(answer.status, 400);
    let error = &answer.json()["error"];
    assert_eq!(error["code"], "context_length_exceeded");
    assert_eq!(error["param"], "messages");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("maximum context length")
    );

    let answer = post(&server, PATH, &request(true, true)).await;
    assert_eq!(answer.status, 200);
    let events = answer.events();
    assert_ne!(events.last().unwrap().data, "[DONE]");
    let last = events.last().unwrap().json();
    assert_eq!(last["error"]["type"], "server_error");
    assert!(events.iter().any(|e| e.data.contains("\"part\"")));
}
