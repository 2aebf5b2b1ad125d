//! API conformance cases, sub-agents: a session started with `tools.agents` spawns
//! children (sessions of their own), waits for them without a tool running, and
//! reads their answers; parent and child show their links in `session/read` and in
//! events.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use super::client::Harness;
use super::fixtures::{final_assistant_text, finished_status, tool_results};
use super::{Case, case};

const AWAITING_CHILDREN: &str = "lightspeed.core.tool.awaiting_children";
const CHILD_RUN_STARTED: &str = "lightspeed.core.child.run_started";
const CHILD_RUN_FINISHED: &str = "lightspeed.core.child.run_finished";

pub(super) const CASES: [Case; 2] = [
    case!(
        a_parent_spawns_children_waits_for_all_and_reads_their_answers,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/read"
        ]
    ),
    case!(
        a_cost_budget_stops_a_looping_agent_and_its_children,
        [
            "session/start",
            "run/start",
            "session/events/read",
            "session/read"
        ]
    ),
];

/// The script of a parent that fans out to three children and summarises: the
/// children's turns match their prompts (they run concurrently, in any order) and
/// take a while, so the parent's wait is held rather than answered at once. Each
/// child's turn is there `copies` times: a generation retried after a worker died
/// mid-call asks the provider again.
pub fn fan_out_script(child_delay_ms: u64, copies: usize) -> Value {
    let spawn = |topic: &str| {
        json!({"name": "agent_spawn", "arguments": {"prompt": format!("Research topic {topic}."),
                                                      "instructions": "Answer in one line."}})
    };
    let mut turns = vec![
        json!({"tool_calls": [spawn("alpha"), spawn("beta"), spawn("gamma")]}),
        json!({"tool_calls": [{"name": "agent_wait", "arguments": {"mode": "all", "timeout_seconds": 600}}]}),
        json!({"text": "Summary: alpha, beta and gamma are done."}),
    ];
    for (topic, answer) in [
        ("alpha", "Alpha is first."),
        ("beta", "Beta is second."),
        ("gamma", "Gamma is third."),
    ] {
        let turn = json!({"text": answer, "delay_ms": child_delay_ms,
                          "match": {"last_user_contains": format!("topic {topic}")}});
        turns.extend(std::iter::repeat_n(turn, copies));
    }
    json!({"turns": turns})
}

/// The parent's config: the fake model, the sub-agent tools.
pub fn parent_config() -> Value {
    json!({"model": {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"},
           "instructions": {"type": "text", "text": "Delegate, then summarise."},
           "tools": {"agents": true}})
}

/// Checks what the parent's finished run shows: three spawns, a held wait, the
/// three run ends heard of, the wait's result with every answer, the summary.
pub fn assert_fan_out(events: &[Value], run_id: &str) {
    assert_eq!(finished_status(events, run_id), "completed", "{events:#?}");
    let spawned: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == CHILD_RUN_STARTED)
        .collect();
    assert_eq!(spawned.len(), 3, "{events:#?}");
    assert!(
        spawned.iter().all(|e| e["link"]["state"] == "spawned"),
        "{spawned:#?}"
    );
    let held = events
        .iter()
        .find(|e| e["kind"] == AWAITING_CHILDREN)
        .unwrap_or_else(|| panic!("the wait was not held: {events:#?}"));
    assert_eq!(held["hold"]["state"], "awaitingChildren", "{held}");
    let ends: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == CHILD_RUN_FINISHED)
        .collect();
    assert_eq!(ends.len(), 3, "{events:#?}");
    assert!(
        ends.iter().all(|e| e["link"]["status"] == "completed"),
        "{ends:#?}"
    );
    let results = tool_results(events);
    let waited = results
        .iter()
        .find(|(name, _, _)| name == "agent_wait")
        .unwrap_or_else(|| panic!("no agent_wait result: {results:#?}"));
    assert_eq!(waited.1, "ok", "{waited:?}");
    for answer in ["Alpha is first.", "Beta is second.", "Gamma is third."] {
        assert!(
            waited.2.contains(answer),
            "{answer} missing from {}",
            waited.2
        );
    }
    assert_eq!(
        final_assistant_text(events),
        "Summary: alpha, beta and gamma are done."
    );
}

pub(super) async fn a_parent_spawns_children_waits_for_all_and_reads_their_answers(
    h: Harness,
) -> anyhow::Result<()> {
    let ctx = h.start(fan_out_script(1_500, 1)).await?;
    let a = ctx.a();
    let view = a
        .call(
            "session/start",
            json!({"sessionId": "s-lead", "config": parent_config()}),
        )
        .await;
    assert_eq!(view["config"]["agents"], true, "{view}");
    let run_id = a
        .start_run("s-lead", "sub-1", "Fan out the research.")
        .await;
    let events = a.follow("s-lead", &run_id).await;
    assert_fan_out(&events, &run_id);

    // The parent lists its children; each child names its parent.
    let cursor = events.last().unwrap()["cursor"].as_u64().unwrap();
    let parent = a.read_session_at("s-lead", cursor).await;
    let children = parent["children"].as_array().unwrap();
    assert_eq!(children.len(), 3, "{parent}");
    for child in children {
        assert_eq!(child["busy"], false, "{child}");
        assert_eq!(child["lastStatus"], "completed", "{child}");
        let id = child["sessionId"].as_str().unwrap();
        let view = a.call("session/read", json!({"sessionId": id})).await;
        assert_eq!(view["parent"]["sessionId"], "s-lead", "{view}");
        assert_eq!(view["parent"]["depth"], 1, "{view}");
        assert_eq!(view["lastRun"]["status"], "completed", "{view}");
    }
    Ok(())
}

/// Usage the fake model is priced on in every target: 0.002 USD a generation.
fn priced() -> Value {
    json!({"input_tokens": 1_000, "output_tokens": 100})
}

pub(super) async fn a_cost_budget_stops_a_looping_agent_and_its_children(
    h: Harness,
) -> anyhow::Result<()> {
    let spawn = |task: &str| json!({"name": "agent_spawn", "arguments": {"prompt": format!("Loop on {task}."), "budget_usd": 0.004}});
    let list = json!({"tool_calls": [{"name": "agent_list", "arguments": {}}], "usage": priced()});
    let mut turns =
        vec![json!({"tool_calls": [spawn("task one"), spawn("task two")], "usage": priced()})];
    turns.extend(std::iter::repeat_n(list.clone(), 10));
    for task in ["task one", "task two"] {
        let mut looping = list.clone();
        looping["match"] = json!({"last_user_contains": task});
        turns.extend(std::iter::repeat_n(looping, 4));
    }
    let ctx = h.start(json!({"turns": turns})).await?;
    let a = ctx.a();
    let mut config = parent_config();
    // The tree's budget: 0.004 to each child, the rest for the parent itself.
    config["budget"] = json!({"maxCostUsd": 0.02});
    a.call(
        "session/start",
        json!({"sessionId": "s-fund", "config": config}),
    )
    .await;
    let run_id = a
        .start_run("s-fund", "sub-1", "Fund two workers and watch them.")
        .await;
    let events = a.follow("s-fund", &run_id).await;
    assert_eq!(finished_status(&events, &run_id), "failed", "{events:#?}");
    let finished = events.last().unwrap();
    assert_eq!(
        finished["run"]["failure"]["reason"], "limitExceeded",
        "{finished}"
    );
    assert_eq!(
        finished["run"]["failure"]["code"], "sessionCost",
        "{finished}"
    );

    let cursor = finished["cursor"].as_u64().unwrap();
    let parent = a.read_session_at("s-fund", cursor).await;
    let own = parent["usage"]["costUsd"].as_f64().unwrap();
    let children = parent["children"].as_array().unwrap().clone();
    assert_eq!(children.len(), 2, "{parent}");
    let mut spent = own;
    for child in &children {
        assert_eq!(child["budgetUsd"], 0.004, "{child}");
        let id = child["sessionId"].as_str().unwrap();
        // Each child loops until its own share is spent.
        let view = wait_last_run(&a, id).await;
        assert_eq!(view["lastRun"]["failure"]["code"], "sessionCost", "{view}");
        assert_eq!(view["config"]["budget"]["maxCostUsd"], 0.004, "{view}");
        spent += view["usage"]["costUsd"].as_f64().unwrap();
    }
    // Parent and children together stayed within the tree's budget.
    assert!(spent <= 0.02 + 1e-9, "the tree spent {spent} USD: {parent}");
    assert!(own > 0.0 && spent > own, "{parent}");
    Ok(())
}

/// `session/read` of `session` once its first run has finished.
async fn wait_last_run(a: &super::client::Conn, session: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let view = a.call("session/read", json!({"sessionId": session})).await;
        if view.get("lastRun").is_some() && view.get("activeRun").is_none() {
            return view;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{session} never finished: {view}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
