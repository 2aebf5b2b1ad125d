//! `AGENTS.md` (and `CLAUDE.md`) at the root of every mount of the session: one
//! instruction item per file, keyed by its session path, so an edited file replaces
//! its own item (keeping its place in the prompt) and a deleted one disappears.
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

use super::{ContextSource, SourceScope, clipped, full_prefix, stored_text};
use crate::adapter::AdapterError;
use crate::vfs_tools::storage;

/// File names read at each mount root, in this order.
pub const AGENTS_FILE_NAMES: [&str; 2] = ["AGENTS.md", "CLAUDE.md"];
/// Bytes of one file put in the context; the rest is cut with a marker.
pub const AGENTS_FILE_BYTES_MAX: usize = 32 * 1024;
/// Larger files are not read at all: the item says to read the file instead.
pub const AGENTS_FILE_READ_BYTES_MAX: u64 = 256 * 1024;
/// Mounts looked at (in path order); a session rarely has more.
pub const AGENTS_MOUNTS_MAX: usize = 16;

/// The `source:agents:` namespace.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentsFiles;

impl AgentsFiles {
    pub const NAMESPACE: &'static str = "agents:";

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

impl<S: VfsCatalog + BlobStore + 'static> ContextSource<S> for AgentsFiles {
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
            Ok(Some(items))
        })
    }
}

/// Shared by hosts that build the standard sources.
pub fn agents_files<S: VfsCatalog + BlobStore + 'static>() -> Arc<dyn ContextSource<S>> {
    Arc::new(AgentsFiles)
}
