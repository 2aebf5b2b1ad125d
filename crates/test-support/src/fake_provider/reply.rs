//! What a script turn means before any API renders it: content, usage and ids, plus the
//! rendering vocabulary (`Rendered`, SSE frames, delta fragments, opaque strings) the
//! three API modules share.

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::request::{RequestInfo, tokens_for_bytes};
use super::script::{ScriptError, ScriptTurn};

/// `created` / `created_at` in every body: 2026-01-01T00:00:00Z, fixed so bodies are
/// byte-stable.
pub(crate) const CREATED_AT_S: u64 = 1_767_225_600;

/// Largest text delta, in bytes; deltas also break after whitespace.
pub(crate) const TEXT_DELTA_BYTES_MAX: usize = 24;
/// Largest tool-argument delta, in bytes.
pub(crate) const ARGUMENTS_DELTA_BYTES_MAX: usize = 12;

/// A turn resolved for one request.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    /// 1-based request counter; every id in the reply derives from it.
    pub(crate) number: u64,
    pub(crate) reasoning: Option<String>,
    pub(crate) redacted_reasoning: Option<String>,
    pub(crate) text: Option<String>,
    pub(crate) tool_calls: Vec<ToolCall>,
    pub(crate) error: Option<ScriptError>,
    pub(crate) truncated: bool,
    pub(crate) usage: Usage,
    pub(crate) hosted_tool: Option<super::script::ScriptHostedTool>,
    pub(crate) citations: Vec<super::script::ScriptCitation>,
}

#[derive(Clone, Debug)]
pub(crate) struct ToolCall {
    pub(crate) name: String,
    /// The arguments object (Anthropic `input`).
    pub(crate) input: Value,
    /// The arguments as compact JSON text (OpenAI `arguments`).
    pub(crate) arguments: String,
}

/// Token counts in OpenAI's convention: `cached_input_tokens` is part of `input_tokens`,
/// `reasoning_tokens` part of `output_tokens`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Usage {
    pub(crate) input_tokens: u64,
    pub(crate) cached_input_tokens: u64,
    pub(crate) output_tokens: u64,
    pub(crate) reasoning_tokens: u64,
}

impl Usage {
    pub(crate) fn total_tokens(&self) -> u64 {
        self.input_tokens.saturating_add(self.output_tokens)
    }

    /// Anthropic's `input_tokens`, which excludes cache reads.
    pub(crate) fn uncached_input_tokens(&self) -> u64 {
        self.input_tokens.saturating_sub(self.cached_input_tokens)
    }
}

impl Reply {
    pub(crate) fn new(number: u64, turn: &ScriptTurn, info: &RequestInfo) -> Self {
        let tool_calls: Vec<ToolCall> = turn
            .tool_calls
            .iter()
            .map(|call| ToolCall {
                name: call.name.clone(),
                input: call.arguments.clone(),
                arguments: call.arguments.to_string(),
            })
            .collect();
        let reasoning_bytes = turn.reasoning.as_ref().map_or(0, String::len)
            + turn.redacted_reasoning.as_ref().map_or(0, String::len);
        let output_bytes = reasoning_bytes
            + turn.text.as_ref().map_or(0, String::len)
            + tool_calls.iter().map(|c| c.arguments.len()).sum::<usize>();
        let overrides = turn.usage.clone().unwrap_or_default();
        let input_tokens = overrides.input_tokens.unwrap_or(info.input_tokens);
        let output_tokens = overrides
            .output_tokens
            .unwrap_or_else(|| tokens_for_bytes(output_bytes).max(1));
        let usage = Usage {
            input_tokens,
            cached_input_tokens: overrides.cached_input_tokens.unwrap_or(0).min(input_tokens),
            output_tokens,
            reasoning_tokens: tokens_for_bytes(reasoning_bytes).min(output_tokens),
        };
        Reply {
            number,
            reasoning: turn.reasoning.clone(),
            redacted_reasoning: turn.redacted_reasoning.clone(),
            text: turn.text.clone(),
            tool_calls,
            error: turn.error.clone(),
            truncated: turn.truncated,
            usage,
            hosted_tool: turn.hosted_tool.clone(),
            citations: turn.citations.clone(),
        }
    }

    /// `{prefix}_fake_{number}`, e.g. `resp_fake_000001`.
    pub(crate) fn id(&self, prefix: &str) -> String {
        format!("{prefix}_fake_{:06}", self.number)
    }

    /// `{prefix}_fake_{number}_{index}`, e.g. `fc_fake_000001_2`.
    pub(crate) fn item_id(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}_fake_{:06}_{index}", self.number)
    }

    /// The `x-request-id` / `request-id` value.
    pub(crate) fn request_id(&self) -> String {
        request_id(self.number)
    }
}

/// The `x-request-id` / `request-id` value for request `number`: `req_fake_000001`.
pub(crate) fn request_id(number: u64) -> String {
    format!("req_fake_{number:06}")
}

/// An HTTP answer before it is sent.
#[derive(Clone, Debug)]
pub(crate) struct Rendered {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: RenderedBody,
}

#[derive(Clone, Debug)]
pub(crate) enum RenderedBody {
    Json(Value),
    /// Complete SSE frames (`event: …\ndata: …\n\n`), sent one by one.
    Sse(Vec<String>),
}

impl Rendered {
    pub(crate) fn json(status: u16, body: Value) -> Self {
        Rendered {
            status,
            headers: Vec::new(),
            body: RenderedBody::Json(body),
        }
    }

    pub(crate) fn sse(frames: Vec<String>) -> Self {
        Rendered {
            status: 200,
            headers: Vec::new(),
            body: RenderedBody::Sse(frames),
        }
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: String) -> Self {
        self.headers.push((name, value));
        self
    }
}

/// A named SSE event (Responses, Anthropic).
pub(crate) fn sse_event(name: &str, data: &Value) -> String {
    format!("event: {name}\ndata: {data}\n\n")
}

/// An unnamed SSE event (Chat Completions).
pub(crate) fn sse_data(data: &str) -> String {
    format!("data: {data}\n\n")
}

/// Splits `text` into stream deltas: a break after each whitespace run and wherever a
/// piece would exceed `piece_bytes_max`, always on char boundaries. Empty text gives no
/// pieces.
pub(crate) fn fragments(text: &str, piece_bytes_max: usize) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut after_whitespace = false;
    for (index, c) in text.char_indices() {
        let too_long = index - start + c.len_utf8() > piece_bytes_max;
        let word_starts = after_whitespace && !c.is_whitespace();
        if index > start && (too_long || word_starts) {
            pieces.push(&text[start..index]);
            start = index;
        }
        after_whitespace = c.is_whitespace();
    }
    if start < text.len() {
        pieces.push(&text[start..]);
    }
    pieces
}

/// A deterministic opaque token for `text`: standard base64 of
/// SHA-256(`purpose` NUL `text`). Used for encrypted reasoning, thinking signatures and
/// redacted thinking data.
pub(crate) fn opaque(purpose: &str, text: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(purpose.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    base64(&hasher.finalize())
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for position in 0..4 {
            if position <= chunk.len() {
                let sextet = (n >> (18 - 6 * position)) & 0x3f;
                out.push(char::from(ALPHABET[sextet as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_break_after_whitespace_and_at_the_byte_cap() {
        assert_eq!(
            fragments("Hello big world", 24),
            ["Hello ", "big ", "world"]
        );
        assert_eq!(fragments("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(fragments("ééé", 4), ["éé", "é"]);
        assert!(fragments("", 4).is_empty());
        assert_eq!(fragments("a  b", 24).concat(), "a  b");
    }

    #[test]
    fn base64_matches_the_rfc_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn opaque_is_stable_and_depends_on_purpose() {
        assert_eq!(opaque("a", "x"), opaque("a", "x"));
        assert_ne!(opaque("a", "x"), opaque("b", "x"));
        assert_eq!(opaque("a", "x").len(), 44);
    }
}
