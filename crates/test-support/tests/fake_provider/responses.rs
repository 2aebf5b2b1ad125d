//! `POST /v1/responses`.

use serde_json::{Value, json};

use crate::{event_types, post, start};

const PATH: &str = "/v1/responses";

fn request(stream: bool) -> Value {
    json!({
        "model": "gpt-test",
        "instructions": "be brief",
        "input": [{"role": "user", "content": [{"type": "input_text", "text": "hi"}]}],
        "include": ["reasoning.encrypted_content"],
        "stream": stream,
    })
}

#[tokio::test]
async fn text_json_has_the_documented_shape() {
    let server = start(json!({"turns": [{"text": "Hello there"}]})).await;
    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("x-request-id"), Some("req_fake_000001"));
    let body = answer.json();
    assert_eq!(body["id"], "resp_fake_000001");
    assert_eq!(body["object"], "response");
    assert_eq!(body["status"], "completed");
    assert_eq!(body["model"], "gpt-test");
    assert_eq!(body["instructions"], "be brief");
    assert_eq!(
        body["output"],
        json!([{
            "id": "msg_fake_000001_0",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello there", "annotations": [], "logprobs": []}],
        }])
    );
    let usage = &body["usage"];
    assert!(usage["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(usage["input_tokens_details"]["cached_tokens"], 0);
    assert_eq!(usage["output_tokens"], 3);
    assert_eq!(usage["output_tokens_details"]["reasoning_tokens"], 0);
    assert_eq!(
        usage["total_tokens"].as_u64(),
        Some(usage["input_tokens"].as_u64().unwrap() + 3)
    );
}

#[tokio::test]
async fn reasoning_text_and_tool_calls_json() {
    let turn = json!({
        "reasoning": "Think.\n\nThink more.",
        "text": "Calling.",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    });
    let server = start(json!({"turns": [turn.clone(), turn]})).await;
    let body = post(&server, PATH, &request(false)).await.json();
    let output = body["output"].as_array().unwrap();
    assert_eq!(output.len(), 3);
    assert_eq!(output[0]["type"], "reasoning");
    assert_eq!(output[0]["id"], "rs_fake_000001_0");
    assert_eq!(
        output[0]["summary"],
        json!([{"type": "summary_text", "text": "Think."}, {"type": "summary_text", "text": "Think more."}])
    );
    let encrypted = output[0]["encrypted_content"].as_str().unwrap();
    assert!(!encrypted.is_empty());
    assert_eq!(output[1]["type"], "message");
    assert_eq!(
        output[2],
        json!({
            "id": "fc_fake_000001_2",
            "type": "function_call",
            "status": "completed",
            "call_id": "call_fake_000001_0",
            "name": "get_weather",
            "arguments": "{\"city\":\"Paris\"}",
        })
    );
    assert!(
        body["usage"]["output_tokens_details"]["reasoning_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );

    // Without `include`, no encrypted content; the same reasoning gives the same token.
    let mut plain = request(false);
    plain.as_object_mut().unwrap().remove("include");
    let body = post(&server, PATH, &plain).await.json();
    assert!(body["output"][0].get("encrypted_content").is_none());
}

#[tokio::test]
async fn stream_emits_the_full_lifecycle_in_order() {
    let server = start(json!({"turns": [
        {"reasoning": "Think.\n\nMore.", "text": "Hi there", "tool_calls": [{"name": "f", "arguments": {"a": 1}}]},
        {"reasoning": "Think.\n\nMore.", "text": "Hi there", "tool_calls": [{"name": "f", "arguments": {"a": 1}}]},
    ]}))
    .await;
    let answer = post(&server, PATH, &request(true)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("x-request-id"), Some("req_fake_000001"));
    let events = answer.events();
    let types = event_types(&events);
    let summary_part = [
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
    ];
    let mut expected = vec![
        "response.created",
        "response.in_progress",
        "response.output_item.added",
    ];
    expected.extend(summary_part);
    expected.extend(summary_part);
    expected.extend([
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]);
    assert_eq!(types, expected);
    let data: Vec<Value> = events.iter().map(|e| e.json()).collect();
    for (index, event) in data.iter().enumerate() {
        assert_eq!(event["sequence_number"], index, "{event}");
    }
    assert_eq!(data[0]["response"]["status"], "in_progress");
    assert_eq!(data[0]["response"]["output"], json!([]));
    assert_eq!(data[0]["response"]["usage"], Value::Null);

    let of = |kind: &'static str| data.iter().filter(move |e| e["type"] == kind);
    let deltas: String = of("response.output_text.delta")
        .map(|e| {
            assert_eq!(e["item_id"], "msg_fake_000001_1");
            assert_eq!(e["output_index"], 1);
            assert_eq!(e["content_index"], 0);
            e["delta"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(deltas, "Hi there");
    let summary_indices: Vec<&Value> = of("response.reasoning_summary_text.done")
        .map(|e| &e["summary_index"])
        .collect();
    assert_eq!(summary_indices, [&json!(0), &json!(1)]);
    let args_done = of("response.function_call_arguments.done").next().unwrap();
    assert_eq!(args_done["arguments"], "{\"a\":1}");
    assert_eq!(args_done["name"], "f");
    assert_eq!(args_done["item_id"], "fc_fake_000001_2");
    let added_call = &data[types
        .iter()
        .rposition(|t| t == "response.output_item.added")
        .unwrap()];
    assert_eq!(added_call["item"]["arguments"], "");
    assert_eq!(added_call["item"]["status"], "in_progress");

    // The completed response equals the JSON answer for the same turn.
    let completed = &data.last().unwrap()["response"];
    assert_eq!(completed["status"], "completed");
    let done_items: Vec<&Value> = of("response.output_item.done")
        .map(|e| &e["item"])
        .collect();
    let output: Vec<&Value> = completed["output"].as_array().unwrap().iter().collect();
    assert_eq!(done_items, output);
    let mut json_answer = post(&server, PATH, &request(false)).await.json();
    json_answer["id"] = completed["id"].clone();
    let renumber = |value: &Value| value.to_string().replace("000002", "000001");
    assert_eq!(renumber(&json_answer), renumber(completed));
}

#[tokio::test]
async fn truncated_turn_is_incomplete() {
    let server = start(json!({"turns": [
        {"text": "cut", "truncated": true},
        {"text": "cut", "truncated": true},
    ]}))
    .await;
    let body = post(&server, PATH, &request(false)).await.json();
    assert_eq!(body["status"], "incomplete");
    assert_eq!(body["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(body["output"][0]["status"], "incomplete");
    let events = post(&server, PATH, &request(true)).await.events();
    assert_eq!(event_types(&events).last().unwrap(), "response.incomplete");
}

#[tokio::test]
async fn scripted_errors_use_openai_status_headers_and_body() {
    let server = start(json!({"turns": [
        {"error": {"status": 429, "retry_after_s": 7}},
        {"error": {"status": 400, "type": "context_length_exceeded"}},
        {"error": {"status": 500}},
        {"error": {"status": 401}},
        {"error": {"type": "overloaded"}},
    ]}))
    .await;
    let answer = post(&server, PATH, &request(true)).await;
    assert_eq!(answer.status, 429);
    assert_eq!(answer.header("retry-after"), Some("7"));
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("x-request-id"), Some("req_fake_000001"));
    let error = &answer.json()["error"];
    assert_eq!(error["code"], "rate_limit_exceeded");
    assert!(error["message"].as_str().unwrap().contains("7s"));
    assert_eq!(error["param"], Value::Null);

    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.header("retry-after"), None);
    let error = &answer.json()["error"];
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["code"], "context_length_exceeded");
    assert_eq!(error["param"], "input");

    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 500);
    assert_eq!(answer.json()["error"]["type"], "server_error");
    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.json()["error"]["code"], "invalid_api_key");
    let answer = post(&server, PATH, &request(false)).await;
    assert_eq!(answer.status, 503);
}

#[tokio::test]
async fn mid_stream_error_sends_error_then_response_failed() {
    let turn = json!({"text": "partial", "error": {"type": "server_error", "mid_stream": true}});
    let server = start(json!({"turns": [turn.clone(), turn]})).await;
    let answer = post(&server, PATH, &request(true)).await;
    assert_eq!(answer.status, 200);
    let events = answer.events();
    let types = event_types(&events);
    assert_eq!(
        &types[types.len() - 3..],
        ["response.output_item.done", "error", "response.failed"]
    );
    let error = events[types.len() - 2].json();
    assert_eq!(error["type"], "error");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("server had an error")
    );
    let failed = events.last().unwrap().json();
    assert_eq!(failed["response"]["status"], "failed");
    assert_eq!(failed["response"]["error"]["message"], error["message"]);
    // A non-streaming request gets the plain HTTP error.
    assert_eq!(post(&server, PATH, &request(false)).await.status, 500);
}
