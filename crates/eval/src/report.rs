//! Results of a suite: the data model (also the `--json` format), the text table, the
//! failure diffs and the self-contained HTML report.

use serde::{Deserialize, Serialize};

use crate::matchers::{Mismatch, Outcome};

/// One run of one case under one configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub index: u32,
    pub session_id: String,
    pub passed: bool,
    pub mismatches: Vec<Mismatch>,
    pub outcome: Outcome,
}

/// All runs of one case under one configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub config: String,
    pub min_pass_rate: f64,
    pub runs: Vec<RunResult>,
}

impl CaseResult {
    pub fn pass_rate(&self) -> f64 {
        if self.runs.is_empty() {
            return 0.0;
        }
        let passed = self.runs.iter().filter(|r| r.passed).count();
        passed as f64 / self.runs.len() as f64
    }

    /// Whether the case met its minimum pass rate (with a little slack for float
    /// division: 2 of 3 runs meets 0.66).
    pub fn ok(&self) -> bool {
        self.pass_rate() + 1e-9 >= self.min_pass_rate
    }

    fn mean(&self, f: impl Fn(&Outcome) -> f64) -> f64 {
        if self.runs.is_empty() {
            return 0.0;
        }
        self.runs.iter().map(|r| f(&r.outcome)).sum::<f64>() / self.runs.len() as f64
    }

    pub fn mean_tokens(&self) -> f64 {
        self.mean(|o| (o.input_tokens + o.output_tokens) as f64)
    }

    pub fn mean_cost(&self) -> f64 {
        self.mean(|o| o.cost_usd)
    }

    pub fn mean_latency_ms(&self) -> f64 {
        self.mean(|o| o.latency_ms as f64)
    }
}

/// A whole suite's results (`--json`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Configuration names in order (one without `--config`: `default`).
    pub configs: Vec<String>,
    /// `offline` or `live`.
    pub mode: String,
    pub wall_ms: u64,
    pub cases: Vec<CaseResult>,
    /// Cases not run, with why (a `requires` path is missing).
    #[serde(default)]
    pub skipped: Vec<Skipped>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Skipped {
    pub name: String,
    pub reason: String,
}

impl Report {
    pub fn all_ok(&self) -> bool {
        self.cases.iter().all(CaseResult::ok)
    }

    fn case_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for case in &self.cases {
            if !names.contains(&case.name.as_str()) {
                names.push(&case.name);
            }
        }
        names
    }

    fn find(&self, name: &str, config: &str) -> Option<&CaseResult> {
        self.cases
            .iter()
            .find(|c| c.name == name && c.config == config)
    }

    /// Two reports (`--compare A.json B.json`) as one with two configurations; a
    /// configuration name both use is suffixed with its file's position.
    pub fn merge(a: Report, b: Report) -> Report {
        let mut out = Report {
            configs: Vec::new(),
            mode: a.mode.clone(),
            wall_ms: a.wall_ms + b.wall_ms,
            cases: Vec::new(),
            skipped: Vec::new(),
        };
        for (side, report) in [("A", a), ("B", b)] {
            for mut skipped in report.skipped {
                skipped.name = format!("{side}:{}", skipped.name);
                out.skipped.push(skipped);
            }
            for mut case in report.cases {
                case.config = format!("{side}:{}", case.config);
                out.cases.push(case);
            }
            for config in report.configs {
                out.configs.push(format!("{side}:{config}"));
            }
        }
        out
    }

    /// The text table for stdout.
    pub fn table(&self) -> String {
        let name_width = self
            .case_names()
            .iter()
            .map(|n| n.chars().count())
            .max()
            .unwrap_or(4)
            .max(4);
        let mut out = String::new();
        out.push_str(&format!("{:<name_width$}", "case"));
        for config in &self.configs {
            out.push_str(&format!(
                "  | {:<34}",
                format!("{} (pass tokens cost ms)", short(config, 10))
            ));
        }
        out.push('\n');
        for name in self.case_names() {
            out.push_str(&format!("{name:<name_width$}"));
            for config in &self.configs {
                let cell = match self.find(name, config) {
                    Some(c) => format!(
                        "{} {:>4.0}% {:>6.0} {:>8.4} {:>6.0}",
                        if c.ok() { "ok  " } else { "FAIL" },
                        c.pass_rate() * 100.0,
                        c.mean_tokens(),
                        c.mean_cost(),
                        c.mean_latency_ms()
                    ),
                    None => "-".into(),
                };
                out.push_str(&format!("  | {cell:<34}"));
            }
            out.push('\n');
        }
        for skipped in &self.skipped {
            out.push_str(&format!("{}: skipped, {}\n", skipped.name, skipped.reason));
        }
        let failed = self.cases.iter().filter(|c| !c.ok()).count();
        out.push_str(&format!(
            "{} case results, {} under their minimum pass rate, {:.1} s\n",
            self.cases.len(),
            failed,
            self.wall_ms as f64 / 1000.0
        ));
        out
    }

    /// Expected vs actual for every failed run of every case under its minimum.
    pub fn failure_diffs(&self) -> String {
        let mut out = String::new();
        for case in self.cases.iter().filter(|c| !c.ok()) {
            out.push_str(&format!(
                "FAIL {} [{}]: pass rate {:.0}% < minimum {:.0}%\n",
                case.name,
                case.config,
                case.pass_rate() * 100.0,
                case.min_pass_rate * 100.0
            ));
            for run in case.runs.iter().filter(|r| !r.passed) {
                out.push_str(&format!(
                    "  run {} (session {}):\n",
                    run.index, run.session_id
                ));
                for mismatch in &run.mismatches {
                    out.push_str(&format!("{mismatch}\n"));
                }
            }
        }
        out
    }

    /// A self-contained HTML page (inline CSS, no scripts): a summary, one row per
    /// case with a column group per configuration, and the failures' diffs.
    pub fn html(&self) -> String {
        let mut out = String::from(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
             <title>Lightspeed eval report</title><style>\
             body{font-family:system-ui,sans-serif;margin:2em;color:#222}\
             table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;\
             text-align:right}td.name,th.name{text-align:left}.ok{background:#e6f6e6}\
             .fail{background:#fbe3e3}pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}\
             small{color:#666}</style></head><body>\n<h1>Lightspeed eval report</h1>\n",
        );
        let failed = self.cases.iter().filter(|c| !c.ok()).count();
        out.push_str(&format!(
            "<p>Mode {}; {} case results over {} configuration(s); <b>{} under their minimum \
             pass rate</b>; wall time {:.1} s.</p>\n",
            escape(&self.mode),
            self.cases.len(),
            self.configs.len(),
            failed,
            self.wall_ms as f64 / 1000.0
        ));
        out.push_str("<table><thead><tr><th class=\"name\" rowspan=\"2\">case</th>");
        for config in &self.configs {
            out.push_str(&format!("<th colspan=\"5\">{}</th>", escape(config)));
        }
        out.push_str("</tr><tr>");
        for _ in &self.configs {
            out.push_str(
                "<th>pass rate</th><th>min</th><th>tokens</th><th>cost USD</th><th>latency ms</th>",
            );
        }
        out.push_str("</tr></thead><tbody>\n");
        for name in self.case_names() {
            let description = self
                .cases
                .iter()
                .find(|c| c.name == name)
                .map(|c| c.description.as_str())
                .unwrap_or("");
            out.push_str(&format!(
                "<tr><td class=\"name\" id=\"case-{0}\"><b>{0}</b><br><small>{1}</small></td>",
                escape(name),
                escape(description)
            ));
            for config in &self.configs {
                match self.find(name, config) {
                    Some(c) => out.push_str(&format!(
                        "<td class=\"{}\">{:.0}% ({}/{})</td><td>{:.0}%</td><td>{:.0}</td>\
                         <td>{:.6}</td><td>{:.0}</td>",
                        if c.ok() { "ok" } else { "fail" },
                        c.pass_rate() * 100.0,
                        c.runs.iter().filter(|r| r.passed).count(),
                        c.runs.len(),
                        c.min_pass_rate * 100.0,
                        c.mean_tokens(),
                        c.mean_cost(),
                        c.mean_latency_ms()
                    )),
                    None => out.push_str("<td colspan=\"5\">-</td>"),
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody></table>\n");
        if !self.skipped.is_empty() {
            out.push_str("<h2>Skipped</h2>\n<ul>\n");
            for skipped in &self.skipped {
                out.push_str(&format!(
                    "<li><b>{}</b>: {}</li>\n",
                    escape(&skipped.name),
                    escape(&skipped.reason)
                ));
            }
            out.push_str("</ul>\n");
        }
        let diffs = self.failure_diffs();
        if !diffs.is_empty() {
            out.push_str(&format!(
                "<h2>Failures</h2>\n<pre>{}</pre>\n",
                escape(&diffs)
            ));
        }
        out.push_str("</body></html>\n");
        out
    }
}

fn short(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        text.chars().take(max).collect()
    }
}

/// HTML text escaping (the report embeds case names, model output and errors).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
#[path = "report_tests.rs"]
mod tests;
