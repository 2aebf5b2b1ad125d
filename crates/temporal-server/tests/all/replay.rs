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
use temporal_workflow::drill::UpgradeDrill;
use temporalio_client::WorkflowHistory;
use temporalio_sdk::opentelemetry::OpenTelemetryPlugin;
use temporalio_sdk::workflow_replayer::{
    WorkflowReplayFailure, WorkflowReplayer, WorkflowReplayerOptions,
};

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
    "voice-note",
    "dispatch-pause",
];

/// Every fixture, sorted by name: (name, history).
fn fixtures() -> Vec<(String, WorkflowHistory)> {
    let dir = histories_dir();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let bytes = std::fs::read(&path).unwrap();
            (name, WorkflowHistory::from_json(&bytes).unwrap())
        })
        .collect()
}

fn histories_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/histories")
}

/// Replays `fixtures` against the session workflow as `drill` changes it (`Off`:
/// the production code); each fixture's failure, if any.
async fn replay(
    fixtures: Vec<(String, WorkflowHistory)>,
    drill: UpgradeDrill,
) -> Vec<(String, Option<WorkflowReplayFailure>)> {
    replay_with(fixtures, drill, false).await
}

/// [`replay`], with the SDK's OpenTelemetry plugin installed when `traced` (as on a
/// worker exporting traces: docs/operating/traces.md).
async fn replay_with(
    fixtures: Vec<(String, WorkflowHistory)>,
    drill: UpgradeDrill,
    traced: bool,
) -> Vec<(String, Option<WorkflowReplayFailure>)> {
    // Recorded histories hold every payload inline: the seam codec passes them
    // through, so its store stays empty.
    let data = tempfile::tempdir().unwrap();
    let stores = Arc::new(session_stores::FsStores::new(data.path()));
    let options = WorkflowReplayerOptions::new();
    // `Off` registers the workflow as production workers do.
    let options = match drill {
        UpgradeDrill::Off => options.register_workflow::<AgentSessionWorkflow>(),
        _ => options.register_workflow_with_factory(move || {
            AgentSessionWorkflow::with_upgrade_drill(drill)
        }),
    };
    let mut options = options
        .unwrap()
        .data_converter(seam::data_converter(stores));
    if traced {
        options = options.worker_plugin(OpenTelemetryPlugin::builder().build());
    }
    let options = options.build();
    let replayer = WorkflowReplayer::new(options).unwrap();
    let (names, histories): (Vec<_>, Vec<_>) = fixtures.into_iter().unzip();
    let results = replayer.replay_workflows(histories).await.unwrap();
    assert_eq!(results.len(), names.len());
    names
        .into_iter()
        .zip(results)
        .map(|(name, result)| (name, result.replay_failure))
        .collect()
}

/// The fixtures that failed, one line each.
fn failures(results: &[(String, Option<WorkflowReplayFailure>)]) -> Vec<String> {
    results
        .iter()
        .filter_map(|(name, failure)| failure.as_ref().map(|failure| format!("{name}: {failure}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_recorded_history_replays_against_the_current_workflow() {
    let fixtures = fixtures();
    for required in REQUIRED {
        assert!(
            fixtures.iter().any(|(name, _)| name == required),
            "no fixture {required}.json in {}: record it (docs/spec/workflow.md)",
            histories_dir().display()
        );
    }
    let failed = failures(&replay(fixtures, UpgradeDrill::Off).await);
    assert!(
        failed.is_empty(),
        "histories that no longer replay:\n{}",
        failed.join("\n")
    );
}

/// Traces change no command: every history replays with the OpenTelemetry plugin
/// (its spans' ids come from a random stream of their own, its context rides in
/// headers, and the workflow keeps each run's context only in memory).
#[tokio::test(flavor = "multi_thread")]
async fn every_recorded_history_replays_with_traces_on() {
    let failed = failures(&replay_with(fixtures(), UpgradeDrill::Off, true).await);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The upgrade drill's change behind its patch marker replays every history
/// recorded before it (docs/spec/workflow.md, "Upgrade drill").
#[tokio::test(flavor = "multi_thread")]
async fn the_drills_guarded_change_replays_every_recorded_history() {
    let failed = failures(&replay(fixtures(), UpgradeDrill::Guarded).await);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// The negative control: the same change without the marker is a nondeterminism
/// error on a history that generated (so the replayer would catch the mistake).
#[tokio::test(flavor = "multi_thread")]
async fn the_drills_change_without_its_marker_fails_replay_with_nondeterminism() {
    let text_turn = fixtures()
        .into_iter()
        .filter(|(name, _)| name == "text-turn")
        .collect();
    let results = replay(text_turn, UpgradeDrill::Unguarded).await;
    assert!(
        matches!(
            results.as_slice(),
            [(_, Some(WorkflowReplayFailure::Nondeterminism { .. }))]
        ),
        "{results:?}"
    );
}
