//! The two OpenAI adapters: request materialisation, response parsing and stream
//! assembly, on hand-written provider payloads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use engine::core::config::{ModelRoute, ProviderParams, ToolChoice};
use engine::core::context::{ContextItem, ItemKind};
use engine::core::request::GenerationRequest;
use engine::core::run::FinishReason;
use engine::{BlobRef, RunId, SessionId, ToolCallId};
use llm_clients::SseEvent;
use llm_runtime::adapter::{ApiAdapter, ParsedGeneration, StreamContext};
use llm_runtime::content::{
    ItemContent, LoadedItem, LoadedRequest, MediaType, OutputItemBlob, ToolDefinition,
};
use llm_runtime::openai_chat::ChatAdapter;
use llm_runtime::openai_responses::ResponsesAdapter;
use llm_runtime::{Delta, DeltaKind, DeltaSink};
use serde_json::{Value, json};

const REASONING: &str = r#"{"id":"rs_1","type":"reasoning","summary":[{"type":"summary_text","text":"Add them."}],"encrypted_content":"gAAAAB-opaque=="}"#;
const CALL: &str = r#"{"id":"fc_1","type":"function_call","status":"completed","arguments":"{\"a\":2,\"b\":3}","call_id":"call_1","name":"add"}"#;

fn envelope(api_kind: &str, raw: &str) -> ItemContent {
    ItemContent::Provider(
        serde_json::from_str::<OutputItemBlob>(&format!(
            r#"{{"api_kind":"{api_kind}","item":{raw}}}"#
        ))
        .unwrap(),
    )
}

fn item(ordinal: u64, kind: ItemKind, content: ItemContent) -> LoadedItem {
    LoadedItem {
        item: ContextItem {
            ordinal,
            kind,
            key: None,
            content_ref: BlobRef::of_bytes(&ordinal.to_le_bytes()),
            token_estimate: 10,
            call_id: None,
            is_error: false,
            source_ref: None,
        },
        content,
    }
}

fn text(ordinal: u64, kind: ItemKind, text: &str) -> LoadedItem {
    item(ordinal, kind, ItemContent::Text(text.into()))
}

fn tool_result(ordinal: u64, call_id: &str, output: &str) -> LoadedItem {
    let mut loaded = text(ordinal, ItemKind::ToolResult, output);
    loaded.item.call_id = Some(ToolCallId::new(call_id).unwrap());
    loaded
}

fn request(api_kind: &str, params: Value, items: Vec<LoadedItem>) -> LoadedRequest {
    LoadedRequest {
        request: GenerationRequest {
            session_id: SessionId::new("session_9").unwrap(),
            run_id: RunId::from_ordinal(1),
            turn: 2,
            model: ModelRoute {
                provider_id: "openai".into(),
                api_kind: api_kind.into(),
                model: "gpt-test".into(),
            },
            output_tokens_max: 1_000,
            tool_choice: ToolChoice::Auto,
            provider_params: ProviderParams(params),
            tools: Vec::new(),
            items: items.iter().map(|loaded| loaded.item.clone()).collect(),
        },
        items,
        tools: vec![ToolDefinition {
            name: "add".into(),
            description: "Adds two integers.".into(),
            parameters: json!({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}),

            hosted_mcp: None,
        }],
        hosted_headers: Default::default(),
    }
}

fn conversation(api_kind: &str) -> Vec<LoadedItem> {
    let png = b"\x89PNG\r\n\x1a\nfake".to_vec();
    let mut items = vec![
        text(0, ItemKind::Instructions, "Be terse."),
        text(1, ItemKind::Catalog, "Skills: arithmetic."),
        text(2, ItemKind::UserMessage, "What is 2 + 3?"),
        item(
            3,
            ItemKind::UserMessage,
            ItemContent::Media {
                media_type: MediaType::Png,
                bytes: png,
            },
        ),
    ];
    if api_kind == "openai:responses" {
        items.push(item(4, ItemKind::Reasoning, envelope(api_kind, REASONING)));
        items.push(item(5, ItemKind::ToolCall, envelope(api_kind, CALL)));
    } else {
        let message = r#"{"role":"assistant","content":null,"reasoning_content":"add","tool_calls":[{"id":"call_1","type":"function","function":{"name":"add","arguments":"{\"a\":2,\"b\":3}"}}]}"#;
        items.push(item(
            4,
            ItemKind::AssistantMessage,
            envelope(api_kind, message),
        ));
    }
    items.push(tool_result(6, "call_1", "{\"sum\":5}"));
    items
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Delta>>);

impl DeltaSink for Recorder {
    fn delta(&self, delta: Delta) {
        self.0.lock().unwrap().push(delta);
    }
}

/// A JSON value that serialises to exactly `text`.
fn raw(text: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(text.to_owned()).unwrap()
}

fn assemble<T: serde::Serialize>(
    adapter: &dyn ApiAdapter,
    events: &[(&str, T)],
) -> (ParsedGeneration, Vec<Delta>) {
    let sink = Recorder::default();
    let mut assembler = adapter.stream_assembler(StreamContext {
        run_id: RunId::from_ordinal(1),
        turn: 2,
    });
    for (event, data) in events {
        let data = serde_json::to_string(data).unwrap();
        assembler
            .on_event(
                &SseEvent {
                    event: (*event).into(),
                    data,
                },
                &sink,
            )
            .unwrap();
    }
    (assembler.finish().unwrap(), sink.0.into_inner().unwrap())
}

fn summary(parsed: &ParsedGeneration) -> Value {
    json!({
        "items": parsed.items.iter().map(|item| json!([format!("{:?}", item.kind), item.raw.get(),
            item.calls.iter().map(|c| [&c.call_id, &c.name, &c.arguments]).collect::<Vec<_>>()])).collect::<Vec<_>>(),
        "usage": parsed.usage, "id": parsed.response_id, "finish": parsed.finish_reason, "context": parsed.context_tokens,
    })
}

#[test]
fn responses_request_replays_reasoning_verbatim() {
    let loaded = request(
        "openai:responses",
        json!({"reasoning_effort": "high", "hosted_tools": [{"type": "web_search"}]}),
        conversation("openai:responses"),
    );
    let body = ResponsesAdapter.materialize(&loaded, true).unwrap();
    let text = String::from_utf8(body.clone()).unwrap();
    assert!(
        text.contains(REASONING),
        "reasoning item is spliced byte for byte: {text}"
    );
    assert!(text.contains(CALL));
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["instructions"], "Be terse.");
    assert_eq!(
        body["input"][0],
        json!({"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "Skills: arithmetic."}]})
    );
    assert_eq!(
        body["input"][1]["content"][0],
        json!({"type": "input_text", "text": "What is 2 + 3?"})
    );
    assert!(
        body["input"][2]["content"][0]["image_url"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert_eq!(
        body["input"][5],
        json!({"type": "function_call_output", "call_id": "call_1", "output": "{\"sum\":5}"})
    );
    assert_eq!(body["tools"][0]["name"], "add");
    assert_eq!(body["tools"][1], json!({"type": "web_search"}));
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(
        body["reasoning"],
        json!({"effort": "high", "summary": "auto"})
    );
    assert_eq!(body["store"], false);
    assert_eq!(body["stream"], true);
    assert_eq!(body["prompt_cache_key"], "session_9");
    assert_eq!(body["max_output_tokens"], 1_000);
}

#[test]
fn responses_request_takes_foreign_items_as_text_and_calls() {
    let items = vec![
        text(0, ItemKind::UserMessage, "hi"),
        item(
            1,
            ItemKind::Reasoning,
            envelope(
                "anthropic:messages",
                r#"{"type":"thinking","thinking":"x","signature":"s"}"#,
            ),
        ),
        item(
            2,
            ItemKind::ToolCall,
            envelope(
                "anthropic:messages",
                r#"{"type":"tool_use","id":"toolu_1","name":"add","input":{"a":1}}"#,
            ),
        ),
        tool_result(3, "toolu_1", "2"),
    ];
    let mut loaded = request("openai:responses", json!({}), items);
    loaded.request.tool_choice = ToolChoice::Tool { name: "add".into() };
    let body: Value =
        serde_json::from_slice(&ResponsesAdapter.materialize(&loaded, false).unwrap()).unwrap();
    let input = body["input"].as_array().unwrap();
    assert_eq!(input.len(), 3, "foreign thinking is dropped: {input:?}");
    assert_eq!(
        input[1],
        json!({"type": "function_call", "call_id": "toolu_1", "name": "add", "arguments": "{\"a\":1}"})
    );
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "name": "add"})
    );
    assert!(body.get("include").is_none() && body.get("stream").is_none());
}

fn responses_object() -> String {
    format!(
        r#"{{"id":"resp_1","object":"response","status":"completed","output":[{REASONING},{CALL}],"usage":{{"input_tokens":120,"input_tokens_details":{{"cached_tokens":100}},"output_tokens":30,"output_tokens_details":{{"reasoning_tokens":20}},"total_tokens":150}}}}"#
    )
}

#[test]
fn responses_stream_assembles_what_the_body_says() {
    let body = responses_object();
    let blocking = ResponsesAdapter.parse_response(body.as_bytes()).unwrap();
    assert_eq!(blocking.finish_reason, FinishReason::ToolCalls);
    assert_eq!(blocking.usage.cached_input_tokens, 100);
    assert_eq!(blocking.usage.reasoning_tokens, 20);
    assert_eq!(blocking.items[1].calls[0].arguments, "{\"a\":2,\"b\":3}");
    assert_eq!(blocking.items[0].raw.get(), REASONING);

    let (reasoning, call) = (raw(REASONING), raw(CALL));
    let body: Value = serde_json::from_str(&body).unwrap();
    let events = [
        ("response.created", raw(&json!({"type": "response.created", "response": {"id": "resp_1", "status": "in_progress", "output": []}}).to_string())),
        ("response.output_item.added", raw(&json!({"type": "response.output_item.added", "output_index": 0, "item": {"type": "reasoning"}}).to_string())),
        ("response.reasoning_summary_text.delta", raw(&json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "Add "}).to_string())),
        ("response.reasoning_summary_text.delta", raw(&json!({"type": "response.reasoning_summary_text.delta", "output_index": 0, "delta": "them."}).to_string())),
        ("response.output_item.done", raw(&format!(r#"{{"type":"response.output_item.done","output_index":0,"item":{}}}"#, reasoning.get()))),
        ("response.function_call_arguments.delta", raw(&json!({"type": "response.function_call_arguments.delta", "output_index": 1, "delta": "{\"a\":2,"}).to_string())),
        ("response.output_item.done", raw(&format!(r#"{{"type":"response.output_item.done","output_index":1,"item":{}}}"#, call.get()))),
        ("response.completed", raw(&serde_json::to_string(&json!({"type": "response.completed", "response": body})).unwrap())),
    ];
    let (streamed, deltas) = assemble(&ResponsesAdapter, &events);
    assert_eq!(summary(&streamed), summary(&blocking));
    assert_eq!(
        streamed.items[0].raw.get(),
        REASONING,
        "the streamed item keeps the event's bytes"
    );
    let kinds: Vec<_> = deltas
        .iter()
        .map(|delta| (delta.kind, delta.output_index))
        .collect();
    assert_eq!(
        kinds,
        [
            (DeltaKind::Reasoning, 0),
            (DeltaKind::Reasoning, 0),
            (DeltaKind::ToolArguments, 1)
        ]
    );
}

#[test]
fn responses_failure_is_a_classified_provider_error() {
    let body = json!({"id": "resp_2", "status": "failed", "output": [],
                      "error": {"code": "rate_limit_exceeded", "message": "slow down"}});
    let err = ResponsesAdapter
        .parse_response(body.to_string().as_bytes())
        .unwrap_err();
    assert!(
        matches!(err, llm_runtime::RuntimeError::Provider(_)),
        "{err:?}"
    );
}

#[test]
fn chat_request_replays_messages_and_groups_foreign_calls() {
    let mut items = conversation("openai:completions");
    items.push(item(7, ItemKind::AssistantMessage, envelope("openai:responses", r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Also:","annotations":[]}]}"#)));
    items.push(item(
        8,
        ItemKind::ToolCall,
        envelope("openai:responses", CALL),
    ));
    items.push(tool_result(9, "call_1", "{\"sum\":5}"));
    let loaded = request(
        "openai:completions",
        json!({"legacy_max_tokens": true, "seed": 3}),
        items,
    );
    let raw = ChatAdapter.materialize(&loaded, true).unwrap();
    let text = String::from_utf8(raw.clone()).unwrap();
    assert!(
        !text.contains("reasoning_content"),
        "reasoning_content is not sent back: {text}"
    );
    let body: Value = serde_json::from_slice(&raw).unwrap();
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<_> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "system",
            "system",
            "user",
            "user",
            "assistant",
            "tool",
            "assistant",
            "tool"
        ]
    );
    assert_eq!(messages[3]["content"][0]["type"], "image_url");
    assert_eq!(
        messages[4],
        json!({"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
               "function": {"name": "add", "arguments": "{\"a\":2,\"b\":3}"}}]})
    );
    assert_eq!(messages[6]["content"], "Also:");
    assert_eq!(
        messages[6]["tool_calls"][0]["id"], "call_1",
        "foreign text and call share one message"
    );
    assert_eq!(
        messages[7],
        json!({"role": "tool", "tool_call_id": "call_1", "content": "{\"sum\":5}"})
    );
    assert_eq!(body["max_tokens"], 1_000);
    assert_eq!(body["seed"], 3);
    assert_eq!(body["stream_options"], json!({"include_usage": true}));
    assert_eq!(body["tools"][0]["function"]["name"], "add");
}

#[test]
fn chat_stream_assembles_what_the_body_says() {
    let message = json!({"role": "assistant", "content": "Sum:", "reasoning_content": "add",
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "add", "arguments": "{\"a\":2,\"b\":3}"}}]});
    let usage = json!({"prompt_tokens": 50, "completion_tokens": 9, "total_tokens": 59,
                       "prompt_tokens_details": {"cached_tokens": 32}, "completion_tokens_details": {"reasoning_tokens": 4}});
    let body = json!({"id": "chatcmpl-1", "object": "chat.completion",
                      "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls"}], "usage": usage});
    let blocking = ChatAdapter
        .parse_response(body.to_string().as_bytes())
        .unwrap();
    assert_eq!(blocking.finish_reason, FinishReason::ToolCalls);
    assert_eq!(blocking.usage.cached_input_tokens, 32);

    let chunk = |delta: Value, finish: Value| {
        json!({"id": "chatcmpl-1", "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let events = [
        (
            "message",
            chunk(json!({"role": "assistant", "content": ""}), Value::Null),
        ),
        (
            "message",
            chunk(json!({"reasoning_content": "add"}), Value::Null),
        ),
        ("message", chunk(json!({"content": "Sum:"}), Value::Null)),
        (
            "message",
            chunk(
                json!({"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": {"name": "add", "arguments": ""}}]}),
                Value::Null,
            ),
        ),
        (
            "message",
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "{\"a\":2,"}}]}),
                Value::Null,
            ),
        ),
        (
            "message",
            chunk(
                json!({"tool_calls": [{"index": 0, "function": {"arguments": "\"b\":3}"}}]}),
                Value::Null,
            ),
        ),
        ("message", chunk(json!({}), json!("tool_calls"))),
        (
            "message",
            json!({"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": usage}),
        ),
    ];
    let (streamed, deltas) = assemble(&ChatAdapter, &events);
    assert_eq!(streamed.items[0].calls, blocking.items[0].calls);
    assert_eq!(streamed.usage, blocking.usage);
    assert_eq!(streamed.finish_reason, blocking.finish_reason);
    let replayed: Value = serde_json::from_str(streamed.items[0].raw.get()).unwrap();
    assert_eq!(
        replayed, message,
        "the assembled message equals the blocking one"
    );
    assert_eq!(
        deltas.iter().filter(|d| d.kind == DeltaKind::Text).count(),
        1,
        "empty content is not a delta"
    );
    assert_eq!(
        deltas
            .iter()
            .filter(|d| d.kind == DeltaKind::Reasoning)
            .count(),
        1
    );
    assert_eq!(
        deltas
            .iter()
            .filter(|d| d.kind == DeltaKind::ToolArguments)
            .count(),
        2
    );
}
