//! What a generation cost: a price table per provider and model, and the cost of one
//! generation's [`Usage`] in nano-USD (docs/spec/cost.md).
//!
//! Prices are integers, pico-USD per token (which is micro-USD per million tokens),
//! and a cost is summed in pico-USD before it is rounded once to nano-USD, so the
//! same usage and table always give the same number. The runtime prices a
//! generation as its result comes back ([`crate::LlmRuntime::generate`]); the turn
//! records the number, so nothing downstream (replay, budgets, views) ever reads a
//! table.
//!
//! How usage is billed, as both providers bill it:
//! - `input_tokens` counts every input token. Those read from the prompt cache
//!   (`cached_input_tokens`) cost the cached price, those written to it
//!   (`cache_write_input_tokens`, Anthropic) the cache-write price, the rest the
//!   input price.
//! - `output_tokens` counts every output token, reasoning included (OpenAI's
//!   `output_tokens` include `reasoning_tokens`; Anthropic bills thinking as output
//!   without reporting it apart): all at the output price, reasoning never again.
//!
//! What this module leaves out, on purpose: batch and flex discounts (the runtime
//! never uses them), long-context surcharges (Sonnet 4/4.5 above 200K input tokens),
//! 1-hour cache writes (priced as 5-minute ones), and hosted tools' per-call fees
//! (web search, code execution). A deployment whose bill differs sets its own prices
//! ([`file`]).

mod defaults;
pub mod file;

use std::collections::BTreeMap;

use engine::core::run::Usage;
use llm_clients::ApiKind;

pub use file::PricesError;

/// One model's prices, in pico-USD per token (= micro-USD per million tokens).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPrice {
    pub input: u64,
    /// Input read from the provider's prompt cache.
    pub cached_input: u64,
    /// Input written to the provider's prompt cache (Anthropic's 5-minute writes).
    pub cache_write_input: u64,
    /// Every output token, reasoning included.
    pub output: u64,
}

/// Pico-USD in one nano-USD: prices are per pico-USD, costs in nano-USD.
const PICOS_PER_NANO: u128 = 1_000;

impl ModelPrice {
    /// Prices from USD per million tokens (cached input and cache writes given
    /// apart), as providers publish them; `None` unless each is finite, at least 0
    /// and at most [`file::USD_PER_MILLION_MAX`].
    pub fn from_usd_per_million(
        input: f64,
        cached_input: f64,
        cache_write_input: f64,
        output: f64,
    ) -> Option<Self> {
        Some(Self {
            input: picos_per_token(input)?,
            cached_input: picos_per_token(cached_input)?,
            cache_write_input: picos_per_token(cache_write_input)?,
            output: picos_per_token(output)?,
        })
    }

    /// The cost of `usage`, in nano-USD, rounded half up once at the end. Parts a
    /// provider reported inconsistently (more cached than input) are clamped, so a
    /// token is never billed twice.
    pub fn cost_nanos(&self, usage: &Usage) -> u64 {
        let cached = usage.cached_input_tokens.min(usage.input_tokens);
        let written = usage
            .cache_write_input_tokens
            .min(usage.input_tokens - cached);
        let plain = usage.input_tokens - cached - written;
        let picos = u128::from(plain) * u128::from(self.input)
            + u128::from(cached) * u128::from(self.cached_input)
            + u128::from(written) * u128::from(self.cache_write_input)
            + u128::from(usage.output_tokens) * u128::from(self.output);
        let nanos = (picos + PICOS_PER_NANO / 2) / PICOS_PER_NANO;
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }
}

/// Micro-USD per million tokens (= pico-USD per token) from USD per million.
fn picos_per_token(usd_per_million: f64) -> Option<u64> {
    let valid =
        usd_per_million.is_finite() && (0.0..=file::USD_PER_MILLION_MAX).contains(&usd_per_million);
    // In range, so the rounded product fits a u64 exactly.
    valid.then(|| (usd_per_million * 1_000_000.0).round() as u64)
}

/// Prices by provider and model. A route's model is priced by the first match of:
/// its provider id exactly, then the vendor of its API kind (`openai` for
/// `openai:*`, `anthropic` for `anthropic:messages`); within each, the model's name
/// exactly, then the longest listed name the model starts with followed by `-`, `@`
/// or `:` (so `gpt-4o-2024-08-06` is `gpt-4o`, `claude-sonnet-4-5-20250929` is
/// `claude-sonnet-4-5`, and `gpt-4o` is never `gpt-4`'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    /// provider → model → price.
    entries: BTreeMap<String, BTreeMap<String, ModelPrice>>,
}

impl Default for PriceTable {
    /// The documented defaults ([`PriceTable::defaults`]).
    fn default() -> Self {
        Self::defaults()
    }
}

impl PriceTable {
    /// No prices: every generation is unpriced.
    pub fn empty() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }

    /// Current OpenAI and Anthropic list prices (the table and its date are in
    /// `pricing/defaults.rs`).
    pub fn defaults() -> Self {
        let mut table = Self::empty();
        for (provider, model, price) in defaults::prices() {
            table = table.with_price(provider, model, price);
        }
        table
    }

    /// Sets (or replaces) one model's price.
    pub fn with_price(
        mut self,
        provider: impl Into<String>,
        model: impl Into<String>,
        price: ModelPrice,
    ) -> Self {
        self.entries
            .entry(provider.into())
            .or_default()
            .insert(model.into(), price);
        self
    }

    /// How many models have a price.
    pub fn len(&self) -> usize {
        self.entries.values().map(BTreeMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The price of `model` served by provider `provider_id` speaking `api_kind`.
    pub fn lookup(&self, provider_id: &str, api_kind: ApiKind, model: &str) -> Option<ModelPrice> {
        [provider_id, vendor(api_kind)]
            .into_iter()
            .filter_map(|provider| self.entries.get(provider))
            .find_map(|models| find_model(models, model))
    }

    /// `usage` with its cost filled in: `cost_nanos` when the model has a price,
    /// otherwise 0 and `unpriced_turns` 1, so views can say the cost is partial
    /// rather than pretend it is 0.
    pub fn priced(&self, provider_id: &str, api_kind: ApiKind, model: &str, usage: Usage) -> Usage {
        match self.lookup(provider_id, api_kind, model) {
            Some(price) => Usage {
                cost_nanos: price.cost_nanos(&usage),
                unpriced_turns: 0,
                ..usage
            },
            None => Usage {
                cost_nanos: 0,
                unpriced_turns: 1,
                ..usage
            },
        }
    }
}

/// Whose list prices an API kind's models have by default.
fn vendor(api_kind: ApiKind) -> &'static str {
    match api_kind {
        ApiKind::OpenAiResponses | ApiKind::OpenAiCompletions => "openai",
        ApiKind::AnthropicMessages => "anthropic",
    }
}

fn find_model(models: &BTreeMap<String, ModelPrice>, model: &str) -> Option<ModelPrice> {
    if let Some(price) = models.get(model) {
        return Some(*price);
    }
    models
        .iter()
        .filter(|(name, _)| {
            model
                .strip_prefix(name.as_str())
                .and_then(|rest| rest.chars().next())
                .is_some_and(|next| matches!(next, '-' | '@' | ':'))
        })
        .max_by_key(|(name, _)| name.len())
        .map(|(_, price)| *price)
}

#[cfg(test)]
mod tests;
