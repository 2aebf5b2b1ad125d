//! `source:memory:`: the memory blocks attached to a session, pinned in its context
//! as one catalog item per block (`source:memory:LABEL`), read from the universe's
//! memory catalog before each generation. A block shared by sessions is read by
//! each, so an edit through any of them (or a client) is in every one's next
//! request; an unchanged block yields the same content ref, hence no event.

use engine::core::context::ItemKind;
use engine::core::refresh::SourcedItem;
use engine::store::BlobStore;
use futures::future::BoxFuture;
use memory_registry::{Block, MemoryCatalog, MemoryError, linked_blocks};

use crate::adapter::AdapterError;
use crate::context_sources::{ContextSource, SourceScope, full_prefix, stored_text};

/// The `source:memory:` namespace.
#[derive(Debug, Clone, Copy, Default)]
pub struct MemorySource;

impl MemorySource {
    pub const NAMESPACE: &'static str = "memory:";

    /// The item key of block `label`.
    pub fn key(label: &str) -> String {
        format!("{}{label}", full_prefix(Self::NAMESPACE))
    }

    /// The item text of a block: its label, size against its limit, whether the
    /// agent may edit it, its description, then its value.
    pub fn framed(block: &Block) -> String {
        let description = block.description.replace('"', "'");
        format!(
            "<memory_block label=\"{label}\" bytes=\"{bytes}/{limit}\" read_only=\"{read_only}\" \
             description=\"{description}\">\n{value}\n</memory_block>",
            label = block.label,
            bytes = block.value.len(),
            limit = block.limit_bytes,
            read_only = block.read_only,
            value = block.value,
        )
    }
}

fn adapter_error(err: MemoryError) -> AdapterError {
    match err {
        MemoryError::Store(err) => AdapterError::Store(err),
        other => AdapterError::Other(other.to_string()),
    }
}

impl<S: MemoryCatalog + BlobStore + 'static> ContextSource<S> for MemorySource {
    fn namespace(&self) -> &'static str {
        Self::NAMESPACE
    }

    fn resolve<'a>(
        &'a self,
        scope: &'a SourceScope<'a, S>,
    ) -> BoxFuture<'a, Result<Option<Vec<SourcedItem>>, AdapterError>> {
        Box::pin(async move {
            let blocks = linked_blocks(&**scope.store, scope.session)
                .await
                .map_err(adapter_error)?;
            let mut items = Vec::with_capacity(blocks.len());
            for block in &blocks {
                let key = Self::key(block.label.as_str());
                let spec = stored_text(scope, &key, ItemKind::Catalog, Self::framed(block)).await?;
                items.push(SourcedItem { key, spec });
            }
            Ok(Some(items))
        })
    }
}
