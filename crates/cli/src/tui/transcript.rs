//! The transcript: committed items as entries, plus the running turn's live text.
//!
//! Committed items replace what was streamed: a turn's deltas are shown until its
//! `turn.completed` event arrives with the final items, so a reconnect that lost
//! some deltas still ends with the right text.

use std::collections::VecDeque;

use api::types::events::{DeltaKind, DeltaView, EventView};
use api::types::items::{ItemView, ToolResultView};

use crate::client::kinds;

/// Entries kept; older ones are dropped (the session keeps them all).
const ENTRIES_MAX: usize = 2_000;
/// Live text kept per turn, in bytes; the committed item has all of it.
const STREAMED_BYTES_MAX: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    User {
        text: String,
        steer: bool,
    },
    Assistant {
        text: String,
    },
    Reasoning {
        text: String,
    },
    /// Consecutive tool calls, shown together.
    Tools(Vec<ToolCall>),
    Error {
        text: String,
    },
    /// Something the CLI says (help, session lists, connection changes).
    Notice {
        text: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    pub call_id: String,
    pub name: String,
    pub arguments: String,
    pub result: Option<ToolResultView>,
}

/// The running turn's output so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Streaming {
    pub run_id: String,
    pub text: String,
    pub reasoning: String,
    /// Tool-call arguments are being written.
    pub calling_tool: bool,
    /// The latest progress line of a running tool call.
    pub tool_progress: Option<String>,
    /// What running commands printed, newest last: only the tail is kept (the
    /// committed tool result replaces it).
    pub tool_output: String,
}

/// Bytes of live command output the transcript keeps.
pub(super) const TOOL_OUTPUT_KEPT_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Default)]
pub struct Transcript {
    entries: VecDeque<Entry>,
    streaming: Option<Streaming>,
    /// Entries dropped to stay within [`ENTRIES_MAX`].
    dropped: usize,
}

impl Transcript {
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn dropped(&self) -> usize {
        self.dropped
    }

    pub fn streaming(&self) -> Option<&Streaming> {
        self.streaming.as_ref()
    }

    pub fn push(&mut self, entry: Entry) {
        if self.entries.len() == ENTRIES_MAX {
            self.entries.pop_front();
            self.dropped += 1;
        }
        self.entries.push_back(entry);
    }

    pub fn notice(&mut self, text: impl Into<String>) {
        self.push(Entry::Notice { text: text.into() });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.push(Entry::Error { text: text.into() });
    }

    pub fn apply_delta(&mut self, delta: &DeltaView) {
        let streaming = self.streaming.get_or_insert_with(Streaming::default);
        if streaming.run_id != delta.run_id {
            *streaming = Streaming {
                run_id: delta.run_id.clone(),
                ..Streaming::default()
            };
        }
        let target = match delta.kind {
            DeltaKind::Text => &mut streaming.text,
            DeltaKind::Reasoning => &mut streaming.reasoning,
            DeltaKind::ToolArguments => {
                streaming.calling_tool = true;
                return;
            }
            DeltaKind::ToolProgress => {
                // A line, bounded like the rest of what streams.
                let line: String = delta.text.chars().take(200).collect();
                streaming.tool_progress = Some(line);
                return;
            }
            DeltaKind::Retry => {
                // The turn is being generated again: what streamed is void.
                *streaming = Streaming {
                    run_id: delta.run_id.clone(),
                    ..Streaming::default()
                };
                return;
            }
            DeltaKind::ToolOutput => {
                let output = &mut streaming.tool_output;
                output.push_str(&delta.text);
                if output.len() > TOOL_OUTPUT_KEPT_BYTES {
                    let mut cut = output.len() - TOOL_OUTPUT_KEPT_BYTES;
                    while !output.is_char_boundary(cut) {
                        cut += 1;
                    }
                    output.drain(..cut);
                }
                return;
            }
        };
        if target.len() + delta.text.len() <= STREAMED_BYTES_MAX {
            target.push_str(&delta.text);
        }
    }

    pub fn apply_event(&mut self, event: &EventView) {
        let steer = event.kind == kinds::STEER_APPLIED;
        for item in &event.items {
            self.apply_item(item, steer);
        }
        match event.finish_reason {
            Some(api::types::events::FinishReason::MaxTokens) => {
                self.notice("The answer above was cut short: it reached the output limit.");
            }
            Some(api::types::events::FinishReason::ContentFilter) => {
                self.notice("The answer above was cut short by the provider's content filter.");
            }
            _ => {}
        }
        let turn_ended = event.kind == kinds::TURN_COMPLETED
            || event.kind == kinds::TURN_FAILED
            || event.kind == kinds::RUN_FINISHED;
        if turn_ended {
            self.streaming = None;
        }
    }

    fn apply_item(&mut self, item: &ItemView, steer: bool) {
        match item {
            ItemView::UserMessage {
                text, media_type, ..
            } => {
                let text = match (text, media_type) {
                    (Some(text), _) => text.clone(),
                    (None, Some(media_type)) => format!("[{media_type}]"),
                    (None, None) => "[input]".into(),
                };
                self.push(Entry::User { text, steer });
            }
            ItemView::AssistantMessage { text, .. } => {
                self.push(Entry::Assistant { text: text.clone() });
            }
            ItemView::Reasoning { summary, .. } => {
                self.push(Entry::Reasoning {
                    text: summary.clone(),
                });
            }
            ItemView::ToolCall {
                call_id,
                name,
                arguments,
                result,
                ..
            } => self.apply_tool_call(ToolCall {
                call_id: call_id.clone(),
                name: name.clone(),
                arguments: arguments.clone(),
                result: result.clone(),
            }),
            ItemView::Error { code, message, .. } => {
                self.push(Entry::Error {
                    text: format!("{message} ({code})"),
                });
            }
            ItemView::HostedToolCall { tool, detail, .. } => {
                self.notice(crate::oneshot::hosted_line(tool, detail.as_deref()));
            }
            ItemView::Compaction { native, .. } => {
                self.notice(match native {
                    true => {
                        "Context compacted by the provider; earlier turns now live in its summary."
                    }
                    false => "Context compacted: earlier turns were replaced by a summary.",
                });
            }
        }
    }

    /// Completes the call this is the result of, or adds it to the last group.
    fn apply_tool_call(&mut self, call: ToolCall) {
        for entry in self.entries.iter_mut().rev() {
            let Entry::Tools(calls) = entry else { continue };
            if let Some(earlier) = calls.iter_mut().find(|c| c.call_id == call.call_id) {
                if call.result.is_some() {
                    earlier.result = call.result;
                }
                if earlier.name.is_empty() {
                    earlier.name = call.name;
                }
                return;
            }
        }
        match self.entries.back_mut() {
            Some(Entry::Tools(calls)) => calls.push(call),
            _ => self.push(Entry::Tools(vec![call])),
        }
    }

    pub fn clear(&mut self) {
        *self = Self::default();
    }

    /// The tool name and arguments of each of `call_ids` as shown (the call id when
    /// the call is not in the transcript).
    pub fn tool_names(&self, call_ids: &[String]) -> Vec<String> {
        call_ids
            .iter()
            .map(|id| {
                let call = self.entries.iter().rev().find_map(|entry| match entry {
                    Entry::Tools(calls) => calls.iter().find(|call| call.call_id == *id),
                    _ => None,
                });
                match call {
                    Some(call) => format!("{} {}", call.name, clip(&call.arguments, 120)),
                    None => id.clone(),
                }
            })
            .collect()
    }
}

/// `text` cut to about `max` bytes on a char boundary, marked when cut.
fn clip(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tool(call_id: &str, result: Option<&str>) -> ItemView {
        ItemView::ToolCall {
            item_id: "1:0".into(),
            run_id: Some("run_1".into()),
            call_id: call_id.into(),
            name: "add".into(),
            arguments: "{}".into(),
            result: result.map(|output| ToolResultView {
                status: "ok".into(),
                output: output.into(),
                truncated: false,
                output_ref: "sha256:00".into(),
            }),
        }
    }

    fn event(kind: &str, items: Vec<ItemView>) -> EventView {
        EventView {
            cursor: 1,
            kind: kind.into(),
            at_ms: 0,
            run_id: Some("run_1".into()),
            run: None,
            items,
            finish_reason: None,
            context_tokens: None,
            hold: None,
            wake_up: Default::default(),
            link: Default::default(),
        }
    }

    #[test]
    fn tool_results_complete_their_calls_in_one_group() {
        let mut t = Transcript::default();
        t.apply_event(&event(
            kinds::TURN_COMPLETED,
            vec![tool("a", None), tool("b", None)],
        ));
        t.apply_event(&event("x", vec![tool("a", Some("1"))]));
        t.apply_event(&event("x", vec![tool("b", Some("2"))]));
        let entries: Vec<&Entry> = t.entries().collect();
        assert_eq!(entries.len(), 1);
        let Entry::Tools(calls) = entries[0] else {
            panic!("{entries:?}")
        };
        assert_eq!(calls.len(), 2);
        assert!(calls.iter().all(|call| call.result.is_some()));
    }

    #[test]
    fn a_running_commands_output_streams_and_keeps_its_tail() {
        let mut t = Transcript::default();
        let chunk = |text: String| DeltaView {
            run_id: "run_1".into(),
            turn: 2,
            output_index: 0,
            kind: DeltaKind::ToolOutput,
            text,
            call_id: Some("call_1".into()),
        };
        t.apply_delta(&chunk("compiling...\n".into()));
        assert_eq!(
            t.streaming().map(|s| s.tool_output.as_str()),
            Some("compiling...\n")
        );
        for line in 0..2_000 {
            t.apply_delta(&chunk(format!("line {line}\n")));
        }
        let kept = &t
            .streaming()
            .map(|s| s.tool_output.clone())
            .unwrap_or_default();
        assert!(kept.len() <= TOOL_OUTPUT_KEPT_BYTES, "{}", kept.len());
        assert!(kept.ends_with("line 1999\n"));
        assert!(!kept.contains("compiling"));
        // The committed turn replaces what streamed.
        t.apply_event(&event(kinds::TURN_COMPLETED, vec![]));
        assert!(t.streaming().is_none());
    }

    #[test]
    fn committed_turns_replace_streamed_text() {
        let mut t = Transcript::default();
        t.apply_delta(&DeltaView {
            run_id: "run_1".into(),
            turn: 1,
            output_index: 0,
            kind: DeltaKind::Text,
            text: "Hel".into(),
            call_id: None,
        });
        assert_eq!(t.streaming().map(|s| s.text.as_str()), Some("Hel"));
        let done = ItemView::AssistantMessage {
            item_id: "2:0".into(),
            run_id: Some("run_1".into()),
            text: "Hello".into(),
            citations: Vec::new(),
        };
        t.apply_event(&event(kinds::TURN_COMPLETED, vec![done]));
        assert!(t.streaming().is_none());
        assert_eq!(
            t.entries().last(),
            Some(&Entry::Assistant {
                text: "Hello".into()
            })
        );
    }

    #[test]
    fn entries_are_bounded() {
        let mut t = Transcript::default();
        for i in 0..ENTRIES_MAX + 5 {
            t.notice(format!("{i}"));
        }
        assert_eq!(t.entries().count(), ENTRIES_MAX);
        assert_eq!(t.dropped(), 5);
    }
}
