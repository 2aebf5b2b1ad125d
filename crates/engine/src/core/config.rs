//! Session configuration: what the planner needs to build a generation intent.
//! Provider vocabulary stays out: `provider_params` is opaque JSON that the
//! llm-runtime adapter of the route's API kind validates before admission.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::core::policy::ToolPolicy;

use crate::core::limits::{
    GENERATION_OUTPUT_TOKENS_MAX, HIGH_WATERMARK_TOKENS_MAX, PROVIDER_PARAMS_BYTES_MAX,
    RUN_COST_NANOS_MAX, RUN_OUTPUT_TOKENS_MAX, RUN_TOOL_BATCHES_MAX, RUN_TURNS_MAX,
    SESSION_COST_NANOS_MAX, TEXT_FIELD_BYTES_MAX,
};

/// Which provider, API kind and model serve generations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelRoute {
    /// Deployment-config key of the provider (endpoint and credentials live there).
    pub provider_id: String,
    /// Wire API, e.g. `openai:responses`, `openai:completions`, `anthropic:messages`.
    pub api_kind: String,
    pub model: String,
}

/// How the model may use tools.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ToolChoice {
    #[default]
    Auto,
    None,
    Required,
    Tool {
        name: String,
    },
}

/// Adapter-owned generation parameters, opaque to the engine (always a JSON object).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ProviderParams(pub Value);

impl Default for ProviderParams {
    fn default() -> Self {
        Self(Value::Object(serde_json::Map::new()))
    }
}

/// Default output-token cap of one generation.
pub const TURN_OUTPUT_TOKENS_MAX_DEFAULT: u32 = 8_192;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationConfig {
    /// Output-token cap of a single generation. Default 8,192.
    #[serde(default = "default_turn_output_tokens_max")]
    pub output_tokens_max: u32,
    #[serde(default)]
    pub tool_choice: ToolChoice,
    #[serde(default)]
    pub provider_params: ProviderParams,
}

fn default_turn_output_tokens_max() -> u32 {
    TURN_OUTPUT_TOKENS_MAX_DEFAULT
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            output_tokens_max: TURN_OUTPUT_TOKENS_MAX_DEFAULT,
            tool_choice: ToolChoice::Auto,
            provider_params: ProviderParams::default(),
        }
    }
}

/// When compaction happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum CompactionMode {
    /// At the high-watermark (between turns or while idle) and on request.
    #[default]
    Auto,
    /// Only on explicit request.
    Manual,
}

/// Default context size, in estimated tokens, at which automatic compaction starts.
pub const HIGH_WATERMARK_TOKENS_DEFAULT: u64 = 150_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextPolicy {
    #[serde(default)]
    pub compaction: CompactionMode,
    /// Default 150,000 estimated tokens.
    #[serde(default = "default_high_watermark_tokens")]
    pub high_watermark_tokens: u64,
}

fn default_high_watermark_tokens() -> u64 {
    HIGH_WATERMARK_TOKENS_DEFAULT
}

impl Default for ContextPolicy {
    fn default() -> Self {
        Self {
            compaction: CompactionMode::Auto,
            high_watermark_tokens: HIGH_WATERMARK_TOKENS_DEFAULT,
        }
    }
}

/// Per-run budgets. Exceeding one fails the run with `limit_exceeded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunLimits {
    /// Generations per run. Default 50.
    pub turns_max: u32,
    /// Tool batches per run. Default 50. Persisted (and named in config errors) as
    /// `tool_rounds_max`, its first name, so stored events and checkpoints still decode.
    #[serde(rename = "tool_rounds_max")]
    pub tool_batches_max: u32,
    /// Output tokens summed over the run's generations. Default 200,000.
    pub output_tokens_max: u64,
    /// Cost of the run's generations, in nano-USD. Default none (no cost budget);
    /// left out when none, so limits written before it encode as they did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_nanos_max: Option<u64>,
}

impl Default for RunLimits {
    fn default() -> Self {
        Self {
            turns_max: 50,
            tool_batches_max: 50,
            output_tokens_max: 200_000,
            cost_nanos_max: None,
        }
    }
}

/// A partial [`RunLimits`]; unset fields keep the session default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunLimitsPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turns_max: Option<u32>,
    #[serde(
        default,
        rename = "tool_rounds_max",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_batches_max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_max: Option<u64>,
    /// Sets a cost budget (a patch cannot remove one: raise it instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_nanos_max: Option<u64>,
}

impl RunLimits {
    pub fn patched(self, patch: &RunLimitsPatch) -> Self {
        Self {
            turns_max: patch.turns_max.unwrap_or(self.turns_max),
            tool_batches_max: patch.tool_batches_max.unwrap_or(self.tool_batches_max),
            output_tokens_max: patch.output_tokens_max.unwrap_or(self.output_tokens_max),
            cost_nanos_max: patch.cost_nanos_max.or(self.cost_nanos_max),
        }
    }
}

/// What a session may spend over all its runs. A run that starts a generation
/// while the session's recorded cost has reached a budget fails with
/// `limit_exceeded` ([`crate::core::run::LimitKind::SessionCost`]). One struct, so
/// budgets of other scopes join it without another config field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionBudget {
    /// Cost of every generation of the session, in nano-USD; none: no budget.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_nanos_max: Option<u64>,
}

impl SessionBudget {
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionConfig {
    pub model: ModelRoute,
    #[serde(default)]
    pub generation: GenerationConfig,
    #[serde(default)]
    pub context: ContextPolicy,
    #[serde(default)]
    pub run_limits: RunLimits,
    /// Which tool calls run, wait for approval or are refused. Left out when it is
    /// the default (allow all), so configs written before it encode as they did.
    #[serde(default, skip_serializing_if = "ToolPolicy::is_default")]
    pub tool_policy: ToolPolicy,
    /// Left out when there is none, so configs written before it encode as they did.
    #[serde(default, skip_serializing_if = "SessionBudget::is_default")]
    pub budget: SessionBudget,
}

/// A revision-checked change to [`SessionConfig`]; unset fields stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ConfigPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRoute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_params: Option<ProviderParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<ContextPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_limits: Option<RunLimitsPatch>,
    /// Replaces the whole policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_policy: Option<ToolPolicy>,
    /// Replaces the whole budget (the default removes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<SessionBudget>,
}

impl SessionConfig {
    pub fn patched(&self, patch: &ConfigPatch) -> Self {
        let mut next = self.clone();
        if let Some(model) = &patch.model {
            next.model = model.clone();
        }
        if let Some(tokens) = patch.output_tokens_max {
            next.generation.output_tokens_max = tokens;
        }
        if let Some(choice) = &patch.tool_choice {
            next.generation.tool_choice = choice.clone();
        }
        if let Some(params) = &patch.provider_params {
            next.generation.provider_params = params.clone();
        }
        if let Some(context) = patch.context {
            next.context = context;
        }
        if let Some(limits) = &patch.run_limits {
            next.run_limits = next.run_limits.patched(limits);
        }
        if let Some(policy) = &patch.tool_policy {
            next.tool_policy = policy.clone();
        }
        if let Some(budget) = patch.budget {
            next.budget = budget;
        }
        next
    }
}

/// Per-run changes to the session defaults, fixed when the run is requested.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RunOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelRoute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_tokens_max: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_params: Option<ProviderParams>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<RunLimitsPatch>,
}

/// Declares [`ConfigField`] and its paths from one list, so a field cannot have a
/// variant without a path or be missing from [`ConfigField::ALL`].
macro_rules! config_fields {
    ($($(#[$doc:meta])* $variant:ident => $path:literal;)*) => {
        /// A configuration value the engine checks, named in [`ConfigError`] by its
        /// [`path`](Self::path). Typed so that whoever renames fields for clients
        /// (api-projection) matches on every one of them: a new field is a compile
        /// error there, never an engine name leaking to a client.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum ConfigField {
            $($(#[$doc])* $variant,)*
        }

        impl ConfigField {
            /// Every field, in declaration order.
            pub const ALL: &'static [ConfigField] = &[$(Self::$variant,)*];

            /// The engine's dotted name, as in [`ConfigError`]'s `field`.
            pub const fn path(self) -> &'static str {
                match self {
                    $(Self::$variant => $path,)*
                }
            }
        }
    };
}

config_fields! {
    ModelProviderId => "model.provider_id";
    ModelApiKind => "model.api_kind";
    ModelModel => "model.model";
    GenerationOutputTokensMax => "generation.output_tokens_max";
    ContextHighWatermarkTokens => "context.high_watermark_tokens";
    /// [`RunOverrides::output_tokens_max`].
    OverridesOutputTokensMax => "overrides.output_tokens_max";
    /// Checked on the session's defaults and on them patched by run overrides.
    RunLimitsTurnsMax => "run_limits.turns_max";
    RunLimitsToolRoundsMax => "run_limits.tool_rounds_max";
    RunLimitsOutputTokensMax => "run_limits.output_tokens_max";
    ToolPolicyRules => "tool_policy.rules";
    ToolPolicyApprovalTimeoutMs => "tool_policy.approval_timeout_ms";
    RunLimitsCostNanosMax => "run_limits.cost_nanos_max";
    BudgetCostNanosMax => "budget.cost_nanos_max";
}

impl ConfigField {
    /// The field named `path`; `None` for a path no [`ConfigField`] has.
    pub fn from_path(path: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|field| field.path() == path)
    }
}

/// Why a configuration value was refused. `field` is a [`ConfigField::path`]; it
/// stays a string so the error reads (and is built in tests) as plain text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is longer than {TEXT_FIELD_BYTES_MAX} bytes")]
    TooLong { field: &'static str },
    #[error("{field} must be at least 1")]
    Zero { field: &'static str },
    #[error("{field} must be at most {max}")]
    TooLarge { field: &'static str, max: u64 },
    #[error("provider_params must be a JSON object")]
    ParamsNotObject,
    #[error("provider_params is larger than {PROVIDER_PARAMS_BYTES_MAX} bytes")]
    ParamsTooLarge,
    #[error("tool_choice names tool {name:?}, which is not a valid tool name")]
    InvalidToolChoice { name: String },
    #[error(
        "tool policy pattern {pattern:?} is not valid: use 1-128 of A-Z a-z 0-9 _ - and * for any run"
    )]
    InvalidToolPattern { pattern: String },
    #[error("{field} must be between {min} and {max}")]
    OutOfRange {
        field: &'static str,
        min: u64,
        max: u64,
    },
}

fn check_text(field: ConfigField, value: &str) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Err(ConfigError::Empty {
            field: field.path(),
        });
    }
    if value.len() > TEXT_FIELD_BYTES_MAX {
        return Err(ConfigError::TooLong {
            field: field.path(),
        });
    }
    Ok(())
}

/// At least 1 and at most `max`.
fn check_bounded(field: ConfigField, value: u64, max: u64) -> Result<(), ConfigError> {
    check_nonzero(field, value)?;
    if value > max {
        return Err(ConfigError::TooLarge {
            field: field.path(),
            max,
        });
    }
    Ok(())
}

fn check_nonzero(field: ConfigField, value: u64) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::Zero {
            field: field.path(),
        })
    } else {
        Ok(())
    }
}

impl ModelRoute {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_text(ConfigField::ModelProviderId, &self.provider_id)?;
        check_text(ConfigField::ModelApiKind, &self.api_kind)?;
        check_text(ConfigField::ModelModel, &self.model)
    }
}

impl ToolChoice {
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Tool { name } if !crate::core::tools::is_valid_tool_name(name) => {
                Err(ConfigError::InvalidToolChoice { name: name.clone() })
            }
            _ => Ok(()),
        }
    }
}

impl ProviderParams {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.0.is_object() {
            return Err(ConfigError::ParamsNotObject);
        }
        // Counted without building the encoding: a writer that only counts.
        let mut counter = ByteCounter(0);
        serde_json::to_writer(&mut counter, &self.0).map_err(|_| ConfigError::ParamsTooLarge)?;
        if counter.0 > PROVIDER_PARAMS_BYTES_MAX {
            return Err(ConfigError::ParamsTooLarge);
        }
        Ok(())
    }
}

/// Counts the bytes written to it; stops counting (with an error) past the params
/// ceiling, so a huge value costs no more than the ceiling to measure.
struct ByteCounter(usize);

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 = self.0.saturating_add(buf.len());
        if self.0 > PROVIDER_PARAMS_BYTES_MAX {
            return Err(std::io::ErrorKind::FileTooLarge.into());
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl RunLimits {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_bounded(
            ConfigField::RunLimitsTurnsMax,
            u64::from(self.turns_max),
            RUN_TURNS_MAX,
        )?;
        // Named by its serialised path (`tool_rounds_max`): clients' field tables key on it.
        check_bounded(
            ConfigField::RunLimitsToolRoundsMax,
            u64::from(self.tool_batches_max),
            RUN_TOOL_BATCHES_MAX,
        )?;
        check_bounded(
            ConfigField::RunLimitsOutputTokensMax,
            self.output_tokens_max,
            RUN_OUTPUT_TOKENS_MAX,
        )?;
        check_cost(
            ConfigField::RunLimitsCostNanosMax,
            self.cost_nanos_max,
            RUN_COST_NANOS_MAX,
        )
    }
}

impl SessionBudget {
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_cost(
            ConfigField::BudgetCostNanosMax,
            self.cost_nanos_max,
            SESSION_COST_NANOS_MAX,
        )
    }
}

/// At most `max`. Zero is a budget too: nothing may be spent, so the next
/// generation is refused (a budget carved out of one that is used up).
fn check_cost(field: ConfigField, value: Option<u64>, max: u64) -> Result<(), ConfigError> {
    match value {
        Some(value) if value > max => Err(ConfigError::TooLarge {
            field: field.path(),
            max,
        }),
        _ => Ok(()),
    }
}

impl SessionConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.model.validate()?;
        check_bounded(
            ConfigField::GenerationOutputTokensMax,
            u64::from(self.generation.output_tokens_max),
            GENERATION_OUTPUT_TOKENS_MAX,
        )?;
        self.generation.tool_choice.validate()?;
        self.generation.provider_params.validate()?;
        check_bounded(
            ConfigField::ContextHighWatermarkTokens,
            self.context.high_watermark_tokens,
            HIGH_WATERMARK_TOKENS_MAX,
        )?;
        self.tool_policy.validate()?;
        self.budget.validate()?;
        self.run_limits.validate()
    }
}

impl RunOverrides {
    /// Validates the overrides as they would apply on top of `base`.
    pub fn validate(&self, base: &SessionConfig) -> Result<(), ConfigError> {
        if let Some(model) = &self.model {
            model.validate()?;
        }
        if let Some(tokens) = self.output_tokens_max {
            check_bounded(
                ConfigField::OverridesOutputTokensMax,
                u64::from(tokens),
                GENERATION_OUTPUT_TOKENS_MAX,
            )?;
        }
        if let Some(choice) = &self.tool_choice {
            choice.validate()?;
        }
        if let Some(params) = &self.provider_params {
            params.validate()?;
        }
        let limits = base.run_limits.patched(&self.limits.unwrap_or_default());
        limits.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_and_params_have_ceilings() {
        let limits = |turns_max, tool_batches_max, output_tokens_max| RunLimits {
            turns_max,
            tool_batches_max,
            output_tokens_max,
            cost_nanos_max: None,
        };
        assert!(limits(1, 1, 1).validate().is_ok());
        let at_ceiling = limits(
            RUN_TURNS_MAX as u32,
            RUN_TOOL_BATCHES_MAX as u32,
            RUN_OUTPUT_TOKENS_MAX,
        );
        assert!(at_ceiling.validate().is_ok());
        for over in [
            limits(u32::MAX, 1, 1),
            limits(1, u32::MAX, 1),
            limits(1, 1, u64::MAX),
        ] {
            assert!(matches!(over.validate(), Err(ConfigError::TooLarge { .. })));
        }
        let small = ProviderParams(serde_json::json!({"stop": ["x"]}));
        assert!(small.validate().is_ok());
        let text = "x".repeat(PROVIDER_PARAMS_BYTES_MAX);
        let large = ProviderParams(serde_json::json!({ "service_tier": text }));
        assert_eq!(large.validate(), Err(ConfigError::ParamsTooLarge));
    }

    #[test]
    fn cost_budgets_may_be_zero_and_have_ceilings() {
        let run = |cost_nanos_max| RunLimits {
            cost_nanos_max,
            ..RunLimits::default()
        };
        assert!(run(None).validate().is_ok());
        assert!(run(Some(0)).validate().is_ok());
        assert!(run(Some(RUN_COST_NANOS_MAX)).validate().is_ok());
        assert_eq!(
            run(Some(RUN_COST_NANOS_MAX + 1)).validate(),
            Err(ConfigError::TooLarge {
                field: "run_limits.cost_nanos_max",
                max: RUN_COST_NANOS_MAX
            })
        );
        let session = |cost_nanos_max| SessionBudget { cost_nanos_max };
        assert!(session(Some(0)).validate().is_ok());
        assert!(matches!(
            session(Some(SESSION_COST_NANOS_MAX + 1)).validate(),
            Err(ConfigError::TooLarge { .. })
        ));
        // A patch sets a budget or keeps the one there; it never removes it.
        let patched = run(Some(5)).patched(&RunLimitsPatch::default());
        assert_eq!(patched.cost_nanos_max, Some(5));
        let patch = RunLimitsPatch {
            cost_nanos_max: Some(7),
            ..RunLimitsPatch::default()
        };
        assert_eq!(run(None).patched(&patch).cost_nanos_max, Some(7));
    }

    #[test]
    fn every_field_has_its_own_path_and_is_found_by_it() {
        for field in ConfigField::ALL {
            assert_eq!(ConfigField::from_path(field.path()), Some(*field));
        }
        assert_eq!(ConfigField::from_path("run_limits"), None);
    }
}
