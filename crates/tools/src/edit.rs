//! `write_file` (`Write`) and `edit_file` (`Edit`). Each write reads the workspace
//! head, applies itself to that tree, and commits a new snapshot; if another write
//! won meanwhile it starts over from the new head (so an edit is re-checked against
//! what is there now), up to `write_attempts_max` times.

use engine::store::BlobStore;
use serde::Deserialize;
use vfs::{NodeKind, VfsCatalog};

use crate::error::{Result, ToolError};
use crate::toolbox::{Toolbox, file_in, is_binary};

#[derive(Debug, Deserialize)]
pub(crate) struct WriteArgs {
    #[serde(alias = "file_path")]
    path: String,
    content: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct EditArgs {
    #[serde(alias = "file_path")]
    path: String,
    old_string: String,
    new_string: String,
    #[serde(default)]
    replace_all: bool,
}

pub(crate) async fn write_file<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    args: WriteArgs,
) -> Result<String> {
    let path = toolbox.resolve(&args.path)?;
    let (mount, inner) = toolbox.route(&path)?;
    let bytes = args.content.into_bytes();
    let size_bytes = bytes.len();
    for _ in toolbox.attempts() {
        let mut edit = toolbox.begin(mount, &path).await?;
        let (verb, executable) = match edit.tree.kind(&inner) {
            Some(NodeKind::File(entry)) => ("Overwrote", entry.executable),
            Some(NodeKind::Directory) => {
                return Err(ToolError::IsADirectory {
                    path: path.to_string(),
                }
                .into());
            }
            None => ("Created", false),
        };
        toolbox
            .put(&mut edit, inner.clone(), bytes.clone(), executable)
            .await?;
        if toolbox.finish(edit).await? {
            return Ok(format!("{verb} {path} ({size_bytes} bytes)."));
        }
    }
    Err(toolbox.conflict())
}

pub(crate) async fn edit_file<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    args: EditArgs,
) -> Result<String> {
    if args.old_string.is_empty() {
        return Err(ToolError::EmptyOldString.into());
    }
    if args.old_string == args.new_string {
        return Err(ToolError::NoChange.into());
    }
    let path = toolbox.resolve(&args.path)?;
    let (mount, inner) = toolbox.route(&path)?;
    for _ in toolbox.attempts() {
        let mut edit = toolbox.begin(mount, &path).await?;
        let entry = file_in(&edit.tree, &inner, &path)?.clone();
        let bytes = toolbox.load(&entry).await?;
        if is_binary(&bytes) {
            return Err(ToolError::Binary {
                path: path.to_string(),
                size_bytes: entry.size_bytes,
            }
            .into());
        }
        let text = String::from_utf8(bytes).map_err(|_| ToolError::NotText {
            path: path.to_string(),
        })?;
        let count = text.matches(args.old_string.as_str()).count();
        let edited = match (count, args.replace_all) {
            (0, _) => {
                return Err(ToolError::NoMatch {
                    path: path.to_string(),
                }
                .into());
            }
            (1, _) | (_, true) => text.replace(args.old_string.as_str(), &args.new_string),
            (count, false) => {
                return Err(ToolError::AmbiguousMatch {
                    path: path.to_string(),
                    count,
                }
                .into());
            }
        };
        toolbox
            .put(
                &mut edit,
                inner.clone(),
                edited.into_bytes(),
                entry.executable,
            )
            .await?;
        if toolbox.finish(edit).await? {
            let noun = if count == 1 {
                "occurrence"
            } else {
                "occurrences"
            };
            return Ok(format!("Edited {path}: replaced {count} {noun}."));
        }
    }
    Err(toolbox.conflict())
}
