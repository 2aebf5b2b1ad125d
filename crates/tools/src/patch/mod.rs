//! `apply_patch`: the Codex patch envelope over one mount, all or nothing. Every
//! operation applies to one in-memory tree, which is committed as one snapshot; any
//! failure leaves the workspace as it was. A patch may touch one mount only, since
//! heads of different workspaces cannot move together.

mod hunks;
mod parse;

use engine::store::BlobStore;
use serde::Deserialize;
use vfs::{Mount, SessionPath, VfsCatalog, VfsPath};

use crate::error::{Result, ToolError, check_limit};
use crate::toolbox::{Edit, Toolbox, file_in, is_binary};
use parse::Op;

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PatchArgs {
    Object {
        #[serde(alias = "patch")]
        input: String,
    },
    /// Some models send the patch as a bare JSON string.
    Bare(String),
}

/// The patch text of a call.
pub(crate) fn arguments(arguments: &[u8]) -> Result<String> {
    match crate::toolbox::parse::<PatchArgs>(arguments) {
        Ok(PatchArgs::Object { input } | PatchArgs::Bare(input)) => Ok(input),
        Err(_) => Err(ToolError::Arguments(
            "apply_patch takes {\"input\": \"*** Begin Patch ... *** End Patch\"}".into(),
        )
        .into()),
    }
}

/// One operation with its paths resolved inside the mount.
struct Resolved<'o> {
    op: &'o Op,
    path: SessionPath,
    inner: VfsPath,
    moved: Option<(SessionPath, VfsPath)>,
}

pub(crate) async fn apply_patch<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    patch: String,
) -> Result<String> {
    check_limit(
        "patch_bytes_max",
        patch.len(),
        toolbox.limits.patch_bytes_max,
    )?;
    let ops = parse::parse(&patch)?;
    check_limit("patch_files_max", ops.len(), toolbox.limits.patch_files_max)?;
    let mut mount: Option<&Mount> = None;
    let mut resolved = Vec::with_capacity(ops.len());
    for op in &ops {
        let mut located = Vec::with_capacity(2);
        for raw in op.paths() {
            let path = toolbox.resolve(raw)?;
            let (owner, inner) = toolbox.route(&path)?;
            match mount {
                Some(first) if first.path != owner.path => {
                    return Err(ToolError::PatchAcrossMounts {
                        first: first.path.to_string(),
                        second: owner.path.to_string(),
                    }
                    .into());
                }
                _ => mount = Some(owner),
            }
            located.push((path, inner));
        }
        let mut located = located.into_iter();
        let Some((path, inner)) = located.next() else {
            continue;
        };
        resolved.push(Resolved {
            op,
            path,
            inner,
            moved: located.next(),
        });
    }
    let Some(mount) = mount else {
        return Err(ToolError::Arguments("the patch changes no file".into()).into());
    };
    let first_path = &resolved[0].path;
    for _ in toolbox.attempts() {
        let mut edit = toolbox.begin(mount, first_path).await?;
        let mut summary = String::from("Success. Updated the following files:\n");
        for step in &resolved {
            summary.push_str(&apply_one(toolbox, &mut edit, step).await?);
            summary.push('\n');
        }
        if toolbox.finish(edit).await? {
            return Ok(summary);
        }
    }
    Err(toolbox.conflict())
}

/// Applies one operation to the edit's tree; returns its summary line.
async fn apply_one<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    edit: &mut Edit<'_>,
    step: &Resolved<'_>,
) -> Result<String> {
    let Resolved {
        op,
        path,
        inner,
        moved,
    } = step;
    match op {
        Op::Add { content, .. } => {
            if edit.tree.kind(inner).is_some() {
                return Err(ToolError::AlreadyExists {
                    path: path.to_string(),
                }
                .into());
            }
            let bytes = content.clone().into_bytes();
            toolbox.put(edit, inner.clone(), bytes, false).await?;
            Ok(format!("A {path}"))
        }
        Op::Delete { .. } => {
            file_in(&edit.tree, inner, path)?;
            edit.tree.remove(inner);
            Ok(format!("D {path}"))
        }
        Op::Update { hunks, .. } => {
            let entry = file_in(&edit.tree, inner, path)?.clone();
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
            let updated = match hunks.is_empty() {
                true => text,
                false => hunks::apply(&text, hunks).map_err(|reason| ToolError::PatchContext {
                    path: path.to_string(),
                    reason,
                })?,
            };
            let (target, target_inner) = match moved {
                Some((to, to_inner)) if to_inner != inner => {
                    if edit.tree.kind(to_inner).is_some() {
                        return Err(ToolError::AlreadyExists {
                            path: to.to_string(),
                        }
                        .into());
                    }
                    edit.tree.remove(inner);
                    (to, to_inner)
                }
                _ => (path, inner),
            };
            let bytes = updated.into_bytes();
            toolbox
                .put(edit, target_inner.clone(), bytes, entry.executable)
                .await?;
            Ok(match target == path {
                true => format!("M {path}"),
                false => format!("M {target} (moved from {path})"),
            })
        }
    }
}
