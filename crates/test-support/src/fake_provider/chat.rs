//! OpenAI Chat Completions (`POST /v1/chat/completions`): the `chat.completion` object
//! and `chat.completion.chunk` streams ending in `data: [DONE]`. Reasoning is sent as
//! `reasoning_content`, as vLLM and DeepSeek-style servers do.

use serde_json::{Value, json};

use super::errors;
use super::reply::{
    ARGUMENTS_DELTA_BYTES_MAX, CREATED_AT_S, Rendered, Reply, TEXT_DELTA_BYTES_MAX, Usage,
    fragments, sse_data,
};
use super::request::RequestInfo;

pub(crate) fn render(reply: &Reply, info: &RequestInfo) -> Rendered {
    let mid_stream_error = match &reply.error {
        Some(error) if error.mid_stream && info.stream => Some(error),
        Some(error) => return errors::render_scripted(error, reply, info),
        None => None,
    };
    let rendered = if info.stream {
        let mut frames = stream_content(reply, info);
        match mid_stream_error {
            Some(error) => {
                let body = json!({ "error": errors::openai_error(error, info) });
                frames.push(sse_data(&body.to_string()));
            }
            None => {
                let finish = choice(json!({}), json!(finish_reason(reply)));
                frames.push(chunk(reply, info, json!([finish])));
                if info.wants_stream_usage() {
                    let mut last = chunk_json(reply, info, json!([]));
                    last["usage"] = usage_json(reply.usage);
                    frames.push(sse_data(&last.to_string()));
                }
                frames.push(sse_data("[DONE]"));
            }
        }
        Rendered::sse(frames)
    } else {
        Rendered::json(200, completion(reply, info))
    };
    rendered.with_header("x-request-id", reply.request_id())
}

fn finish_reason(reply: &Reply) -> &'static str {
    if reply.truncated {
        "length"
    } else if reply.tool_calls.is_empty() {
        "stop"
    } else {
        "tool_calls"
    }
}

fn completion_id(reply: &Reply) -> String {
    format!("chatcmpl-fake-{:06}", reply.number)
}

fn completion(reply: &Reply, info: &RequestInfo) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": reply.text,
        "refusal": null,
        "annotations": [],
    });
    if let Some(reasoning) = &reply.reasoning {
        message["reasoning_content"] = json!(reasoning);
    }
    if !reply.tool_calls.is_empty() {
        let calls: Vec<Value> = reply
            .tool_calls
            .iter()
            .enumerate()
            .map(|(index, call)| {
                json!({
                    "id": reply.item_id("call", index),
                    "type": "function",
                    "function": { "name": call.name, "arguments": call.arguments },
                })
            })
            .collect();
        message["tool_calls"] = json!(calls);
    }
    json!({
        "id": completion_id(reply),
        "object": "chat.completion",
        "created": CREATED_AT_S,
        "model": info.model,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(reply),
        }],
        "usage": usage_json(reply.usage),
        "service_tier": "default",
        "system_fingerprint": null,
    })
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens(),
        "prompt_tokens_details": { "cached_tokens": usage.cached_input_tokens, "audio_tokens": 0 },
        "completion_tokens_details": {
            "reasoning_tokens": usage.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    })
}

/// The role chunk, then reasoning, text and tool-call deltas (no finish chunk).
fn stream_content(reply: &Reply, info: &RequestInfo) -> Vec<String> {
    let delta = |delta: Value| chunk(reply, info, json!([choice(delta, Value::Null)]));
    let role_content = if reply.text.is_some() {
        json!("")
    } else {
        Value::Null
    };
    let mut frames = vec![delta(
        json!({ "role": "assistant", "content": role_content, "refusal": null }),
    )];
    if let Some(reasoning) = &reply.reasoning {
        for piece in fragments(reasoning, TEXT_DELTA_BYTES_MAX) {
            frames.push(delta(json!({ "reasoning_content": piece })));
        }
    }
    if let Some(text) = &reply.text {
        for piece in fragments(text, TEXT_DELTA_BYTES_MAX) {
            frames.push(delta(json!({ "content": piece })));
        }
    }
    for (index, call) in reply.tool_calls.iter().enumerate() {
        frames.push(delta(json!({ "tool_calls": [{
            "index": index,
            "id": reply.item_id("call", index),
            "type": "function",
            "function": { "name": call.name, "arguments": "" },
        }] })));
        for piece in fragments(&call.arguments, ARGUMENTS_DELTA_BYTES_MAX) {
            frames.push(delta(json!({ "tool_calls": [{
                "index": index,
                "function": { "arguments": piece },
            }] })));
        }
    }
    frames
}

fn choice(delta: Value, finish_reason: Value) -> Value {
    json!({ "index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason })
}

fn chunk(reply: &Reply, info: &RequestInfo, choices: Value) -> String {
    sse_data(&chunk_json(reply, info, choices).to_string())
}

/// A `chat.completion.chunk`; with `include_usage`, every chunk carries `usage: null`
/// except the last, as the real API does.
fn chunk_json(reply: &Reply, info: &RequestInfo, choices: Value) -> Value {
    let mut chunk = json!({
        "id": completion_id(reply),
        "object": "chat.completion.chunk",
        "created": CREATED_AT_S,
        "model": info.model,
        "service_tier": "default",
        "system_fingerprint": null,
        "choices": choices,
    });
    if info.wants_stream_usage() {
        chunk["usage"] = Value::Null;
    }
    chunk
}
