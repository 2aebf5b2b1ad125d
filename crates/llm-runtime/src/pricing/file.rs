//! A deployment's prices file (`LIGHTSPEED_PRICES_FILE`): JSON that extends or
//! overrides the default table, checked whole when the process starts, so a typo
//! stops the worker instead of pricing turns at 0.
//!
//! ```json
//! {
//!   "defaults": true,
//!   "prices": [
//!     { "provider": "openai", "model": "gpt-5", "inputUsdPerMillion": 1.25,
//!       "cachedInputUsdPerMillion": 0.125, "outputUsdPerMillion": 10 },
//!     { "provider": "ollama", "model": "llama3.3", "inputUsdPerMillion": 0,
//!       "outputUsdPerMillion": 0 }
//!   ]
//! }
//! ```
//!
//! `provider` is a provider id of the deployment (it wins) or a vendor (`openai`,
//! `anthropic`: every provider of that API kind); `model` a model name or family
//! prefix. `cachedInputUsdPerMillion` and `cacheWriteUsdPerMillion` default to the
//! input price. `defaults: false` starts from an empty table instead of the
//! built-in one.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ModelPrice, PriceTable};

/// The highest price accepted, in USD per million tokens: above any list price, far
/// below where a cost could overflow.
pub const USD_PER_MILLION_MAX: f64 = 100_000.0;
/// Rows one file may hold.
pub const PRICES_MAX: usize = 10_000;
/// The largest file read, in bytes.
pub const PRICES_FILE_BYTES_MAX: u64 = 1024 * 1024;
/// Provider ids and model names, in bytes.
const NAME_BYTES_MAX: usize = 256;

/// Why a prices file was refused. Names the row (0-based) and field at fault.
#[derive(Debug, thiserror::Error)]
pub enum PricesError {
    #[error("cannot read prices file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("prices file {path} is larger than {PRICES_FILE_BYTES_MAX} bytes")]
    TooLarge { path: PathBuf },
    #[error("prices file is not valid: {0}")]
    Syntax(#[from] serde_json::Error),
    #[error("prices file has more than {PRICES_MAX} prices")]
    TooMany,
    #[error("prices[{index}].{field} {reason}")]
    Invalid {
        index: usize,
        field: &'static str,
        reason: String,
    },
    #[error("prices[{index}] prices {provider}/{model} again")]
    Duplicate {
        index: usize,
        provider: String,
        model: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PricesFile {
    #[serde(default = "yes")]
    defaults: bool,
    prices: Vec<PriceRow>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct PriceRow {
    provider: String,
    model: String,
    input_usd_per_million: f64,
    #[serde(default)]
    cached_input_usd_per_million: Option<f64>,
    #[serde(default)]
    cache_write_usd_per_million: Option<f64>,
    output_usd_per_million: f64,
}

impl PriceTable {
    /// The table a prices file describes (see the module docs).
    pub fn from_json(bytes: &[u8]) -> Result<Self, PricesError> {
        let file: PricesFile = serde_json::from_slice(bytes)?;
        if file.prices.len() > PRICES_MAX {
            return Err(PricesError::TooMany);
        }
        let mut table = if file.defaults {
            Self::defaults()
        } else {
            Self::empty()
        };
        let mut seen = std::collections::BTreeSet::new();
        for (index, row) in file.prices.into_iter().enumerate() {
            check_name(index, "provider", &row.provider)?;
            check_name(index, "model", &row.model)?;
            let input = price(index, "inputUsdPerMillion", row.input_usd_per_million)?;
            let cached = row.cached_input_usd_per_million.map_or(Ok(input), |usd| {
                price(index, "cachedInputUsdPerMillion", usd)
            })?;
            let write = row.cache_write_usd_per_million.map_or(Ok(input), |usd| {
                price(index, "cacheWriteUsdPerMillion", usd)
            })?;
            let output = price(index, "outputUsdPerMillion", row.output_usd_per_million)?;
            if !seen.insert((row.provider.clone(), row.model.clone())) {
                return Err(PricesError::Duplicate {
                    index,
                    provider: row.provider,
                    model: row.model,
                });
            }
            let price = ModelPrice {
                input,
                cached_input: cached,
                cache_write_input: write,
                output,
            };
            table = table.with_price(row.provider, row.model, price);
        }
        Ok(table)
    }

    /// Reads and checks the prices file at `path` (at most
    /// [`PRICES_FILE_BYTES_MAX`], measured before it is read).
    pub fn from_file(path: &Path) -> Result<Self, PricesError> {
        let read_error = |source| PricesError::Read {
            path: path.to_owned(),
            source,
        };
        let len = std::fs::metadata(path).map_err(read_error)?.len();
        if len > PRICES_FILE_BYTES_MAX {
            return Err(PricesError::TooLarge {
                path: path.to_owned(),
            });
        }
        let bytes = std::fs::read(path).map_err(read_error)?;
        Self::from_json(&bytes)
    }
}

fn check_name(index: usize, field: &'static str, value: &str) -> Result<(), PricesError> {
    let reason = if value.is_empty() {
        "must not be empty".to_owned()
    } else if value.len() > NAME_BYTES_MAX {
        format!("is longer than {NAME_BYTES_MAX} bytes")
    } else {
        return Ok(());
    };
    Err(PricesError::Invalid {
        index,
        field,
        reason,
    })
}

/// USD per million tokens into pico-USD per token, or why not.
fn price(index: usize, field: &'static str, usd_per_million: f64) -> Result<u64, PricesError> {
    super::picos_per_token(usd_per_million).ok_or_else(|| PricesError::Invalid {
        index,
        field,
        reason: format!(
            "must be a number from 0 to {USD_PER_MILLION_MAX} (USD per million tokens)"
        ),
    })
}
