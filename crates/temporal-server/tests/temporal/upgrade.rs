//! Upgrade in place (docs/spec/workflow.md, "Upgrade drill"): sessions in the middle
//! of a run when the worker stops (one with a generation in flight, one in a tool
//! loop, one waiting on a timer) finish on a worker whose workflow code changed: the
//! drill's guarded variant, which pauses on a timer before every generation behind a
//! patch marker. Old histories replay their old path; a session started on the new
//! worker takes the new one and records the marker.

use engine::SessionId;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use serde_json::json;
use temporal_workflow::PhaseView;
use temporal_workflow::drill::{DRILL_PAUSE, UPGRADE_DRILL_PATCH, UpgradeDrill};
use temporalio_common::protos::constants::PATCH_MARKER_NAME;
use temporalio_common::protos::coresdk::common::decode_change_marker_details;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;

use crate::crash::assert_log_intact;
use crate::harness::{Env, events, fast_settings};
use crate::holds::{add_timer_tools, wait_for_event};

/// The patch ids of the markers in `history`.
fn patches(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .filter_map(|event| match &event.attributes {
            Some(Attributes::MarkerRecordedEventAttributes(marker))
                if marker.marker_name == PATCH_MARKER_NAME =>
            {
                decode_change_marker_details(&marker.details).map(|(id, _)| id)
            }
            _ => None,
        })
        .collect()
}

/// What `history` schedules, in order: the drill's pauses (`pause`: a timer of
/// [`DRILL_PAUSE`]) and generations (`llm`).
fn pauses_and_generations(history: &[HistoryEvent]) -> Vec<&'static str> {
    history
        .iter()
        .filter_map(|event| match &event.attributes {
            Some(Attributes::TimerStartedEventAttributes(timer))
                if timer.start_to_fire_timeout.as_ref().is_some_and(|timeout| {
                    i128::from(timeout.seconds) * 1_000_000_000 + i128::from(timeout.nanos)
                        == i128::try_from(DRILL_PAUSE.as_nanos()).unwrap()
                }) =>
            {
                Some("pause")
            }
            Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled))
                if scheduled
                    .activity_type
                    .as_ref()
                    .is_some_and(|t| t.name.starts_with("llm_generate")) =>
            {
                Some("llm")
            }
            _ => None,
        })
        .collect()
}

async fn finished(env: &Env, session: &SessionId) -> bool {
    events(&env.log(session).await)
        .iter()
        .any(|event| matches!(event, CoreEvent::RunFinished(_)))
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_in_flight_finish_on_a_worker_with_a_patched_workflow() {
    // Each session's turns match its own user text. The waits (4 s and more) keep
    // every run unfinished until the old worker stops, even on a slow machine.
    let script = json!({"turns": [
        {"tool_calls": [{"name": "echo", "arguments": {"a": 1}}], "delay_ms": 4_000,
         "match": {"last_user_contains": "alpha"}},
        {"text": "Alpha done.", "match": {"last_user_contains": "alpha"}},
        {"tool_calls": [{"name": "sleep", "arguments": {"ms": 4_000}}],
         "match": {"last_user_contains": "bravo"}},
        {"tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}],
         "match": {"last_user_contains": "bravo"}},
        {"text": "Bravo done.", "match": {"last_user_contains": "bravo"}},
        {"tool_calls": [{"name": "sleep", "arguments": {"seconds": 6}}],
         "match": {"last_user_contains": "charlie"}},
        {"text": "Charlie woke up.", "match": {"last_user_contains": "charlie"}},
        {"text": "Delta done.", "match": {"last_user_contains": "delta"}}
    ]});
    let Some(mut env) = Env::start("upgrade", script, fast_settings()).await else {
        return;
    };
    let generating = env.open("s-up-generating").await;
    let tools = env.open("s-up-tools").await;
    let timer = env.open("s-up-timer").await;
    add_timer_tools(&env, &timer).await;
    let runs = [
        (
            &generating,
            env.request_run(&generating, "sub-1", "alpha: think slowly")
                .await,
        ),
        (
            &tools,
            env.request_run(&tools, "sub-1", "bravo: use tools").await,
        ),
        (
            &timer,
            env.request_run(&timer, "sub-1", "charlie: wait a bit")
                .await,
        ),
    ];
    env.wait_status(&generating, "a generation in flight", |s| {
        s.phase == Some(PhaseView::Generating)
    })
    .await;
    env.wait_status(&tools, "a tool call in flight", |s| {
        s.phase == Some(PhaseView::AwaitingTools)
    })
    .await;
    wait_for_event(&env, &timer, "a deferred sleep", |event| {
        matches!(event, CoreEvent::ToolCallDeferred(_))
    })
    .await;

    // A deploy: the old worker stops (finishing the activities it holds), and no
    // worker runs until the new one starts, so every run is still unfinished.
    env.worker.take().unwrap().shutdown().await.unwrap();
    for (session, _) in &runs {
        assert!(!finished(&env, session).await, "{session} finished early");
    }
    env.start_drill_worker(UpgradeDrill::Guarded).await;

    for (session, run) in &runs {
        assert_eq!(env.outcome(session, run).await, RunOutcome::Completed);
        assert_log_intact(&env, session).await;
        // Replayed without the marker: the old path, for the whole workflow run.
        let history = env.history(session).await;
        assert!(patches(&history).iter().all(|id| id != UPGRADE_DRILL_PATCH));
        let steps = pauses_and_generations(&history);
        assert!(
            !steps.is_empty() && steps.iter().all(|step| *step == "llm"),
            "{session}: {steps:?}"
        );
    }
    let texts = crate::harness::assistant_texts(&env.store, &env.log(&timer).await).await;
    assert!(
        texts.iter().any(|text| text.contains("Charlie woke up.")),
        "{texts:?}"
    );

    // A session started on the new worker takes the new path: the marker, and the
    // drill's timer before its generation.
    let new = env.open("s-up-new").await;
    let run = env.request_run(&new, "sub-1", "delta: hello").await;
    assert_eq!(env.outcome(&new, &run).await, RunOutcome::Completed);
    assert_log_intact(&env, &new).await;
    let history = env.history(&new).await;
    assert!(
        patches(&history).iter().any(|id| id == UPGRADE_DRILL_PATCH),
        "{:?}",
        patches(&history)
    );
    assert_eq!(pauses_and_generations(&history), ["pause", "llm"]);
    env.shutdown().await;
}
