//! Error classification: an error response (or in-stream error event) in, an [`LlmError`] out.
//!
//! Rules, first match wins. `code` is OpenAI's `error.code`, `type` is Anthropic's
//! `error.type` (or OpenAI's `error.type`); "status absent" means an in-stream error event.
//!
//! | status | body | kind |
//! |---|---|---|
//! | 529, or any | `type`/`code` = `overloaded_error` | `Overloaded` |
//! | 400, 413, 422, absent | `code` = `context_length_exceeded`, `type` = `exceed_context_size_error` (llama.cpp), or message mentions "maximum context length", "prompt is too long", "context window", "context size" | `ContextLengthExceeded` |
//! | 400, 413, 422, absent | `code` or `type` = `content_filter` / `content_policy_violation` | `ContentFilter` |
//! | 400, 413, 422 | anything else | `InvalidRequest` |
//! | 401 | | `Auth` |
//! | 403 | | `Permission` |
//! | 404 | | `NotFound` |
//! | 408 | | `Timeout` |
//! | 409 | | `Server` (a retryable conflict) |
//! | 429 | `code`/`type` = `insufficient_quota` (OpenAI billing) | `QuotaExhausted` |
//! | 400, 402, 403 | message mentions "credit balance is too low" (Anthropic billing) | `QuotaExhausted` |
//! | 429 | anything else | `RateLimited` |
//! | 500, 502, 503 | | `Server` |
//! | 504 | | `Timeout` |
//! | other 4xx | | `InvalidRequest` |
//! | other 5xx, any other status | | `Server` |
//! | absent | `authentication_error`, `invalid_api_key` | `Auth` |
//! | absent | `permission_error` | `Permission` |
//! | absent | `not_found_error`, `model_not_found` | `NotFound` |
//! | absent | `insufficient_quota` | `QuotaExhausted` |
//! | absent | `rate_limit_error`, `rate_limit_exceeded` | `RateLimited` |
//! | absent | `timeout_error` | `Timeout` |
//! | absent | `invalid_request_error`, `request_too_large`, `invalid_prompt` | `InvalidRequest` |
//! | absent | `api_error`, `server_error`, anything else | `Server` |
//!
//! Body shapes read: `{"error":{"code","type","message"}}` (OpenAI, vLLM, llama.cpp,
//! Ollama's OpenAI API), `{"type":"error","error":{"type","message"},"request_id"}`
//! (Anthropic), flat `{"type":"error","code","message","param"}` (OpenAI Responses stream)
//! and `{"object":"error","type","message","code":400}` (older vLLM), `{"error":"text"}`
//! (Ollama). Numeric codes are ignored (they repeat the status). A body that is not JSON,
//! or JSON without a message, becomes the message itself, truncated to ≤ 2 KiB.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde_json::{Map, Value};

use crate::error::{ErrorKind, LlmError};

/// Messages and echoed bodies are cut to this many bytes (at a char boundary).
const MESSAGE_BYTES_MAX: usize = 2048;

/// Lower-case phrases that providers use for an over-long prompt.
const CONTEXT_LENGTH_PHRASES: [&str; 5] = [
    "maximum context length",
    "prompt is too long",
    "context_length_exceeded",
    "context window",
    "context size",
];

/// Classifies an error response from its status (absent for an in-stream error event),
/// headers and body. Pure apart from reading the clock for an HTTP-date `Retry-After`.
pub fn classify_error(status: Option<u16>, headers: Option<&HeaderMap>, body: &[u8]) -> LlmError {
    let fields = ErrorFields::parse(body);
    let kind = classify_kind(status, &fields);
    let message = match fields.message.as_deref() {
        Some(message) if !message.trim().is_empty() => truncate(message.trim()),
        _ => body_as_message(status, body),
    };
    // Error messages travel far (session log, clients, logs). A refused key's
    // message quotes a fragment of the key, so it is replaced whole; any other
    // message has key-like words masked.
    let message = match kind {
        ErrorKind::Auth => "the provider refused the API key".to_owned(),
        _ => scrub_secrets(&message),
    };
    let header_request_id = headers.and_then(request_id_header);
    LlmError {
        kind,
        status,
        message,
        retry_after: headers.and_then(|h| parse_retry_after(h, SystemTime::now())),
        provider_code: fields.code.or(fields.error_type),
        request_id: header_request_id.or(fields.request_id),
    }
}

/// `message` with words that look like credentials (`sk-…` keys, bearer tokens,
/// long opaque tokens mixing letters and digits) replaced by `[redacted]`.
pub fn scrub_secrets(message: &str) -> String {
    let mut scrubbed = String::with_capacity(message.len());
    let mut after_bearer = false;
    for (index, word) in message.split(' ').enumerate() {
        if index > 0 {
            scrubbed.push(' ');
        }
        if after_bearer || looks_like_secret(word) {
            scrubbed.push_str("[redacted]");
        } else {
            scrubbed.push_str(word);
        }
        after_bearer = word.eq_ignore_ascii_case("bearer");
    }
    scrubbed
}

fn looks_like_secret(word: &str) -> bool {
    let core = word.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '*');
    let token_chars = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '*' | '.');
    if !core.chars().all(token_chars) {
        return false;
    }
    let lower = core.to_ascii_lowercase();
    let prefixed = ["sk-", "sk_", "rk-", "pk-", "key-", "lsk_", "ghp_", "xox"]
        .iter()
        .any(|prefix| lower.starts_with(prefix) && core.len() > prefix.len() + 4);
    let digits = core.chars().filter(char::is_ascii_digit).count();
    let letters = core.chars().filter(char::is_ascii_alphabetic).count();
    let opaque = core.len() >= 32 && digits >= 4 && letters >= 4 && !core.contains('.');
    prefixed || opaque || core.contains("****")
}

/// Parses OpenAI's `retry-after-ms` (preferred: more precise) or `Retry-After`, which is
/// delta-seconds (fractions allowed) or an HTTP-date taken relative to `now` (a date in the
/// past gives zero). Negative, non-finite or unparsable values give `None`.
pub fn parse_retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let ms = header_str("retry-after-ms").and_then(|v| v.parse::<f64>().ok());
    if let Some(delay) = ms.and_then(|ms| Duration::try_from_secs_f64(ms / 1000.0).ok()) {
        return Some(delay);
    }
    let value = header_str("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(seconds).ok();
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The provider's request id: OpenAI sends `x-request-id`, Anthropic `request-id`.
pub(crate) fn request_id_header(headers: &HeaderMap) -> Option<String> {
    ["x-request-id", "request-id"]
        .into_iter()
        .find_map(|name| headers.get(name)?.to_str().ok())
        .map(str::to_owned)
}

fn classify_kind(status: Option<u16>, fields: &ErrorFields) -> ErrorKind {
    if status == Some(529) || fields.names().any(|name| name == "overloaded_error") {
        return ErrorKind::Overloaded;
    }
    if quota_exhausted(status, fields) {
        return ErrorKind::QuotaExhausted;
    }
    match status {
        Some(400 | 413 | 422) => request_kind(fields).unwrap_or(ErrorKind::InvalidRequest),
        Some(401) => ErrorKind::Auth,
        Some(403) => ErrorKind::Permission,
        Some(404) => ErrorKind::NotFound,
        Some(408 | 504) => ErrorKind::Timeout,
        Some(409 | 500 | 502 | 503) => ErrorKind::Server,
        Some(429) => ErrorKind::RateLimited,
        Some(400..=499) => ErrorKind::InvalidRequest,
        Some(_) => ErrorKind::Server,
        None => request_kind(fields)
            .or_else(|| fields.names().find_map(stream_kind_by_name))
            .unwrap_or(ErrorKind::Server),
    }
}

/// Out of credit: OpenAI says so by name (on a 429, or in a stream), Anthropic in the
/// message of a 400 (or 402/403 from compatible gateways).
fn quota_exhausted(status: Option<u16>, fields: &ErrorFields) -> bool {
    let named = fields.names().any(|name| name == "insufficient_quota");
    let billing_message = fields
        .message
        .as_deref()
        .is_some_and(|message| message.to_lowercase().contains("credit balance is too low"));
    match status {
        Some(429) | None => named,
        Some(400 | 402 | 403) => named || billing_message,
        _ => false,
    }
}

/// The refinements of a rejected request that a caller handles differently.
fn request_kind(fields: &ErrorFields) -> Option<ErrorKind> {
    let message = fields.message.as_deref().unwrap_or("").to_lowercase();
    let context_length = fields.names().any(|name| {
        matches!(
            name,
            "context_length_exceeded" | "exceed_context_size_error"
        )
    }) || CONTEXT_LENGTH_PHRASES
        .iter()
        .any(|phrase| message.contains(phrase));
    if context_length {
        return Some(ErrorKind::ContextLengthExceeded);
    }
    let content_filter = fields
        .names()
        .any(|name| matches!(name, "content_filter" | "content_policy_violation"));
    content_filter.then_some(ErrorKind::ContentFilter)
}

/// In-stream errors carry no status; their `type`/`code` names the class.
fn stream_kind_by_name(name: &str) -> Option<ErrorKind> {
    let kind = match name {
        "authentication_error" | "invalid_api_key" => ErrorKind::Auth,
        "permission_error" => ErrorKind::Permission,
        "not_found_error" | "model_not_found" => ErrorKind::NotFound,
        "rate_limit_error" | "rate_limit_exceeded" => ErrorKind::RateLimited,
        "timeout_error" => ErrorKind::Timeout,
        "invalid_request_error" | "request_too_large" | "invalid_prompt" => {
            ErrorKind::InvalidRequest
        }
        "api_error" | "server_error" => ErrorKind::Server,
        _ => return None,
    };
    Some(kind)
}

/// The parts of an error body the classification reads.
#[derive(Debug, Default)]
struct ErrorFields {
    code: Option<String>,
    error_type: Option<String>,
    message: Option<String>,
    request_id: Option<String>,
}

impl ErrorFields {
    fn parse(body: &[u8]) -> ErrorFields {
        let Ok(Value::Object(top)) = serde_json::from_slice::<Value>(body) else {
            return ErrorFields::default();
        };
        let request_id = string_field(&top, "request_id");
        let mut fields = match top.get("error") {
            Some(Value::Object(inner)) => ErrorFields::from_object(inner),
            Some(Value::String(message)) => ErrorFields {
                message: Some(message.clone()),
                ..ErrorFields::default()
            },
            _ => ErrorFields::from_object(&top),
        };
        fields.request_id = request_id;
        fields
    }

    fn from_object(object: &Map<String, Value>) -> ErrorFields {
        ErrorFields {
            // Numeric codes (vLLM, llama.cpp) only repeat the HTTP status.
            code: string_field(object, "code"),
            // The flat Responses stream error is `{"type":"error",...}`: not a class name.
            error_type: string_field(object, "type").filter(|t| t != "error"),
            message: string_field(object, "message"),
            request_id: None,
        }
    }

    /// `code` then `type`: the names the rules match on.
    fn names(&self) -> impl Iterator<Item = &str> {
        self.code
            .iter()
            .chain(self.error_type.iter())
            .map(String::as_str)
    }
}

fn string_field(object: &Map<String, Value>, name: &str) -> Option<String> {
    object.get(name)?.as_str().map(str::to_owned)
}

fn body_as_message(status: Option<u16>, body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if !text.is_empty() {
        return truncate(text);
    }
    match status {
        Some(status) => format!("HTTP {status} with an empty body"),
        None => "error event without details".to_owned(),
    }
}

fn truncate(text: &str) -> String {
    if text.len() <= MESSAGE_BYTES_MAX {
        return text.to_owned();
    }
    let ellipsis = "…";
    let end = text.floor_char_boundary(MESSAGE_BYTES_MAX - ellipsis.len());
    format!("{}{ellipsis}", &text[..end])
}
