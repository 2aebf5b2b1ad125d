//! Continue-as-new when idle and history is long: the next run rehydrates from the
//! store with state intact and keeps serving the session.

use engine::core::replay::ReplayError;
use engine::core::run::RunOutcome;
use engine::core::state::SessionState;
use serde_json::json;
use temporal_workflow::WorkflowSettings;

use crate::harness::{Env, fast_settings};

#[tokio::test(flavor = "multi_thread")]
async fn continue_as_new_keeps_state() {
    let turns: Vec<_> = (0..4)
        .map(|i| json!({"text": format!("Answer {i}.")}))
        .collect();
    let settings = WorkflowSettings {
        continue_as_new_history_events: 20,
        ..fast_settings()
    };
    let Some(env) = Env::start("can", json!({"turns": turns}), settings).await else {
        return;
    };
    let session = env.open("s-can").await;
    let mut chain_indexes = Vec::new();
    for i in 0..4 {
        let run = env
            .request_run(&session, &format!("sub-{i}"), &format!("Question {i}"))
            .await;
        assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
        let status = env
            .wait_status(&session, "idle", |s| s.active_run_id.is_none() && s.loaded)
            .await;
        chain_indexes.push(status.chain_index);
    }
    assert!(
        chain_indexes.last().unwrap() > &0,
        "never continued as new: {chain_indexes:?}"
    );
    // The workflow's control state equals a replay of the log.
    let log = env.log(&session).await;
    let replayed = SessionState::replay(&log)
        .map_err(|e: ReplayError| e)
        .unwrap();
    let control = env.control_at(&session, replayed.head()).await;
    assert_eq!(control, replayed.control);
    assert_eq!(control.runs.finished_total, 4);
    env.record_history(&session, "continue-as-new").await;
    env.shutdown().await;
}
