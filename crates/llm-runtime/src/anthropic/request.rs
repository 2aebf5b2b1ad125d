//! The `POST /v1/messages` body.

use engine::core::config::ToolChoice;
use engine::core::context::{ContextItem, ItemKind};
use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

use super::KIND;
use crate::adapter::raw_json;
use crate::content::{ItemContent, LoadedItem, LoadedRequest, MediaType, OutputItemBlob};
use crate::error::RuntimeError;
use crate::foreign::{NeutralItem, neutralize};
use crate::params::{AnthropicParams, HostedTool, anthropic_params};

/// Anthropic's smallest thinking budget.
const THINKING_BUDGET_TOKENS_MIN: u32 = 1_024;
/// Anthropic's limit of `cache_control` marks in one request.
const CACHE_BREAKPOINTS_MAX: usize = 4;
/// Marks on the last system block and the last tool leave these for messages.
const CACHE_BREAKPOINTS_MESSAGES_MAX: usize = CACHE_BREAKPOINTS_MAX - 2;
/// Opens a conversation whose first remaining item is the assistant's (after a
/// compaction, say): Anthropic wants the user to speak first.
const CONTINUATION_TEXT: &str = "(conversation continues)";
const SUMMARY_PREFIX: &str = "Summary of the conversation so far:\n";
/// Stands in for empty tool output, which Anthropic refuses in an error result.
const NO_OUTPUT_TEXT: &str = "(no output)";

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    max_tokens: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    system: Vec<BuiltBlock>,
    messages: Vec<Message>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<AnyTool<'a>>,
    /// MCP servers Anthropic calls itself (beta `mcp-client-2025-04-04`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    mcp_servers: Vec<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<ToolChoiceParam<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Thinking>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<u32>,
    /// Server-side compaction (beta `compact-2026-01-12`).
    #[serde(skip_serializing_if = "Option::is_none")]
    context_management: Option<Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
}

#[derive(Serialize, Clone, Copy)]
#[serde(tag = "type", rename_all = "snake_case")]
enum CacheControl {
    Ephemeral,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Thinking {
    Enabled { budget_tokens: u32 },
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ToolChoiceParam<'a> {
    None,
    Any,
    Tool { name: &'a str },
}

impl ToolChoiceParam<'_> {
    fn forces_tool_use(&self) -> bool {
        match self {
            Self::None => false,
            Self::Any | Self::Tool { .. } => true,
        }
    }
}

/// A function tool of the session, or one of Anthropic's server tools.
#[derive(Serialize)]
#[serde(untagged)]
enum AnyTool<'a> {
    Function(ToolParam<'a>),
    Server(Value),
}

#[derive(Serialize)]
struct ToolParam<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    description: &'a str,
    input_schema: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

/// A content block built here (not a provider's), so it may carry a cache mark.
#[derive(Serialize)]
struct BuiltBlock {
    #[serde(flatten)]
    content: BlockContent,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<CacheControl>,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum BlockContent {
    Text {
        text: String,
    },
    Image {
        source: Base64Source,
    },
    Document {
        source: Base64Source,
    },
    ToolResult {
        tool_use_id: String,
        content: String,
        is_error: bool,
    },
    /// A tool call another API kind made.
    ToolUse {
        id: String,
        name: String,
        input: Box<RawValue>,
    },
}

#[derive(Serialize)]
struct Base64Source {
    #[serde(rename = "type")]
    kind: &'static str,
    media_type: &'static str,
    data: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Block {
    Built(BuiltBlock),
    /// An Anthropic content block of an earlier turn, byte for byte.
    Verbatim(Box<RawValue>),
}

impl Block {
    fn built(content: BlockContent) -> Self {
        Self::Built(BuiltBlock {
            content,
            cache_control: None,
        })
    }

    fn text(text: String) -> Self {
        Self::built(BlockContent::Text { text })
    }
}

#[derive(Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Role {
    User,
    Assistant,
}

#[derive(Serialize)]
struct Message {
    role: Role,
    content: Vec<Block>,
}

/// Messages under construction. A message opens with its first block, so none is
/// empty, and consecutive blocks of one role share a message, so roles alternate.
#[derive(Default)]
struct Conversation {
    messages: Vec<Message>,
    /// How many `tool_result` blocks lead the last message.
    leading_tool_results: usize,
}

impl Conversation {
    fn last_of(&mut self, role: Role) -> &mut Message {
        if self
            .messages
            .last()
            .is_none_or(|message| message.role != role)
        {
            self.messages.push(Message {
                role,
                content: Vec::new(),
            });
            self.leading_tool_results = 0;
        }
        let last = self.messages.len() - 1;
        &mut self.messages[last]
    }

    fn push(&mut self, role: Role, block: Block) {
        self.last_of(role).content.push(block);
    }

    fn push_text(&mut self, role: Role, text: String) {
        // Anthropic refuses text blocks without non-whitespace text.
        if !text.trim().is_empty() {
            self.push(role, Block::text(text));
        }
    }

    /// Anthropic wants a user message's tool results before anything else in it.
    fn push_tool_result(&mut self, block: Block) {
        let at = match self.messages.last() {
            Some(message) if message.role == Role::User => self.leading_tool_results,
            _ => 0,
        };
        self.last_of(Role::User).content.insert(at, block);
        self.leading_tool_results = at + 1;
    }

    fn finish(mut self) -> Vec<Message> {
        if self
            .messages
            .first()
            .is_some_and(|message| message.role == Role::Assistant)
        {
            let opener = Message {
                role: Role::User,
                content: vec![Block::text(CONTINUATION_TEXT.into())],
            };
            self.messages.insert(0, opener);
        }
        self.messages
    }
}

/// System text, instructions before catalogs.
#[derive(Default)]
struct System {
    instructions: Vec<String>,
    catalogs: Vec<String>,
}

impl System {
    fn into_blocks(self) -> Vec<BuiltBlock> {
        self.instructions
            .into_iter()
            .chain(self.catalogs)
            .filter(|text| !text.trim().is_empty())
            .map(|text| BuiltBlock {
                content: BlockContent::Text { text },
                cache_control: None,
            })
            .collect()
    }
}

pub(super) fn materialize(loaded: &LoadedRequest, stream: bool) -> Result<Vec<u8>, RuntimeError> {
    let request = &loaded.request;
    let params = anthropic_params(&request.provider_params)?;
    let mut system = System::default();
    let mut conversation = Conversation::default();
    for item in &loaded.items {
        add_item(item, &mut system, &mut conversation)?;
    }
    let mut system = system.into_blocks();
    let mut messages = conversation.finish();
    let mut tools: Vec<ToolParam<'_>> = loaded
        .tools
        .iter()
        .filter(|tool| tool.hosted_mcp.is_none())
        .map(|tool| ToolParam {
            name: &tool.name,
            description: &tool.description,
            input_schema: &tool.parameters,
            cache_control: None,
        })
        .collect();
    if params.prompt_caching != Some(false) {
        mark_cache_breakpoints(&mut system, &mut tools, &mut messages);
    }
    // Server tools after the session's own (and after the cache mark: they are small).
    let tools: Vec<AnyTool<'_>> = tools
        .into_iter()
        .map(AnyTool::Function)
        .chain(server_tools(&params).into_iter().map(AnyTool::Server))
        .collect();
    // Anthropic refuses a tool choice without tools.
    let tool_choice = if tools.is_empty() {
        None
    } else {
        tool_choice(&request.tool_choice)
    };
    let forces_tool_use = tool_choice
        .as_ref()
        .is_some_and(ToolChoiceParam::forces_tool_use);
    let thinking = if forces_tool_use {
        None
    } else {
        thinking(&params, request.output_tokens_max)
    };
    let body = Body {
        model: &request.model.model,
        max_tokens: request.output_tokens_max,
        system,
        messages,
        tools,
        mcp_servers: mcp_servers(loaded)?,
        tool_choice,
        thinking,
        temperature: params.temperature,
        top_p: params.top_p,
        top_k: params.top_k,
        context_management: context_management(&params),
        stream,
    };
    serde_json::to_vec(&body).map_err(|err| RuntimeError::Encode(err.to_string()))
}

/// The hosted MCP servers of the request. Anthropic takes a bearer token only
/// (`authorization_token`): a server whose credential is another header cannot be
/// hosted here.
fn mcp_servers(loaded: &LoadedRequest) -> Result<Vec<serde_json::Value>, RuntimeError> {
    let mut servers = Vec::new();
    for server in loaded
        .tools
        .iter()
        .filter_map(|tool| tool.hosted_mcp.as_ref())
    {
        let mut entry =
            serde_json::json!({"type": "url", "url": server.url, "name": server.server});
        if !server.allowed_tools.is_empty() {
            entry["tool_configuration"] =
                serde_json::json!({"enabled": true, "allowed_tools": server.allowed_tools});
        }
        if let Some(header) = loaded.hosted_headers.get(&server.server) {
            let token = header
                .bearer_token()
                .ok_or_else(|| RuntimeError::Unsupported {
                    api_kind: "anthropic:messages",
                    reason: format!(
                        "MCP server {:?} authenticates with a header Anthropic cannot send \
                     (only Authorization: Bearer)",
                        server.server
                    ),
                })?;
            entry["authorization_token"] = serde_json::Value::String(token.to_owned());
        }
        servers.push(entry);
    }
    Ok(servers)
}

/// The beta flags a request needs: hosted MCP servers, server-side compaction, the
/// server tools that are still in beta.
pub(crate) fn request_headers(loaded: &LoadedRequest) -> Vec<(&'static str, &'static str)> {
    let params = anthropic_params(&loaded.request.provider_params).unwrap_or_default();
    let mut flags = Vec::new();
    if loaded.tools.iter().any(|tool| tool.hosted_mcp.is_some()) {
        flags.push("mcp-client-2025-04-04");
    }
    if params.compaction.is_some() {
        flags.push("compact-2026-01-12");
    }
    for tool in &params.hosted_tools {
        match tool {
            HostedTool::WebFetch { .. } => flags.push("web-fetch-2025-09-10"),
            HostedTool::CodeExecution {} => flags.push("code-execution-2025-08-25"),
            _ => {}
        }
    }
    flags
        .into_iter()
        .map(|flag| ("anthropic-beta", flag))
        .collect()
}

/// Anthropic's server tools the session's params name (validated at admission).
fn server_tools(params: &AnthropicParams) -> Vec<Value> {
    params
        .hosted_tools
        .iter()
        .filter_map(|tool| match tool {
            HostedTool::WebSearch {
                allowed_domains,
                max_uses,
                ..
            } => {
                let mut tool =
                    serde_json::json!({"type": "web_search_20250305", "name": "web_search"});
                if !allowed_domains.is_empty() {
                    tool["allowed_domains"] = serde_json::json!(allowed_domains);
                }
                if let Some(max_uses) = max_uses {
                    tool["max_uses"] = serde_json::json!(max_uses);
                }
                Some(tool)
            }
            HostedTool::WebFetch {
                allowed_domains,
                max_uses,
            } => {
                let mut tool =
                    serde_json::json!({"type": "web_fetch_20250910", "name": "web_fetch"});
                if !allowed_domains.is_empty() {
                    tool["allowed_domains"] = serde_json::json!(allowed_domains);
                }
                if let Some(max_uses) = max_uses {
                    tool["max_uses"] = serde_json::json!(max_uses);
                }
                Some(tool)
            }
            HostedTool::CodeExecution {} => Some(serde_json::json!(
                {"type": "code_execution_20250825", "name": "code_execution"}
            )),
            HostedTool::ImageGeneration { .. } | HostedTool::FileSearch { .. } => None,
        })
        .collect()
}

/// The `context_management` of a request with server-side compaction.
fn context_management(params: &AnthropicParams) -> Option<Value> {
    let compaction = params.compaction.as_ref()?;
    let mut edit = serde_json::json!({"type": "compact_20260112"});
    if let Some(tokens) = compaction.trigger_tokens {
        edit["trigger"] = serde_json::json!({"type": "input_tokens", "value": tokens});
    }
    if let Some(instructions) = &compaction.instructions {
        edit["instructions"] = Value::String(instructions.clone());
    }
    Some(serde_json::json!({"edits": [edit]}))
}

fn add_item(
    loaded: &LoadedItem,
    system: &mut System,
    conversation: &mut Conversation,
) -> Result<(), RuntimeError> {
    let item = &loaded.item;
    match (&loaded.content, item.kind) {
        (ItemContent::Text(text), ItemKind::Instructions) => system.instructions.push(text.clone()),
        (ItemContent::Text(text), ItemKind::Catalog) => system.catalogs.push(text.clone()),
        (ItemContent::Text(text), ItemKind::Summary) => {
            conversation.push_text(Role::User, format!("{SUMMARY_PREFIX}{text}"));
        }
        (ItemContent::Text(text), ItemKind::UserMessage | ItemKind::UserAudio) => {
            conversation.push_text(Role::User, text.clone())
        }
        (ItemContent::Text(text), ItemKind::ToolResult) => {
            conversation.push_tool_result(tool_result(item, text)?)
        }
        (
            ItemContent::Text(text),
            ItemKind::AssistantMessage
            | ItemKind::ToolCall
            | ItemKind::Reasoning
            | ItemKind::ProviderOpaque
            | ItemKind::Compaction,
        ) => conversation.push_text(Role::Assistant, text.clone()),
        (ItemContent::Media { media_type, bytes }, _) => {
            conversation.push(Role::User, media(*media_type, bytes))
        }
        (ItemContent::Provider(envelope), _) if envelope.api_kind == KIND.as_str() => {
            conversation.push(Role::Assistant, Block::Verbatim(envelope.item.clone()));
        }
        (ItemContent::Provider(envelope), _) => add_foreign(envelope, conversation)?,
    }
    Ok(())
}

fn tool_result(item: &ContextItem, text: &str) -> Result<Block, RuntimeError> {
    let call_id = item.call_id.as_ref().ok_or_else(|| RuntimeError::Content {
        blob: item.content_ref.to_string(),
        reason: "tool result names no tool call".into(),
    })?;
    let content = if text.trim().is_empty() {
        NO_OUTPUT_TEXT
    } else {
        text
    };
    Ok(Block::built(BlockContent::ToolResult {
        tool_use_id: call_id.as_str().to_owned(),
        content: content.to_owned(),
        is_error: item.is_error,
    }))
}

fn media(media_type: MediaType, bytes: &[u8]) -> Block {
    let source = Base64Source {
        kind: "base64",
        media_type: media_type.mime(),
        data: crate::content::base64(bytes),
    };
    Block::built(if media_type.is_image() {
        BlockContent::Image { source }
    } else {
        BlockContent::Document { source }
    })
}

/// Output of another API kind: its text and tool calls; reasoning is dropped.
fn add_foreign(
    envelope: &OutputItemBlob,
    conversation: &mut Conversation,
) -> Result<(), RuntimeError> {
    for neutral in neutralize(envelope) {
        match neutral {
            NeutralItem::AssistantText(text) => conversation.push_text(Role::Assistant, text),
            NeutralItem::ToolCall {
                call_id,
                name,
                arguments,
            } => {
                let input = input_object(arguments)?;
                conversation.push(
                    Role::Assistant,
                    Block::built(BlockContent::ToolUse {
                        id: call_id,
                        name,
                        input,
                    }),
                );
            }
            NeutralItem::Opaque => {}
        }
    }
    Ok(())
}

/// `arguments` as a `tool_use` input, which must be an object: `{}` when it is not
/// one (or not JSON at all).
fn input_object(arguments: String) -> Result<Box<RawValue>, RuntimeError> {
    match RawValue::from_string(arguments) {
        Ok(input) if input.get().starts_with('{') => Ok(input),
        _ => raw_json("{}"),
    }
}

fn tool_choice(choice: &ToolChoice) -> Option<ToolChoiceParam<'_>> {
    match choice {
        ToolChoice::Auto => None,
        ToolChoice::None => Some(ToolChoiceParam::None),
        ToolChoice::Required => Some(ToolChoiceParam::Any),
        ToolChoice::Tool { name } => Some(ToolChoiceParam::Tool { name }),
    }
}

/// The configured budget, clamped below `max_tokens` (Anthropic counts thinking
/// within it); none when that leaves less than Anthropic's minimum.
fn thinking(params: &AnthropicParams, max_tokens: u32) -> Option<Thinking> {
    let budget_tokens = params.thinking_budget()?.min(max_tokens.saturating_sub(1));
    (budget_tokens >= THINKING_BUDGET_TOKENS_MIN).then_some(Thinking::Enabled { budget_tokens })
}

/// Marks the last system block, the last tool and the last block of each of the last
/// two user messages. The older message mark is where the previous turn's newest mark
/// was, so that prefix is read from the cache however long the turn in between was.
fn mark_cache_breakpoints(
    system: &mut [BuiltBlock],
    tools: &mut [ToolParam<'_>],
    messages: &mut [Message],
) {
    if let Some(block) = system.last_mut() {
        block.cache_control = Some(CacheControl::Ephemeral);
    }
    if let Some(tool) = tools.last_mut() {
        tool.cache_control = Some(CacheControl::Ephemeral);
    }
    let user_messages = messages
        .iter_mut()
        .rev()
        .filter(|message| message.role == Role::User);
    for message in user_messages.take(CACHE_BREAKPOINTS_MESSAGES_MAX) {
        // User messages hold only built blocks; a provider block is never re-serialised
        // to take a mark.
        if let Some(Block::Built(block)) = message.content.last_mut() {
            block.cache_control = Some(CacheControl::Ephemeral);
        }
    }
}

#[cfg(test)]
mod tests;
