//! The classification table: statuses x body shapes -> kind and provider code.

use std::time::Duration;

use llm_clients::{ErrorKind, classify_error};
use reqwest::header::HeaderMap;

const OPENAI_CONTEXT: &str = r#"{"error":{"message":"This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#;
const OPENAI_CONTEXT_MESSAGE_ONLY: &str = r#"{"error":{"message":"This model's maximum context length is 4096 tokens. However, you requested 5000 tokens","type":"BadRequestError","param":null,"code":400}}"#;
const RESPONSES_CONTEXT: &str = r#"{"error":{"message":"Your input exceeds the context window of this model. Please adjust your input and try again.","type":"invalid_request_error","param":"input","code":"context_length_exceeded"}}"#;
const ANTHROPIC_TOO_LONG: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"},"request_id":"req_011"}"#;
const LLAMA_CPP_CONTEXT: &str = r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error","n_prompt_tokens":5000,"n_ctx":4096}}"#;
const OPENAI_CONTENT_FILTER: &str = r#"{"error":{"message":"The response was filtered due to the prompt triggering content management policy.","type":null,"param":"prompt","code":"content_filter"}}"#;
const OPENAI_POLICY_TYPE: &str = r#"{"error":{"message":"Your request was rejected as a result of our safety system.","type":"content_policy_violation","param":null,"code":null}}"#;
const OPENAI_BAD_PARAM: &str = r#"{"error":{"message":"Unsupported parameter: 'temperature'.","type":"invalid_request_error","param":"temperature","code":"unsupported_parameter"}}"#;
const OPENAI_BAD_KEY: &str = r#"{"error":{"message":"Incorrect API key provided: sk-abc***wxyz.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}"#;
const OPENAI_RATE: &str = r#"{"error":{"message":"Rate limit reached for gpt-4o in organization org-x on tokens per min (TPM).","type":"tokens","param":null,"code":"rate_limit_exceeded"}}"#;
const OPENAI_QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}"#;
const OPENAI_SERVER: &str = r#"{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}"#;
const ANTHROPIC_AUTH: &str =
    r#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}"#;
const ANTHROPIC_PERMISSION: &str =
    r#"{"type":"error","error":{"type":"permission_error","message":"no access"}}"#;
const ANTHROPIC_NOT_FOUND: &str =
    r#"{"type":"error","error":{"type":"not_found_error","message":"model: claude-9"}}"#;
const ANTHROPIC_TOO_LARGE: &str = r#"{"type":"error","error":{"type":"request_too_large","message":"Request exceeds the maximum allowed number of bytes."}}"#;
const ANTHROPIC_RATE: &str = r#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#;
const ANTHROPIC_API: &str =
    r#"{"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#;
const ANTHROPIC_OVERLOADED: &str =
    r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
const ANTHROPIC_CREDIT: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits."},"request_id":"req_012"}"#;
const ANTHROPIC_BAD_REQUEST: &str = r#"{"type":"error","error":{"type":"invalid_request_error","message":"messages: at least one message is required"}}"#;
const VLLM_OLD: &str = r#"{"object":"error","message":"The model `foo` does not exist.","type":"NotFoundError","param":null,"code":404}"#;
const OLLAMA_NATIVE: &str = r#"{"error":"model \"llama9\" not found, try pulling it first"}"#;
const RESPONSES_STREAM_FLAT: &str = r#"{"type":"error","code":"rate_limit_exceeded","message":"Slow down","param":null,"sequence_number":3}"#;
const RESPONSES_STREAM_NESTED: &str = r#"{"type":"error","error":{"type":"server_error","code":"server_error","message":"boom","param":null}}"#;
const RESPONSES_STREAM_UNKNOWN: &str = r#"{"type":"error","code":"something_new","message":"?"}"#;
const CHAT_STREAM_ERROR: &str =
    r#"{"error":{"message":"upstream timed out","type":"timeout_error","code":null}}"#;
const HTML: &str = "<html><body><h1>502 Bad Gateway</h1></body></html>";

struct Case {
    status: Option<u16>,
    body: &'static str,
    kind: ErrorKind,
    provider_code: Option<&'static str>,
    message_contains: &'static str,
}

const fn case(
    status: Option<u16>,
    body: &'static str,
    kind: ErrorKind,
    provider_code: Option<&'static str>,
    message_contains: &'static str,
) -> Case {
    Case {
        status,
        body,
        kind,
        provider_code,
        message_contains,
    }
}

#[rustfmt::skip]
const CASES: &[Case] = &[
    // 400 refinements.
    case(Some(400), OPENAI_CONTEXT, ErrorKind::ContextLengthExceeded, Some("context_length_exceeded"), "maximum context length"),
    case(Some(400), OPENAI_CONTEXT_MESSAGE_ONLY, ErrorKind::ContextLengthExceeded, Some("BadRequestError"), "4096"),
    case(Some(400), RESPONSES_CONTEXT, ErrorKind::ContextLengthExceeded, Some("context_length_exceeded"), "context window"),
    case(Some(400), ANTHROPIC_TOO_LONG, ErrorKind::ContextLengthExceeded, Some("invalid_request_error"), "prompt is too long"),
    case(Some(400), LLAMA_CPP_CONTEXT, ErrorKind::ContextLengthExceeded, Some("exceed_context_size_error"), "context size"),
    case(Some(400), OPENAI_CONTENT_FILTER, ErrorKind::ContentFilter, Some("content_filter"), "filtered"),
    case(Some(400), OPENAI_POLICY_TYPE, ErrorKind::ContentFilter, Some("content_policy_violation"), "safety"),
    case(Some(400), OPENAI_BAD_PARAM, ErrorKind::InvalidRequest, Some("unsupported_parameter"), "temperature"),
    case(Some(400), ANTHROPIC_BAD_REQUEST, ErrorKind::InvalidRequest, Some("invalid_request_error"), "at least one"),
    case(Some(413), ANTHROPIC_TOO_LARGE, ErrorKind::InvalidRequest, Some("request_too_large"), "maximum allowed"),
    case(Some(422), "", ErrorKind::InvalidRequest, None, "HTTP 422"),
    // Status-only rules.
    case(Some(401), OPENAI_BAD_KEY, ErrorKind::Auth, Some("invalid_api_key"), "refused the API key"),
    case(Some(401), ANTHROPIC_AUTH, ErrorKind::Auth, Some("authentication_error"), "refused the API key"),
    case(Some(403), ANTHROPIC_PERMISSION, ErrorKind::Permission, Some("permission_error"), "no access"),
    case(Some(404), ANTHROPIC_NOT_FOUND, ErrorKind::NotFound, Some("not_found_error"), "claude-9"),
    case(Some(404), VLLM_OLD, ErrorKind::NotFound, Some("NotFoundError"), "does not exist"),
    case(Some(404), OLLAMA_NATIVE, ErrorKind::NotFound, None, "try pulling"),
    case(Some(408), "", ErrorKind::Timeout, None, "HTTP 408"),
    case(Some(409), "conflict", ErrorKind::Server, None, "conflict"),
    case(Some(429), OPENAI_RATE, ErrorKind::RateLimited, Some("rate_limit_exceeded"), "Rate limit"),
    case(Some(429), OPENAI_QUOTA, ErrorKind::QuotaExhausted, Some("insufficient_quota"), "quota"),
    case(Some(400), ANTHROPIC_CREDIT, ErrorKind::QuotaExhausted, Some("invalid_request_error"), "credit"),
    case(Some(429), ANTHROPIC_RATE, ErrorKind::RateLimited, Some("rate_limit_error"), "rate limit"),
    case(Some(500), OPENAI_SERVER, ErrorKind::Server, Some("server_error"), "server had an error"),
    case(Some(500), ANTHROPIC_API, ErrorKind::Server, Some("api_error"), "Internal"),
    case(Some(502), HTML, ErrorKind::Server, None, "502 Bad Gateway"),
    case(Some(503), "", ErrorKind::Server, None, "HTTP 503"),
    case(Some(504), HTML, ErrorKind::Timeout, None, "<html>"),
    case(Some(529), ANTHROPIC_OVERLOADED, ErrorKind::Overloaded, Some("overloaded_error"), "Overloaded"),
    case(Some(529), "", ErrorKind::Overloaded, None, "HTTP 529"),
    case(Some(503), ANTHROPIC_OVERLOADED, ErrorKind::Overloaded, Some("overloaded_error"), "Overloaded"),
    case(Some(418), "teapot", ErrorKind::InvalidRequest, None, "teapot"),
    case(Some(402), "{\"error\":{\"message\":\"pay\"}}", ErrorKind::InvalidRequest, None, "pay"),
    case(Some(599), "", ErrorKind::Server, None, "HTTP 599"),
    case(Some(302), "", ErrorKind::Server, None, "HTTP 302"),
    // In-stream errors (no status).
    case(None, ANTHROPIC_OVERLOADED, ErrorKind::Overloaded, Some("overloaded_error"), "Overloaded"),
    case(None, ANTHROPIC_AUTH, ErrorKind::Auth, Some("authentication_error"), "refused the API key"),
    case(None, ANTHROPIC_PERMISSION, ErrorKind::Permission, Some("permission_error"), "no access"),
    case(None, ANTHROPIC_NOT_FOUND, ErrorKind::NotFound, Some("not_found_error"), "claude-9"),
    case(None, ANTHROPIC_RATE, ErrorKind::RateLimited, Some("rate_limit_error"), "rate limit"),
    case(None, ANTHROPIC_API, ErrorKind::Server, Some("api_error"), "Internal"),
    case(None, ANTHROPIC_TOO_LONG, ErrorKind::ContextLengthExceeded, Some("invalid_request_error"), "prompt is too long"),
    case(None, ANTHROPIC_BAD_REQUEST, ErrorKind::InvalidRequest, Some("invalid_request_error"), "at least one"),
    case(None, RESPONSES_STREAM_FLAT, ErrorKind::RateLimited, Some("rate_limit_exceeded"), "Slow down"),
    case(None, RESPONSES_STREAM_NESTED, ErrorKind::Server, Some("server_error"), "boom"),
    case(None, RESPONSES_STREAM_UNKNOWN, ErrorKind::Server, Some("something_new"), "?"),
    case(None, OPENAI_CONTEXT, ErrorKind::ContextLengthExceeded, Some("context_length_exceeded"), "maximum context length"),
    case(None, OPENAI_CONTENT_FILTER, ErrorKind::ContentFilter, Some("content_filter"), "filtered"),
    case(None, OPENAI_QUOTA, ErrorKind::QuotaExhausted, Some("insufficient_quota"), "quota"),
    case(None, CHAT_STREAM_ERROR, ErrorKind::Timeout, Some("timeout_error"), "timed out"),
    case(None, "not json at all", ErrorKind::Server, None, "not json at all"),
    case(None, "", ErrorKind::Server, None, "error event without details"),
];

#[test]
fn classification_table() {
    for (index, case) in CASES.iter().enumerate() {
        let error = classify_error(case.status, None, case.body.as_bytes());
        let at = format!("case #{index}: {:?} {}", case.status, case.body);
        assert_eq!(error.kind, case.kind, "{at}");
        assert_eq!(error.status, case.status, "{at}");
        assert_eq!(error.provider_code.as_deref(), case.provider_code, "{at}");
        assert!(
            error.message.contains(case.message_contains),
            "{at}: message {:?}",
            error.message
        );
        assert_eq!(error.retry_after, None, "{at}");
    }
}

#[test]
fn retryable_follows_kind() {
    let retryable: Vec<_> = CASES
        .iter()
        .map(|case| classify_error(case.status, None, case.body.as_bytes()))
        .filter(|error| error.is_retryable())
        .map(|error| error.kind)
        .collect();
    for kind in retryable {
        assert!(matches!(
            kind,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Transport
        ));
    }
}

#[test]
fn headers_give_retry_after_and_request_id() {
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "7".parse().unwrap());
    headers.insert("x-request-id", "req_openai".parse().unwrap());
    let error = classify_error(Some(429), Some(&headers), OPENAI_RATE.as_bytes());
    assert_eq!(error.retry_after, Some(Duration::from_secs(7)));
    assert_eq!(error.request_id.as_deref(), Some("req_openai"));

    let mut headers = HeaderMap::new();
    headers.insert("request-id", "req_anthropic".parse().unwrap());
    let error = classify_error(Some(400), Some(&headers), ANTHROPIC_TOO_LONG.as_bytes());
    assert_eq!(error.request_id.as_deref(), Some("req_anthropic"));
}

#[test]
fn anthropic_body_request_id_is_the_fallback() {
    let error = classify_error(Some(400), None, ANTHROPIC_TOO_LONG.as_bytes());
    assert_eq!(error.request_id.as_deref(), Some("req_011"));
}

#[test]
fn long_non_json_body_is_truncated_to_2_kib() {
    let body = "é".repeat(5000);
    let error = classify_error(Some(500), None, body.as_bytes());
    assert!(error.message.len() <= 2048, "{}", error.message.len());
    assert!(error.message.ends_with('…'));
    assert!(error.message.starts_with("éé"));

    let long_message = format!(r#"{{"error":{{"message":"{}"}}}}"#, "x".repeat(10_000));
    let error = classify_error(Some(400), None, long_message.as_bytes());
    assert!(error.message.len() <= 2048);
}

#[test]
fn invalid_utf8_body_is_kept_lossily() {
    let error = classify_error(Some(500), None, b"bad \xff bytes");
    assert_eq!(error.kind, ErrorKind::Server);
    assert!(error.message.contains("bad"));
}

#[test]
fn display_has_kind_message_and_status() {
    let error = classify_error(Some(429), None, OPENAI_RATE.as_bytes());
    let shown = error.to_string();
    assert!(
        shown.starts_with("rate_limited: Rate limit reached"),
        "{shown}"
    );
    assert!(shown.ends_with("(HTTP 429)"), "{shown}");
    let error = classify_error(None, None, ANTHROPIC_OVERLOADED.as_bytes());
    assert_eq!(error.to_string(), "overloaded: Overloaded");
}

/// A refused key's message quotes part of the key: it never leaves the classifier.
#[test]
fn auth_failures_and_key_like_words_are_scrubbed() {
    let body = br#"{"error":{"message":"Incorrect API key provided: sk-proj-abcd************************wxyz. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let err = classify_error(Some(401), None, body);
    assert_eq!(err.kind, ErrorKind::Auth);
    assert!(!err.message.contains("sk-"), "{err:?}");
    assert!(!err.message.contains("wxyz"), "{err:?}");
    let body = br#"{"error":{"message":"upstream said: Bearer abc.def.ghi and key sk-live-0123456789abcdef in the header","type":"server_error"}}"#;
    let err = classify_error(Some(500), None, body);
    assert!(!err.message.contains("abc.def.ghi"), "{err:?}");
    assert!(!err.message.contains("0123456789"), "{err:?}");
    assert!(err.message.contains("upstream said"), "{err:?}");
    assert_eq!(
        llm_clients::scrub_secrets("model gpt-5 is overloaded, try again"),
        "model gpt-5 is overloaded, try again"
    );
}
