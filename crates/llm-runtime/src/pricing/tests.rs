#![allow(clippy::unwrap_used, clippy::expect_used)]

use engine::core::run::Usage;
use llm_clients::ApiKind;

use super::file::USD_PER_MILLION_MAX;
use super::*;

fn usd(input: f64, cached: f64, write: f64, output: f64) -> ModelPrice {
    ModelPrice::from_usd_per_million(input, cached, write, output).unwrap()
}

fn usage(input: u64, cached: u64, written: u64, output: u64, reasoning: u64) -> Usage {
    Usage {
        input_tokens: input,
        output_tokens: output,
        cached_input_tokens: cached,
        reasoning_tokens: reasoning,
        cache_write_input_tokens: written,
        ..Usage::default()
    }
}

#[test]
fn dated_snapshots_and_aliases_match_their_family_by_the_longest_prefix() {
    let table = PriceTable::defaults();
    let price = |kind, model| table.lookup("openai", kind, model);
    let gpt_4o = price(ApiKind::OpenAiResponses, "gpt-4o");
    assert!(gpt_4o.is_some());
    assert_eq!(price(ApiKind::OpenAiResponses, "gpt-4o-2024-08-06"), gpt_4o);
    // A dated snapshot listed on its own keeps its own price.
    assert_ne!(price(ApiKind::OpenAiResponses, "gpt-4o-2024-05-13"), gpt_4o);
    // `gpt-4o-mini-…` is the mini, not `gpt-4o`: the longest prefix wins.
    assert_eq!(
        price(ApiKind::OpenAiCompletions, "gpt-4o-mini-2024-07-18"),
        price(ApiKind::OpenAiCompletions, "gpt-4o-mini")
    );
    // A prefix must end at a separator: `o3` does not price `o3x`, nor `gpt-4.1`
    // price `gpt-4.10`.
    assert_eq!(price(ApiKind::OpenAiResponses, "o3x"), None);
    assert_eq!(price(ApiKind::OpenAiResponses, "gpt-4.10"), None);
    assert_ne!(
        price(ApiKind::OpenAiResponses, "o3-pro-2025-06-10"),
        price(ApiKind::OpenAiResponses, "o3")
    );
    let anthropic = |model| table.lookup("anthropic", ApiKind::AnthropicMessages, model);
    assert_eq!(
        anthropic("claude-sonnet-4-5-20250929"),
        anthropic("claude-sonnet-4-5")
    );
    assert_eq!(
        anthropic("claude-opus-4-20250514"),
        anthropic("claude-opus-4")
    );
    assert_ne!(
        anthropic("claude-opus-4-5-20251101"),
        anthropic("claude-opus-4")
    );
    assert_eq!(
        anthropic("claude-3-7-sonnet-latest"),
        anthropic("claude-sonnet-4")
    );
    // Vendors are per API kind: an Anthropic model is not priced on an OpenAI kind.
    assert_eq!(price(ApiKind::OpenAiResponses, "claude-sonnet-4-5"), None);
}

#[test]
fn a_provider_id_row_wins_over_the_vendor_row() {
    let own = usd(1.0, 1.0, 1.0, 1.0);
    let table = PriceTable::defaults().with_price("azure", "gpt-4o", own);
    assert_eq!(
        table.lookup("azure", ApiKind::OpenAiResponses, "gpt-4o-2024-11-20"),
        Some(own)
    );
    // Other providers of the kind keep the vendor's price.
    assert_ne!(
        table.lookup("openai", ApiKind::OpenAiResponses, "gpt-4o"),
        Some(own)
    );
    // A model only the vendor lists falls through to it.
    assert!(
        table
            .lookup("azure", ApiKind::OpenAiResponses, "o3")
            .is_some()
    );
}

#[test]
fn openai_cached_input_is_discounted_and_reasoning_is_output_once() {
    // gpt-5: 1.25 / 0.125 cached / 10 output, USD per million.
    let table = PriceTable::defaults();
    let priced = table.priced(
        "openai",
        ApiKind::OpenAiResponses,
        "gpt-5-2025-08-07",
        // 10,000 input of which 8,000 cached; 1,000 output of which 600 reasoning.
        usage(10_000, 8_000, 0, 1_000, 600),
    );
    // 2,000 × 1.25 + 8,000 × 0.125 + 1,000 × 10 = 2,500 + 1,000 + 10,000 micro-USD.
    assert_eq!(priced.cost_nanos, 13_500_000);
    assert_eq!(priced.unpriced_turns, 0);
    assert_eq!(priced.reasoning_tokens, 600);
}

#[test]
fn anthropic_cache_reads_and_writes_have_their_own_prices() {
    // claude-sonnet-4-5: 3 input, 0.30 cache read, 3.75 cache write, 15 output.
    let table = PriceTable::defaults();
    let priced = table.priced(
        "anthropic",
        ApiKind::AnthropicMessages,
        "claude-sonnet-4-5",
        // 100 plain + 5,000 read + 2,000 written = 7,100 input; 400 output.
        usage(7_100, 5_000, 2_000, 400, 0),
    );
    // 100 × 3 + 5,000 × 0.30 + 2,000 × 3.75 + 400 × 15 = 300 + 1,500 + 7,500 + 6,000.
    assert_eq!(priced.cost_nanos, 15_300_000);
}

#[test]
fn costs_round_once_and_inconsistent_usage_bills_no_token_twice() {
    // 0.0015 USD per million = 1.5 pico-USD per token, kept exactly.
    let price = usd(0.0015, 0.0015, 0.0015, 0.0);
    assert_eq!(price.input, 1_500);
    assert_eq!(price.cost_nanos(&usage(1, 0, 0, 0, 0)), 2); // 1.5 nano rounds up
    assert_eq!(price.cost_nanos(&usage(1_000, 0, 0, 0, 0)), 1_500);
    // More cached and written than input: clamped to the input.
    let price = usd(1.0, 2.0, 4.0, 0.0);
    assert_eq!(price.cost_nanos(&usage(10, 25, 5, 0, 0)), 20_000);
    assert_eq!(price.cost_nanos(&usage(10, 4, 25, 0, 0)), 8_000 + 24_000);
    // Huge counts saturate rather than wrap.
    let price = usd(USD_PER_MILLION_MAX, 0.0, 0.0, USD_PER_MILLION_MAX);
    assert_eq!(
        price.cost_nanos(&usage(u64::MAX, 0, 0, u64::MAX, 0)),
        u64::MAX
    );
}

#[test]
fn unknown_models_cost_nothing_and_say_so() {
    let priced = PriceTable::defaults().priced(
        "fake",
        ApiKind::OpenAiResponses,
        "fake-model",
        usage(1_000, 0, 0, 10, 0),
    );
    assert_eq!((priced.cost_nanos, priced.unpriced_turns), (0, 1));
    let empty = PriceTable::empty();
    assert!(empty.is_empty());
    assert_eq!(
        empty
            .priced(
                "openai",
                ApiKind::OpenAiResponses,
                "gpt-5",
                Usage::default()
            )
            .unpriced_turns,
        1
    );
}

#[test]
fn a_prices_file_extends_or_replaces_the_defaults() {
    let file = br#"{"prices": [
        {"provider": "fake", "model": "fake-model", "inputUsdPerMillion": 1,
         "outputUsdPerMillion": 2},
        {"provider": "openai", "model": "gpt-5", "inputUsdPerMillion": 9,
         "cachedInputUsdPerMillion": 0.5, "cacheWriteUsdPerMillion": 9,
         "outputUsdPerMillion": 90}
    ]}"#;
    let table = PriceTable::from_json(file).unwrap();
    let fake = table
        .lookup("fake", ApiKind::OpenAiResponses, "fake-model")
        .unwrap();
    // Cached input and cache writes default to the input price.
    assert_eq!(fake, usd(1.0, 1.0, 1.0, 2.0));
    assert_eq!(
        table.lookup("openai", ApiKind::OpenAiResponses, "gpt-5"),
        Some(usd(9.0, 0.5, 9.0, 90.0))
    );
    assert_eq!(table.len(), PriceTable::defaults().len() + 1);

    let only = br#"{"defaults": false, "prices": [
        {"provider": "fake", "model": "fake-model", "inputUsdPerMillion": 1,
         "outputUsdPerMillion": 2}]}"#;
    let table = PriceTable::from_json(only).unwrap();
    assert_eq!(table.len(), 1);
    assert_eq!(
        table.lookup("openai", ApiKind::OpenAiResponses, "gpt-5"),
        None
    );
}

#[test]
fn bad_prices_files_are_refused_naming_the_row_and_field() {
    let refused = |json: &str| PriceTable::from_json(json.as_bytes()).unwrap_err();
    let row = |fields: &str| format!(r#"{{"prices": [{{{fields}}}]}}"#);
    let ok = r#""provider": "p", "model": "m", "inputUsdPerMillion": 1, "outputUsdPerMillion": 1"#;
    assert!(PriceTable::from_json(row(ok).as_bytes()).is_ok());

    assert!(matches!(refused("not json"), PricesError::Syntax(_)));
    assert!(matches!(refused("{}"), PricesError::Syntax(_)));
    // Unknown fields are typos, not extensions.
    let typo = row(&format!(r#"{ok}, "outputUsdPerMilion": 3"#));
    assert!(matches!(refused(&typo), PricesError::Syntax(_)));
    let negative =
        row(r#""provider": "p", "model": "m", "inputUsdPerMillion": -1, "outputUsdPerMillion": 1"#);
    let err = refused(&negative);
    assert!(
        matches!(
            err,
            PricesError::Invalid {
                index: 0,
                field: "inputUsdPerMillion",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "prices[0].inputUsdPerMillion must be a number from 0 to 100000 (USD per million tokens)"
    );
    let huge = row(
        r#""provider": "p", "model": "m", "inputUsdPerMillion": 1, "outputUsdPerMillion": 1e9"#,
    );
    assert!(matches!(
        refused(&huge),
        PricesError::Invalid {
            field: "outputUsdPerMillion",
            ..
        }
    ));
    let empty =
        row(r#""provider": "", "model": "m", "inputUsdPerMillion": 1, "outputUsdPerMillion": 1"#);
    assert!(matches!(
        refused(&empty),
        PricesError::Invalid {
            field: "provider",
            ..
        }
    ));
    let twice = format!(r#"{{"prices": [{{{ok}}}, {{{ok}}}]}}"#);
    assert!(matches!(
        refused(&twice),
        PricesError::Duplicate { index: 1, .. }
    ));
}

#[test]
fn a_prices_file_is_read_from_disk_with_typed_errors() {
    let dir = std::env::temp_dir().join(format!("lightspeed-prices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("prices.json");
    std::fs::write(
        &path,
        br#"{"prices": [{"provider": "fake", "model": "fake-model",
            "inputUsdPerMillion": 1, "outputUsdPerMillion": 2}]}"#,
    )
    .unwrap();
    let table = PriceTable::from_file(&path).unwrap();
    assert!(
        table
            .lookup("fake", ApiKind::OpenAiResponses, "fake-model")
            .is_some()
    );
    let missing = PriceTable::from_file(&dir.join("absent.json")).unwrap_err();
    assert!(matches!(missing, PricesError::Read { .. }), "{missing}");
    std::fs::remove_dir_all(&dir).unwrap();
}
