//! `event_view` of hand-written entries: the other API kinds, old payloads, unknown
//! kinds and missing blobs.

use api::types::items::ItemView;
use api_projection::{ProjectionError, event_view};
use engine::core::context::{ContextItem, ItemKind, ItemSpec};
use engine::core::event::{CoreEvent, ToolResultRecorded, TurnCompleted};
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::log::Joins;
use engine::{BlobRef, LogEntry, RunId, ToolCallId};
use serde_json::json;

use crate::event_views::{USAGE, view_of};
use crate::session_views::start_params;
use crate::support::Host;

fn run_entry(seq: u64, event: impl Into<CoreEvent>) -> LogEntry {
    LogEntry {
        seq,
        observed_at_ms: 1_000,
        joins: Joins {
            run_id: Some(RunId::from_ordinal(1)),
            ..Joins::default()
        },
        event: event.into().encode(),
    }
}

fn turn(items: Vec<ContextItem>, tool_calls: Vec<ToolCallRequest>) -> TurnCompleted {
    TurnCompleted {
        run_id: RunId::from_ordinal(1),
        turn: 1,
        usage: USAGE,
        response_id: None,
        items,
        tool_calls,
        finish_reason: None,
        context_tokens: None,
        request_ref: None,
    }
}

fn item(ordinal: u64, kind: ItemKind, content_ref: BlobRef, call_id: Option<&str>) -> ContextItem {
    let mut spec = ItemSpec::new(kind, content_ref, 1);
    spec.call_id = call_id.map(|id| ToolCallId::new(id).unwrap());
    ContextItem::new(ordinal, None, &spec)
}

async fn call(host: &Host, id: &str, name: &str, arguments: &str) -> ToolCallRequest {
    ToolCallRequest {
        call_id: ToolCallId::new(id).unwrap(),
        name: name.into(),
        arguments_ref: host.put(arguments).await,
    }
}

#[tokio::test]
async fn chat_and_anthropic_output_read_neutrally() {
    let host = Host::open(&start_params()).await;
    // Chat: one message with inline reasoning and two calls, listed after it.
    let chat = host
        .put_envelope("openai:completions", json!({"role": "assistant", "content": "Two calls.",
            "reasoning_content": "Both are needed.",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
                           {"id": "c2", "type": "function", "function": {"name": "b", "arguments": "{}"}}]}))
        .await;
    let calls = vec![
        call(&host, "c1", "a", "{}").await,
        call(&host, "c2", "b", "{\"x\":1}").await,
    ];
    let entry = run_entry(
        7,
        turn(vec![item(3, ItemKind::AssistantMessage, chat, None)], calls),
    );
    let view = view_of(&host, &entry).await;
    let shapes: Vec<(String, String)> = view.items.iter().map(shape).collect();
    assert_eq!(
        shapes,
        [
            ("7:0".into(), "reasoning Both are needed.".into()),
            ("7:1".into(), "assistant Two calls.".into()),
            ("7:2".into(), "call c1 a {}".into()),
            ("7:3".into(), "call c2 b {\"x\":1}".into()),
        ]
    );

    // Anthropic: thinking, redacted thinking (hidden), text, then a tool_use whose
    // call appears at its place, before the trailing text.
    let kind = "anthropic:messages";
    let thinking = host
        .put_envelope(
            kind,
            json!({"type": "thinking", "thinking": "Hmm.", "signature": "sig"}),
        )
        .await;
    let redacted = host
        .put_envelope(kind, json!({"type": "redacted_thinking", "data": "xyz"}))
        .await;
    let text = host
        .put_envelope(kind, json!({"type": "text", "text": "Calling."}))
        .await;
    let tool_use = host
        .put_envelope(
            kind,
            json!({"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 1}}),
        )
        .await;
    let after = host
        .put_envelope(kind, json!({"type": "text", "text": "Done."}))
        .await;
    let items = vec![
        item(3, ItemKind::Reasoning, thinking, None),
        item(4, ItemKind::Reasoning, redacted, None),
        item(5, ItemKind::AssistantMessage, text, None),
        item(6, ItemKind::ToolCall, tool_use, Some("toolu_1")),
        item(7, ItemKind::AssistantMessage, after, None),
    ];
    let calls = vec![call(&host, "toolu_1", "add", r#"{"a":1}"#).await];
    let view = view_of(&host, &run_entry(9, turn(items, calls))).await;
    let shapes: Vec<String> = view.items.iter().map(|item| shape(item).1).collect();
    assert_eq!(
        shapes,
        [
            "reasoning Hmm.",
            "assistant Calling.",
            r#"call toolu_1 add {"a":1}"#,
            "assistant Done."
        ]
    );
}

fn shape(item: &ItemView) -> (String, String) {
    match item {
        ItemView::Reasoning {
            item_id, summary, ..
        } => (item_id.clone(), format!("reasoning {summary}")),
        ItemView::AssistantMessage { item_id, text, .. } => {
            (item_id.clone(), format!("assistant {text}"))
        }
        ItemView::ToolCall {
            item_id,
            call_id,
            name,
            arguments,
            ..
        } => (
            item_id.clone(),
            format!("call {call_id} {name} {arguments}"),
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn old_tool_results_without_a_name_render() {
    let host = Host::open(&start_params()).await;
    let output_ref = host.put("boom").await;
    let mut spec = ItemSpec::new(ItemKind::ToolResult, output_ref.clone(), 1);
    spec.call_id = Some(ToolCallId::new("call_9").unwrap());
    let recorded = ToolResultRecorded {
        run_id: RunId::from_ordinal(1),
        batch: 1,
        call_id: ToolCallId::new("call_9").unwrap(),
        status: ToolStatus::Error,
        item: ContextItem::new(4, None, &spec),
        tool_name: None,
        arguments_ref: None,
    };
    let view = view_of(&host, &run_entry(5, recorded)).await;
    let [
        ItemView::ToolCall {
            name,
            arguments,
            result: Some(result),
            ..
        },
    ] = &view.items[..]
    else {
        panic!("{:?}", view.items);
    };
    assert_eq!((name.as_str(), arguments.as_str()), ("", ""));
    assert_eq!(
        (
            result.status.as_str(),
            result.output.as_str(),
            result.truncated
        ),
        ("error", "boom", false)
    );
    assert_eq!(result.output_ref, output_ref.to_string());
}

#[tokio::test]
async fn unknown_and_undecodable_entries_render_bare() {
    let host = Host::open(&start_params()).await;
    let mut entry = run_entry(3, turn(Vec::new(), Vec::new()));
    entry.event.kind = "lightspeed.core.turn.reticulated".into();
    let view = view_of(&host, &entry).await;
    assert_eq!(view.kind, "lightspeed.core.turn.reticulated");
    assert_eq!(
        (view.cursor, view.at_ms, view.run_id.as_deref()),
        (3, 1_000, Some("run_1"))
    );
    assert_eq!((view.run, view.items.len()), (None, 0));

    let mut newer = run_entry(4, turn(Vec::new(), Vec::new()));
    newer.event.version = 99;
    let view = view_of(&host, &newer).await;
    assert_eq!(
        (view.kind.as_str(), view.run, view.items.len()),
        ("lightspeed.core.turn.completed", None, 0)
    );

    let mut garbled = run_entry(5, turn(Vec::new(), Vec::new()));
    garbled.event.payload = json!({"nonsense": true});
    assert!(view_of(&host, &garbled).await.items.is_empty());
}

#[tokio::test]
async fn missing_blobs_are_an_error() {
    let host = Host::open(&start_params()).await;
    let missing = BlobRef::of_bytes(b"never stored");
    let entry = run_entry(
        6,
        turn(
            vec![item(3, ItemKind::AssistantMessage, missing.clone(), None)],
            Vec::new(),
        ),
    );
    let err = event_view(&entry, &host.blobs).await.unwrap_err();
    let ProjectionError::Blob { blob, .. } = &err;
    assert_eq!(*blob, missing);
    let api_error = api::ApiError::from(err);
    assert_eq!(api_error.kind(), api::ErrorKind::Internal);
    assert_eq!(api_error.data.reason.as_deref(), Some("blobUnavailable"));
}

/// Backends call `event_view` from `Send` futures (the `LightspeedApi` methods).
#[test]
fn event_view_future_is_send() {
    fn assert_send<T: Send>(_: T) {}
    let store = engine::memory::MemoryStore::new();
    let entry = run_entry(1, turn(Vec::new(), Vec::new()));
    assert_send(event_view(&entry, &store));
}
