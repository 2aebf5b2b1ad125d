//! The script format (`{"turns": [...]}`) and the queue that hands turns to requests.
//!
//! A script is shared by every endpoint: each generation request, whatever its API,
//! consumes one turn. Turns with a `match` are taken first when they match the request's
//! last user text; otherwise the earliest unconsumed turn without `match` is taken.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::FakeProviderError;

/// A scripted conversation: the replies the fake provider gives, in order.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    pub turns: Vec<ScriptTurn>,
}

/// One reply. Content fields (`reasoning`, `redacted_reasoning`, `text`, `tool_calls`)
/// and `error` are exclusive unless `error.mid_stream` is set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptTurn {
    /// Assistant text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Reasoning shown to the client: a Responses reasoning summary (one part per
    /// blank-line-separated paragraph), Chat `reasoning_content`, an Anthropic `thinking`
    /// block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    /// Reasoning the client only sees as an opaque string: a Responses reasoning item with
    /// an empty summary, an Anthropic `redacted_thinking` block; nothing for Chat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redacted_reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ScriptToolCall>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ScriptError>,
    /// The model ran out of output tokens: Responses `incomplete`, Chat `length`,
    /// Anthropic `max_tokens`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub truncated: bool,
    /// Delay before responding; for streams it is spread across the events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    #[serde(default, rename = "match", skip_serializing_if = "Option::is_none")]
    pub match_on: Option<TurnMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<UsageOverride>,
    /// A tool the provider runs itself before the text: a Responses
    /// `web_search_call` (or `code_interpreter_call`), Anthropic `server_tool_use`
    /// plus its `*_tool_result` block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hosted_tool: Option<ScriptHostedTool>,
    /// Sources the text cites: Responses `url_citation` annotations, Anthropic
    /// `web_search_result_location` citations.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub citations: Vec<ScriptCitation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptHostedTool {
    /// `web_search` or `code_execution`.
    pub name: String,
    /// The query (or code) it was asked.
    pub query: String,
    /// Result pages (web search).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub results: Vec<ScriptCitation>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptCitation {
    pub url: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub cited_text: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptToolCall {
    pub name: String,
    /// A JSON object; rendered as a string for OpenAI, as `input` for Anthropic.
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

/// A scripted failure. `status` is used verbatim for every API when given; otherwise it
/// follows from `type` (see [`ErrorKind`]).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<ErrorKind>,
    /// Sent as the `retry-after` header, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_s: Option<u64>,
    /// Replaces the API's usual message for this kind of error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For streaming requests: answer 200, stream the turn's content, then fail inside
    /// the stream. Non-streaming requests get the ordinary error response.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mid_stream: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// 429.
    RateLimit,
    /// 400 `context_length_exceeded` / Anthropic "prompt is too long".
    ContextLengthExceeded,
    /// Anthropic 529 `overloaded_error`; OpenAI 503.
    Overloaded,
    /// 500.
    ServerError,
    /// 401.
    Authentication,
    /// 400.
    InvalidRequest,
    /// Out of credit: OpenAI 429 `insufficient_quota`; Anthropic 400 "credit balance
    /// is too low".
    InsufficientQuota,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnMatch {
    pub last_user_contains: String,
}

/// Replaces the estimated token counts. `cached_input_tokens` is part of `input_tokens`
/// (OpenAI's convention); Anthropic reports it as `cache_read_input_tokens` and the rest
/// as `input_tokens`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cached_input_tokens: Option<u64>,
}

impl Script {
    /// Reads and validates a script file.
    pub fn from_file(path: &Path) -> Result<Self, FakeProviderError> {
        let text = std::fs::read_to_string(path).map_err(|error| FakeProviderError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        let script: Script =
            serde_json::from_str(&text).map_err(|error| FakeProviderError::ScriptJson {
                path: path.to_path_buf(),
                error,
            })?;
        script
            .validate()
            .map_err(|reason| FakeProviderError::ScriptFileInvalid {
                path: path.to_path_buf(),
                reason,
            })?;
        Ok(script)
    }

    /// Checks what serde cannot: every turn says something, errors stand alone, tool
    /// arguments are objects, statuses are errors.
    pub fn validate(&self) -> Result<(), String> {
        for (index, turn) in self.turns.iter().enumerate() {
            turn.validate()
                .map_err(|reason| format!("turn {index}: {reason}"))?;
        }
        Ok(())
    }
}

impl ScriptTurn {
    /// A plain text turn.
    pub fn text(text: impl Into<String>) -> Self {
        ScriptTurn {
            text: Some(text.into()),
            ..ScriptTurn::default()
        }
    }

    fn validate(&self) -> Result<(), String> {
        let has_content = self.text.is_some()
            || self.reasoning.is_some()
            || self.redacted_reasoning.is_some()
            || !self.tool_calls.is_empty();
        match &self.error {
            None if self.text.is_none() && self.tool_calls.is_empty() => {
                Err("a turn needs \"text\", \"tool_calls\" or \"error\"".into())
            }
            None => Ok(()),
            Some(error) => {
                if has_content && !error.mid_stream {
                    return Err("\"error\" cannot be combined with content unless \
                                \"mid_stream\" is true"
                        .into());
                }
                if error.status.is_none() && error.kind.is_none() {
                    return Err("\"error\" needs \"status\" or \"type\"".into());
                }
                match error.status {
                    Some(status) if !(400..=599).contains(&status) => {
                        Err(format!("error status {status} is not in 400..=599"))
                    }
                    _ => Ok(()),
                }
            }
        }?;
        for call in &self.tool_calls {
            if !call.arguments.is_object() {
                return Err(format!(
                    "tool call {:?}: \"arguments\" must be a JSON object",
                    call.name
                ));
            }
        }
        Ok(())
    }
}

impl ScriptError {
    /// The error kind, derived from the status when `type` is absent.
    pub(crate) fn kind(&self) -> ErrorKind {
        if let Some(kind) = self.kind {
            return kind;
        }
        match self.status {
            Some(429) => ErrorKind::RateLimit,
            Some(401 | 403) => ErrorKind::Authentication,
            Some(503 | 529) => ErrorKind::Overloaded,
            Some(status) if status >= 500 => ErrorKind::ServerError,
            _ => ErrorKind::InvalidRequest,
        }
    }
}

/// Hands out turns: matching turns first, then unmatched ones in order.
#[derive(Debug, Default)]
pub(crate) struct TurnQueue {
    turns: Vec<ScriptTurn>,
    consumed: Vec<bool>,
}

impl TurnQueue {
    pub(crate) fn new(script: Script) -> Self {
        let consumed = vec![false; script.turns.len()];
        TurnQueue {
            turns: script.turns,
            consumed,
        }
    }

    /// The turn for a request whose last user text is `last_user_text`, or `None` when
    /// the script has nothing left for it (the caller echoes).
    pub(crate) fn take(&mut self, last_user_text: &str) -> Option<ScriptTurn> {
        let open = |index: &usize| !self.consumed[*index];
        let matched = (0..self.turns.len()).filter(open).find(|index| {
            self.turns[*index]
                .match_on
                .as_ref()
                .is_some_and(|m| last_user_text.contains(&m.last_user_contains))
        });
        let index = matched.or_else(|| {
            (0..self.turns.len())
                .filter(open)
                .find(|index| self.turns[*index].match_on.is_none())
        })?;
        self.consumed[index] = true;
        Some(self.turns[index].clone())
    }
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

fn is_false(value: &bool) -> bool {
    !*value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(json: &str) -> Script {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn matching_turns_jump_the_queue_and_unmatched_go_in_order() {
        let mut queue = TurnQueue::new(script(
            r#"{"turns": [
                {"text": "first"},
                {"text": "weather", "match": {"last_user_contains": "weather"}},
                {"text": "second"}
            ]}"#,
        ));
        let text = |turn: Option<ScriptTurn>| turn.and_then(|t| t.text);
        assert_eq!(text(queue.take("hello")), Some("first".into()));
        assert_eq!(text(queue.take("the weather?")), Some("weather".into()));
        assert_eq!(text(queue.take("the weather?")), Some("second".into()));
        assert_eq!(text(queue.take("anything")), None);
    }

    #[test]
    fn validation_rejects_empty_turns_and_mixed_errors() {
        assert!(
            script(r#"{"turns": [{"delay_ms": 5}]}"#)
                .validate()
                .is_err()
        );
        let mixed = r#"{"turns": [{"text": "x", "error": {"status": 500}}]}"#;
        assert!(script(mixed).validate().is_err());
        let mid = r#"{"turns": [{"text": "x", "error": {"status": 500, "mid_stream": true}}]}"#;
        assert!(script(mid).validate().is_ok());
        let args = r#"{"turns": [{"tool_calls": [{"name": "f", "arguments": [1]}]}]}"#;
        assert!(script(args).validate().is_err());
    }

    #[test]
    fn error_kind_follows_status() {
        let error = |status| ScriptError {
            status: Some(status),
            ..ScriptError::default()
        };
        assert_eq!(error(429).kind(), ErrorKind::RateLimit);
        assert_eq!(error(529).kind(), ErrorKind::Overloaded);
        assert_eq!(error(500).kind(), ErrorKind::ServerError);
        assert_eq!(error(400).kind(), ErrorKind::InvalidRequest);
    }
}
