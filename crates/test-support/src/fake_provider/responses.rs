//! OpenAI Responses API (`POST /v1/responses`): the `response` object and its SSE
//! lifecycle (`response.created` … `response.completed`).

use serde_json::{Map, Value, json};

use super::reply::{
    ARGUMENTS_DELTA_BYTES_MAX, CREATED_AT_S, Rendered, Reply, TEXT_DELTA_BYTES_MAX, Usage,
    fragments, opaque, sse_event,
};
use super::request::RequestInfo;
use super::{compaction, errors};

/// One output item, with what both the JSON body and the stream need.
enum Item {
    Reasoning {
        id: String,
        summary: Vec<String>,
        encrypted_content: Option<String>,
    },
    Message {
        id: String,
        text: String,
    },
    FunctionCall {
        id: String,
        call_id: String,
        name: String,
        arguments: String,
    },
    /// Server-side compaction, before the reply.
    Compaction {
        id: String,
        summary: String,
    },
    /// A hosted tool's call (complete when it is added: its results stay server-side).
    Hosted {
        value: Value,
    },
}

pub(crate) fn render(reply: &Reply, info: &RequestInfo) -> Rendered {
    let mid_stream_error = match &reply.error {
        Some(error) if error.mid_stream && info.stream => Some(error),
        Some(error) => return errors::render_scripted(error, reply, info),
        None => None,
    };
    let items = items(reply, info);
    let rendered = if info.stream {
        let mut events = Events::default();
        stream_items(&mut events, reply, info, &items);
        match mid_stream_error {
            Some(error) => {
                let inner = errors::openai_error(error, info);
                let (code, message) = (&inner["code"], &inner["message"]);
                // `response.error.code` is never null in the real API; fall back to the
                // error type (`server_error`, `invalid_request_error`, …).
                let failure_code = if code.is_null() { &inner["type"] } else { code };
                let failure = json!({ "code": failure_code, "message": message });
                events.push(
                    "error",
                    json!({ "code": code, "message": message, "param": inner["param"] }),
                );
                let done: Vec<Value> = items.iter().map(|i| item_json(i, reply, true)).collect();
                let mut response = response_object(reply, info, "failed", done, None);
                response["error"] = failure;
                events.push("response.failed", json!({ "response": response }));
            }
            None => {
                let response = final_response(reply, info, &items);
                let kind = if reply.truncated {
                    "response.incomplete"
                } else {
                    "response.completed"
                };
                events.push(kind, json!({ "response": response }));
            }
        }
        Rendered::sse(events.frames)
    } else {
        Rendered::json(200, final_response(reply, info, &items))
    };
    rendered.with_header("x-request-id", reply.request_id())
}

fn items(reply: &Reply, info: &RequestInfo) -> Vec<Item> {
    let encrypt = info.wants_encrypted_reasoning();
    let mut items = Vec::new();
    if compaction::responses_threshold(&info.body).is_some_and(|at| info.input_tokens >= at) {
        items.push(Item::Compaction {
            id: reply.item_id("cmp", 0),
            summary: compaction::summary(info, None),
        });
    }
    if let Some(reasoning) = &reply.reasoning {
        items.push(Item::Reasoning {
            id: reply.item_id("rs", items.len()),
            summary: reasoning
                .split("\n\n")
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect(),
            encrypted_content: encrypt.then(|| opaque("reasoning", reasoning)),
        });
    }
    if let Some(redacted) = &reply.redacted_reasoning {
        items.push(Item::Reasoning {
            id: reply.item_id("rs", items.len()),
            summary: Vec::new(),
            encrypted_content: encrypt.then(|| opaque("redacted_reasoning", redacted)),
        });
    }
    if let Some(tool) = &reply.hosted_tool {
        let id = reply.item_id("ws", items.len());
        let value = match tool.name.as_str() {
            "code_execution" => json!({"id": id, "type": "code_interpreter_call",
                "status": "completed", "code": tool.query, "container_id": "cntr_fake",
                "outputs": null}),
            _ => json!({"id": id, "type": "web_search_call", "status": "completed",
                "action": {"type": "search", "query": tool.query}}),
        };
        items.push(Item::Hosted { value });
    }
    if let Some(text) = &reply.text {
        items.push(Item::Message {
            id: reply.item_id("msg", items.len()),
            text: text.clone(),
        });
    }
    for (index, call) in reply.tool_calls.iter().enumerate() {
        items.push(Item::FunctionCall {
            id: reply.item_id("fc", items.len()),
            call_id: reply.item_id("call", index),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        });
    }
    items
}

/// The item as it appears when `done` (complete), or as first `added` (empty).
fn item_json(item: &Item, reply: &Reply, done: bool) -> Value {
    let status = match (done, reply.truncated) {
        (false, _) => "in_progress",
        (true, false) => "completed",
        (true, true) => "incomplete",
    };
    match item {
        Item::Reasoning {
            id,
            summary,
            encrypted_content,
        } => {
            let mut value = json!({ "id": id, "type": "reasoning", "summary": [] });
            if done {
                value["summary"] = summary.iter().map(|text| summary_part(text)).collect();
                if let Some(encrypted_content) = encrypted_content {
                    value["encrypted_content"] = json!(encrypted_content);
                }
            }
            value
        }
        Item::Message { id, text } => {
            let content = if done {
                vec![cited_part(text, reply)]
            } else {
                Vec::new()
            };
            json!({
                "id": id,
                "type": "message",
                "status": status,
                "content": content,
                "role": "assistant",
            })
        }
        Item::FunctionCall {
            id,
            call_id,
            name,
            arguments,
        } => json!({
            "id": id,
            "type": "function_call",
            "status": status,
            "arguments": if done { arguments.as_str() } else { "" },
            "call_id": call_id,
            "name": name,
        }),
        Item::Compaction { id, summary } => compaction::openai_item(id, summary),
        Item::Hosted { value } => value.clone(),
    }
}

/// The message's text part, with the turn's citations as `url_citation` annotations
/// spanning the whole text.
fn cited_part(text: &str, reply: &Reply) -> Value {
    let mut part = text_part(text);
    part["annotations"] = reply
        .citations
        .iter()
        .map(|citation| {
            json!({"type": "url_citation", "url": citation.url, "title": citation.title,
                   "start_index": 0, "end_index": text.chars().count()})
        })
        .collect();
    part
}

fn text_part(text: &str) -> Value {
    json!({ "type": "output_text", "annotations": [], "logprobs": [], "text": text })
}

fn summary_part(text: &str) -> Value {
    json!({ "type": "summary_text", "text": text })
}

fn final_response(reply: &Reply, info: &RequestInfo, items: &[Item]) -> Value {
    let output: Vec<Value> = items.iter().map(|i| item_json(i, reply, true)).collect();
    let status = if reply.truncated {
        "incomplete"
    } else {
        "completed"
    };
    let mut response = response_object(reply, info, status, output, Some(reply.usage));
    if reply.truncated {
        response["incomplete_details"] = json!({ "reason": "max_output_tokens" });
    }
    response
}

/// The `response` object; request parameters are echoed as the real API does.
fn response_object(
    reply: &Reply,
    info: &RequestInfo,
    status: &str,
    output: Vec<Value>,
    usage: Option<Usage>,
) -> Value {
    let body = &info.body;
    let echo = |field: &str, default: Value| body.get(field).cloned().unwrap_or(default);
    let reasoning = json!({
        "effort": body.pointer("/reasoning/effort").cloned().unwrap_or(Value::Null),
        "summary": body.pointer("/reasoning/summary").cloned().unwrap_or(Value::Null),
    });
    json!({
        "id": reply.id("resp"),
        "object": "response",
        "created_at": CREATED_AT_S,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": echo("instructions", Value::Null),
        "max_output_tokens": echo("max_output_tokens", Value::Null),
        "model": info.model,
        "output": output,
        "parallel_tool_calls": echo("parallel_tool_calls", json!(true)),
        "previous_response_id": echo("previous_response_id", Value::Null),
        "reasoning": reasoning,
        "store": echo("store", json!(true)),
        "temperature": echo("temperature", json!(1.0)),
        "text": echo("text", json!({ "format": { "type": "text" } })),
        "tool_choice": echo("tool_choice", json!("auto")),
        "tools": echo("tools", json!([])),
        "top_p": echo("top_p", json!(1.0)),
        "truncation": echo("truncation", json!("disabled")),
        "usage": usage.map(usage_json),
        "metadata": echo("metadata", json!({})),
    })
}

fn usage_json(usage: Usage) -> Value {
    json!({
        "input_tokens": usage.input_tokens,
        "input_tokens_details": { "cached_tokens": usage.cached_input_tokens },
        "output_tokens": usage.output_tokens,
        "output_tokens_details": { "reasoning_tokens": usage.reasoning_tokens },
        "total_tokens": usage.total_tokens(),
    })
}

/// SSE frames with `type` first and a `sequence_number` counting from 0.
#[derive(Default)]
struct Events {
    frames: Vec<String>,
    sequence_number: u64,
}

impl Events {
    fn push(&mut self, kind: &str, fields: Value) {
        let mut data = Map::new();
        data.insert("type".into(), json!(kind));
        data.insert("sequence_number".into(), json!(self.sequence_number));
        if let Value::Object(fields) = fields {
            data.extend(fields);
        }
        self.frames.push(sse_event(kind, &Value::Object(data)));
        self.sequence_number += 1;
    }
}

/// `response.created`, `response.in_progress`, then every item's events.
fn stream_items(events: &mut Events, reply: &Reply, info: &RequestInfo, items: &[Item]) {
    let pending = response_object(reply, info, "in_progress", Vec::new(), None);
    events.push("response.created", json!({ "response": pending }));
    events.push("response.in_progress", json!({ "response": pending }));
    for (output_index, item) in items.iter().enumerate() {
        events.push(
            "response.output_item.added",
            json!({ "output_index": output_index, "item": item_json(item, reply, false) }),
        );
        match item {
            Item::Reasoning { id, summary, .. } => {
                for (summary_index, text) in summary.iter().enumerate() {
                    let at = json!({
                        "item_id": id,
                        "output_index": output_index,
                        "summary_index": summary_index,
                    });
                    stream_summary_part(events, &at, text);
                }
            }
            Item::Message { id, text } => {
                let at = json!({ "item_id": id, "output_index": output_index, "content_index": 0 });
                stream_text_part(events, &at, text);
            }
            Item::FunctionCall {
                id,
                name,
                arguments,
                ..
            } => {
                let at = json!({ "item_id": id, "output_index": output_index });
                for delta in fragments(arguments, ARGUMENTS_DELTA_BYTES_MAX) {
                    events.push(
                        "response.function_call_arguments.delta",
                        with(&at, json!({ "delta": delta })),
                    );
                }
                events.push(
                    "response.function_call_arguments.done",
                    with(&at, json!({ "name": name, "arguments": arguments })),
                );
            }
            Item::Compaction { .. } | Item::Hosted { .. } => {}
        }
        events.push(
            "response.output_item.done",
            json!({ "output_index": output_index, "item": item_json(item, reply, true) }),
        );
    }
}

fn stream_summary_part(events: &mut Events, at: &Value, text: &str) {
    events.push(
        "response.reasoning_summary_part.added",
        with(at, json!({ "part": summary_part("") })),
    );
    for delta in fragments(text, TEXT_DELTA_BYTES_MAX) {
        events.push(
            "response.reasoning_summary_text.delta",
            with(at, json!({ "delta": delta })),
        );
    }
    events.push(
        "response.reasoning_summary_text.done",
        with(at, json!({ "text": text })),
    );
    events.push(
        "response.reasoning_summary_part.done",
        with(at, json!({ "part": summary_part(text) })),
    );
}

fn stream_text_part(events: &mut Events, at: &Value, text: &str) {
    events.push(
        "response.content_part.added",
        with(at, json!({ "part": text_part("") })),
    );
    for delta in fragments(text, TEXT_DELTA_BYTES_MAX) {
        events.push(
            "response.output_text.delta",
            with(at, json!({ "delta": delta, "logprobs": [] })),
        );
    }
    events.push(
        "response.output_text.done",
        with(at, json!({ "text": text, "logprobs": [] })),
    );
    events.push(
        "response.content_part.done",
        with(at, json!({ "part": text_part(text) })),
    );
}

/// `base` (the event's indices) followed by `extra`.
fn with(base: &Value, extra: Value) -> Value {
    let mut merged = base.clone();
    if let (Value::Object(merged), Value::Object(extra)) = (&mut merged, extra) {
        merged.extend(extra);
    }
    merged
}
