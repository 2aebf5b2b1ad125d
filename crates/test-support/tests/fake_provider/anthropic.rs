//! `POST /v1/messages` and `POST /v1/messages/count_tokens`.

use serde_json::{Value, json};

use crate::{event_types, post, start};

const PATH: &str = "/v1/messages";

fn request(stream: bool) -> Value {
    json!({
        "model": "claude-test",
        "max_tokens": 1024,
        "system": "be brief",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}],
        "stream": stream,
    })
}

fn full_turn() -> Value {
    json!({
        "reasoning": "I should call it",
        "redacted_reasoning": "hidden",
        "text": "Let me check",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}],
    })
}

#[tokio::test]
async fn text_json_has_the_documented_shape() {
    let server = start(json!({"turns": [{"text": "Hello"}]})).await;
    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("request-id"), Some("req_fake_000001"));
    let body = answer.json();
    assert_eq!(body["id"], "msg_fake_000001");
    assert_eq!(body["type"], "message");
    assert_eq!(body["role"], "assistant");
    assert_eq!(body["model"], "claude-test");
    assert_eq!(body["content"], json!([{"type": "text", "text": "Hello"}]));
    assert_eq!(body["stop_reason"], "end_turn");
    assert_eq!(body["stop_sequence"], Value::Null);
    let usage = &body["usage"];
    assert!(usage["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(usage["output_tokens"], 2);
    assert_eq!(usage["cache_creation_input_tokens"], 0);
    assert_eq!(usage["cache_read_input_tokens"], 0);
}

#[tokio::test]
async fn thinking_redacted_text_and_tool_use_json() {
    let server = start(json!({"turns": [full_turn()]})).await;
    let body = post(&server, PATH, &request(false)).await.json();
    assert_eq!(body["stop_reason"], "tool_use");
    let content = body["content"].as_array().unwrap();
    assert_eq!(content[0]["type"], "thinking");
    assert_eq!(content[0]["thinking"], "I should call it");
    assert!(!content[0]["signature"].as_str().unwrap().is_empty());
    assert_eq!(content[1]["type"], "redacted_thinking");
    assert!(!content[1]["data"].as_str().unwrap().is_empty());
    assert_eq!(content[2], json!({"type": "text", "text": "Let me check"}));
    assert_eq!(
        content[3],
        json!({"type": "tool_use", "id": "toolu_fake_000001_0", "name": "get_weather", "input": {"city": "Paris", "days": 3}})
    );
}

#[tokio::test]
async fn stream_emits_every_block_kind_in_order() {
    let server = start(json!({"turns": [full_turn(), full_turn()]})).await;
    let answer = post(&server, PATH, &request(true)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("request-id"), Some("req_fake_000001"));
    let events = answer.events();
    let types = event_types(&events);
    assert_eq!(&types[..2], ["message_start", "ping"]);
    assert_eq!(&types[types.len() - 2..], ["message_delta", "message_stop"]);
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();

    let start_message = &data[0]["message"];
    assert_eq!(start_message["id"], "msg_fake_000001");
    assert_eq!(start_message["content"], json!([]));
    assert_eq!(start_message["stop_reason"], Value::Null);
    assert!(start_message["usage"]["input_tokens"].as_u64().unwrap() > 0);

    // Rebuild the content from the stream; it must equal the JSON answer's content.
    let mut blocks: Vec<Value> = Vec::new();
    let mut partial_json = String::new();
    for event in &data[2..data.len() - 2] {
        let index = event["index"].as_u64().unwrap() as usize;
        match event["type"].as_str().unwrap() {
            "content_block_start" => {
                assert_eq!(index, blocks.len());
                blocks.push(event["content_block"].clone());
            }
            "content_block_delta" => {
                let delta = &event["delta"];
                let block = &mut blocks[index];
                let append = |block: &mut Value, field: &str, piece: &Value| {
                    let joined = format!(
                        "{}{}",
                        block[field].as_str().unwrap(),
                        piece.as_str().unwrap()
                    );
                    block[field] = json!(joined);
                };
                match delta["type"].as_str().unwrap() {
                    "thinking_delta" => append(block, "thinking", &delta["thinking"]),
                    "signature_delta" => append(block, "signature", &delta["signature"]),
                    "text_delta" => append(block, "text", &delta["text"]),
                    "input_json_delta" => {
                        partial_json.push_str(delta["partial_json"].as_str().unwrap())
                    }
                    other => panic!("unexpected delta {other}"),
                }
            }
            "content_block_stop" => {
                if blocks[index]["type"] == "tool_use" {
                    blocks[index]["input"] = serde_json::from_str(&partial_json).unwrap();
                }
            }
            other => panic!("unexpected event {other}"),
        }
    }
    let message_delta = &data[data.len() - 2];
    assert_eq!(message_delta["delta"]["stop_reason"], "tool_use");
    assert!(message_delta["usage"]["output_tokens"].as_u64().unwrap() > 0);

    let json_answer = post(&server, PATH, &request(false)).await.json();
    let renumber = |value: Value| value.to_string().replace("000002", "000001");
    assert_eq!(
        renumber(json!(blocks)),
        renumber(json_answer["content"].clone())
    );
}

#[tokio::test]
async fn truncated_turn_stops_at_max_tokens() {
    let server = start(json!({"turns": [{"text": "cut", "truncated": true}]})).await;
    let body = post(&server, PATH, &request(false)).await.json();
    assert_eq!(body["stop_reason"], "max_tokens");
}

#[tokio::test]
async fn scripted_errors_use_anthropic_shapes() {
    let server = start(json!({"turns": [
        {"error": {"type": "overloaded"}},
        {"error": {"status": 429, "retry_after_s": 3}},
        {"error": {"status": 400, "type": "context_length_exceeded"}},
        {"error": {"status": 401}},
        {"text": "partial", "error": {"type": "overloaded", "mid_stream": true}},
    ]}))
    .await;
    let answer = post(&server, PATH, &request(true)).await;
    assert_eq!(answer.status, 529);
    assert_eq!(answer.header("request-id"), Some("req_fake_000001"));
    let body = answer.json();
    assert_eq!(body["type"], "error");
    assert_eq!(
        body["error"],
        json!({"type": "overloaded_error", "message": "Overloaded"})
    );

    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), Some("3"));
    assert_eq!(answer.json()["error"]["type"], "rate_limit_error");

    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 400);
    let error = &answer.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .starts_with("prompt is too long: ")
    );

    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["error"]["type"], "authentication_error");

    let answer = post(&server, PATH, &request(true)).await;
    assert_eq!(answer.status, 200);
    let events = answer.events();
    let types = event_types(&events);
    assert_eq!(types.last().unwrap(), "error");
    assert!(!types.contains(&"message_stop".to_owned()));
    assert_eq!(
        events.last().unwrap().json(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}})
    );
}

#[tokio::test]
async fn count_tokens_estimates_without_consuming_a_turn() {
    let server = start(json!({"turns": [{"text": "after count"}]})).await;
    let body = request(false);
    let answer = post(&server, "/v1/messages/count_tokens", &body).await;
    assert_eq!(answer.status, 200);
    assert!(answer.header("request-id").is_some());
    let bytes: usize = ["system", "messages"]
        .iter()
        .map(|f| body[f].to_string().len())
        .sum();
    assert_eq!(answer.json(), json!({"input_tokens": bytes.div_ceil(4)}));
    let message = post(&server, PATH, &body).await.json();
    assert_eq!(message["content"][0]["text"], "after count");
    assert_eq!(message["usage"]["input_tokens"], bytes.div_ceil(4));
}

#[tokio::test]
async fn usage_overrides_split_cached_input() {
    let server = start(json!({"turns": [{
        "text": "x",
        "usage": {"input_tokens": 100, "output_tokens": 7, "cached_input_tokens": 60},
    }, {
        "text": "x",
        "usage": {"input_tokens": 100, "output_tokens": 7, "cached_input_tokens": 60},
    }]}))
    .await;
    let usage = post(&server, PATH, &request(false)).await.json()["usage"].clone();
    assert_eq!(
        usage,
        json!({"input_tokens": 40, "cache_read_input_tokens": 60, "cache_creation_input_tokens": 0, "output_tokens": 7})
    );
    let openai = post(&server, "/v1/responses", &json!({"input": "hi"}))
        .await
        .json();
    assert_eq!(openai["usage"]["input_tokens"], 100);
    assert_eq!(openai["usage"]["input_tokens_details"]["cached_tokens"], 60);
    assert_eq!(openai["usage"]["total_tokens"], 107);
}
