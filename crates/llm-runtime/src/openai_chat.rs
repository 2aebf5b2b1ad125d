//! `openai:completions`: OpenAI Chat Completions, and the OpenAI-compatible servers
//! that speak it (vLLM, Ollama, llama.cpp) through a base-URL override.
//!
//! One generation is one assistant message; it is stored whole and replayed as is,
//! except that `reasoning_content` (emitted by some compatible servers, and refused
//! by some when sent back) is removed. Tool results become `tool` messages.

use std::collections::BTreeMap;

use engine::core::config::ToolChoice;
use engine::core::context::ItemKind;
use engine::core::run::{FinishReason, Usage};
use llm_clients::{ApiKind, SseEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use crate::adapter::{
    ApiAdapter, ParsedCall, ParsedGeneration, ParsedItem, StreamAssembler, StreamContext, to_raw,
};
use crate::content::{ItemContent, LoadedItem, LoadedRequest, MediaType, data_url};
use crate::error::RuntimeError;
use crate::foreign::{NeutralItem, neutralize};
use crate::params::chat_params;
use crate::sink::{Delta, DeltaKind, DeltaSink};

const KIND: ApiKind = ApiKind::OpenAiCompletions;
/// Fields of a stored assistant message that are not sent back.
const NOT_REPLAYED: [&str; 2] = ["reasoning_content", "reasoning"];

#[derive(Debug, Default, Clone, Copy)]
pub struct ChatAdapter;

/// The request body. Messages are raw JSON so replayed ones keep their bytes.
#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<Box<RawValue>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// Assistant text and tool calls waiting to become one assistant message: a tool
/// message must follow the assistant message that holds its call.
#[derive(Default)]
struct PendingAssistant {
    text: Vec<String>,
    tool_calls: Vec<Value>,
}

impl PendingAssistant {
    fn flush(&mut self, messages: &mut Vec<Box<RawValue>>) -> Result<(), RuntimeError> {
        if self.text.is_empty() && self.tool_calls.is_empty() {
            return Ok(());
        }
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let content = if self.text.is_empty() {
            Value::Null
        } else {
            json!(self.text.join("\n"))
        };
        message.insert("content".into(), content);
        if !self.tool_calls.is_empty() {
            message.insert(
                "tool_calls".into(),
                Value::Array(std::mem::take(&mut self.tool_calls)),
            );
        }
        self.text.clear();
        messages.push(to_raw(&message)?);
        Ok(())
    }
}

fn media_part(media_type: MediaType, bytes: &[u8]) -> Value {
    let data = data_url(media_type, bytes);
    if media_type.is_image() {
        json!({"type": "image_url", "image_url": {"url": data}})
    } else {
        json!({"type": "file", "file": {"filename": "document.pdf", "file_data": data}})
    }
}

/// A stored message of ours, minus the fields that are not replayed.
fn replay_own(raw: &RawValue) -> Result<Box<RawValue>, RuntimeError> {
    let mut message: Map<String, Value> =
        serde_json::from_str(raw.get()).map_err(|err| RuntimeError::Decode(err.to_string()))?;
    if NOT_REPLAYED
        .iter()
        .any(|field| message.contains_key(*field))
    {
        NOT_REPLAYED
            .iter()
            .for_each(|field| drop(message.remove(*field)));
        return to_raw(&message);
    }
    Ok(raw.to_owned())
}

fn add_item(
    loaded: &LoadedItem,
    messages: &mut Vec<Box<RawValue>>,
    pending: &mut PendingAssistant,
) -> Result<(), RuntimeError> {
    let item = &loaded.item;
    let simple = |role: &str, content: Value| to_raw(&json!({"role": role, "content": content}));
    match (&loaded.content, item.kind) {
        (ItemContent::Provider(envelope), _) if envelope.api_kind != KIND.as_str() => {
            for neutral in neutralize(envelope) {
                match neutral {
                    NeutralItem::AssistantText(text) => pending.text.push(text),
                    NeutralItem::ToolCall { call_id, name, arguments } => pending.tool_calls.push(
                        json!({"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}),
                    ),
                    NeutralItem::Opaque => {}
                }
            }
            return Ok(());
        }
        (
            ItemContent::Text(text),
            ItemKind::AssistantMessage | ItemKind::ToolCall | ItemKind::Reasoning,
        ) => {
            pending.text.push(text.clone());
            return Ok(());
        }
        _ => {}
    }
    pending.flush(messages)?;
    let message = match (&loaded.content, item.kind) {
        (ItemContent::Provider(envelope), _) => replay_own(&envelope.item)?,
        (ItemContent::Media { media_type, bytes }, _) => {
            simple("user", json!([media_part(*media_type, bytes)]))?
        }
        (ItemContent::Text(text), ItemKind::Instructions | ItemKind::Catalog) => {
            simple("system", json!(text))?
        }
        (ItemContent::Text(text), ItemKind::Summary) => simple(
            "user",
            json!(format!("Summary of the conversation so far:\n{text}")),
        )?,
        (ItemContent::Text(text), ItemKind::ToolResult) => {
            let call_id = item
                .call_id
                .as_ref()
                .map(|id| id.as_str())
                .unwrap_or_default();
            to_raw(&json!({"role": "tool", "tool_call_id": call_id, "content": text}))?
        }
        (ItemContent::Text(text), _) => simple("user", json!(text))?,
    };
    messages.push(message);
    Ok(())
}

fn tool_choice(choice: &ToolChoice) -> Option<Value> {
    match choice {
        ToolChoice::Auto => None,
        ToolChoice::None => Some(json!("none")),
        ToolChoice::Required => Some(json!("required")),
        ToolChoice::Tool { name } => Some(json!({"type": "function", "function": {"name": name}})),
    }
}

impl ApiAdapter for ChatAdapter {
    fn api_kind(&self) -> ApiKind {
        KIND
    }

    fn materialize(&self, loaded: &LoadedRequest, stream: bool) -> Result<Vec<u8>, RuntimeError> {
        let request = &loaded.request;
        let params = chat_params(&request.provider_params)?;
        let mut messages = Vec::with_capacity(loaded.items.len());
        let mut pending = PendingAssistant::default();
        for item in &loaded.items {
            add_item(item, &mut messages, &mut pending)?;
        }
        pending.flush(&mut messages)?;

        if let Some(server) = loaded
            .tools
            .iter()
            .find_map(|tool| tool.hosted_mcp.as_ref())
        {
            return Err(RuntimeError::Unsupported {
                api_kind: "openai:completions",
                reason: format!(
                    "MCP server {:?} is linked as provider-hosted; Chat Completions has no \
                     hosted MCP (link it in client mode)",
                    server.server
                ),
            });
        }
        let mut body = Map::new();
        if !loaded.tools.is_empty() {
            let tools: Vec<Value> = loaded
                .tools
                .iter()
                .map(|tool| {
                    json!({"type": "function", "function": {
                        "name": tool.name, "description": tool.description, "parameters": tool.parameters}})
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
            if let Some(choice) = tool_choice(&request.tool_choice) {
                body.insert("tool_choice".into(), choice);
            }
            if let Some(parallel) = params.parallel_tool_calls {
                body.insert("parallel_tool_calls".into(), json!(parallel));
            }
        }
        let cap_field = if params.legacy_max_tokens == Some(true) {
            "max_tokens"
        } else {
            "max_completion_tokens"
        };
        body.insert(cap_field.into(), json!(request.output_tokens_max));
        let optional = [
            (
                "reasoning_effort",
                params.reasoning_effort.map(|effort| json!(effort)),
            ),
            ("temperature", params.temperature.map(|value| json!(value))),
            ("top_p", params.top_p.map(|value| json!(value))),
            ("seed", params.seed.map(|value| json!(value))),
            (
                "stop",
                (!params.stop.is_empty()).then(|| json!(params.stop)),
            ),
            (
                "frequency_penalty",
                params.frequency_penalty.map(|value| json!(value)),
            ),
            (
                "presence_penalty",
                params.presence_penalty.map(|value| json!(value)),
            ),
        ];
        for (field, value) in optional {
            if let Some(value) = value {
                body.insert(field.into(), value);
            }
        }
        if stream {
            body.insert("stream".into(), json!(true));
            body.insert("stream_options".into(), json!({"include_usage": true}));
        }
        let body = Body {
            model: &request.model.model,
            messages,
            rest: body,
        };
        serde_json::to_vec(&body).map_err(|err| RuntimeError::Encode(err.to_string()))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ParsedGeneration, RuntimeError> {
        let completion: Completion = serde_json::from_slice(body).map_err(decode)?;
        let choice = completion
            .choices
            .into_iter()
            .next()
            .ok_or_else(|| RuntimeError::Decode("chat completion without choices".into()))?;
        let head: MessageHead = serde_json::from_str(choice.message.get()).map_err(decode)?;
        let calls = head
            .tool_calls
            .into_iter()
            .map(ToolCallHead::into_call)
            .collect();
        let item = ParsedItem {
            kind: ItemKind::AssistantMessage,
            raw: choice.message,
            calls,
        };
        Ok(finish(
            vec![item],
            completion.id,
            choice.finish_reason.as_deref(),
            completion.usage.as_ref(),
        ))
    }

    fn stream_assembler(&self, context: StreamContext) -> Box<dyn StreamAssembler> {
        Box::new(Assembler {
            context: Some(context),
            ..Assembler::default()
        })
    }
}

fn decode(err: serde_json::Error) -> RuntimeError {
    RuntimeError::Decode(format!("{KIND}: {err}"))
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    id: Option<String>,
    choices: Vec<Choice>,
    #[serde(default)]
    usage: Option<Value>,
}

#[derive(Deserialize)]
struct Choice {
    message: Box<RawValue>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct MessageHead {
    #[serde(default)]
    tool_calls: Vec<ToolCallHead>,
}

#[derive(Deserialize, Default)]
struct ToolCallHead {
    #[serde(default)]
    id: String,
    #[serde(default)]
    function: FunctionHead,
}

#[derive(Deserialize, Default)]
struct FunctionHead {
    #[serde(default)]
    name: String,
    #[serde(default)]
    arguments: String,
}

impl ToolCallHead {
    fn into_call(self) -> ParsedCall {
        ParsedCall {
            call_id: self.id,
            name: self.function.name,
            arguments: self.function.arguments,
        }
    }
}

fn finish(
    items: Vec<ParsedItem>,
    id: Option<String>,
    reason: Option<&str>,
    usage: Option<&Value>,
) -> ParsedGeneration {
    let field = |path: &[&str]| {
        let mut value = usage;
        for key in path {
            value = value.and_then(|v| v.get(*key));
        }
        value.and_then(Value::as_u64).unwrap_or(0)
    };
    let usage = Usage {
        input_tokens: field(&["prompt_tokens"]),
        output_tokens: field(&["completion_tokens"]),
        cached_input_tokens: field(&["prompt_tokens_details", "cached_tokens"]),
        reasoning_tokens: field(&["completion_tokens_details", "reasoning_tokens"]),
        ..Usage::default()
    };
    let has_calls = items.iter().any(|item| !item.calls.is_empty());
    let finish_reason = match reason {
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("length") => FinishReason::MaxTokens,
        Some("content_filter") => FinishReason::ContentFilter,
        _ if has_calls => FinishReason::ToolCalls,
        Some("stop") | None => FinishReason::Stop,
        Some(_) => FinishReason::Other,
    };
    ParsedGeneration {
        items,
        context_tokens: Some(usage.input_tokens + usage.output_tokens),
        usage,
        response_id: id,
        finish_reason,
    }
}

#[derive(Default)]
struct StreamedCall {
    id: String,
    name: String,
    arguments: String,
}

#[derive(Default)]
struct Assembler {
    context: Option<StreamContext>,
    id: Option<String>,
    content: String,
    reasoning: String,
    calls: BTreeMap<u64, StreamedCall>,
    finish_reason: Option<String>,
    usage: Option<Value>,
}

impl Assembler {
    fn forward(&self, sink: &dyn DeltaSink, kind: DeltaKind, text: &str) {
        if let Some(context) = &self.context {
            let (run_id, turn) = (context.run_id.clone(), context.turn);
            sink.delta(Delta {
                run_id,
                turn,
                output_index: 0,
                kind,
                text: text.to_owned(),
                call_id: None,
            });
        }
    }
}

impl StreamAssembler for Assembler {
    fn on_event(&mut self, event: &SseEvent, sink: &dyn DeltaSink) -> Result<(), RuntimeError> {
        let chunk: Value = serde_json::from_str(&event.data).map_err(decode)?;
        if let Some(id) = chunk.get("id").and_then(Value::as_str) {
            self.id.get_or_insert_with(|| id.to_owned());
        }
        if let Some(usage) = chunk.get("usage").filter(|usage| !usage.is_null()) {
            self.usage = Some(usage.clone());
        }
        for choice in chunk
            .get("choices")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.finish_reason = Some(reason.to_owned());
            }
            let Some(delta) = choice.get("delta") else {
                continue;
            };
            if let Some(text) = delta
                .get("content")
                .and_then(Value::as_str)
                .filter(|text| !text.is_empty())
            {
                self.content.push_str(text);
                self.forward(sink, DeltaKind::Text, text);
            }
            for field in NOT_REPLAYED {
                if let Some(text) = delta
                    .get(field)
                    .and_then(Value::as_str)
                    .filter(|text| !text.is_empty())
                {
                    self.reasoning.push_str(text);
                    self.forward(sink, DeltaKind::Reasoning, text);
                }
            }
            for call in delta
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let index = call.get("index").and_then(Value::as_u64).unwrap_or(0);
                let entry = self.calls.entry(index).or_default();
                if let Some(id) = call.get("id").and_then(Value::as_str) {
                    entry.id = id.to_owned();
                }
                let function = call.get("function");
                if let Some(name) = function.and_then(|f| f.get("name")).and_then(Value::as_str) {
                    entry.name.push_str(name);
                }
                if let Some(arguments) = function
                    .and_then(|f| f.get("arguments"))
                    .and_then(Value::as_str)
                    .filter(|arguments| !arguments.is_empty())
                {
                    entry.arguments.push_str(arguments);
                    self.forward(sink, DeltaKind::ToolArguments, arguments);
                }
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<ParsedGeneration, RuntimeError> {
        let mut message = Map::new();
        message.insert("role".into(), json!("assistant"));
        let content = if self.content.is_empty() {
            Value::Null
        } else {
            json!(self.content)
        };
        message.insert("content".into(), content);
        if !self.reasoning.is_empty() {
            message.insert("reasoning_content".into(), json!(self.reasoning));
        }
        let calls: Vec<ParsedCall> = self
            .calls
            .into_values()
            .map(|call| ParsedCall {
                call_id: call.id,
                name: call.name,
                arguments: call.arguments,
            })
            .collect();
        if !calls.is_empty() {
            let tool_calls: Vec<Value> = calls
                .iter()
                .map(|call| {
                    json!({"id": call.call_id, "type": "function",
                           "function": {"name": call.name, "arguments": call.arguments}})
                })
                .collect();
            message.insert("tool_calls".into(), Value::Array(tool_calls));
        }
        let item = ParsedItem {
            kind: ItemKind::AssistantMessage,
            raw: to_raw(&message)?,
            calls,
        };
        Ok(finish(
            vec![item],
            self.id,
            self.finish_reason.as_deref(),
            self.usage.as_ref(),
        ))
    }
}
