//! Sub-agents on the real processes (`server worker`, `server gateway`, Postgres, the
//! fake provider): a parent spawns three children, waits for all of them and
//! summarises. While it waits its workflow has no activity pending (the wait is a
//! hold, not a call); the worker is SIGKILLed then, and a new one finishes the
//! parent and the children with nothing lost or recorded twice.

use std::process::Stdio;
use std::time::Duration;

use engine::SessionId;
use engine::core::event::CoreEvent;
use engine::store::SessionLog as _;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use store_pg::{PgConfig, PgDatabase};
use temporal_server::worker::{self, TemporalConfig};
use temporal_workflow::{AgentSessionWorkflow, workflow_id};
use test_support::api_conformance::agents::{assert_fan_out, fan_out_script};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig};
use test_support::rpc_client::params;
use uuid::Uuid;

use crate::harness::temporal_address;
use crate::postgres::{gateway_process, mint_key, rpc_client, stack_env, worker_process};

const DEADLINE: Duration = Duration::from_secs(180);

/// Every event of `session` from the start until one matches `done`. A failed read
/// is tried again (the fault tests read through outages).
pub(crate) async fn read_until(
    rpc: &HttpClient,
    session: &str,
    done: impl Fn(&Value) -> bool,
) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = 0;
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while tokio::time::Instant::now() < deadline {
        let read = rpc
            .request(
                "session/events/read",
                params(json!({"sessionId": session, "cursor": cursor, "waitMs": 2_000})),
            )
            .await;
        let Ok::<Value, _>(page) = read else {
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
        cursor = page["nextCursor"].as_u64().unwrap();
        for event in page["events"].as_array().unwrap() {
            events.push(event.clone());
            if done(event) {
                return events;
            }
        }
    }
    panic!("no awaited event in {session}: {events:#?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_parent_waits_for_three_children_without_an_activity_and_survives_a_killed_worker() {
    let Some(stack) = stack_env() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let universe = Uuid::new_v4();
    let universe_arg = universe.to_string();
    let task_queue = format!("agents-{}", &universe.simple().to_string()[..12]);
    let key = mint_key(&stack, &temporal, &task_queue, &universe_arg).await;
    // The children take 4 s each, so the parent is still waiting when the worker dies.
    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(serde_json::from_value(fan_out_script(4_000, 2)).unwrap()),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let mut first = worker_process(&stack, &temporal, &task_queue, &provider);
    let (mut gateway, bind) = gateway_process(&stack, &temporal, &task_queue, Stdio::null()).await;
    let rpc = rpc_client(&bind, &key);
    let config = json!({"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"},
                        "tools": {"agents": true}});
    let _: Value = rpc
        .request(
            "session/start",
            params(json!({"sessionId": "lead", "config": config})),
        )
        .await
        .unwrap();
    let run: Value = rpc
        .request(
            "run/start",
            params(json!({"sessionId": "lead", "submissionId": "sub-1",
                          "input": [{"type": "text", "text": "Fan out the research."}]})),
        )
        .await
        .unwrap();
    let run_id = run["runId"].as_str().unwrap().to_owned();

    // The wait is held: the parent's workflow has no activity scheduled or running.
    read_until(&rpc, "lead", |e| {
        e["kind"] == "lightspeed.core.tool.awaiting_children"
    })
    .await;
    let temporal_config = TemporalConfig {
        task_queue: task_queue.clone(),
        ..TemporalConfig::local(temporal.clone())
    };
    let client = worker::connect(&temporal_config, Default::default())
        .await
        .unwrap();
    let lead = SessionId::new("lead").unwrap();
    // The append of the hold is the workflow's last step before it rests: give it
    // a moment to finish, then look.
    let mut pending = usize::MAX;
    for _ in 0..50 {
        let description = client
            .get_workflow_handle::<AgentSessionWorkflow>(workflow_id(&universe_arg, &lead))
            .describe(temporalio_client::WorkflowDescribeOptions::default())
            .await
            .unwrap();
        pending = description.raw().pending_activities.len();
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pending, 0, "the parent holds an activity while it waits");

    // The worker dies mid-wait (the children mid-generation); another takes over.
    first.kill().await.unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut second = worker_process(&stack, &temporal, &task_queue, &provider);

    let finished = |e: &Value| e["kind"] == "lightspeed.core.run.finished" && e["runId"] == run_id;
    let events = read_until(&rpc, "lead", finished).await;
    assert_fan_out(&events, &run_id);

    // Each child ran once and told its parent once: one run, one end, one notice.
    let db = PgDatabase::connect(&PgConfig::new(&stack[0].1))
        .await
        .unwrap();
    let store = db.store(universe, None).await.unwrap();
    let view: Value = rpc
        .request("session/read", params(json!({"sessionId": "lead"})))
        .await
        .unwrap();
    let children = view["children"].as_array().unwrap();
    assert_eq!(children.len(), 3, "{view}");
    for child in children {
        let id = SessionId::new(child["sessionId"].as_str().unwrap()).unwrap();
        // The child records the delivery after the parent has it: a moment later.
        let mut events: Vec<CoreEvent> = Vec::new();
        for _ in 0..100 {
            let entries = store.read(&id, 1, 10_000).await.unwrap();
            events = entries
                .iter()
                .map(|entry| CoreEvent::decode(&entry.event).unwrap())
                .collect();
            if events
                .iter()
                .any(|e| e.kind() == engine::core::event::ParentNotified::KIND)
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let count = |kind: &str| events.iter().filter(|e| e.kind() == kind).count();
        assert_eq!(
            count(engine::core::event::RunFinished::KIND),
            1,
            "{events:#?}"
        );
        assert_eq!(
            count(engine::core::event::TurnCompleted::KIND),
            1,
            "{events:#?}"
        );
        assert_eq!(
            count(engine::core::event::ParentNotified::KIND),
            1,
            "{events:#?}"
        );
    }
    if crate::record::recording() {
        // Replay fixtures of both sides: the parent's held wait and the child's
        // `notify_parent` activity.
        let seam_universe = Uuid::parse_str(temporal_server::seam::SEAM_UNIVERSE_ID).unwrap();
        let seam_store = db.store(seam_universe, None).await.unwrap();
        let child = SessionId::new(children[0]["sessionId"].as_str().unwrap()).unwrap();
        for (session, name) in [(&lead, "sub-agents-parent"), (&child, "sub-agents-child")] {
            let events = client
                .get_workflow_handle::<AgentSessionWorkflow>(workflow_id(&universe_arg, session))
                .fetch_history(temporalio_client::WorkflowFetchHistoryOptions::default())
                .into_events()
                .await
                .unwrap();
            crate::record::write_fixture(events, &seam_store, name).await;
        }
    }
    let _ = second.kill().await;
    let _ = gateway.kill().await;
}
