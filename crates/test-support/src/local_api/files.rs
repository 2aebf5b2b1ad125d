//! A local session's tools: the file tools over its mounts when the session asked
//! for them (`tools.filesystem`), and the builtin test tools for any other name.

use std::sync::Arc;

use api::ApiError;
use api::types::session::FilesystemMode;
use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::control::Lifecycle;
use engine::core::effects::ToolResult;
use engine::core::run::ToolCallRequest;
use engine::core::tools::ToolSpec;
use engine::store::BlobStore;
use store_fs::FsStore;
use tools::{Mode, ToolKind};

use super::internal;
use crate::adapters::{AdapterError, ToolAdapter};
use crate::runner::{RunnerError, SessionRunner};
use crate::tools::BuiltinTools;
use crate::vfs_tools::VfsToolAdapter;

pub(super) struct SessionTools {
    files: Option<VfsToolAdapter<FsStore>>,
}

/// The tool mode of a filesystem setting; `None` for no file tools.
pub(super) fn mode(filesystem: FilesystemMode) -> Option<Mode> {
    match filesystem {
        FilesystemMode::None => None,
        FilesystemMode::ReadOnly => Some(Mode::ReadOnly),
        FilesystemMode::Edit => Some(Mode::Edit),
    }
}

impl SessionTools {
    /// The tools of `session`; its universe's store is also its VFS catalog.
    pub(super) fn new(
        store: &Arc<FsStore>,
        session: &SessionId,
        filesystem: FilesystemMode,
    ) -> Self {
        Self {
            files: mode(filesystem)
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

/// Registers the file tools' definitions (stored in the CAS) with an open session
/// that has no tools yet, named for its API kind.
pub(super) async fn register<L, T>(
    runner: &mut SessionRunner<FsStore, L, T>,
    filesystem: FilesystemMode,
) -> Result<(), ApiError>
where
    L: crate::adapters::LlmAdapter,
    T: ToolAdapter,
{
    let control = &runner.state().control;
    let (Some(mode), Some(config)) = (mode(filesystem), control.config.as_ref()) else {
        return Ok(());
    };
    // A rehydrated session keeps the tools it has; a closed one takes no commands.
    if !control.tools.is_empty() || control.lifecycle != Lifecycle::Open {
        return Ok(());
    }
    let expected_revision = control.tools_revision;
    let mut specs = Vec::new();
    for definition in tools::definitions_for(&config.model.api_kind, mode) {
        let definition_ref = runner
            .store()
            .put(definition.to_bytes())
            .await
            .map_err(internal)?;
        specs.push(ToolSpec {
            name: definition.name,
            definition_ref,
        });
    }
    let command = CoreCommand::ReplaceTools {
        expected_revision,
        tools: specs,
    };
    runner
        .admit(command)
        .await
        .map_err(|err: RunnerError| internal(err))?;
    Ok(())
}
