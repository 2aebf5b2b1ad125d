//! Checks a case run's outcome against the case's expectations. Each failed check is a
//! [`Mismatch`]: what was expected and what happened, for a readable diff.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::case::{ArgMatcher, Expect, FileExpect, ToolExpect};

/// One tool call the run made, with its result when one was recorded.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallSeen {
    pub name: String,
    pub arguments: Value,
    #[serde(default)]
    pub output: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// What one run of a case did, as observed over the API.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Status of each run (one per user message), in order.
    pub statuses: Vec<String>,
    /// The last run's failure, as the API reported it.
    #[serde(default)]
    pub failure: Option<Value>,
    pub turns: u32,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    pub latency_ms: u64,
    /// Assistant messages, newline-joined.
    pub text: String,
    pub tool_calls: Vec<ToolCallSeen>,
    /// Workspace files after the run (path relative to the mount -> content).
    #[serde(default)]
    pub files: BTreeMap<String, String>,
    /// Offline: the raw bodies of the requests the fake provider received, one per
    /// line (its `--record` file). Not kept in reports: it is the whole context.
    #[serde(skip)]
    pub provider_requests: Option<String>,
    /// The harness could not run the case (an RPC failed, a timeout).
    #[serde(default)]
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Mismatch {
    pub check: String,
    pub expected: String,
    pub actual: String,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "  ✗ {}", self.check)?;
        writeln!(f, "      expected: {}", indent(&self.expected))?;
        write!(f, "      actual:   {}", indent(&self.actual))
    }
}

fn indent(text: &str) -> String {
    text.replace('\n', "\n                ")
}

/// Every failed check of `outcome` against `expect`; empty means the run passed.
pub fn evaluate(expect: &Expect, outcome: &Outcome) -> Vec<Mismatch> {
    let mut out = Vec::new();
    let mut miss = |check: String, expected: String, actual: String| {
        out.push(Mismatch {
            check,
            expected,
            actual,
        })
    };
    if let Some(error) = &outcome.error {
        miss(
            "the case ran".into(),
            "no harness error".into(),
            error.clone(),
        );
    }
    let want_status = expect.status.as_deref().unwrap_or("completed");
    let last = outcome
        .statuses
        .last()
        .map(String::as_str)
        .unwrap_or("none");
    if last != want_status {
        let failure = outcome
            .failure
            .as_ref()
            .map(|f| format!(" (failure: {f})"))
            .unwrap_or_default();
        miss(
            "status".into(),
            want_status.into(),
            format!("{last}{failure}"),
        );
    }
    let failure = outcome
        .failure
        .as_ref()
        .map_or_else(|| "(no failure)".to_owned(), Value::to_string);
    for needle in &expect.failure_contains {
        if !failure.contains(needle.as_str()) {
            miss(
                "failureContains".into(),
                format!("a failure containing {needle:?}"),
                failure.clone(),
            );
        }
    }
    for tool in &expect.tools_called {
        check_tool(tool, &outcome.tool_calls, &mut miss);
    }
    for name in &expect.tools_not_called {
        let count = outcome
            .tool_calls
            .iter()
            .filter(|c| &c.name == name)
            .count();
        if count > 0 {
            miss(
                format!("tool {name} not called"),
                "0 calls".into(),
                format!("{count} calls"),
            );
        }
    }
    for needle in &expect.text_contains {
        if !outcome.text.contains(needle.as_str()) {
            miss(
                "textContains".into(),
                format!("text containing {needle:?}"),
                format!("{:?}", outcome.text),
            );
        }
    }
    for pattern in &expect.text_regex {
        // Patterns were compiled when the case was loaded; a bad one fails here too.
        let found = regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&outcome.text));
        if !found {
            miss(
                "textRegex".into(),
                format!("text matching /{pattern}/"),
                format!("{:?}", outcome.text),
            );
        }
    }
    for needle in &expect.tool_output_contains {
        let found = outcome.tool_calls.iter().any(|c| {
            c.output
                .as_deref()
                .is_some_and(|o| o.contains(needle.as_str()))
        });
        if !found {
            let outputs: Vec<String> = outcome
                .tool_calls
                .iter()
                .map(|c| format!("{}: {:?}", c.name, c.output.as_deref().unwrap_or("")))
                .collect();
            miss(
                "toolOutputContains".into(),
                format!("a tool output containing {needle:?}"),
                list_or_none(&outputs),
            );
        }
    }
    if let Some(requests) = &outcome.provider_requests {
        for needle in &expect.provider_request_contains {
            if !requests.contains(needle.as_str()) {
                miss(
                    "providerRequestContains".into(),
                    format!("a provider request containing {needle:?}"),
                    format!(
                        "not in the {} request(s) the fake provider received",
                        requests.lines().count()
                    ),
                );
            }
        }
    }
    for (path, want) in &expect.files {
        check_file(path, want, outcome.files.get(path), &mut miss);
    }
    if let Some(max) = expect.turns_max
        && outcome.turns > max
    {
        miss(
            "turnsMax".into(),
            format!("at most {max} turns"),
            format!("{} turns", outcome.turns),
        );
    }
    if let Some(max) = expect.cost_usd_max
        && outcome.cost_usd > max
    {
        miss(
            "costUsdMax".into(),
            format!("at most ${max}"),
            format!("${:.6}", outcome.cost_usd),
        );
    }
    out
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "(none)".into()
    } else {
        items.join("\n")
    }
}

fn check_tool(
    tool: &ToolExpect,
    calls: &[ToolCallSeen],
    miss: &mut impl FnMut(String, String, String),
) {
    let want = tool.min_times.unwrap_or(1) as usize;
    let matching = calls
        .iter()
        .filter(|c| c.name == tool.name && tool.args.iter().all(|m| arg_matches(m, &c.arguments)))
        .count();
    if matching >= want {
        return;
    }
    let matchers: Vec<String> = tool.args.iter().map(describe_matcher).collect();
    let expected = if matchers.is_empty() {
        format!("{want}+ call(s) of {}", tool.name)
    } else {
        format!(
            "{want}+ call(s) of {} with {}",
            tool.name,
            matchers.join(" and ")
        )
    };
    let seen: Vec<String> = calls
        .iter()
        .map(|c| format!("{}({})", c.name, c.arguments))
        .collect();
    miss(
        format!("toolsCalled {}", tool.name),
        expected,
        format!("{matching} matching; calls: {}", list_or_none(&seen)),
    );
}

fn describe_matcher(m: &ArgMatcher) -> String {
    let mut parts = Vec::new();
    if let Some(v) = &m.equals {
        parts.push(format!("{} == {v}", m.pointer));
    }
    if let Some(s) = &m.contains {
        parts.push(format!("{} contains {s:?}", m.pointer));
    }
    if let Some(r) = &m.regex {
        parts.push(format!("{} =~ /{r}/", m.pointer));
    }
    if parts.is_empty() {
        parts.push(format!("{} present", m.pointer));
    }
    parts.join(" and ")
}

/// Whether the argument at `m.pointer` satisfies every condition of `m` (a matcher
/// with none only needs the pointer to resolve). `contains` and `regex` see strings
/// as they are and other values as compact JSON.
pub fn arg_matches(m: &ArgMatcher, arguments: &Value) -> bool {
    let Some(value) = arguments.pointer(&m.pointer) else {
        return false;
    };
    let text = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(want) = &m.equals
        && want != value
    {
        return false;
    }
    if let Some(needle) = &m.contains
        && !text.contains(needle.as_str())
    {
        return false;
    }
    if let Some(pattern) = &m.regex
        && !regex::Regex::new(pattern).is_ok_and(|re| re.is_match(&text))
    {
        return false;
    }
    true
}

fn check_file(
    path: &str,
    want: &FileExpect,
    actual: Option<&String>,
    miss: &mut impl FnMut(String, String, String),
) {
    let check = format!("file {path}");
    let shown = actual.map_or_else(|| "(no such file)".to_owned(), |a| format!("{a:?}"));
    match want {
        FileExpect::Exact(content) => {
            if actual != Some(content) {
                miss(check, format!("{content:?}"), shown);
            }
        }
        FileExpect::Check(c) => {
            if c.absent {
                if actual.is_some() {
                    miss(check.clone(), "(no such file)".into(), shown.clone());
                }
                return;
            }
            let Some(actual) = actual else {
                miss(check, "the file to exist".into(), shown);
                return;
            };
            if let Some(content) = &c.equals
                && actual != content
            {
                miss(check.clone(), format!("{content:?}"), shown.clone());
            }
            for needle in &c.contains {
                if !actual.contains(needle.as_str()) {
                    miss(
                        check.clone(),
                        format!("containing {needle:?}"),
                        shown.clone(),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "matchers_tests.rs"]
mod tests;
