//! `event_view` of every entry of a driven session.

use api::types::events::EventView;
use api::types::items::ItemView;
use api::types::run::{InputItem, RunStatus};
use api_projection::{TOOL_OUTPUT_VIEW_BYTES_MAX, event_view};
use engine::core::command::CoreCommand;
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::effects::{GenerationOutcome, GenerationResult, ToolResult};
use engine::core::event::CoreEvent;
use engine::core::run::{EffectError, ToolCallRequest, ToolStatus, Usage};
use engine::drive::Action;
use engine::{BlobRef, LogEntry, RunId, ToolCallId};
use serde_json::json;

use crate::session_views::start_params;
use crate::support::{Host, assert_valid};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

pub(crate) const USAGE: Usage = Usage {
    input_tokens: 1_200,
    output_tokens: 90,
    cached_input_tokens: 0,
    reasoning_tokens: 30,
    cache_write_input_tokens: 0,
    cost_nanos: 0,
    unpriced_turns: 0,
};

/// Drives one run through a Responses generation (reasoning, message, function
/// call), a steer, a tool result and a failed second generation.
async fn driven_session() -> Host {
    let mut host = Host::open(&start_params()).await;
    let png_ref = host.put(PNG).await;
    let input = api_projection::prepare_input(&[
        InputItem::Text {
            text: "hello".into(),
        },
        InputItem::Media {
            blob_ref: png_ref.to_string(),
        },
    ])
    .unwrap();
    let input = host.input(input).await;
    host.admit(CoreCommand::RequestRun {
        submission_id: api_projection::submission_id("sub-1").unwrap(),
        input,
        overrides: Default::default(),
    })
    .unwrap();
    let Action::GenerateLlm(intent) = host.settle() else {
        panic!("expected a generation");
    };

    let kind = "openai:responses";
    let reasoning = host
        .put_envelope(kind, json!({"type": "reasoning", "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Add them."}], "encrypted_content": "gAAA"}))
        .await;
    let hidden = host
        .put_envelope(
            kind,
            json!({"type": "reasoning", "id": "rs_2", "summary": [], "encrypted_content": "gBBB"}),
        )
        .await;
    let message = host
        .put_envelope(
            kind,
            json!({"type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": "Let me add.", "annotations": []}]}),
        )
        .await;
    let call = host
        .put_envelope(
            kind,
            json!({"type": "function_call", "call_id": "call_1", "name": "add",
            "arguments": "{\"a\":1,\"b\":2}"}),
        )
        .await;
    let arguments_ref = host.put(r#"{"a":1,"b":2}"#).await;
    let call_id = ToolCallId::new("call_1").unwrap();
    let mut call_item = ItemSpec::new(ItemKind::ToolCall, call, 10);
    call_item.call_id = Some(call_id.clone());
    let outcome = GenerationOutcome::Completed(GenerationResult {
        usage: USAGE,
        response_id: Some("resp_1".into()),
        items: vec![
            ItemSpec::new(ItemKind::Reasoning, reasoning, 10),
            ItemSpec::new(ItemKind::Reasoning, hidden, 10),
            ItemSpec::new(ItemKind::AssistantMessage, message, 10),
            call_item,
        ],
        tool_calls: vec![ToolCallRequest {
            call_id: call_id.clone(),
            name: "add".into(),
            arguments_ref,
        }],
        finish_reason: None,
        context_tokens: None,
        request_ref: None,
        context_refresh: Default::default(),
    });
    let at = host.tick();
    assert_eq!(
        host.drive
            .resume_generation(&intent.run_id, intent.turn, outcome, at),
        engine::drive::Resumed::Applied
    );
    let Action::InvokeTools(batch) = host.settle() else {
        panic!("expected tools");
    };

    let steer = host
        .input(vec![api_projection::PreparedInput::Text(
            "and then?".into(),
        )])
        .await;
    host.admit(CoreCommand::Steer {
        run_id: RunId::from_ordinal(1),
        input: steer,
    })
    .unwrap();
    host.settle();

    // Output longer than a view shows, with a multi-byte character at the cut.
    let output = format!(
        "{}é{}",
        "x".repeat(TOOL_OUTPUT_VIEW_BYTES_MAX - 1),
        "y".repeat(100)
    );
    let output_ref = host.put(output).await;
    let results = vec![ToolResult {
        call_id,
        status: ToolStatus::Ok,
        output_ref,
        token_estimate: 5_000,
        later: None,
        child: Default::default(),
    }];
    let at = host.tick();
    assert_eq!(
        host.drive
            .resume_tool_results(&batch.run_id, batch.batch, results, at),
        engine::drive::Resumed::Applied
    );
    let Action::GenerateLlm(intent) = host.settle() else {
        panic!("expected a second generation");
    };
    let failed = GenerationOutcome::Failed {
        error: EffectError {
            code: "context_length_exceeded".into(),
            message: "too long".into(),
        },
    };
    let at = host.tick();
    assert_eq!(
        host.drive
            .resume_generation(&intent.run_id, intent.turn, failed, at),
        engine::drive::Resumed::Applied
    );
    assert_eq!(host.settle(), Action::Idle);
    host
}

pub(crate) async fn view_of(host: &Host, entry: &LogEntry) -> EventView {
    let view = event_view(entry, &host.blobs).await.unwrap();
    assert_valid("EventView", &view);
    view
}

#[tokio::test]
async fn every_entry_renders_and_validates() {
    let host = driven_session().await;
    for entry in &host.log {
        let view = view_of(&host, entry).await;
        assert_eq!(view.cursor, entry.seq);
        assert_eq!(view.kind, entry.event.kind);
        assert_eq!(view.at_ms, entry.observed_at_ms);
        assert_eq!(
            view.run_id,
            entry.joins.run_id.as_ref().map(RunId::to_string)
        );
    }
    let requested = view_of(&host, host.entries("run.requested")[0]).await;
    assert_eq!(requested.run.unwrap().status, RunStatus::Queued);
    assert!(requested.items.is_empty());
    let opened = view_of(&host, host.entries("session.opened")[0]).await;
    assert_eq!((opened.run, opened.items.len()), (None, 0));
}

#[tokio::test]
async fn run_started_shows_user_input() {
    let host = driven_session().await;
    let entry = host.entries("run.started")[0];
    let view = view_of(&host, entry).await;
    let run = view.run.unwrap();
    assert_eq!(
        (run.run_id.as_str(), run.status, run.turns),
        ("run_1", RunStatus::Running, 0)
    );
    let seq = entry.seq;
    assert_eq!(
        view.items,
        [
            ItemView::UserMessage {
                item_id: format!("{seq}:0"),
                run_id: Some("run_1".into()),
                text: Some("hello".into()),
                media_type: None,
                blob_ref: BlobRef::of_bytes(b"hello").to_string(),
                truncated: false,
                audio_ref: None,
            },
            ItemView::UserMessage {
                item_id: format!("{seq}:1"),
                run_id: Some("run_1".into()),
                text: None,
                media_type: Some("image/png".into()),
                blob_ref: BlobRef::of_bytes(PNG).to_string(),
                truncated: false,
                audio_ref: None,
            },
        ]
    );
    let steer = view_of(&host, host.entries("run.steer_applied")[0]).await;
    assert!(
        matches!(&steer.items[..], [ItemView::UserMessage { text: Some(text), .. }] if text == "and then?")
    );
}

#[tokio::test]
async fn turn_completed_shows_reasoning_text_and_calls() {
    let host = driven_session().await;
    let entry = host.entries("turn.completed")[0];
    let view = view_of(&host, entry).await;
    let run = view.run.unwrap();
    assert_eq!((run.status, run.turns), (RunStatus::Running, 1));
    assert_eq!(run.usage.reasoning_tokens, 30);
    let seq = entry.seq;
    let run_id = Some("run_1".to_owned());
    assert_eq!(
        view.items,
        [
            ItemView::Reasoning {
                item_id: format!("{seq}:0"),
                run_id: run_id.clone(),
                summary: "Add them.".into(),
            },
            // The encrypted-only reasoning item is not shown.
            ItemView::AssistantMessage {
                item_id: format!("{seq}:1"),
                run_id: run_id.clone(),
                text: "Let me add.".into(),
                citations: Vec::new(),
            },
            ItemView::ToolCall {
                item_id: format!("{seq}:2"),
                run_id,
                call_id: "call_1".into(),
                name: "add".into(),
                arguments: r#"{"a":1,"b":2}"#.into(),
                result: None,
            },
        ]
    );
}

#[tokio::test]
async fn tool_result_is_cut_and_names_its_call() {
    let host = driven_session().await;
    let entry = host.entries("tool.result_recorded")[0];
    let view = view_of(&host, entry).await;
    assert_eq!(view.run, None);
    let [
        ItemView::ToolCall {
            call_id,
            name,
            arguments,
            result: Some(result),
            ..
        },
    ] = &view.items[..]
    else {
        panic!("{:?}", view.items);
    };
    assert_eq!((call_id.as_str(), name.as_str()), ("call_1", "add"));
    assert_eq!(arguments, r#"{"a":1,"b":2}"#);
    assert_eq!(result.status, "ok");
    assert!(result.truncated);
    // The cut falls inside "é", which is dropped whole.
    assert_eq!(result.output, "x".repeat(TOOL_OUTPUT_VIEW_BYTES_MAX - 1));
    let CoreEvent::ToolResultRecorded(recorded) = CoreEvent::decode(&entry.event).unwrap() else {
        panic!("not a tool result");
    };
    assert_eq!(result.output_ref, recorded.item.content_ref.to_string());
}

#[tokio::test]
async fn failures_show_as_error_items_and_failed_runs() {
    let host = driven_session().await;
    let failed = view_of(&host, host.entries("turn.failed")[0]).await;
    assert!(
        matches!(&failed.items[..], [ItemView::Error { code, message, run_id: Some(run), .. }]
        if code == "context_length_exceeded" && message == "too long" && run == "run_1")
    );
    let finished = view_of(&host, host.entries("run.finished")[0]).await;
    let run = finished.run.unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.usage.output_tokens, 90);
    let failure = run.failure.unwrap();
    assert_eq!(
        (
            failure.reason.as_str(),
            failure.code.as_str(),
            failure.message.as_str()
        ),
        ("generationFailed", "context_length_exceeded", "too long")
    );
}

#[tokio::test]
async fn completed_and_cancelled_runs() {
    let mut host = Host::open(&start_params()).await;
    crate::session_views::request_run(&mut host, "sub-1", "hi").await;
    let Action::GenerateLlm(intent) = host.settle() else {
        panic!("expected a generation");
    };
    let answer = host.put("Plain answer.").await;
    let outcome = GenerationOutcome::Completed(GenerationResult {
        usage: USAGE,
        response_id: None,
        items: vec![ItemSpec::new(ItemKind::AssistantMessage, answer, 3)],
        tool_calls: Vec::new(),
        finish_reason: None,
        context_tokens: None,
        request_ref: None,
        context_refresh: Default::default(),
    });
    let at = host.tick();
    assert_eq!(
        host.drive
            .resume_generation(&intent.run_id, intent.turn, outcome, at),
        engine::drive::Resumed::Applied
    );
    assert_eq!(host.settle(), Action::Idle);
    let completed = view_of(&host, host.entries("turn.completed")[0]).await;
    // Text written by something other than a provider adapter reads as itself.
    assert!(
        matches!(&completed.items[..], [ItemView::AssistantMessage { text, .. }] if text == "Plain answer.")
    );
    let finished = view_of(&host, host.entries("run.finished")[0]).await;
    let run = finished.run.unwrap();
    assert_eq!((run.status, run.failure), (RunStatus::Completed, None));

    crate::session_views::request_run(&mut host, "sub-2", "again").await;
    assert!(matches!(host.settle(), Action::GenerateLlm(_)));
    host.admit(CoreCommand::CancelRun {
        run_id: RunId::from_ordinal(2),
        reason: None,
    })
    .unwrap();
    assert_eq!(host.settle(), Action::Idle);
    let cancel = view_of(&host, host.entries("run.cancel_requested")[0]).await;
    assert_eq!(cancel.run.unwrap().status, RunStatus::Cancelling);
    let finished = view_of(&host, host.entries("run.finished")[1]).await;
    assert_eq!(finished.run.unwrap().status, RunStatus::Cancelled);
}

/// A view never carries a whole large input: text is cut to 64 KiB, and a blob over
/// 256 KiB is not even loaded (`truncated`, with its ref to fetch it).
#[tokio::test]
async fn large_user_input_is_cut_in_views() {
    let mut host = Host::open(&start_params()).await;
    let medium = host.put("a".repeat(100 * 1024)).await;
    let large = host.put("b".repeat(300 * 1024)).await;
    let input = api_projection::prepare_input(&[
        InputItem::TextRef {
            blob_ref: medium.to_string(),
        },
        InputItem::TextRef {
            blob_ref: large.to_string(),
        },
    ])
    .unwrap();
    let input = host.input(input).await;
    host.admit(CoreCommand::RequestRun {
        submission_id: api_projection::submission_id("sub-large").unwrap(),
        input,
        overrides: Default::default(),
    })
    .unwrap();
    host.settle();
    let view = view_of(&host, host.entries("run.started")[0]).await;
    let [
        ItemView::UserMessage {
            text: Some(cut),
            truncated: true,
            ..
        },
        ItemView::UserMessage {
            text: None,
            media_type: None,
            truncated: true,
            blob_ref,
            ..
        },
    ] = &view.items[..]
    else {
        panic!("unexpected items: {:?}", view.items);
    };
    assert_eq!(cut.len(), 64 * 1024);
    assert_eq!(blob_ref, &large.to_string());
}
