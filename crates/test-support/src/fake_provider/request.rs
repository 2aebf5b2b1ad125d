//! Reading what the fake provider needs from a request body, per API: the last user
//! text (for `match` and echo), a deterministic input-token estimate, and stream flags.

use serde_json::Value;

/// The three wire APIs served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Api {
    Responses,
    Chat,
    Anthropic,
}

/// The parts of a generation request that shape the reply.
#[derive(Clone, Debug)]
pub(crate) struct RequestInfo {
    pub(crate) api: Api,
    pub(crate) body: Value,
    pub(crate) model: String,
    pub(crate) stream: bool,
    pub(crate) last_user_text: String,
    pub(crate) input_tokens: u64,
}

/// Model name used when the request has none.
const MODEL_DEFAULT: &str = "fake-model";

impl RequestInfo {
    pub(crate) fn new(api: Api, body: Value) -> Self {
        let model = body
            .get("model")
            .and_then(Value::as_str)
            .unwrap_or(MODEL_DEFAULT)
            .to_owned();
        let stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        let last_user_text = last_user_text(api, &body);
        let input_tokens = input_tokens_estimate(api, &body);
        RequestInfo {
            api,
            body,
            model,
            stream,
            last_user_text,
            input_tokens,
        }
    }

    /// Responses: whether `include` asks for `reasoning.encrypted_content`.
    pub(crate) fn wants_encrypted_reasoning(&self) -> bool {
        self.body
            .get("include")
            .and_then(Value::as_array)
            .is_some_and(|include| {
                include
                    .iter()
                    .any(|v| v.as_str() == Some("reasoning.encrypted_content"))
            })
    }

    /// Chat: whether `stream_options.include_usage` is true.
    pub(crate) fn wants_stream_usage(&self) -> bool {
        self.body
            .pointer("/stream_options/include_usage")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// The text of the last user message that has any text, parts joined with `\n`.
/// Tool results (Responses `function_call_output` items, Chat `tool` messages, Anthropic
/// `tool_result` blocks) are never user text. Empty when there is none.
pub(crate) fn last_user_text(api: Api, body: &Value) -> String {
    let messages = match api {
        Api::Responses => match body.get("input") {
            Some(Value::String(text)) => return text.clone(),
            Some(Value::Array(items)) => items,
            _ => return String::new(),
        },
        Api::Chat | Api::Anthropic => match body.get("messages").and_then(Value::as_array) {
            Some(messages) => messages,
            None => return String::new(),
        },
    };
    messages
        .iter()
        .rev()
        .filter(|message| is_user_message(api, message))
        .find_map(|message| message_text(message.get("content")?))
        .unwrap_or_default()
}

fn is_user_message(api: Api, message: &Value) -> bool {
    let role_is_user = message.get("role").and_then(Value::as_str) == Some("user");
    match api {
        // Responses input messages may omit `type` (EasyInputMessage).
        Api::Responses => {
            role_is_user
                && message
                    .get("type")
                    .and_then(Value::as_str)
                    .is_none_or(|kind| kind == "message")
        }
        Api::Chat | Api::Anthropic => role_is_user,
    }
}

/// Text of a message's `content`: a string, or the `text` / `input_text` parts of an
/// array. `None` when there is no text part (e.g. only `tool_result` blocks).
fn message_text(content: &Value) -> Option<String> {
    match content {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter(|part| {
                    matches!(
                        part.get("type").and_then(Value::as_str),
                        Some("text" | "input_text")
                    )
                })
                .filter_map(|part| part.get("text").and_then(Value::as_str))
                .collect();
            (!texts.is_empty()).then(|| texts.join("\n"))
        }
        _ => None,
    }
}

/// Deterministic input-token estimate: serialized bytes / 4, rounded up, of the fields
/// that make up the prompt (Responses `instructions`+`input`+`tools`, Chat
/// `messages`+`tools`, Anthropic `system`+`messages`+`tools`).
pub(crate) fn input_tokens_estimate(api: Api, body: &Value) -> u64 {
    let fields: &[&str] = match api {
        Api::Responses => &["instructions", "input", "tools"],
        Api::Chat => &["messages", "tools"],
        Api::Anthropic => &["system", "messages", "tools"],
    };
    let bytes: usize = fields
        .iter()
        .filter_map(|field| body.get(field))
        .map(|value| value.to_string().len())
        .sum();
    tokens_for_bytes(bytes)
}

/// Bytes / 4, rounded up.
pub(crate) fn tokens_for_bytes(bytes: usize) -> u64 {
    u64::try_from(bytes.div_ceil(4)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn responses_input_string_and_items() {
        assert_eq!(
            last_user_text(Api::Responses, &json!({"input": "hi"})),
            "hi"
        );
        let body = json!({"input": [
            {"role": "user", "content": "first"},
            {"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "a"}, {"type": "input_image"},
                {"type": "input_text", "text": "b"}
            ]},
            {"type": "function_call_output", "call_id": "c", "output": "x"}
        ]});
        assert_eq!(last_user_text(Api::Responses, &body), "a\nb");
    }

    #[test]
    fn chat_parts_and_anthropic_tool_results_are_skipped() {
        let chat = json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "q"}]},
            {"role": "tool", "tool_call_id": "c", "content": "r"}
        ]});
        assert_eq!(last_user_text(Api::Chat, &chat), "q");
        let anthropic = json!({"messages": [
            {"role": "user", "content": "question"},
            {"role": "assistant", "content": [{"type": "tool_use"}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "r"}]}
        ]});
        assert_eq!(last_user_text(Api::Anthropic, &anthropic), "question");
    }

    #[test]
    fn estimate_is_bytes_over_four() {
        let body = json!({"messages": "abcdefgh", "model": "ignored"});
        // "\"abcdefgh\"" is 10 bytes.
        assert_eq!(input_tokens_estimate(Api::Chat, &body), 3);
    }
}
