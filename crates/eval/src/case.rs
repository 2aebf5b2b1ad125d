//! The eval case format (`evals/cases/*.json`, documented in the crate README).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::EvalError;

/// One eval case as written on disk.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Case {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub setup: Setup,
    /// A single user message; exclusive with `turns`.
    #[serde(default)]
    pub prompt: Option<String>,
    /// A multi-turn script: one run per user message, in order.
    #[serde(default)]
    pub turns: Vec<String>,
    /// Merged over the session config the runner builds (model route, instructions,
    /// tools, runDefaults, budget...): any `SessionConfigInput` field.
    #[serde(default)]
    pub session: serde_json::Map<String, Value>,
    #[serde(default)]
    pub expect: Expect,
    #[serde(default = "one")]
    pub runs: u32,
    #[serde(default = "full")]
    pub min_pass_rate: f64,
    /// Paths (relative to the working directory) the case needs, e.g. an MCP
    /// server's script: when one is missing the case is skipped and reported so.
    #[serde(default)]
    pub requires: Vec<String>,
    /// The fake provider's script (docs/fake-provider.md); ignored with `--live`.
    #[serde(default)]
    pub fake_provider: Option<Value>,
}

fn one() -> u32 {
    1
}

fn full() -> f64 {
    1.0
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Setup {
    /// Workspace files (relative path -> content), uploaded and mounted read-write.
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Where the workspace is mounted (default `/repo`).
    #[serde(default)]
    pub mount_path: Option<String>,
    /// The session's `tools` config, e.g. `{"filesystem": "edit"}`; with files and no
    /// tools given, `{"filesystem": "edit"}`.
    #[serde(default)]
    pub tools: Option<Value>,
    /// MCP servers: `mcp/servers/put` params, put and then linked to the session.
    /// `{cwd}` in any string is replaced with the runner's working directory, so a
    /// stdio server's script path can be absolute.
    #[serde(default)]
    pub mcp_servers: Vec<Value>,
    /// Memory blocks created (if missing) and attached before the first run.
    #[serde(default)]
    pub memory_blocks: Vec<MemoryBlock>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MemoryBlock {
    pub label: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub value: String,
}

/// What a run must show. Every field is optional; an empty `Expect` only checks that
/// the last run completed.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub tools_called: Vec<ToolExpect>,
    /// Tool names that must not be called.
    #[serde(default)]
    pub tools_not_called: Vec<String>,
    /// Substrings of the assistant text (all assistant messages, newline-joined).
    #[serde(default)]
    pub text_contains: Vec<String>,
    #[serde(default)]
    pub text_regex: Vec<String>,
    /// Substrings that some tool result's output must contain.
    #[serde(default)]
    pub tool_output_contains: Vec<String>,
    /// Workspace path (relative to the mount) -> expected content after the run.
    #[serde(default)]
    pub files: BTreeMap<String, FileExpect>,
    /// Status of the last run: `completed` (the default), `failed`, `cancelled`.
    #[serde(default)]
    pub status: Option<String>,
    /// Substrings of the last run's failure (`{reason, code, message}` as JSON),
    /// e.g. `limitExceeded`.
    #[serde(default)]
    pub failure_contains: Vec<String>,
    /// Generations over all runs of the case.
    #[serde(default)]
    pub turns_max: Option<u32>,
    #[serde(default)]
    pub cost_usd_max: Option<f64>,
    /// Offline only (ignored with `--live`): substrings that some request the fake
    /// provider received must contain, e.g. AGENTS.md text or a skill catalog entry
    /// that only reaches the model's context.
    #[serde(default)]
    pub provider_request_contains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ToolExpect {
    pub name: String,
    /// Every matcher must hold on one and the same call.
    #[serde(default)]
    pub args: Vec<ArgMatcher>,
    /// At least this many matching calls (default 1).
    #[serde(default)]
    pub min_times: Option<u32>,
}

/// A check on the JSON value at `pointer` (RFC 6901) of a call's arguments.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ArgMatcher {
    pub pointer: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default)]
    pub contains: Option<String>,
    #[serde(default)]
    pub regex: Option<String>,
}

/// A file's expected content: a string is exact content.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum FileExpect {
    Exact(String),
    Check(FileCheck),
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileCheck {
    #[serde(default)]
    pub equals: Option<String>,
    #[serde(default)]
    pub contains: Vec<String>,
    /// `true`: the file must not exist.
    #[serde(default)]
    pub absent: bool,
}

impl Case {
    /// The user messages, one per run.
    pub fn messages(&self) -> Vec<String> {
        match &self.prompt {
            Some(prompt) => std::iter::once(prompt.clone())
                .chain(self.turns.iter().cloned())
                .collect(),
            None => self.turns.clone(),
        }
    }

    /// The first path of `requires` that does not exist.
    pub fn missing_requirement(&self) -> Option<&str> {
        self.requires
            .iter()
            .find(|path| !Path::new(path.as_str()).exists())
            .map(String::as_str)
    }

    pub fn mount_path(&self) -> String {
        self.setup
            .mount_path
            .clone()
            .unwrap_or_else(|| "/repo".to_owned())
    }

    fn check(&self, path: &Path) -> Result<(), EvalError> {
        let bad = |message: String| EvalError::Case {
            path: path.to_path_buf(),
            message,
        };
        if self.name.is_empty() {
            return Err(bad("`name` is empty".into()));
        }
        if self.messages().is_empty() {
            return Err(bad("needs `prompt` or `turns`".into()));
        }
        if self.runs == 0 {
            return Err(bad("`runs` must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.min_pass_rate) {
            return Err(bad("`minPassRate` must be within 0..=1".into()));
        }
        for pattern in &self.expect.text_regex {
            regex::Regex::new(pattern).map_err(|err| bad(format!("textRegex: {err}")))?;
        }
        for tool in &self.expect.tools_called {
            for arg in &tool.args {
                if let Some(pattern) = &arg.regex {
                    regex::Regex::new(pattern)
                        .map_err(|err| bad(format!("toolsCalled {}: {err}", tool.name)))?;
                }
            }
        }
        Ok(())
    }
}

/// Reads one case file.
pub fn load_case(path: &Path) -> Result<Case, EvalError> {
    let text = std::fs::read_to_string(path).map_err(|err| EvalError::Io {
        path: path.to_path_buf(),
        source: err,
    })?;
    let case: Case = serde_json::from_str(&text).map_err(|err| EvalError::Case {
        path: path.to_path_buf(),
        message: err.to_string(),
    })?;
    case.check(path)?;
    Ok(case)
}

/// Reads case files: each path is a `.json` file or a directory of them (sorted by
/// name, so reports are stable). Names must be unique.
pub fn load_cases(paths: &[PathBuf]) -> Result<Vec<Case>, EvalError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let entries = std::fs::read_dir(path).map_err(|err| EvalError::Io {
                path: path.clone(),
                source: err,
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.extension().is_some_and(|ext| ext == "json"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    let mut cases = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    for file in &files {
        let case = load_case(file)?;
        if !names.insert(case.name.clone()) {
            return Err(EvalError::Case {
                path: file.clone(),
                message: format!("duplicate case name {:?}", case.name),
            });
        }
        cases.push(case);
    }
    Ok(cases)
}
