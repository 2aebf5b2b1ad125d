//! The default price table: OpenAI's and Anthropic's published list prices
//! (standard tier, no batch discount), in USD per million tokens, taken on
//! 2026-12-06 from platform.openai.com/docs/pricing and
//! platform.claude.com/docs/en/about-claude/pricing.
//!
//! Names are families: a dated snapshot or alias (`gpt-4o-2024-08-06`,
//! `claude-sonnet-4-5-20250929`, `claude-3-7-sonnet-latest`) is priced by the longest
//! listed name it starts with, so a family with a different price than its prefix
//! (`o3-pro` beside `o3`, `claude-opus-4-5` beside `claude-opus-4`) needs its own
//! row. Models not listed (newer families included) are unpriced until a deployment
//! prices them in its prices file (`LIGHTSPEED_PRICES_FILE`, docs/spec/cost.md) or
//! this table is refreshed.
//!
//! OpenAI bills no cache writes (and reports none): they are priced as input.
//! Anthropic's cache writes are its 5-minute writes (1.25x input); its cache reads
//! are 0.1x input.

use super::ModelPrice;

/// (provider, model, input, cached input, cache write, output), USD per million.
type Row = (&'static str, &'static str, f64, f64, f64, f64);

const ROWS: &[Row] = &[
    // OpenAI: GPT-5 family (cached input at 0.1x).
    ("openai", "gpt-5", 1.25, 0.125, 1.25, 10.0),
    ("openai", "gpt-5.1", 1.25, 0.125, 1.25, 10.0),
    ("openai", "gpt-5-mini", 0.25, 0.025, 0.25, 2.0),
    ("openai", "gpt-5-nano", 0.05, 0.005, 0.05, 0.40),
    ("openai", "gpt-5-pro", 15.0, 15.0, 15.0, 120.0),
    // GPT-4.1 family (cached input at 0.25x).
    ("openai", "gpt-4.1", 2.0, 0.50, 2.0, 8.0),
    ("openai", "gpt-4.1-mini", 0.40, 0.10, 0.40, 1.60),
    ("openai", "gpt-4.1-nano", 0.10, 0.025, 0.10, 0.40),
    // GPT-4o family (cached input at 0.5x); the first snapshot kept its launch price.
    ("openai", "gpt-4o", 2.50, 1.25, 2.50, 10.0),
    ("openai", "gpt-4o-2024-05-13", 5.0, 5.0, 5.0, 15.0),
    ("openai", "gpt-4o-mini", 0.15, 0.075, 0.15, 0.60),
    // Reasoning models.
    ("openai", "o1", 15.0, 7.50, 15.0, 60.0),
    ("openai", "o1-mini", 1.10, 0.55, 1.10, 4.40),
    ("openai", "o1-pro", 150.0, 150.0, 150.0, 600.0),
    ("openai", "o3", 2.0, 0.50, 2.0, 8.0),
    ("openai", "o3-pro", 20.0, 20.0, 20.0, 80.0),
    ("openai", "o3-mini", 1.10, 0.55, 1.10, 4.40),
    ("openai", "o3-deep-research", 10.0, 2.50, 10.0, 40.0),
    ("openai", "o4-mini", 1.10, 0.275, 1.10, 4.40),
    ("openai", "o4-mini-deep-research", 2.0, 0.50, 2.0, 8.0),
    ("openai", "codex-mini-latest", 1.50, 0.375, 1.50, 6.0),
    // Anthropic: Opus (4.5 and later at the lower price).
    ("anthropic", "claude-opus-4-8", 5.0, 0.50, 6.25, 25.0),
    ("anthropic", "claude-opus-4-7", 5.0, 0.50, 6.25, 25.0),
    ("anthropic", "claude-opus-4-6", 5.0, 0.50, 6.25, 25.0),
    ("anthropic", "claude-opus-4-5", 5.0, 0.50, 6.25, 25.0),
    ("anthropic", "claude-opus-4-1", 15.0, 1.50, 18.75, 75.0),
    ("anthropic", "claude-opus-4", 15.0, 1.50, 18.75, 75.0),
    ("anthropic", "claude-3-opus", 15.0, 1.50, 18.75, 75.0),
    // Sonnet (up to 200K input tokens; the long-context surcharge is not modelled).
    ("anthropic", "claude-sonnet-4-6", 3.0, 0.30, 3.75, 15.0),
    ("anthropic", "claude-sonnet-4-5", 3.0, 0.30, 3.75, 15.0),
    ("anthropic", "claude-sonnet-4", 3.0, 0.30, 3.75, 15.0),
    ("anthropic", "claude-3-7-sonnet", 3.0, 0.30, 3.75, 15.0),
    ("anthropic", "claude-3-5-sonnet", 3.0, 0.30, 3.75, 15.0),
    // Haiku.
    ("anthropic", "claude-haiku-4-5", 1.0, 0.10, 1.25, 5.0),
    ("anthropic", "claude-3-5-haiku", 0.80, 0.08, 1.0, 4.0),
    ("anthropic", "claude-3-haiku", 0.25, 0.03, 0.30, 1.25),
];

/// Every default row as a price.
pub(super) fn prices() -> impl Iterator<Item = (&'static str, &'static str, ModelPrice)> {
    ROWS.iter()
        .map(|&(provider, model, input, cached, write, output)| {
            let Some(price) = ModelPrice::from_usd_per_million(input, cached, write, output) else {
                // The table is a constant; `defaults_are_valid_and_unique` checks every row.
                unreachable!("default price of {provider}/{model} is out of range");
            };
            (provider, model, price)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for &(provider, model, input, cached, write, output) in ROWS {
            assert!(
                ModelPrice::from_usd_per_million(input, cached, write, output).is_some(),
                "{provider}/{model}"
            );
            assert!(seen.insert((provider, model)), "{provider}/{model} twice");
            assert!(cached <= input, "{provider}/{model}: cached above input");
        }
    }
}
