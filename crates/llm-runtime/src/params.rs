//! Typed `ProviderParams` per API kind. The engine stores params as opaque JSON;
//! these types are their schema. [`validate_provider_params`] runs at admission, so
//! params a provider would refuse never reach the session log.

use engine::core::config::ProviderParams;
use llm_clients::ApiKind;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ParamsError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningEffort {
    Minimal,
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReasoningSummary {
    Auto,
    Concise,
    Detailed,
}

/// A tool the provider runs itself; its calls and results come back as provider items,
/// stored and replayed verbatim. Which API kind offers which is checked at admission:
///
/// | tool | `openai:responses` | `anthropic:messages` |
/// | --- | --- | --- |
/// | `web_search` | `web_search` | `web_search_20250305` |
/// | `web_fetch` | no | `web_fetch_20250910` (beta) |
/// | `code_execution` | `code_interpreter` (auto container) | `code_execution_20250825` (beta) |
/// | `image_generation` | `image_generation` | no |
/// | `file_search` | `file_search` over the named vector stores | no |
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum HostedTool {
    WebSearch {
        /// OpenAI only.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search_context_size: Option<SearchContextSize>,
        /// Only these domains (at most 32).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allowed_domains: Vec<String>,
        /// Anthropic only: searches per request.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_uses: Option<u32>,
    },
    WebFetch {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        allowed_domains: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_uses: Option<u32>,
    },
    CodeExecution {},
    ImageGeneration {
        /// e.g. `1024x1024` or `auto`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        size: Option<String>,
        /// `low`, `medium`, `high` or `auto`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        quality: Option<String>,
    },
    FileSearch {
        /// 1 to 16 vector store ids of the deployment's OpenAI account.
        vector_store_ids: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_num_results: Option<u32>,
    },
}

impl HostedTool {
    fn name(&self) -> &'static str {
        match self {
            Self::WebSearch { .. } => "web_search",
            Self::WebFetch { .. } => "web_fetch",
            Self::CodeExecution {} => "code_execution",
            Self::ImageGeneration { .. } => "image_generation",
            Self::FileSearch { .. } => "file_search",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SearchContextSize {
    Low,
    Medium,
    High,
}

/// `openai:responses` params.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponsesParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// Reasoning summaries to return; default `auto` when reasoning is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_summary: Option<ReasoningSummary>,
    /// 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosted_tools: Vec<HostedTool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<String>,
    /// Server-side compaction: when the rendered context crosses this many tokens, the
    /// provider compacts it inline and returns an opaque `compaction` item
    /// (`context_management`). At least 1,000. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_threshold_tokens: Option<u64>,
    /// Compact through the provider's standalone `/responses/compact` endpoint when the
    /// session compacts (at its watermark or on request) instead of by a summary; a
    /// failed native compaction falls back to the summary. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub native_compaction: Option<bool>,
}

/// Smallest compaction threshold accepted (the providers' own floors are higher).
pub const COMPACT_THRESHOLD_TOKENS_MIN: u64 = 1_000;

/// `openai:completions` params (also for OpenAI-compatible servers).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// 0 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Up to 4 stop sequences.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// -2 to 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Send the output cap as the older `max_tokens` instead of
    /// `max_completion_tokens`, for servers that only know the former. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy_max_tokens: Option<bool>,
    /// Hosted tools are refused here: Chat Completions has none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosted_tools: Vec<HostedTool>,
}

/// `anthropic:messages` params.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnthropicParams {
    /// Extended thinking budget, at least 1,024 and below the turn's output cap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thinking_budget_tokens: Option<u32>,
    /// Maps to a thinking budget (low 2,048, medium 8,192, high 24,576) when no
    /// explicit budget is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_effort: Option<ReasoningEffort>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// 0 to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u32>,
    /// Prompt caching breakpoints on the stable prefix; default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_caching: Option<bool>,
    /// Hosted tools are refused here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosted_tools: Vec<HostedTool>,
    /// Server-side compaction (beta `compact-2026-01-12`): when the input crosses
    /// `trigger_tokens`, the provider summarises the conversation into a `compaction`
    /// block it then reads in place of what came before. Off when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction: Option<AnthropicCompaction>,
}

/// `anthropic:messages` server-side compaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AnthropicCompaction {
    /// Input tokens that trigger compaction; the provider's default (150,000) when
    /// absent, at least 1,000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger_tokens: Option<u64>,
    /// What the summary should keep (at most 4 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
}

impl AnthropicParams {
    /// The thinking budget to request, if thinking is on.
    pub fn thinking_budget(&self) -> Option<u32> {
        self.thinking_budget_tokens.or(match self.reasoning_effort {
            None => None,
            Some(ReasoningEffort::Minimal | ReasoningEffort::Low) => Some(2_048),
            Some(ReasoningEffort::Medium) => Some(8_192),
            Some(ReasoningEffort::High) => Some(24_576),
        })
    }
}

fn parse<T: DeserializeOwned>(kind: ApiKind, params: &ProviderParams) -> Result<T, ParamsError> {
    T::deserialize(&params.0).map_err(|err| ParamsError {
        api_kind: kind.to_string(),
        reason: err.to_string(),
    })
}

fn check_range(
    kind: ApiKind,
    field: &str,
    value: Option<f64>,
    low: f64,
    high: f64,
) -> Result<(), ParamsError> {
    match value {
        Some(value) if !(low..=high).contains(&value) => Err(ParamsError {
            api_kind: kind.to_string(),
            reason: format!("{field} must be between {low} and {high}, got {value}"),
        }),
        _ => Ok(()),
    }
}

fn refuse_hosted(kind: ApiKind, tools: &[HostedTool]) -> Result<(), ParamsError> {
    if tools.is_empty() {
        return Ok(());
    }
    Err(ParamsError {
        api_kind: kind.to_string(),
        reason: "hosted tools are not available for this API kind".into(),
    })
}

/// Hosted tools for `kind`: each offered by the kind, at most once, within bounds.
fn check_hosted(kind: ApiKind, tools: &[HostedTool]) -> Result<(), ParamsError> {
    let refuse = |reason: String| {
        Err(ParamsError {
            api_kind: kind.to_string(),
            reason,
        })
    };
    let anthropic = kind == ApiKind::AnthropicMessages;
    let mut seen = std::collections::BTreeSet::new();
    for tool in tools {
        let name = tool.name();
        if !seen.insert(name) {
            return refuse(format!("hosted tool {name} is named twice"));
        }
        let offered = match tool {
            HostedTool::WebSearch {
                search_context_size,
                max_uses,
                ..
            } => {
                if anthropic && search_context_size.is_some() {
                    return refuse("web_search.search_context_size is OpenAI's".into());
                }
                if !anthropic && max_uses.is_some() {
                    return refuse("web_search.max_uses is Anthropic's".into());
                }
                true
            }
            HostedTool::WebFetch { .. } => anthropic,
            HostedTool::CodeExecution {} => true,
            HostedTool::ImageGeneration { .. } => !anthropic,
            HostedTool::FileSearch {
                vector_store_ids, ..
            } => {
                if !(1..=16).contains(&vector_store_ids.len())
                    || vector_store_ids
                        .iter()
                        .any(|id| id.is_empty() || id.len() > 128)
                {
                    return refuse("file_search needs 1 to 16 vector store ids".into());
                }
                !anthropic
            }
        };
        if !offered {
            return refuse(format!("hosted tool {name} is not offered by {kind}"));
        }
        let domains = match tool {
            HostedTool::WebSearch {
                allowed_domains, ..
            }
            | HostedTool::WebFetch {
                allowed_domains, ..
            } => allowed_domains.as_slice(),
            _ => &[],
        };
        if domains.len() > 32 || domains.iter().any(|d| d.is_empty() || d.len() > 253) {
            return refuse(format!("{name}.allowed_domains: at most 32 domain names"));
        }
    }
    Ok(())
}

fn check_threshold(kind: ApiKind, field: &str, value: Option<u64>) -> Result<(), ParamsError> {
    match value {
        Some(value) if value < COMPACT_THRESHOLD_TOKENS_MIN => Err(ParamsError {
            api_kind: kind.to_string(),
            reason: format!("{field} must be at least {COMPACT_THRESHOLD_TOKENS_MIN}, got {value}"),
        }),
        _ => Ok(()),
    }
}

pub fn responses_params(params: &ProviderParams) -> Result<ResponsesParams, ParamsError> {
    let kind = ApiKind::OpenAiResponses;
    let parsed: ResponsesParams = parse(kind, params)?;
    check_range(kind, "temperature", parsed.temperature, 0.0, 2.0)?;
    check_range(kind, "top_p", parsed.top_p, 0.0, 1.0)?;
    check_threshold(
        kind,
        "compact_threshold_tokens",
        parsed.compact_threshold_tokens,
    )?;
    check_hosted(kind, &parsed.hosted_tools)?;
    Ok(parsed)
}

pub fn chat_params(params: &ProviderParams) -> Result<ChatParams, ParamsError> {
    let kind = ApiKind::OpenAiCompletions;
    let parsed: ChatParams = parse(kind, params)?;
    check_range(kind, "temperature", parsed.temperature, 0.0, 2.0)?;
    check_range(kind, "top_p", parsed.top_p, 0.0, 1.0)?;
    check_range(
        kind,
        "frequency_penalty",
        parsed.frequency_penalty,
        -2.0,
        2.0,
    )?;
    check_range(kind, "presence_penalty", parsed.presence_penalty, -2.0, 2.0)?;
    if parsed.stop.len() > 4 {
        return Err(ParamsError {
            api_kind: kind.to_string(),
            reason: "at most 4 stop sequences".into(),
        });
    }
    refuse_hosted(kind, &parsed.hosted_tools)?;
    Ok(parsed)
}

pub fn anthropic_params(params: &ProviderParams) -> Result<AnthropicParams, ParamsError> {
    let kind = ApiKind::AnthropicMessages;
    let parsed: AnthropicParams = parse(kind, params)?;
    check_range(kind, "temperature", parsed.temperature, 0.0, 1.0)?;
    check_range(kind, "top_p", parsed.top_p, 0.0, 1.0)?;
    if parsed
        .thinking_budget_tokens
        .is_some_and(|budget| budget < 1_024)
    {
        return Err(ParamsError {
            api_kind: kind.to_string(),
            reason: "thinking_budget_tokens must be at least 1024".into(),
        });
    }
    if parsed.thinking_budget().is_some() {
        // Anthropic refuses these sampling settings together with extended thinking.
        let refuse = |reason: &str| {
            Err(ParamsError {
                api_kind: kind.to_string(),
                reason: reason.into(),
            })
        };
        if parsed
            .temperature
            .is_some_and(|temperature| temperature != 1.0)
        {
            return refuse("temperature cannot be changed while thinking is on");
        }
        if parsed.top_k.is_some() {
            return refuse("top_k cannot be set while thinking is on");
        }
        if parsed.top_p.is_some_and(|top_p| top_p < 0.95) {
            return refuse("top_p must be between 0.95 and 1 while thinking is on");
        }
    }
    check_hosted(kind, &parsed.hosted_tools)?;
    if let Some(compaction) = &parsed.compaction {
        check_threshold(kind, "compaction.trigger_tokens", compaction.trigger_tokens)?;
        if compaction
            .instructions
            .as_ref()
            .is_some_and(|text| text.len() > 4_096)
        {
            return Err(ParamsError {
                api_kind: kind.to_string(),
                reason: "compaction.instructions is longer than 4096 bytes".into(),
            });
        }
    }
    Ok(parsed)
}

/// Validates `params` for `api_kind`; call at admission, before anything is logged.
pub fn validate_provider_params(
    api_kind: &str,
    params: &ProviderParams,
) -> Result<(), ParamsError> {
    let kind: ApiKind = api_kind.parse().map_err(|_| ParamsError {
        api_kind: api_kind.to_owned(),
        reason: "unknown API kind".into(),
    })?;
    match kind {
        ApiKind::OpenAiResponses => responses_params(params).map(drop),
        ApiKind::OpenAiCompletions => chat_params(params).map(drop),
        ApiKind::AnthropicMessages => anthropic_params(params).map(drop),
    }
}

/// JSON Schema of the params of `api_kind`.
pub fn provider_params_schema(api_kind: ApiKind) -> serde_json::Value {
    let schema = match api_kind {
        ApiKind::OpenAiResponses => schemars::schema_for!(ResponsesParams),
        ApiKind::OpenAiCompletions => schemars::schema_for!(ChatParams),
        ApiKind::AnthropicMessages => schemars::schema_for!(AnthropicParams),
    };
    schema.to_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn params(value: serde_json::Value) -> ProviderParams {
        ProviderParams(value)
    }

    #[test]
    fn validation_table() {
        let cases = [
            ("openai:responses", json!({}), true),
            (
                "openai:responses",
                json!({"reasoning_effort": "high", "hosted_tools": [{"type": "web_search"}]}),
                true,
            ),
            ("openai:responses", json!({"temperature": 2.5}), false),
            ("openai:responses", json!({"unknown": 1}), false),
            (
                "openai:completions",
                json!({"temperature": 0.2, "seed": 7, "stop": ["END"]}),
                true,
            ),
            (
                "openai:completions",
                json!({"hosted_tools": [{"type": "web_search"}]}),
                false,
            ),
            (
                "openai:completions",
                json!({"stop": ["a", "b", "c", "d", "e"]}),
                false,
            ),
            (
                "anthropic:messages",
                json!({"thinking_budget_tokens": 2048, "top_p": 0.97}),
                true,
            ),
            (
                "anthropic:messages",
                json!({"top_k": 5, "temperature": 0.3}),
                true,
            ),
            (
                "anthropic:messages",
                json!({"thinking_budget_tokens": 2048, "top_k": 5}),
                false,
            ),
            (
                "anthropic:messages",
                json!({"reasoning_effort": "low", "temperature": 0.5}),
                false,
            ),
            (
                "anthropic:messages",
                json!({"thinking_budget_tokens": 2048, "top_p": 0.5}),
                false,
            ),
            (
                "anthropic:messages",
                json!({"thinking_budget_tokens": 100}),
                false,
            ),
            ("anthropic:messages", json!({"temperature": 1.5}), false),
            (
                "anthropic:messages",
                json!({"hosted_tools": [{"type": "web_search", "max_uses": 3}, {"type": "web_fetch"}, {"type": "code_execution"}]}),
                true,
            ),
            (
                "anthropic:messages",
                json!({"hosted_tools": [{"type": "image_generation"}]}),
                false,
            ),
            (
                "anthropic:messages",
                json!({"hosted_tools": [{"type": "web_search", "search_context_size": "low"}]}),
                false,
            ),
            (
                "openai:responses",
                json!({"hosted_tools": [{"type": "code_execution"}, {"type": "image_generation"},
                    {"type": "file_search", "vector_store_ids": ["vs_1"]}]}),
                true,
            ),
            (
                "openai:responses",
                json!({"hosted_tools": [{"type": "web_fetch"}]}),
                false,
            ),
            (
                "openai:responses",
                json!({"hosted_tools": [{"type": "file_search", "vector_store_ids": []}]}),
                false,
            ),
            (
                "openai:responses",
                json!({"hosted_tools": [{"type": "web_search"}, {"type": "web_search"}]}),
                false,
            ),
            (
                "openai:responses",
                json!({"compact_threshold_tokens": 10}),
                false,
            ),
            (
                "anthropic:messages",
                json!({"compaction": {"trigger_tokens": 50_000, "instructions": "keep names"}}),
                true,
            ),
            ("gemini:generate", json!({}), false),
        ];
        for (kind, value, ok) in cases {
            let result = validate_provider_params(kind, &params(value.clone()));
            assert_eq!(result.is_ok(), ok, "{kind} {value}: {result:?}");
        }
    }

    #[test]
    fn schemas_name_their_fields() {
        let schema = provider_params_schema(ApiKind::AnthropicMessages);
        assert!(
            schema["properties"]["thinking_budget_tokens"].is_object(),
            "{schema}"
        );
        assert_eq!(schema["additionalProperties"], json!(false));
    }
}
