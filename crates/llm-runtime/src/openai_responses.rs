//! `openai:responses`: the OpenAI Responses API.
//!
//! Request: instructions go to `instructions`; catalogs become developer messages;
//! output items of earlier turns (messages, reasoning with `encrypted_content`,
//! function calls, hosted-tool calls) are replayed verbatim; tool results become
//! `function_call_output`. Nothing is stored provider-side (`store: false`), so
//! encrypted reasoning is requested whenever reasoning is configured, and
//! `prompt_cache_key` is the session id so turns of one session share a cache.

use std::collections::BTreeMap;

use engine::core::config::ToolChoice;
use engine::core::context::ItemKind;
use engine::core::run::{FinishReason, Usage};
use llm_clients::{ApiKind, SseEvent};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::adapter::{
    ApiAdapter, ParsedCall, ParsedGeneration, ParsedItem, StreamAssembler, StreamContext, raw_json,
    to_raw,
};
use crate::content::{ItemContent, LoadedItem, LoadedRequest, MediaType, data_url};
use crate::error::RuntimeError;
use crate::foreign::{NeutralItem, neutralize};
use crate::params::{HostedTool, ResponsesParams, responses_params};
use crate::sink::{Delta, DeltaKind, DeltaSink};

const KIND: ApiKind = ApiKind::OpenAiResponses;

#[derive(Debug, Default, Clone, Copy)]
pub struct ResponsesAdapter;

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    instructions: Option<String>,
    input: Vec<Box<RawValue>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    max_output_tokens: u32,
    store: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    include: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    service_tier: Option<String>,
    prompt_cache_key: &'a str,
    /// Server-side compaction (`compact_threshold_tokens`).
    #[serde(skip_serializing_if = "Option::is_none")]
    context_management: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

fn message(role: &str, part_type: &str, text: &str) -> Result<Box<RawValue>, RuntimeError> {
    to_raw(
        &json!({"type": "message", "role": role, "content": [{"type": part_type, "text": text}]}),
    )
}

fn media_part(media_type: MediaType, bytes: &[u8]) -> Value {
    let data = data_url(media_type, bytes);
    if media_type.is_image() {
        json!({"type": "input_image", "image_url": data})
    } else {
        json!({"type": "input_file", "filename": "document.pdf", "file_data": data})
    }
}

fn input_item(
    loaded: &LoadedItem,
    instructions: &mut Vec<String>,
) -> Result<Vec<Box<RawValue>>, RuntimeError> {
    let item = &loaded.item;
    Ok(match (&loaded.content, item.kind) {
        (ItemContent::Text(text), ItemKind::Instructions) => {
            instructions.push(text.clone());
            Vec::new()
        }
        (ItemContent::Text(text), ItemKind::Catalog) => vec![message("developer", "input_text", text)?],
        (ItemContent::Text(text), ItemKind::Summary) => {
            vec![message("user", "input_text", &format!("Summary of the conversation so far:\n{text}"))?]
        }
        (ItemContent::Text(text), ItemKind::UserMessage) => vec![message("user", "input_text", text)?],
        (ItemContent::Media { media_type, bytes }, _) => {
            vec![to_raw(&json!({"type": "message", "role": "user", "content": [media_part(*media_type, bytes)]}))?]
        }
        (ItemContent::Text(text), ItemKind::ToolResult) => {
            let call_id = item.call_id.as_ref().map(|id| id.as_str()).unwrap_or_default();
            vec![to_raw(&json!({"type": "function_call_output", "call_id": call_id, "output": text}))?]
        }
        (ItemContent::Text(text), _) => vec![message("assistant", "output_text", text)?],
        (ItemContent::Provider(envelope), _) if envelope.api_kind == KIND.as_str() => vec![envelope.item.clone()],
        (ItemContent::Provider(envelope), _) => neutralize(envelope)
            .into_iter()
            .filter_map(|neutral| match neutral {
                NeutralItem::AssistantText(text) => Some(message("assistant", "output_text", &text)),
                NeutralItem::ToolCall { call_id, name, arguments } => Some(to_raw(
                    &json!({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments}),
                )),
                NeutralItem::Opaque => None,
            })
            .collect::<Result<_, _>>()?,
    })
}

fn tool_choice(choice: &ToolChoice) -> Option<Value> {
    match choice {
        ToolChoice::Auto => None,
        ToolChoice::None => Some(json!("none")),
        ToolChoice::Required => Some(json!("required")),
        ToolChoice::Tool { name } => Some(json!({"type": "function", "name": name})),
    }
}

fn tools(loaded: &LoadedRequest, params: &ResponsesParams) -> Vec<Value> {
    let functions = loaded.tools.iter().map(|tool| match &tool.hosted_mcp {
        None => json!({"type": "function", "name": tool.name, "description": tool.description,
                       "parameters": tool.parameters, "strict": false}),
        Some(server) => hosted_mcp(server, loaded),
    });
    let hosted = params.hosted_tools.iter().filter_map(|tool| match tool {
        HostedTool::WebSearch {
            search_context_size,
            allowed_domains,
            ..
        } => {
            let mut tool = json!({"type": "web_search"});
            if let Some(size) = search_context_size {
                tool["search_context_size"] = json!(size);
            }
            if !allowed_domains.is_empty() {
                tool["filters"] = json!({"allowed_domains": allowed_domains});
            }
            Some(tool)
        }
        HostedTool::CodeExecution {} => {
            Some(json!({"type": "code_interpreter", "container": {"type": "auto"}}))
        }
        HostedTool::ImageGeneration { size, quality } => {
            let mut tool = json!({"type": "image_generation"});
            if let Some(size) = size {
                tool["size"] = json!(size);
            }
            if let Some(quality) = quality {
                tool["quality"] = json!(quality);
            }
            Some(tool)
        }
        HostedTool::FileSearch {
            vector_store_ids,
            max_num_results,
        } => {
            let mut tool = json!({"type": "file_search", "vector_store_ids": vector_store_ids});
            if let Some(max) = max_num_results {
                tool["max_num_results"] = json!(max);
            }
            Some(tool)
        }
        // Refused for this kind at admission.
        HostedTool::WebFetch { .. } => None,
    });
    functions.chain(hosted).collect()
}

/// An `mcp` tool: the provider lists and calls the server's tools itself. Approval is
/// not asked for (the session's own controls apply to what it links); the header is
/// the one resolved for this send (its value [`crate::content::REDACTED`] in the
/// stored request).
fn hosted_mcp(server: &crate::content::HostedMcpServer, loaded: &LoadedRequest) -> Value {
    let mut tool = json!({"type": "mcp", "server_label": server.server,
                          "server_url": server.url, "require_approval": "never"});
    if !server.allowed_tools.is_empty() {
        tool["allowed_tools"] = json!(server.allowed_tools);
    }
    if let Some(header) = loaded.hosted_headers.get(&server.server) {
        tool["headers"] = json!({ header.name.as_str(): header.value });
    }
    tool
}

impl ApiAdapter for ResponsesAdapter {
    fn api_kind(&self) -> ApiKind {
        KIND
    }

    fn materialize(&self, loaded: &LoadedRequest, stream: bool) -> Result<Vec<u8>, RuntimeError> {
        let request = &loaded.request;
        let params = responses_params(&request.provider_params)?;
        let mut instructions = Vec::new();
        let mut input = Vec::with_capacity(loaded.items.len());
        for item in &loaded.items {
            input.extend(input_item(item, &mut instructions)?);
        }
        let replays_reasoning = loaded.items.iter().any(|item| {
            item.item.kind == ItemKind::Reasoning
                && matches!(&item.content, ItemContent::Provider(envelope) if envelope.api_kind == KIND.as_str())
        });
        let reasoning = params.reasoning_effort.map(|effort| {
            json!({"effort": effort, "summary": params.reasoning_summary.unwrap_or(crate::params::ReasoningSummary::Auto)})
        });
        let include = if reasoning.is_some() || replays_reasoning {
            vec!["reasoning.encrypted_content"]
        } else {
            vec![]
        };
        let body = Body {
            model: &request.model.model,
            instructions: (!instructions.is_empty()).then(|| instructions.join("\n\n")),
            input,
            tools: tools(loaded, &params),
            tool_choice: tool_choice(&request.tool_choice),
            max_output_tokens: request.output_tokens_max,
            store: false,
            include,
            reasoning,
            temperature: params.temperature,
            top_p: params.top_p,
            parallel_tool_calls: params.parallel_tool_calls,
            service_tier: params.service_tier.clone(),
            prompt_cache_key: request.session_id.as_str(),
            context_management: params
                .compact_threshold_tokens
                .map(|threshold| json!([{"type": "compaction", "compact_threshold": threshold}])),
            stream,
        };
        serde_json::to_vec(&body).map_err(|err| RuntimeError::Encode(err.to_string()))
    }

    fn parse_response(&self, body: &[u8]) -> Result<ParsedGeneration, RuntimeError> {
        let response: ResponseObject = serde_json::from_slice(body).map_err(decode)?;
        response.into_parsed(Vec::new())
    }

    fn stream_assembler(&self, context: StreamContext) -> Box<dyn StreamAssembler> {
        Box::new(Assembler {
            context,
            items: BTreeMap::new(),
            completed: None,
        })
    }
}

fn decode(err: serde_json::Error) -> RuntimeError {
    RuntimeError::Decode(format!("{KIND}: {err}"))
}

#[derive(Deserialize)]
struct ResponseObject {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    output: Vec<Box<RawValue>>,
    #[serde(default)]
    usage: Option<ResponseUsage>,
    #[serde(default)]
    incomplete_details: Option<Value>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Deserialize, Default)]
struct ResponseUsage {
    #[serde(default)]
    input_tokens: u64,
    #[serde(default)]
    output_tokens: u64,
    #[serde(default)]
    input_tokens_details: Option<Value>,
    #[serde(default)]
    output_tokens_details: Option<Value>,
}

#[derive(Deserialize)]
struct ItemHead {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    arguments: Option<String>,
}

fn parse_item(raw: Box<RawValue>) -> Result<ParsedItem, RuntimeError> {
    let head: ItemHead = serde_json::from_str(raw.get()).map_err(decode)?;
    let (kind, calls) = match head.kind.as_str() {
        "message" => (ItemKind::AssistantMessage, Vec::new()),
        "reasoning" => (ItemKind::Reasoning, Vec::new()),
        // Server-side compaction: stands in for everything before it (replayed verbatim).
        "compaction" => (ItemKind::Compaction, Vec::new()),
        "function_call" => {
            let call = ParsedCall {
                call_id: head.call_id.unwrap_or_default(),
                name: head.name.unwrap_or_default(),
                arguments: head.arguments.unwrap_or_default(),
            };
            (ItemKind::ToolCall, vec![call])
        }
        _ => (ItemKind::ProviderOpaque, Vec::new()),
    };
    Ok(ParsedItem { kind, raw, calls })
}

impl ResponseObject {
    /// `streamed` items (from `response.output_item.done`) win over `output`.
    fn into_parsed(self, streamed: Vec<Box<RawValue>>) -> Result<ParsedGeneration, RuntimeError> {
        if self.status.as_deref() == Some("failed") {
            let error = json!({"error": self.error.unwrap_or(Value::Null)});
            return Err(
                llm_clients::classify_error(None, None, error.to_string().as_bytes()).into(),
            );
        }
        let raw_items = if streamed.is_empty() {
            self.output
        } else {
            streamed
        };
        let items = raw_items
            .into_iter()
            .map(parse_item)
            .collect::<Result<Vec<_>, _>>()?;
        let usage = self.usage.unwrap_or_default();
        let nested = |details: &Option<Value>, field: &str| {
            details
                .as_ref()
                .and_then(|d| d.get(field))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        let usage = Usage {
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cached_input_tokens: nested(&usage.input_tokens_details, "cached_tokens"),
            reasoning_tokens: nested(&usage.output_tokens_details, "reasoning_tokens"),
            ..Usage::default()
        };
        let reason = self
            .incomplete_details
            .as_ref()
            .and_then(|d| d.get("reason"))
            .and_then(Value::as_str);
        let finish_reason = match (self.status.as_deref(), reason) {
            (Some("incomplete"), Some("max_output_tokens")) => FinishReason::MaxTokens,
            (Some("incomplete"), Some("content_filter")) => FinishReason::ContentFilter,
            (Some("incomplete"), _) => FinishReason::Other,
            _ if items.iter().any(|item| !item.calls.is_empty()) => FinishReason::ToolCalls,
            _ => FinishReason::Stop,
        };
        Ok(ParsedGeneration {
            items,
            context_tokens: Some(usage.input_tokens + usage.output_tokens),
            usage,
            response_id: self.id,
            finish_reason,
        })
    }
}

struct Assembler {
    context: StreamContext,
    /// Finished output items by `output_index`.
    items: BTreeMap<u32, Box<RawValue>>,
    completed: Option<ResponseObject>,
}

#[derive(Deserialize)]
struct StreamEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    output_index: Option<u32>,
    #[serde(default)]
    delta: Option<String>,
    #[serde(default)]
    item: Option<Box<RawValue>>,
    #[serde(default)]
    response: Option<Box<RawValue>>,
}

impl StreamAssembler for Assembler {
    fn on_event(&mut self, event: &SseEvent, sink: &dyn DeltaSink) -> Result<(), RuntimeError> {
        let parsed: StreamEvent = serde_json::from_str(&event.data).map_err(decode)?;
        let output_index = parsed.output_index.unwrap_or(0);
        let delta_kind = match parsed.kind.as_str() {
            "response.output_text.delta" => Some(DeltaKind::Text),
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                Some(DeltaKind::Reasoning)
            }
            "response.function_call_arguments.delta" => Some(DeltaKind::ToolArguments),
            _ => None,
        };
        if let (Some(kind), Some(text)) = (delta_kind, parsed.delta) {
            let (run_id, turn) = (self.context.run_id.clone(), self.context.turn);
            sink.delta(Delta {
                run_id,
                turn,
                output_index,
                kind,
                text,
                call_id: None,
            });
            return Ok(());
        }
        match parsed.kind.as_str() {
            "response.output_item.done" => {
                let item = parsed
                    .item
                    .ok_or_else(|| RuntimeError::Decode("output_item.done without item".into()))?;
                self.items.insert(output_index, item);
            }
            "response.completed" | "response.incomplete" | "response.failed" => {
                let response = parsed.response.ok_or_else(|| {
                    RuntimeError::Decode(format!("{} without response", parsed.kind))
                })?;
                self.completed = Some(serde_json::from_str(response.get()).map_err(decode)?);
            }
            _ => {}
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<ParsedGeneration, RuntimeError> {
        let completed = self
            .completed
            .ok_or_else(|| RuntimeError::Decode("stream ended before response.completed".into()))?;
        completed.into_parsed(self.items.into_values().collect())
    }
}

/// Parses a raw item (test helper for fixtures).
pub fn parse_output_item(raw: &str) -> Result<ParsedItem, RuntimeError> {
    parse_item(raw_json(raw)?)
}
