//! LLM providers from the environment (deployment config: endpoints and keys never
//! enter the log or the CAS).
//!
//! | provider id | API kind | configured by |
//! | --- | --- | --- |
//! | `openai` | `openai:responses` | `OPENAI_API_KEY` and/or `OPENAI_BASE_URL` |
//! | `openai-chat` | `openai:completions` | the same variables |
//! | `anthropic` | `anthropic:messages` | `ANTHROPIC_API_KEY` and/or `ANTHROPIC_BASE_URL` |
//!
//! A key variable may hold several keys separated by commas (used round-robin). A
//! provider with a base URL but no key (a local OpenAI-compatible server, the fake
//! provider) sends no auth header.

use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::LlmRuntime;

#[derive(Debug, thiserror::Error)]
#[error("configuring provider {provider_id} failed: {reason}")]
pub struct ProviderSetupError {
    pub provider_id: String,
    pub reason: String,
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn client(
    provider_id: &str,
    kind: ApiKind,
    keys: Option<&str>,
    base_url: Option<&str>,
) -> Result<ProviderClient, ProviderSetupError> {
    let mut config = ProviderConfig::new(provider_id, kind);
    if let Some(base_url) = base_url {
        config.base_url = base_url.to_owned();
    }
    config.api_keys = keys
        .map(|keys| {
            keys.split(',')
                .map(str::trim)
                .filter(|key| !key.is_empty())
                .map(ApiKey::new)
                .collect()
        })
        .unwrap_or_default();
    ProviderClient::new(config).map_err(|err| ProviderSetupError {
        provider_id: provider_id.to_owned(),
        reason: err.to_string(),
    })
}

/// The providers the environment configures (possibly none).
pub fn runtime_from_env() -> Result<LlmRuntime, ProviderSetupError> {
    let mut clients = Vec::new();
    let openai_key = variable("OPENAI_API_KEY");
    let openai_url = variable("OPENAI_BASE_URL");
    if openai_key.is_some() || openai_url.is_some() {
        for (id, kind) in [
            ("openai", ApiKind::OpenAiResponses),
            ("openai-chat", ApiKind::OpenAiCompletions),
        ] {
            clients.push(client(
                id,
                kind,
                openai_key.as_deref(),
                openai_url.as_deref(),
            )?);
        }
    }
    let anthropic_key = variable("ANTHROPIC_API_KEY");
    let anthropic_url = variable("ANTHROPIC_BASE_URL");
    if anthropic_key.is_some() || anthropic_url.is_some() {
        clients.push(client(
            "anthropic",
            ApiKind::AnthropicMessages,
            anthropic_key.as_deref(),
            anthropic_url.as_deref(),
        )?);
    }
    Ok(LlmRuntime::new(clients))
}
