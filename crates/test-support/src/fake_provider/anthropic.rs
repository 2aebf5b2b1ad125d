//! Anthropic Messages (`POST /v1/messages`): the `message` object and its SSE stream
//! (`message_start`, `ping`, content blocks, `message_delta`, `message_stop`, `error`).

use serde_json::{Map, Value, json};

use super::reply::{
    ARGUMENTS_DELTA_BYTES_MAX, Rendered, Reply, TEXT_DELTA_BYTES_MAX, fragments, opaque, sse_event,
};
use super::request::RequestInfo;
use super::{compaction, errors};

enum Block<'a> {
    /// A server tool's call and its result, complete as they start.
    Server {
        value: Value,
    },
    /// Server-side compaction, opening the reply.
    Compaction {
        content: String,
    },
    Thinking {
        thinking: &'a str,
        signature: String,
    },
    RedactedThinking {
        data: String,
    },
    Text {
        text: &'a str,
    },
    ToolUse {
        id: String,
        name: &'a str,
        input: &'a Value,
        json: &'a str,
    },
}

pub(crate) fn render(reply: &Reply, info: &RequestInfo) -> Rendered {
    let mid_stream_error = match &reply.error {
        Some(error) if error.mid_stream && info.stream => Some(error),
        Some(error) => return errors::render_scripted(error, reply, info),
        None => None,
    };
    let blocks = blocks(reply, info);
    let rendered = if info.stream {
        let mut frames = Vec::new();
        let mut start = message_json(reply, info, Vec::new(), Value::Null);
        start["usage"]["output_tokens"] = json!(1);
        frames.push(event("message_start", json!({ "message": start })));
        frames.push(event("ping", json!({})));
        for (index, block) in blocks.iter().enumerate() {
            stream_block(&mut frames, index, block, reply);
        }
        match mid_stream_error {
            Some(error) => {
                let error = errors::anthropic_error(error, info);
                frames.push(event("error", json!({ "error": error })));
            }
            None => {
                frames.push(event(
                    "message_delta",
                    json!({
                        "delta": { "stop_reason": stop_reason(reply), "stop_sequence": null },
                        "usage": { "output_tokens": reply.usage.output_tokens },
                    }),
                ));
                frames.push(event("message_stop", json!({})));
            }
        }
        Rendered::sse(frames)
    } else {
        let content = blocks
            .iter()
            .map(|block| block_json(block, reply))
            .collect();
        Rendered::json(
            200,
            message_json(reply, info, content, json!(stop_reason(reply))),
        )
    };
    rendered.with_header("request-id", reply.request_id())
}

fn blocks<'a>(reply: &'a Reply, info: &RequestInfo) -> Vec<Block<'a>> {
    let mut blocks = Vec::new();
    if let Some((trigger, instructions)) = compaction::anthropic_trigger(&info.body)
        && info.input_tokens >= trigger
    {
        blocks.push(Block::Compaction {
            content: compaction::summary(info, instructions.as_deref()),
        });
    }
    if let Some(thinking) = &reply.reasoning {
        blocks.push(Block::Thinking {
            thinking,
            signature: opaque("thinking_signature", thinking),
        });
    }
    if let Some(redacted) = &reply.redacted_reasoning {
        blocks.push(Block::RedactedThinking {
            data: opaque("redacted_thinking", redacted),
        });
    }
    if let Some(tool) = &reply.hosted_tool {
        let id = reply.item_id("srvtoolu", 0);
        let input = match tool.name.as_str() {
            "code_execution" => json!({"code": tool.query}),
            _ => json!({"query": tool.query}),
        };
        blocks.push(Block::Server {
            value: json!({"type": "server_tool_use", "id": id, "name": tool.name, "input": input}),
        });
        let results: Vec<Value> = tool
            .results
            .iter()
            .map(|page| {
                json!({"type": "web_search_result", "url": page.url, "title": page.title,
                       "encrypted_content": opaque("page", &page.url), "page_age": null})
            })
            .collect();
        blocks.push(Block::Server {
            value: json!({"type": format!("{}_tool_result", tool.name), "tool_use_id": id,
                          "content": results}),
        });
    }
    if let Some(text) = &reply.text {
        blocks.push(Block::Text { text });
    }
    for (index, call) in reply.tool_calls.iter().enumerate() {
        blocks.push(Block::ToolUse {
            id: reply.item_id("toolu", index),
            name: &call.name,
            input: &call.input,
            json: &call.arguments,
        });
    }
    blocks
}

fn stop_reason(reply: &Reply) -> &'static str {
    if reply.truncated {
        "max_tokens"
    } else if reply.tool_calls.is_empty() {
        "end_turn"
    } else {
        "tool_use"
    }
}

fn message_json(reply: &Reply, info: &RequestInfo, content: Vec<Value>, stop: Value) -> Value {
    json!({
        "id": reply.id("msg"),
        "type": "message",
        "role": "assistant",
        "model": info.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": null,
        "usage": {
            "input_tokens": reply.usage.uncached_input_tokens(),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": reply.usage.cached_input_tokens,
            "output_tokens": reply.usage.output_tokens,
        },
    })
}

/// The complete block, as in a non-streaming `content` array.
fn block_json(block: &Block<'_>, reply: &Reply) -> Value {
    match block {
        Block::Thinking {
            thinking,
            signature,
        } => json!({ "type": "thinking", "thinking": thinking, "signature": signature }),
        Block::RedactedThinking { data } => json!({ "type": "redacted_thinking", "data": data }),
        Block::Compaction { content } => json!({ "type": "compaction", "content": content }),
        Block::Text { text } => match citations(reply) {
            citations if citations.is_empty() => json!({ "type": "text", "text": text }),
            citations => json!({ "type": "text", "text": text, "citations": citations }),
        },
        Block::Server { value } => value.clone(),
        Block::ToolUse {
            id, name, input, ..
        } => json!({ "type": "tool_use", "id": id, "name": name, "input": input }),
    }
}

/// `content_block_start`, its deltas, `content_block_stop`.
fn stream_block(frames: &mut Vec<String>, index: usize, block: &Block<'_>, reply: &Reply) {
    let start = match block {
        Block::Server { value } if value["type"] == "server_tool_use" => {
            json!({ "type": "server_tool_use", "id": value["id"], "name": value["name"], "input": {} })
        }
        Block::Server { value } => value.clone(),
        Block::Compaction { .. } => json!({ "type": "compaction", "content": "" }),
        Block::Thinking { .. } => json!({ "type": "thinking", "thinking": "", "signature": "" }),
        Block::RedactedThinking { .. } => block_json(block, reply),
        Block::Text { .. } => json!({ "type": "text", "text": "" }),
        Block::ToolUse { id, name, .. } => {
            json!({ "type": "tool_use", "id": id, "name": name, "input": {} })
        }
    };
    frames.push(event(
        "content_block_start",
        json!({ "index": index, "content_block": start }),
    ));
    let mut delta = |delta: Value| {
        frames.push(event(
            "content_block_delta",
            json!({ "index": index, "delta": delta }),
        ));
    };
    match block {
        Block::Thinking {
            thinking,
            signature,
        } => {
            for piece in fragments(thinking, TEXT_DELTA_BYTES_MAX) {
                delta(json!({ "type": "thinking_delta", "thinking": piece }));
            }
            delta(json!({ "type": "signature_delta", "signature": signature }));
        }
        Block::RedactedThinking { .. } => {}
        Block::Compaction { content } => {
            delta(json!({ "type": "compaction_delta", "content": content }));
        }
        Block::Text { text } => {
            for citation in citations(reply) {
                delta(json!({ "type": "citations_delta", "citation": citation }));
            }
            for piece in fragments(text, TEXT_DELTA_BYTES_MAX) {
                delta(json!({ "type": "text_delta", "text": piece }));
            }
        }
        Block::Server { value } => {
            if value["type"] == "server_tool_use" {
                let json = value["input"].to_string();
                for piece in fragments(&json, ARGUMENTS_DELTA_BYTES_MAX) {
                    delta(json!({ "type": "input_json_delta", "partial_json": piece }));
                }
            }
        }
        Block::ToolUse { json, .. } => {
            for piece in fragments(json, ARGUMENTS_DELTA_BYTES_MAX) {
                delta(json!({ "type": "input_json_delta", "partial_json": piece }));
            }
        }
    }
    frames.push(event("content_block_stop", json!({ "index": index })));
}

/// The turn's citations as Anthropic `web_search_result_location`s.
fn citations(reply: &Reply) -> Vec<Value> {
    reply
        .citations
        .iter()
        .map(|citation| {
            json!({"type": "web_search_result_location", "url": citation.url,
                   "title": citation.title, "cited_text": citation.cited_text,
                   "encrypted_index": opaque("index", &citation.url)})
        })
        .collect()
}

/// A named event whose data has `type` first.
fn event(kind: &str, fields: Value) -> String {
    let mut data = Map::new();
    data.insert("type".into(), json!(kind));
    if let Value::Object(fields) = fields {
        data.extend(fields);
    }
    sse_event(kind, &Value::Object(data))
}
