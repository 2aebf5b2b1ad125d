//! The append activity recognises a batch the log already holds as decided at
//! another time (a local activity run again after its workflow task was lost, whose
//! entries carry the new task's time) and returns the stored times, instead of a
//! conflict that would make the workflow decide its admissions a second time.

use std::sync::Arc;

use effects::LlmCompactor;
use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::config::{ModelRoute, SessionConfig};
use engine::core::control::ControlState;
use engine::drive::{Action, Drive};
use engine::log::LogEntry;
use llm_runtime::{LlmRuntime, Transport};
use session_stores::FsStores;
use temporal_server::deltas::DeltaHub;
use temporal_server::worker::backend::{Backend, LlmSettings, SessionActivityBackend};
use temporal_workflow::activities::{AppendEventsInput, AppendEventsOutput, SessionKey};
use test_support::tools::TestToolset;

fn open_entries(model: &str, at_ms: u64) -> Vec<LogEntry> {
    let mut drive = Drive::new(ControlState::default());
    let open = CoreCommand::OpenSession {
        session_id: SessionId::new("s-append").unwrap(),
        config: SessionConfig {
            model: ModelRoute {
                provider_id: "openai".into(),
                api_kind: "openai:responses".into(),
                model: model.into(),
            },
            generation: Default::default(),
            context: Default::default(),
            run_limits: Default::default(),
            tool_policy: Default::default(),
            budget: Default::default(),
        },
        instructions: None,
        parent: Default::default(),
    };
    drive.admit(open, at_ms).unwrap();
    match drive.next_action() {
        Action::AppendEvents { entries, .. } => entries,
        other => panic!("expected an append, got {other:?}"),
    }
}

fn input(entries: Vec<LogEntry>) -> AppendEventsInput {
    AppendEventsInput {
        key: SessionKey {
            universe_id: "u-append".into(),
            session_id: SessionId::new("s-append").unwrap(),
        },
        expected_head: 0,
        entries,
    }
}

#[tokio::test]
async fn the_same_decision_at_another_time_is_committed_with_the_stored_times() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = LlmRuntime::new(std::iter::empty());
    let backend = Backend {
        stores: FsStores::new(dir.path()),
        llm: LlmSettings {
            runtime: runtime.clone(),
            transport: Transport::Streaming,
        },
        tools: TestToolset::default(),
        compactor: LlmCompactor::new(runtime, Transport::Streaming),
        deltas: Arc::new(DeltaHub::default()),
        checkpoint_interval_entries: 64,
        transcription: Default::default(),
    };
    let first = open_entries("m", 1_000);
    let count = first.len() as u64;
    let committed = backend.append_events(input(first)).await.unwrap();
    assert_eq!(
        committed,
        AppendEventsOutput::Committed {
            head: count,
            restamped: None
        }
    );

    // Decided again, later: recognised, with the times the log holds.
    let again = backend
        .append_events(input(open_entries("m", 2_000)))
        .await
        .unwrap();
    assert_eq!(
        again,
        AppendEventsOutput::Committed {
            head: count,
            restamped: Some(vec![1_000; usize::try_from(count).unwrap()])
        }
    );

    // A different decision at that place is a conflict, as before.
    let other = backend
        .append_events(input(open_entries("other-model", 2_000)))
        .await
        .unwrap();
    assert_eq!(other, AppendEventsOutput::Conflict { head: count });
}
