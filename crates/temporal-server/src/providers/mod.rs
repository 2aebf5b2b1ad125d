//! LLM providers: deployment config, keyed by provider id. Endpoints, keys and
//! headers never enter the log, the CAS, workflow history, a log line or an error.
//!
//! Two sources, combined (a provider id configured twice is refused at start):
//!
//! - the providers file named by `LIGHTSPEED_PROVIDERS_FILE` (TOML, unset: none),
//!   any number of providers with their models and limits ([`file`], the format in
//!   docs/spec/providers.md);
//! - the environment, as before the file existed:
//!
//! | provider id | API kind | configured by |
//! | --- | --- | --- |
//! | `openai` | `openai:responses` | `OPENAI_API_KEY` and/or `OPENAI_BASE_URL` |
//! | `openai-chat` | `openai:completions` | the same variables |
//! | `anthropic` | `anthropic:messages` | `ANTHROPIC_API_KEY` and/or `ANTHROPIC_BASE_URL` |
//!
//! A key variable (or key file) may hold several keys separated by commas (used
//! round-robin). A provider without a key (a local OpenAI-compatible server, the fake
//! provider) sends no auth header.
//!
//! [`Providers::load`] reads and checks everything but resolves no secret, so a
//! gateway (which needs only the [`ModelCatalog`]) starts without the worker's keys;
//! [`Providers::runtime`] resolves keys and header values for the worker.
//!
//! Voice notes are transcribed by the provider `LIGHTSPEED_TRANSCRIPTION_PROVIDER`
//! names (default `openai`; [`transcription`] lists its variables).
//!
//! Prices: the runtime costs each generation with llm-runtime's default table, or
//! with the JSON prices file `LIGHTSPEED_PRICES_FILE` names (extending or replacing
//! the defaults; docs/spec/cost.md), read and checked by [`Providers::load`] so a
//! bad file stops the process before it serves anything.

pub mod file;
mod transcription;

use std::path::{Path, PathBuf};

use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::{LlmRuntime, ModelCatalog, ModelEntry, PriceTable, PricesError, ProviderEntry};

/// The variable naming the prices file.
pub const PRICES_FILE_VAR: &str = "LIGHTSPEED_PRICES_FILE";

/// Bytes of a key file read at most.
const KEY_FILE_BYTES_MAX: u64 = 64 * 1024;
/// Keys one provider may rotate through.
const KEYS_PER_PROVIDER_MAX: usize = 32;

/// Why the providers could not be configured. Messages name providers, fields,
/// variables and files, never a value.
#[derive(Debug, thiserror::Error)]
pub enum ProvidersError {
    #[error("reading the providers file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the providers file {path} is larger than {max} bytes")]
    TooLarge { path: String, max: u64 },
    #[error("the providers file {path}{}: {message}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
    Syntax {
        path: String,
        line: Option<usize>,
        message: String,
    },
    #[error("at most {max} {what} may be configured")]
    TooMany { what: &'static str, max: usize },
    #[error("provider {provider}: {field}: {what}")]
    Invalid {
        provider: String,
        field: String,
        what: String,
    },
    #[error("provider id {id:?} is configured twice ({first} and {second}); remove one")]
    Duplicate {
        id: String,
        first: String,
        second: String,
    },
    #[error("provider {provider}: {field} names the environment variable {var}, which is not set")]
    MissingEnv {
        provider: String,
        field: &'static str,
        var: String,
    },
    #[error("provider {provider}: reading api_key_file {path}: {reason}")]
    KeyFile {
        provider: String,
        path: String,
        reason: String,
    },
    #[error("configuring provider {provider} failed: {reason}")]
    Client { provider: String, reason: String },
    #[error(transparent)]
    Catalog(#[from] llm_runtime::catalog::CatalogError),
    #[error("{PRICES_FILE_VAR}: {0}")]
    Prices(#[from] PricesError),
}

/// Where a provider was configured, as a duplicate's error names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    File,
    /// The variables that configure it.
    Env(&'static str),
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::File => "the providers file".to_owned(),
            Source::Env(vars) => format!("the environment ({vars})"),
        }
    }
}

/// Where a provider's keys come from; resolved only by [`Providers::runtime`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    None,
    /// A variable that must be set (file providers).
    Env(String),
    /// A variable that may be unset: no key (the environment's own providers).
    EnvOptional(&'static str),
    File(PathBuf),
}

/// Where an extra header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderSource {
    /// Written in the file: not a credential (credential-looking names are refused).
    Plain(String),
    /// From this variable, which must be set.
    Env(String),
}

/// One provider as configured, its secrets not yet resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProviderSpec {
    pub(crate) id: String,
    pub(crate) api_kind: ApiKind,
    pub(crate) base_url: Option<String>,
    pub(crate) key: KeySource,
    pub(crate) headers: Vec<(String, HeaderSource)>,
    pub(crate) models: Vec<ModelEntry>,
    pub(crate) source: Source,
}

/// Every configured provider, checked.
#[derive(Debug, Clone)]
pub struct Providers {
    specs: Vec<ProviderSpec>,
    catalog: ModelCatalog,
    prices: PriceTable,
    transcription: effects::transcriber::TranscriptionSettings,
}

impl Providers {
    /// The providers of this process's environment: the file `LIGHTSPEED_PROVIDERS_FILE`
    /// names (if any) and the `OPENAI_*` / `ANTHROPIC_*` variables.
    pub fn from_env() -> Result<Self, ProvidersError> {
        let file = variable("LIGHTSPEED_PROVIDERS_FILE").map(PathBuf::from);
        Self::load(file.as_deref(), &variable)
    }

    /// The providers of `file` and of the environment `env` looks variables up in.
    pub fn load(
        file: Option<&Path>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ProvidersError> {
        let mut specs = match file {
            Some(path) => file::read(path)?,
            None => Vec::new(),
        };
        specs.extend(env_specs(env));
        let prices = match env(PRICES_FILE_VAR) {
            Some(path) => PriceTable::from_file(Path::new(&path))?,
            None => PriceTable::defaults(),
        };
        Ok(Self {
            prices,
            transcription: transcription::settings(env)?,
            ..Self::from_specs(specs)?
        })
    }

    /// Which provider and model transcribe voice notes, and their limits
    /// ([`transcription`]).
    pub fn transcription(&self) -> &effects::transcriber::TranscriptionSettings {
        &self.transcription
    }

    /// What generations are costed at.
    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    /// Checks ids across sources and builds the catalog.
    pub(crate) fn from_specs(specs: Vec<ProviderSpec>) -> Result<Self, ProvidersError> {
        if specs.len() > file::PROVIDERS_MAX {
            return Err(ProvidersError::TooMany {
                what: "providers",
                max: file::PROVIDERS_MAX,
            });
        }
        for (index, spec) in specs.iter().enumerate() {
            if let Some(first) = specs[..index].iter().find(|seen| seen.id == spec.id) {
                return Err(ProvidersError::Duplicate {
                    id: spec.id.clone(),
                    first: first.source.describe(),
                    second: spec.source.describe(),
                });
            }
        }
        let entries = specs
            .iter()
            .map(|spec| ProviderEntry {
                id: spec.id.clone(),
                api_kind: spec.api_kind,
                host: file::host_of(
                    spec.base_url
                        .as_deref()
                        .unwrap_or(spec.api_kind.default_base_url()),
                ),
                models: spec.models.clone(),
            })
            .collect();
        let catalog = ModelCatalog::new(entries)?;
        Ok(Self {
            specs,
            catalog,
            prices: PriceTable::defaults(),
            transcription: Default::default(),
        })
    }

    /// What clients may see of the providers (`models/list`, admission checks).
    pub fn catalog(&self) -> &ModelCatalog {
        &self.catalog
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    /// One client per provider, keys and header values resolved from this process's
    /// environment and files (the worker's).
    pub fn runtime(&self) -> Result<LlmRuntime, ProvidersError> {
        self.runtime_with(&variable)
    }

    /// [`Providers::runtime`] with variables looked up by `env`.
    pub fn runtime_with(
        &self,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<LlmRuntime, ProvidersError> {
        let clients = self
            .specs
            .iter()
            .map(|spec| client(spec, env))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LlmRuntime::new(clients).with_prices(self.prices.clone()))
    }
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The environment's own providers, exactly as before the providers file existed.
fn env_specs(variable: &dyn Fn(&str) -> Option<String>) -> Vec<ProviderSpec> {
    let spec = |id: &str, api_kind, url: Option<String>, key, vars| ProviderSpec {
        id: id.to_owned(),
        api_kind,
        base_url: url,
        key: KeySource::EnvOptional(key),
        headers: Vec::new(),
        models: Vec::new(),
        source: Source::Env(vars),
    };
    let mut specs = Vec::new();
    let openai_url = variable("OPENAI_BASE_URL");
    if variable("OPENAI_API_KEY").is_some() || openai_url.is_some() {
        let vars = "OPENAI_API_KEY/OPENAI_BASE_URL";
        let (responses, chat) = (ApiKind::OpenAiResponses, ApiKind::OpenAiCompletions);
        let key = "OPENAI_API_KEY";
        specs.push(spec("openai", responses, openai_url.clone(), key, vars));
        specs.push(spec("openai-chat", chat, openai_url, key, vars));
    }
    let anthropic_url = variable("ANTHROPIC_BASE_URL");
    if variable("ANTHROPIC_API_KEY").is_some() || anthropic_url.is_some() {
        let vars = "ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL";
        let kind = ApiKind::AnthropicMessages;
        specs.push(spec(
            "anthropic",
            kind,
            anthropic_url,
            "ANTHROPIC_API_KEY",
            vars,
        ));
    }
    specs
}

fn client(
    spec: &ProviderSpec,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<ProviderClient, ProvidersError> {
    let provider = spec.id.clone();
    let mut config = ProviderConfig::new(&spec.id, spec.api_kind);
    if let Some(base_url) = &spec.base_url {
        config.base_url = base_url.clone();
    }
    let keys = match &spec.key {
        KeySource::None => None,
        KeySource::EnvOptional(var) => env(var),
        KeySource::Env(var) => Some(env(var).ok_or_else(|| ProvidersError::MissingEnv {
            provider: provider.clone(),
            field: "api_key_env",
            var: var.clone(),
        })?),
        KeySource::File(path) => Some(key_file(&provider, path)?),
    };
    config.api_keys = split_keys(keys.as_deref());
    if config.api_keys.len() > KEYS_PER_PROVIDER_MAX {
        return Err(ProvidersError::Invalid {
            provider,
            field: "api key".to_owned(),
            what: format!("at most {KEYS_PER_PROVIDER_MAX} keys"),
        });
    }
    for (name, source) in &spec.headers {
        let value = match source {
            HeaderSource::Plain(value) => value.clone(),
            HeaderSource::Env(var) => env(var).ok_or_else(|| ProvidersError::MissingEnv {
                provider: provider.clone(),
                field: "header_env",
                var: var.clone(),
            })?,
        };
        config.extra_headers.push((name.clone(), value));
    }
    // llm-clients' errors name fields and indexes, never key or header values.
    ProviderClient::new(config).map_err(|err| ProvidersError::Client {
        provider,
        reason: err.to_string(),
    })
}

fn split_keys(keys: Option<&str>) -> Vec<ApiKey> {
    keys.map(|keys| {
        keys.split([',', '\n'])
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .map(ApiKey::new)
            .collect()
    })
    .unwrap_or_default()
}

fn key_file(provider: &str, path: &Path) -> Result<String, ProvidersError> {
    let failed = |reason: String| ProvidersError::KeyFile {
        provider: provider.to_owned(),
        path: path.display().to_string(),
        reason,
    };
    let len = std::fs::metadata(path)
        .map_err(|err| failed(err.kind().to_string()))?
        .len();
    if len > KEY_FILE_BYTES_MAX {
        return Err(failed(format!("larger than {KEY_FILE_BYTES_MAX} bytes")));
    }
    let text = std::fs::read_to_string(path).map_err(|err| failed(err.kind().to_string()))?;
    match text.trim().is_empty() {
        true => Err(failed("it is empty".to_owned())),
        false => Ok(text),
    }
}

#[cfg(test)]
mod tests;
