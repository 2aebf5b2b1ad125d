//! Error responses in each API's shape: statuses, bodies, `retry-after` and request-id
//! headers, for scripted errors and for the fake provider's own failures (bad JSON,
//! unknown route, exhausted replay).

use serde_json::{Value, json};

use super::reply::{Rendered, Reply};
use super::request::{Api, RequestInfo};
use super::script::{ErrorKind, ScriptError};

/// Anthropic's context window, used in its "prompt is too long" message.
const ANTHROPIC_CONTEXT_TOKENS_MAX: u64 = 200_000;
/// OpenAI's context window, used in Chat's `context_length_exceeded` message.
const OPENAI_CONTEXT_TOKENS_MAX: u64 = 128_000;

/// The HTTP response for a scripted error: status, body and headers.
pub(crate) fn render_scripted(error: &ScriptError, reply: &Reply, info: &RequestInfo) -> Rendered {
    let status = status(error, info.api);
    let (body, header) = match info.api {
        Api::Responses | Api::Chat => (
            json!({ "error": openai_error(error, info) }),
            "x-request-id",
        ),
        Api::Anthropic => (
            json!({
                "type": "error",
                "error": anthropic_error(error, info),
                "request_id": reply.request_id(),
            }),
            "request-id",
        ),
    };
    let mut rendered = Rendered::json(status, body).with_header(header, reply.request_id());
    if let Some(retry_after_s) = error.retry_after_s {
        rendered = rendered.with_header("retry-after", retry_after_s.to_string());
    }
    rendered
}

/// The scripted status, or the API's usual status for the error kind.
pub(crate) fn status(error: &ScriptError, api: Api) -> u16 {
    error.status.unwrap_or(match error.kind() {
        ErrorKind::RateLimit => 429,
        ErrorKind::InsufficientQuota if api == Api::Anthropic => 400,
        ErrorKind::InsufficientQuota => 429,
        ErrorKind::ContextLengthExceeded | ErrorKind::InvalidRequest => 400,
        ErrorKind::Overloaded if api == Api::Anthropic => 529,
        ErrorKind::Overloaded => 503,
        ErrorKind::ServerError => 500,
        ErrorKind::Authentication => 401,
    })
}

/// OpenAI's inner error object: `{message, type, param, code}`.
pub(crate) fn openai_error(error: &ScriptError, info: &RequestInfo) -> Value {
    let (kind, code, param, message): (&str, Option<&str>, Option<&str>, String) = match error
        .kind()
    {
        ErrorKind::RateLimit => (
            "requests",
            Some("rate_limit_exceeded"),
            None,
            format!(
                "Rate limit reached for {} (fake-provider) on requests per min (RPM). \
                     Please try again in {}s.",
                info.model,
                error.retry_after_s.unwrap_or(1)
            ),
        ),
        ErrorKind::ContextLengthExceeded if info.api == Api::Responses => (
            "invalid_request_error",
            Some("context_length_exceeded"),
            Some("input"),
            "Your input exceeds the context window of this model. Please adjust your \
                 input and try again."
                .to_owned(),
        ),
        ErrorKind::ContextLengthExceeded => (
            "invalid_request_error",
            Some("context_length_exceeded"),
            Some("messages"),
            format!(
                "This model's maximum context length is {OPENAI_CONTEXT_TOKENS_MAX} \
                     tokens. However, your messages resulted in {} tokens. Please reduce \
                     the length of the messages.",
                OPENAI_CONTEXT_TOKENS_MAX + info.input_tokens
            ),
        ),
        ErrorKind::Overloaded => (
            "server_error",
            None,
            None,
            "The server is overloaded or not ready yet.".to_owned(),
        ),
        ErrorKind::ServerError => (
            "server_error",
            None,
            None,
            "The server had an error while processing your request. Sorry about that!".to_owned(),
        ),
        ErrorKind::Authentication => (
            "invalid_request_error",
            Some("invalid_api_key"),
            None,
            "Incorrect API key provided. You can find your API key at \
                 https://platform.openai.com/account/api-keys."
                .to_owned(),
        ),
        ErrorKind::InvalidRequest => (
            "invalid_request_error",
            None,
            None,
            "Invalid request (scripted by fake-provider).".to_owned(),
        ),
        ErrorKind::InsufficientQuota => (
            "insufficient_quota",
            Some("insufficient_quota"),
            None,
            "You exceeded your current quota, please check your plan and billing details."
                .to_owned(),
        ),
    };
    json!({
        "message": error.message.clone().unwrap_or(message),
        "type": kind,
        "param": param,
        "code": code,
    })
}

/// Anthropic's inner error object: `{type, message}`.
pub(crate) fn anthropic_error(error: &ScriptError, info: &RequestInfo) -> Value {
    let (kind, message) = match error.kind() {
        ErrorKind::RateLimit => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit (fake-provider)."
                .to_owned(),
        ),
        ErrorKind::ContextLengthExceeded => (
            "invalid_request_error",
            format!(
                "prompt is too long: {} tokens > {ANTHROPIC_CONTEXT_TOKENS_MAX} maximum",
                ANTHROPIC_CONTEXT_TOKENS_MAX + info.input_tokens
            ),
        ),
        ErrorKind::Overloaded => ("overloaded_error", "Overloaded".to_owned()),
        ErrorKind::ServerError => ("api_error", "Internal server error".to_owned()),
        ErrorKind::Authentication => ("authentication_error", "invalid x-api-key".to_owned()),
        ErrorKind::InvalidRequest => (
            "invalid_request_error",
            "Invalid request (scripted by fake-provider).".to_owned(),
        ),
        ErrorKind::InsufficientQuota => (
            "invalid_request_error",
            "Your credit balance is too low to access the Anthropic API. Please go to Plans \
             & Billing to upgrade or purchase credits."
                .to_owned(),
        ),
    };
    json!({ "type": kind, "message": error.message.clone().unwrap_or(message) })
}

/// A fake-provider failure (not scripted) in the shape of `api`, or OpenAI's when the
/// API is unknown.
pub(crate) fn render_own(
    api: Option<Api>,
    status: u16,
    kind: &str,
    code: Option<&str>,
    message: &str,
    request_id: String,
) -> Rendered {
    match api {
        Some(Api::Anthropic) => Rendered::json(
            status,
            json!({
                "type": "error",
                "error": { "type": kind, "message": message },
                "request_id": request_id,
            }),
        )
        .with_header("request-id", request_id),
        Some(Api::Responses | Api::Chat) | None => Rendered::json(
            status,
            json!({ "error": { "message": message, "type": kind, "param": null, "code": code } }),
        )
        .with_header("x-request-id", request_id),
    }
}
