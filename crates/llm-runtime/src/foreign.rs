//! A provider-neutral reading of output items, for when the session's route changes
//! API kind mid-session: the new adapter cannot send another provider's items
//! verbatim, so it sends their text and tool calls, and drops opaque reasoning
//! (which only the provider that made it can read).

use serde_json::Value;

use crate::content::OutputItemBlob;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NeutralItem {
    AssistantText(String),
    ToolCall {
        call_id: String,
        name: String,
        arguments: String,
    },
    /// Reasoning or provider-specific output: not transferable.
    Opaque,
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Array(parts) => {
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|part| part.get("text")?.as_str())
                .collect();
            (!texts.is_empty()).then(|| texts.concat())
        }
        _ => None,
    }
}

fn str_field(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The neutral items in one stored output item.
pub fn neutralize(envelope: &OutputItemBlob) -> Vec<NeutralItem> {
    let Ok(item) = serde_json::from_str::<Value>(envelope.item.get()) else {
        return vec![NeutralItem::Opaque];
    };
    let kind = item.get("type").and_then(Value::as_str).unwrap_or_default();
    match envelope.api_kind.as_str() {
        "openai:responses" => match kind {
            "message" => item
                .get("content")
                .and_then(text_of)
                .map(NeutralItem::AssistantText)
                .into_iter()
                .collect(),
            "function_call" => vec![NeutralItem::ToolCall {
                call_id: str_field(&item, "call_id"),
                name: str_field(&item, "name"),
                arguments: str_field(&item, "arguments"),
            }],
            _ => vec![NeutralItem::Opaque],
        },
        "openai:completions" => {
            let mut out: Vec<NeutralItem> = item
                .get("content")
                .and_then(text_of)
                .map(NeutralItem::AssistantText)
                .into_iter()
                .collect();
            for call in item
                .get("tool_calls")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let function = call.get("function").cloned().unwrap_or(Value::Null);
                out.push(NeutralItem::ToolCall {
                    call_id: str_field(call, "id"),
                    name: str_field(&function, "name"),
                    arguments: str_field(&function, "arguments"),
                });
            }
            out
        }
        "anthropic:messages" => match kind {
            "text" => vec![NeutralItem::AssistantText(str_field(&item, "text"))],
            "tool_use" => vec![NeutralItem::ToolCall {
                call_id: str_field(&item, "id"),
                name: str_field(&item, "name"),
                arguments: item
                    .get("input")
                    .map(Value::to_string)
                    .unwrap_or_else(|| "{}".into()),
            }],
            // Anthropic's compaction summary is plain text, so it survives a switch
            // (OpenAI's is encrypted and does not: a session that changes API kind
            // after a native OpenAI compaction continues without that history).
            "compaction" => vec![NeutralItem::AssistantText(format!(
                "Summary of the conversation so far:\n{}",
                str_field(&item, "content")
            ))],
            _ => vec![NeutralItem::Opaque],
        },
        _ => vec![NeutralItem::Opaque],
    }
}

/// The human-readable reasoning of a stored item, if it has any: OpenAI reasoning
/// summaries, Anthropic thinking text, Chat `reasoning_content`. Encrypted or
/// redacted reasoning has none.
pub fn reasoning_text(envelope: &OutputItemBlob) -> Option<String> {
    let item = serde_json::from_str::<Value>(envelope.item.get()).ok()?;
    let text = match envelope.api_kind.as_str() {
        "openai:responses" => item.get("summary").and_then(text_of),
        "anthropic:messages" => item
            .get("thinking")
            .and_then(Value::as_str)
            .map(str::to_owned),
        "openai:completions" => item
            .get("reasoning_content")
            .or_else(|| item.get("reasoning"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    text.filter(|text| !text.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(api_kind: &str, item: &str) -> OutputItemBlob {
        serde_json::from_str(&format!(r#"{{"api_kind":"{api_kind}","item":{item}}}"#)).unwrap()
    }

    #[test]
    fn reads_each_kind() {
        let responses = envelope(
            "openai:responses",
            r#"{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi","annotations":[]}]}"#,
        );
        assert_eq!(
            neutralize(&responses),
            [NeutralItem::AssistantText("hi".into())]
        );
        let chat = envelope(
            "openai:completions",
            r#"{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"add","arguments":"{\"a\":1}"}}]}"#,
        );
        assert_eq!(
            neutralize(&chat),
            [NeutralItem::ToolCall {
                call_id: "call_1".into(),
                name: "add".into(),
                arguments: "{\"a\":1}".into()
            }]
        );
        let anthropic = envelope(
            "anthropic:messages",
            r#"{"type":"thinking","thinking":"hmm","signature":"sig"}"#,
        );
        assert_eq!(neutralize(&anthropic), [NeutralItem::Opaque]);
        assert_eq!(reasoning_text(&anthropic).as_deref(), Some("hmm"));
        let summary = envelope(
            "openai:responses",
            r#"{"type":"reasoning","summary":[{"type":"summary_text","text":"Plan."}],"encrypted_content":"x"}"#,
        );
        assert_eq!(reasoning_text(&summary).as_deref(), Some("Plan."));
    }
}

/// A source a provider cited for an answer's text (web search results, fetched pages,
/// files searched).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Citation {
    pub url: Option<String>,
    pub title: Option<String>,
    /// The passage cited, when the provider says (Anthropic does).
    pub cited_text: Option<String>,
    /// A file's name, for file search citations.
    pub file: Option<String>,
}

fn opt_str(value: &Value, field: &str) -> Option<String> {
    value.get(field).and_then(Value::as_str).map(str::to_owned)
}

fn citation_of(value: &Value) -> Option<Citation> {
    let citation = Citation {
        url: opt_str(value, "url"),
        title: opt_str(value, "title"),
        cited_text: opt_str(value, "cited_text"),
        file: opt_str(value, "filename").or_else(|| opt_str(value, "file_id")),
    };
    (citation.url.is_some() || citation.file.is_some()).then_some(citation)
}

/// The citations of an assistant message: OpenAI `output_text` annotations
/// (`url_citation`, `file_citation`), Anthropic text block `citations`.
pub fn citations(envelope: &OutputItemBlob) -> Vec<Citation> {
    let Ok(item) = serde_json::from_str::<Value>(envelope.item.get()) else {
        return Vec::new();
    };
    let listed: Vec<&Value> = match envelope.api_kind.as_str() {
        "openai:responses" => item
            .get("content")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|part| part.get("annotations")?.as_array())
            .flatten()
            .collect(),
        "anthropic:messages" => item
            .get("citations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect(),
        _ => Vec::new(),
    };
    listed.into_iter().filter_map(citation_of).collect()
}

/// A call of a tool the provider ran itself, as a client is shown it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedCall {
    /// `web_search`, `web_fetch`, `code_execution`, `image_generation`, `file_search`,
    /// or the provider's own name for another.
    pub tool: String,
    /// What it was asked: the query, the URL, the code.
    pub detail: Option<String>,
}

/// The hosted tool call in a provider item, if it is one (results are not: the
/// answer that cites them is shown instead).
pub fn hosted_call(envelope: &OutputItemBlob) -> Option<HostedCall> {
    let item = serde_json::from_str::<Value>(envelope.item.get()).ok()?;
    let kind = item.get("type").and_then(Value::as_str)?;
    let detail = |pointer: &str| {
        item.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (tool, detail) = match (envelope.api_kind.as_str(), kind) {
        ("openai:responses", "web_search_call") => {
            ("web_search".to_owned(), detail("/action/query"))
        }
        ("openai:responses", "code_interpreter_call") => {
            ("code_execution".to_owned(), detail("/code"))
        }
        ("openai:responses", "image_generation_call") => ("image_generation".to_owned(), None),
        ("openai:responses", "file_search_call") => {
            ("file_search".to_owned(), detail("/queries/0"))
        }
        ("anthropic:messages", "server_tool_use") => {
            let name = str_field(&item, "name");
            let asked = detail("/input/query")
                .or_else(|| detail("/input/url"))
                .or_else(|| detail("/input/code"))
                .or_else(|| detail("/input/command"));
            (name, asked)
        }
        _ => return None,
    };
    Some(HostedCall { tool, detail })
}
