//! Request materialisation, on hand-built loaded requests.

use engine::core::config::{ModelRoute, ProviderParams};
use engine::core::request::GenerationRequest;
use engine::{BlobRef, RunId, SessionId, ToolCallId};
use serde_json::json;

use super::*;
use crate::content::ToolDefinition;

const THINKING: &str = r#"{"type": "thinking", "thinking": "The user wants the file \u00e9.", "signature": "EqQBCkgIBxABGAIqQL+x/sig=="}"#;
const TEXT: &str = r#"{"type":"text","text":"Let me read it."}"#;
const TOOL_USE_1: &str =
    r#"{"type":"tool_use","id":"toolu_01","name":"read_file","input":{"path":"src/main.rs"}}"#;
const TOOL_USE_2: &str =
    r#"{"type":"tool_use","id":"toolu_02","name":"read_file","input":{"path":"/etc/shadow"}}"#;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\nimage";

fn envelope(api_kind: &str, raw: &str) -> ItemContent {
    let bytes = format!(r#"{{"api_kind":"{api_kind}","item":{raw}}}"#);
    ItemContent::Provider(serde_json::from_str(&bytes).unwrap())
}

fn anthropic(raw: &str) -> ItemContent {
    envelope("anthropic:messages", raw)
}

fn item(kind: ItemKind, content: ItemContent) -> LoadedItem {
    LoadedItem {
        item: ContextItem {
            ordinal: 0,
            kind,
            key: None,
            content_ref: BlobRef::of_bytes(b"item"),
            token_estimate: 10,
            call_id: None,
            is_error: false,
            source_ref: None,
        },
        content,
    }
}

fn text(kind: ItemKind, text: &str) -> LoadedItem {
    item(kind, ItemContent::Text(text.into()))
}

fn tool_result(call_id: &str, output: &str, is_error: bool) -> LoadedItem {
    let mut loaded = text(ItemKind::ToolResult, output);
    loaded.item.call_id = Some(ToolCallId::new(call_id).unwrap());
    loaded.item.is_error = is_error;
    loaded
}

fn read_file() -> ToolDefinition {
    ToolDefinition {
        name: "read_file".into(),
        description: "Reads a file.".into(),
        parameters: json!({"type": "object", "properties": {"path": {"type": "string"}}}),

        hosted_mcp: None,
    }
}

fn loaded(params: Value, mut items: Vec<LoadedItem>, tools: Vec<ToolDefinition>) -> LoadedRequest {
    for (ordinal, loaded) in (1..).zip(&mut items) {
        loaded.item.ordinal = ordinal;
    }
    LoadedRequest {
        request: GenerationRequest {
            session_id: SessionId::new("session_1").unwrap(),
            run_id: RunId::from_ordinal(1),
            turn: 3,
            model: ModelRoute {
                provider_id: "anthropic".into(),
                api_kind: "anthropic:messages".into(),
                model: "claude-sonnet-4-5".into(),
            },
            output_tokens_max: 8_192,
            tool_choice: ToolChoice::Auto,
            provider_params: ProviderParams(params),
            tools: Vec::new(),
            items: items.iter().map(|loaded| loaded.item.clone()).collect(),
        },
        items,
        tools,
        hosted_headers: Default::default(),
    }
}

fn body_text(loaded: &LoadedRequest, stream: bool) -> String {
    String::from_utf8(materialize(loaded, stream).unwrap()).unwrap()
}

fn body(loaded: &LoadedRequest) -> Value {
    serde_json::from_str(&body_text(loaded, false)).unwrap()
}

fn value(raw: &str) -> Value {
    serde_json::from_str(raw).unwrap()
}

#[test]
fn materializes_a_conversation() {
    let items = vec![
        text(ItemKind::Instructions, "You are careful."),
        text(ItemKind::Catalog, "Skills: none."),
        text(ItemKind::UserMessage, "What is in this file and picture?"),
        item(
            ItemKind::UserMessage,
            ItemContent::Media {
                media_type: MediaType::Png,
                bytes: PNG.to_vec(),
            },
        ),
        item(ItemKind::Reasoning, anthropic(THINKING)),
        item(ItemKind::AssistantMessage, anthropic(TEXT)),
        item(ItemKind::ToolCall, anthropic(TOOL_USE_1)),
        item(ItemKind::ToolCall, anthropic(TOOL_USE_2)),
        tool_result("toolu_01", "fn main() {}", false),
        tool_result("toolu_02", "permission denied", true),
        text(ItemKind::UserMessage, "Thanks. And now?"),
    ];
    let request = loaded(
        json!({"thinking_budget_tokens": 2048}),
        items,
        vec![read_file()],
    );
    let sent = body_text(&request, false);
    let cache = json!({"type": "ephemeral"});
    let expected = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 8192,
        "system": [
            {"type": "text", "text": "You are careful."},
            {"type": "text", "text": "Skills: none.", "cache_control": cache},
        ],
        "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this file and picture?"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgppbWFnZQ=="},
                 "cache_control": cache},
            ]},
            {"role": "assistant", "content": [value(THINKING), value(TEXT), value(TOOL_USE_1), value(TOOL_USE_2)]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_01", "content": "fn main() {}", "is_error": false},
                {"type": "tool_result", "tool_use_id": "toolu_02", "content": "permission denied", "is_error": true},
                {"type": "text", "text": "Thanks. And now?", "cache_control": cache},
            ]},
        ],
        "tools": [{"name": "read_file", "description": "Reads a file.",
                   "input_schema": {"type": "object", "properties": {"path": {"type": "string"}}},
                   "cache_control": cache}],
        "thinking": {"type": "enabled", "budget_tokens": 2048},
    });
    assert_eq!(value(&sent), expected);
    // Provider blocks go back byte for byte: the thinking block keeps its spacing,
    // its `\u00e9` escape and its signature.
    let assistant = format!(
        r#"{{"role":"assistant","content":[{THINKING},{TEXT},{TOOL_USE_1},{TOOL_USE_2}]}}"#
    );
    assert!(sent.contains(&assistant), "{sent}");
    assert!(
        sent.starts_with(
            r#"{"model":"claude-sonnet-4-5","max_tokens":8192,"system":[{"type":"text","#
        ),
        "{sent}"
    );
    assert!(sent.contains(
        r#"{"type":"tool_result","tool_use_id":"toolu_02","content":"permission denied","is_error":true}"#
    ));
    assert!(!sent.contains("\"stream\""));
    assert!(body_text(&request, true).ends_with(r#","stream":true}"#));
}

#[test]
fn tool_results_lead_their_user_message() {
    let items = vec![
        text(ItemKind::UserMessage, "Read main."),
        item(ItemKind::ToolCall, anthropic(TOOL_USE_1)),
        text(ItemKind::UserMessage, "Also check the tests."),
        tool_result("toolu_01", "fn main() {}", false),
    ];
    let sent = body(&loaded(
        json!({"prompt_caching": false}),
        items,
        vec![read_file()],
    ));
    assert_eq!(
        sent["messages"][2],
        json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": "fn main() {}", "is_error": false},
            {"type": "text", "text": "Also check the tests."},
        ]})
    );
}

#[test]
fn a_tool_result_without_call_is_refused() {
    let items = vec![text(ItemKind::ToolResult, "orphan")];
    let err = materialize(&loaded(json!({}), items, Vec::new()), false).unwrap_err();
    assert!(matches!(err, RuntimeError::Content { .. }), "{err:?}");
}

#[test]
fn other_api_kinds_are_neutralised() {
    let items = vec![
        text(ItemKind::Summary, "We met."),
        text(ItemKind::UserMessage, " \n"),
        item(
            ItemKind::Reasoning,
            envelope(
                "openai:responses",
                r#"{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA"}"#,
            ),
        ),
        item(
            ItemKind::AssistantMessage,
            envelope(
                "openai:responses",
                r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"Reading both.","annotations":[]}]}"#,
            ),
        ),
        item(
            ItemKind::ToolCall,
            envelope(
                "openai:responses",
                r#"{"type":"function_call","call_id":"call_1","name":"read_file","arguments":"{\"path\":\"a.rs\"}"}"#,
            ),
        ),
        item(
            ItemKind::ToolCall,
            envelope(
                "openai:responses",
                r#"{"type":"function_call","call_id":"call_2","name":"read_file","arguments":"{\"path\":"}"#,
            ),
        ),
        tool_result("call_1", "a", false),
        tool_result("call_2", "", true),
    ];
    let sent = body_text(
        &loaded(json!({"prompt_caching": false}), items, vec![read_file()]),
        false,
    );
    assert_eq!(
        value(&sent)["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "Summary of the conversation so far:\nWe met."}]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Reading both."},
                {"type": "tool_use", "id": "call_1", "name": "read_file", "input": {"path": "a.rs"}},
                {"type": "tool_use", "id": "call_2", "name": "read_file", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "a", "is_error": false},
                {"type": "tool_result", "tool_use_id": "call_2", "content": "(no output)", "is_error": true},
            ]},
        ])
    );
    assert!(!sent.contains("cache_control"), "{sent}");
    assert!(sent.contains(
        r#"{"type":"tool_use","id":"call_1","name":"read_file","input":{"path":"a.rs"}}"#
    ));
}

#[test]
fn the_user_speaks_first() {
    let items = vec![
        text(ItemKind::Instructions, "Be brief."),
        text(ItemKind::AssistantMessage, "Earlier answer."),
        item(ItemKind::AssistantMessage, anthropic(TEXT)),
        text(ItemKind::UserMessage, "Go on."),
    ];
    let sent = body(&loaded(json!({}), items, Vec::new()));
    let cache = json!({"type": "ephemeral"});
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "user", "content": [{"type": "text", "text": "(conversation continues)", "cache_control": cache}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Earlier answer."}, value(TEXT)]},
            {"role": "user", "content": [{"type": "text", "text": "Go on.", "cache_control": cache}]},
        ])
    );
    assert_eq!(
        sent["system"],
        json!([{"type": "text", "text": "Be brief.", "cache_control": cache}])
    );
    assert!(sent.get("tools").is_none() && sent.get("tool_choice").is_none());
}

#[test]
fn maps_tool_choice() {
    let cases = [
        (ToolChoice::Auto, None),
        (ToolChoice::None, Some(json!({"type": "none"}))),
        (ToolChoice::Required, Some(json!({"type": "any"}))),
        (
            ToolChoice::Tool {
                name: "read_file".into(),
            },
            Some(json!({"type": "tool", "name": "read_file"})),
        ),
    ];
    for (choice, expected) in cases {
        let items = vec![text(ItemKind::UserMessage, "hi")];
        let mut request = loaded(json!({}), items, vec![read_file()]);
        request.request.tool_choice = choice.clone();
        assert_eq!(
            body(&request).get("tool_choice"),
            expected.as_ref(),
            "{choice:?}"
        );
        request.tools.clear();
        assert_eq!(
            body(&request).get("tool_choice"),
            None,
            "{choice:?} without tools"
        );
    }
}

#[test]
fn clamps_the_thinking_budget() {
    let cases = [
        (
            json!({"thinking_budget_tokens": 4096}),
            8_192,
            ToolChoice::Auto,
            Some(4_096),
        ),
        (
            json!({"thinking_budget_tokens": 8192}),
            8_192,
            ToolChoice::Auto,
            Some(8_191),
        ),
        (
            json!({"thinking_budget_tokens": 2048}),
            1_025,
            ToolChoice::Auto,
            Some(1_024),
        ),
        (
            json!({"thinking_budget_tokens": 2048}),
            1_024,
            ToolChoice::Auto,
            None,
        ),
        (
            json!({"reasoning_effort": "medium"}),
            32_000,
            ToolChoice::None,
            Some(8_192),
        ),
        (
            json!({"reasoning_effort": "high"}),
            8_192,
            ToolChoice::Auto,
            Some(8_191),
        ),
        (
            json!({"thinking_budget_tokens": 4096}),
            8_192,
            ToolChoice::Required,
            None,
        ),
        (json!({}), 8_192, ToolChoice::Auto, None),
    ];
    for (params, max_tokens, choice, budget) in cases {
        let items = vec![text(ItemKind::UserMessage, "hi")];
        let mut request = loaded(params.clone(), items, vec![read_file()]);
        request.request.output_tokens_max = max_tokens;
        request.request.tool_choice = choice;
        let sent = body(&request);
        let expected = budget.map(|budget| json!({"type": "enabled", "budget_tokens": budget}));
        assert_eq!(
            sent.get("thinking"),
            expected.as_ref(),
            "{params} with max_tokens {max_tokens}"
        );
        assert_eq!(sent["max_tokens"], json!(max_tokens));
    }
}

#[test]
fn passes_sampling_params() {
    let params = json!({"temperature": 0.5, "top_p": 0.9, "top_k": 40});
    let sent = body(&loaded(
        params,
        vec![text(ItemKind::UserMessage, "hi")],
        Vec::new(),
    ));
    assert_eq!(
        (&sent["temperature"], &sent["top_p"], &sent["top_k"]),
        (&json!(0.5), &json!(0.9), &json!(40))
    );
    let invalid = loaded(json!({"temperature": 1.5}), Vec::new(), Vec::new());
    assert!(matches!(
        materialize(&invalid, false),
        Err(RuntimeError::Params(_))
    ));
}

#[test]
fn replays_a_parsed_response_byte_for_byte() {
    let content = r#"[{"type":"thinking","thinking":"Plan: read it.","signature":"Ev0BCkYIBxgCKkBs+/=="},{"type":"redacted_thinking","data":"EmwKAhgBEgy3"},{"type":"text","text":"Reading."},{"type":"tool_use","id":"toolu_07","name":"read_file","input":{"path":"a.rs"}}]"#;
    let response = format!(
        r#"{{"id":"msg_7","type":"message","role":"assistant","content":{content},"stop_reason":"tool_use","usage":{{"input_tokens":5,"output_tokens":9}}}}"#
    );
    let parsed = crate::anthropic::response::parse_response(response.as_bytes()).unwrap();
    let mut items = vec![text(ItemKind::UserMessage, "Read a.rs.")];
    for output in parsed.items {
        let envelope = OutputItemBlob {
            api_kind: "anthropic:messages".into(),
            item: output.raw,
        };
        // Through the stored bytes, as the CAS would hold them.
        let stored: OutputItemBlob = serde_json::from_slice(&envelope.to_bytes().unwrap()).unwrap();
        items.push(item(output.kind, ItemContent::Provider(stored)));
    }
    items.push(tool_result("toolu_07", "fn a() {}", false));
    let sent = body_text(
        &loaded(
            json!({"thinking_budget_tokens": 1024}),
            items,
            vec![read_file()],
        ),
        false,
    );
    assert!(
        sent.contains(&format!(r#"{{"role":"assistant","content":{content}}}"#)),
        "{sent}"
    );
}
