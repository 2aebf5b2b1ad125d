//! Folding the Messages SSE stream into the message the blocking API would return.
//!
//! Each block opens with `content_block_start` (its skeleton), grows by deltas and is
//! rebuilt at `content_block_stop` with the blocking API's field order: `text`,
//! `thinking` (with its signature), and `tool_use`/`server_tool_use` (with the
//! streamed input, minified as the blocking API sends it) are rebuilt; any other block
//! is kept as it started. Text citations are kept with their block. Unknown events and deltas are
//! ignored.

use std::collections::BTreeMap;

use llm_clients::SseEvent;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::response::{MessageObject, MessageUsage};
use super::{KIND, decode};
use crate::adapter::{ParsedGeneration, StreamAssembler, StreamContext, raw_json, to_raw};
use crate::error::RuntimeError;
use crate::sink::{Delta, DeltaKind, DeltaSink};

pub(super) struct Assembler {
    context: StreamContext,
    message_id: Option<String>,
    usage: MessageUsage,
    stop_reason: Option<String>,
    /// Blocks still streaming, by index.
    open: BTreeMap<u32, OpenBlock>,
    /// Finished blocks, by index.
    done: BTreeMap<u32, Box<RawValue>>,
    stopped: bool,
}

/// A block between its start and stop events.
enum OpenBlock {
    Text {
        text: String,
        /// Kept in arrival order: sent back verbatim, and shown in views.
        citations: Vec<serde_json::Value>,
    },
    Thinking {
        thinking: String,
        signature: String,
    },
    /// `tool_use` or `server_tool_use`.
    ToolUse {
        kind: &'static str,
        id: String,
        name: String,
        input_json: String,
    },
    /// Server-side compaction: a summary that may arrive in `compaction_delta`s.
    Compaction {
        content: String,
    },
    /// Any other block, kept as it started.
    Kept(Box<RawValue>),
}

#[derive(Deserialize)]
struct EventHead {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct MessageStart {
    message: MessageObject,
}

#[derive(Deserialize)]
struct BlockStart {
    index: u32,
    content_block: Box<RawValue>,
}

/// The fields of a block's start that its rebuilt form needs.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Skeleton {
    Text {
        #[serde(default)]
        text: String,
    },
    Thinking {
        #[serde(default)]
        thinking: String,
        #[serde(default)]
        signature: String,
    },
    ToolUse {
        id: String,
        name: String,
    },
    ServerToolUse {
        id: String,
        name: String,
    },
    Compaction {
        #[serde(default)]
        content: Option<String>,
    },
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct BlockDelta {
    index: u32,
    delta: DeltaBody,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum DeltaBody {
    TextDelta {
        text: String,
    },
    ThinkingDelta {
        thinking: String,
    },
    SignatureDelta {
        signature: String,
    },
    InputJsonDelta {
        partial_json: String,
    },
    CompactionDelta {
        #[serde(default)]
        content: Option<String>,
    },
    CitationsDelta {
        citation: serde_json::Value,
    },
    /// Whatever comes later.
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
struct BlockStop {
    index: u32,
}

#[derive(Deserialize)]
struct MessageDelta {
    #[serde(default)]
    delta: Option<MessageDeltaBody>,
    #[serde(default)]
    usage: Option<MessageUsage>,
}

#[derive(Deserialize)]
struct MessageDeltaBody {
    #[serde(default)]
    stop_reason: Option<String>,
}

/// Rebuilt blocks, fields in the blocking API's order.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum FinishedBlock<'a> {
    Text {
        text: &'a str,
        #[serde(skip_serializing_if = "<[_]>::is_empty")]
        citations: &'a [serde_json::Value],
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    Compaction {
        content: &'a str,
    },
}

#[derive(Serialize)]
struct ToolUseBlock<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    id: &'a str,
    name: &'a str,
    input: Box<RawValue>,
}

fn parse<'a, T: Deserialize<'a>>(data: &'a str) -> Result<T, RuntimeError> {
    serde_json::from_str(data).map_err(decode)
}

impl Assembler {
    pub(super) fn new(context: StreamContext) -> Self {
        Self {
            context,
            message_id: None,
            usage: MessageUsage::default(),
            stop_reason: None,
            open: BTreeMap::new(),
            done: BTreeMap::new(),
            stopped: false,
        }
    }

    fn forward(&self, sink: &dyn DeltaSink, output_index: u32, kind: DeltaKind, text: &str) {
        if text.is_empty() {
            return;
        }
        let (run_id, turn) = (self.context.run_id.clone(), self.context.turn);
        sink.delta(Delta {
            run_id,
            turn,
            output_index,
            kind,
            text: text.to_owned(),
            call_id: None,
        });
    }

    fn on_block_start(&mut self, start: BlockStart) -> Result<(), RuntimeError> {
        let tool_use = |kind, id, name| OpenBlock::ToolUse {
            kind,
            id,
            name,
            input_json: String::new(),
        };
        let block = match parse(start.content_block.get())? {
            Skeleton::Text { text } => OpenBlock::Text {
                text,
                citations: Vec::new(),
            },
            Skeleton::Thinking {
                thinking,
                signature,
            } => OpenBlock::Thinking {
                thinking,
                signature,
            },
            Skeleton::ToolUse { id, name } => tool_use("tool_use", id, name),
            Skeleton::ServerToolUse { id, name } => tool_use("server_tool_use", id, name),
            Skeleton::Compaction { content } => OpenBlock::Compaction {
                content: content.unwrap_or_default(),
            },
            Skeleton::Other => OpenBlock::Kept(start.content_block),
        };
        self.open.insert(start.index, block);
        Ok(())
    }

    fn on_block_delta(
        &mut self,
        delta: BlockDelta,
        sink: &dyn DeltaSink,
    ) -> Result<(), RuntimeError> {
        let index = delta.index;
        let block = self.open.get_mut(&index).ok_or_else(|| {
            RuntimeError::Decode(format!(
                "{KIND}: delta for block {index}, which is not open"
            ))
        })?;
        // A delta that does not fit its block (none does today) is ignored.
        let forwarded = match (block, delta.delta) {
            (OpenBlock::Text { citations, .. }, DeltaBody::CitationsDelta { citation }) => {
                citations.push(citation);
                None
            }
            (OpenBlock::Text { text, .. }, DeltaBody::TextDelta { text: more }) => {
                text.push_str(&more);
                Some((DeltaKind::Text, more))
            }
            (OpenBlock::Thinking { thinking, .. }, DeltaBody::ThinkingDelta { thinking: more }) => {
                thinking.push_str(&more);
                Some((DeltaKind::Reasoning, more))
            }
            (
                OpenBlock::Thinking { signature, .. },
                DeltaBody::SignatureDelta { signature: more },
            ) => {
                signature.push_str(&more);
                None
            }
            (OpenBlock::Compaction { content }, DeltaBody::CompactionDelta { content: more }) => {
                content.push_str(&more.unwrap_or_default());
                None
            }
            (OpenBlock::ToolUse { input_json, .. }, DeltaBody::InputJsonDelta { partial_json }) => {
                input_json.push_str(&partial_json);
                Some((DeltaKind::ToolArguments, partial_json))
            }
            _ => None,
        };
        if let Some((kind, text)) = forwarded {
            self.forward(sink, index, kind, &text);
        }
        Ok(())
    }

    fn on_block_stop(&mut self, index: u32) -> Result<(), RuntimeError> {
        let block = self.open.remove(&index).ok_or_else(|| {
            RuntimeError::Decode(format!("{KIND}: stop of block {index}, which is not open"))
        })?;
        self.done.insert(index, block.finish()?);
        Ok(())
    }
}

impl OpenBlock {
    fn finish(self) -> Result<Box<RawValue>, RuntimeError> {
        match self {
            Self::Text { text, citations } => to_raw(&FinishedBlock::Text {
                text: &text,
                citations: &citations,
            }),
            Self::Thinking {
                thinking,
                signature,
            } => to_raw(&FinishedBlock::Thinking {
                thinking: &thinking,
                signature: &signature,
            }),
            Self::ToolUse {
                kind,
                id,
                name,
                input_json,
            } => to_raw(&ToolUseBlock {
                kind,
                id: &id,
                name: &name,
                input: tool_input(&input_json)?,
            }),
            Self::Compaction { content } => {
                to_raw(&FinishedBlock::Compaction { content: &content })
            }
            Self::Kept(raw) => Ok(raw),
        }
    }
}

/// The streamed input, minified; `{}` when none came or it is not a JSON object (an
/// input cut off by `max_tokens`): a block sent back next turn must hold an object.
fn tool_input(streamed: &str) -> Result<Box<RawValue>, RuntimeError> {
    match RawValue::from_string(minify(streamed)) {
        Ok(input) if input.get().starts_with('{') => Ok(input),
        _ => raw_json("{}"),
    }
}

/// `json` without the whitespace between tokens (strings are kept as they are).
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        out.push(c);
    }
    out
}

impl StreamAssembler for Assembler {
    fn on_event(&mut self, event: &SseEvent, sink: &dyn DeltaSink) -> Result<(), RuntimeError> {
        let head: EventHead = parse(&event.data)?;
        match head.kind.as_str() {
            "message_start" => {
                let start: MessageStart = parse(&event.data)?;
                self.message_id = start.message.id;
                self.usage.update(start.message.usage.unwrap_or_default());
            }
            "content_block_start" => self.on_block_start(parse(&event.data)?)?,
            "content_block_delta" => self.on_block_delta(parse(&event.data)?, sink)?,
            "content_block_stop" => self.on_block_stop(parse::<BlockStop>(&event.data)?.index)?,
            "message_delta" => {
                let delta: MessageDelta = parse(&event.data)?;
                if let Some(stop_reason) = delta.delta.and_then(|body| body.stop_reason) {
                    self.stop_reason = Some(stop_reason);
                }
                self.usage.update(delta.usage.unwrap_or_default());
            }
            "message_stop" => self.stopped = true,
            // The client turns error events into errors; one that slips through still fails.
            "error" => {
                return Err(llm_clients::classify_error(None, None, event.data.as_bytes()).into());
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<ParsedGeneration, RuntimeError> {
        let Self {
            message_id,
            usage,
            stop_reason,
            open,
            mut done,
            stopped,
            ..
        } = *self;
        if !stopped {
            return Err(RuntimeError::Decode(format!(
                "{KIND}: stream ended before message_stop"
            )));
        }
        // `message_stop` closes every block; a block left open is finished as it stands.
        for (index, block) in open {
            done.insert(index, block.finish()?);
        }
        let message = MessageObject {
            id: message_id,
            content: done.into_values().collect(),
            stop_reason,
            usage: Some(usage),
            kind: Some("message".into()),
        };
        message.into_parsed()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use engine::RunId;
    use engine::core::context::ItemKind;
    use engine::core::run::{FinishReason, Usage};
    use serde_json::{Value, json};

    use super::*;
    use crate::adapter::ParsedCall;
    use crate::anthropic::response::parse_response;

    /// The blocking API's answer to the request the stream below answers.
    const MESSAGE: &str = r#"{"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"The user wants the file.","signature":"EqQBCkgIBxABGAIqQL+x/sig=="},{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"},{"type":"text","text":"Let me read it.","citations":[{"type":"char_location"}]},{"type":"tool_use","id":"toolu_01","name":"read_file","input":{"path":"src/main.rs","limit":20}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000,"output_tokens":95}}"#;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Delta>>);

    impl DeltaSink for Recorder {
        fn delta(&self, delta: Delta) {
            self.0.lock().unwrap().push(delta);
        }
    }

    fn event(data: Value) -> SseEvent {
        let name = data["type"].as_str().unwrap().to_owned();
        SseEvent {
            event: name,
            data: data.to_string(),
        }
    }

    /// `block` as raw text: a skeleton kept as is must keep its field order.
    fn start(index: u32, block: &str) -> SseEvent {
        let data =
            format!(r#"{{"type":"content_block_start","index":{index},"content_block":{block}}}"#);
        SseEvent {
            event: "content_block_start".into(),
            data,
        }
    }

    fn delta(index: u32, delta: Value) -> SseEvent {
        event(json!({"type": "content_block_delta", "index": index, "delta": delta}))
    }

    fn stop(index: u32) -> SseEvent {
        event(json!({"type": "content_block_stop", "index": index}))
    }

    fn stream() -> Vec<SseEvent> {
        vec![
            event(json!({"type": "message_start", "message": {
                "id": "msg_01", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": {"input_tokens": 12, "cache_creation_input_tokens": 300, "cache_read_input_tokens": 4000,
                          "output_tokens": 1}}})),
            event(json!({"type": "ping"})),
            start(0, r#"{"type":"thinking","thinking":"","signature":""}"#),
            delta(
                0,
                json!({"type": "thinking_delta", "thinking": "The user wants "}),
            ),
            delta(
                0,
                json!({"type": "thinking_delta", "thinking": "the file."}),
            ),
            delta(
                0,
                json!({"type": "signature_delta", "signature": "EqQBCkgIBxABGAIqQL+x/sig=="}),
            ),
            stop(0),
            start(
                1,
                r#"{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix"}"#,
            ),
            stop(1),
            start(2, r#"{"type":"text","text":""}"#),
            delta(2, json!({"type": "text_delta", "text": "Let me "})),
            delta(
                2,
                json!({"type": "citations_delta", "citation": {"type": "char_location"}}),
            ),
            delta(2, json!({"type": "text_delta", "text": "read it."})),
            stop(2),
            event(json!({"type": "a_future_event", "delta": "whatever"})),
            start(
                3,
                r#"{"type":"tool_use","id":"toolu_01","name":"read_file","input":{}}"#,
            ),
            delta(3, json!({"type": "input_json_delta", "partial_json": ""})),
            delta(
                3,
                json!({"type": "input_json_delta", "partial_json": "{\"path\": \"src/"}),
            ),
            delta(
                3,
                json!({"type": "input_json_delta", "partial_json": "main.rs\", \"limit\""}),
            ),
            delta(
                3,
                json!({"type": "input_json_delta", "partial_json": ": 20}"}),
            ),
            stop(3),
            event(
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null},
                         "usage": {"output_tokens": 95}}),
            ),
            event(json!({"type": "message_stop"})),
        ]
    }

    fn context() -> StreamContext {
        StreamContext {
            run_id: RunId::from_ordinal(4),
            turn: 2,
        }
    }

    fn assemble(
        events: &[SseEvent],
        sink: &dyn DeltaSink,
    ) -> Result<ParsedGeneration, RuntimeError> {
        let mut assembler: Box<dyn StreamAssembler> = Box::new(Assembler::new(context()));
        for event in events {
            assembler.on_event(event, sink)?;
        }
        assembler.finish()
    }

    type Facts = (
        Vec<(ItemKind, String, Vec<ParsedCall>)>,
        Usage,
        Option<String>,
        FinishReason,
        Option<u64>,
    );

    fn facts(parsed: &ParsedGeneration) -> Facts {
        let items = parsed
            .items
            .iter()
            .map(|item| (item.kind, item.raw.get().to_owned(), item.calls.clone()))
            .collect();
        (
            items,
            parsed.usage,
            parsed.response_id.clone(),
            parsed.finish_reason,
            parsed.context_tokens,
        )
    }

    #[test]
    fn assembles_what_the_blocking_api_returns() {
        let recorder = Recorder::default();
        let streamed = assemble(&stream(), &recorder).unwrap();
        let blocking = parse_response(MESSAGE.as_bytes()).unwrap();
        assert_eq!(facts(&streamed), facts(&blocking));
        assert_eq!(streamed.usage.input_tokens, 4_312);
        assert_eq!(streamed.usage.output_tokens, 95);
        assert_eq!(
            streamed.items[3].calls[0].arguments,
            r#"{"path":"src/main.rs","limit":20}"#
        );
        let deltas: Vec<(u32, DeltaKind, String)> = recorder
            .0
            .into_inner()
            .unwrap()
            .into_iter()
            .map(|delta| {
                assert_eq!(
                    (delta.run_id.clone(), delta.turn),
                    (RunId::from_ordinal(4), 2)
                );
                (delta.output_index, delta.kind, delta.text)
            })
            .collect();
        assert_eq!(
            deltas,
            [
                (0, DeltaKind::Reasoning, "The user wants ".to_owned()),
                (0, DeltaKind::Reasoning, "the file.".to_owned()),
                (2, DeltaKind::Text, "Let me ".to_owned()),
                (2, DeltaKind::Text, "read it.".to_owned()),
                (3, DeltaKind::ToolArguments, "{\"path\": \"src/".to_owned()),
                (
                    3,
                    DeltaKind::ToolArguments,
                    "main.rs\", \"limit\"".to_owned()
                ),
                (3, DeltaKind::ToolArguments, ": 20}".to_owned()),
            ]
        );
    }

    #[test]
    fn a_stream_must_reach_message_stop() {
        let mut events = stream();
        events.pop();
        let err = assemble(&events, &crate::sink::NoDeltas).unwrap_err();
        assert!(matches!(err, RuntimeError::Decode(_)), "{err:?}");
    }

    #[test]
    fn a_delta_needs_an_open_block() {
        let events = [delta(7, json!({"type": "text_delta", "text": "hi"}))];
        let err = assemble(&events, &crate::sink::NoDeltas).unwrap_err();
        assert!(matches!(err, RuntimeError::Decode(_)), "{err:?}");
    }

    #[test]
    fn a_cut_off_tool_input_becomes_an_empty_object() {
        let events = [
            start(
                0,
                r#"{"type":"tool_use","id":"toolu_9","name":"write_file","input":{}}"#,
            ),
            delta(
                0,
                json!({"type": "input_json_delta", "partial_json": "{\"path\": \"a"}),
            ),
            stop(0),
            start(
                1,
                r#"{"type":"tool_use","id":"toolu_10","name":"list","input":{}}"#,
            ),
            stop(1),
            event(
                json!({"type": "message_delta", "delta": {"stop_reason": "max_tokens"}, "usage": {"output_tokens": 9}}),
            ),
            event(json!({"type": "message_stop"})),
        ];
        let parsed = assemble(&events, &crate::sink::NoDeltas).unwrap();
        assert_eq!(
            parsed.items[0].raw.get(),
            r#"{"type":"tool_use","id":"toolu_9","name":"write_file","input":{}}"#
        );
        assert_eq!(parsed.items[0].calls[0].arguments, "{}");
        assert_eq!(parsed.items[1].calls[0].arguments, "{}");
        assert_eq!(parsed.finish_reason, FinishReason::MaxTokens);
    }

    #[test]
    fn keeps_other_blocks_as_they_started() {
        let result = r#"{"type":"web_search_tool_result","tool_use_id":"srvtoolu_1","content":[{"type":"web_search_result","url":"https://a.example","title":"A","encrypted_content":"Eq=="}]}"#;
        let events = [
            start(
                0,
                r#"{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}"#,
            ),
            delta(
                0,
                json!({"type": "input_json_delta", "partial_json": "{\"query\": \"rust\"}"}),
            ),
            stop(0),
            start(1, result),
            delta(
                1,
                json!({"type": "input_json_delta", "partial_json": "ignored"}),
            ),
            stop(1),
            event(json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}})),
            event(json!({"type": "message_stop"})),
        ];
        let parsed = assemble(&events, &crate::sink::NoDeltas).unwrap();
        assert_eq!(
            parsed.items[0].raw.get(),
            r#"{"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{"query":"rust"}}"#
        );
        assert_eq!(parsed.items[1].raw.get(), result);
        assert!(
            parsed
                .items
                .iter()
                .all(|item| item.kind == ItemKind::ProviderOpaque && item.calls.is_empty())
        );
        assert_eq!(parsed.finish_reason, FinishReason::Stop);
    }

    #[test]
    fn minifies_outside_strings() {
        assert_eq!(
            minify("{ \"a b\" : [1, \"x \\\" y\"],\n\t\"c\": {} }"),
            r#"{"a b":[1,"x \" y"],"c":{}}"#
        );
        assert_eq!(minify(r#"{"p": "\\", "q": " "}"#), r#"{"p":"\\","q":" "}"#);
    }
}
