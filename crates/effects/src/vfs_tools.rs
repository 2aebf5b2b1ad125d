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

pub(crate) fn storage(err: VfsError) -> AdapterError {
    match err {
        VfsError::Store(err) => AdapterError::Store(err),
        other => AdapterError::Other(other.to_string()),
    }
}

/// Runs a tool call where blocking is allowed. Tools decode manifests, apply
/// patches and search files: bounded, but up to seconds of CPU on large files,
/// which on a runtime worker would stall every other task there. The call
/// borrows the store, so it cannot move to `spawn_blocking`; `block_in_place`
/// hands this worker's other tasks to another thread instead. A current-thread
/// runtime has no other thread to hand them to, so there the call runs inline.
async fn off_runtime<F: Future>(work: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| handle.block_on(work))
        }
        _ => work.await,
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
        let outcome = off_runtime(toolbox.invoke(&call.name, &arguments))
            .await
            .map_err(|err| storage(err.0))?;
        let token_estimate = estimate_tokens(&outcome.output);
        let output_ref = blobs.put(outcome.output).await?;
        Ok(ToolResult {
            call_id: call.call_id.clone(),
            status: outcome.status,
            output_ref,
            token_estimate,
            later: None,
            child: Default::default(),
        })
    }
}
