//! The providers file (`LIGHTSPEED_PROVIDERS_FILE`, TOML): its shape, and the
//! checks every provider passes before the server starts. Each refusal names the
//! provider and the field; none prints a value that could be a credential (the
//! parser's own message is used without its excerpt of the file).

use std::collections::BTreeMap;
use std::path::Path;

use llm_clients::ApiKind;
use llm_runtime::ModelEntry;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::{HeaderSource, KeySource, ProviderSpec, ProvidersError, Source};

/// Bytes of the providers file read at most.
pub const FILE_BYTES_MAX: u64 = 1024 * 1024;
/// Providers one deployment may configure (file and environment together).
pub const PROVIDERS_MAX: usize = 64;
/// Models one provider may list.
pub const MODELS_PER_PROVIDER_MAX: usize = 256;
/// Extra headers (`headers` and `header_env` together) of one provider.
pub const HEADERS_PER_PROVIDER_MAX: usize = 32;
/// A provider id: 1-64 of `[a-z0-9-]`, starting with a letter or digit.
pub const PROVIDER_ID_BYTES_MAX: usize = 64;
/// A model id: 1-256 printable ASCII characters without spaces.
pub const MODEL_ID_BYTES_MAX: usize = 256;
/// A base URL.
pub const URL_BYTES_MAX: usize = 2048;
/// A header name.
pub const HEADER_NAME_BYTES_MAX: usize = 64;
/// A plain header value.
pub const HEADER_VALUE_BYTES_MAX: usize = 4096;
/// An environment variable's name: 1-128 of `[A-Za-z0-9_]`.
pub const ENV_NAME_BYTES_MAX: usize = 128;

/// Header names refused as plain `headers` (their values would sit in the file in
/// the clear): these, and any name containing one of [`CREDENTIAL_NAME_PARTS`].
/// `header_env` takes such a header from the environment instead.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization", "cookie"];
const CREDENTIAL_NAME_PARTS: &[&str] = &["auth", "key", "token", "secret", "password", "cookie"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileShape {
    #[serde(default)]
    providers: Vec<ProviderShape>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProviderShape {
    id: String,
    api_kind: String,
    #[serde(default)]
    base_url: Option<String>,
    /// Present only to refuse it by name; its value is never kept.
    #[serde(default)]
    api_key: Option<IgnoredAny>,
    #[serde(default)]
    api_key_env: Option<String>,
    #[serde(default)]
    api_key_file: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    header_env: BTreeMap<String, String>,
    #[serde(default)]
    models: Vec<ModelShape>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ModelShape {
    id: String,
    context_window: u64,
    output_tokens_default: u32,
    #[serde(default)]
    output_tokens_max: Option<u32>,
}

/// Reads and checks the providers file at `path`.
pub(super) fn read(path: &Path) -> Result<Vec<ProviderSpec>, ProvidersError> {
    let shown = path.display().to_string();
    let io = |source: std::io::Error| ProvidersError::Read {
        path: shown.clone(),
        source,
    };
    let len = std::fs::metadata(path).map_err(io)?.len();
    if len > FILE_BYTES_MAX {
        return Err(ProvidersError::TooLarge {
            path: shown,
            max: FILE_BYTES_MAX,
        });
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    parse(&text, &shown)
}

/// Parses and checks providers file text (`path`: how errors name the file).
pub(super) fn parse(text: &str, path: &str) -> Result<Vec<ProviderSpec>, ProvidersError> {
    if text.len() as u64 > FILE_BYTES_MAX {
        return Err(ProvidersError::TooLarge {
            path: path.to_owned(),
            max: FILE_BYTES_MAX,
        });
    }
    let shape: FileShape = toml::from_str(text).map_err(|err| ProvidersError::Syntax {
        path: path.to_owned(),
        line: err
            .span()
            .map(|span| text[..span.start.min(text.len())].lines().count().max(1)),
        // The message alone: the error's Display quotes the offending line, which
        // may hold a key someone pasted inline.
        message: err.message().to_owned(),
    })?;
    if shape.providers.len() > PROVIDERS_MAX {
        return Err(ProvidersError::TooMany {
            what: "providers",
            max: PROVIDERS_MAX,
        });
    }
    shape
        .providers
        .into_iter()
        .enumerate()
        .map(|(index, provider)| provider_spec(index, provider))
        .collect()
}

fn provider_spec(index: usize, shape: ProviderShape) -> Result<ProviderSpec, ProvidersError> {
    let name = match is_provider_id(&shape.id) {
        true => shape.id.clone(),
        false => format!("#{index}"),
    };
    let invalid = |field: &str, what: String| ProvidersError::Invalid {
        provider: name.clone(),
        field: field.to_owned(),
        what,
    };
    if !is_provider_id(&shape.id) {
        return Err(invalid(
            "id",
            format!(
                "must be 1-{PROVIDER_ID_BYTES_MAX} of a-z 0-9 - starting with a letter or digit"
            ),
        ));
    }
    let api_kind: ApiKind = shape.api_kind.parse().map_err(|_| {
        invalid(
            "api_kind",
            "must be openai:responses, openai:completions or anthropic:messages".to_owned(),
        )
    })?;
    if let Some(url) = &shape.base_url {
        check_base_url(url).map_err(|what| invalid("base_url", what))?;
    }
    if shape.api_key.is_some() {
        return Err(invalid(
            "api_key",
            "keys are never written in the file: name an environment variable \
             (api_key_env) or a file (api_key_file)"
                .to_owned(),
        ));
    }
    let key = match (shape.api_key_env, shape.api_key_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "api_key_env",
                "set api_key_env or api_key_file, not both".to_owned(),
            ));
        }
        (Some(var), None) => {
            check_env_name(&var).map_err(|what| invalid("api_key_env", what))?;
            KeySource::Env(var)
        }
        (None, Some(file)) if file.trim().is_empty() => {
            return Err(invalid("api_key_file", "must not be empty".to_owned()));
        }
        (None, Some(file)) => KeySource::File(file.into()),
        (None, None) => KeySource::None,
    };
    let headers = headers(shape.headers, shape.header_env).map_err(|(f, w)| invalid(f, w))?;
    if shape.models.len() > MODELS_PER_PROVIDER_MAX {
        return Err(invalid(
            "models",
            format!("at most {MODELS_PER_PROVIDER_MAX} models"),
        ));
    }
    let models = shape
        .models
        .into_iter()
        .map(|model| {
            if !is_model_id(&model.id) {
                return Err(invalid(
                    "models.id",
                    format!(
                        "must be 1-{MODEL_ID_BYTES_MAX} printable ASCII characters without spaces"
                    ),
                ));
            }
            Ok(ModelEntry {
                id: model.id,
                context_window_tokens: model.context_window,
                output_tokens_default: model.output_tokens_default,
                output_tokens_max: model.output_tokens_max,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ProviderSpec {
        id: shape.id,
        api_kind,
        base_url: shape.base_url,
        key,
        headers,
        models,
        source: Source::File,
    })
}

type FieldError = (&'static str, String);

fn headers(
    plain: BTreeMap<String, String>,
    from_env: BTreeMap<String, String>,
) -> Result<Vec<(String, HeaderSource)>, FieldError> {
    if plain.len() + from_env.len() > HEADERS_PER_PROVIDER_MAX {
        return Err((
            "headers",
            format!("at most {HEADERS_PER_PROVIDER_MAX} headers (headers and header_env)"),
        ));
    }
    let mut headers = Vec::with_capacity(plain.len() + from_env.len());
    for (name, value) in plain {
        check_header_name(&name).map_err(|what| ("headers", what))?;
        if is_credential_header(&name) {
            return Err((
                "headers",
                format!(
                    "{name} looks like a credential: take it from the environment with \
                     header_env instead"
                ),
            ));
        }
        if value.len() > HEADER_VALUE_BYTES_MAX
            || value.bytes().any(|b| b.is_ascii_control() && b != b'\t')
        {
            return Err((
                "headers",
                format!(
                    "the value of {name} must be at most {HEADER_VALUE_BYTES_MAX} bytes \
                     without control characters"
                ),
            ));
        }
        headers.push((name, HeaderSource::Plain(value)));
    }
    for (name, var) in from_env {
        check_header_name(&name).map_err(|what| ("header_env", what))?;
        if headers
            .iter()
            .any(|(seen, _)| seen.eq_ignore_ascii_case(&name))
        {
            return Err(("header_env", format!("{name} is also in headers")));
        }
        check_env_name(&var).map_err(|what| ("header_env", what))?;
        headers.push((name, HeaderSource::Env(var)));
    }
    Ok(headers)
}

pub(super) fn is_provider_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= PROVIDER_ID_BYTES_MAX
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn is_model_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= MODEL_ID_BYTES_MAX && id.bytes().all(|b| b.is_ascii_graphic())
}

fn check_env_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= ENV_NAME_BYTES_MAX
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    match valid {
        true => Ok(()),
        false => Err(format!(
            "must name an environment variable (1-{ENV_NAME_BYTES_MAX} of A-Z a-z 0-9 _)"
        )),
    }
}

fn check_header_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= HEADER_NAME_BYTES_MAX
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    match valid {
        true => Ok(()),
        false => Err(format!(
            "header names are 1-{HEADER_NAME_BYTES_MAX} of A-Z a-z 0-9 - _"
        )),
    }
}

fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_HEADERS.contains(&name.as_str())
        || CREDENTIAL_NAME_PARTS.iter().any(|part| name.contains(part))
}

/// `http(s)://host[:port][/path]`: no user info, query or fragment (a token there
/// would be stored in the clear), no whitespace, bounded.
fn check_base_url(url: &str) -> Result<(), String> {
    if url.len() > URL_BYTES_MAX {
        return Err(format!("at most {URL_BYTES_MAX} bytes"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| "must start with http:// or https://".to_owned())?;
    if url.bytes().any(|b| !b.is_ascii_graphic()) {
        return Err("must be ASCII without spaces or control characters".to_owned());
    }
    if url.contains(['?', '#']) {
        return Err("must have no query or fragment".to_owned());
    }
    match host_of(url) {
        None => Err("has no host".to_owned()),
        Some(_) if rest.split('/').next().is_some_and(|a| a.contains('@')) => {
            Err("must not carry user info; use api_key_env".to_owned())
        }
        Some(_) => Ok(()),
    }
}

/// `host[:port]` of an `http(s)` URL, if it has one.
pub(super) fn host_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit('@').next()?;
    (!host.is_empty()).then(|| host.to_owned())
}
