//! Several workers and gateways on one Temporal and one Postgres (the scale issue,
//! part 5): two `server worker` and two `server gateway` processes on one task queue.
//! Sessions started through one gateway spread over both workers; one worker is
//! SIGKILLed while generations are in flight and the other finishes every run with
//! nothing lost or doubled in the log; deltas of a session reach a subscriber on the
//! other gateway (relayed through `LISTEN`/`NOTIFY`). Needs the local stack's
//! Postgres and S3, like `postgres.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use engine::SessionId;
use engine::core::event::CoreEvent;
use engine::store::SessionLog as _;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};
use store_pg::{PgConfig, PgDatabase};
use temporal_server::worker::{self, TemporalConfig};
use temporal_workflow::{AgentSessionWorkflow, workflow_id};
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig};
use test_support::rpc_client::{bearer_headers, params};
use uuid::Uuid;

use crate::harness::temporal_address;
use crate::postgres::{gateways, mint_key, stack_env, worker_process};

const SESSIONS: usize = 16;
const RUN_DEADLINE: Duration = Duration::from_secs(180);

/// The identities of the workers that ran tasks of `session`'s workflow.
async fn workers_of(
    client: &temporalio_client::Client,
    universe: &str,
    session: &str,
) -> Vec<String> {
    let events = client
        .get_workflow_handle::<AgentSessionWorkflow>(workflow_id(
            universe,
            &SessionId::new(session).unwrap(),
        ))
        .fetch_history(WorkflowFetchHistoryOptions::default())
        .into_events()
        .await
        .unwrap();
    events
        .iter()
        .filter_map(|event| match &event.attributes {
            Some(Attributes::WorkflowTaskStartedEventAttributes(started)) => {
                Some(started.identity.clone())
            }
            Some(Attributes::ActivityTaskStartedEventAttributes(started)) => {
                Some(started.identity.clone())
            }
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_workers_and_two_gateways_share_sessions_and_survive_a_killed_worker() {
    let Some(stack) = stack_env() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let universe = Uuid::new_v4();
    let universe_arg = universe.to_string();
    let task_queue = format!("scale-{}", &universe.simple().to_string()[..12]);
    let key = mint_key(&stack, &temporal, &task_queue, &universe_arg).await;

    // Every generation takes a while, so the kill below lands mid-call.
    let turns: Vec<_> = (0..SESSIONS * 2)
        .map(|i| json!({"text": format!("Answer {i}, streamed word by word."), "delay_ms": 1500}))
        .collect();
    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(serde_json::from_value(json!({ "turns": turns })).unwrap()),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let mut workers: Vec<_> = (0..2)
        .map(|_| worker_process(&stack, &temporal, &task_queue, &provider))
        .collect();
    let (mut gateways, binds) = gateways(&stack, &temporal, &task_queue, 2, &[]).await;
    let first = HttpClientBuilder::default()
        .set_headers(bearer_headers(&key))
        .request_timeout(Duration::from_secs(60))
        .build(format!("http://{}/rpc", binds[0]))
        .unwrap();
    let config =
        json!({"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"}});
    let sessions: Vec<String> = (0..SESSIONS).map(|i| format!("s-{i}")).collect();
    for session in &sessions {
        let _: Value = first
            .request(
                "session/start",
                params(json!({"sessionId": session, "config": config})),
            )
            .await
            .unwrap();
    }
    // A subscriber on the other gateway.
    let ws = WsClientBuilder::default()
        .set_headers(bearer_headers(&key))
        .build(format!("ws://{}/rpc", binds[1]))
        .await
        .unwrap();
    let mut subscription = ws
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": sessions[0], "cursor": 0})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    let mut runs = Vec::new();
    for session in &sessions {
        let run: Value = first
            .request(
                "run/start",
                params(json!({"sessionId": session, "submissionId": "sub-1",
                              "input": [{"type": "text", "text": "hello"}]})),
            )
            .await
            .unwrap();
        runs.push(run["runId"].as_str().unwrap().to_owned());
    }

    // Mid-generation: one worker dies without a goodbye.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let killed = format!("ls-{}", workers[0].id().unwrap());
    workers[0].kill().await.unwrap();
    let survivor = format!("ls-{}", workers[1].id().unwrap());

    // Deltas of session 0 reach the subscriber on the second gateway.
    let mut delta_text = String::new();
    let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
    loop {
        let notification = tokio::time::timeout_at(deadline, subscription.next())
            .await
            .expect("session 0 finishes")
            .unwrap()
            .unwrap();
        if notification["type"] == "delta" {
            delta_text.push_str(notification["delta"]["text"].as_str().unwrap_or_default());
        }
        if notification["event"]["kind"] == "lightspeed.core.run.finished" {
            break;
        }
    }
    assert!(
        delta_text.contains("streamed word by word"),
        "deltas through the other gateway: {delta_text:?}"
    );

    // Every run finishes once, and no turn is recorded twice.
    let db = PgDatabase::connect(&PgConfig::new(&stack[0].1))
        .await
        .unwrap();
    let store = db.store(universe, None).await.unwrap();
    for (session, run) in sessions.iter().zip(&runs) {
        let session_id = SessionId::new(session).unwrap();
        let events = loop {
            let entries = store.read(&session_id, 1, 10_000).await.unwrap();
            let events: Vec<_> = entries
                .iter()
                .map(|entry| CoreEvent::decode(&entry.event).unwrap())
                .collect();
            if events
                .iter()
                .any(|event| matches!(event, CoreEvent::RunFinished(_)))
            {
                break events;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{session}: run {run} did not finish"
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        };
        let finished: Vec<_> = events
            .iter()
            .filter_map(|event| match event {
                CoreEvent::RunFinished(finished) => Some(finished),
                _ => None,
            })
            .collect();
        assert_eq!(finished.len(), 1, "{session}: {events:?}");
        assert_eq!(finished[0].run_id.as_str(), run.as_str());
        let turns = events
            .iter()
            .filter(|event| matches!(event, CoreEvent::TurnCompleted(_)))
            .count();
        assert_eq!(turns, 1, "{session}: one turn, recorded once: {events:?}");
    }
    db.close().await;

    // The sessions were spread over both workers; the survivor finished them all.
    let config = TemporalConfig {
        task_queue: task_queue.clone(),
        ..TemporalConfig::local(temporal.clone())
    };
    let client = worker::connect(&config, Default::default()).await.unwrap();
    let mut identities = BTreeSet::new();
    for session in &sessions {
        identities.extend(workers_of(&client, &universe_arg, session).await);
    }
    assert!(identities.contains(&killed), "{identities:?}");
    assert!(identities.contains(&survivor), "{identities:?}");

    for child in workers.iter_mut().chain(gateways.iter_mut()) {
        let _ = child.kill().await;
    }
    provider.shutdown().await;
}
