//! The history budget per turn (docs/spec/workflow.md, "History budget"): an
//! ordinary text turn (one run answered by one text reply) costs at most 12 history
//! events and 2.5 KB; a turn with tool calls at most 12 events plus 6 per call.
//! Measured as the growth of the workflow's history per run once the session is warm
//! (events, and bytes as the server counts them: `history_size_bytes`, the figure
//! `temporal-bench` reports), so a regression fails here on real Temporal.

use std::collections::BTreeMap;

use engine::core::run::RunOutcome;
use serde_json::json;
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;

use crate::harness::{Env, fast_settings};

const TEXT_TURN_EVENTS_MAX: usize = 12;
const TEXT_TURN_BYTES_MAX: usize = 2_500;
const EVENTS_PER_TOOL_CALL_MAX: usize = 6;
const RUNS: usize = 4;
const TOOL_CALLS: usize = 2;

fn event_bytes(event: &HistoryEvent) -> usize {
    prost::Message::encoded_len(event)
}

/// Events and bytes by event type.
fn breakdown(events: &[HistoryEvent]) -> BTreeMap<String, (usize, usize)> {
    let mut counts = BTreeMap::new();
    for event in events {
        let entry = counts
            .entry(format!("{:?}", event.event_type()))
            .or_insert((0, 0));
        entry.0 += 1;
        entry.1 += event_bytes(event);
    }
    counts
}

/// Runs `RUNS` runs after a warm-up and returns (events, bytes) added by the last,
/// with the event types of that run.
async fn per_run_growth(
    env: &Env,
    session_name: &str,
) -> (usize, usize, BTreeMap<String, (usize, usize)>) {
    let session = env.open(session_name).await;
    let mut before = env.history(&session).await.len();
    let mut size_before = env.history_size_bytes(&session).await;
    let mut growth = Vec::new();
    for i in 0..=RUNS {
        let run = env
            .request_run(&session, &format!("sub-{i}"), &format!("question {i}"))
            .await;
        assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
        env.wait_status(&session, "idle", |status| status.active_run_id.is_none())
            .await;
        let history = env.history(&session).await;
        let added = &history[before..];
        if std::env::var_os("LIGHTSPEED_DUMP_HISTORY").is_some() {
            for event in added {
                eprintln!("{} bytes: {event:?}", event_bytes(event));
            }
        }
        let size = env.history_size_bytes(&session).await;
        growth.push((added.len(), size - size_before, breakdown(added)));
        before = history.len();
        size_before = size;
    }
    // The first run also loads the session; later runs are the steady state.
    eprintln!("{session_name}: per-run growth {growth:#?}");
    growth
        .into_iter()
        .skip(1)
        .max_by_key(|(events, bytes, _)| (*events, *bytes))
        .expect("runs were measured")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_ordinary_text_turn_stays_within_the_history_budget() {
    let turns: Vec<_> = (0..=RUNS)
        .map(|i| json!({"text": format!("Answer {i}.")}))
        .collect();
    let Some(env) = Env::start("budget-text", json!({"turns": turns}), fast_settings()).await
    else {
        return;
    };
    let (events, bytes, kinds) = per_run_growth(&env, "s-budget-text").await;
    env.shutdown().await;
    assert!(
        events <= TEXT_TURN_EVENTS_MAX && bytes <= TEXT_TURN_BYTES_MAX,
        "a text turn added {events} events and {bytes} bytes: {kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_tool_turn_stays_within_the_history_budget() {
    let mut turns = Vec::new();
    for i in 0..=RUNS {
        let calls: Vec<_> = (0..TOOL_CALLS)
            .map(|c| json!({"name": "echo", "arguments": {"text": format!("{i}.{c}")}}))
            .collect();
        turns.push(json!({"text": "", "tool_calls": calls}));
        turns.push(json!({"text": format!("Answer {i}.")}));
    }
    let Some(env) = Env::start("budget-tools", json!({"turns": turns}), fast_settings()).await
    else {
        return;
    };
    let (events, _, kinds) = per_run_growth(&env, "s-budget-tools").await;
    env.shutdown().await;
    // A run here is two turns: one with the calls, one answering.
    let budget = 2 * TEXT_TURN_EVENTS_MAX + TOOL_CALLS * EVENTS_PER_TOOL_CALL_MAX;
    assert!(
        events <= budget,
        "a run with {TOOL_CALLS} tool calls added {events} events (budget {budget}): {kinds:?}"
    );
}
