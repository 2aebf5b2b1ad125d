//! API conformance cases, cost: what generations cost in run, turn and session views
//! and in `universe/usage`; run and session cost budgets that fail the run that
//! reaches them with `limitExceeded`; budgets out of range refused. The fake model is
//! priced so that a generation of 1,000 input and 100 output tokens costs 0.002 USD
//! (`local::fake_prices`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::{Conn, Harness, RUN_FINISHED};
use super::fixtures::{session_config, text_input};
use super::{Case, case};

const TURN_COMPLETED: &str = "lightspeed.core.turn.completed";

pub(super) const CASES: [Case; 3] = [
    case!(
        a_run_cost_budget_stops_a_looping_agent,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/read"
        ]
    ),
    case!(
        a_session_cost_budget_spans_runs_and_the_universe_sums_its_cost,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/read",
            "session/update",
            "universe/usage"
        ]
    ),
    case!(
        cost_budgets_out_of_range_are_refused,
        ["session/start", "run/start", "session/update"]
    ),
];

/// Usage the fake provider reports for every scripted turn: 0.002 USD.
fn priced_usage() -> Value {
    json!({"input_tokens": 1_000, "output_tokens": 100})
}

/// Runs `input` on `session` with `overrides`; every event until it finishes, and
/// its `run.finished` event.
async fn run(
    conn: &Conn,
    session: &str,
    submission: &str,
    overrides: Value,
) -> (Vec<Value>, Value) {
    let args = json!({"sessionId": session, "submissionId": submission,
                      "input": text_input("go on"), "overrides": overrides});
    let run = conn.call("run/start", args).await;
    let run_id = run["runId"].as_str().unwrap().to_owned();
    let finished = |e: &Value| e["kind"] == RUN_FINISHED && e["runId"] == run_id.as_str();
    let cursor = run["eventCursor"].as_u64().unwrap().saturating_sub(1);
    let (events, _) = conn.read_until(session, cursor, finished).await;
    let last = events.last().unwrap().clone();
    (events, last)
}

pub(super) async fn a_run_cost_budget_stops_a_looping_agent(h: Harness) -> anyhow::Result<()> {
    // A model that never stops asking for a tool.
    let looping = json!({"tool_calls": [{"name": "echo", "arguments": {"text": "again"}}],
                         "usage": priced_usage()});
    let ctx = h.start(json!({"turns": vec![looping; 8]})).await?;
    let a = ctx.a();
    a.start_session("s-loop").await;
    // 0.005 USD: two generations (0.004) leave it unspent, the third reaches it.
    let limits = json!({"limits": {"maxCostUsd": 0.005}});
    let (events, finished) = run(&a, "s-loop", "sub-loop", limits).await;

    let run_view = &finished["run"];
    assert_eq!(run_view["status"], "failed", "{finished:#}");
    assert_eq!(run_view["failure"]["reason"], "limitExceeded");
    assert_eq!(run_view["failure"]["code"], "cost");
    assert_eq!(run_view["turns"], 3);
    assert_eq!(run_view["usage"]["costUsd"], 0.006);
    assert_eq!(run_view["usage"]["costComplete"], true);
    // Each turn's event carries that turn's cost.
    let turns: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == TURN_COMPLETED)
        .collect();
    assert_eq!(turns.len(), 3, "{events:#?}");
    for turn in turns {
        assert_eq!(turn["run"]["usage"]["costUsd"], 0.002, "{turn:#}");
        assert_eq!(turn["run"]["usage"]["inputTokens"], 1_000);
    }

    let read = a
        .read_session_at("s-loop", finished["cursor"].as_u64().unwrap())
        .await;
    assert_eq!(read["usage"]["costUsd"], 0.006, "{read:#}");
    assert_eq!(read["usage"]["costComplete"], true);
    assert_eq!(read["lastRun"]["failure"]["code"], "cost");
    // The budget was the run's own: the session's defaults have none.
    assert!(read["config"]["runDefaults"].get("maxCostUsd").is_none());
    assert_eq!(read["config"]["budget"], json!({}));
    Ok(())
}

pub(super) async fn a_session_cost_budget_spans_runs_and_the_universe_sums_its_cost(
    h: Harness,
) -> anyhow::Result<()> {
    let answer = json!({"text": "Done.", "usage": priced_usage()});
    let ctx = h.start(json!({"turns": vec![answer; 4]})).await?;
    let a = ctx.a();
    let mut config = session_config("none");
    config["budget"] = json!({"maxCostUsd": 0.003});
    config["runDefaults"] = json!({"maxCostUsd": 1});
    let started = a
        .call(
            "session/start",
            json!({"sessionId": "s-budget", "config": config}),
        )
        .await;
    assert_eq!(started["config"]["budget"]["maxCostUsd"], 0.003);
    assert_eq!(started["config"]["runDefaults"]["maxCostUsd"], 1.0);

    // 0 then 0.002 spent before each generation: both runs answer.
    for submission in ["sub-1", "sub-2"] {
        let (_, finished) = run(&a, "s-budget", submission, json!({})).await;
        assert_eq!(finished["run"]["status"], "completed", "{finished:#}");
        assert_eq!(finished["run"]["usage"]["costUsd"], 0.002);
    }
    // 0.004 spent: the third run fails before it generates.
    let (_, finished) = run(&a, "s-budget", "sub-3", json!({})).await;
    let run_view = &finished["run"];
    assert_eq!(run_view["status"], "failed", "{finished:#}");
    assert_eq!(run_view["failure"]["reason"], "limitExceeded");
    assert_eq!(run_view["failure"]["code"], "sessionCost");
    assert_eq!(run_view["turns"], 0);
    assert_eq!(run_view["usage"]["costUsd"], 0.0);
    let read = a
        .read_session_at("s-budget", finished["cursor"].as_u64().unwrap())
        .await;
    assert_eq!(read["usage"]["costUsd"], 0.004, "{read:#}");

    // `budget: {}` removes the budget: the session spends again.
    let patch = json!({"sessionId": "s-budget", "expectedRevision": read["revision"],
                       "patch": {"budget": {}}});
    let updated = a.call("session/update", patch).await;
    assert_eq!(updated["config"]["budget"], json!({}));
    let (_, finished) = run(&a, "s-budget", "sub-4", json!({})).await;
    assert_eq!(finished["run"]["status"], "completed", "{finished:#}");

    // The universe's total is every turn's cost; another universe spent nothing.
    let usage = a.call("universe/usage", json!({})).await;
    assert_eq!(usage["costUsd"], 0.006, "{usage:#}");
    assert_eq!(usage["sessions"], 1);
    assert_eq!(usage["runsInFlight"], 0);
    assert!(usage["storedBytes"].as_u64().unwrap() > 0);
    let other = ctx.b().call("universe/usage", json!({})).await;
    assert_eq!(other["costUsd"], 0.0, "{other:#}");
    assert_eq!(other["sessions"], 0);
    Ok(())
}

pub(super) async fn cost_budgets_out_of_range_are_refused(h: Harness) -> anyhow::Result<()> {
    let ctx = h.start(json!({"turns": []})).await?;
    let a = ctx.a();
    let start_with = |key: &str, value: Value| {
        let mut config = session_config("none");
        config[key] = value;
        json!({"sessionId": "s-bad", "config": config})
    };
    let invalid = Some("invalidConfig");
    let negative = start_with("budget", json!({"maxCostUsd": -1}));
    a.invalid(
        "session/start",
        negative,
        "config.budget.maxCostUsd",
        invalid,
    )
    .await;
    let huge = start_with("runDefaults", json!({"maxCostUsd": 2_000_000}));
    a.invalid(
        "session/start",
        huge,
        "config.runDefaults.maxCostUsd",
        invalid,
    )
    .await;
    // A misspelt budget is a typo, not an extension.
    let typo = start_with("budget", json!({"maxCost": 1}));
    a.invalid("session/start", typo, "maxCost", None).await;

    let view = a.start_session("s-ok").await;
    let args = json!({"sessionId": "s-ok", "submissionId": "sub-1", "input": text_input("hi"),
                      "overrides": {"limits": {"maxCostUsd": 1e7}}});
    a.invalid("run/start", args, "overrides.limits.maxCostUsd", invalid)
        .await;
    let patch = json!({"sessionId": "s-ok", "expectedRevision": view["revision"],
                       "patch": {"budget": {"maxCostUsd": 1e9}}});
    a.invalid("session/update", patch, "patch.budget.maxCostUsd", invalid)
        .await;
    Ok(())
}
