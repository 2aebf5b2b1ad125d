//! Tests of `config_patch` and `run_overrides`.

use api::types::run::RunLimitsInput;
use api::types::session::GenerationInput;
use serde_json::json;

use super::tests::{effort, params, refused, route, start};
use super::*;

fn session(api_kind: &str, generation: GenerationInput) -> SessionConfig {
    prepare_session(&start(api_kind, generation))
        .unwrap()
        .config
}

#[test]
fn patch_applies_as_intended() {
    let current = session("openai:responses", effort(ReasoningEffort::Low));
    let patch = SessionPatch {
        model: None,
        generation: Some(GenerationInput {
            max_output_tokens: Some(1_000),
            reasoning_effort: Some(ReasoningEffort::High),
            tool_choice: Some(ToolChoiceInput::Required),
            provider_params: None,
        }),
        context: Some(ContextInput {
            compaction: Some(CompactionPolicy::Manual),
            compaction_threshold_tokens: None,
        }),
        run_defaults: Some(RunLimitsInput {
            max_tool_rounds: Some(3),
            ..RunLimitsInput::default()
        }),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    let engine_patch = config_patch(&current, &patch).unwrap();
    let next = current.patched(&engine_patch);
    assert_eq!(next.generation.output_tokens_max, 1_000);
    assert_eq!(next.generation.tool_choice, ToolChoice::Required);
    // The effort alone replaces the param and keeps the rest.
    assert_eq!(
        next.generation.provider_params.0,
        json!({"reasoning_effort": "high"})
    );
    assert_eq!(next.context.compaction, CompactionMode::Manual);
    assert_eq!(
        next.context.high_watermark_tokens,
        current.context.high_watermark_tokens
    );
    assert_eq!(next.run_limits.tool_batches_max, 3);
    assert_eq!(next.run_limits.turns_max, current.run_limits.turns_max);
    assert_eq!(next.model, current.model);

    // Explicit params replace the params wholesale.
    let replace = SessionPatch {
        generation: Some(GenerationInput {
            provider_params: params(json!({"temperature": 0.1})),
            ..GenerationInput::default()
        }),
        ..SessionPatch::default()
    };
    let next = current.patched(&config_patch(&current, &replace).unwrap());
    assert_eq!(
        next.generation.provider_params.0,
        json!({"temperature": 0.1})
    );

    // An empty patch changes nothing.
    let empty = config_patch(&current, &SessionPatch::default()).unwrap();
    assert_eq!(empty, ConfigPatch::default());
}

#[test]
fn patch_changing_api_kind_revalidates_params() {
    let current = session(
        "openai:responses",
        GenerationInput {
            provider_params: params(json!({"reasoning_summary": "auto"})),
            ..GenerationInput::default()
        },
    );
    let to_anthropic = SessionPatch {
        model: Some(route("anthropic:messages")),
        ..SessionPatch::default()
    };
    let err = refused(
        config_patch(&current, &to_anthropic),
        "invalidProviderParams",
    );
    assert!(err.message.contains("anthropic:messages"), "{err}");

    // With params for the new kind (and an effort all kinds accept) it goes through.
    let with_params = SessionPatch {
        model: Some(route("anthropic:messages")),
        generation: Some(GenerationInput {
            reasoning_effort: Some(ReasoningEffort::Medium),
            provider_params: params(json!({"prompt_caching": true})),
            ..GenerationInput::default()
        }),
        ..SessionPatch::default()
    };
    let next = current.patched(&config_patch(&current, &with_params).unwrap());
    assert_eq!(next.model.api_kind, "anthropic:messages");
    assert_eq!(
        next.generation.provider_params.0,
        json!({"prompt_caching": true, "reasoning_effort": "medium"})
    );
    llm_runtime::validate_provider_params(&next.model.api_kind, &next.generation.provider_params)
        .unwrap();

    let unknown_kind = SessionPatch {
        model: Some(route("nope:nope")),
        ..SessionPatch::default()
    };
    refused(config_patch(&current, &unknown_kind), "invalidConfig");

    let zero = SessionPatch {
        run_defaults: Some(RunLimitsInput {
            max_output_tokens: Some(0),
            ..RunLimitsInput::default()
        }),
        ..SessionPatch::default()
    };
    let err = refused(config_patch(&current, &zero), "invalidConfig");
    assert_eq!(
        err.message,
        "patch.runDefaults.maxOutputTokens must be at least 1"
    );
}

#[test]
fn run_overrides_map_and_validate() {
    let current = session(
        "anthropic:messages",
        GenerationInput {
            provider_params: params(json!({"prompt_caching": false, "reasoning_effort": "low"})),
            ..GenerationInput::default()
        },
    );
    assert_eq!(
        run_overrides(&current, None).unwrap(),
        RunOverrides::default()
    );
    assert_eq!(
        run_overrides(&current, Some(&RunOverridesInput::default())).unwrap(),
        RunOverrides::default()
    );

    let input = RunOverridesInput {
        model: None,
        max_output_tokens: Some(2_000),
        reasoning_effort: Some(ReasoningEffort::High),
        limits: Some(RunLimitsInput {
            max_turns: Some(3),
            ..RunLimitsInput::default()
        }),
    };
    let overrides = run_overrides(&current, Some(&input)).unwrap();
    assert_eq!(overrides.output_tokens_max, Some(2_000));
    assert_eq!(
        overrides.provider_params.unwrap().0,
        json!({"prompt_caching": false, "reasoning_effort": "high"})
    );
    assert_eq!(overrides.limits.unwrap().turns_max, Some(3));
    assert_eq!(overrides.model, None);

    // An empty limits object is no override at all (same idempotency digest).
    let empty_limits = RunOverridesInput {
        limits: Some(RunLimitsInput::default()),
        ..RunOverridesInput::default()
    };
    assert_eq!(
        run_overrides(&current, Some(&empty_limits)).unwrap(),
        RunOverrides::default()
    );

    // The session's anthropic params do not fit an openai:completions run.
    let other_kind = RunOverridesInput {
        model: Some(route("openai:completions")),
        ..RunOverridesInput::default()
    };
    refused(
        run_overrides(&current, Some(&other_kind)),
        "invalidProviderParams",
    );
    let plain = session("openai:responses", effort(ReasoningEffort::Low));
    let overrides = run_overrides(
        &plain,
        Some(&RunOverridesInput {
            model: Some(route("openai:completions")),
            reasoning_effort: Some(ReasoningEffort::Minimal),
            ..RunOverridesInput::default()
        }),
    )
    .unwrap();
    assert_eq!(overrides.model.unwrap().api_kind, "openai:completions");
    assert_eq!(
        overrides.provider_params.unwrap().0,
        json!({"reasoning_effort": "minimal"})
    );

    let zero = RunOverridesInput {
        max_output_tokens: Some(0),
        ..RunOverridesInput::default()
    };
    let err = refused(run_overrides(&plain, Some(&zero)), "invalidConfig");
    assert_eq!(err.message, "overrides.maxOutputTokens must be at least 1");
    let zero_limit = RunOverridesInput {
        limits: Some(RunLimitsInput {
            max_tool_rounds: Some(0),
            ..RunLimitsInput::default()
        }),
        ..RunOverridesInput::default()
    };
    let err = refused(run_overrides(&plain, Some(&zero_limit)), "invalidConfig");
    assert_eq!(
        err.message,
        "overrides.limits.maxToolRounds must be at least 1"
    );
    let mut empty_model = route("openai:responses");
    empty_model.provider_id = String::new();
    let err = refused(
        run_overrides(
            &plain,
            Some(&RunOverridesInput {
                model: Some(empty_model),
                ..RunOverridesInput::default()
            }),
        ),
        "invalidConfig",
    );
    assert_eq!(err.message, "overrides.model.providerId must not be empty");
}
