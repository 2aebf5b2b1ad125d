//! Runs `temporal-bench --quick --json` against a dev server it spawns and checks that
//! every figure is there and sane. Skipped with a note when there is no `temporal`
//! binary, unless `CI=true`, where that is a failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;
use temporal_server::devserver::{self, DevServerError};

fn number(value: &Value, pointer: &str) -> f64 {
    value
        .pointer(pointer)
        .and_then(Value::as_f64)
        .unwrap_or_else(|| panic!("no number at {pointer} in {value:#}"))
}

#[test]
fn quick_run_prints_sane_figures() {
    if devserver::find_binary().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but {}",
            DevServerError::BinaryNotFound
        );
        eprintln!(
            "SKIPPED: {} (set CI=true to make this a failure)",
            DevServerError::BinaryNotFound
        );
        return;
    }
    // In-process RSS: a `server` binary next to this one may be from another build.
    let output = Command::new(env!("CARGO_BIN_EXE_temporal-bench"))
        .args(["--quick", "--json", "--rss-worker", "in-process"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stderr}");
    assert!(
        stderr.contains("history 6: turn 6/6"),
        "no progress:\n{stderr}"
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    let history = report["history"].as_array().unwrap();
    assert_eq!(history.len(), 4, "{report:#}");
    for (figures, (tool_calls, turns)) in history.iter().zip([(0, 3), (0, 6), (2, 3), (2, 6)]) {
        assert_eq!(figures["turns"], turns);
        assert_eq!(figures["tool_calls_per_turn"], tool_calls);
        assert!(number(figures, "/bytes_per_turn") > 1_000.0, "{figures:#}");
        assert!(number(figures, "/events_per_turn") > 5.0, "{figures:#}");
        assert!(!figures["runs"].as_array().unwrap().is_empty());
        assert!(
            number(figures, "/largest_payload/bytes") > 0.0,
            "{figures:#}"
        );
        // The bench's turns are what it says they are: one generation per text turn;
        // with tools, one calling them and one answering, around the calls.
        let generations = if tool_calls == 0 { 1.0 } else { 2.0 };
        assert_eq!(
            number(figures, "/activities_per_turn/llm_generate_commit"),
            generations,
            "{figures:#}"
        );
        if tool_calls > 0 {
            assert_eq!(
                number(figures, "/activities_per_turn/tool_invoke"),
                f64::from(tool_calls),
                "{figures:#}"
            );
        }
        // Store work runs as local activities (markers), not activity tasks.
        assert!(
            figures["activities_per_turn"]
                .get("append_events")
                .is_none(),
            "{figures:#}"
        );
        assert!(
            number(figures, "/activities_per_turn/append_events (local)") >= 1.0,
            "{figures:#}"
        );
    }

    let throughput = &report["throughput"];
    for workflow in ["session_workflow", "noop_workflow"] {
        assert!(
            number(throughput, &format!("/{workflow}/turns_per_second")) > 0.0,
            "{throughput:#}"
        );
        // The no-op has the session's activity shape.
        assert_eq!(
            number(
                throughput,
                &format!("/{workflow}/activities_per_turn/llm_generate_commit")
            ),
            1.0
        );
        assert!(
            number(
                throughput,
                &format!("/{workflow}/activities_per_turn/append_events (local)")
            ) >= 1.0,
            "{throughput:#}"
        );
        assert!(
            number(throughput, &format!("/{workflow}/bench_cpu_ms_per_turn")) > 0.0,
            "{throughput:#}"
        );
    }
    let ratio = number(throughput, "/ratio");
    assert!(ratio > 0.0 && ratio.is_finite(), "{throughput:#}");

    let rss = &report["rss"];
    assert_eq!(rss["sessions"], 5);
    let baseline = number(rss, "/baseline_rss_bytes");
    assert!(baseline > 1_000_000.0, "{rss:#}");
    assert!(number(rss, "/peak_rss_bytes") >= baseline, "{rss:#}");

    let scale = &report["scale"];
    assert_eq!(scale["sessions"], 5, "{scale:#}");
    assert_eq!(scale["timed_out"], false, "{scale:#}");
    assert_eq!(scale["errors"], 0, "{scale:#}");
    assert_eq!(scale["sessions_completed"], 5, "{scale:#}");
    assert_eq!(scale["turns_finished"], 10, "{scale:#}");
    // Every second turn calls tools: one of each session's two.
    assert_eq!(scale["tool_turns_finished"], 5, "{scale:#}");
    assert_eq!(scale["turns_not_completed"], 0, "{scale:#}");
    assert!(number(scale, "/turns_per_second") > 0.0, "{scale:#}");
    assert!(number(scale, "/turn_latency_ms/p50") > 0.0, "{scale:#}");
    assert!(
        number(scale, "/turn_latency_ms/p99") >= number(scale, "/turn_latency_ms/p50"),
        "{scale:#}"
    );
    assert!(
        number(scale, "/peak_rss_bytes") >= number(scale, "/baseline_rss_bytes"),
        "{scale:#}"
    );
    assert!(number(scale, "/worker_cpu_ms_per_turn") > 0.0, "{scale:#}");
    assert!(
        number(scale, "/worker_tuning/max_cached_workflows") >= 1.0,
        "{scale:#}"
    );
    assert!(
        stderr.contains("scale: opened") || stderr.contains("sessions open in"),
        "no scale progress:\n{stderr}"
    );
}
