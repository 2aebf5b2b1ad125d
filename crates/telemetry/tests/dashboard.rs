#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The Grafana dashboard (docs/operating/grafana-dashboard.json) queries only series
//! this crate records: a renamed metric fails here, not on someone's wall screen.

use std::collections::BTreeSet;

#[test]
fn every_lightspeed_series_the_dashboard_queries_exists() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operating/grafana-dashboard.json"
    );
    let text = std::fs::read_to_string(path).unwrap();
    let dashboard: serde_json::Value = serde_json::from_str(&text).unwrap();
    // Every histogram and labelled series exists in the text once something is
    // recorded; record one of each.
    let metrics = telemetry::metrics();
    metrics.rpc_call("session/read", 0, std::time::Duration::from_millis(1));
    metrics.run_finished("completed");
    metrics.turn("openai", "gpt-5", telemetry::TurnUsage::default());
    metrics.activity(
        "llm_generate",
        std::time::Duration::from_millis(1),
        true,
        true,
    );
    metrics.store("append", std::time::Duration::from_millis(1));
    let rendered: BTreeSet<String> = metrics
        .render()
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect();
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
                if word.starts_with("lightspeed_") {
                    queried.insert(word.to_owned());
                }
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    let missing: Vec<_> = queried.difference(&rendered).collect();
    assert!(
        missing.is_empty(),
        "the dashboard queries unknown series {missing:?}"
    );
}
