//! Replay fixtures: workflow histories of real runs, recorded from the Temporal server
//! by the live tests (`LIGHTSPEED_RECORD_HISTORIES=1`, `tests/temporal/record.rs`),
//! replayed here against the current workflow code with the SDK's replayer, without
//! a server. A change to `temporal-workflow` that would replay an in-flight session
//! differently (a nondeterminism error, which stalls it) fails this test; the rule for
//! changing the workflow is in docs/spec/workflow.md, "Changing the workflow".

use std::path::PathBuf;
use std::sync::Arc;

use temporal_server::seam;
use temporal_workflow::AgentSessionWorkflow;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::workflow_replayer::{WorkflowReplayer, WorkflowReplayerOptions};

/// Histories every change must still replay: the kinds of step a session takes.
const REQUIRED: &[&str] = &[
    "text-turn",
    "tool-loop",
    "queued-runs",
    "cancel",
    "steer",
    "compaction",
    "continue-as-new",
    "sleep-timer",
    "approval",
    "sub-agents-parent",
    "sub-agents-child",
];

#[tokio::test(flavor = "multi_thread")]
async fn every_recorded_history_replays_against_the_current_workflow() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories");
    let mut names = Vec::new();
    let mut histories = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        histories.push(WorkflowHistory::from_json(&bytes).unwrap());
        names.push(name);
    }
    for required in REQUIRED {
        assert!(
            names.iter().any(|name| name == required),
            "no fixture {required}.json in {}: record it (docs/spec/workflow.md)",
            dir.display()
        );
    }
    // Recorded histories hold every payload inline: the seam codec passes them
    // through, so its store stays empty.
    let data = tempfile::tempdir().unwrap();
    let stores = Arc::new(session_stores::FsStores::new(data.path()));
    let options = WorkflowReplayerOptions::new()
        .register_workflow::<AgentSessionWorkflow>()
        .unwrap()
        .data_converter(seam::data_converter(stores))
        .build();
    let replayer = WorkflowReplayer::new(options).unwrap();
    let results = replayer.replay_workflows(histories).await.unwrap();
    assert_eq!(results.len(), names.len());
    let failures: Vec<String> = names
        .iter()
        .zip(&results)
        .filter_map(|(name, result)| {
            result
                .replay_failure
                .as_ref()
                .map(|failure| format!("{name}: {failure}"))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "histories that no longer replay:\n{}",
        failures.join("\n")
    );
}
