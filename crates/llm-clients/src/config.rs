//! Deployment configuration of one provider: which API it speaks, where, with which keys.
//!
//! Endpoints, keys and headers are deployment config keyed by provider id; they never
//! enter the session log or CAS (the log outlives deployments and anyone who can read
//! the session can read it), which is why [`ApiKey`] has no `Serialize` and prints
//! redacted.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ApiKind {
    /// OpenAI Responses API (`POST {base}/responses`).
    #[serde(rename = "openai:responses")]
    OpenAiResponses,
    /// OpenAI Chat Completions API (`POST {base}/chat/completions`), also spoken by
    /// OpenAI-compatible servers (vLLM, Ollama, llama.cpp, ...).
    #[serde(rename = "openai:completions")]
    OpenAiCompletions,
    /// Anthropic Messages API (`POST {base}/v1/messages`, `/v1/messages/count_tokens`).
    #[serde(rename = "anthropic:messages")]
    AnthropicMessages,
}

impl ApiKind {
    /// Every kind, in declaration order.
    pub const ALL: [ApiKind; 3] = [
        ApiKind::OpenAiResponses,
        ApiKind::OpenAiCompletions,
        ApiKind::AnthropicMessages,
    ];

    /// The stable name: `openai:responses`, `openai:completions` or `anthropic:messages`.
    pub fn as_str(self) -> &'static str {
        match self {
            ApiKind::OpenAiResponses => "openai:responses",
            ApiKind::OpenAiCompletions => "openai:completions",
            ApiKind::AnthropicMessages => "anthropic:messages",
        }
    }

    /// The base URL used when none is configured. OpenAI kinds include the version path,
    /// Anthropic does not (its paths start with `/v1`).
    pub fn default_base_url(self) -> &'static str {
        match self {
            ApiKind::OpenAiResponses | ApiKind::OpenAiCompletions => "https://api.openai.com/v1",
            ApiKind::AnthropicMessages => "https://api.anthropic.com",
        }
    }

    /// True for the Anthropic kind (auth by `x-api-key`, `count_tokens` available).
    pub fn is_anthropic(self) -> bool {
        match self {
            ApiKind::AnthropicMessages => true,
            ApiKind::OpenAiResponses | ApiKind::OpenAiCompletions => false,
        }
    }
}

impl fmt::Display for ApiKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`ApiKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown api kind {0:?}: expected openai:responses, openai:completions or anthropic:messages"
)]
pub struct UnknownApiKind(pub String);

impl FromStr for ApiKind {
    type Err = UnknownApiKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ApiKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownApiKind(s.to_owned()))
    }
}

/// A provider API key. `Debug` and `Display` print a redacted form (`sk-…wxyz`); the full
/// key is only reachable through [`ApiKey::expose`], used when setting the auth header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Keys shorter than this print as `…` only: showing 7 of 12 characters is no redaction.
    const REDACT_SHOWN_LEN_MIN: usize = 16;

    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The full key. Only for building the auth header; never format or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The redacted form: first 3 and last 4 characters of a long key, `…` otherwise.
    pub fn redacted(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
        if chars.len() < Self::REDACT_SHOWN_LEN_MIN {
            return "…".to_owned();
        }
        let head: String = chars[..3].iter().collect();
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("{head}…{tail}")
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({})", self.redacted())
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Everything needed to talk to one provider. Build with [`ProviderConfig::new`] and
/// override fields as needed. `Debug` prints extra headers by name only: a value may
/// be a credential (a proxy token taken from the environment).
#[derive(Clone)]
pub struct ProviderConfig {
    /// The deployment's name for this provider (e.g. `openai`, `local-vllm`).
    pub provider_id: String,
    /// The protocol spoken.
    pub api_kind: ApiKind,
    /// OpenAI kinds: includes the version path (default `https://api.openai.com/v1`);
    /// Anthropic: without it (default `https://api.anthropic.com`). Trailing slash tolerated.
    pub base_url: String,
    /// Keys used round-robin. May be empty (local OpenAI-compatible servers): then no auth
    /// header is sent.
    pub api_keys: Vec<ApiKey>,
    /// Headers appended to every request (after the auth headers).
    pub extra_headers: Vec<(String, String)>,
    /// Whole non-streaming request; for streams, the time until response headers arrive.
    /// Default 600 s.
    pub request_timeout: Duration,
    /// TCP (and TLS) connect timeout. Default 10 s.
    pub connect_timeout: Duration,
    /// A stream that delivers no bytes for this long ends with a `Timeout` error item.
    /// Default 120 s.
    pub stream_idle_timeout: Duration,
    /// How long a key that hit a rate limit is avoided when the response gave no
    /// `retry-after`; quota errors bench the key for 10x this. Default 60 s.
    pub key_cooldown_default: Duration,
    /// The `anthropic-version` header (Anthropic only). Default `2023-06-01`.
    pub anthropic_version: String,
}

impl fmt::Debug for ProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self
            .extra_headers
            .iter()
            .map(|(name, _)| name.as_str())
            .collect();
        f.debug_struct("ProviderConfig")
            .field("provider_id", &self.provider_id)
            .field("api_kind", &self.api_kind)
            .field("base_url", &self.base_url)
            .field("api_keys", &self.api_keys)
            .field("extra_headers", &header_names)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("stream_idle_timeout", &self.stream_idle_timeout)
            .field("key_cooldown_default", &self.key_cooldown_default)
            .field("anthropic_version", &self.anthropic_version)
            .finish()
    }
}

impl ProviderConfig {
    /// Default whole-request timeout.
    pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(600);
    /// Default connect timeout.
    pub const CONNECT_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);
    /// Default stream idle timeout.
    pub const STREAM_IDLE_TIMEOUT_DEFAULT: Duration = Duration::from_secs(120);
    /// Default key cooldown after a rate limit without `retry-after`.
    pub const KEY_COOLDOWN_DEFAULT: Duration = Duration::from_secs(60);
    /// Default `anthropic-version` header value.
    pub const ANTHROPIC_VERSION_DEFAULT: &'static str = "2023-06-01";

    /// A config with every default and the kind's default base URL, and no keys.
    pub fn new(provider_id: impl Into<String>, api_kind: ApiKind) -> Self {
        ProviderConfig {
            provider_id: provider_id.into(),
            api_kind,
            base_url: api_kind.default_base_url().to_owned(),
            api_keys: Vec::new(),
            extra_headers: Vec::new(),
            request_timeout: Self::REQUEST_TIMEOUT_DEFAULT,
            connect_timeout: Self::CONNECT_TIMEOUT_DEFAULT,
            stream_idle_timeout: Self::STREAM_IDLE_TIMEOUT_DEFAULT,
            key_cooldown_default: Self::KEY_COOLDOWN_DEFAULT,
            anthropic_version: Self::ANTHROPIC_VERSION_DEFAULT.to_owned(),
        }
    }
}
