//! The Codex patch envelope:
//!
//! ```text
//! *** Begin Patch
//! *** Add File: <path>            then lines starting with `+`
//! *** Delete File: <path>
//! *** Update File: <path>
//! *** Move to: <path>             optional, right after Update File
//! @@ <optional line to find>      starts a hunk (may be omitted before the first)
//!  context / -removed / +added    hunk lines; an empty line is empty context
//! *** End of File                 optional: the hunk must match at the end
//! *** End Patch
//! ```

use crate::error::{Result, ToolError};

const BEGIN: &str = "*** Begin Patch";
const END: &str = "*** End Patch";
const ADD: &str = "*** Add File: ";
const DELETE: &str = "*** Delete File: ";
const UPDATE: &str = "*** Update File: ";
const MOVE: &str = "*** Move to: ";
const END_OF_FILE: &str = "*** End of File";

/// One file operation, with the path as written in the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Add {
        path: String,
        content: String,
    },
    Delete {
        path: String,
    },
    Update {
        path: String,
        move_to: Option<String>,
        hunks: Vec<Hunk>,
    },
}

impl Op {
    pub(crate) fn paths(&self) -> impl Iterator<Item = &str> {
        let (path, moved) = match self {
            Op::Add { path, .. } | Op::Delete { path } => (path, None),
            Op::Update { path, move_to, .. } => (path, move_to.as_ref()),
        };
        std::iter::once(path.as_str()).chain(moved.map(String::as_str))
    }
}

/// One hunk: lines to find (context and removed) and what replaces them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Hunk {
    /// The `@@` line's text: a line to find before the hunk.
    pub(crate) anchor: Option<String>,
    pub(crate) old: Vec<String>,
    pub(crate) new: Vec<String>,
    pub(crate) end_of_file: bool,
}

fn syntax(line: usize, reason: impl Into<String>) -> crate::error::Failure {
    ToolError::PatchSyntax {
        line,
        reason: reason.into(),
    }
    .into()
}

/// Parses a whole patch.
pub(crate) fn parse(text: &str) -> Result<Vec<Op>> {
    let lines: Vec<&str> = text
        .trim()
        .lines()
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    if lines.first().map(|l| l.trim()) != Some(BEGIN) {
        return Err(syntax(1, format!("the patch must start with `{BEGIN}`")));
    }
    if lines.len() < 2 || lines.last().map(|l| l.trim()) != Some(END) {
        return Err(syntax(
            lines.len(),
            format!("the patch must end with `{END}`"),
        ));
    }
    let body = &lines[1..lines.len() - 1];
    let mut ops = Vec::new();
    let mut at = 0;
    while at < body.len() {
        // Line numbers in messages count from the patch's first line.
        let number = at + 2;
        let line = body[at];
        if let Some(path) = line.strip_prefix(ADD) {
            let mut content = String::new();
            at += 1;
            while let Some(added) = body.get(at).and_then(|l| l.strip_prefix('+')) {
                content.push_str(added);
                content.push('\n');
                at += 1;
            }
            ops.push(Op::Add {
                path: file_path(number, path)?,
                content,
            });
        } else if let Some(path) = line.strip_prefix(DELETE) {
            ops.push(Op::Delete {
                path: file_path(number, path)?,
            });
            at += 1;
        } else if let Some(path) = line.strip_prefix(UPDATE) {
            let path = file_path(number, path)?;
            at += 1;
            let move_to = match body.get(at).and_then(|l| l.strip_prefix(MOVE)) {
                Some(to) => {
                    at += 1;
                    Some(file_path(at + 1, to)?)
                }
                None => None,
            };
            let (hunks, next) = parse_hunks(body, at)?;
            if hunks.is_empty() && move_to.is_none() {
                return Err(syntax(number, format!("update of {path} has no hunks")));
            }
            at = next;
            ops.push(Op::Update {
                path,
                move_to,
                hunks,
            });
        } else if line.trim().is_empty() {
            at += 1;
        } else {
            return Err(syntax(
                number,
                format!(
                    "expected `{ADD}`, `{DELETE}` or `{UPDATE}`, found {:?}",
                    line
                ),
            ));
        }
    }
    if ops.is_empty() {
        return Err(syntax(1, "the patch changes no file"));
    }
    Ok(ops)
}

fn file_path(line: usize, raw: &str) -> Result<String> {
    let path = raw.trim();
    if path.is_empty() {
        return Err(syntax(line, "missing file path"));
    }
    Ok(path.to_owned())
}

/// Parses the hunks of one update, from `body[at]` up to the next file operation.
fn parse_hunks(body: &[&str], mut at: usize) -> Result<(Vec<Hunk>, usize)> {
    let mut hunks: Vec<Hunk> = Vec::new();
    let mut open: Option<Hunk> = None;
    while let Some(&line) = body.get(at) {
        let number = at + 2;
        if line.starts_with("*** ") && line.trim() != END_OF_FILE {
            break;
        }
        if let Some(anchor) = line.strip_prefix("@@") {
            hunks.extend(close(open.take(), number)?);
            let anchor = anchor.trim();
            open = Some(Hunk {
                anchor: (!anchor.is_empty()).then(|| anchor.to_owned()),
                ..Hunk::default()
            });
        } else if line.trim() == END_OF_FILE {
            let mut hunk = open
                .take()
                .ok_or_else(|| syntax(number, "`*** End of File` outside a hunk"))?;
            hunk.end_of_file = true;
            hunks.extend(close(Some(hunk), number)?);
        } else {
            let hunk = match (&mut open, hunks.is_empty()) {
                (Some(hunk), _) => hunk,
                // The first hunk may leave out its `@@` line.
                (None, true) => open.insert(Hunk::default()),
                (None, false) => {
                    return Err(syntax(number, format!("expected `@@`, found {line:?}")));
                }
            };
            let text = line.get(1..).unwrap_or_default();
            match line.chars().next() {
                Some(' ') => {
                    hunk.old.push(text.to_owned());
                    hunk.new.push(text.to_owned());
                }
                Some('-') => hunk.old.push(text.to_owned()),
                Some('+') => hunk.new.push(text.to_owned()),
                // An empty line: models drop the space of empty context lines.
                None => {
                    hunk.old.push(String::new());
                    hunk.new.push(String::new());
                }
                Some(_) => {
                    return Err(syntax(
                        number,
                        format!("hunk lines start with ` `, `-` or `+`, found {line:?}"),
                    ));
                }
            }
        }
        at += 1;
    }
    hunks.extend(close(open, at + 2)?);
    Ok((hunks, at))
}

fn close(hunk: Option<Hunk>, line: usize) -> Result<Option<Hunk>> {
    match hunk {
        Some(hunk) if hunk.old.is_empty() && hunk.new.is_empty() => Err(syntax(line, "empty hunk")),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_operation() {
        let patch = "*** Begin Patch\n*** Add File: new.txt\n+one\n+two\n*** Delete File: old.txt\n\
                     *** Update File: src/a.rs\n*** Move to: src/b.rs\n@@ fn main() {\n   let x = 1;\n\
                     -  x\n+  x + 1\n\n@@\n-tail\n+TAIL\n*** End of File\n*** End Patch\n";
        let ops = parse(patch).unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(
            ops[0],
            Op::Add {
                path: "new.txt".into(),
                content: "one\ntwo\n".into()
            }
        );
        assert_eq!(
            ops[1],
            Op::Delete {
                path: "old.txt".into()
            }
        );
        let Op::Update {
            path,
            move_to,
            hunks,
        } = &ops[2]
        else {
            panic!("not an update: {:?}", ops[2]);
        };
        assert_eq!(
            (path.as_str(), move_to.as_deref()),
            ("src/a.rs", Some("src/b.rs"))
        );
        assert_eq!(hunks.len(), 2);
        assert_eq!(hunks[0].anchor.as_deref(), Some("fn main() {"));
        assert_eq!(hunks[0].old, ["  let x = 1;", "  x", ""]);
        assert_eq!(hunks[0].new, ["  let x = 1;", "  x + 1", ""]);
        assert!(hunks[1].end_of_file);
    }

    #[test]
    fn refuses_malformed_patches() {
        for (patch, expected) in [
            (
                "*** Update File: a\n@@\n-x\n+y\n*** End Patch",
                "must start",
            ),
            ("*** Begin Patch\n*** Delete File: a\n", "must end"),
            ("*** Begin Patch\n*** End Patch", "changes no file"),
            (
                "*** Begin Patch\n*** Frobnicate File: a\n*** End Patch",
                "expected",
            ),
            (
                "*** Begin Patch\n*** Update File: a\n*** End Patch",
                "no hunks",
            ),
            (
                "*** Begin Patch\n*** Update File: a\n@@\n*** End Patch",
                "empty hunk",
            ),
            (
                "*** Begin Patch\n*** Update File: a\n@@\n?x\n*** End Patch",
                "hunk lines",
            ),
            (
                "*** Begin Patch\n*** Delete File:  \n*** End Patch",
                "missing file path",
            ),
        ] {
            match parse(patch) {
                Err(crate::error::Failure::Tool(err)) => {
                    assert!(err.to_string().contains(expected), "{patch:?}: {err}")
                }
                other => panic!("{patch:?}: {other:?}"),
            }
        }
    }
}
