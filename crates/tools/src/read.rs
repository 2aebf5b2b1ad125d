//! `read_file` (`Read`): numbered lines of a text file, a window at a time.

use engine::store::BlobStore;
use serde::Deserialize;
use vfs::VfsCatalog;

use crate::error::{Result, ToolError};
use crate::toolbox::{Toolbox, is_binary};

#[derive(Debug, Deserialize)]
pub(crate) struct ReadArgs {
    #[serde(alias = "file_path")]
    path: String,
    /// 1-based first line; 0 is read as 1.
    #[serde(default)]
    offset: Option<usize>,
    #[serde(default)]
    limit: Option<usize>,
}

pub(crate) async fn read_file<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    args: ReadArgs,
) -> Result<String> {
    let limits = toolbox.limits;
    let path = toolbox.resolve(&args.path)?;
    let (entry, bytes) = toolbox.read(&path).await?;
    if is_binary(&bytes) {
        return Err(ToolError::Binary {
            path: path.to_string(),
            size_bytes: entry.size_bytes,
        }
        .into());
    }
    let text = String::from_utf8_lossy(&bytes);
    if text.is_empty() {
        return Ok(format!("[{path} is empty]"));
    }
    let lines: Vec<&str> = text.lines().collect();
    let first = args.offset.unwrap_or(1).max(1);
    if first > lines.len() {
        return Err(ToolError::OffsetPastEnd {
            path: path.to_string(),
            offset: first,
            lines: lines.len(),
        }
        .into());
    }
    let window = args
        .limit
        .unwrap_or(limits.read_lines_max)
        .clamp(1, limits.read_lines_max);
    // Leave room for the closing marker within the output cap.
    let budget = limits.output_bytes_max.saturating_sub(200);
    let mut output = String::new();
    let mut next = first;
    for (number, line) in lines.iter().enumerate().skip(first - 1).take(window) {
        let number = number + 1;
        let shown = numbered(number, line, limits.line_chars_max);
        if output.len() + shown.len() > budget && number > first {
            output.push_str(&format!(
                "[output truncated at {} bytes (output_bytes_max); continue with offset={number}]\n",
                limits.output_bytes_max
            ));
            return Ok(output);
        }
        output.push_str(&shown);
        next = number + 1;
    }
    if next <= lines.len() {
        output.push_str(&format!(
            "[{} more lines; continue with offset={next}]\n",
            lines.len() + 1 - next
        ));
    }
    Ok(output)
}

/// `<number><TAB><line>\n`, the line cut at `chars_max` characters with a marker.
fn numbered(number: usize, line: &str, chars_max: usize) -> String {
    match line.char_indices().nth(chars_max) {
        None => format!("{number:>6}\t{line}\n"),
        Some((cut, _)) => format!(
            "{number:>6}\t{}… [line truncated: {} characters]\n",
            &line[..cut],
            line.chars().count()
        ),
    }
}
