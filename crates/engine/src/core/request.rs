//! The generation request and its fingerprint.
//!
//! A host never ships a request across a process boundary: it ships the log position
//! of the `turn.planned` entry and the fingerprint. The receiver rebuilds the request
//! from state at that position with [`GenerationRequest::rebuild`] and checks the
//! fingerprint, which detects any drift between planner and executor.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::core::command::Rejection;
use crate::core::refresh::ContextRefresh;
use sha2::{Digest, Sha256};

use crate::blob_ref::BlobRef;
use crate::core::config::{ModelRoute, ProviderParams, ToolChoice};
use crate::core::context::{ContextDigest, ContextItem};
use crate::core::control::ControlState;
use crate::core::run::{ActiveRun, RunPhase};
use crate::core::state::SessionState;
use crate::core::tools::ToolSpec;
use crate::ids::{RunId, SessionId};

/// SHA-256 of a request's canonical fingerprint form, as `sha256:<hex>`. A digest, not
/// the address of a stored blob.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(BlobRef);

impl Fingerprint {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Everything a provider adapter needs to materialise one generation, by reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationRequest {
    pub session_id: SessionId,
    pub run_id: RunId,
    pub turn: u32,
    pub model: ModelRoute,
    pub output_tokens_max: u32,
    pub tool_choice: ToolChoice,
    pub provider_params: ProviderParams,
    pub tools: Vec<ToolSpec>,
    /// Context items in planned order.
    pub items: Vec<ContextItem>,
}

/// The form that is hashed: the request with its item list replaced by the item
/// count and [`ContextDigest`], which the bounded control state can also compute.
#[derive(Serialize)]
struct FingerprintForm<'a> {
    session_id: &'a SessionId,
    run_id: &'a RunId,
    turn: u32,
    model: &'a ModelRoute,
    output_tokens_max: u32,
    tool_choice: &'a ToolChoice,
    provider_params: &'a ProviderParams,
    tools: &'a [ToolSpec],
    context_items: u64,
    context_digest: ContextDigest,
}

impl FingerprintForm<'_> {
    fn fingerprint(&self) -> Fingerprint {
        let digest = Sha256::digest(crate::canonical::to_vec(self));
        Fingerprint(BlobRef::from_digest(&digest))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    #[error("no generation is planned at entry {head}")]
    NoPlannedTurn { head: u64 },
    #[error("rebuilt request has fingerprint {rebuilt}, but {planned} was planned")]
    FingerprintMismatch { planned: String, rebuilt: String },
}

/// Model, output cap, tool choice and params of the active run's next generation.
pub(crate) struct TurnSettings<'a> {
    pub(crate) model: &'a ModelRoute,
    pub(crate) output_tokens_max: u32,
    pub(crate) tool_choice: &'a ToolChoice,
    pub(crate) provider_params: &'a ProviderParams,
}

/// Session defaults overlaid with the run's overrides; the output cap is clipped to
/// the run's remaining output budget so the limit is enforced up front.
pub(crate) fn turn_settings<'a>(
    control: &'a ControlState,
    run: &'a ActiveRun,
) -> Option<TurnSettings<'a>> {
    let config = control.config.as_ref()?;
    let overrides = &run.overrides;
    let turn_cap = overrides
        .output_tokens_max
        .unwrap_or(config.generation.output_tokens_max);
    let remaining = run
        .limits
        .output_tokens_max
        .saturating_sub(run.usage.output_tokens);
    Some(TurnSettings {
        model: overrides.model.as_ref().unwrap_or(&config.model),
        output_tokens_max: u32::try_from(remaining).map_or(turn_cap, |left| turn_cap.min(left)),
        tool_choice: overrides
            .tool_choice
            .as_ref()
            .unwrap_or(&config.generation.tool_choice),
        provider_params: overrides
            .provider_params
            .as_ref()
            .unwrap_or(&config.generation.provider_params),
    })
}

/// The fingerprint of the request for `turn` of the active run, from control state.
pub(crate) fn planned_fingerprint(
    control: &ControlState,
    session_id: &SessionId,
    run: &ActiveRun,
    turn: u32,
    settings: &TurnSettings<'_>,
) -> Fingerprint {
    FingerprintForm {
        session_id,
        run_id: &run.run_id,
        turn,
        model: settings.model,
        output_tokens_max: settings.output_tokens_max,
        tool_choice: settings.tool_choice,
        provider_params: settings.provider_params,
        tools: &control.tools,
        context_items: control.context.item_count,
        context_digest: control.context.digest,
    }
    .fingerprint()
}

impl GenerationRequest {
    /// Rebuilds the request of the generation planned at `state`'s head (state must be
    /// replayed exactly to the `turn.planned` entry) and checks it against the
    /// fingerprint that was planned.
    pub fn rebuild(state: &SessionState) -> Result<Self, RebuildError> {
        let control = &state.control;
        let no_turn = || RebuildError::NoPlannedTurn { head: control.head };
        let run = control.runs.active.as_ref().ok_or_else(no_turn)?;
        let RunPhase::Generating {
            turn, fingerprint, ..
        } = &run.phase
        else {
            return Err(no_turn());
        };
        let session_id = control.session_id.as_ref().ok_or_else(no_turn)?;
        let settings = turn_settings(control, run).ok_or_else(no_turn)?;
        let request = Self {
            session_id: session_id.clone(),
            run_id: run.run_id.clone(),
            turn: *turn,
            model: settings.model.clone(),
            output_tokens_max: settings.output_tokens_max,
            tool_choice: settings.tool_choice.clone(),
            provider_params: settings.provider_params.clone(),
            tools: control.tools.clone(),
            items: state.context.items().to_vec(),
        };
        let rebuilt = request.fingerprint();
        if rebuilt != *fingerprint {
            return Err(RebuildError::FingerprintMismatch {
                planned: fingerprint.to_string(),
                rebuilt: rebuilt.to_string(),
            });
        }
        Ok(request)
    }

    /// The request with a context refresh applied, numbered exactly as the engine
    /// will record it when the generation's result carries `refresh`. `state` is the
    /// state the request was rebuilt from.
    pub fn refreshed(
        mut self,
        state: &SessionState,
        refresh: &ContextRefresh,
    ) -> Result<Self, Rejection> {
        if refresh.is_empty() {
            return Ok(self);
        }
        refresh.check()?;
        let context = &state.control.context;
        refresh
            .resolve(&context.keyed, context.next_ordinal)?
            .apply_to(&mut self.items);
        Ok(self)
    }

    /// Fingerprint computed from this request's own items.
    pub fn fingerprint(&self) -> Fingerprint {
        FingerprintForm {
            session_id: &self.session_id,
            run_id: &self.run_id,
            turn: self.turn,
            model: &self.model,
            output_tokens_max: self.output_tokens_max,
            tool_choice: &self.tool_choice,
            provider_params: &self.provider_params,
            tools: &self.tools,
            context_items: self.items.len() as u64,
            context_digest: ContextDigest::of_items(&self.items),
        }
        .fingerprint()
    }

    /// Sum of the items' token estimates.
    pub fn token_estimate(&self) -> u64 {
        self.items.iter().map(|item| item.token_estimate).sum()
    }
}
