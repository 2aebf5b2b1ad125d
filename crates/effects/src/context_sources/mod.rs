//! Context sources: what a session's surroundings put in its context, resolved right
//! before each generation (`engine::core::refresh` explains why there).
//!
//! A [`ContextSource`] owns one namespace of sourced keys (`source:agents:`,
//! `source:skills:`, `source:memory:`) and says which items the session should hold
//! there now. [`ContextSources::refresh`] asks every source and returns only the
//! difference with what the session holds, so an unchanged file or block costs
//! nothing in the log or in workflow history.
//!
//! A source that cannot be read for good (`AdapterError::Failed`, `Other`) leaves its
//! namespace as it was rather than failing the generation; a store or transient
//! failure is returned, so the host retries the generation as it would any other.

pub mod agents;
pub mod skills;

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::core::context::{ContextItem, ItemKind, ItemSpec, SOURCE_KEY_PREFIX, estimate_tokens};
use engine::core::refresh::{ContextRefresh, REFRESH_CHANGES_MAX, SourcedItem};
use engine::core::run::RunPhase;
use engine::core::state::SessionState;
use engine::store::BlobStore;
use engine::{BlobRef, SessionId};
use env_registry::{Attachment, EnvCatalog};
use futures::future::BoxFuture;

use crate::adapter::AdapterError;

pub use agents::AgentsFiles;
pub use skills::{SkillCatalog, SkillRoots};

/// What a source may look at.
pub struct SourceScope<'a, S> {
    pub universe_id: &'a str,
    pub store: &'a Arc<S>,
    pub session: &'a SessionId,
    /// The session replayed to the generation's planning entry.
    pub state: &'a SessionState,
}

impl<S> SourceScope<'_, S> {
    /// Whether the generation is its run's first: sources that are expensive to
    /// read (a file on an environment's daemon) refresh only then.
    pub fn run_start(&self) -> bool {
        self.state
            .control
            .runs
            .active
            .as_ref()
            .is_some_and(|run| matches!(run.phase, RunPhase::Generating { turn: 1, .. }))
    }

    /// The session's items under `namespace` now.
    pub fn held<'b>(&'b self, namespace: &'b str) -> impl Iterator<Item = &'b ContextItem> + 'b {
        let prefix = full_prefix(namespace);
        self.state
            .control
            .context
            .keyed
            .range(prefix.clone()..)
            .take_while(move |(key, _)| key.starts_with(&prefix))
            .map(|(_, item)| item)
    }
}

/// One namespace of sourced items.
pub trait ContextSource<S>: Send + Sync {
    /// The namespace after `source:`, ending in `:` (e.g. `agents:`).
    fn namespace(&self) -> &'static str;

    /// Every item the session should hold under the namespace now, with full keys.
    /// `None`: keep whatever the session holds (nothing to look at this time).
    fn resolve<'a>(
        &'a self,
        scope: &'a SourceScope<'a, S>,
    ) -> BoxFuture<'a, Result<Option<Vec<SourcedItem>>, AdapterError>>;
}

/// The sources a host consults before each generation.
pub struct ContextSources<S> {
    sources: Vec<Arc<dyn ContextSource<S>>>,
}

impl<S> Clone for ContextSources<S> {
    fn clone(&self) -> Self {
        Self {
            sources: self.sources.clone(),
        }
    }
}

impl<S> Default for ContextSources<S> {
    fn default() -> Self {
        Self {
            sources: Vec::new(),
        }
    }
}

impl<S> ContextSources<S> {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(mut self, source: Arc<dyn ContextSource<S>>) -> Self {
        self.sources.push(source);
        self
    }

    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The difference between what the sources want and what the session holds.
    pub async fn refresh(
        &self,
        universe_id: &str,
        store: &Arc<S>,
        session: &SessionId,
        state: &SessionState,
    ) -> Result<ContextRefresh, AdapterError> {
        let scope = SourceScope {
            universe_id,
            store,
            session,
            state,
        };
        let mut refresh = ContextRefresh::default();
        for source in &self.sources {
            let namespace = source.namespace();
            let wanted = match source.resolve(&scope).await {
                Ok(Some(items)) => items,
                Ok(None) => continue,
                Err(err @ (AdapterError::Store(_) | AdapterError::Transient { .. })) => {
                    return Err(err);
                }
                Err(_) => continue,
            };
            let prefix = full_prefix(namespace);
            let wanted: BTreeMap<String, SourcedItem> = wanted
                .into_iter()
                .filter(|item| item.key.starts_with(&prefix))
                .map(|item| (item.key.clone(), item))
                .collect();
            for held in scope.held(namespace) {
                let Some(key) = &held.key else { continue };
                if !wanted.contains_key(key) {
                    refresh.removed.push(key.clone());
                }
            }
            for (key, item) in wanted {
                let same = scope
                    .state
                    .control
                    .context
                    .keyed
                    .get(&key)
                    .is_some_and(|held| {
                        held.kind == item.spec.kind
                            && held.content_ref == item.spec.content_ref
                            && held.token_estimate == item.spec.token_estimate
                    });
                if !same {
                    refresh.upserts.push(item);
                }
            }
        }
        // More changes than one generation may carry wait for the next one
        // (removals first: they only shrink the context).
        let room = REFRESH_CHANGES_MAX.saturating_sub(refresh.removed.len());
        refresh.removed.truncate(REFRESH_CHANGES_MAX);
        refresh.upserts.truncate(room);
        Ok(refresh)
    }
}

/// An item of `kind` holding `text`, stored in the CAS unless the session already
/// holds exactly it under `key` (the common case: nothing changed, nothing written).
pub(crate) async fn stored_text<S: BlobStore>(
    scope: &SourceScope<'_, S>,
    key: &str,
    kind: ItemKind,
    text: String,
) -> Result<ItemSpec, AdapterError> {
    let bytes = text.into_bytes();
    let content_ref = BlobRef::of_bytes(&bytes);
    let token_estimate = estimate_tokens(&bytes);
    let held = scope.state.control.context.keyed.get(key);
    if held.is_none_or(|held| held.content_ref != content_ref) {
        scope.store.put(bytes).await?;
    }
    Ok(ItemSpec::new(kind, content_ref, token_estimate))
}

/// How recently a daemon must have been heard from for its environment to be read
/// (three of the gateway's 30 s pings): a file job for an offline daemon would only
/// wait out its deadline.
const ENV_ONLINE_STALE_MS: u64 = 90_000;

/// The session's attachments whose daemon is online now.
pub(crate) async fn online_attachments<S: EnvCatalog>(
    scope: &SourceScope<'_, S>,
    now_ms: u64,
) -> Result<Vec<Attachment>, AdapterError> {
    let catalog = |err: env_registry::EnvCatalogError| AdapterError::Other(err.to_string());
    let attachments = scope
        .store
        .attachment_list(scope.session)
        .await
        .map_err(catalog)?;
    let mut online = Vec::new();
    for attachment in attachments {
        let environment = scope
            .store
            .env_read_id(&attachment.environment_id)
            .await
            .map_err(catalog)?;
        let live = environment
            .and_then(|environment| environment.presence)
            .is_some_and(|presence| presence.online(now_ms, ENV_ONLINE_STALE_MS));
        if live {
            online.push(attachment);
        }
    }
    Ok(online)
}

/// The session's items under `prefix` as they are, to keep what is not read again.
pub(crate) fn kept<S>(scope: &SourceScope<'_, S>, prefix: &str) -> Vec<SourcedItem> {
    scope
        .state
        .control
        .context
        .keyed
        .range(prefix.to_owned()..)
        .take_while(|(key, _)| key.starts_with(prefix))
        .map(|(key, item)| SourcedItem {
            key: key.clone(),
            spec: ItemSpec {
                kind: item.kind,
                content_ref: item.content_ref.clone(),
                token_estimate: item.token_estimate,
                call_id: None,
                source_ref: None,
            },
        })
        .collect()
}

/// What the session holds under `prefix` for environments not in `online` (their
/// daemon is away): kept until it can be read again. `env_prefix` is one
/// environment's key (or, ending in `/`, key prefix), by attachment name.
pub(crate) fn kept_while_away<S>(
    scope: &SourceScope<'_, S>,
    prefix: &str,
    online: &[Attachment],
    env_prefix: impl Fn(&str) -> String,
) -> Vec<SourcedItem> {
    kept(scope, prefix)
        .into_iter()
        .filter(|held| {
            !online.iter().any(|attachment| {
                let own = env_prefix(attachment.name.as_str());
                held.key == own || (own.ends_with('/') && held.key.starts_with(&own))
            })
        })
        .collect()
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// `source:` + `namespace`.
pub fn full_prefix(namespace: &str) -> String {
    format!("{SOURCE_KEY_PREFIX}{namespace}")
}

/// Text of at most `max` bytes, cut at a character boundary, with a marker when cut.
pub fn clipped(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[... cut at {max} bytes ...]", &text[..end])
}
