//! Session config, config patches and run overrides: API inputs to engine config.
//!
//! `generation.reasoningEffort` is not an engine concept: it becomes the
//! `reasoning_effort` provider param, which every API kind's params accept. The
//! resulting params are validated by the llm-runtime adapter of the route's API kind
//! before the backend hands anything to the engine.

use api::ApiError;
use api::types::run::{RunLimitsInput, RunOverridesInput};
use api::types::session::{
    CompactionPolicy, ContextInput, FilesystemMode, InstructionsInput, ModelRouteInput,
    ReasoningEffort, SessionBudget as SessionBudgetInput, SessionPatch, SessionStartParams,
    ToolChoiceInput,
};
use engine::SessionId;
use engine::core::config::{
    CompactionMode, ConfigError, ConfigField, ConfigPatch, ContextPolicy, GenerationConfig,
    ModelRoute, ProviderParams, RunLimits, RunLimitsPatch, RunOverrides, SessionBudget,
    SessionConfig, TURN_OUTPUT_TOKENS_MAX_DEFAULT, ToolChoice,
};
use engine::core::limits::{
    PROVIDER_PARAMS_BYTES_MAX, RUN_COST_NANOS_MAX, SESSION_COST_NANOS_MAX, TEXT_FIELD_BYTES_MAX,
};
use serde_json::{Map, Value};

use super::cost::{nanos_to_usd, usd_to_nanos};
use super::{TextOrRef, parse_ref};

/// The provider param that `reasoningEffort` sets.
const REASONING_EFFORT_PARAM: &str = "reasoning_effort";

/// A validated `session/start`: what the backend needs to build `OpenSession`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedSession {
    /// The client's id; `None` when the backend must choose one.
    pub session_id: Option<SessionId>,
    pub config: SessionConfig,
    /// The backend stores text in the CAS (or checks the ref exists) and passes an
    /// `ItemSpec { kind: Instructions, .. }` as `OpenSession.instructions`.
    pub instructions: Option<TextOrRef>,
    /// Not engine config: the backend keeps it with the session's host settings.
    pub filesystem: FilesystemMode,
    /// Register the durable time tools (`sleep`, `wait_until`, `wake_me_at`).
    pub timers: bool,
    /// Not engine config either: whether the backend registers the schedule tools.
    pub schedules: bool,
    /// Nor this: whether the backend registers the sub-agent tools.
    pub agents: bool,
}

/// Validates `session/start` params into an engine config.
pub fn prepare_session(params: &SessionStartParams) -> Result<PreparedSession, ApiError> {
    let session_id = params
        .session_id
        .as_deref()
        .map(super::session_id)
        .transpose()?;
    let input = &params.config;
    let generation = &input.generation;
    let provider_params = params_with_effort(
        generation.provider_params.clone().unwrap_or_default(),
        generation.reasoning_effort,
        Precedence::ExplicitParams,
    )?;
    let config = SessionConfig {
        model: model_route(&input.model),
        generation: GenerationConfig {
            output_tokens_max: generation
                .max_output_tokens
                .unwrap_or(TURN_OUTPUT_TOKENS_MAX_DEFAULT),
            tool_choice: generation
                .tool_choice
                .as_ref()
                .map(tool_choice)
                .unwrap_or_default(),
            provider_params,
        },
        context: context_policy(&input.context, ContextPolicy::default()),
        run_limits: RunLimits::default()
            .patched(&limits_patch(&input.run_defaults, "config.runDefaults.")?),
        tool_policy: input
            .tool_policy
            .as_ref()
            .map(super::tool_policy)
            .unwrap_or_default(),
        budget: input
            .budget
            .as_ref()
            .map(|budget| session_budget(budget, "config.budget."))
            .transpose()?
            .unwrap_or_default(),
    };
    config
        .validate()
        .map_err(|err| config_error(&err, Scope::Config, "config."))?;
    check_params(
        &config.model.api_kind,
        &config.generation.provider_params,
        "config.model.apiKind",
        "config.generation.providerParams",
    )?;
    let instructions = match &input.instructions {
        None => None,
        Some(InstructionsInput::Text { text }) if text.is_empty() => {
            return Err(
                ApiError::invalid_params("config.instructions.text must not be empty")
                    .with_reason("invalidConfig"),
            );
        }
        Some(InstructionsInput::Text { text }) => Some(TextOrRef::Text(text.clone())),
        Some(InstructionsInput::BlobRef { blob_ref }) => Some(TextOrRef::Ref(parse_ref(
            "config.instructions.blobRef",
            blob_ref,
        )?)),
    };
    Ok(PreparedSession {
        session_id,
        config,
        instructions,
        filesystem: input.tools.filesystem,
        timers: input.tools.timers,
        schedules: input.tools.schedules,
        agents: input.tools.agents,
    })
}

/// Turns a `session/update` patch into an engine [`ConfigPatch`] against `current`,
/// the config at the revision the client names (the engine refuses the patch if the
/// revision moved, so `current` is what it will be applied to).
///
/// `generation.providerParams` replaces the params; `reasoningEffort` alone sets
/// `reasoning_effort` in the current params. Params are re-validated whenever they
/// or the route's API kind change; a patch that touches neither never fails on them.
pub fn config_patch(
    current: &SessionConfig,
    patch: &SessionPatch,
) -> Result<ConfigPatch, ApiError> {
    let generation = patch.generation.as_ref();
    let provider_params = match generation {
        Some(generation) => match (&generation.provider_params, generation.reasoning_effort) {
            (Some(explicit), effort) => Some(params_with_effort(
                explicit.clone(),
                effort,
                Precedence::ExplicitParams,
            )?),
            (None, Some(effort)) => Some(params_with_effort(
                params_object(&current.generation.provider_params),
                Some(effort),
                Precedence::Effort,
            )?),
            (None, None) => None,
        },
        None => None,
    };
    let engine_patch = ConfigPatch {
        model: patch.model.as_ref().map(model_route),
        output_tokens_max: generation.and_then(|generation| generation.max_output_tokens),
        tool_choice: generation
            .and_then(|generation| generation.tool_choice.as_ref())
            .map(tool_choice),
        provider_params,
        context: patch
            .context
            .map(|context| context_policy(&context, current.context)),
        run_limits: patch
            .run_defaults
            .as_ref()
            .map(|limits| non_empty_limits(limits, "patch.runDefaults."))
            .transpose()?
            .flatten(),
        tool_policy: patch.tool_policy.as_ref().map(super::tool_policy),
        budget: patch
            .budget
            .as_ref()
            .map(|budget| session_budget(budget, "patch.budget."))
            .transpose()?,
    };
    let next = current.patched(&engine_patch);
    next.validate()
        .map_err(|err| config_error(&err, Scope::Config, "patch."))?;
    let kind_changed = next.model.api_kind != current.model.api_kind;
    if kind_changed || engine_patch.provider_params.is_some() {
        let what = if engine_patch.provider_params.is_some() {
            "patch.generation.providerParams".to_owned()
        } else {
            format!(
                "the session's provider params (the patch changes the API kind to {}; \
                 set patch.generation.providerParams for it)",
                next.model.api_kind
            )
        };
        check_params(
            &next.model.api_kind,
            &next.generation.provider_params,
            "patch.model.apiKind",
            &what,
        )?;
    }
    Ok(engine_patch)
}

/// Turns `run/start` overrides into engine [`RunOverrides`] on top of `session`.
///
/// `reasoningEffort` becomes a provider-params override: the session's params with
/// `reasoning_effort` set, validated for the run's API kind. A model override is
/// checked against the params the run will use, so a run whose params its provider
/// would refuse is refused here rather than failing at its first generation.
pub fn run_overrides(
    session: &SessionConfig,
    overrides: Option<&RunOverridesInput>,
) -> Result<RunOverrides, ApiError> {
    let Some(input) = overrides else {
        return Ok(RunOverrides::default());
    };
    let provider_params = input
        .reasoning_effort
        .map(|effort| {
            params_with_effort(
                params_object(&session.generation.provider_params),
                Some(effort),
                Precedence::Effort,
            )
        })
        .transpose()?;
    let result = RunOverrides {
        model: input.model.as_ref().map(model_route),
        output_tokens_max: input.max_output_tokens,
        tool_choice: None,
        provider_params,
        limits: input
            .limits
            .as_ref()
            .map(|limits| non_empty_limits(limits, "overrides.limits."))
            .transpose()?
            .flatten(),
    };
    result
        .validate(session)
        .map_err(|err| config_error(&err, Scope::Overrides, "overrides."))?;
    if result.model.is_some() || result.provider_params.is_some() {
        let api_kind = result
            .model
            .as_ref()
            .map_or(&session.model.api_kind, |model| &model.api_kind);
        let params = result
            .provider_params
            .as_ref()
            .unwrap_or(&session.generation.provider_params);
        let what =
            format!("the run's provider params (the session's, with overrides) for {api_kind}");
        check_params(api_kind, params, "overrides.model.apiKind", &what)?;
    }
    Ok(result)
}

/// Which side wins when `reasoningEffort` and explicit params both set the param.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Precedence {
    /// Both come from one input: the explicit `providerParams` entry wins.
    ExplicitParams,
    /// The effort overrides params from an earlier layer (session config).
    Effort,
}

fn params_with_effort(
    mut params: Map<String, Value>,
    effort: Option<ReasoningEffort>,
    precedence: Precedence,
) -> Result<ProviderParams, ApiError> {
    if let Some(effort) = effort {
        let value = effort_value(effort)?;
        match precedence {
            Precedence::ExplicitParams => {
                params.entry(REASONING_EFFORT_PARAM).or_insert(value);
            }
            Precedence::Effort => {
                params.insert(REASONING_EFFORT_PARAM.to_owned(), value);
            }
        }
    }
    Ok(ProviderParams(Value::Object(params)))
}

/// The wire spelling comes from the runtime's own type, so it cannot drift.
fn effort_value(effort: ReasoningEffort) -> Result<Value, ApiError> {
    use llm_runtime::params::ReasoningEffort as Runtime;
    let effort = match effort {
        ReasoningEffort::Minimal => Runtime::Minimal,
        ReasoningEffort::Low => Runtime::Low,
        ReasoningEffort::Medium => Runtime::Medium,
        ReasoningEffort::High => Runtime::High,
    };
    serde_json::to_value(effort)
        .map_err(|err| ApiError::internal(format!("encoding a reasoning effort failed: {err}")))
}

/// Stored params are always an object (the engine refuses anything else).
fn params_object(params: &ProviderParams) -> Map<String, Value> {
    params.0.as_object().cloned().unwrap_or_default()
}

/// Checks that `api_kind` is one the runtime speaks, then `params` against it.
fn check_params(
    api_kind: &str,
    params: &ProviderParams,
    kind_field: &str,
    what: &str,
) -> Result<(), ApiError> {
    // Empty params are valid for every known API kind, so this fails only on the kind.
    if llm_runtime::validate_provider_params(api_kind, &ProviderParams::default()).is_err() {
        return Err(ApiError::invalid_params(format!(
            "{kind_field}: unknown API kind {api_kind:?}; use openai:responses, \
             openai:completions or anthropic:messages"
        ))
        .with_reason("invalidConfig"));
    }
    llm_runtime::validate_provider_params(api_kind, params).map_err(|err| {
        ApiError::invalid_params(format!("{what}: {err}")).with_reason("invalidProviderParams")
    })
}

fn model_route(input: &ModelRouteInput) -> ModelRoute {
    ModelRoute {
        provider_id: input.provider_id.clone(),
        api_kind: input.api_kind.clone(),
        model: input.model.clone(),
    }
}

fn tool_choice(input: &ToolChoiceInput) -> ToolChoice {
    match input {
        ToolChoiceInput::Auto => ToolChoice::Auto,
        ToolChoiceInput::None => ToolChoice::None,
        ToolChoiceInput::Required => ToolChoice::Required,
        ToolChoiceInput::Tool { name } => ToolChoice::Tool { name: name.clone() },
    }
}

/// Unset fields keep `base`'s value.
fn context_policy(input: &ContextInput, base: ContextPolicy) -> ContextPolicy {
    ContextPolicy {
        compaction: input
            .compaction
            .map_or(base.compaction, |policy| match policy {
                CompactionPolicy::Auto => CompactionMode::Auto,
                CompactionPolicy::Manual => CompactionMode::Manual,
            }),
        high_watermark_tokens: input
            .compaction_threshold_tokens
            .unwrap_or(base.high_watermark_tokens),
    }
}

/// `prefix` is where the client put the limits, for errors.
fn limits_patch(input: &RunLimitsInput, prefix: &str) -> Result<RunLimitsPatch, ApiError> {
    Ok(RunLimitsPatch {
        turns_max: input.max_turns,
        tool_batches_max: input.max_tool_rounds,
        output_tokens_max: input.max_output_tokens,
        cost_nanos_max: input
            .max_cost_usd
            .map(|usd| usd_to_nanos(&format!("{prefix}maxCostUsd"), usd, RUN_COST_NANOS_MAX))
            .transpose()?,
    })
}

/// `None` for a patch that sets nothing, so `{}` and an absent field are the same
/// run request (the engine's idempotency digest covers the overrides).
fn non_empty_limits(
    input: &RunLimitsInput,
    prefix: &str,
) -> Result<Option<RunLimitsPatch>, ApiError> {
    let patch = limits_patch(input, prefix)?;
    Ok((patch != RunLimitsPatch::default()).then_some(patch))
}

fn session_budget(input: &SessionBudgetInput, prefix: &str) -> Result<SessionBudget, ApiError> {
    let cost_nanos_max = input
        .max_cost_usd
        .map(|usd| usd_to_nanos(&format!("{prefix}maxCostUsd"), usd, SESSION_COST_NANOS_MAX))
        .transpose()?;
    Ok(SessionBudget { cost_nanos_max })
}

/// The engine's budget as clients read it in `config.budget`.
pub(crate) fn session_budget_view(budget: &SessionBudget) -> SessionBudgetInput {
    SessionBudgetInput {
        max_cost_usd: budget.cost_nanos_max.map(nanos_to_usd),
    }
}

/// Where a config value came from, which decides its client-facing name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A session config (start, patch, or the engine's own check at admission).
    Config,
    /// Run overrides.
    Overrides,
}

/// The client's name for an engine config field (engine names are snake_case and
/// structured differently: `run_limits` is `runDefaults` or `limits`). Exhaustive,
/// so a field the engine adds fails to compile here instead of reaching a client
/// under its engine name.
fn api_field(field: ConfigField, scope: Scope) -> &'static str {
    match (field, scope) {
        (ConfigField::ModelProviderId, _) => "model.providerId",
        (ConfigField::ModelApiKind, _) => "model.apiKind",
        (ConfigField::ModelModel, _) => "model.model",
        (ConfigField::GenerationOutputTokensMax, _) => "generation.maxOutputTokens",
        (ConfigField::ContextHighWatermarkTokens, _) => "context.compactionThresholdTokens",
        (ConfigField::OverridesOutputTokensMax, _) => "maxOutputTokens",
        (ConfigField::RunLimitsTurnsMax, Scope::Config) => "runDefaults.maxTurns",
        (ConfigField::RunLimitsToolRoundsMax, Scope::Config) => "runDefaults.maxToolRounds",
        (ConfigField::RunLimitsOutputTokensMax, Scope::Config) => "runDefaults.maxOutputTokens",
        (ConfigField::RunLimitsTurnsMax, Scope::Overrides) => "limits.maxTurns",
        (ConfigField::RunLimitsToolRoundsMax, Scope::Overrides) => "limits.maxToolRounds",
        (ConfigField::RunLimitsOutputTokensMax, Scope::Overrides) => "limits.maxOutputTokens",
        (ConfigField::ToolPolicyRules, _) => "toolPolicy.rules",
        (ConfigField::ToolPolicyApprovalTimeoutMs, _) => "toolPolicy.approvalTimeoutMs",
        (ConfigField::RunLimitsCostNanosMax, Scope::Config) => "runDefaults.maxCostUsd",
        (ConfigField::RunLimitsCostNanosMax, Scope::Overrides) => "limits.maxCostUsd",
        (ConfigField::BudgetCostNanosMax, _) => "budget.maxCostUsd",
    }
}

/// An engine [`ConfigError`] in the client's vocabulary, fields prefixed by `prefix`.
pub(crate) fn config_error(err: &ConfigError, scope: Scope, prefix: &str) -> ApiError {
    let (field, what) = match err {
        ConfigError::Empty { field } => (*field, "must not be empty".to_owned()),
        ConfigError::TooLong { field } => (
            *field,
            format!("is longer than {TEXT_FIELD_BYTES_MAX} bytes"),
        ),
        ConfigError::Zero { field } => (*field, "must be at least 1".to_owned()),
        // Costs are nano-USD in the engine and USD on the wire.
        ConfigError::TooLarge { field, max }
            if [
                ConfigField::RunLimitsCostNanosMax,
                ConfigField::BudgetCostNanosMax,
            ]
            .iter()
            .any(|cost| cost.path() == *field) =>
        {
            (
                *field,
                format!("must be at most {} USD", nanos_to_usd(*max)),
            )
        }
        ConfigError::TooLarge { field, max } => (*field, format!("must be at most {max}")),
        ConfigError::ParamsTooLarge => {
            return invalid_config(format!(
                "{prefix}generation.providerParams is larger than \
                 {PROVIDER_PARAMS_BYTES_MAX} bytes"
            ));
        }
        ConfigError::ParamsNotObject => {
            return invalid_config(format!(
                "{prefix}generation.providerParams must be a JSON object"
            ));
        }
        ConfigError::InvalidToolChoice { name } => {
            return invalid_config(format!(
                "{prefix}generation.toolChoice names tool {name:?}, which is not a valid \
                 tool name (1-64 of A-Z a-z 0-9 _ -)"
            ));
        }
        ConfigError::InvalidToolPattern { pattern } => {
            return invalid_config(format!(
                "{prefix}toolPolicy.rules has the pattern {pattern:?}, which is not valid \
                 (1-128 of A-Z a-z 0-9 _ - and * for any run of characters)"
            ));
        }
        ConfigError::OutOfRange { field, min, max } => {
            (*field, format!("must be between {min} and {max}"))
        }
    };
    match ConfigField::from_path(field) {
        Some(field) => invalid_config(format!("{prefix}{} {what}", api_field(field, scope))),
        // The engine names fields only through `ConfigField`, so this is a
        // hand-built error: a bug to report, not a client mistake to word.
        None => ApiError::internal(format!(
            "config error names {field:?}, which is not an engine config field"
        )),
    }
}

pub(crate) fn invalid_config(message: String) -> ApiError {
    ApiError::invalid_params(message).with_reason("invalidConfig")
}

#[cfg(test)]
#[path = "patch_tests.rs"]
mod patch_tests;
#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
