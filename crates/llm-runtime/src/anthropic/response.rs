//! The `message` object, and the facts the engine takes from it.

use engine::core::context::ItemKind;
use engine::core::run::{FinishReason, Usage};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::{KIND, decode};
use crate::adapter::{ParsedCall, ParsedGeneration, ParsedItem};
use crate::error::RuntimeError;

pub(super) fn parse_response(body: &[u8]) -> Result<ParsedGeneration, RuntimeError> {
    let message: MessageObject = serde_json::from_slice(body).map_err(decode)?;
    if message.kind.as_deref() == Some("error") {
        return Err(llm_clients::classify_error(None, None, body).into());
    }
    message.into_parsed()
}

#[derive(Deserialize)]
pub(super) struct MessageObject {
    #[serde(default, rename = "type")]
    pub(super) kind: Option<String>,
    #[serde(default)]
    pub(super) id: Option<String>,
    #[serde(default)]
    pub(super) content: Vec<Box<RawValue>>,
    #[serde(default)]
    pub(super) stop_reason: Option<String>,
    #[serde(default)]
    pub(super) usage: Option<MessageUsage>,
}

/// Anthropic's usage: `input_tokens` counts only the input after the last cache
/// mark, so the cache fields are added back for the engine's total.
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct MessageUsage {
    input_tokens: Option<u64>,
    cache_creation_input_tokens: Option<u64>,
    cache_read_input_tokens: Option<u64>,
    output_tokens: Option<u64>,
}

impl MessageUsage {
    /// Takes every field `later` reports (stream counts are cumulative).
    pub(super) fn update(&mut self, later: MessageUsage) {
        let fields = [
            (&mut self.input_tokens, later.input_tokens),
            (
                &mut self.cache_creation_input_tokens,
                later.cache_creation_input_tokens,
            ),
            (
                &mut self.cache_read_input_tokens,
                later.cache_read_input_tokens,
            ),
            (&mut self.output_tokens, later.output_tokens),
        ];
        for (field, later) in fields {
            if later.is_some() {
                *field = later;
            }
        }
    }

    fn usage(self) -> Usage {
        let cached_input_tokens = self.cache_read_input_tokens.unwrap_or(0);
        let input_tokens = self
            .input_tokens
            .unwrap_or(0)
            .saturating_add(self.cache_creation_input_tokens.unwrap_or(0))
            .saturating_add(cached_input_tokens);
        Usage {
            input_tokens,
            output_tokens: self.output_tokens.unwrap_or(0),
            cached_input_tokens,
            // Anthropic bills thinking as output without reporting it apart.
            reasoning_tokens: 0,
            // Billed above the input price, so kept apart for pricing.
            cache_write_input_tokens: self.cache_creation_input_tokens.unwrap_or(0),
            ..Usage::default()
        }
    }
}

impl MessageObject {
    pub(super) fn into_parsed(self) -> Result<ParsedGeneration, RuntimeError> {
        let items = self
            .content
            .into_iter()
            .map(parse_block)
            .collect::<Result<Vec<_>, _>>()?;
        let usage = self.usage.unwrap_or_default().usage();
        Ok(ParsedGeneration {
            items,
            context_tokens: Some(usage.input_tokens.saturating_add(usage.output_tokens)),
            usage,
            response_id: self.id,
            finish_reason: finish_reason(self.stop_reason.as_deref()),
        })
    }
}

fn finish_reason(stop_reason: Option<&str>) -> FinishReason {
    match stop_reason {
        Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("max_tokens") => FinishReason::MaxTokens,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

#[derive(Deserialize)]
struct BlockHead<'a> {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default, borrow)]
    input: Option<&'a RawValue>,
}

/// One content block as an output item.
pub(super) fn parse_block(raw: Box<RawValue>) -> Result<ParsedItem, RuntimeError> {
    let head: BlockHead<'_> = serde_json::from_str(raw.get()).map_err(decode)?;
    let (kind, calls) = match head.kind.as_str() {
        "text" => (ItemKind::AssistantMessage, Vec::new()),
        "thinking" | "redacted_thinking" => (ItemKind::Reasoning, Vec::new()),
        // Server-side compaction: the provider reads it in place of what came before.
        "compaction" => (ItemKind::Compaction, Vec::new()),
        "tool_use" => {
            let missing = |field: &str| {
                RuntimeError::Decode(format!("{KIND}: tool_use block without {field}"))
            };
            let call = ParsedCall {
                call_id: head.id.ok_or_else(|| missing("id"))?,
                name: head.name.ok_or_else(|| missing("name"))?,
                arguments: head.input.map_or("{}", RawValue::get).to_owned(),
            };
            (ItemKind::ToolCall, vec![call])
        }
        _ => (ItemKind::ProviderOpaque, Vec::new()),
    };
    Ok(ParsedItem { kind, raw, calls })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &str = r#"{"id":"msg_01XFDUDYJgAACzvnptvVoYEL","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[{"type":"thinking","thinking":"The user wants the file.","signature":"EqQBCkgIBxABGAIqQL+x/sig=="},{"type":"redacted_thinking","data":"EmwKAhgBEgy3va3pzix/LafPsn4a"},{"type":"text","text":"Let me read it."},{"type":"tool_use","id":"toolu_01A09q90qw90lq917835lq9","name":"read_file","input":{"path":"src/main.rs","limit":20}},{"type":"server_tool_use","id":"srvtoolu_01","name":"web_search","input":{"query":"rust"}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":12,"cache_creation_input_tokens":300,"cache_read_input_tokens":4000,"output_tokens":95,"service_tier":"standard"}}"#;

    #[test]
    fn parses_a_message() {
        let parsed = parse_response(MESSAGE.as_bytes()).unwrap();
        let kinds: Vec<ItemKind> = parsed.items.iter().map(|item| item.kind).collect();
        assert_eq!(
            kinds,
            [
                ItemKind::Reasoning,
                ItemKind::Reasoning,
                ItemKind::AssistantMessage,
                ItemKind::ToolCall,
                ItemKind::ProviderOpaque
            ]
        );
        assert_eq!(
            parsed.items[0].raw.get(),
            r#"{"type":"thinking","thinking":"The user wants the file.","signature":"EqQBCkgIBxABGAIqQL+x/sig=="}"#
        );
        assert_eq!(
            parsed.items[3].calls,
            [ParsedCall {
                call_id: "toolu_01A09q90qw90lq917835lq9".into(),
                name: "read_file".into(),
                arguments: r#"{"path":"src/main.rs","limit":20}"#.into(),
            }]
        );
        assert!(
            parsed
                .items
                .iter()
                .filter(|item| item.kind != ItemKind::ToolCall)
                .all(|item| item.calls.is_empty())
        );
        assert_eq!(
            parsed.usage,
            Usage {
                input_tokens: 4_312,
                output_tokens: 95,
                cached_input_tokens: 4_000,
                reasoning_tokens: 0,
                cache_write_input_tokens: 300,
                ..Usage::default()
            }
        );
        assert_eq!(parsed.context_tokens, Some(4_407));
        assert_eq!(parsed.finish_reason, FinishReason::ToolCalls);
        assert_eq!(
            parsed.response_id.as_deref(),
            Some("msg_01XFDUDYJgAACzvnptvVoYEL")
        );
    }

    #[test]
    fn maps_stop_reasons() {
        let cases = [
            (Some("end_turn"), FinishReason::Stop),
            (Some("stop_sequence"), FinishReason::Stop),
            (Some("tool_use"), FinishReason::ToolCalls),
            (Some("max_tokens"), FinishReason::MaxTokens),
            (Some("refusal"), FinishReason::ContentFilter),
            (Some("pause_turn"), FinishReason::Other),
            (None, FinishReason::Other),
        ];
        for (stop_reason, expected) in cases {
            assert_eq!(finish_reason(stop_reason), expected, "{stop_reason:?}");
        }
    }

    #[test]
    fn null_cache_fields_count_as_zero() {
        let body = r#"{"id":"msg_1","type":"message","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","usage":{"input_tokens":7,"cache_creation_input_tokens":null,"cache_read_input_tokens":null,"output_tokens":2}}"#;
        let parsed = parse_response(body.as_bytes()).unwrap();
        assert_eq!(
            parsed.usage,
            Usage {
                input_tokens: 7,
                output_tokens: 2,
                cached_input_tokens: 0,
                reasoning_tokens: 0,
                ..Usage::default()
            }
        );
        assert_eq!(parsed.finish_reason, FinishReason::Stop);
    }

    #[test]
    fn an_error_body_is_a_provider_error() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
        let err = parse_response(body.as_bytes()).unwrap_err();
        assert!(matches!(err, RuntimeError::Provider(_)), "{err:?}");
        assert!(err.is_retryable());
    }

    #[test]
    fn a_tool_use_without_id_is_refused() {
        let raw = crate::adapter::raw_json(r#"{"type":"tool_use","name":"x","input":{}}"#).unwrap();
        assert!(matches!(parse_block(raw), Err(RuntimeError::Decode(_))));
    }
}
