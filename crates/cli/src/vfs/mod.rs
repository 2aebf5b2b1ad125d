//! `lightspeed vfs`: snapshots of local directories, materializing them back,
//! workspaces and session mounts.

mod materialize;
mod names;
mod snapshot;

use std::fmt::Write as _;

use api::types::vfs::*;
use serde::Serialize;

pub use materialize::{MaterializeSummary, materialize};
pub use snapshot::{SNAPSHOT_FILES_MAX, SnapshotSummary, snapshot_dir};

use crate::args::{MountCommand, VfsArgs, VfsCommand, WorkspaceCommand};
use crate::client::Client;
use crate::error::{CliError, Outcome};
use crate::sessions::{print_json, print_text};

pub async fn run(client: &Client, args: VfsArgs) -> Result<Outcome, CliError> {
    let json = args.json;
    match args.command {
        VfsCommand::Snapshot {
            dir,
            include_secrets,
        } => {
            let summary = snapshot_dir(client, &dir, include_secrets).await?;
            for skipped in &summary.skipped {
                eprintln!("skipped {skipped}");
            }
            if json {
                return print_json(&summary);
            }
            eprintln!(
                "{} files, {} bytes; uploaded {} new blobs ({} bytes)",
                summary.file_count,
                summary.total_bytes,
                summary.blobs_uploaded,
                summary.bytes_uploaded
            );
            print_text(&format!("{}\n", summary.snapshot_ref))
        }
        VfsCommand::Materialize {
            snapshot_ref,
            dir,
            keep_modes,
        } => {
            let summary = materialize(client, &snapshot_ref, &dir, keep_modes).await?;
            if json {
                return print_json(&summary);
            }
            print_text(&format!(
                "{} files in {}: {} downloaded ({} bytes), {} unchanged\n",
                summary.file_count,
                summary.destination,
                summary.downloaded,
                summary.bytes_downloaded,
                summary.unchanged
            ))
        }
        VfsCommand::Workspace(command) => workspace(client, command, json).await,
        VfsCommand::Mount(command) => mount(client, command, json).await,
    }
}

async fn workspace(
    client: &Client,
    command: WorkspaceCommand,
    json: bool,
) -> Result<Outcome, CliError> {
    let view = match command {
        WorkspaceCommand::Create { snapshot_ref, id } => {
            let params = VfsWorkspaceCreateParams {
                workspace_id: id,
                snapshot_ref,
            };
            client.vfs_workspace_create(&params).await?
        }
        WorkspaceCommand::Read { workspace_id } => client.vfs_workspace_read(&workspace_id).await?,
        WorkspaceCommand::Update {
            expected_revision,
            workspace_id,
            snapshot_ref,
        } => {
            let expected_revision = match expected_revision {
                Some(revision) => revision,
                None => client.vfs_workspace_read(&workspace_id).await?.revision,
            };
            let params = VfsWorkspaceUpdateParams {
                workspace_id,
                expected_revision,
                snapshot_ref,
            };
            client.vfs_workspace_update(&params).await?
        }
        WorkspaceCommand::Delete {
            expected_revision,
            workspace_id,
        } => {
            let params = VfsWorkspaceDeleteParams {
                workspace_id,
                expected_revision,
            };
            let deleted = client.vfs_workspace_delete(&params).await?;
            if json {
                return print_json(&deleted);
            }
            return print_text(&format!("deleted workspace {}\n", deleted.workspace_id));
        }
    };
    if json {
        return print_json(&view);
    }
    print_text(&workspace_text(&view))
}

pub fn workspace_text(view: &VfsWorkspaceView) -> String {
    format!(
        "workspace  {}\nrevision   {}\nsnapshot   {}\nfiles      {} ({} bytes)\n",
        view.workspace_id, view.revision, view.snapshot_ref, view.file_count, view.total_bytes
    )
}

async fn mount(client: &Client, command: MountCommand, json: bool) -> Result<Outcome, CliError> {
    match command {
        MountCommand::Put {
            session,
            path,
            workspace,
            snapshot,
            read_only,
        } => {
            let (source, mode) = match (workspace, snapshot) {
                (Some(workspace_id), None) => (
                    VfsMountSource::Workspace { workspace_id },
                    match read_only {
                        true => VfsMountMode::ReadOnly,
                        false => VfsMountMode::ReadWrite,
                    },
                ),
                (None, Some(snapshot_ref)) => (
                    VfsMountSource::Snapshot { snapshot_ref },
                    VfsMountMode::ReadOnly,
                ),
                _ => {
                    return Err(CliError::Usage(
                        "give one of --workspace ID or --snapshot REF".into(),
                    ));
                }
            };
            let params = VfsMountPutParams {
                session_id: session,
                mount_path: path,
                source,
                mode,
            };
            let view = client.vfs_mount_put(&params).await?;
            if json {
                return print_json(&view);
            }
            print_text(&mount_text(std::slice::from_ref(&view)))
        }
        MountCommand::Delete { session, path } => {
            let params = VfsMountDeleteParams {
                session_id: session,
                mount_path: path.clone(),
            };
            let deleted = client.vfs_mount_delete(&params).await?;
            if json {
                return print_json(&deleted);
            }
            print_text(&match deleted.deleted {
                true => format!("unmounted {path}\n"),
                false => format!("nothing was mounted at {path}\n"),
            })
        }
        MountCommand::List { session } => {
            let list = client.vfs_mount_list(&session).await?;
            if json {
                #[derive(Serialize)]
                struct Listed<'a> {
                    mounts: &'a [VfsMountView],
                }
                return print_json(&Listed {
                    mounts: &list.mounts,
                });
            }
            print_text(&mount_text(&list.mounts))
        }
    }
}

/// One line per mount: path, mode, source.
pub fn mount_text(mounts: &[VfsMountView]) -> String {
    if mounts.is_empty() {
        return "no mounts\n".into();
    }
    let mut out = String::new();
    for mount in mounts {
        let mode = match mount.mode {
            VfsMountMode::ReadOnly => "read-only",
            VfsMountMode::ReadWrite => "read-write",
        };
        let source = match &mount.source {
            VfsMountSource::Workspace { workspace_id } => format!("workspace {workspace_id}"),
            VfsMountSource::Snapshot { snapshot_ref } => format!("snapshot {snapshot_ref}"),
        };
        let _ = writeln!(out, "{}  {mode}  {source}", mount.mount_path);
    }
    out
}
