//! `grep` (`Grep`) and `glob` (`Glob`) over the files visible below a path.
//!
//! Globs use `globset` with `*` kept within a name; a glob without `/` matches the
//! file name at any depth (as in `.gitignore` and ripgrep's `--glob`). Patterns use
//! the `regex` crate (linear time, size-bounded), in multi-line mode so `^` and `$`
//! match at line ends (CRLF too). Results come in path order.

use engine::store::BlobStore;
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use regex::bytes::{Regex, RegexBuilder};
use serde::Deserialize;
use vfs::{SessionPath, VfsCatalog, VfsPath};

use crate::error::{Result, ToolError};
use crate::toolbox::{Toolbox, is_binary};

/// One glob or several.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Globs {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum OutputMode {
    #[default]
    Content,
    FilesWithMatches,
    Count,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GrepArgs {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, alias = "glob")]
    include: Option<Globs>,
    #[serde(default, alias = "-i", alias = "case_insensitive")]
    ignore_case: bool,
    #[serde(default)]
    output_mode: OutputMode,
    #[serde(default, alias = "head_limit")]
    max_results: Option<usize>,
    #[serde(default)]
    max_depth: Option<usize>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct GlobArgs {
    pattern: String,
    #[serde(default)]
    path: Option<String>,
    #[serde(default, alias = "head_limit")]
    max_results: Option<usize>,
}

/// Matches paths relative to a search root against globs.
struct PathMatcher {
    /// Globs with a `/`: matched against the relative path.
    paths: GlobSet,
    /// Globs without one: matched against the file name.
    names: GlobSet,
}

impl PathMatcher {
    fn new<'a>(globs: impl IntoIterator<Item = &'a str>) -> Result<Self> {
        let (mut paths, mut names) = (GlobSetBuilder::new(), GlobSetBuilder::new());
        for glob in globs {
            let glob = glob.trim().trim_start_matches("./");
            let compiled = GlobBuilder::new(glob)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|err| ToolError::Pattern {
                    what: "glob",
                    reason: err.to_string(),
                })?;
            match glob.contains('/') {
                true => paths.add(compiled),
                false => names.add(compiled),
            };
        }
        let build = |builder: GlobSetBuilder| {
            builder.build().map_err(|err| ToolError::Pattern {
                what: "glob",
                reason: err.to_string(),
            })
        };
        Ok(Self {
            paths: build(paths)?,
            names: build(names)?,
        })
    }

    fn is_match(&self, relative: &str) -> bool {
        let name = relative.rsplit('/').next().unwrap_or(relative);
        self.paths.is_match(relative) || self.names.is_match(name)
    }
}

/// The search root, from an optional path argument.
fn root<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    path: Option<&str>,
) -> Result<SessionPath> {
    match path {
        Some(raw) if !raw.trim().is_empty() => toolbox.resolve(raw),
        _ => Ok(toolbox.mounts.working_dir()),
    }
}

/// `path` relative to `root` (the file name when `path` is `root` itself).
fn relative(root: &SessionPath, path: &SessionPath) -> VfsPath {
    match path.strip_prefix(root) {
        Some(rest) if !rest.is_root() => rest,
        _ => VfsPath::parse(path.names().last().unwrap_or_default()).unwrap_or_default(),
    }
}

pub(crate) async fn grep<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    args: GrepArgs,
) -> Result<String> {
    let limits = toolbox.limits;
    let regex = RegexBuilder::new(&args.pattern)
        .case_insensitive(args.ignore_case)
        .multi_line(true)
        .crlf(true)
        .size_limit(limits.regex_bytes_max)
        .dfa_size_limit(limits.regex_bytes_max)
        .build()
        .map_err(|err| ToolError::Pattern {
            what: "regex",
            reason: err.to_string(),
        })?;
    let include = match &args.include {
        None => None,
        Some(Globs::One(glob)) => Some(PathMatcher::new([glob.as_str()])?),
        Some(Globs::Many(globs)) => Some(PathMatcher::new(globs.iter().map(String::as_str))?),
    };
    let results_max = args
        .max_results
        .unwrap_or(limits.grep_results_max)
        .clamp(1, limits.grep_results_max);
    let root = root(toolbox, args.path.as_deref())?;
    let visible = toolbox.visible(&root).await?;
    let mut report = Report::new(args.output_mode, results_max, limits.grep_line_chars_max);
    let mut scanned_bytes = 0u64;
    for (path, entry) in &visible.files {
        let rel = relative(&root, path);
        let too_deep = args.max_depth.is_some_and(|depth| rel.depth() > depth);
        if too_deep || include.as_ref().is_some_and(|m| !m.is_match(rel.as_str())) {
            continue;
        }
        if scanned_bytes.saturating_add(entry.size_bytes) > limits.grep_scan_bytes_max {
            report.stopped = Some(format!(
                "[search stopped after {scanned_bytes} bytes (grep_scan_bytes_max); narrow the path or include glob]"
            ));
            break;
        }
        scanned_bytes += entry.size_bytes;
        let bytes = toolbox.load(entry).await?;
        if is_binary(&bytes) {
            continue;
        }
        if !report.search(path, &bytes, &regex) {
            break;
        }
    }
    Ok(report.finish())
}

/// Collects grep results in the requested shape, up to the cap.
struct Report {
    mode: OutputMode,
    results_max: usize,
    line_chars_max: usize,
    results: usize,
    output: String,
    stopped: Option<String>,
}

impl Report {
    fn new(mode: OutputMode, results_max: usize, line_chars_max: usize) -> Self {
        Self {
            mode,
            results_max,
            line_chars_max,
            results: 0,
            output: String::new(),
            stopped: None,
        }
    }

    /// Searches one file; false once the cap is reached.
    fn search(&mut self, path: &SessionPath, bytes: &[u8], regex: &Regex) -> bool {
        let (mut line_number, mut counted_to, mut last_line_start) = (1usize, 0usize, None);
        let mut count = 0usize;
        let chars_max = self.line_chars_max;
        for found in regex.find_iter(bytes) {
            let start = bytes[..found.start()]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |at| at + 1);
            if last_line_start == Some(start) {
                continue;
            }
            last_line_start = Some(start);
            line_number += bytes[counted_to..start]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            counted_to = start;
            count += 1;
            if self.mode == OutputMode::Content {
                if !self.push(|| {
                    let end = bytes[start..]
                        .iter()
                        .position(|b| *b == b'\n')
                        .map_or(bytes.len(), |at| start + at);
                    let line = String::from_utf8_lossy(&bytes[start..end]);
                    let line = line.trim_end_matches('\r');
                    format!("{path}:{line_number}:{}", cut(line, chars_max))
                }) {
                    return false;
                }
            } else if self.mode == OutputMode::FilesWithMatches {
                break;
            }
        }
        match (self.mode, count) {
            (_, 0) | (OutputMode::Content, _) => true,
            (OutputMode::FilesWithMatches, _) => self.push(|| path.to_string()),
            (OutputMode::Count, count) => self.push(|| format!("{path}:{count}")),
        }
    }

    fn push(&mut self, line: impl FnOnce() -> String) -> bool {
        if self.results == self.results_max {
            self.stopped = Some(format!(
                "[results truncated at {} (max_results); narrow the pattern or path]",
                self.results_max
            ));
            return false;
        }
        self.results += 1;
        self.output.push_str(&line());
        self.output.push('\n');
        true
    }

    fn finish(mut self) -> String {
        if self.results == 0 && self.stopped.is_none() {
            return "No matches found.".to_owned();
        }
        if let Some(stopped) = self.stopped {
            self.output.push_str(&stopped);
            self.output.push('\n');
        }
        self.output
    }
}

fn cut(line: &str, chars_max: usize) -> String {
    match line.char_indices().nth(chars_max) {
        None => line.to_owned(),
        Some((at, _)) => format!("{}… [line truncated]", &line[..at]),
    }
}

pub(crate) async fn glob<C: VfsCatalog, B: BlobStore>(
    toolbox: &Toolbox<'_, C, B>,
    args: GlobArgs,
) -> Result<String> {
    let limits = toolbox.limits;
    let root = root(toolbox, args.path.as_deref())?;
    // An absolute pattern is matched against whole session paths from `/`.
    let (root, pattern) = match args.pattern.strip_prefix('/') {
        Some(rest) => (SessionPath::root(), rest.to_owned()),
        None => (root, args.pattern.clone()),
    };
    let matcher = PathMatcher::new([pattern.as_str()])?;
    let visible = toolbox.visible(&root).await?;
    if visible.is_file {
        return Err(ToolError::NotADirectory {
            path: root.to_string(),
        }
        .into());
    }
    let results_max = args
        .max_results
        .unwrap_or(limits.glob_results_max)
        .clamp(1, limits.glob_results_max);
    let mut output = String::new();
    let mut shown = 0;
    for (path, _) in &visible.files {
        if !matcher.is_match(relative(&root, path).as_str()) {
            continue;
        }
        if shown == results_max {
            output.push_str(&format!(
                "[results truncated at {results_max} (max_results); narrow the pattern]\n"
            ));
            return Ok(output);
        }
        shown += 1;
        output.push_str(path.as_str());
        output.push('\n');
    }
    if shown == 0 {
        return Ok("No files matched.".to_owned());
    }
    Ok(output)
}
