//! The committed replay fixtures (`fixtures/replay/`): they are what the server answers
//! today (regenerate with `FAKE_PROVIDER_UPDATE_FIXTURES=1`), and together they contain
//! every streaming event type the server documents.

use std::collections::BTreeSet;

use bytes::Bytes;
use serde_json::{Value, json};
use test_support::fake_provider::ReplayEntry;

use crate::replay::fixtures_dir;
use crate::{parse_sse, post, start};

/// Every Responses SSE event type the server emits.
const RESPONSES_EVENT_TYPES: [&str; 18] = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    "response.output_text.delta",
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.reasoning_summary_part.added",
    "response.reasoning_summary_text.delta",
    "response.reasoning_summary_text.done",
    "response.reasoning_summary_part.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "response.completed",
    "response.incomplete",
    "response.failed",
    "error",
];

/// Every Anthropic SSE event type, delta type and content block type the server emits.
const ANTHROPIC_EVENT_TYPES: [&str; 8] = [
    "message_start",
    "ping",
    "content_block_start",
    "content_block_delta",
    "content_block_stop",
    "message_delta",
    "message_stop",
    "error",
];
const ANTHROPIC_DELTA_TYPES: [&str; 4] = [
    "text_delta",
    "thinking_delta",
    "signature_delta",
    "input_json_delta",
];
const ANTHROPIC_BLOCK_TYPES: [&str; 4] = ["thinking", "redacted_thinking", "text", "tool_use"];

/// Chat Completions streams have no event types; these are the kinds of `data:` line.
const CHAT_CHUNK_KINDS: [&str; 9] = [
    "role",
    "reasoning_content",
    "content",
    "tool_call_start",
    "tool_call_arguments",
    "finish",
    "usage",
    "error",
    "[DONE]",
];

/// Headers kept in fixtures (the rest — date, content-length — vary or are framing).
const KEPT_HEADERS: [&str; 5] = [
    "content-type",
    "cache-control",
    "retry-after",
    "x-request-id",
    "request-id",
];

struct Case {
    file: &'static str,
    path: &'static str,
    request: Value,
    turn: Value,
}

fn cases() -> Vec<Case> {
    let responses = |stream: bool| {
        json!({
            "model": "gpt-fake",
            "instructions": "You are terse.",
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "What is the weather in Paris?"}]}],
            "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}],
            "include": ["reasoning.encrypted_content"],
            "reasoning": {"effort": "medium", "summary": "auto"},
            "store": false,
            "stream": stream,
        })
    };
    let chat = |stream: bool| {
        json!({
            "model": "gpt-fake",
            "messages": [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "What is the weather in Paris?"}],
            "stream": stream,
            "stream_options": if stream { json!({"include_usage": true}) } else { Value::Null },
        })
    };
    let messages = |stream: bool| {
        json!({
            "model": "claude-fake",
            "max_tokens": 1024,
            "system": "You are terse.",
            "thinking": {"type": "enabled", "budget_tokens": 512},
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
            "stream": stream,
        })
    };
    let full = json!({
        "reasoning": "The user wants the weather.\n\nI should call the tool.",
        "redacted_reasoning": "hidden reasoning",
        "text": "Let me check.",
        "tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}],
    });
    let case = |file, path, request, turn| Case {
        file,
        path,
        request,
        turn,
    };
    vec![
        case(
            "01-responses-text.replay",
            "/v1/responses",
            responses(false),
            json!({"text": "Hello from the fake provider."}),
        ),
        case(
            "02-responses-stream-reasoning-tools.replay",
            "/v1/responses",
            responses(true),
            full.clone(),
        ),
        case(
            "03-responses-stream-incomplete.replay",
            "/v1/responses",
            responses(true),
            json!({"text": "Cut short", "truncated": true}),
        ),
        case(
            "04-responses-stream-failed.replay",
            "/v1/responses",
            responses(true),
            json!({"text": "Partial", "error": {"type": "server_error", "mid_stream": true}}),
        ),
        case(
            "05-responses-rate-limited.replay",
            "/v1/responses",
            responses(true),
            json!({"error": {"status": 429, "retry_after_s": 1}}),
        ),
        case(
            "06-chat-text.replay",
            "/v1/chat/completions",
            chat(false),
            json!({"text": "Hello from the fake provider."}),
        ),
        case(
            "07-chat-stream-reasoning-tools.replay",
            "/v1/chat/completions",
            chat(true),
            full.clone(),
        ),
        case(
            "08-chat-stream-error.replay",
            "/v1/chat/completions",
            chat(true),
            json!({"text": "Partial", "error": {"type": "overloaded", "mid_stream": true}}),
        ),
        case(
            "09-chat-context-length.replay",
            "/v1/chat/completions",
            chat(false),
            json!({"error": {"status": 400, "type": "context_length_exceeded"}}),
        ),
        case(
            "10-messages-text.replay",
            "/v1/messages",
            messages(false),
            json!({"text": "Hello from the fake provider."}),
        ),
        case(
            "11-messages-stream-thinking-tools.replay",
            "/v1/messages",
            messages(true),
            full,
        ),
        case(
            "12-messages-stream-overloaded.replay",
            "/v1/messages",
            messages(true),
            json!({"text": "Partial", "error": {"type": "overloaded", "mid_stream": true}}),
        ),
        case(
            "13-messages-overloaded.replay",
            "/v1/messages",
            messages(false),
            json!({"error": {"status": 529}}),
        ),
        case(
            "14-messages-prompt-too-long.replay",
            "/v1/messages",
            messages(true),
            json!({"error": {"status": 400, "type": "context_length_exceeded"}}),
        ),
    ]
}

/// Runs every case against one server and captures the answers as replay entries.
async fn capture() -> Vec<(&'static str, ReplayEntry)> {
    let cases = cases();
    let turns: Vec<Value> = cases.iter().map(|case| case.turn.clone()).collect();
    let server = start(json!({ "turns": turns })).await;
    let mut captured = Vec::new();
    for case in &cases {
        let answer = post(&server, case.path, &case.request).await;
        let headers = KEPT_HEADERS
            .iter()
            .filter_map(|name| Some((name.to_string(), answer.header(name)?.to_owned())))
            .collect();
        let entry = ReplayEntry {
            status: answer.status,
            headers,
            body: Bytes::from(answer.text),
        };
        captured.push((case.file, entry));
    }
    captured
}

/// A body compared by meaning, so JSON key order (serde_json's `preserve_order`) does
/// not matter.
fn meaning(entry: &ReplayEntry) -> Value {
    let text = std::str::from_utf8(&entry.body).unwrap();
    let is_sse = entry
        .headers
        .iter()
        .any(|(n, v)| n == "content-type" && v == "text/event-stream");
    let body: Value = if is_sse {
        parse_sse(text)
            .into_iter()
            .map(|sse| {
                json!([
                    sse.event,
                    serde_json::from_str::<Value>(&sse.data).unwrap_or(json!(sse.data))
                ])
            })
            .collect()
    } else {
        serde_json::from_str(text).unwrap()
    };
    json!({ "status": entry.status, "headers": entry.headers, "body": body })
}

#[tokio::test]
async fn fixtures_are_what_the_server_answers() {
    let captured = capture().await;
    let update = std::env::var_os("FAKE_PROVIDER_UPDATE_FIXTURES").is_some();
    if update {
        std::fs::create_dir_all(fixtures_dir()).unwrap();
        for (file, entry) in &captured {
            std::fs::write(fixtures_dir().join(file), entry.to_file_bytes()).unwrap();
        }
    }
    let mut on_disk: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    on_disk.sort();
    let expected: Vec<&str> = captured.iter().map(|(file, _)| *file).collect();
    assert_eq!(on_disk, expected, "stale or missing fixtures");
    for (file, entry) in &captured {
        let committed =
            ReplayEntry::parse(&std::fs::read(fixtures_dir().join(file)).unwrap()).unwrap();
        if let Some(difference) = first_difference("", &meaning(&committed), &meaning(entry)) {
            panic!(
                "{file} differs from the server's answer at {difference}; rerun with \
                 FAKE_PROVIDER_UPDATE_FIXTURES=1 if the change is intended"
            );
        }
    }
}

/// The JSON pointer of the first difference, with both values.
fn first_difference(at: &str, committed: &Value, served: &Value) -> Option<String> {
    match (committed, served) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|key| {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                first_difference(&format!("{at}/{key}"), x, y)
            })
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(index, (x, y))| first_difference(&format!("{at}/{index}"), x, y)),
        _ if committed == served => None,
        _ => Some(format!("{at}: committed {committed}, served {served}")),
    }
}

#[test]
fn fixtures_cover_every_streaming_event_type() {
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for entry in std::fs::read_dir(fixtures_dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let replay = ReplayEntry::parse(&std::fs::read(entry.path()).unwrap()).unwrap();
        let is_sse = replay
            .headers
            .iter()
            .any(|(n, v)| n == "content-type" && v == "text/event-stream");
        if !is_sse {
            continue;
        }
        let events = parse_sse(std::str::from_utf8(&replay.body).unwrap());
        for sse in events {
            if name.contains("-responses-") {
                let data = sse.json();
                assert_eq!(sse.event.as_deref(), data["type"].as_str(), "{name}");
                assert!(data["sequence_number"].is_u64(), "{name}: {data}");
                seen.insert(format!("responses:{}", data["type"].as_str().unwrap()));
            } else if name.contains("-messages-") {
                let data = sse.json();
                assert_eq!(sse.event.as_deref(), data["type"].as_str(), "{name}");
                seen.insert(format!("anthropic:{}", data["type"].as_str().unwrap()));
                if let Some(delta) = data["delta"]["type"].as_str() {
                    seen.insert(format!("anthropic-delta:{delta}"));
                }
                if let Some(block) = data["content_block"]["type"].as_str() {
                    seen.insert(format!("anthropic-block:{block}"));
                }
            } else if name.contains("-chat-") {
                assert!(sse.event.is_none(), "{name}");
                seen.insert(format!("chat:{}", chat_chunk_kind(&sse.data)));
            } else {
                panic!("fixture {name} names no API");
            }
        }
    }
    let mut missing = Vec::new();
    let expected = RESPONSES_EVENT_TYPES
        .iter()
        .map(|t| format!("responses:{t}"))
        .chain(
            ANTHROPIC_EVENT_TYPES
                .iter()
                .map(|t| format!("anthropic:{t}")),
        )
        .chain(
            ANTHROPIC_DELTA_TYPES
                .iter()
                .map(|t| format!("anthropic-delta:{t}")),
        )
        .chain(
            ANTHROPIC_BLOCK_TYPES
                .iter()
                .map(|t| format!("anthropic-block:{t}")),
        )
        .chain(CHAT_CHUNK_KINDS.iter().map(|t| format!("chat:{t}")));
    for kind in expected {
        if !seen.remove(&kind) {
            missing.push(kind);
        }
    }
    assert!(missing.is_empty(), "no fixture contains {missing:?}");
    assert!(
        seen.is_empty(),
        "undocumented event types in fixtures: {seen:?}"
    );
}

fn chat_chunk_kind(data: &str) -> &'static str {
    if data == "[DONE]" {
        return "[DONE]";
    }
    let chunk: Value = serde_json::from_str(data).unwrap();
    if chunk.get("error").is_some() {
        return "error";
    }
    assert_eq!(chunk["object"], "chat.completion.chunk");
    if chunk["choices"] == json!([]) {
        assert!(chunk["usage"].is_object());
        return "usage";
    }
    let choice = &chunk["choices"][0];
    let delta = &choice["delta"];
    if !choice["finish_reason"].is_null() {
        "finish"
    } else if delta.get("role").is_some() {
        "role"
    } else if delta.get("reasoning_content").is_some() {
        "reasoning_content"
    } else if delta.get("content").is_some() {
        "content"
    } else if delta["tool_calls"][0].get("id").is_some() {
        "tool_call_start"
    } else if delta["tool_calls"][0]["function"]
        .get("arguments")
        .is_some()
    {
        "tool_call_arguments"
    } else {
        panic!("unclassified chunk {data}")
    }
}
