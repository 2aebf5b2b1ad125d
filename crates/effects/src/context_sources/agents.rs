//! `AGENTS.md` (and `CLAUDE.md`) at the root of every mount of the session and of
//! every attached environment's directory: one instruction item per file, keyed by its
//! session path (`/repo/AGENTS.md`, `/env/NAME/AGENTS.md`), so an edited file replaces
//! its own item (keeping its place in the prompt) and a deleted one disappears.
//! Mounts are read before every generation (a manifest lookup); environments, a round
//! trip to their daemon, when a run starts and only while their daemon is online
//! (between, and while it is away, what was read stays).
//!
//! Layering: the session's own instructions come first (they are the session's first
//! item), then these files in mount order; each item says where it comes from and
//! that the nearer file wins where they disagree, as Codex and Claude Code read them.

use std::sync::Arc;

use engine::core::context::ItemKind;
use engine::core::limits::ITEM_KEY_BYTES_MAX;
use engine::core::refresh::SourcedItem;
use engine::store::BlobStore;
use futures::future::BoxFuture;
use vfs::{MountTable, VfsCatalog, VfsPath};

use super::{
    ContextSource, SourceScope, clipped, full_prefix, kept, kept_while_away, now_ms,
    online_attachments, stored_text,
};
use crate::adapter::AdapterError;
use crate::env::EnvTools;
use crate::vfs_tools::storage;
use env_registry::EnvCatalog;

/// File names read at each mount root, in this order.
pub const AGENTS_FILE_NAMES: [&str; 2] = ["AGENTS.md", "CLAUDE.md"];
/// Bytes of one file put in the context; the rest is cut with a marker.
pub const AGENTS_FILE_BYTES_MAX: usize = 32 * 1024;
/// Larger files are not read at all: the item says to read the file instead.
pub const AGENTS_FILE_READ_BYTES_MAX: u64 = 256 * 1024;
/// Mounts looked at (in path order); a session rarely has more.
pub const AGENTS_MOUNTS_MAX: usize = 16;

/// The `source:agents:` namespace.
#[derive(Debug, Clone, Default)]
pub struct AgentsFiles {
    env: EnvTools,
}

impl AgentsFiles {
    pub const NAMESPACE: &'static str = "agents:";

    /// Reading environments' files with `env`'s limits.
    pub fn new(env: EnvTools) -> Self {
        Self { env }
    }

    /// The item key of the file at `path`: characters keys cannot hold become `_`,
    /// and a path too long for a key keeps its end (the file name).
    pub fn key(path: &str) -> String {
        let prefix = full_prefix(Self::NAMESPACE);
        let safe: String = path
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':' | '/') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let room = ITEM_KEY_BYTES_MAX - prefix.len();
        let tail = &safe[safe.len().saturating_sub(room)..];
        format!("{prefix}{tail}")
    }

    /// The item text of a file.
    pub fn framed(path: &str, text: &str) -> String {
        format!(
            "<instructions source=\"{path}\">\n\
             Instructions from {path}. They add to the instructions before them; where \
             they disagree, the file nearer to the work wins.\n\n{}\n</instructions>",
            clipped(text, AGENTS_FILE_BYTES_MAX)
        )
    }
}

impl<S: VfsCatalog + EnvCatalog + BlobStore + 'static> ContextSource<S> for AgentsFiles {
    fn namespace(&self) -> &'static str {
        Self::NAMESPACE
    }

    fn resolve<'a>(
        &'a self,
        scope: &'a SourceScope<'a, S>,
    ) -> BoxFuture<'a, Result<Option<Vec<SourcedItem>>, AdapterError>> {
        Box::pin(async move {
            let store = &**scope.store;
            let table = MountTable::load(store, scope.session)
                .await
                .map_err(storage)?;
            let mut items = Vec::new();
            for mount in table.mounts().iter().take(AGENTS_MOUNTS_MAX) {
                let tree = match vfs::mount::open(store, store, mount).await {
                    Ok(state) => state.tree,
                    Err(vfs::VfsError::Store(err)) => return Err(AdapterError::Store(err)),
                    // A workspace deleted under a mount: nothing to read there.
                    Err(_) => continue,
                };
                for name in AGENTS_FILE_NAMES {
                    let Ok(path) = VfsPath::parse(name) else {
                        continue;
                    };
                    let Some(entry) = tree.get(&path) else {
                        continue;
                    };
                    let session_path = match mount.path.as_str() {
                        "/" => format!("/{name}"),
                        root => format!("{root}/{name}"),
                    };
                    // The size is checked before the file is read.
                    let framed = if entry.size_bytes > AGENTS_FILE_READ_BYTES_MAX {
                        AgentsFiles::framed(
                            &session_path,
                            &format!(
                                "({} bytes, more than the {AGENTS_FILE_READ_BYTES_MAX} read into                                  the context: read the file itself)",
                                entry.size_bytes
                            ),
                        )
                    } else {
                        let bytes = store.get(&entry.blob).await?;
                        AgentsFiles::framed(&session_path, &String::from_utf8_lossy(&bytes))
                    };
                    let key = AgentsFiles::key(&session_path);
                    let spec = stored_text(scope, &key, ItemKind::Instructions, framed).await?;
                    items.push(SourcedItem { key, spec });
                }
            }
            items.extend(self.environments(scope).await?);
            Ok(Some(items))
        })
    }
}

impl AgentsFiles {
    async fn environments<S: EnvCatalog + BlobStore>(
        &self,
        scope: &SourceScope<'_, S>,
    ) -> Result<Vec<SourcedItem>, AdapterError> {
        let prefix = Self::key("/env/");
        if !scope.run_start() {
            return Ok(kept(scope, &prefix));
        }
        let now_ms = now_ms();
        let online = online_attachments(scope, now_ms).await?;
        let mut items = Vec::new();
        for attachment in &online {
            let base = format!("/env/{}", attachment.name.as_str());
            let mut read = Vec::new();
            let mut failed = false;
            for name in AGENTS_FILE_NAMES {
                let text = self
                    .env
                    .read_text(
                        &**scope.store,
                        scope.session,
                        attachment,
                        name,
                        AGENTS_FILE_READ_BYTES_MAX,
                        now_ms,
                    )
                    .await;
                match text {
                    Ok(Some(text)) => read.push((format!("{base}/{name}"), text)),
                    Ok(None) => {}
                    Err(AdapterError::Store(err)) => return Err(AdapterError::Store(err)),
                    // The daemon went away meanwhile: keep what was read before.
                    Err(_) => failed = true,
                }
            }
            if failed {
                items.extend(kept(scope, &Self::key(&format!("{base}/"))));
                continue;
            }
            for (path, text) in read {
                let key = Self::key(&path);
                let framed = Self::framed(&path, &text);
                let spec = stored_text(scope, &key, ItemKind::Instructions, framed).await?;
                items.push(SourcedItem { key, spec });
            }
        }
        // Environments whose daemon is away keep their items.
        items.extend(kept_while_away(scope, &prefix, &online, |name| {
            Self::key(&format!("/env/{name}/"))
        }));
        Ok(items)
    }
}

/// Shared by hosts that build the standard sources.
pub fn agents_files<S: VfsCatalog + EnvCatalog + BlobStore + 'static>(
    env: EnvTools,
) -> Arc<dyn ContextSource<S>> {
    Arc::new(AgentsFiles::new(env))
}
