//! The environment catalog in Postgres: the shared conformance suite (every case in
//! a fresh universe of one pool, two of them for isolation), the job bound and
//! idempotent submits under concurrent submitters, and the notice a new job sends.
//!
//! Each test migrates a schema of its own and drops it at the end, so it never
//! changes the shared schema the local stack's servers (other checkouts included)
//! use.

use std::time::Duration;

use env_registry::{
    EnvCatalog, EnvCatalogError, EnvJob, JOBS_IN_FLIGHT_MAX, JobKind, JobStatus, JobSubmit, job_id,
};
use futures::future::join_all;
use serde_json::json;
use store_pg::{EnvJobEvent, EnvJobNotice};
use uuid::Uuid;

use crate::support::{Services, drop_schema};

const WAIT: Duration = Duration::from_secs(10);

fn job(environment_id: &str, call: &str) -> EnvJob {
    EnvJob {
        id: job_id("s", "r", 1, call),
        environment_id: environment_id.to_owned(),
        session_id: "s".into(),
        run_id: "r".into(),
        batch: 1,
        call_id: call.into(),
        kind: JobKind::Command,
        op: json!({ "kind": "exec", "command": ["true"] }),
        status: JobStatus::Pending,
        task_token: None,
        created_at_ms: 1,
        deadline_ms: 1_000,
        deliveries: 0,
        result: None,
        finished_at_ms: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn env_catalog_suite_passes() {
    let Some(services) = Services::from_env("env_catalog_suite_passes") else {
        return;
    };
    let (db, schema) = services.schema_database("env").await;
    test_support::env_conformance::env_catalog_suite(|| async {
        Ok(db.store(Uuid::new_v4(), None).await?)
    })
    .await
    .unwrap();
    drop_schema(db, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_submits_keep_the_bound_and_create_a_job_once() {
    let Some(services) = Services::from_env("concurrent_submits_keep_the_bound") else {
        return;
    };
    let (db, schema) = services.schema_database("env_submits").await;
    let store = db.store(Uuid::new_v4(), None).await.unwrap();
    let environment = "e".repeat(32);

    let distinct: Vec<EnvJob> = (0..12)
        .map(|n| job(&environment, &format!("call-{n}")))
        .collect();
    let results = join_all(distinct.iter().map(|job| store.job_submit(job, 5))).await;
    let created = results
        .iter()
        .filter(|result| matches!(result, Ok(JobSubmit::Created(_))))
        .count();
    assert_eq!(created, 5, "{results:?}");
    assert!(
        results
            .iter()
            .all(|result| matches!(result, Ok(_) | Err(EnvCatalogError::TooMany { max: 5, .. })))
    );

    // Retried attempts of one call at once, each with its own token: one creates the
    // job, the others find it, and the stored token is one of theirs.
    let same: Vec<EnvJob> = (0..8)
        .map(|n| EnvJob {
            task_token: Some(format!("token-{n}")),
            ..job(&environment, "retried")
        })
        .collect();
    let results = join_all(
        same.iter()
            .map(|job| store.job_submit(job, JOBS_IN_FLIGHT_MAX)),
    )
    .await;
    let created = results
        .iter()
        .filter(|result| matches!(result, Ok(JobSubmit::Created(_))))
        .count();
    let existing = results
        .iter()
        .filter(|result| matches!(result, Ok(JobSubmit::Existing(_))))
        .count();
    assert_eq!((created, existing), (1, 7), "{results:?}");
    let stored = store.job_read(&same[0].id).await.unwrap().unwrap();
    assert!(same.iter().any(|job| job.task_token == stored.task_token));
    drop_schema(db, &schema).await;
}

/// The next notice of `universe` (others' may arrive too: the channel is shared).
async fn next_notice(
    listener: &mut store_pg::EnvJobListener,
    universe: Uuid,
    wait: Duration,
) -> Option<EnvJobNotice> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let event = tokio::time::timeout_at(deadline, listener.next())
            .await
            .ok()?;
        match event.unwrap() {
            EnvJobEvent::Submitted(notice) if notice.universe_id == universe => {
                return Some(notice);
            }
            EnvJobEvent::Submitted(_) | EnvJobEvent::Resumed => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_job_is_announced_once_and_a_refused_one_never() {
    let Some(services) = Services::from_env("a_new_job_is_announced_once") else {
        return;
    };
    let (db, schema) = services.schema_database("env_notify").await;
    let universe = Uuid::new_v4();
    let store = db.store(universe, None).await.unwrap();
    let mut listener = db.listen_env_jobs().await.unwrap();
    let environment = "0123456789abcdef0123456789abcdef";

    let first = job(environment, "first");
    store.job_submit(&first, 1).await.unwrap();
    assert_eq!(
        next_notice(&mut listener, universe, WAIT).await,
        Some(EnvJobNotice {
            universe_id: universe,
            environment_id: environment.to_owned(),
        })
    );
    // Finding the job again, or refusing another beyond the bound, announces nothing.
    let retry = EnvJob {
        task_token: Some("token".into()),
        ..first.clone()
    };
    assert!(matches!(
        store.job_submit(&retry, 1).await.unwrap(),
        JobSubmit::Existing(_)
    ));
    let refused = store.job_submit(&job(environment, "second"), 1).await;
    assert!(matches!(refused, Err(EnvCatalogError::TooMany { .. })));
    assert_eq!(
        next_notice(&mut listener, universe, Duration::from_millis(300)).await,
        None
    );
    assert!(listener.ping().await.unwrap() > 0);
    drop(listener);
    drop_schema(db, &schema).await;
}
