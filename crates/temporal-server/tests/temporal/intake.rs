//! Event intake across gateway processes (issue 19, docs/operating/events.md): a
//! GitHub-style webhook configured on two `server gateway` processes over one
//! Postgres. 100 signed deliveries of 10 distinct events, sent concurrently and
//! split over both gateways, start exactly 10 runs (one per delivery id, in the
//! session the repository routes to); a redelivery after the runs finished is a
//! duplicate naming its run; a bad signature, an unknown hook and a body over the
//! limit are refused before anything is read into a run. SIGHUP has both gateways
//! read the hooks file again: a hook added with its secret in a file is served,
//! and the secret rotated in that file replaces the old one.

use std::time::Duration;

use engine::SessionId;
use engine::core::event::CoreEvent;
use engine::store::SessionLog as _;
use futures::future::join_all;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use store_pg::{PgConfig, PgDatabase};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig};
use uuid::Uuid;

use crate::harness::temporal_address;
use crate::postgres::{gateways, mint_key, stack_env, worker_process};

const SECRET: &str = "intake test secret, shared with the sender";
const EVENTS: usize = 10;
const DELIVERIES: usize = 100;
const RUN_DEADLINE: Duration = Duration::from_secs(180);

fn signature(body: &[u8]) -> String {
    signature_with(SECRET, body)
}

fn signature_with(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A generic hook's delivery `event_id` of `body` signed with `secret`: its status.
async fn deliver_generic(http: &reqwest::Client, bind: &str, event_id: &str, secret: &str) -> u16 {
    let body = json!({"alert": event_id}).to_string();
    http.post(format!("http://{bind}/hooks/alerts"))
        .header("x-lightspeed-event-id", event_id)
        .header("x-lightspeed-event-type", "alert")
        .header(
            "x-lightspeed-signature",
            signature_with(secret, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The gateway's count of hooks reloads with `outcome` (`/metrics`).
async fn reloads(http: &reqwest::Client, bind: &str, outcome: &str) -> u64 {
    let text = http
        .get(format!("http://{bind}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = format!("lightspeed_hooks_reloads_total{{outcome=\"{outcome}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .map_or(0, |count| count.trim().parse().unwrap())
}

/// Sends SIGHUP to every gateway, then waits until each answers `event_id`'s
/// delivery signed with `secret` with `want` (the reload is asynchronous).
async fn reload_until(
    gateways: &[tokio::process::Child],
    binds: &[String],
    http: &reqwest::Client,
    event_id: &str,
    secret: &str,
    want: u16,
) {
    for gateway in gateways {
        crate::harness::signal(gateway, "HUP");
    }
    for (index, bind) in binds.iter().enumerate() {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            let status = deliver_generic(http, bind, &format!("{event_id}-{index}"), secret).await;
            if status == want {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gateway {bind} answered {status}, not {want}, after SIGHUP"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn deliver(
    http: &reqwest::Client,
    bind: &str,
    hook: &str,
    delivery: &str,
    body: &[u8],
    signature: &str,
) -> (u16, Value) {
    let response = http
        .post(format!("http://{bind}/hooks/{hook}"))
        .header("content-type", "application/json")
        .header("x-github-event", "push")
        .header("x-github-delivery", delivery)
        .header("x-hub-signature-256", signature)
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn replayed_webhook_deliveries_start_one_run_each_across_gateways() {
    let Some(stack) = stack_env() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let universe = Uuid::new_v4();
    let universe_arg = universe.to_string();
    let task_queue = format!("intake-{}", &universe.simple().to_string()[..12]);
    // The universe's key is minted for the stack (the hook acts without one).
    mint_key(&stack, &temporal, &task_queue, &universe_arg).await;

    // One turn per event, then one per alert the reloaded hook starts.
    let turns: Vec<_> = (0..EVENTS)
        .map(|i| json!({"text": format!("handled event {i}")}))
        .chain((0..8).map(|i| json!({"text": format!("handled alert {i}")})))
        .collect();
    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(serde_json::from_value(json!({ "turns": turns })).unwrap()),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let _worker = worker_process(&stack, &temporal, &task_queue, &provider);

    let dir = tempfile::tempdir().unwrap();
    let hooks_file = dir.path().join("hooks.json");
    let hooks = json!({"hooks": [{
        "name": "github", "universeId": universe_arg, "kind": "github",
        "secretEnv": "INTAKE_TEST_HOOK_SECRET",
        "target": {"type": "route", "routingKeyPointer": "/repository/full_name",
                   "template": {"model": {"providerId": "openai",
                                          "apiKind": "openai:responses", "model": "m"}}}
    }]});
    std::fs::write(&hooks_file, hooks.to_string()).unwrap();
    let (gateways, binds) = gateways(
        &stack,
        &temporal,
        &task_queue,
        2,
        &[
            ("LIGHTSPEED_HOOKS_FILE", hooks_file.as_os_str()),
            ("INTAKE_TEST_HOOK_SECRET", SECRET.as_ref()),
            ("LIGHTSPEED_GATEWAY_HOOK_BODY_BYTES_MAX", "65536".as_ref()),
        ],
    )
    .await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();

    // Refused before anything: a wrong signature, an unknown hook, a body too large.
    let body = json!({"repository": {"full_name": "acme/widgets"}, "n": 0}).to_string();
    let (status, refused) = deliver(
        &http,
        &binds[0],
        "github",
        "d-forged",
        body.as_bytes(),
        &signature(b"another body"),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (401, Some("badSignature"))
    );
    let (status, _) = deliver(&http, &binds[1], "github", "d-forged", body.as_bytes(), "").await;
    assert_eq!(status, 401, "no signature at all");
    let (status, refused) = deliver(
        &http,
        &binds[1],
        "gitlab",
        "d-0",
        body.as_bytes(),
        &signature(body.as_bytes()),
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (404, Some("hookNotFound"))
    );
    let large =
        json!({"repository": {"full_name": "acme/widgets"}, "pad": "x".repeat(70_000)}).to_string();
    let (status, _) = deliver(
        &http,
        &binds[0],
        "github",
        "d-large",
        large.as_bytes(),
        &signature(large.as_bytes()),
    )
    .await;
    assert_eq!(status, 413);

    // 100 deliveries of 10 events, all at once, alternating gateways.
    let bodies: Vec<String> = (0..EVENTS)
        .map(|i| json!({"repository": {"full_name": "acme/widgets"}, "n": i}).to_string())
        .collect();
    let sends = (0..DELIVERIES).map(|attempt| {
        let event = attempt % EVENTS;
        let bind = &binds[attempt % 2];
        let body = bodies[event].as_bytes();
        let delivery = format!("d-{event}");
        let http = &http;
        async move {
            let (status, answer) =
                deliver(http, bind, "github", &delivery, body, &signature(body)).await;
            (event, status, answer)
        }
    });
    let answers = join_all(sends).await;
    let accepted: Vec<&(usize, u16, Value)> = answers
        .iter()
        .filter(|(_, status, _)| *status == 202)
        .collect();
    let duplicates = answers
        .iter()
        .filter(|(_, status, answer)| *status == 200 && answer["duplicate"] == true)
        .count();
    assert_eq!(accepted.len(), EVENTS, "{answers:#?}");
    assert_eq!(duplicates, DELIVERIES - EVENTS, "{answers:#?}");
    let mut events: Vec<usize> = accepted.iter().map(|(event, _, _)| *event).collect();
    events.sort_unstable();
    assert_eq!(events, (0..EVENTS).collect::<Vec<_>>());
    let session = accepted[0].2["sessionId"].as_str().unwrap().to_owned();
    assert!(
        accepted
            .iter()
            .all(|(_, _, answer)| answer["sessionId"] == session.as_str()),
        "one repository, one session: {accepted:#?}"
    );

    // Exactly 10 runs in the log, each finished once.
    let db = PgDatabase::connect(&PgConfig::new(&stack[0].1))
        .await
        .unwrap();
    let store = db.store(universe, None).await.unwrap();
    let session_id = SessionId::new(&session).unwrap();
    let deadline = tokio::time::Instant::now() + RUN_DEADLINE;
    let (requested, finished) = loop {
        let entries = store.read(&session_id, 1, 100_000).await.unwrap();
        let decoded: Vec<CoreEvent> = entries
            .iter()
            .map(|entry| CoreEvent::decode(&entry.event).unwrap())
            .collect();
        let requested = decoded
            .iter()
            .filter(|event| matches!(event, CoreEvent::RunRequested(_)))
            .count();
        let finished = decoded
            .iter()
            .filter(|event| matches!(event, CoreEvent::RunFinished(_)))
            .count();
        if finished >= EVENTS {
            break (requested, finished);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "runs did not finish: {requested} requested, {finished} finished"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!((requested, finished), (EVENTS, EVENTS));

    // A redelivery later is a duplicate naming the run its first delivery started.
    let (status, again) = deliver(
        &http,
        &binds[1],
        "github",
        "d-3",
        bodies[3].as_bytes(),
        &signature(bodies[3].as_bytes()),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    let first = accepted.iter().find(|(event, _, _)| *event == 3).unwrap();
    assert_eq!(again["runId"], first.2["runId"], "{again}");
    // GitHub's ping is answered without an event.
    let ping = http
        .post(format!("http://{}/hooks/github", binds[0]))
        .header("x-github-event", "ping")
        .header("x-github-delivery", "d-ping")
        .header("x-hub-signature-256", signature(b"{}"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status().as_u16(), 200);

    // A hook added to the file, its secret in a file beside it: served after SIGHUP.
    let template = json!({"model": {"providerId": "openai",
                                    "apiKind": "openai:responses", "model": "m"}});
    let mut hooks = hooks;
    hooks["hooks"].as_array_mut().unwrap().push(json!({
        "name": "alerts", "universeId": universe_arg, "kind": "generic",
        "secretFile": "alerts.secret",
        "target": {"type": "newSession", "template": template}
    }));
    std::fs::write(dir.path().join("alerts.secret"), "first alert secret\n").unwrap();
    std::fs::write(&hooks_file, hooks.to_string()).unwrap();
    assert_eq!(
        deliver_generic(&http, &binds[0], "a-early", "first alert secret").await,
        404,
        "not before the reload"
    );
    reload_until(&gateways, &binds, &http, "a-1", "first alert secret", 202).await;
    // The secret rotated in its file: after SIGHUP the old one is refused.
    std::fs::write(dir.path().join("alerts.secret"), "second alert secret").unwrap();
    reload_until(&gateways, &binds, &http, "a-2", "first alert secret", 401).await;
    for (index, bind) in binds.iter().enumerate() {
        let status =
            deliver_generic(&http, bind, &format!("a-3-{index}"), "second alert secret").await;
        assert_eq!(status, 202, "{bind}");
    }
    // A file that does not read keeps the hooks as they were (once each gateway
    // has counted the failed reload).
    std::fs::write(&hooks_file, "{ not json").unwrap();
    for gateway in &gateways {
        crate::harness::signal(gateway, "HUP");
    }
    for bind in &binds {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while reloads(&http, bind, "failed").await < 1 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{bind} never counted the failed reload"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(reloads(&http, bind, "reloaded").await, 2, "{bind}");
    }
    for (index, bind) in binds.iter().enumerate() {
        let status =
            deliver_generic(&http, bind, &format!("a-4-{index}"), "second alert secret").await;
        assert_eq!(status, 202, "{bind} kept its hooks");
    }
    drop(gateways);
}
