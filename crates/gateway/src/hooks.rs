//! Webhooks: `POST /hooks/{name}` turns a signed delivery into `events/ingest` in the
//! hook's universe (docs/operating/events.md).
//!
//! Hooks are the operator's configuration (`LIGHTSPEED_HOOKS_FILE`, a JSON file):
//! a name, the universe, the signature scheme, where the shared secret is (an
//! environment variable or a file; never the secret itself), and where events go.
//! SIGHUP reads the file (and secret files) again: hooks are added, changed and
//! removed, and secrets rotated, without a restart; a file that does not read
//! keeps the hooks as they were. The gateway holds the secrets, as it holds key
//! hashes, and checks every delivery before the backend sees it:
//!
//! 1. the body is read up to [`GatewayConfig::hook_body_bytes_max`] within the RPC
//!    body-read time (413 / 408 beyond);
//! 2. its HMAC-SHA256 under the hook's secret must equal the signature header
//!    (`X-Hub-Signature-256` for GitHub, `X-Lightspeed-Signature` for generic
//!    hooks, both `sha256=<hex>`), compared in constant time (`hmac`'s
//!    `verify_slice`): else 401 `badSignature`, and nothing else is read;
//! 3. the delivery id (`X-GitHub-Delivery`, or `X-Lightspeed-Event-Id`) is the
//!    dedupe key, so a redelivered webhook is one event: `events/ingest` answers
//!    it as a duplicate and starts nothing.
//!
//! [`GatewayConfig::hook_body_bytes_max`]: crate::GatewayConfig::hook_body_bytes_max

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use api::types::intake::{EventIngestParams, EventPolicyInput, EventTargetInput};
use api::types::session::SessionConfigInput;
use api::{ApiError, Caller, ErrorKind, LightspeedApi};
use axum::body::Body;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::blobs::status_of;

/// Deliveries served at once: anyone can send one, and each costs an HMAC over up
/// to a megabyte before it is known to be genuine.
pub(crate) const HOOKS_IN_FLIGHT_MAX: usize = 32;
const NAME_BYTES_MAX: usize = 64;
const HEADER_BYTES_MAX: usize = 256;
/// Largest secret file read: a shared secret is tens of bytes.
const SECRET_FILE_BYTES_MAX: u64 = 4_096;

/// Which signature and delivery headers a hook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) enum HookKind {
    /// `X-Hub-Signature-256`, `X-GitHub-Delivery`, `X-GitHub-Event`; `ping` is
    /// answered without an event.
    Github,
    /// `X-Lightspeed-Signature`, `X-Lightspeed-Event-Id`, `X-Lightspeed-Event-Type`.
    Generic,
}

impl HookKind {
    fn headers(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::Github => ("x-hub-signature-256", "x-github-delivery", "x-github-event"),
            Self::Generic => (
                "x-lightspeed-signature",
                "x-lightspeed-event-id",
                "x-lightspeed-event-type",
            ),
        }
    }
}

/// Where a hook's events go.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", deny_unknown_fields)]
pub(crate) enum HookTarget {
    #[serde(rename_all = "camelCase")]
    Session { session_id: String },
    /// The session of the routing key found in the payload at `routingKeyPointer`
    /// (a JSON pointer, e.g. `/repository/full_name`); a payload without one goes
    /// to the routing key `default`.
    #[serde(rename_all = "camelCase")]
    Route {
        routing_key_pointer: String,
        template: Box<SessionConfigInput>,
    },
    #[serde(rename_all = "camelCase")]
    NewSession { template: Box<SessionConfigInput> },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct HookSpec {
    name: String,
    universe_id: String,
    kind: HookKind,
    /// The environment variable holding the shared secret; or
    #[serde(default)]
    secret_env: Option<String>,
    /// the file holding it (surrounding whitespace is not part of it), read again
    /// on SIGHUP, so a secret can be rotated without a restart.
    #[serde(default)]
    secret_file: Option<PathBuf>,
    /// `events/ingest`'s source (default: the kind, `github` or `generic`).
    #[serde(default)]
    source: Option<String>,
    target: HookTarget,
    #[serde(default)]
    policy: EventPolicyInput,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookFile {
    hooks: Vec<HookSpec>,
}

/// One configured hook. Its secret never prints.
#[derive(Clone, PartialEq)]
struct Hook {
    universe_id: String,
    kind: HookKind,
    secret: Vec<u8>,
    source: String,
    target: HookTarget,
    policy: EventPolicyInput,
}

/// The configured hooks, by name, and the file they were read from. Clones share
/// one set, which [`Hooks::reload`] replaces for all of them at once.
#[derive(Clone, Default)]
pub struct Hooks {
    current: Arc<RwLock<Arc<BTreeMap<String, Hook>>>>,
    path: Option<PathBuf>,
}

impl PartialEq for Hooks {
    fn eq(&self, other: &Self) -> bool {
        self.path == other.path && self.snapshot() == other.snapshot()
    }
}

// Templates are JSON (no NaN), so equality is reflexive.
impl Eq for Hooks {}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names and universes only: never a secret.
        f.debug_map()
            .entries(
                self.snapshot()
                    .iter()
                    .map(|(name, hook)| (name.clone(), (hook.universe_id.clone(), hook.kind))),
            )
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HookConfigError {
    #[error("reading hooks file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("hooks file {path} is not valid: {source}")]
    Invalid {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("hook {name:?}: {reason}")]
    Hook { name: String, reason: String },
    #[error("the hooks were not read from a file")]
    NoFile,
}

impl Hooks {
    /// Reads the hooks file at `path`, each hook's secret from the environment
    /// variable it names (through `env`) or from the file it names.
    pub fn from_file(
        path: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, HookConfigError> {
        Ok(Self {
            current: Arc::new(RwLock::new(Arc::new(read_file(path, env)?))),
            path: Some(path.to_owned()),
        })
    }

    /// Reads the file these hooks came from again and, when it reads, serves what
    /// it says from now on (every clone of these hooks does); else keeps the hooks
    /// as they were. How many hooks there are now.
    pub fn reload(&self, env: impl Fn(&str) -> Option<String>) -> Result<usize, HookConfigError> {
        let path = self.path.as_deref().ok_or(HookConfigError::NoFile)?;
        let hooks = read_file(path, env)?;
        let count = hooks.len();
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(hooks);
        Ok(count)
    }

    /// The file the hooks were read from, if they were.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn snapshot(&self) -> Arc<BTreeMap<String, Hook>> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    pub fn is_empty(&self) -> bool {
        self.snapshot().is_empty()
    }

    pub fn len(&self) -> usize {
        self.snapshot().len()
    }
}

/// The hooks of the file at `path`.
fn read_file(
    path: &Path,
    env: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, Hook>, HookConfigError> {
    let bytes = std::fs::read(path).map_err(|source| HookConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: HookFile =
        serde_json::from_slice(&bytes).map_err(|source| HookConfigError::Invalid {
            path: path.to_owned(),
            source,
        })?;
    let mut hooks = BTreeMap::new();
    for spec in file.hooks {
        let refuse = |reason: &str| HookConfigError::Hook {
            name: spec.name.clone(),
            reason: reason.to_owned(),
        };
        let name_ok = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
        if spec.name.is_empty()
            || spec.name.len() > NAME_BYTES_MAX
            || !spec.name.chars().all(name_ok)
        {
            return Err(refuse("names are 1 to 64 ASCII letters, digits, - and _"));
        }
        let secret = match (&spec.secret_env, &spec.secret_file) {
            // A name is echoed in the error only when it looks like one: a secret
            // pasted in its place must not reach the log.
            (Some(variable), None) if !is_variable_name(variable) => {
                return Err(refuse(
                    "its secretEnv is not a variable name (letters, digits and _)",
                ));
            }
            (Some(variable), None) => env(variable)
                .filter(|secret| !secret.is_empty())
                .ok_or_else(|| refuse(&format!("its secret variable {variable} is not set")))?,
            (None, Some(file)) => {
                // A relative secret file is beside the hooks file.
                let file = path.parent().unwrap_or(Path::new("")).join(file);
                read_secret_file(&file).map_err(|reason| refuse(&reason))?
            }
            _ => {
                return Err(refuse(
                    "names its secret with one of secretEnv and secretFile",
                ));
            }
        };
        let source = spec.source.clone().unwrap_or_else(|| {
            match spec.kind {
                HookKind::Github => "github",
                HookKind::Generic => "generic",
            }
            .to_owned()
        });
        let hook = Hook {
            universe_id: spec.universe_id.clone(),
            kind: spec.kind,
            secret: secret.into_bytes(),
            source,
            target: spec.target,
            policy: spec.policy,
        };
        if hooks.insert(spec.name.clone(), hook).is_some() {
            return Err(refuse("is configured twice"));
        }
    }
    Ok(hooks)
}

/// An environment variable's name as shells write them: `[A-Za-z_][A-Za-z0-9_]*`,
/// at most 128 bytes.
fn is_variable_name(name: &str) -> bool {
    name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A secret file's contents, trimmed; the reason it is not usable otherwise (never
/// its contents).
fn read_secret_file(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|err| format!("its secret file {} does not open: {err}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(SECRET_FILE_BYTES_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(|err| format!("its secret file {} does not read: {err}", path.display()))?;
    if bytes.len() as u64 > SECRET_FILE_BYTES_MAX {
        return Err(format!(
            "its secret file {} is over {SECRET_FILE_BYTES_MAX} bytes",
            path.display()
        ));
    }
    let secret = String::from_utf8(bytes)
        .map_err(|_| format!("its secret file {} is not UTF-8", path.display()))?;
    let secret = secret.trim();
    if secret.is_empty() {
        return Err(format!("its secret file {} is empty", path.display()));
    }
    Ok(secret.to_owned())
}

/// Reloads `hooks` from their file on every SIGHUP until the task is aborted,
/// logging what happened (never a secret).
pub(crate) fn reload_on_hangup(hooks: Hooks) -> Option<tokio::task::JoinHandle<()>> {
    let path = hooks.path()?.to_owned();
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(err) => {
            tracing::warn!(error = %err, "cannot listen for SIGHUP: hooks are not reloaded");
            return None;
        }
    };
    Some(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match hooks.reload(|name| std::env::var(name).ok()) {
                Ok(count) => {
                    telemetry::metrics().hooks_reloaded("reloaded");
                    tracing::info!(hooks = count, path = %path.display(), "webhooks reloaded");
                }
                Err(err) => {
                    telemetry::metrics().hooks_reloaded("failed");
                    tracing::warn!(
                        error = %err,
                        "the hooks file did not read; the hooks are kept as they were"
                    );
                }
            }
        }
    }))
}

pub(crate) struct HookEndpoint<A> {
    pub(crate) api: Arc<A>,
    pub(crate) hooks: Hooks,
    pub(crate) body_bytes_max: u64,
    pub(crate) body_read: Duration,
}

fn refusal(status: StatusCode, reason: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": reason, "message": message})),
    )
        .into_response()
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .filter(|value| !value.is_empty() && value.len() <= HEADER_BYTES_MAX)
}

/// Whether `signature` (`sha256=<hex>`) is `body`'s HMAC-SHA256 under `secret`,
/// compared in constant time.
pub(crate) fn signature_matches(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(tag) = signature
        .strip_prefix("sha256=")
        .and_then(|hex_tag| hex::decode(hex_tag).ok())
    else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

pub(crate) async fn deliver<A: LightspeedApi>(
    State(endpoint): State<Arc<HookEndpoint<A>>>,
    UrlPath(name): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let hooks = endpoint.hooks.snapshot();
    let Some(hook) = hooks.get(&name) else {
        return refusal(StatusCode::NOT_FOUND, "hookNotFound", "no such hook");
    };
    let limit = usize::try_from(endpoint.body_bytes_max).unwrap_or(usize::MAX);
    let read = tokio::time::timeout(endpoint.body_read, axum::body::to_bytes(body, limit)).await;
    let body = match read {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            return refusal(
                StatusCode::PAYLOAD_TOO_LARGE,
                "bodyTooLarge",
                &format!("a delivery is at most {limit} bytes"),
            );
        }
        Err(_) => {
            return refusal(
                StatusCode::REQUEST_TIMEOUT,
                "bodyTimeout",
                "the body took too long",
            );
        }
    };
    let (signature_header, id_header, type_header) = hook.kind.headers();
    let signed = header(&headers, signature_header)
        .is_some_and(|signature| signature_matches(&hook.secret, &body, signature));
    if !signed {
        tracing::info!(hook = %name, "a webhook delivery's signature did not match");
        return refusal(
            StatusCode::UNAUTHORIZED,
            "badSignature",
            &format!("{signature_header} is missing or does not match the body"),
        );
    }
    let event_type = header(&headers, type_header).map(str::to_owned);
    if hook.kind == HookKind::Github && event_type.as_deref() == Some("ping") {
        return (StatusCode::OK, axum::Json(json!({"pong": true}))).into_response();
    }
    let Some(delivery) = header(&headers, id_header) else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "missingDeliveryId",
            &format!("{id_header} names the delivery (1 to {HEADER_BYTES_MAX} bytes)"),
        );
    };
    let payload: Value = match serde_json::from_slice(&body) {
        Ok(payload) => payload,
        Err(_) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "invalidJson",
                "the body is not JSON",
            );
        }
    };
    let target = match &hook.target {
        HookTarget::Session { session_id } => EventTargetInput::Session {
            session_id: session_id.clone(),
        },
        HookTarget::NewSession { template } => EventTargetInput::NewSession {
            template: template.clone(),
        },
        HookTarget::Route {
            routing_key_pointer,
            template,
        } => EventTargetInput::Route {
            routing_key: routing_key_of(&payload, routing_key_pointer),
            template: template.clone(),
        },
    };
    let params = EventIngestParams {
        source: hook.source.clone(),
        event_id: delivery.to_owned(),
        dedupe_key: None,
        event_type,
        payload,
        target,
        policy: hook.policy,
    };
    let caller = Caller {
        universe_id: hook.universe_id.clone(),
        key_id: format!("hook:{name}"),
        operator: false,
    };
    match endpoint.api.events_ingest(&caller, params).await {
        Ok(result) => {
            let status = if result.duplicate {
                StatusCode::OK
            } else {
                StatusCode::ACCEPTED
            };
            (status, axum::Json(result)).into_response()
        }
        Err(err) => failed(&err),
    }
}

/// The routing key at `pointer` in the payload: a string as it is, a number or
/// boolean as text, anything else (or nothing) `default`.
fn routing_key_of(payload: &Value, pointer: &str) -> String {
    match payload.pointer(pointer) {
        Some(Value::String(text)) if !text.is_empty() => text.chars().take(256).collect(),
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::Bool(flag)) => flag.to_string(),
        _ => "default".to_owned(),
    }
}

fn failed(err: &ApiError) -> Response {
    let reason = err.data.reason.as_deref().unwrap_or("failed");
    match err.kind() {
        // A fault's detail is for the log, not the sender.
        ErrorKind::Internal => refusal(StatusCode::INTERNAL_SERVER_ERROR, reason, "internal error"),
        kind => refusal(status_of(kind), reason, &err.message),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn signatures_are_checked_over_the_exact_body() {
        // GitHub's documented example: secret "It's a Secret to Everybody",
        // payload "Hello, World!".
        let secret = b"It's a Secret to Everybody";
        let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_matches(secret, b"Hello, World!", good));
        assert!(!signature_matches(secret, b"Hello, World?", good));
        assert!(!signature_matches(
            b"another secret",
            b"Hello, World!",
            good
        ));
        assert!(!signature_matches(secret, b"Hello, World!", &good[7..]));
        assert!(!signature_matches(secret, b"Hello, World!", "sha256=zz"));
        assert!(!signature_matches(secret, b"Hello, World!", "sha1=00"));
    }

    #[test]
    fn routing_keys_come_from_the_payload() {
        let payload = json!({"repository": {"full_name": "acme/widgets", "id": 7}});
        assert_eq!(
            routing_key_of(&payload, "/repository/full_name"),
            "acme/widgets"
        );
        assert_eq!(routing_key_of(&payload, "/repository/id"), "7");
        assert_eq!(routing_key_of(&payload, "/missing"), "default");
    }

    #[test]
    fn a_hooks_file_names_its_secrets_never_holds_them() {
        let dir = std::env::temp_dir().join(format!("hooks-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hooks.json");
        let file = json!({"hooks": [{"name": "gh", "universeId": "u", "kind": "github",
            "secretEnv": "GH_SECRET", "target": {"type": "session", "sessionId": "s"}}]});
        std::fs::write(&path, file.to_string()).unwrap();
        let env = |name: &str| (name == "GH_SECRET").then(|| "s3cret".to_owned());
        let hooks = Hooks::from_file(&path, env).unwrap();
        assert_eq!(hooks.len(), 1);
        assert!(!format!("{hooks:?}").contains("s3cret"));
        let missing = Hooks::from_file(&path, |_| None).unwrap_err();
        assert!(missing.to_string().contains("GH_SECRET"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reload_serves_the_new_file_to_every_clone_and_a_broken_one_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hooks.json");
        let hook = |name: &str, secret: Value| {
            let mut hook = json!({"name": name, "universeId": "u", "kind": "generic",
                "target": {"type": "session", "sessionId": "s"}});
            let (key, value) = secret.as_object().unwrap().iter().next().unwrap();
            hook[key] = value.clone();
            hook
        };
        let write = |hooks: Vec<Value>| {
            std::fs::write(&path, json!({"hooks": hooks}).to_string()).unwrap();
        };
        let secret_of =
            |hooks: &Hooks, name: &str| hooks.snapshot().get(name).map(|hook| hook.secret.clone());
        write(vec![hook("one", json!({"secretEnv": "ONE"}))]);
        let env = |name: &str| (name == "ONE").then(|| "first".to_owned());
        let hooks = Hooks::from_file(&path, env).unwrap();
        let served = hooks.clone();

        // A hook added with its secret in a file beside the hooks file.
        std::fs::write(dir.path().join("two.secret"), "  rotated-1\n").unwrap();
        write(vec![
            hook("one", json!({"secretEnv": "ONE"})),
            hook("two", json!({"secretFile": "two.secret"})),
        ]);
        assert_eq!(hooks.reload(env).unwrap(), 2);
        assert_eq!(secret_of(&served, "two").unwrap(), b"rotated-1");
        // The secret rotated in its file.
        std::fs::write(dir.path().join("two.secret"), "rotated-2").unwrap();
        hooks.reload(env).unwrap();
        assert_eq!(secret_of(&served, "two").unwrap(), b"rotated-2");
        assert!(!format!("{served:?}").contains("rotated"));

        // What does not read leaves the hooks as they were, and says why without
        // the secret.
        for broken in [
            "{not json",
            r#"{"hooks": [{"name": "x", "universeId": "u", "kind": "generic",
                "target": {"type": "session", "sessionId": "s"}}]}"#,
        ] {
            std::fs::write(&path, broken).unwrap();
            let err = hooks.reload(env).unwrap_err();
            assert!(!err.to_string().contains("rotated"), "{err}");
            assert_eq!(served.len(), 2, "{err}");
        }
        std::fs::write(dir.path().join("two.secret"), "").unwrap();
        write(vec![hook("two", json!({"secretFile": "two.secret"}))]);
        let err = hooks.reload(env).unwrap_err();
        assert!(err.to_string().contains("is empty"), "{err}");
        assert_eq!(secret_of(&served, "two").unwrap(), b"rotated-2");

        // A hook removed from the file is gone.
        write(vec![hook("one", json!({"secretEnv": "ONE"}))]);
        assert_eq!(hooks.reload(env).unwrap(), 1);
        assert!(secret_of(&served, "two").is_none());
        assert!(
            Hooks::default().reload(env).is_err(),
            "no file, nothing to read"
        );
    }
}
