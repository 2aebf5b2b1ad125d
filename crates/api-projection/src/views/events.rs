//! One committed log entry as clients see it.
//!
//! Run lifecycle events carry the run's state after the event; transcript events carry
//! the items they added, rendered provider-neutrally from the blobs behind them (user
//! input as text or a media type, assistant text and readable reasoning through
//! llm-runtime's neutral reading, tool calls with their arguments and results).
//! Entries this build cannot decode render with their kind and nothing else, so a log
//! written by a newer engine never stops a reader.

use api::ApiError;
use api::types::events::{
    EventView, HoldState, HoldView, LinkState, LinkView, WakeUpState, WakeUpView,
};
use api::types::items::{CitationView, ItemView, ToolResultView};
use api::types::run::RunStatus;
use engine::core::context::{ContextItem, ItemKind};
use engine::core::event::{CoreEvent, DecidedBy, ToolResultRecorded, TurnCompleted, WakeUpOutcome};
use engine::core::run::{ToolCallRequest, ToolStatus, Usage};
use engine::store::{BlobStore, SessionLog};
use engine::{BlobRef, LogEntry, RunId, SessionId, ToolCallId};
use llm_runtime::content::{MediaType, OutputItemBlob};
use llm_runtime::foreign::{self, NeutralItem};

use super::{finished_run_view, run_view};
use crate::error::ProjectionError;

/// Tool output shown inline in a view; the whole output stays behind `outputRef`.
pub const TOOL_OUTPUT_VIEW_BYTES_MAX: usize = 16 * 1024;
/// User text shown inline in a view; the rest is behind the item's `blobRef`.
pub const USER_TEXT_VIEW_BYTES_MAX: usize = 64 * 1024;
/// Citations shown per answer.
pub(crate) const CITATIONS_MAX: usize = 64;
/// A hosted tool call's detail, a cited passage: cut beyond this.
pub(crate) const DETAIL_BYTES_MAX: usize = 4 * 1024;
/// User input blobs larger than this are not loaded to render a view at all.
pub const USER_MESSAGE_LOAD_BYTES_MAX: u64 = 256 * 1024;

/// Views of the committed entries after `after` (at most `limit`), as
/// `session/events/read` and subscriptions serve them.
pub async fn event_views_after<S: SessionLog + BlobStore>(
    store: &S,
    session: &SessionId,
    after: u64,
    limit: usize,
) -> Result<Vec<EventView>, ApiError> {
    // A cursor at the end of the range has nothing after it (and `after + 1` would
    // overflow: a client may send any u64).
    let Some(first) = after.checked_add(1) else {
        return Ok(Vec::new());
    };
    let entries = store
        .read(session, first, limit)
        .await
        .map_err(|err| ApiError::internal(err.to_string()))?;
    let mut views = Vec::with_capacity(entries.len());
    for entry in &entries {
        views.push(event_view(entry, store).await?);
    }
    Ok(views)
}

/// One committed entry as clients see it. Loads the blobs it needs to render text.
///
/// `item_id`s are `"{seq}:{index}"`, `index` counting the items this entry renders:
/// the same entry and blobs always give the same ids.
pub async fn event_view<B: BlobStore>(
    entry: &LogEntry,
    blobs: &B,
) -> Result<EventView, ProjectionError> {
    let mut view = EventView {
        cursor: entry.seq,
        kind: entry.event.kind.clone(),
        at_ms: entry.observed_at_ms,
        run_id: entry.joins.run_id.as_ref().map(RunId::to_string),
        run: None,
        items: Vec::new(),
        finish_reason: None,
        context_tokens: None,
        hold: None,
        wake_up: None,
        link: None,
    };
    // Unknown kinds, newer versions and undecodable payloads: kind and cursor only.
    let Ok(event) = CoreEvent::decode(&entry.event) else {
        return Ok(view);
    };
    if view.run_id.is_none() {
        view.run_id = payload_run_id(&event).map(RunId::to_string);
    }
    let mut items = Items {
        seq: entry.seq,
        run_id: view.run_id.clone(),
        blobs,
        views: Vec::new(),
    };
    match &event {
        CoreEvent::RunRequested(e) => {
            let run_id = e.run.run_id.as_str();
            view.run = Some(run_view(run_id, RunStatus::Queued, 0, &Usage::default()));
        }
        // The transcripts are shown where the model sees them: in `run.started`.
        CoreEvent::RunInputTranscribed(_) => {}
        CoreEvent::RunStarted(e) => {
            let run_id = e.run_id.as_str();
            view.run = Some(run_view(run_id, RunStatus::Running, 0, &Usage::default()));
            items.transcript(&e.input).await?;
        }
        CoreEvent::SteerApplied(e) => items.transcript(&e.items).await?,
        CoreEvent::RunCancelRequested(e) => {
            let (run_id, status) = (e.run_id.as_str(), RunStatus::Cancelling);
            view.run = Some(run_view(run_id, status, 0, &Usage::default()));
        }
        CoreEvent::RunFinished(e) => {
            view.run = Some(finished_run_view(
                e.run_id.as_str(),
                &e.outcome,
                &e.usage,
                e.turns,
            ));
        }
        CoreEvent::TurnCompleted(e) => {
            let (run_id, status) = (e.run_id.as_str(), RunStatus::Running);
            view.run = Some(run_view(run_id, status, e.turn, &e.usage));
            view.finish_reason = e.finish_reason.map(finish_reason_view);
            view.context_tokens = e.context_tokens;
            items.turn_output(e).await?;
        }
        CoreEvent::TurnFailed(e) => items.push(|item_id, run_id| ItemView::Error {
            item_id,
            run_id,
            code: e.error.code.clone(),
            message: e.error.message.clone(),
        }),
        CoreEvent::ToolResultRecorded(e) => items.tool_result(e).await?,
        CoreEvent::ContextCompacted(e) => items.compaction(&e.summary).await?,
        CoreEvent::ApprovalRequested(e) => {
            view.hold = Some(hold_view(
                &e.calls,
                HoldState::AwaitingApproval,
                e.timeout_ms
                    .map(|timeout| entry.observed_at_ms.saturating_add(timeout)),
                false,
            ));
        }
        CoreEvent::ApprovalDecided(e) => {
            let state = match (e.approved, e.by) {
                (true, _) => HoldState::Approved,
                (false, DecidedBy::Person) => HoldState::Denied,
                (false, DecidedBy::Deadline) => HoldState::Expired,
            };
            view.hold = Some(hold_view(&e.calls, state, None, e.remember));
        }
        CoreEvent::ToolCallDeferred(e) => {
            let calls = std::slice::from_ref(&e.call_id);
            view.hold = Some(hold_view(
                calls,
                HoldState::Deferred,
                Some(e.until_ms),
                false,
            ));
        }
        CoreEvent::WakeUpScheduled(e) => {
            view.wake_up = Some(WakeUpView {
                wake_up: e.wake_up,
                state: WakeUpState::Scheduled,
                at_ms: Some(e.at_ms),
            });
        }
        CoreEvent::WakeUpEnded(e) => {
            view.wake_up = Some(WakeUpView {
                wake_up: e.wake_up,
                state: match e.outcome {
                    WakeUpOutcome::Fired => WakeUpState::Fired,
                    WakeUpOutcome::Dropped => WakeUpState::Dropped,
                    WakeUpOutcome::Cancelled => WakeUpState::Cancelled,
                },
                at_ms: None,
            });
        }
        CoreEvent::ToolAwaitingChildren(e) => {
            let calls = std::slice::from_ref(&e.call_id);
            view.hold = Some(hold_view(
                calls,
                HoldState::AwaitingChildren,
                e.until_ms,
                false,
            ));
        }
        CoreEvent::ChildRunStarted(e) => {
            view.link = Some(LinkView {
                state: if e.spawned {
                    LinkState::Spawned
                } else {
                    LinkState::RunStarted
                },
                session_id: Some(e.child.to_string()),
                run_id: e.child_run.to_string(),
                status: None,
                delivered: None,
            });
        }
        CoreEvent::ChildRunFinished(e) => {
            view.link = Some(LinkView {
                state: LinkState::RunFinished,
                session_id: Some(e.child.to_string()),
                run_id: e.child_run.to_string(),
                status: Some(child_run_status_view(e.status)),
                delivered: None,
            });
        }
        CoreEvent::ParentNotified(e) => {
            view.link = Some(LinkView {
                state: LinkState::ParentNotified,
                session_id: None,
                run_id: e.run_id.to_string(),
                status: None,
                delivered: Some(e.delivered),
            });
        }
        CoreEvent::SessionOpened(_)
        | CoreEvent::ConfigChanged(_)
        | CoreEvent::SessionClosed(_)
        | CoreEvent::ToolsChanged(_)
        | CoreEvent::ContextItemUpserted(_)
        | CoreEvent::ContextItemRemoved(_)
        | CoreEvent::CompactionRequested(_)
        | CoreEvent::CompactionFailed(_)
        | CoreEvent::RunSteered(_)
        | CoreEvent::TurnPlanned(_)
        | CoreEvent::TurnAborted(_)
        // The fork's link is in `session/read`'s `forkedFrom`; its history is the
        // source's events.
        | CoreEvent::SessionForked(_)
        // The pause shows in `session/read`'s `dispatchPaused`.
        | CoreEvent::DispatchChanged(_) => {}
    }
    view.items = items.views;
    Ok(view)
}

fn hold_view(
    calls: &[ToolCallId],
    state: HoldState,
    until_ms: Option<u64>,
    remember: bool,
) -> HoldView {
    HoldView {
        call_ids: calls.iter().map(ToString::to_string).collect(),
        state,
        until_ms,
        remember,
    }
}

/// How a child's run ended, as clients see it.
pub(crate) fn child_run_status_view(
    status: engine::core::lineage::ChildRunStatus,
) -> api::types::events::ChildRunStatus {
    use api::types::events::ChildRunStatus as View;
    use engine::core::lineage::ChildRunStatus;
    match status {
        ChildRunStatus::Completed => View::Completed,
        ChildRunStatus::Failed => View::Failed,
        ChildRunStatus::Cancelled => View::Cancelled,
    }
}

fn finish_reason_view(reason: engine::core::run::FinishReason) -> api::types::events::FinishReason {
    use api::types::events::FinishReason as View;
    use engine::core::run::FinishReason;
    match reason {
        FinishReason::Stop => View::Stop,
        FinishReason::ToolCalls => View::ToolCalls,
        FinishReason::MaxTokens => View::MaxTokens,
        FinishReason::ContentFilter => View::ContentFilter,
        FinishReason::Other => View::Other,
    }
}

/// The run an event belongs to, for entries written without joins.
fn payload_run_id(event: &CoreEvent) -> Option<&RunId> {
    match event {
        CoreEvent::RunRequested(e) => Some(&e.run.run_id),
        CoreEvent::RunInputTranscribed(e) => Some(&e.run_id),
        CoreEvent::RunStarted(e) => Some(&e.run_id),
        CoreEvent::RunSteered(e) => Some(&e.run_id),
        CoreEvent::SteerApplied(e) => Some(&e.run_id),
        CoreEvent::RunCancelRequested(e) => Some(&e.run_id),
        CoreEvent::RunFinished(e) => Some(&e.run_id),
        CoreEvent::TurnPlanned(e) => Some(&e.run_id),
        CoreEvent::TurnCompleted(e) => Some(&e.run_id),
        CoreEvent::TurnFailed(e) => Some(&e.run_id),
        CoreEvent::TurnAborted(e) => Some(&e.run_id),
        CoreEvent::ToolResultRecorded(e) => Some(&e.run_id),
        CoreEvent::ApprovalRequested(e) => Some(&e.run_id),
        CoreEvent::ApprovalDecided(e) => Some(&e.run_id),
        CoreEvent::ToolCallDeferred(e) => Some(&e.run_id),
        CoreEvent::WakeUpScheduled(e) => e.run_id.as_ref(),
        CoreEvent::ChildRunStarted(e) => Some(&e.run_id),
        CoreEvent::ToolAwaitingChildren(e) => Some(&e.run_id),
        CoreEvent::ParentNotified(e) => Some(&e.run_id),
        CoreEvent::ChildRunFinished(_)
        | CoreEvent::WakeUpEnded(_)
        | CoreEvent::SessionOpened(_)
        | CoreEvent::ConfigChanged(_)
        | CoreEvent::SessionClosed(_)
        | CoreEvent::ToolsChanged(_)
        | CoreEvent::ContextItemUpserted(_)
        | CoreEvent::ContextItemRemoved(_)
        | CoreEvent::CompactionRequested(_)
        | CoreEvent::ContextCompacted(_)
        | CoreEvent::CompactionFailed(_)
        | CoreEvent::SessionForked(_)
        | CoreEvent::DispatchChanged(_) => None,
    }
}

/// The item views of one entry, numbered as they are added.
struct Items<'a, B> {
    seq: u64,
    run_id: Option<String>,
    blobs: &'a B,
    views: Vec<ItemView>,
}

/// What an output item's blob holds: a provider envelope, or plain text written by
/// something other than a provider adapter (an imported transcript, a test host).
enum Stored {
    Envelope(OutputItemBlob),
    Text(String),
}

impl<B: BlobStore> Items<'_, B> {
    fn push(&mut self, make: impl FnOnce(String, Option<String>) -> ItemView) {
        let item_id = format!("{}:{}", self.seq, self.views.len());
        self.views.push(make(item_id, self.run_id.clone()));
    }

    async fn load(&self, blob: &BlobRef) -> Result<Vec<u8>, ProjectionError> {
        self.blobs
            .get(blob)
            .await
            .map_err(|source| ProjectionError::Blob {
                blob: blob.clone(),
                source,
            })
    }

    /// Text blobs are UTF-8 by convention; anything else is shown, not refused.
    async fn load_text(&self, blob: &BlobRef) -> Result<String, ProjectionError> {
        Ok(text_lossy(self.load(blob).await?))
    }

    async fn load_stored(&self, blob: &BlobRef) -> Result<Stored, ProjectionError> {
        let bytes = self.load(blob).await?;
        Ok(match serde_json::from_slice::<OutputItemBlob>(&bytes) {
            Ok(envelope) => Stored::Envelope(envelope),
            Err(_) => Stored::Text(text_lossy(bytes)),
        })
    }

    /// Input items (run start, applied steer): user messages, and whatever else a
    /// host put in the transcript rendered as it would be from a generation.
    async fn transcript(&mut self, items: &[ContextItem]) -> Result<(), ProjectionError> {
        for item in items {
            self.item(item).await?;
        }
        Ok(())
    }

    /// A generation's output in provider order; each tool call appears where its item
    /// is, or after the items when its item names no call (a Chat message with several).
    async fn turn_output(&mut self, turn: &TurnCompleted) -> Result<(), ProjectionError> {
        let mut shown = vec![false; turn.tool_calls.len()];
        for item in &turn.items {
            self.item(item).await?;
            let Some(call_id) = &item.call_id else {
                continue;
            };
            for (call, shown) in turn.tool_calls.iter().zip(shown.iter_mut()) {
                if !*shown && call.call_id == *call_id {
                    *shown = true;
                    self.tool_call(call).await?;
                }
            }
        }
        for (call, shown) in turn.tool_calls.iter().zip(shown) {
            if !shown {
                self.tool_call(call).await?;
            }
        }
        Ok(())
    }

    async fn item(&mut self, item: &ContextItem) -> Result<(), ProjectionError> {
        match item.kind {
            ItemKind::UserMessage => {
                self.user_message(&item.content_ref, item.source_ref.as_ref())
                    .await
            }
            ItemKind::AssistantMessage => self.assistant_message(&item.content_ref).await,
            ItemKind::Reasoning => self.reasoning(&item.content_ref).await,
            // Tool calls are shown from the generation's call list (with arguments);
            // results come with `tool.result_recorded`; the rest is not transcript a
            // client reads (provider-native output, keyed items, summaries).
            ItemKind::Compaction => self.compaction(std::slice::from_ref(item)).await,
            ItemKind::ProviderOpaque => self.provider_item(&item.content_ref).await,
            // Never in the context: transcribed before its run starts.
            ItemKind::UserAudio
            | ItemKind::ToolCall
            | ItemKind::ToolResult
            | ItemKind::Instructions
            | ItemKind::Catalog
            | ItemKind::Summary => Ok(()),
        }
    }

    /// One view for the items a compaction left: a summary's text, or a provider's
    /// compaction item (readable when it holds plain text, as Anthropic's does).
    async fn compaction(&mut self, summary: &[ContextItem]) -> Result<(), ProjectionError> {
        let native = summary.iter().any(|item| item.kind == ItemKind::Compaction);
        let mut text = None;
        for item in summary {
            let readable = match item.kind {
                ItemKind::Summary => match self.load_stored(&item.content_ref).await? {
                    Stored::Text(text) => Some(text),
                    Stored::Envelope(_) => None,
                },
                ItemKind::Compaction => match self.load_stored(&item.content_ref).await? {
                    Stored::Envelope(envelope) => {
                        serde_json::from_str::<serde_json::Value>(envelope.item.get())
                            .ok()
                            .and_then(|value| value.get("content")?.as_str().map(str::to_owned))
                    }
                    Stored::Text(text) => Some(text),
                },
                _ => None,
            };
            if readable.is_some() {
                text = readable;
                break;
            }
        }
        let summary = text.map(|text| cut_on_char_boundary(text, USER_TEXT_VIEW_BYTES_MAX).0);
        self.push(|item_id, run_id| ItemView::Compaction {
            item_id,
            run_id,
            native,
            summary,
        });
        Ok(())
    }

    async fn user_message(
        &mut self,
        blob: &BlobRef,
        audio: Option<&BlobRef>,
    ) -> Result<(), ProjectionError> {
        // Looked at only when small: every event view of every reader would
        // otherwise load whatever a client once uploaded.
        let len = self
            .blobs
            .blob_len(blob)
            .await
            .map_err(|source| ProjectionError::Blob {
                blob: blob.clone(),
                source,
            })?;
        let (text, media_type, truncated) = match len {
            Some(len) if len <= USER_MESSAGE_LOAD_BYTES_MAX => {
                let bytes = self.load(blob).await?;
                match MediaType::sniff(&bytes) {
                    Some(media_type) => (None, Some(media_type.mime().to_owned()), false),
                    None => {
                        let (text, truncated) =
                            cut_on_char_boundary(text_lossy(bytes), USER_TEXT_VIEW_BYTES_MAX);
                        (Some(text), None, truncated)
                    }
                }
            }
            _ => (None, None, true),
        };
        self.push(|item_id, run_id| ItemView::UserMessage {
            item_id,
            run_id,
            text,
            media_type,
            blob_ref: blob.to_string(),
            truncated,
            audio_ref: audio.map(BlobRef::to_string),
        });
        Ok(())
    }

    async fn assistant_message(&mut self, blob: &BlobRef) -> Result<(), ProjectionError> {
        let mut citations = Vec::new();
        let text = match self.load_stored(blob).await? {
            Stored::Text(text) => text,
            Stored::Envelope(envelope) => {
                citations = foreign::citations(&envelope)
                    .into_iter()
                    .take(CITATIONS_MAX)
                    .map(|citation| CitationView {
                        url: citation.url,
                        title: citation.title,
                        cited_text: citation
                            .cited_text
                            .map(|text| cut_on_char_boundary(text, DETAIL_BYTES_MAX).0),
                        file: citation.file,
                    })
                    .collect();
                // A Chat Completions message carries its reasoning inline.
                if let Some(summary) = foreign::reasoning_text(&envelope) {
                    self.push(|item_id, run_id| ItemView::Reasoning {
                        item_id,
                        run_id,
                        summary,
                    });
                }
                let texts: Vec<String> = foreign::neutralize(&envelope)
                    .into_iter()
                    .filter_map(|part| match part {
                        NeutralItem::AssistantText(text) => Some(text),
                        NeutralItem::ToolCall { .. } | NeutralItem::Opaque => None,
                    })
                    .collect();
                if texts.is_empty() {
                    // Only tool calls (or nothing readable): no message to show.
                    return Ok(());
                }
                texts.concat()
            }
        };
        self.push(|item_id, run_id| ItemView::AssistantMessage {
            item_id,
            run_id,
            text,
            citations,
        });
        Ok(())
    }

    /// A provider-run tool's call (its results are not shown: they reach the model).
    async fn provider_item(&mut self, blob: &BlobRef) -> Result<(), ProjectionError> {
        let Stored::Envelope(envelope) = self.load_stored(blob).await? else {
            return Ok(());
        };
        if let Some(call) = foreign::hosted_call(&envelope) {
            let detail = call
                .detail
                .map(|detail| cut_on_char_boundary(detail, DETAIL_BYTES_MAX).0);
            self.push(|item_id, run_id| ItemView::HostedToolCall {
                item_id,
                run_id,
                tool: call.tool,
                detail,
            });
        }
        Ok(())
    }

    async fn reasoning(&mut self, blob: &BlobRef) -> Result<(), ProjectionError> {
        let summary = match self.load_stored(blob).await? {
            Stored::Envelope(envelope) => foreign::reasoning_text(&envelope),
            Stored::Text(text) => Some(text).filter(|text| !text.is_empty()),
        };
        // Encrypted or redacted reasoning has nothing a client can read.
        if let Some(summary) = summary {
            self.push(|item_id, run_id| ItemView::Reasoning {
                item_id,
                run_id,
                summary,
            });
        }
        Ok(())
    }

    async fn tool_call(&mut self, call: &ToolCallRequest) -> Result<(), ProjectionError> {
        let arguments = self.load_text(&call.arguments_ref).await?;
        self.push(|item_id, run_id| ItemView::ToolCall {
            item_id,
            run_id,
            call_id: call.call_id.to_string(),
            name: call.name.clone(),
            arguments,
            result: None,
        });
        Ok(())
    }

    async fn tool_result(&mut self, recorded: &ToolResultRecorded) -> Result<(), ProjectionError> {
        let arguments = match &recorded.arguments_ref {
            Some(blob) => self.load_text(blob).await?,
            None => String::new(),
        };
        let output_ref = &recorded.item.content_ref;
        let (output, truncated) = cut_on_char_boundary(
            self.load_text(output_ref).await?,
            TOOL_OUTPUT_VIEW_BYTES_MAX,
        );
        let status = match recorded.status {
            ToolStatus::Ok => "ok",
            ToolStatus::Error => "error",
            ToolStatus::NotExecuted => "notExecuted",
        };
        let result = ToolResultView {
            status: status.to_owned(),
            output,
            truncated,
            output_ref: output_ref.to_string(),
        };
        self.push(|item_id, run_id| ItemView::ToolCall {
            item_id,
            run_id,
            call_id: recorded.call_id.to_string(),
            // Events written before tool results named their call have no name.
            name: recorded.tool_name.clone().unwrap_or_default(),
            arguments,
            result: Some(result),
        });
        Ok(())
    }
}

fn text_lossy(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes)
        .unwrap_or_else(|err| String::from_utf8_lossy(err.as_bytes()).into_owned())
}

/// `text` cut to at most `bytes_max` bytes without splitting a character, and
/// whether anything was cut.
fn cut_on_char_boundary(mut text: String, bytes_max: usize) -> (String, bool) {
    if text.len() <= bytes_max {
        return (text, false);
    }
    text.truncate(text.floor_char_boundary(bytes_max));
    (text, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_on_char_boundaries() {
        assert_eq!(cut_on_char_boundary("abc".into(), 3), ("abc".into(), false));
        assert_eq!(cut_on_char_boundary("abcd".into(), 3), ("abc".into(), true));
        // "é" is two bytes: a cut inside it drops the whole character.
        assert_eq!(cut_on_char_boundary("aé".into(), 2), ("a".into(), true));
        let long = "ü".repeat(TOOL_OUTPUT_VIEW_BYTES_MAX);
        let (cut, truncated) = cut_on_char_boundary(long, TOOL_OUTPUT_VIEW_BYTES_MAX);
        assert!(truncated);
        assert_eq!(cut.len(), TOOL_OUTPUT_VIEW_BYTES_MAX);
    }

    #[test]
    fn invalid_utf8_is_shown_lossily() {
        assert_eq!(text_lossy(b"ok\xff".to_vec()), "ok\u{fffd}");
    }
}
