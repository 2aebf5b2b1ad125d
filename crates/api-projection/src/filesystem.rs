//! A session's `filesystem` setting, shared by every backend: the file tools a session
//! registers when it starts, and the mode its view reports, read back from the tools
//! it registered (so a backend need not remember the setting anywhere else).

use api::ApiError;
use api::types::session::FilesystemMode;
use engine::core::command::CoreCommand;
use engine::core::control::{ControlState, Lifecycle};
use engine::core::tools::{ToolClass, ToolSpec};
use engine::store::BlobStore;
use tools::{Mode, ToolKind};

use crate::blobs::store_error;

/// The tool mode of a filesystem setting; `None` for no file tools.
pub fn tool_mode(filesystem: FilesystemMode) -> Option<Mode> {
    match filesystem {
        FilesystemMode::None => None,
        FilesystemMode::ReadOnly => Some(Mode::ReadOnly),
        FilesystemMode::Edit => Some(Mode::Edit),
    }
}

/// The filesystem mode of a session, from its registered tools: `edit` when a file
/// tool that writes is among them, `readOnly` when only reading ones are, else `none`.
pub fn session_filesystem(control: &ControlState) -> FilesystemMode {
    let kinds: Vec<ToolKind> = control
        .tools
        .iter()
        .filter_map(|tool| ToolKind::from_name(&tool.name))
        .collect();
    match (kinds.is_empty(), kinds.iter().any(|kind| kind.writes())) {
        (true, _) => FilesystemMode::None,
        (false, true) => FilesystemMode::Edit,
        (false, false) => FilesystemMode::ReadOnly,
    }
}

/// The command registering the file tools of `filesystem` (named for the session's API
/// kind, definitions written to `blobs`) and the `extra` tools (name, definition
/// bytes; no policy class) on a session just opened. `None` when there is nothing to
/// do: no tools asked for, a session that already has tools (one started again keeps
/// what it has), or one that is not open.
pub async fn register_command<B: BlobStore>(
    blobs: &B,
    control: &ControlState,
    filesystem: FilesystemMode,
    extra: Vec<(String, Vec<u8>)>,
) -> Result<Option<CoreCommand>, ApiError> {
    let Some(config) = control.config.as_ref() else {
        return Ok(None);
    };
    let mode = tool_mode(filesystem);
    if (mode.is_none() && extra.is_empty())
        || !control.tools.is_empty()
        || control.lifecycle != Lifecycle::Open
    {
        return Ok(None);
    }
    let mut specs = Vec::new();
    for (name, bytes) in extra {
        let definition_ref = blobs.put(bytes).await.map_err(store_error)?;
        specs.push(ToolSpec::new(name, definition_ref));
    }
    let file_tools = match mode {
        Some(mode) => tools::definitions_for(&config.model.api_kind, mode),
        None => Vec::new(),
    };
    for definition in file_tools {
        let definition_ref = blobs
            .put(definition.to_bytes())
            .await
            .map_err(store_error)?;
        let writes = ToolKind::from_name(&definition.name).is_some_and(|kind| kind.writes());
        let spec = ToolSpec::new(definition.name, definition_ref);
        // The tool policy's `fileWrites` class names the tools that change files.
        specs.push(match writes {
            true => spec.with_class(ToolClass::FileWrite),
            false => spec,
        });
    }
    Ok(Some(CoreCommand::ReplaceTools {
        expected_revision: control.tools_revision,
        tools: specs,
    }))
}
