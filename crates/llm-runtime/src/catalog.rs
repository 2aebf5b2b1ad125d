//! The deployment's model catalog: which providers serve which models, with each
//! model's context window and output limits. Plain data, with no endpoint path, key
//! or header value in it, so the API layer can hold it, list it (`models/list`) and
//! use it at admission: a session is refused a provider the deployment does not
//! configure, and gets the model's output cap and compaction watermark when it names
//! none (the engine then sees plain numbers).
//!
//! Where it comes from is the host's business (the server reads a providers file
//! and the `OPENAI_*` / `ANTHROPIC_*` variables, docs/spec/providers.md).

use engine::core::limits::{GENERATION_OUTPUT_TOKENS_MAX, HIGH_WATERMARK_TOKENS_MAX};
/// Re-exported so the API layer names API kinds without reaching the HTTP clients.
pub use llm_clients::ApiKind;

/// Percent of a model's context window at which automatic compaction starts when a
/// session names no threshold (further lowered to leave room for the output
/// default, see [`ModelEntry::compaction_threshold_tokens`]).
pub const COMPACTION_THRESHOLD_WINDOW_PERCENT: u64 = 80;

/// One model a provider serves, with its limits in tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelEntry {
    /// The provider's model name, sent as `model`.
    pub id: String,
    /// Input plus output tokens the model can attend to.
    pub context_window_tokens: u64,
    /// The output cap of one generation when the session names none.
    pub output_tokens_default: u32,
    /// The highest output cap a session may ask for; `None`: the engine's ceiling.
    pub output_tokens_max: Option<u32>,
}

impl ModelEntry {
    /// The default compaction watermark: 80% of the context window, or the window
    /// minus the output default when that is lower (a generation at the watermark
    /// must still fit its answer), at least 1 and at most the engine's ceiling.
    pub fn compaction_threshold_tokens(&self) -> u64 {
        let window = self.context_window_tokens;
        let share = window.saturating_mul(COMPACTION_THRESHOLD_WINDOW_PERCENT) / 100;
        let room = window.saturating_sub(u64::from(self.output_tokens_default));
        share.min(room).clamp(1, HIGH_WATERMARK_TOKENS_MAX)
    }
}

/// One configured provider, as clients may see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEntry {
    /// The deployment's name for it, what `model.providerId` names.
    pub id: String,
    pub api_kind: ApiKind,
    /// Host (and port) of its base URL, e.g. `api.openai.com`: never the path or
    /// the query, which may carry a token.
    pub host: Option<String>,
    /// The models it lists, by id. Empty: any model name is sent as given, with the
    /// engine's defaults.
    pub models: Vec<ModelEntry>,
}

/// A catalog that breaks a rule below, named by provider and model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("provider id {0:?} is configured twice")]
    DuplicateProvider(String),
    #[error("provider {provider:?} lists model {model:?} twice")]
    DuplicateModel { provider: String, model: String },
    #[error("provider {provider:?}, model {model:?}: {what}")]
    InvalidModel {
        provider: String,
        model: String,
        what: String,
    },
}

/// Every configured provider, ordered by id, each one's models by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelCatalog {
    providers: Vec<ProviderEntry>,
}

impl ModelCatalog {
    /// Checks that ids are unique and every model's limits are coherent
    /// (`1 <= output default <= output max <= the engine's generation ceiling`, a
    /// window of at least 2 tokens, no larger than the engine's watermark ceiling).
    pub fn new(mut providers: Vec<ProviderEntry>) -> Result<Self, CatalogError> {
        providers.sort_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = providers.windows(2).find(|pair| pair[0].id == pair[1].id) {
            return Err(CatalogError::DuplicateProvider(pair[0].id.clone()));
        }
        for provider in &mut providers {
            provider.models.sort_by(|a, b| a.id.cmp(&b.id));
            if let Some(pair) = provider.models.windows(2).find(|p| p[0].id == p[1].id) {
                return Err(CatalogError::DuplicateModel {
                    provider: provider.id.clone(),
                    model: pair[0].id.clone(),
                });
            }
            for model in &provider.models {
                check_model(model).map_err(|what| CatalogError::InvalidModel {
                    provider: provider.id.clone(),
                    model: model.id.clone(),
                    what,
                })?;
            }
        }
        Ok(Self { providers })
    }

    /// True when no provider is configured: admission then checks no route (a
    /// gateway that was told of no provider cannot tell a good one from a bad one).
    pub fn is_empty(&self) -> bool {
        self.providers.is_empty()
    }

    pub fn providers(&self) -> &[ProviderEntry] {
        &self.providers
    }

    pub fn provider(&self, id: &str) -> Option<&ProviderEntry> {
        self.providers
            .binary_search_by(|provider| provider.id.as_str().cmp(id))
            .ok()
            .and_then(|index| self.providers.get(index))
    }

    /// The model `model` of provider `provider`, when the provider lists it.
    pub fn model(&self, provider: &str, model: &str) -> Option<&ModelEntry> {
        let models = &self.provider(provider)?.models;
        models
            .binary_search_by(|entry| entry.id.as_str().cmp(model))
            .ok()
            .and_then(|index| models.get(index))
    }
}

fn check_model(model: &ModelEntry) -> Result<(), String> {
    let default = u64::from(model.output_tokens_default);
    let max = model
        .output_tokens_max
        .map_or(GENERATION_OUTPUT_TOKENS_MAX, u64::from);
    if model.context_window_tokens < 2 || model.context_window_tokens > HIGH_WATERMARK_TOKENS_MAX {
        return Err(format!(
            "context_window must be 2 to {HIGH_WATERMARK_TOKENS_MAX} tokens"
        ));
    }
    if max > GENERATION_OUTPUT_TOKENS_MAX || max == 0 {
        return Err(format!(
            "output_tokens_max must be 1 to {GENERATION_OUTPUT_TOKENS_MAX}"
        ));
    }
    if default == 0 || default > max {
        return Err(format!(
            "output_tokens_default must be 1 to output_tokens_max ({max})"
        ));
    }
    if default >= model.context_window_tokens {
        return Err("output_tokens_default must be below context_window".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(id: &str, window: u64, default: u32, max: Option<u32>) -> ModelEntry {
        ModelEntry {
            id: id.into(),
            context_window_tokens: window,
            output_tokens_default: default,
            output_tokens_max: max,
        }
    }

    fn provider(id: &str, models: Vec<ModelEntry>) -> ProviderEntry {
        ProviderEntry {
            id: id.into(),
            api_kind: ApiKind::OpenAiCompletions,
            host: None,
            models,
        }
    }

    #[test]
    fn the_watermark_is_80_percent_of_the_window_leaving_room_for_the_output() {
        assert_eq!(
            model("m", 200_000, 8_192, None).compaction_threshold_tokens(),
            160_000
        );
        assert_eq!(
            model("m", 8_192, 4_096, None).compaction_threshold_tokens(),
            4_096
        );
    }

    #[test]
    fn lookups_find_providers_and_models_in_any_order() {
        let catalog = ModelCatalog::new(vec![
            provider("z", vec![model("b", 10, 1, None), model("a", 10, 1, None)]),
            provider("a", vec![]),
        ])
        .unwrap();
        assert_eq!(catalog.providers()[0].id, "a");
        assert!(catalog.model("z", "a").is_some());
        assert!(catalog.model("z", "c").is_none());
        assert!(catalog.model("y", "a").is_none());
    }

    #[test]
    fn duplicates_and_incoherent_limits_are_refused() {
        let twice = ModelCatalog::new(vec![provider("a", vec![]), provider("a", vec![])]);
        assert_eq!(twice, Err(CatalogError::DuplicateProvider("a".into())));
        let models = vec![model("m", 10, 1, None), model("m", 10, 1, None)];
        assert!(matches!(
            ModelCatalog::new(vec![provider("a", models)]),
            Err(CatalogError::DuplicateModel { .. })
        ));
        for bad in [
            model("m", 10, 0, None),
            model("m", 10, 5, Some(4)),
            model("m", 10, 10, None),
            model("m", 1, 1, None),
            model("m", 10, 1, Some(2_000_000)),
        ] {
            assert!(
                matches!(
                    ModelCatalog::new(vec![provider("a", vec![bad.clone()])]),
                    Err(CatalogError::InvalidModel { .. })
                ),
                "{bad:?}"
            );
        }
    }
}
