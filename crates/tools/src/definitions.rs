//! Tool definitions as stored in the CAS (`docs/spec/cas-content.md`):
//! `{"name", "description", "parameters": <JSON Schema>}`, per provider surface.
//! Descriptions state the limits in force, so the model knows where output stops.

use serde::Serialize;
use serde_json::{Value, json};

use crate::limits::Limits;
use crate::names::{Mode, Surface, ToolKind};

/// One tool definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ToolDefinition {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

impl ToolDefinition {
    /// Canonical JSON bytes, ready for the CAS.
    pub fn to_bytes(&self) -> Vec<u8> {
        engine::canonical::to_vec(self)
    }
}

/// The definitions a session on `api_kind` gets in `mode`, with default limits.
pub fn definitions_for(api_kind: &str, mode: Mode) -> Vec<ToolDefinition> {
    definitions_with(api_kind, mode, &Limits::default())
}

/// The definitions a session on `api_kind` gets in `mode`, describing `limits`.
pub fn definitions_with(api_kind: &str, mode: Mode, limits: &Limits) -> Vec<ToolDefinition> {
    let surface = Surface::for_api_kind(api_kind);
    ToolKind::offered(mode)
        .map(|kind| definition(kind, surface, limits))
        .collect()
}

const PATH_RULES: &str = "Paths are absolute session paths such as /workspace/src/main.rs; \
    relative paths start at the first writable mount.";

fn object(properties: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": properties, "required": required,
           "additionalProperties": false})
}

/// Argument names that differ between surfaces: (file path, include glob,
/// case-insensitive flag, result cap).
fn spellings(surface: Surface) -> (&'static str, &'static str, &'static str, &'static str) {
    match surface {
        Surface::OpenAi => ("path", "include", "ignore_case", "max_results"),
        Surface::Anthropic => ("file_path", "glob", "-i", "head_limit"),
    }
}

fn definition(kind: ToolKind, surface: Surface, limits: &Limits) -> ToolDefinition {
    let (file, include, ignore_case, max_results) = spellings(surface);
    let (description, parameters) = match kind {
        ToolKind::ReadFile => (
            format!(
                "Reads a text file. Output lines are `<line number><TAB><text>`. Returns up to \
                 {} lines starting at `offset`; lines over {} characters and output over {} bytes \
                 are cut with a marker that says where to continue. Binary files are refused. {PATH_RULES}",
                limits.read_lines_max, limits.line_chars_max, limits.output_bytes_max
            ),
            object(
                json!({
                    file: {"type": "string", "description": "The file to read."},
                    "offset": {"type": "integer", "minimum": 1, "description": "1-based line to start at (default 1)."},
                    "limit": {"type": "integer", "minimum": 1, "description": format!("Lines to return (default and maximum {}).", limits.read_lines_max)}
                }),
                &[file],
            ),
        ),
        ToolKind::WriteFile => (
            format!(
                "Creates or overwrites a file with `content`; missing directories are created. \
                 Files are at most {} bytes. {PATH_RULES}",
                limits.vfs.file_bytes_max
            ),
            object(
                json!({
                    file: {"type": "string", "description": "The file to write."},
                    "content": {"type": "string", "description": "The complete new content."}
                }),
                &[file, "content"],
            ),
        ),
        ToolKind::EditFile => (
            format!(
                "Replaces the exact text `old_string` with `new_string` in a file. `old_string` \
                 must occur exactly once (include enough surrounding lines) unless `replace_all` \
                 is true. Whitespace and indentation must match the file exactly. {PATH_RULES}"
            ),
            object(
                json!({
                    file: {"type": "string", "description": "The file to edit."},
                    "old_string": {"type": "string", "description": "The exact text to replace."},
                    "new_string": {"type": "string", "description": "The replacement text."},
                    "replace_all": {"type": "boolean", "description": "Replace every occurrence (default false)."}
                }),
                &[file, "old_string", "new_string"],
            ),
        ),
        ToolKind::ApplyPatch => (
            format!(
                "Applies a patch in this format; every file changes or none does:\n\
                 *** Begin Patch\n*** Add File: path/new.txt\n+line\n*** Update File: path/old.txt\n\
                 *** Move to: path/renamed.txt   (optional)\n@@ optional line to find first\n \
                 context line\n-removed line\n+added line\n*** Delete File: path/gone.txt\n*** End Patch\n\
                 Context lines start with a space. Up to {} files and {} bytes per patch. {PATH_RULES}",
                limits.patch_files_max, limits.patch_bytes_max
            ),
            object(
                json!({"input": {"type": "string", "description": "The whole patch, from `*** Begin Patch` to `*** End Patch`."}}),
                &["input"],
            ),
        ),
        ToolKind::Grep => (
            format!(
                "Searches file contents with a regular expression (Rust regex syntax; `^` and `$` \
                 match at line ends). Output modes: `content` (default; `path:line:text`), \
                 `files_with_matches`, `count`. At most {} results; binary files are skipped. {PATH_RULES}",
                limits.grep_results_max
            ),
            object(
                json!({
                    "pattern": {"type": "string", "description": "The regular expression."},
                    "path": {"type": "string", "description": "File or directory to search (default: the first mount)."},
                    include: {"type": "string", "description": "Only files matching this glob, e.g. `*.rs` or `src/**/*.{ts,tsx}`; a glob without `/` matches file names at any depth."},
                    ignore_case: {"type": "boolean", "description": "Match case-insensitively (default false)."},
                    "output_mode": {"type": "string", "enum": ["content", "files_with_matches", "count"]},
                    max_results: {"type": "integer", "minimum": 1, "description": format!("Result cap (at most {}).", limits.grep_results_max)},
                    "max_depth": {"type": "integer", "minimum": 1, "description": "Only files at most this many levels below `path` (1 = directly in it)."}
                }),
                &["pattern"],
            ),
        ),
        ToolKind::Glob => (
            format!(
                "Finds files by glob pattern (`*` stays within a name, `**` crosses directories, \
                 `{{a,b}}` alternates); a pattern without `/` matches file names at any depth. \
                 Returns paths in order, at most {}. {PATH_RULES}",
                limits.glob_results_max
            ),
            object(
                json!({
                    "pattern": {"type": "string", "description": "The glob, relative to `path`."},
                    "path": {"type": "string", "description": "Directory to search (default: the first mount)."}
                }),
                &["pattern"],
            ),
        ),
        ToolKind::ListDir => (
            format!(
                "Lists a directory: subdirectories end with `/`, files show their size. `depth` \
                 descends further (default 1, at most {}); at most {} entries. {PATH_RULES}",
                limits.list_depth_max, limits.list_entries_max
            ),
            object(
                json!({
                    "path": {"type": "string", "description": "The directory (default: the first mount)."},
                    "depth": {"type": "integer", "minimum": 1, "description": "Levels to list (default 1)."}
                }),
                &[],
            ),
        ),
    };
    ToolDefinition {
        name: kind.name_for(surface).to_owned(),
        description,
        parameters,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surfaces_get_their_names_and_modes_their_tools() {
        let names = |kind: &str, mode| -> Vec<String> {
            definitions_for(kind, mode)
                .into_iter()
                .map(|d| d.name)
                .collect()
        };
        assert_eq!(
            names("openai:responses", Mode::Edit),
            [
                "read_file",
                "write_file",
                "edit_file",
                "apply_patch",
                "grep",
                "glob",
                "list_dir"
            ]
        );
        assert_eq!(
            names("anthropic:messages", Mode::Edit),
            [
                "Read",
                "Write",
                "Edit",
                "apply_patch",
                "Grep",
                "Glob",
                "list_dir"
            ]
        );
        assert_eq!(
            names("openai:completions", Mode::ReadOnly),
            ["read_file", "grep", "glob", "list_dir"]
        );
        let read = &definitions_for("anthropic:messages", Mode::ReadOnly)[0];
        assert_eq!(read.parameters["required"], json!(["file_path"]));
        let bytes = read.to_bytes();
        let decoded: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(decoded["name"], "Read");
        assert!(
            decoded["description"]
                .as_str()
                .unwrap()
                .contains("2000 lines")
        );
    }
}
