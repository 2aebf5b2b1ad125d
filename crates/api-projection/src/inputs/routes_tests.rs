use api::ErrorKind;
use api::types::run::RunLimitsInput;
use api::types::session::{
    ContextInput, GenerationInput, ModelRouteInput, SessionStartParams, ToolsInput,
};
use engine::core::config::{HIGH_WATERMARK_TOKENS_DEFAULT, TURN_OUTPUT_TOKENS_MAX_DEFAULT};
use llm_runtime::ProviderEntry;
use llm_runtime::catalog::ApiKind;

use super::*;
use crate::inputs::{config_patch, prepare_session};

fn catalog() -> ModelCatalog {
    ModelCatalog::new(vec![
        ProviderEntry {
            id: "vllm".into(),
            api_kind: ApiKind::OpenAiCompletions,
            host: Some("127.0.0.1:8000".into()),
            models: vec![ModelEntry {
                id: "small".into(),
                context_window_tokens: 32_000,
                output_tokens_default: 2_000,
                output_tokens_max: Some(4_000),
            }],
        },
        ProviderEntry {
            id: "anthropic".into(),
            api_kind: ApiKind::AnthropicMessages,
            host: None,
            models: Vec::new(),
        },
    ])
    .unwrap()
}

fn input(provider: &str, kind: &str, model: &str) -> SessionConfigInput {
    SessionConfigInput {
        model: ModelRouteInput {
            provider_id: provider.into(),
            api_kind: kind.into(),
            model: model.into(),
        },
        instructions: None,
        generation: GenerationInput::default(),
        context: ContextInput::default(),
        run_defaults: RunLimitsInput::default(),
        tools: ToolsInput::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    }
}

fn admit(input: SessionConfigInput) -> Result<SessionConfig, ApiError> {
    let params = SessionStartParams {
        session_id: None,
        config: input,
    };
    let mut config = prepare_session(&params)?.config;
    apply_models_to_session(&catalog(), &params.config, &mut config)?;
    Ok(config)
}

#[track_caller]
fn refused(result: Result<impl std::fmt::Debug, ApiError>, reason: &str, field: &str) {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
    assert_eq!(err.data.reason.as_deref(), Some(reason), "{err}");
    assert!(err.message.contains(field), "{err}");
}

#[test]
fn a_listed_model_fills_the_output_cap_and_watermark() {
    let config = admit(input("vllm", "openai:completions", "small")).unwrap();
    assert_eq!(config.generation.output_tokens_max, 2_000);
    assert_eq!(config.context.high_watermark_tokens, 25_600);
}

#[test]
fn explicit_values_win_and_are_bounded_by_the_model() {
    let mut explicit = input("vllm", "openai:completions", "small");
    explicit.generation.max_output_tokens = Some(3_000);
    explicit.context.compaction_threshold_tokens = Some(10_000);
    let config = admit(explicit.clone()).unwrap();
    assert_eq!(config.generation.output_tokens_max, 3_000);
    assert_eq!(config.context.high_watermark_tokens, 10_000);
    explicit.generation.max_output_tokens = Some(4_001);
    refused(
        admit(explicit),
        "invalidConfig",
        "config.generation.maxOutputTokens",
    );
}

#[test]
fn unlisted_models_keep_the_engine_defaults() {
    let config = admit(input("anthropic", "anthropic:messages", "any")).unwrap();
    assert_eq!(
        config.generation.output_tokens_max,
        TURN_OUTPUT_TOKENS_MAX_DEFAULT
    );
    assert_eq!(
        config.context.high_watermark_tokens,
        HIGH_WATERMARK_TOKENS_DEFAULT
    );
}

#[test]
fn unknown_providers_and_wrong_kinds_are_refused() {
    refused(
        admit(input("openai", "openai:responses", "m")),
        "unknownProvider",
        "config.model.providerId",
    );
    refused(
        admit(input("vllm", "openai:responses", "small")),
        "invalidConfig",
        "config.model.apiKind",
    );
}

#[test]
fn an_empty_catalog_checks_nothing() {
    let params = SessionStartParams {
        session_id: None,
        config: input("anywhere", "openai:responses", "m"),
    };
    let mut config = prepare_session(&params).unwrap().config;
    let before = config.clone();
    apply_models_to_session(&ModelCatalog::default(), &params.config, &mut config).unwrap();
    assert_eq!(config, before);
}

#[test]
fn changing_the_model_brings_its_defaults_unless_the_patch_sets_them() {
    let current = admit(input("anthropic", "anthropic:messages", "any")).unwrap();
    let patch = SessionPatch {
        model: Some(input("vllm", "openai:completions", "small").model),
        ..SessionPatch::default()
    };
    let mut engine_patch = config_patch(&current, &patch).unwrap();
    apply_models_to_patch(&catalog(), &current, &patch, &mut engine_patch).unwrap();
    let next = current.patched(&engine_patch);
    assert_eq!(next.generation.output_tokens_max, 2_000);
    assert_eq!(next.context.high_watermark_tokens, 25_600);

    let too_large = SessionPatch {
        generation: Some(GenerationInput {
            max_output_tokens: Some(5_000),
            ..GenerationInput::default()
        }),
        ..SessionPatch::default()
    };
    let mut engine_patch = config_patch(&next, &too_large).unwrap();
    refused(
        apply_models_to_patch(&catalog(), &next, &too_large, &mut engine_patch),
        "invalidConfig",
        "patch.generation.maxOutputTokens",
    );

    let unknown = SessionPatch {
        model: Some(input("nope", "openai:completions", "small").model),
        ..SessionPatch::default()
    };
    let mut engine_patch = config_patch(&next, &unknown).unwrap();
    refused(
        apply_models_to_patch(&catalog(), &next, &unknown, &mut engine_patch),
        "unknownProvider",
        "patch.model.providerId",
    );
}

#[test]
fn run_overrides_are_checked_against_the_model() {
    let session = admit(input("vllm", "openai:completions", "small")).unwrap();
    let overrides = RunOverrides {
        output_tokens_max: Some(4_001),
        ..RunOverrides::default()
    };
    refused(
        check_run_models(&catalog(), &session, &overrides),
        "invalidConfig",
        "maxOutputTokens",
    );
    let elsewhere = RunOverrides {
        model: Some(ModelRoute {
            provider_id: "gone".into(),
            api_kind: "openai:completions".into(),
            model: "small".into(),
        }),
        ..RunOverrides::default()
    };
    refused(
        check_run_models(&catalog(), &session, &elsewhere),
        "unknownProvider",
        "overrides.model.providerId",
    );
    check_run_models(&catalog(), &session, &RunOverrides::default()).unwrap();
}
