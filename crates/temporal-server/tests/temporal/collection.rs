//! Deletion and collection on the deployed shape (`server worker`, `server
//! gateway`, Postgres, S3): a session is deleted through the API, an upload is
//! left unreferenced, and `server gc` (a dry run first) collects exactly what no
//! record reaches: the rows, their S3 objects and their bytes in the universe's
//! count. A fork whose source is deleted and collected still carries the source's
//! history into its next generation.

use std::path::Path;
use std::process::Stdio;

use base64::Engine as _;
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::HttpClient;
use serde_json::{Value, json};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig};
use test_support::rpc_client::params;
use uuid::Uuid;

use crate::agents::read_until;
use crate::backup::s3_data_dir;
use crate::harness::temporal_address;
use crate::postgres::{
    gateway_process, mint_key, rpc_client, run_to_end, server, stack_env, worker_process,
};

async fn call(rpc: &HttpClient, method: &str, args: Value) -> Value {
    rpc.request(method, params(args))
        .await
        .unwrap_or_else(|err| panic!("{method}: {err}"))
}

async fn run(rpc: &HttpClient, session: &str, submission: &str, text: &str) {
    let started = call(
        rpc,
        "run/start",
        json!({"sessionId": session, "submissionId": submission,
               "input": [{"type": "text", "text": text}]}),
    )
    .await;
    let run_id = started["runId"].clone();
    let events = read_until(rpc, session, |e| {
        e["kind"] == "lightspeed.core.run.finished" && e["runId"] == run_id
    })
    .await;
    assert_eq!(events.last().unwrap()["run"]["status"], "completed");
}

/// Object files of `universe` in the s3s-fs bucket directory.
fn objects(bucket_dir: &Path, universe: &str) -> usize {
    let mut count = 0;
    let mut dirs = vec![bucket_dir.join("universes").join(universe)];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                count += 1;
            }
        }
    }
    count
}

/// `server gc` over the test's universe: its one JSON report.
async fn gc(
    stack: &[(&'static str, String)],
    temporal: &str,
    universe: &str,
    dry_run: bool,
) -> Value {
    let mut command = server(
        &["gc", "--universe", universe, "--grace-s", "0"],
        stack,
        temporal,
        "unused",
    );
    if dry_run {
        command.arg("--dry-run");
    }
    let out = run_to_end(command, "").await;
    let mut lines = out.lines();
    let report: Value = serde_json::from_str(lines.next().expect("a report")).unwrap();
    assert!(lines.next().is_none(), "one universe, one report: {out}");
    assert_eq!(report["universe"], universe, "{report}");
    report
}

async fn stored_bytes(rpc: &HttpClient) -> u64 {
    let usage = call(rpc, "universe/usage", json!({})).await;
    usage["storedBytes"]
        .as_u64()
        .unwrap_or_else(|| panic!("{usage}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_sessions_and_stray_uploads_are_collected_and_a_fork_keeps_its_history() {
    let Some(stack) = stack_env() else { return };
    let Some(s3_dir) = s3_data_dir() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let bucket = stack
        .iter()
        .find(|(name, _)| *name == "LIGHTSPEED_OBJECT_STORE_BUCKET")
        .map(|(_, value)| value.clone())
        .unwrap();
    let universe = Uuid::new_v4().to_string();
    let task_queue = format!("gc-{}", &universe[..8]);
    let key = mint_key(&stack, &temporal, &task_queue, &universe).await;
    let provider = FakeProvider::start(FakeProviderConfig::default())
        .await
        .unwrap();
    let mut worker = worker_process(&stack, &temporal, &task_queue, &provider);
    let (mut gateway, bind) = gateway_process(&stack, &temporal, &task_queue, Stdio::null()).await;
    let rpc = rpc_client(&bind, &key);
    let config =
        json!({"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"}});

    // Two sessions with inputs over 64 KiB (so their blobs live in S3); one is forked.
    let kept_marker = format!("kept-{universe}");
    let gone_marker = format!("gone-{universe}");
    for (session, marker) in [("s-src", &kept_marker), ("s-gone", &gone_marker)] {
        call(
            &rpc,
            "session/start",
            json!({"sessionId": session, "config": config}),
        )
        .await;
        let text = format!("{marker} {}", "lorem ipsum ".repeat(7_000));
        run(&rpc, session, "sub-1", &text).await;
    }
    call(
        &rpc,
        "session/fork",
        json!({"sessionId": "s-src", "forkSessionId": "s-fork"}),
    )
    .await;
    let stray = call(
        &rpc,
        "blob/put",
        json!({"dataBase64": base64::engine::general_purpose::STANDARD.encode(format!("stray {universe}"))}),
    )
    .await;
    let stray_ref = stray["blobRef"].as_str().unwrap().to_owned();
    let deleted = call(&rpc, "session/delete", json!({"sessionId": "s-gone"})).await;
    assert!(deleted["deletedEvents"].as_u64().unwrap() > 0, "{deleted}");

    let bucket_dir = s3_dir.join(&bucket);
    let objects_before = objects(&bucket_dir, &universe);
    let bytes_before = stored_bytes(&rpc).await;
    assert!(
        objects_before >= 2,
        "large inputs went to S3: {objects_before}"
    );

    let dry = gc(&stack, &temporal, &universe, true).await;
    assert_eq!(dry["dryRun"], true);
    assert!(dry["collected"].as_u64().unwrap() >= 2, "{dry}");
    assert_eq!(
        objects(&bucket_dir, &universe),
        objects_before,
        "a dry run deletes nothing"
    );
    assert_eq!(stored_bytes(&rpc).await, bytes_before);

    let report = gc(&stack, &temporal, &universe, false).await;
    assert_eq!(report["collected"], dry["collected"], "{report} vs {dry}");
    assert_eq!(report["collectedBytes"], dry["collectedBytes"]);
    assert!(
        report["collectedBytes"].as_u64().unwrap() > 64 * 1024,
        "the deleted session's large input went: {report}"
    );
    assert!(
        objects(&bucket_dir, &universe) < objects_before,
        "collected objects are deleted from S3"
    );
    assert_eq!(
        stored_bytes(&rpc).await,
        bytes_before - report["collectedBytes"].as_u64().unwrap(),
        "the universe's stored bytes fall by what was collected"
    );
    let missing = rpc
        .request::<Value, _>("blob/get", params(json!({"blobRef": stray_ref})))
        .await;
    assert!(missing.is_err(), "the stray upload is gone: {missing:?}");

    // The fork's source goes too; the fork still has the source's history.
    call(&rpc, "session/delete", json!({"sessionId": "s-src"})).await;
    let second = gc(&stack, &temporal, &universe, false).await;
    assert!(second["marked"].as_u64().unwrap() > 0, "{second}");
    run(&rpc, "s-fork", "sub-2", "fork question").await;
    let requests = provider.requests();
    let last = &requests.last().unwrap().raw_body;
    assert!(
        last.contains(&kept_marker),
        "the fork's context kept the source's input"
    );
    assert!(!last.contains(&gone_marker));
    assert!(last.contains("fork question"));

    gateway.kill().await.unwrap();
    worker.kill().await.unwrap();
}
