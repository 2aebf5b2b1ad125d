//! Server ceilings: a deployment's bounds on what a session's config or a run may ask
//! for, at or below the engine's hard ceilings (`engine::core::limits`), which hold
//! for every deployment. They are checked before anything is admitted and refused
//! exactly as the engine's own ceilings are (-32602 `invalidConfig`, the field named
//! as the client spells it), so a client cannot tell one from the other and need
//! not: either way the value is too large here.

use api::ApiError;
use engine::core::config::{
    ConfigError, ConfigField, ConfigPatch, ProviderParams, RunLimits, RunOverrides, SessionConfig,
};
use engine::core::limits::{
    PROVIDER_PARAMS_BYTES_MAX, RUN_OUTPUT_TOKENS_MAX, RUN_TOOL_BATCHES_MAX, RUN_TURNS_MAX,
};

use super::config::{Scope, config_error, invalid_config};

/// A deployment's ceilings. Each defaults to the engine's own, so an unconfigured
/// deployment refuses exactly what the engine refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfigCeilings {
    /// Turns one run may take (`maxTurns`). Default and upper bound: the engine's
    /// 10,000.
    pub run_turns_max: u64,
    /// Tool rounds one run may take (`maxToolRounds`). Default and upper bound: the
    /// engine's 10,000.
    pub run_tool_batches_max: u64,
    /// Output tokens one run may spend over its turns (`maxOutputTokens` of run
    /// limits). Default and upper bound: the engine's 100,000,000.
    pub run_output_tokens_max: u64,
    /// `generation.providerParams` as compact JSON, bytes. Default and upper bound:
    /// the engine's 16 KiB.
    pub provider_params_bytes_max: u64,
}

impl Default for ConfigCeilings {
    fn default() -> Self {
        Self {
            run_turns_max: RUN_TURNS_MAX,
            run_tool_batches_max: RUN_TOOL_BATCHES_MAX,
            run_output_tokens_max: RUN_OUTPUT_TOKENS_MAX,
            provider_params_bytes_max: PROVIDER_PARAMS_BYTES_MAX as u64,
        }
    }
}

impl ConfigCeilings {
    /// Checks a new session's config (`prefix`: where the client put it, `config.`).
    pub fn check_config(&self, config: &SessionConfig, prefix: &str) -> Result<(), ApiError> {
        self.check_limits(&config.run_limits, Scope::Config, prefix)?;
        self.check_params(&config.generation.provider_params, || {
            format!("{prefix}generation.providerParams")
        })
    }

    /// Checks what `patch` changes (`prefix`: `patch.`); values it leaves alone were
    /// accepted before and stay, even under a ceiling lowered since (runs are
    /// checked when they start).
    pub fn check_patch(
        &self,
        current: &SessionConfig,
        patch: &ConfigPatch,
        prefix: &str,
    ) -> Result<(), ApiError> {
        let next = current.patched(patch);
        if patch.run_limits.is_some() {
            self.check_limits(&next.run_limits, Scope::Config, prefix)?;
        }
        if patch.provider_params.is_some() {
            self.check_params(&next.generation.provider_params, || {
                format!("{prefix}generation.providerParams")
            })?;
        }
        Ok(())
    }

    /// Checks the budgets and params a run would get: the session's, patched by the
    /// run's overrides, as the engine fixes them when it queues the run.
    pub fn check_run(
        &self,
        session: &SessionConfig,
        overrides: &RunOverrides,
    ) -> Result<(), ApiError> {
        let limits = session
            .run_limits
            .patched(&overrides.limits.unwrap_or_default());
        self.check_limits(&limits, Scope::Overrides, "overrides.")?;
        let params = overrides
            .provider_params
            .as_ref()
            .unwrap_or(&session.generation.provider_params);
        self.check_params(params, || {
            "the run's provider params (the session's, with overrides)".to_owned()
        })
    }

    fn check_limits(&self, limits: &RunLimits, scope: Scope, prefix: &str) -> Result<(), ApiError> {
        let checks = [
            (
                ConfigField::RunLimitsTurnsMax,
                u64::from(limits.turns_max),
                self.run_turns_max,
            ),
            (
                ConfigField::RunLimitsToolRoundsMax,
                u64::from(limits.tool_batches_max),
                self.run_tool_batches_max,
            ),
            (
                ConfigField::RunLimitsOutputTokensMax,
                limits.output_tokens_max,
                self.run_output_tokens_max,
            ),
        ];
        for (field, value, max) in checks {
            if value > max {
                let err = ConfigError::TooLarge {
                    field: field.path(),
                    max,
                };
                return Err(config_error(&err, scope, prefix));
            }
        }
        Ok(())
    }

    /// The params were checked against the engine's ceiling before (they are at
    /// most 16 KiB), so encoding them to measure is cheap.
    fn check_params(
        &self,
        params: &ProviderParams,
        what: impl FnOnce() -> String,
    ) -> Result<(), ApiError> {
        let len = serde_json::to_vec(&params.0).map_or(u64::MAX, |bytes| bytes.len() as u64);
        if len > self.provider_params_bytes_max {
            return Err(invalid_config(format!(
                "{} is larger than {} bytes",
                what(),
                self.provider_params_bytes_max
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use api::types::session::SessionStartParams;
    use serde_json::json;

    use super::*;
    use crate::inputs::prepare_session;

    fn config(run_defaults: serde_json::Value, params: serde_json::Value) -> SessionConfig {
        let start: SessionStartParams = serde_json::from_value(json!({
            "config": {
                "model": {"providerId": "p", "apiKind": "openai:responses", "model": "m"},
                "generation": {"providerParams": params},
                "runDefaults": run_defaults,
            }
        }))
        .unwrap_or_else(|err| panic!("{err}"));
        prepare_session(&start)
            .unwrap_or_else(|err| panic!("{err}"))
            .config
    }

    fn low() -> ConfigCeilings {
        ConfigCeilings {
            run_turns_max: 10,
            run_tool_batches_max: 5,
            run_output_tokens_max: 1_000,
            provider_params_bytes_max: 64,
        }
    }

    fn refused(result: Result<(), ApiError>, names: &str) {
        let err = result
            .err()
            .unwrap_or_else(|| panic!("{names} was accepted"));
        assert_eq!(err.code(), -32602, "{err:?}");
        assert_eq!(err.data.reason.as_deref(), Some("invalidConfig"), "{err:?}");
        assert!(err.message.contains(names), "{names}: {}", err.message);
    }

    #[test]
    fn defaults_are_the_engine_ceilings() {
        let at_engine_max = config(
            json!({"maxTurns": RUN_TURNS_MAX, "maxToolRounds": RUN_TOOL_BATCHES_MAX,
                   "maxOutputTokens": RUN_OUTPUT_TOKENS_MAX}),
            json!({}),
        );
        assert!(
            ConfigCeilings::default()
                .check_config(&at_engine_max, "config.")
                .is_ok()
        );
    }

    #[test]
    fn configs_over_a_ceiling_are_refused_naming_the_field() {
        let ceilings = low();
        let at = config(
            json!({"maxTurns": 10, "maxToolRounds": 5, "maxOutputTokens": 1_000}),
            json!({"service_tier": "auto"}),
        );
        assert!(ceilings.check_config(&at, "config.").is_ok());
        for (defaults, field) in [
            (
                json!({"maxTurns": 11, "maxToolRounds": 5, "maxOutputTokens": 1_000}),
                "config.runDefaults.maxTurns",
            ),
            (
                json!({"maxTurns": 10, "maxToolRounds": 6, "maxOutputTokens": 1_000}),
                "config.runDefaults.maxToolRounds",
            ),
            (
                json!({"maxTurns": 10, "maxToolRounds": 5, "maxOutputTokens": 1_001}),
                "config.runDefaults.maxOutputTokens",
            ),
        ] {
            let over = config(defaults, json!({}));
            refused(ceilings.check_config(&over, "config."), field);
        }
        let long = config(
            json!({"maxTurns": 1, "maxToolRounds": 1, "maxOutputTokens": 1}),
            json!({"service_tier": "x".repeat(64)}),
        );
        refused(
            ceilings.check_config(&long, "config."),
            "config.generation.providerParams",
        );
    }

    #[test]
    fn runs_are_checked_as_queued_and_patches_by_what_they_change() {
        let ceilings = low();
        let generous = config(json!({"maxTurns": 50}), json!({}));
        let mut overrides = RunOverrides::default();
        // The session's defaults (accepted under an earlier ceiling) bind the run...
        refused(ceilings.check_run(&generous, &overrides), "limits.maxTurns");
        // ...unless the run's own limits bring it under.
        overrides.limits = Some(engine::core::config::RunLimitsPatch {
            turns_max: Some(10),
            tool_batches_max: Some(5),
            output_tokens_max: Some(1_000),
            cost_nanos_max: None,
        });
        assert!(ceilings.check_run(&generous, &overrides).is_ok());
        // A patch of another field leaves old values alone; one of the limits does not.
        let other_field = ConfigPatch {
            output_tokens_max: Some(100),
            ..ConfigPatch::default()
        };
        assert!(
            ceilings
                .check_patch(&generous, &other_field, "patch.")
                .is_ok()
        );
        let turns = ConfigPatch {
            run_limits: Some(engine::core::config::RunLimitsPatch {
                turns_max: Some(11),
                ..Default::default()
            }),
            ..ConfigPatch::default()
        };
        refused(
            ceilings.check_patch(&generous, &turns, "patch."),
            "patch.runDefaults.maxTurns",
        );
    }
}
