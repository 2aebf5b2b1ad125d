use api::ErrorKind;
use api::types::run::RunLimitsInput;
use api::types::session::{GenerationInput, SessionConfigInput, ToolsInput};
use serde_json::json;

use super::*;

const KINDS: [&str; 3] = [
    "openai:responses",
    "openai:completions",
    "anthropic:messages",
];

pub(super) fn route(api_kind: &str) -> ModelRouteInput {
    ModelRouteInput {
        provider_id: "p".into(),
        api_kind: api_kind.into(),
        model: "m".into(),
    }
}

pub(super) fn start(api_kind: &str, generation: GenerationInput) -> SessionStartParams {
    SessionStartParams {
        session_id: None,
        config: SessionConfigInput {
            model: route(api_kind),
            instructions: None,
            generation,
            context: ContextInput::default(),
            run_defaults: RunLimitsInput::default(),
            tools: ToolsInput::default(),
            tool_policy: Default::default(),
            budget: Default::default(),
        },
    }
}

pub(super) fn params(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => panic!("not an object"),
    }
}

pub(super) fn effort(effort: ReasoningEffort) -> GenerationInput {
    GenerationInput {
        reasoning_effort: Some(effort),
        ..GenerationInput::default()
    }
}

#[track_caller]
pub(super) fn refused(result: Result<impl std::fmt::Debug, ApiError>, reason: &str) -> ApiError {
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidParams, "{err}");
    assert_eq!(err.data.reason.as_deref(), Some(reason), "{err}");
    err
}

#[test]
fn defaults_fill_an_empty_config() {
    let prepared = prepare_session(&start("openai:responses", GenerationInput::default())).unwrap();
    assert_eq!(prepared.session_id, None);
    assert_eq!(prepared.instructions, None);
    assert_eq!(prepared.filesystem, FilesystemMode::None);
    let config = prepared.config;
    assert_eq!(config.generation, GenerationConfig::default());
    assert_eq!(config.context, ContextPolicy::default());
    assert_eq!(config.run_limits, RunLimits::default());
    assert_eq!(config.model.api_kind, "openai:responses");
}

#[test]
fn every_field_maps() {
    let mut params = start(
        "anthropic:messages",
        GenerationInput {
            max_output_tokens: Some(4_096),
            reasoning_effort: None,
            tool_choice: Some(ToolChoiceInput::Tool {
                name: "read_file".into(),
            }),
            provider_params: params(json!({"temperature": 0.5})),
        },
    );
    params.session_id = Some("s-1".into());
    params.config.instructions = Some(InstructionsInput::Text {
        text: "Be brief.".into(),
    });
    params.config.context = ContextInput {
        compaction: Some(CompactionPolicy::Manual),
        compaction_threshold_tokens: Some(90_000),
    };
    params.config.run_defaults = RunLimitsInput {
        max_turns: Some(7),
        max_tool_rounds: None,
        max_output_tokens: Some(10_000),
        max_cost_usd: Some(0.25),
    };
    params.config.budget = Some(api::types::session::SessionBudget {
        max_cost_usd: Some(3.5),
    });
    params.config.tools.filesystem = FilesystemMode::Edit;
    let prepared = prepare_session(&params).unwrap();
    assert_eq!(prepared.session_id.unwrap().as_str(), "s-1");
    assert_eq!(
        prepared.instructions,
        Some(TextOrRef::Text("Be brief.".into()))
    );
    assert_eq!(prepared.filesystem, FilesystemMode::Edit);
    let config = prepared.config;
    assert_eq!(config.generation.output_tokens_max, 4_096);
    assert_eq!(
        config.generation.tool_choice,
        ToolChoice::Tool {
            name: "read_file".into()
        }
    );
    assert_eq!(
        config.generation.provider_params.0,
        json!({"temperature": 0.5})
    );
    assert_eq!(
        config.context,
        ContextPolicy {
            compaction: CompactionMode::Manual,
            high_watermark_tokens: 90_000
        }
    );
    assert_eq!(
        config.run_limits,
        RunLimits {
            turns_max: 7,
            tool_batches_max: 50,
            output_tokens_max: 10_000,
            cost_nanos_max: Some(250_000_000),
        }
    );
    assert_eq!(config.budget.cost_nanos_max, Some(3_500_000_000));
}

#[test]
fn engine_refusals_of_cost_budgets_name_the_client_field_in_usd() {
    let err = ConfigError::TooLarge {
        field: ConfigField::BudgetCostNanosMax.path(),
        max: 1_000_000_000_000_000,
    };
    let err = config_error(&err, Scope::Config, "patch.");
    assert_eq!(
        err.message,
        "patch.budget.maxCostUsd must be at most 1000000 USD"
    );
    let err = ConfigError::TooLarge {
        field: ConfigField::RunLimitsCostNanosMax.path(),
        max: 2_500_000_000,
    };
    let err = config_error(&err, Scope::Overrides, "overrides.");
    assert_eq!(
        err.message,
        "overrides.limits.maxCostUsd must be at most 2.5 USD"
    );
}

#[test]
fn reasoning_effort_becomes_a_provider_param_for_every_api_kind() {
    for kind in KINDS {
        for (input, wire) in [
            (ReasoningEffort::Minimal, "minimal"),
            (ReasoningEffort::Low, "low"),
            (ReasoningEffort::Medium, "medium"),
            (ReasoningEffort::High, "high"),
        ] {
            let config = prepare_session(&start(kind, effort(input))).unwrap().config;
            assert_eq!(
                config.generation.provider_params.0,
                json!({"reasoning_effort": wire}),
                "{kind}"
            );
        }
    }
}

#[test]
fn explicit_provider_params_win_over_reasoning_effort() {
    let generation = GenerationInput {
        reasoning_effort: Some(ReasoningEffort::Low),
        provider_params: params(json!({"reasoning_effort": "high", "reasoning_summary": "auto"})),
        ..GenerationInput::default()
    };
    let config = prepare_session(&start("openai:responses", generation))
        .unwrap()
        .config;
    assert_eq!(
        config.generation.provider_params.0,
        json!({"reasoning_effort": "high", "reasoning_summary": "auto"})
    );
}

#[test]
fn invalid_provider_params_are_refused() {
    let with = |kind: &str, value: Value, reasoning: Option<ReasoningEffort>| {
        prepare_session(&start(
            kind,
            GenerationInput {
                reasoning_effort: reasoning,
                provider_params: params(value),
                ..GenerationInput::default()
            },
        ))
    };
    refused(
        with("openai:responses", json!({"temperature": 3.0}), None),
        "invalidProviderParams",
    );
    refused(
        with("openai:responses", json!({"unknown": 1}), None),
        "invalidProviderParams",
    );
    refused(
        with(
            "openai:completions",
            json!({"hosted_tools": [{"type": "web_search"}]}),
            None,
        ),
        "invalidProviderParams",
    );
    // Thinking (from the effort) and a changed temperature do not go together.
    let err = refused(
        with(
            "anthropic:messages",
            json!({"temperature": 0.5}),
            Some(ReasoningEffort::Low),
        ),
        "invalidProviderParams",
    );
    assert!(
        err.message.starts_with("config.generation.providerParams"),
        "{err}"
    );
    let err = refused(with("gemini:generate", json!({}), None), "invalidConfig");
    assert!(err.message.starts_with("config.model.apiKind"), "{err}");
}

#[test]
fn config_errors_name_client_fields() {
    let mut empty_model = start("openai:responses", GenerationInput::default());
    empty_model.config.model.model = String::new();
    let err = refused(prepare_session(&empty_model), "invalidConfig");
    assert_eq!(err.message, "config.model.model must not be empty");

    let mut zero_turns = start("openai:responses", GenerationInput::default());
    zero_turns.config.run_defaults.max_turns = Some(0);
    let err = refused(prepare_session(&zero_turns), "invalidConfig");
    assert_eq!(
        err.message,
        "config.runDefaults.maxTurns must be at least 1"
    );

    let mut zero_threshold = start("openai:responses", GenerationInput::default());
    zero_threshold.config.context.compaction_threshold_tokens = Some(0);
    let err = refused(prepare_session(&zero_threshold), "invalidConfig");
    assert_eq!(
        err.message,
        "config.context.compactionThresholdTokens must be at least 1"
    );

    let zero_tokens = GenerationInput {
        max_output_tokens: Some(0),
        ..GenerationInput::default()
    };
    let err = refused(
        prepare_session(&start("openai:responses", zero_tokens)),
        "invalidConfig",
    );
    assert_eq!(
        err.message,
        "config.generation.maxOutputTokens must be at least 1"
    );

    let bad_tool = GenerationInput {
        tool_choice: Some(ToolChoiceInput::Tool {
            name: "no spaces".into(),
        }),
        ..GenerationInput::default()
    };
    let err = refused(
        prepare_session(&start("openai:responses", bad_tool)),
        "invalidConfig",
    );
    assert!(
        err.message.starts_with("config.generation.toolChoice"),
        "{err}"
    );

    let mut long_provider = start("openai:responses", GenerationInput::default());
    long_provider.config.model.provider_id = "p".repeat(TEXT_FIELD_BYTES_MAX + 1);
    let err = refused(prepare_session(&long_provider), "invalidConfig");
    assert!(
        err.message.starts_with("config.model.providerId is longer"),
        "{err}"
    );
}

#[test]
fn instructions_and_session_ids_are_checked() {
    let mut params = start("openai:responses", GenerationInput::default());
    let blob = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    params.config.instructions = Some(InstructionsInput::BlobRef {
        blob_ref: blob.into(),
    });
    assert_eq!(
        prepare_session(&params).unwrap().instructions,
        Some(TextOrRef::Ref(engine::BlobRef::parse(blob).unwrap()))
    );
    params.config.instructions = Some(InstructionsInput::BlobRef {
        blob_ref: "sha256:nope".into(),
    });
    refused(prepare_session(&params), "invalidBlobRef");
    params.config.instructions = Some(InstructionsInput::Text {
        text: String::new(),
    });
    refused(prepare_session(&params), "invalidConfig");
    params.config.instructions = None;
    params.session_id = Some("bad id".into());
    refused(prepare_session(&params), "invalidId");
}

#[test]
fn every_engine_field_has_a_client_name_in_both_scopes() {
    for field in ConfigField::ALL {
        for scope in [Scope::Config, Scope::Overrides] {
            let name = api_field(*field, scope);
            // Wire names are camelCase; an engine path has an underscore or
            // (model.model) happens to be spelt the same.
            assert!(
                !name.contains('_'),
                "{field:?} in {scope:?} reaches clients as {name}"
            );
        }
    }
}

#[test]
fn a_config_error_naming_no_engine_field_is_an_internal_error() {
    let err = config_error(
        &ConfigError::Zero {
            field: "context.not_a_field",
        },
        Scope::Config,
        "config.",
    );
    assert_eq!(err.kind(), ErrorKind::Internal, "{err}");
}
