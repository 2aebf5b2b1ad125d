//! [`VfsToolAdapter`]: the file tools of `crates/tools` as a [`ToolAdapter`] for one
//! session. Each call reads the session's mounts from the catalog (so mount changes
//! apply at the next call), runs the tool, and stores its output in the CAS; only
//! the output's ref goes back to the engine.

use std::sync::Arc;

use engine::SessionId;
use engine::core::context::estimate_tokens;
use engine::core::effects::ToolResult;
use engine::core::run::ToolCallRequest;
use engine::store::BlobStore;
use tools::{Limits, Mode, Toolbox};
use vfs::{MountTable, VfsCatalog, VfsError};

use crate::adapter::{AdapterError, ToolAdapter};

pub struct VfsToolAdapter<C> {
    catalog: Arc<C>,
    session: SessionId,
    mode: Mode,
    limits: Limits,
}

impl<C: VfsCatalog> VfsToolAdapter<C> {
    pub fn new(catalog: Arc<C>, session: SessionId, mode: Mode) -> Self {
        Self {
            catalog,
            session,
            mode,
            limits: Limits::default(),
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }
}

fn storage(err: VfsError) -> AdapterError {
    match err {
        VfsError::Store(err) => AdapterError::Store(err),
        other => AdapterError::Other(other.to_string()),
    }
}

impl<C: VfsCatalog> ToolAdapter for VfsToolAdapter<C> {
    async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        let arguments = blobs.get(&call.arguments_ref).await?;
        let mounts = MountTable::load(&*self.catalog, &self.session)
            .await
            .map_err(storage)?;
        let toolbox = Toolbox {
            mounts: &mounts,
            catalog: &*self.catalog,
            blobs,
            mode: self.mode,
            limits: &self.limits,
        };
        let outcome = toolbox
            .invoke(&call.name, &arguments)
            .await
            .map_err(|err| storage(err.0))?;
        let token_estimate = estimate_tokens(&outcome.output);
        let output_ref = blobs.put(outcome.output).await?;
        Ok(ToolResult {
            call_id: call.call_id.clone(),
            status: outcome.status,
            output_ref,
            token_estimate,
        })
    }
}
