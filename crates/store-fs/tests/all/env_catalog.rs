//! The environment catalog on disk: the shared conformance suite (each case in a
//! root of its own, one universe each), records another instance on the same root
//! reads, and claims and finishes exclusive across instances (as across processes:
//! each instance opens its own lock files).

use std::sync::atomic::{AtomicUsize, Ordering};

use env_registry::{
    EnvCatalog, EnvJob, Environment, EnvironmentName, JOBS_IN_FLIGHT_MAX, JobKind, JobStatus,
    JobSubmit, job_id,
};
use futures::future::join_all;
use serde_json::json;

use super::*;

fn job(call: &str, created_at_ms: u64) -> EnvJob {
    EnvJob {
        id: job_id("s", "r", 1, call),
        environment_id: "e".repeat(32),
        session_id: "s".into(),
        run_id: "r".into(),
        batch: 1,
        call_id: call.into(),
        kind: JobKind::Command,
        op: json!({ "kind": "exec" }),
        status: JobStatus::Pending,
        task_token: None,
        created_at_ms,
        deadline_ms: created_at_ms + 1_000,
        deliveries: 0,
        result: None,
        finished_at_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn env_catalog_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    test_support::env_conformance::env_catalog_suite(|| async {
        let universe = next.fetch_add(1, Ordering::Relaxed);
        Ok(FsStore::open(
            dir.path().join(format!("universe-{universe}")),
        )?)
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn another_instance_on_the_root_reads_the_records() {
    let (dir, store) = store();
    let env = Environment {
        id: "0".repeat(32),
        name: EnvironmentName::new("box").unwrap(),
        description: String::new(),
        token_sha256: "ab".repeat(32),
        created_at_ms: 1,
        presence: None,
    };
    store.env_create(&env, 10).await.unwrap();
    let queued = job("queued", 1);
    store.job_submit(&queued, 10).await.unwrap();
    let reopened = FsStore::open(dir.path()).unwrap();
    assert_eq!(reopened.env_list().await.unwrap(), [env]);
    assert_eq!(
        reopened.job_read(&queued.id).await.unwrap(),
        Some(queued.clone())
    );
    assert!(matches!(
        reopened.job_submit(&queued, 10).await.unwrap(),
        JobSubmit::Existing(_)
    ));
    // Only records are in the jobs directory: no lock file per job.
    let names: Vec<String> = fs::read_dir(dir.path().join("env/jobs"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, [format!("{}.json", queued.id)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claims_and_finishes_are_exclusive_across_instances() {
    let (dir, first) = store();
    let second = FsStore::open(dir.path()).unwrap();
    let jobs: Vec<EnvJob> = (0..20).map(|n| job(&format!("call-{n}"), n)).collect();
    for job in &jobs {
        first.job_submit(job, JOBS_IN_FLIGHT_MAX).await.unwrap();
    }
    let environment = &jobs[0].environment_id;
    let claims = (0..8).map(|n| {
        let store = if n % 2 == 0 { &first } else { &second };
        async move {
            let connection = format!("conn-{n}");
            let mut claimed = Vec::new();
            loop {
                let batch = store
                    .job_claim(environment, &connection, 5, 1)
                    .await
                    .unwrap();
                if batch.is_empty() {
                    return claimed;
                }
                claimed.extend(batch.into_iter().map(|job| job.id));
            }
        }
    });
    let mut claimed: Vec<String> = join_all(claims).await.into_iter().flatten().collect();
    claimed.sort();
    let mut expected: Vec<String> = jobs.iter().map(|job| job.id.clone()).collect();
    expected.sort();
    assert_eq!(claimed, expected, "every job claimed exactly once");

    let finishes = (0..8).map(|n| {
        let store = if n % 2 == 0 { &first } else { &second };
        let id = &jobs[0].id;
        async move { store.job_finish(id, &json!(n), 10).await }
    });
    let won = join_all(finishes)
        .await
        .into_iter()
        .filter(|outcome| outcome.as_ref().unwrap().is_some())
        .count();
    assert_eq!(won, 1);
}
