//! The job queue's cases: submit (idempotent by id, bounded by unfinished jobs),
//! claim, redelivery, finish (once), prune, two races, and universes kept apart.

use anyhow::{Context, bail, ensure};
use engine::SessionId;
use env_registry::job::{OP_BYTES_MAX, RESULT_BYTES_MAX};
use env_registry::{
    ATTACHMENTS_MAX, ENVIRONMENTS_MAX, EnvCatalog, EnvCatalogError, EnvJob, JOBS_IN_FLIGHT_MAX,
    JobStatus, JobSubmit,
};
use futures::future::join_all;
use serde_json::{Value, json};

use super::{attachment, env_id, environment, job, report, unique};

/// Concurrent callers in the races.
const RACERS: usize = 8;
/// Jobs the claim race shares out.
const RACE_JOBS: usize = 24;

fn delivered(connection: &str, at_ms: u64) -> JobStatus {
    JobStatus::Delivered {
        connection: connection.to_owned(),
        at_ms,
    }
}

fn ids(jobs: &[EnvJob]) -> Vec<&str> {
    jobs.iter().map(|job| job.id.as_str()).collect()
}

async fn created<C: EnvCatalog>(catalog: &C, job: &EnvJob, jobs_max: usize) -> anyhow::Result<()> {
    match catalog.job_submit(job, jobs_max).await? {
        JobSubmit::Created(stored) if &stored == job => Ok(()),
        other => bail!("submitting job {} created {other:?}", job.id),
    }
}

async fn stored<C: EnvCatalog>(catalog: &C, job: &EnvJob) -> anyhow::Result<EnvJob> {
    catalog
        .job_read(&job.id)
        .await?
        .with_context(|| format!("job {} is stored", job.id))
}

fn refused_as(result: Result<JobSubmit, EnvCatalogError>, field: &str) -> anyhow::Result<()> {
    match result {
        Err(EnvCatalogError::Invalid { field: refused, .. }) if refused == field => Ok(()),
        other => bail!("a job with a bad {field}: {other:?}"),
    }
}

/// Created once; a resubmission returns the stored job with its own task token when
/// it brings one; `check_job`'s refusals store nothing.
pub async fn job_submit<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let env = env_id("box");
    let first = EnvJob {
        task_token: Some("token-1".into()),
        ..job(&env, "call-1", 10)
    };
    ensure!(catalog.job_read(&first.id).await?.is_none());
    created(catalog, &first, JOBS_IN_FLIGHT_MAX).await?;
    ensure!(stored(catalog, &first).await? == first);

    // A retried activity attempt: same id, its own token; what it sent otherwise is
    // not what counts, the stored job is.
    let retry = EnvJob {
        task_token: Some("token-2".into()),
        created_at_ms: 99,
        op: json!({ "kind": "other" }),
        ..first.clone()
    };
    let expected = EnvJob {
        task_token: Some("token-2".into()),
        ..first.clone()
    };
    match catalog.job_submit(&retry, JOBS_IN_FLIGHT_MAX).await? {
        JobSubmit::Existing(job) if job == expected => {}
        other => bail!("resubmitting with a token: {other:?}"),
    }
    ensure!(
        stored(catalog, &first).await? == expected,
        "the token is kept"
    );
    // Without a token, the stored one stays.
    let tokenless = EnvJob {
        task_token: None,
        ..first.clone()
    };
    match catalog.job_submit(&tokenless, JOBS_IN_FLIGHT_MAX).await? {
        JobSubmit::Existing(job) if job == expected => {}
        other => bail!("resubmitting without a token: {other:?}"),
    }
    ensure!(stored(catalog, &first).await? == expected);

    // Refused before anything is stored.
    let bad_id = EnvJob {
        id: "../../escape".into(),
        ..job(&env, "bad-id", 1)
    };
    refused_as(catalog.job_submit(&bad_id, JOBS_IN_FLIGHT_MAX).await, "id")?;
    let large = EnvJob {
        op: Value::String("x".repeat(OP_BYTES_MAX)),
        ..job(&env, "large", 1)
    };
    refused_as(catalog.job_submit(&large, JOBS_IN_FLIGHT_MAX).await, "op")?;
    let not_pending = EnvJob {
        status: delivered("conn-1", 1),
        ..job(&env, "not-pending", 1)
    };
    refused_as(
        catalog.job_submit(&not_pending, JOBS_IN_FLIGHT_MAX).await,
        "status",
    )?;
    let with_result = EnvJob {
        result: Some(json!(1)),
        ..job(&env, "with-result", 1)
    };
    refused_as(
        catalog.job_submit(&with_result, JOBS_IN_FLIGHT_MAX).await,
        "status",
    )?;
    for refused in [&large, &not_pending, &with_result] {
        ensure!(catalog.job_read(&refused.id).await?.is_none());
    }

    // Any JSON an operation holds comes back as it went in, U+0000 included (a
    // written file's content may hold it).
    let nul = EnvJob {
        op: json!({ "kind": "write", "path": "a.bin", "content": "x\u{0}y", "n": -1.5 }),
        ..job(&env, "nul", 11)
    };
    created(catalog, &nul, JOBS_IN_FLIGHT_MAX).await?;
    ensure!(stored(catalog, &nul).await? == nul);
    Ok(())
}

/// The bound counts a universe's unfinished jobs (pending or delivered), never
/// finished ones, and never refuses a job that exists.
pub async fn job_bound<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let env = env_id("box");
    let [a, b, c, d, e] = [("a", 10), ("b", 20), ("c", 30), ("d", 40), ("e", 50)]
        .map(|(call, created_at_ms)| job(&env, call, created_at_ms));
    created(catalog, &a, 2).await?;
    created(catalog, &b, 2).await?;
    let too_many = |result: Result<JobSubmit, EnvCatalogError>| match result {
        Err(EnvCatalogError::TooMany { max: 2, .. }) => Ok(()),
        other => bail!("beyond jobs_max: {other:?}"),
    };
    too_many(catalog.job_submit(&c, 2).await)?;
    ensure!(catalog.job_read(&c.id).await?.is_none(), "nothing stored");
    match catalog.job_submit(&a, 2).await? {
        JobSubmit::Existing(_) => {}
        other => bail!("an existing job at the bound: {other:?}"),
    }
    // Delivered jobs still count.
    ensure!(ids(&catalog.job_claim(&env, "conn-1", 50, 1).await?) == [a.id.as_str()]);
    too_many(catalog.job_submit(&c, 2).await)?;
    // Finished ones do not, whether they were delivered or not.
    ensure!(catalog.job_finish(&a.id, &json!("ok"), 60).await?.is_some());
    created(catalog, &c, 2).await?;
    too_many(catalog.job_submit(&d, 2).await)?;
    ensure!(
        catalog
            .job_finish(&b.id, &json!("late"), 70)
            .await?
            .is_some()
    );
    created(catalog, &d, 2).await?;
    match catalog.job_submit(&e, 0).await {
        Err(EnvCatalogError::TooMany { max: 0, .. }) => {}
        other => bail!("jobs_max 0: {other:?}"),
    }
    Ok(())
}

/// Claims take only pending jobs of their environment, oldest first (creation time,
/// then id), up to the limit, and mark them delivered to the claiming connection.
pub async fn job_claims<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let (x, y) = (env_id("x"), env_id("y"));
    let mut tied = [job(&x, "tie-1", 20), job(&x, "tie-2", 20)];
    tied.sort_by(|a, b| a.id.cmp(&b.id));
    let late = job(&x, "late", 30);
    let early = job(&x, "early", 10);
    let elsewhere = job(&y, "elsewhere", 5);
    let finished = job(&x, "finished", 1);
    for job in [&late, &tied[1], &early, &elsewhere, &tied[0], &finished] {
        created(catalog, job, JOBS_IN_FLIGHT_MAX).await?;
    }
    ensure!(
        catalog
            .job_finish(&finished.id, &json!(0), 2)
            .await?
            .is_some()
    );

    ensure!(catalog.job_claim(&x, "conn-1", 100, 0).await?.is_empty());
    let first = catalog.job_claim(&x, "conn-1", 100, 2).await?;
    ensure!(ids(&first) == [early.id.as_str(), tied[0].id.as_str()]);
    ensure!(
        first[0]
            == EnvJob {
                status: delivered("conn-1", 100),
                deliveries: 1,
                ..early.clone()
            },
        "claiming changes the status and the count only: {first:?}"
    );
    for claimed in &first {
        ensure!(stored(catalog, claimed).await? == *claimed);
    }
    let second = catalog.job_claim(&x, "conn-2", 101, 10).await?;
    ensure!(ids(&second) == [tied[1].id.as_str(), late.id.as_str()]);
    ensure!(
        second
            .iter()
            .all(|job| job.status == delivered("conn-2", 101) && job.deliveries == 1)
    );
    ensure!(catalog.job_claim(&x, "conn-3", 102, 10).await?.is_empty());
    ensure!(stored(catalog, &elsewhere).await?.status == JobStatus::Pending);
    ensure!(stored(catalog, &finished).await?.is_done());
    ensure!(
        catalog
            .job_claim(&env_id("nobody"), "conn-3", 102, 10)
            .await?
            .is_empty()
    );
    ensure!(ids(&catalog.job_claim(&y, "conn-4", 103, 10).await?) == [elsewhere.id.as_str()]);
    Ok(())
}

/// The delivered jobs of an environment, oldest first, and redelivery to a
/// reconnected daemon (none once finished).
pub async fn job_redelivery<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let x = env_id("x");
    let [a, b, c, pending] = [("a", 10), ("b", 20), ("c", 30), ("p", 40)]
        .map(|(call, created_at_ms)| job(&x, call, created_at_ms));
    for job in [&c, &pending, &a, &b] {
        created(catalog, job, JOBS_IN_FLIGHT_MAX).await?;
    }
    ensure!(catalog.job_delivered(&x).await?.is_empty());
    ensure!(catalog.job_claim(&x, "conn-1", 100, 3).await?.len() == 3);
    let listed = catalog.job_delivered(&x).await?;
    ensure!(ids(&listed) == [a.id.as_str(), b.id.as_str(), c.id.as_str()]);
    ensure!(listed[1] == stored(catalog, &b).await?);
    ensure!(catalog.job_delivered(&env_id("y")).await?.is_empty());
    let finished = catalog
        .job_finish(&b.id, &json!("done"), 150)
        .await?
        .context("b finishes")?;
    ensure!(ids(&catalog.job_delivered(&x).await?) == [a.id.as_str(), c.id.as_str()]);

    let again = catalog
        .job_redeliver(&a.id, "conn-2", 200)
        .await?
        .context("a is redelivered")?;
    let expected = EnvJob {
        status: delivered("conn-2", 200),
        deliveries: 2,
        ..a.clone()
    };
    ensure!(again == expected, "{again:?}");
    ensure!(stored(catalog, &a).await? == expected);
    ensure!(catalog.job_redeliver(&b.id, "conn-2", 201).await?.is_none());
    ensure!(
        stored(catalog, &b).await? == finished,
        "a finished job stays"
    );
    let unknown = job(&x, "unknown", 1);
    ensure!(
        catalog
            .job_redeliver(&unknown.id, "conn-2", 202)
            .await?
            .is_none()
    );
    ensure!(
        catalog
            .job_redeliver("../escape", "conn-2", 203)
            .await?
            .is_none()
    );
    ensure!(ids(&catalog.job_delivered(&x).await?) == [a.id.as_str(), c.id.as_str()]);
    ensure!(stored(catalog, &pending).await?.status == JobStatus::Pending);
    Ok(())
}

/// The first finish wins and returns the job (task token included); later ones
/// return `None` and change nothing; an oversize result is refused.
pub async fn job_finish<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let x = env_id("x");
    let running = EnvJob {
        task_token: Some("token-1".into()),
        ..job(&x, "running", 10)
    };
    created(catalog, &running, JOBS_IN_FLIGHT_MAX).await?;
    ensure!(catalog.job_claim(&x, "conn-1", 20, 1).await?.len() == 1);
    ensure!(
        catalog
            .job_finish(&job(&x, "unknown", 1).id, &json!(1), 30)
            .await?
            .is_none()
    );
    ensure!(
        catalog
            .job_finish("../escape", &json!(1), 30)
            .await?
            .is_none()
    );
    let large = Value::String("x".repeat(RESULT_BYTES_MAX));
    match catalog.job_finish(&running.id, &large, 30).await {
        Err(EnvCatalogError::Invalid {
            field: "result", ..
        }) => {}
        other => bail!("an oversize result: {other:?}"),
    }
    ensure!(!stored(catalog, &running).await?.is_done());

    let result = json!({ "ok": true, "output": "a\u{0}b", "exit": 0 });
    let done = catalog
        .job_finish(&running.id, &result, 300)
        .await?
        .context("the first finish")?;
    let expected = EnvJob {
        status: JobStatus::Done,
        deliveries: 1,
        result: Some(result),
        finished_at_ms: Some(300),
        ..running.clone()
    };
    ensure!(done == expected, "{done:?}");
    ensure!(stored(catalog, &running).await? == expected);
    ensure!(
        catalog
            .job_finish(&running.id, &json!("second"), 400)
            .await?
            .is_none()
    );
    ensure!(
        stored(catalog, &running).await? == expected,
        "the first wins"
    );

    // A job never delivered finishes too (its deadline passed).
    let waiting = job(&x, "waiting", 40);
    created(catalog, &waiting, JOBS_IN_FLIGHT_MAX).await?;
    let expired = catalog
        .job_finish(&waiting.id, &json!("expired"), 500)
        .await?
        .context("a pending job finishes")?;
    ensure!(expired.is_done() && expired.deliveries == 0);
    Ok(())
}

/// Only jobs finished strictly before the time go.
pub async fn job_prune<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let x = env_id("x");
    let [old, new, running, pending] =
        [("old", 0), ("new", 1), ("running", 2), ("pending", 3)].map(|(c, at)| job(&x, c, at));
    for job in [&old, &new, &running, &pending] {
        created(catalog, job, JOBS_IN_FLIGHT_MAX).await?;
    }
    ensure!(catalog.job_claim(&x, "conn-1", 5, 3).await?.len() == 3);
    ensure!(catalog.job_finish(&old.id, &json!(1), 100).await?.is_some());
    ensure!(catalog.job_finish(&new.id, &json!(2), 200).await?.is_some());
    ensure!(catalog.job_prune(100).await? == 0, "strictly before");
    ensure!(catalog.job_prune(150).await? == 1);
    ensure!(catalog.job_read(&old.id).await?.is_none());
    ensure!(catalog.job_read(&new.id).await?.is_some());
    ensure!(catalog.job_prune(201).await? == 1);
    ensure!(
        catalog.job_prune(u64::MAX).await? == 0,
        "unfinished jobs stay"
    );
    ensure!(stored(catalog, &running).await?.status == delivered("conn-1", 5));
    ensure!(stored(catalog, &pending).await?.status == JobStatus::Pending);
    ensure!(
        catalog
            .job_finish(&pending.id, &json!(3), 300)
            .await?
            .is_some()
    );
    ensure!(catalog.job_prune(u64::MAX).await? == 1);
    // A pruned job's id is free again.
    created(catalog, &old, JOBS_IN_FLIGHT_MAX).await?;
    Ok(())
}

/// Many finishers of one job at once: exactly one finishes it.
pub async fn finish_race<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let x = env_id("x");
    let raced = job(&x, "raced", 1);
    created(catalog, &raced, JOBS_IN_FLIGHT_MAX).await?;
    ensure!(catalog.job_claim(&x, "conn-1", 2, 1).await?.len() == 1);
    let id = raced.id.as_str();
    let finishes = (0..RACERS as u64).map(|racer| {
        let result = json!({ "racer": racer });
        async move { catalog.job_finish(id, &result, 100 + racer).await }
    });
    let mut winners = Vec::new();
    for outcome in join_all(finishes).await {
        winners.extend(outcome?);
    }
    ensure!(winners.len() == 1, "{} finishers won", winners.len());
    ensure!(stored(catalog, &raced).await? == winners[0]);
    Ok(())
}

/// Many claimers of one environment at once, on their own connections: every job
/// is claimed exactly once, by the connection its record names.
pub async fn claim_race<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let x = env_id("x");
    let jobs: Vec<EnvJob> = (0..RACE_JOBS as u64)
        .map(|n| job(&x, &format!("call-{n}"), n % 5))
        .collect();
    for job in &jobs {
        created(catalog, job, JOBS_IN_FLIGHT_MAX).await?;
    }
    let x = x.as_str();
    let claimers = (0..RACERS).map(|racer| async move {
        let connection = format!("conn-{racer}");
        let mut claimed = Vec::new();
        // Bounded: each round that is not the last claims at least one job.
        for _ in 0..=RACE_JOBS {
            let batch = catalog.job_claim(x, &connection, 100, 2).await?;
            if batch.is_empty() {
                break;
            }
            claimed.extend(batch);
        }
        anyhow::Ok((connection, claimed))
    });
    let mut owners = std::collections::BTreeMap::new();
    for outcome in join_all(claimers).await {
        let (connection, claimed) = outcome?;
        for job in claimed {
            ensure!(job.status == delivered(&connection, 100) && job.deliveries == 1);
            if let Some(first) = owners.insert(job.id.clone(), connection.clone()) {
                bail!("job {} claimed by {first} and {connection}", job.id);
            }
        }
    }
    ensure!(
        owners.len() == RACE_JOBS,
        "{} of {RACE_JOBS} claimed",
        owners.len()
    );
    for job in &jobs {
        let owner = owners.get(&job.id).context("claimed")?;
        ensure!(stored(catalog, job).await?.status == delivered(owner, 100));
    }
    ensure!(catalog.job_claim(x, "conn-late", 200, 10).await?.is_empty());
    Ok(())
}

/// Two universes of one backend: neither sees, counts or changes the other's
/// environments, attachments or jobs, and both may use the same names and ids.
pub async fn universes_apart<C: EnvCatalog>(a: &C, b: &C) -> anyhow::Result<()> {
    let env = environment("shared")?;
    let session = SessionId::new(unique("session"))?;
    let attached = attachment("shared", "shared", 1)?;
    a.env_create(&env, ENVIRONMENTS_MAX).await?;
    ensure!(a.env_presence(&env.id, &report("conn-a", 5)).await?);
    a.attachment_put(&session, &attached, ATTACHMENTS_MAX)
        .await?;
    let [pending, running, finished] =
        [("p", 30), ("r", 20), ("f", 10)].map(|(call, at)| job(&env.id, call, at));
    for job in [&pending, &running, &finished] {
        created(a, job, JOBS_IN_FLIGHT_MAX).await?;
    }
    ensure!(a.job_finish(&finished.id, &json!(1), 50).await?.is_some());
    ensure!(ids(&a.job_claim(&env.id, "conn-a", 60, 1).await?) == [running.id.as_str()]);
    let seen_by_a = [
        stored(a, &pending).await?,
        stored(a, &running).await?,
        stored(a, &finished).await?,
    ];
    let env_in_a = a.env_read(&env.name).await?;

    // Nothing of a's is visible from b, and nothing b does reaches it.
    ensure!(b.env_list().await?.is_empty());
    ensure!(b.env_read(&env.name).await?.is_none());
    ensure!(b.env_read_id(&env.id).await?.is_none());
    ensure!(!b.env_presence(&env.id, &report("conn-b", 6)).await?);
    b.env_disconnected(&env.id, "conn-a", 7).await?;
    ensure!(b.env_delete(&env.name).await?.is_none());
    ensure!(b.attachment_list(&session).await?.is_empty());
    ensure!(!b.attachment_delete(&session, &attached.name).await?);
    for job in &seen_by_a {
        ensure!(b.job_read(&job.id).await?.is_none());
    }
    ensure!(b.job_claim(&env.id, "conn-b", 70, 10).await?.is_empty());
    ensure!(b.job_delivered(&env.id).await?.is_empty());
    ensure!(b.job_redeliver(&running.id, "conn-b", 71).await?.is_none());
    ensure!(b.job_finish(&pending.id, &json!(2), 72).await?.is_none());
    ensure!(b.job_prune(u64::MAX).await? == 0);
    ensure!(a.env_read(&env.name).await? == env_in_a);
    ensure!(a.attachment_list(&session).await? == std::slice::from_ref(&attached));
    for job in &seen_by_a {
        ensure!(
            stored(a, job).await? == *job,
            "b changed a's job {}",
            job.id
        );
    }

    // b holds the same names and ids as records of its own; a's do not count in b.
    b.env_create(&env, 1).await?;
    b.attachment_put(&session, &attached, 1).await?;
    created(b, &pending, 1).await?;
    ensure!(ids(&b.job_claim(&env.id, "conn-b", 80, 10).await?) == [pending.id.as_str()]);
    ensure!(b.job_finish(&pending.id, &json!(3), 81).await?.is_some());
    ensure!(stored(a, &pending).await? == seen_by_a[0]);
    ensure!(
        a.job_prune(u64::MAX).await? == 1,
        "a prunes its finished job"
    );
    ensure!(stored(b, &pending).await?.is_done(), "not b's");
    ensure!(b.job_prune(u64::MAX).await? == 1);
    ensure!(stored(a, &pending).await? == seen_by_a[0]);
    ensure!(a.env_read(&env.name).await? == env_in_a);
    ensure!(b.env_read(&env.name).await? == Some(env));
    Ok(())
}
