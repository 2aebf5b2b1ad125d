//! Native compaction as the providers document it, for the shapes Lightspeed uses:
//! OpenAI Responses server-side compaction (`context_management: [{"type":
//! "compaction", "compact_threshold": N}]`: a `compaction` output item before the
//! reply once the input crosses N tokens) and the standalone `POST
//! /v1/responses/compact` (the compacted window: the input's user messages kept, then
//! one `compaction` item), and Anthropic's compaction beta (`context_management:
//! {"edits": [{"type": "compact_20260112", "trigger": {"type": "input_tokens",
//! "value": N}}]}`: a `compaction` block, whose `content` is a plain-text summary,
//! opening the reply once the input crosses N, by default 150,000).
//!
//! The fake's encrypted content is [`opaque`] of the summary, so a test can check a
//! later request carries exactly the item it was given.

use serde_json::{Value, json};

use super::reply::{CREATED_AT_S, Rendered, opaque, request_id};
use super::request::RequestInfo;

/// Anthropic's default trigger.
const ANTHROPIC_TRIGGER_DEFAULT: u64 = 150_000;

/// The server-side compaction threshold a Responses request asks for.
pub(crate) fn responses_threshold(body: &Value) -> Option<u64> {
    body.get("context_management")?
        .as_array()?
        .iter()
        .find(|entry| entry["type"] == "compaction")?
        .get("compact_threshold")?
        .as_u64()
}

/// The compaction trigger (and instructions) an Anthropic request asks for.
pub(crate) fn anthropic_trigger(body: &Value) -> Option<(u64, Option<String>)> {
    let edit = body
        .pointer("/context_management/edits")?
        .as_array()?
        .iter()
        .find(|edit| edit["type"] == "compact_20260112")?;
    let trigger = edit
        .pointer("/trigger/value")
        .and_then(Value::as_u64)
        .unwrap_or(ANTHROPIC_TRIGGER_DEFAULT);
    let instructions = edit["instructions"].as_str().map(str::to_owned);
    Some((trigger, instructions))
}

/// What the fake "summarises": deterministic, and naming the last request.
pub(crate) fn summary(info: &RequestInfo, instructions: Option<&str>) -> String {
    let mut text = format!(
        "Compacted {} input tokens. The last request was: {}",
        info.input_tokens, info.last_user_text
    );
    if let Some(instructions) = instructions {
        text.push_str(&format!(" (kept as asked: {instructions})"));
    }
    text
}

/// An OpenAI `compaction` item.
pub(crate) fn openai_item(id: &str, summary: &str) -> Value {
    json!({ "id": id, "type": "compaction", "encrypted_content": opaque("compaction", summary) })
}

/// `POST /v1/responses/compact`: the compacted window of the request's `input`.
pub(crate) fn render_compact(number: u64, info: &RequestInfo) -> Rendered {
    let instructions = info.body["instructions"].as_str();
    let summary = summary(info, instructions);
    let mut output: Vec<Value> = info.body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "message" && item["role"] == "user")
        .cloned()
        .collect();
    output.push(openai_item(&format!("cmp_fake_{number:06}"), &summary));
    let body = json!({
        "id": format!("resp_fake_{number:06}"),
        "object": "response.compaction",
        "created_at": CREATED_AT_S,
        "output": output,
        "usage": {
            "input_tokens": info.input_tokens,
            "input_tokens_details": { "cached_tokens": 0 },
            "output_tokens": 64,
            "output_tokens_details": { "reasoning_tokens": 0 },
            "total_tokens": info.input_tokens + 64,
        },
    });
    Rendered::json(200, body).with_header("x-request-id", request_id(number))
}
