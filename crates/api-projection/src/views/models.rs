//! The deployment's model catalog as `models/list` shows it.

use api::types::models::{ModelView, ModelsListResult, ProviderView};
use llm_runtime::ModelCatalog;

/// Every provider with its models, in the catalog's order (by id). The catalog holds
/// no key, header or URL path, so nothing here can show one.
pub fn models_list(catalog: &ModelCatalog) -> ModelsListResult {
    let providers = catalog
        .providers()
        .iter()
        .map(|provider| ProviderView {
            provider_id: provider.id.clone(),
            api_kind: provider.api_kind.as_str().to_owned(),
            host: provider.host.clone(),
            models: provider
                .models
                .iter()
                .map(|model| ModelView {
                    model: model.id.clone(),
                    context_window_tokens: model.context_window_tokens,
                    max_output_tokens_default: model.output_tokens_default,
                    max_output_tokens_limit: model.output_tokens_max,
                    compaction_threshold_tokens_default: model.compaction_threshold_tokens(),
                })
                .collect(),
        })
        .collect();
    ModelsListResult { providers }
}
