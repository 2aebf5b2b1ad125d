//! A local session's tools: the file tools over its mounts when the session asked
//! for them (`tools.filesystem`), and the builtin test tools for any other name.

use std::sync::Arc;

use api::ApiError;
use api::types::session::FilesystemMode;
use api_projection::filesystem::tool_mode;
use engine::SessionId;
use engine::core::effects::ToolResult;
use engine::core::run::ToolCallRequest;
use engine::store::BlobStore;
use store_fs::FsStore;
use tools::ToolKind;

use super::internal;
use crate::adapters::{AdapterError, ToolAdapter};
use crate::runner::{RunnerError, SessionRunner};
use crate::tools::BuiltinTools;
use crate::vfs_tools::VfsToolAdapter;

pub(super) struct SessionTools {
    files: Option<VfsToolAdapter<FsStore>>,
}

impl SessionTools {
    /// The tools of `session`; its universe's store is also its VFS catalog.
    pub(super) fn new(
        store: &Arc<FsStore>,
        session: &SessionId,
        filesystem: FilesystemMode,
    ) -> Self {
        Self {
            files: tool_mode(filesystem)
                .map(|mode| VfsToolAdapter::new(store.clone(), session.clone(), mode)),
        }
    }
}

impl ToolAdapter for SessionTools {
    async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        match (&self.files, ToolKind::from_name(&call.name)) {
            (Some(files), Some(_)) => files.invoke(call, blobs).await,
            _ => BuiltinTools.invoke(call, blobs).await,
        }
    }
}

/// Registers the file tools of `filesystem` with an open session that has no tools
/// yet (api-projection builds the command, as for the Temporal backend).
pub(super) async fn register<L, T, C>(
    runner: &mut SessionRunner<FsStore, L, T, C>,
    filesystem: FilesystemMode,
) -> Result<(), ApiError>
where
    L: crate::adapters::LlmAdapter,
    T: ToolAdapter,
    C: crate::adapters::Compactor,
{
    let command = api_projection::filesystem::register_command(
        runner.store(),
        &runner.state().control,
        filesystem,
    )
    .await?;
    if let Some(command) = command {
        runner
            .admit(command)
            .await
            .map_err(|err: RunnerError| internal(err))?;
    }
    Ok(())
}
