//! `list_dir`: the entries of a directory, a few levels deep, across mounts
//! (a mount attached below the directory shows as a subdirectory).

use std::collections::BTreeMap;

use engine::store::BlobStore;
use serde::Deserialize;
use vfs::{SessionPath, VfsCatalog};

use crate::error::{Result, ToolError};
use crate::toolbox::Toolbox;

#[derive(Debug, Deserialize)]
pub(crate) struct ListArgs {
    #[serde(default, alias = "dir_path")]
    path: Option<String>,
    #[serde(default)]
    depth: Option<usize>,
}

/// A listed entry: a directory, or a file with its size.
enum Entry {
    Dir,
    File { size_bytes: u64, executable: bool },
}

pub(crate) async fn list_dir<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    args: ListArgs,
) -> Result<String> {
    let limits = toolbox.limits;
    let dir = match args.path.as_deref() {
        Some(raw) if !raw.trim().is_empty() => toolbox.resolve(raw)?,
        _ => toolbox.mounts.working_dir(),
    };
    let depth = args.depth.unwrap_or(1).clamp(1, limits.list_depth_max);
    let visible = toolbox.visible(&dir).await?;
    if visible.is_file {
        return Err(ToolError::NotADirectory {
            path: dir.to_string(),
        }
        .into());
    }
    // Relative path -> entry; directories come from files and mount points below.
    let mut entries: BTreeMap<String, Entry> = BTreeMap::new();
    for mount_path in &visible.mount_points {
        let names = relative_names(&dir, mount_path);
        let mut with_leaf = names.clone();
        with_leaf.push("");
        add_dirs(&mut entries, &with_leaf, depth);
    }
    for (path, file) in &visible.files {
        let names = relative_names(&dir, path);
        add_dirs(&mut entries, &names, depth);
        if names.len() <= depth {
            entries.insert(
                names.join("/"),
                Entry::File {
                    size_bytes: file.size_bytes,
                    executable: file.executable,
                },
            );
        }
    }
    if entries.is_empty() {
        return Ok(format!("{dir} is empty."));
    }
    let mut output = format!("{dir}:\n");
    for (shown, (name, entry)) in entries.iter().enumerate() {
        if shown == limits.list_entries_max {
            output.push_str(&format!(
                "[listing truncated at {} entries (list_entries_max) of {}]\n",
                limits.list_entries_max,
                entries.len()
            ));
            break;
        }
        match entry {
            Entry::Dir => output.push_str(&format!("  {name}/\n")),
            Entry::File {
                size_bytes,
                executable: false,
            } => output.push_str(&format!("  {name} ({size_bytes} bytes)\n")),
            Entry::File {
                size_bytes,
                executable: true,
            } => output.push_str(&format!("  {name} ({size_bytes} bytes, executable)\n")),
        }
    }
    Ok(output)
}

fn relative_names<'p>(dir: &SessionPath, path: &'p SessionPath) -> Vec<&'p str> {
    path.names().skip(dir.names().count()).collect()
}

/// Records the directories on the way to `names` (its last name excluded), down to
/// `depth` levels.
fn add_dirs(entries: &mut BTreeMap<String, Entry>, names: &[&str], depth: usize) {
    for end in 1..names.len().min(depth + 1) {
        entries.insert(names[..end].join("/"), Entry::Dir);
    }
}
