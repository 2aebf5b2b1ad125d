//! `lightspeed models`: the providers and models the server is configured with.

use std::fmt::Write as _;

use api::types::models::{ModelsListParams, ModelsListResult};

use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::show;

pub async fn run(client: &Client, json: bool) -> Result<Outcome, CliError> {
    let listed: ModelsListResult = client.call("models/list", &ModelsListParams {}).await?;
    show(json, &listed, || models_text(&listed))
}

/// One row per model (a provider that lists none: one row, any model), columns
/// aligned.
pub fn models_text(listed: &ModelsListResult) -> String {
    if listed.providers.is_empty() {
        return "no providers configured\n".into();
    }
    let mut rows: Vec<[String; 5]> = Vec::new();
    for provider in &listed.providers {
        let first = [
            provider.provider_id.clone(),
            provider.api_kind.clone(),
            provider.host.clone().unwrap_or_default(),
        ];
        if provider.models.is_empty() {
            let [id, kind, host] = first.clone();
            rows.push([id, kind, "(any model)".into(), String::new(), host]);
        }
        for model in &provider.models {
            let output = match model.max_output_tokens_limit {
                Some(limit) => format!(
                    "{} (max {})",
                    tokens_short(u64::from(model.max_output_tokens_default)),
                    tokens_short(u64::from(limit))
                ),
                None => tokens_short(u64::from(model.max_output_tokens_default)),
            };
            let [id, kind, host] = first.clone();
            rows.push([
                id,
                kind,
                model.model.clone(),
                format!(
                    "{} ctx, {output} out",
                    tokens_short(model.context_window_tokens)
                ),
                host,
            ]);
        }
    }
    let header = ["PROVIDER", "API KIND", "MODEL", "LIMITS", "HOST"].map(String::from);
    let mut widths = [0; 5];
    for row in std::iter::once(&header).chain(&rows) {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (cell, width) in row.iter().zip(widths) {
            let _ = write!(line, "{cell:width$}  ");
        }
        let _ = writeln!(out, "{}", line.trim_end());
    }
    out
}

/// A token count in a few characters: `950`, `12.3k`, `200k`, `1.5M`.
pub fn tokens_short(tokens: u64) -> String {
    let scaled = |unit: u64, suffix: &str| {
        let tenths = tokens.saturating_mul(10) / unit;
        match (tenths % 10, tenths >= 1_000) {
            (0, _) | (_, true) => format!("{}{suffix}", tenths / 10),
            (tenth, false) => format!("{}.{tenth}{suffix}", tenths / 10),
        }
    };
    match tokens {
        0..1_000 => tokens.to_string(),
        1_000..1_000_000 => scaled(1_000, "k"),
        _ => scaled(1_000_000, "M"),
    }
}

#[cfg(test)]
mod tests {
    use api::types::models::{ModelView, ProviderView};

    use super::*;

    #[test]
    fn token_counts_are_short() {
        assert_eq!(tokens_short(950), "950");
        assert_eq!(tokens_short(12_345), "12.3k");
        assert_eq!(tokens_short(200_000), "200k");
        assert_eq!(tokens_short(187_500), "187k");
        assert_eq!(tokens_short(1_500_000), "1.5M");
    }

    #[test]
    fn models_are_a_table() {
        let listed = ModelsListResult {
            providers: vec![
                ProviderView {
                    provider_id: "anthropic".into(),
                    api_kind: "anthropic:messages".into(),
                    host: Some("api.anthropic.com".into()),
                    models: vec![ModelView {
                        model: "claude-sonnet-4-5".into(),
                        context_window_tokens: 200_000,
                        max_output_tokens_default: 8_192,
                        max_output_tokens_limit: Some(64_000),
                        compaction_threshold_tokens_default: 160_000,
                    }],
                },
                ProviderView {
                    provider_id: "openai".into(),
                    api_kind: "openai:responses".into(),
                    host: None,
                    models: Vec::new(),
                },
            ],
        };
        assert_eq!(
            models_text(&listed),
            "PROVIDER   API KIND            MODEL              LIMITS                        HOST\n\
             anthropic  anthropic:messages  claude-sonnet-4-5  200k ctx, 8.1k (max 64k) out  api.anthropic.com\n\
             openai     openai:responses    (any model)\n"
        );
    }
}
