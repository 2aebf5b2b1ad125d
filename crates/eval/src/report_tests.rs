use super::*;
use crate::matchers::Mismatch;

fn run(passed: bool, tokens: u64) -> RunResult {
    RunResult {
        index: 0,
        session_id: "eval-s".into(),
        passed,
        mismatches: if passed {
            vec![]
        } else {
            vec![Mismatch {
                check: "textContains".into(),
                expected: "text containing \"<b>\"".into(),
                actual: "\"nothing\"".into(),
            }]
        },
        outcome: Outcome {
            input_tokens: tokens,
            latency_ms: 100,
            ..Outcome::default()
        },
    }
}

fn case(name: &str, config: &str, runs: Vec<RunResult>, min: f64) -> CaseResult {
    CaseResult {
        name: name.into(),
        description: format!("about {name}"),
        config: config.into(),
        min_pass_rate: min,
        runs,
    }
}

#[test]
fn pass_rates_and_minimums() {
    let two_of_three = case(
        "a",
        "default",
        vec![run(true, 1), run(true, 1), run(false, 1)],
        0.66,
    );
    assert!((two_of_three.pass_rate() - 2.0 / 3.0).abs() < 1e-9);
    assert!(two_of_three.ok());
    let strict = case("b", "default", vec![run(true, 1), run(false, 3)], 1.0);
    assert!(!strict.ok());
    assert_eq!(strict.mean_tokens(), 2.0);
}

#[test]
fn table_html_and_diffs_list_every_case_and_escape() {
    let report = Report {
        configs: vec!["base".into(), "terse".into()],
        mode: "offline".into(),
        wall_ms: 1500,
        cases: vec![
            case("plain <text>", "base", vec![run(true, 10)], 1.0),
            case("plain <text>", "terse", vec![run(false, 12)], 1.0),
            case("only-base", "base", vec![run(true, 5)], 1.0),
        ],
        skipped: vec![Skipped {
            name: "needs-node".into(),
            reason: "missing node_modules".into(),
        }],
    };
    assert!(!report.all_ok());
    let table = report.table();
    assert!(table.contains("plain <text>"));
    assert!(table.contains("only-base"));
    assert!(table.contains("FAIL"));
    let diffs = report.failure_diffs();
    assert!(diffs.contains("FAIL plain <text> [terse]"), "{diffs}");
    assert!(
        diffs.contains("expected: text containing \"<b>\""),
        "{diffs}"
    );

    let html = report.html();
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.contains("plain &lt;text&gt;"));
    assert!(!html.contains("plain <text>"));
    assert!(html.contains("only-base"));
    assert!(html.contains("<b>needs-node</b>: missing node_modules"));
    assert!(table.contains("needs-node: skipped, missing node_modules"));
    // Side by side: one column group per configuration; a missing cell is a dash.
    assert!(html.contains("<th colspan=\"5\">base</th><th colspan=\"5\">terse</th>"));
    assert!(html.contains("<td colspan=\"5\">-</td>"));
    assert!(html.contains("&lt;b&gt;"));
    assert!(!html.contains("<script"));
}

#[test]
fn merge_puts_two_reports_side_by_side() {
    let a = Report {
        configs: vec!["default".into()],
        mode: "offline".into(),
        wall_ms: 1,
        cases: vec![case("x", "default", vec![run(true, 1)], 1.0)],
        skipped: vec![],
    };
    let b = a.clone();
    let merged = Report::merge(a, b);
    assert_eq!(merged.configs, ["A:default", "B:default"]);
    assert_eq!(merged.cases.len(), 2);
    assert!(merged.all_ok());
    let json = serde_json::to_string(&merged).unwrap_or_default();
    let back: Report = serde_json::from_str(&json).unwrap_or_default();
    assert_eq!(back.cases.len(), 2);
}

#[test]
fn escape_covers_html_specials() {
    assert_eq!(
        escape("<a href='x'>&\"</a>"),
        "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
    );
}
