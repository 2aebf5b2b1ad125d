//! ApiKind names, ErrorKind names, key redaction, config defaults and validation.

use std::time::Duration;

use llm_clients::{ApiKey, ApiKind, ErrorKind, LlmError, ProviderClient, ProviderConfig};

#[test]
fn api_kind_names_round_trip() {
    for (kind, name) in [
        (ApiKind::OpenAiResponses, "openai:responses"),
        (ApiKind::OpenAiCompletions, "openai:completions"),
        (ApiKind::AnthropicMessages, "anthropic:messages"),
    ] {
        assert_eq!(kind.as_str(), name);
        assert_eq!(kind.to_string(), name);
        assert_eq!(name.parse::<ApiKind>().unwrap(), kind);
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{name}\""));
        assert_eq!(serde_json::from_str::<ApiKind>(&json).unwrap(), kind);
    }
    let err = "openai:chat".parse::<ApiKind>().unwrap_err();
    assert_eq!(err.0, "openai:chat");
    assert!(err.to_string().contains("openai:chat"));
    assert!(serde_json::from_str::<ApiKind>("\"OpenAiResponses\"").is_err());
}

#[test]
fn error_kind_names_match_serde() {
    let all = [
        ErrorKind::Auth,
        ErrorKind::Permission,
        ErrorKind::NotFound,
        ErrorKind::RateLimited,
        ErrorKind::Overloaded,
        ErrorKind::ContextLengthExceeded,
        ErrorKind::ContentFilter,
        ErrorKind::InvalidRequest,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Transport,
        ErrorKind::Decode,
    ];
    let retryable: Vec<_> = all.into_iter().filter(|kind| kind.is_retryable()).collect();
    assert_eq!(
        retryable,
        [
            ErrorKind::RateLimited,
            ErrorKind::Overloaded,
            ErrorKind::Server,
            ErrorKind::Timeout,
            ErrorKind::Transport
        ]
    );
    for kind in all {
        let json = serde_json::to_string(&kind).unwrap();
        assert_eq!(json, format!("\"{}\"", kind.as_str()));
        assert_eq!(serde_json::from_str::<ErrorKind>(&json).unwrap(), kind);
        assert_eq!(kind.to_string(), kind.as_str());
    }
    assert_eq!(
        ErrorKind::ContextLengthExceeded.as_str(),
        "context_length_exceeded"
    );
}

#[test]
fn llm_error_display_and_retryable() {
    let error = LlmError::new(ErrorKind::Transport, "connection refused");
    assert_eq!(error.to_string(), "transport: connection refused");
    assert!(error.is_retryable());
    assert!(!LlmError::new(ErrorKind::Auth, "no").is_retryable());
}

#[test]
fn api_key_is_redacted() {
    let key = ApiKey::new("sk-proj-abcdefghijklmnopqrstuvwxyz");
    assert_eq!(key.to_string(), "sk-…wxyz");
    assert_eq!(format!("{key:?}"), "ApiKey(sk-…wxyz)");
    assert_eq!(key.expose(), "sk-proj-abcdefghijklmnopqrstuvwxyz");
    let short = ApiKey::new("secret123");
    assert_eq!(short.to_string(), "…");
    assert!(!format!("{short:?}").contains("secret"));
}

#[test]
fn config_defaults_per_kind() {
    let openai = ProviderConfig::new("openai", ApiKind::OpenAiResponses);
    assert_eq!(openai.provider_id, "openai");
    assert_eq!(openai.base_url, "https://api.openai.com/v1");
    assert!(openai.api_keys.is_empty());
    assert!(openai.extra_headers.is_empty());
    assert_eq!(openai.request_timeout, Duration::from_secs(600));
    assert_eq!(openai.connect_timeout, Duration::from_secs(10));
    assert_eq!(openai.stream_idle_timeout, Duration::from_secs(120));
    assert_eq!(openai.key_cooldown_default, Duration::from_secs(60));
    assert_eq!(openai.anthropic_version, "2023-06-01");
    let chat = ProviderConfig::new("vllm", ApiKind::OpenAiCompletions);
    assert_eq!(chat.base_url, "https://api.openai.com/v1");
    let anthropic = ProviderConfig::new("anthropic", ApiKind::AnthropicMessages);
    assert_eq!(anthropic.base_url, "https://api.anthropic.com");
}

#[test]
fn no_key_in_debug_output() {
    let secret = "sk-ant-api03-very-secret-key-material-0123";
    let mut config = ProviderConfig::new("anthropic", ApiKind::AnthropicMessages);
    config.api_keys = vec![ApiKey::new(secret)];
    config.extra_headers = vec![("x-proxy-token".to_owned(), "proxy-very-secret".to_owned())];
    let client = ProviderClient::new(config.clone()).unwrap();
    for shown in [
        format!("{config:?}"),
        format!("{client:?}"),
        format!("{:?}", client.config()),
    ] {
        assert!(!shown.contains(secret), "{shown}");
        assert!(!shown.contains("very-secret"), "{shown}");
    }
    assert!(format!("{client:?}").contains("key_count: 1"));
    assert_eq!(client.key_count(), 1);
}

fn invalid(config: ProviderConfig) -> LlmError {
    let error = ProviderClient::new(config).unwrap_err();
    assert_eq!(error.kind, ErrorKind::InvalidRequest, "{error}");
    error
}

#[test]
fn invalid_config_is_invalid_request() {
    for base_url in [
        "not a url",
        "ftp://example.com",
        "http://",
        "https://x.test/v1?a=b",
        "",
    ] {
        let mut config = ProviderConfig::new("p", ApiKind::OpenAiResponses);
        config.base_url = base_url.to_owned();
        let error = invalid(config);
        assert!(error.message.contains("base_url"), "{error}");
    }

    let mut config = ProviderConfig::new("p", ApiKind::OpenAiCompletions);
    config.extra_headers = vec![("bad header".to_owned(), "v".to_owned())];
    assert!(invalid(config).message.contains("bad header"));

    let mut config = ProviderConfig::new("p", ApiKind::OpenAiCompletions);
    config.extra_headers = vec![("x-proxy-token".to_owned(), "tok\nen-secret".to_owned())];
    let error = invalid(config);
    assert!(error.message.contains("x-proxy-token"));
    assert!(!error.message.contains("secret"));

    let mut config = ProviderConfig::new("p", ApiKind::AnthropicMessages);
    config.api_keys = vec![ApiKey::new("good-key"), ApiKey::new("sk-bad\nkey-secret")];
    let error = invalid(config);
    assert!(error.message.contains("#1"), "{error}");
    assert!(!error.message.contains("secret"), "{error}");

    let mut config = ProviderConfig::new("p", ApiKind::AnthropicMessages);
    config.anthropic_version = "2023\n".to_owned();
    assert!(invalid(config).message.contains("anthropic_version"));
}

#[tokio::test]
async fn count_tokens_is_anthropic_only() {
    for kind in [ApiKind::OpenAiResponses, ApiKind::OpenAiCompletions] {
        let mut config = ProviderConfig::new("p", kind);
        // Unroutable: the call must fail before any I/O.
        config.base_url = "http://192.0.2.1/v1".to_owned();
        let client = ProviderClient::new(config).unwrap();
        let error = client.count_tokens("{}".into()).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidRequest);
        assert_eq!(
            error.message,
            "count_tokens is an anthropic:messages endpoint"
        );
    }
}

#[test]
fn client_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<ProviderClient>();
    assert_traits::<LlmError>();
    fn assert_send<T: Send>() {}
    assert_send::<llm_clients::EventStream>();
}
