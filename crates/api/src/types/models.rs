use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// `models/list` takes no params.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ModelsListParams {}

/// The deployment's providers, ordered by id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelsListResult {
    pub providers: Vec<ProviderView>,
}

/// One configured provider: what a session's `model.providerId` may name. No key,
/// header value or URL path is ever shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProviderView {
    pub provider_id: String,
    /// `openai:responses`, `openai:completions` or `anthropic:messages`: what a
    /// session's `model.apiKind` must be for this provider.
    pub api_kind: String,
    /// Host (and port) of the provider's base URL, e.g. `api.openai.com`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The models the deployment lists for it, ordered by id. Empty: any model name
    /// is accepted and gets the server's defaults.
    pub models: Vec<ModelView>,
}

/// One listed model and the limits sessions using it get.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelView {
    /// What a session's `model.model` names.
    pub model: String,
    /// Input plus output tokens the model attends to.
    pub context_window_tokens: u64,
    /// A session's `maxOutputTokens` when it sets none.
    pub max_output_tokens_default: u32,
    /// The highest `maxOutputTokens` a session may set for this model; absent: the
    /// server's own ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens_limit: Option<u32>,
    /// A session's `compactionThresholdTokens` when it sets none: 80% of the window,
    /// or less when the output default would not fit above it.
    pub compaction_threshold_tokens_default: u64,
}
