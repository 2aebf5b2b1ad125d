//! Model routes against the deployment's catalog (`llm_runtime::ModelCatalog`), at
//! admission, after the config itself was validated:
//!
//! - a route must name a configured provider (-32602 `unknownProvider`) with the API
//!   kind that provider speaks (-32602 `invalidConfig`);
//! - a listed model fills what the client left unset: the output cap of one
//!   generation (its `output_tokens_default`) and the compaction watermark (80% of
//!   its context window, lowered to leave room for that output,
//!   `ModelEntry::compaction_threshold_tokens`); on `session/update` a change of
//!   model does the same for the new model;
//! - an output cap above the model's `output_tokens_max` is refused (-32602
//!   `invalidConfig`, naming the field as the client spelled it).
//!
//! A model the provider does not list is sent as named, with the engine's defaults.
//! An empty catalog (a process told of no provider) checks nothing. The engine gets
//! plain numbers either way.

use api::ApiError;
use api::types::session::{SessionConfigInput, SessionPatch};
use engine::core::config::{ConfigPatch, ContextPolicy, ModelRoute, RunOverrides, SessionConfig};
use llm_runtime::{ModelCatalog, ModelEntry};

use super::config::invalid_config;

/// Fills `config` (prepared from `input`) with its model's defaults and checks its
/// route and output cap against `catalog`.
pub fn apply_models_to_session(
    catalog: &ModelCatalog,
    input: &SessionConfigInput,
    config: &mut SessionConfig,
) -> Result<(), ApiError> {
    let Some(model) = check_route(catalog, &config.model, "config.model")? else {
        return Ok(());
    };
    match input.generation.max_output_tokens {
        None => config.generation.output_tokens_max = model.output_tokens_default,
        Some(_) => check_output_cap(
            model,
            config.generation.output_tokens_max,
            "config.generation.maxOutputTokens",
        )?,
    }
    if input.context.compaction_threshold_tokens.is_none() {
        config.context.high_watermark_tokens = model.compaction_threshold_tokens();
    }
    Ok(())
}

/// The same for a `session/update`: a new route is checked, a new model's defaults
/// fill what `patch` leaves unset, and the output cap the session ends with is
/// checked whenever the patch touches it or the model.
pub fn apply_models_to_patch(
    catalog: &ModelCatalog,
    current: &SessionConfig,
    patch: &SessionPatch,
    engine_patch: &mut ConfigPatch,
) -> Result<(), ApiError> {
    let Some(route) = &engine_patch.model else {
        return match catalog.model(&current.model.provider_id, &current.model.model) {
            Some(model) if engine_patch.output_tokens_max.is_some() => check_output_cap(
                model,
                current.patched(engine_patch).generation.output_tokens_max,
                "patch.generation.maxOutputTokens",
            ),
            Some(_) | None => Ok(()),
        };
    };
    let Some(model) = check_route(catalog, route, "patch.model")? else {
        return Ok(());
    };
    match engine_patch.output_tokens_max {
        None => engine_patch.output_tokens_max = Some(model.output_tokens_default),
        Some(cap) => check_output_cap(model, cap, "patch.generation.maxOutputTokens")?,
    }
    let threshold_set = patch
        .context
        .is_some_and(|context| context.compaction_threshold_tokens.is_some());
    if !threshold_set {
        let compaction = current.patched(engine_patch).context.compaction;
        engine_patch.context = Some(ContextPolicy {
            compaction,
            high_watermark_tokens: model.compaction_threshold_tokens(),
        });
    }
    Ok(())
}

/// Checks a run's model override and the output cap the run would use.
pub fn check_run_models(
    catalog: &ModelCatalog,
    session: &SessionConfig,
    overrides: &RunOverrides,
) -> Result<(), ApiError> {
    let model = match &overrides.model {
        Some(route) => check_route(catalog, route, "overrides.model")?,
        None => catalog.model(&session.model.provider_id, &session.model.model),
    };
    match model {
        Some(model) if overrides.model.is_some() || overrides.output_tokens_max.is_some() => {
            let cap = overrides
                .output_tokens_max
                .unwrap_or(session.generation.output_tokens_max);
            check_output_cap(model, cap, "the run's maxOutputTokens")
        }
        Some(_) | None => Ok(()),
    }
}

/// The listed model of `route`, if any, once its provider and API kind check out.
fn check_route<'a>(
    catalog: &'a ModelCatalog,
    route: &ModelRoute,
    field: &str,
) -> Result<Option<&'a ModelEntry>, ApiError> {
    if catalog.is_empty() {
        return Ok(None);
    }
    let Some(provider) = catalog.provider(&route.provider_id) else {
        let known: Vec<&str> = catalog
            .providers()
            .iter()
            .map(|provider| provider.id.as_str())
            .collect();
        return Err(ApiError::invalid_params(format!(
            "{field}.providerId: no provider {:?} is configured (configured: {}); \
             models/list shows them",
            route.provider_id,
            known.join(", ")
        ))
        .with_reason("unknownProvider"));
    };
    if provider.api_kind.as_str() != route.api_kind {
        return Err(invalid_config(format!(
            "{field}.apiKind: provider {:?} speaks {}, not {:?}",
            provider.id, provider.api_kind, route.api_kind
        )));
    }
    Ok(catalog.model(&route.provider_id, &route.model))
}

fn check_output_cap(model: &ModelEntry, cap: u32, field: &str) -> Result<(), ApiError> {
    match model.output_tokens_max {
        Some(max) if cap > max => Err(invalid_config(format!(
            "{field} must be at most {max} for model {:?} (asked {cap})",
            model.id
        ))),
        Some(_) | None => Ok(()),
    }
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
