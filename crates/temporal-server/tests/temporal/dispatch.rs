//! The operator's hold on a session's queue, through Temporal: with
//! `SetDispatch { paused: true }` admitted, a requested run stays queued (the
//! workflow waits, nothing is scheduled) until the release, then runs. Recorded as
//! the `dispatch-pause` replay fixture, so the workflow's handling of the held queue
//! stays replayable.

use engine::core::command::CoreCommand;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use serde_json::json;

use crate::harness::{Env, events, fast_settings};

#[tokio::test(flavor = "multi_thread")]
async fn a_held_queue_starts_nothing_until_released() {
    let script = json!({"turns": [{"text": "Released and answered."}]});
    let Some(env) = Env::start("dispatch", script, fast_settings()).await else {
        return;
    };
    let session = env.open("s-held").await;
    env.admit(&session, CoreCommand::SetDispatch { paused: true })
        .await;
    // Holding again is accepted and records nothing.
    let head = env.log(&session).await.len();
    env.admit(&session, CoreCommand::SetDispatch { paused: true })
        .await;
    assert_eq!(env.log(&session).await.len(), head);

    let run = env
        .request_run(&session, "sub-1", "Wait for the operator.")
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let status = env
        .sessions
        .status(crate::harness::UNIVERSE, &session)
        .await
        .unwrap();
    assert_eq!(status.active_run_id, None, "{status:?}");
    assert_eq!(status.queued_runs, 1, "{status:?}");
    assert!(
        !events(&env.log(&session).await)
            .iter()
            .any(|event| matches!(event, CoreEvent::RunStarted(_))),
        "nothing started while held"
    );

    env.admit(&session, CoreCommand::SetDispatch { paused: false })
        .await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let changes: Vec<bool> = events(&env.log(&session).await)
        .into_iter()
        .filter_map(|event| match event {
            CoreEvent::DispatchChanged(e) => Some(e.paused),
            _ => None,
        })
        .collect();
    assert_eq!(changes, [true, false]);
    env.record_history(&session, "dispatch-pause").await;
    env.shutdown().await;
}
