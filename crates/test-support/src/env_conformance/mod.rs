//! The environment catalog conformance suite: what every [`EnvCatalog`] (in memory,
//! on disk, in Postgres) must do, written once against the trait.
//!
//! Every case runs on a fresh catalog from the caller's factory: a new universe of
//! the backend under test (a new `MemoryEnvCatalog`, a new store-fs root, a new
//! universe of one Postgres pool). Fresh, because the job bound counts a universe's
//! unfinished jobs and no method lists them, so a case can only know the count in a
//! universe it made. The isolation case takes two catalogs of one backend and checks
//! that neither sees, counts or changes the other's records.
//!
//! Module `jobs` holds the job queue's cases; this one the records and the driver.
//!
//! What this module must not do: depend on a backend or check its layout.

mod jobs;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::{Context, bail, ensure};
use engine::SessionId;
use env_registry::{
    ATTACHMENTS_MAX, Attachment, ENVIRONMENTS_MAX, EnvCatalog, EnvCatalogError, EnvJob,
    Environment, EnvironmentName, JobKind, JobStatus, MountName, Presence, job_id,
};
use serde_json::json;

pub use jobs::{
    claim_race, finish_race, job_bound, job_claims, job_finish, job_prune, job_redelivery,
    job_submit, universes_apart,
};

/// Runs every case, each on a catalog `fresh` makes (a new universe; the isolation
/// case takes two of the same backend).
pub async fn env_catalog_suite<C, F, Fut>(fresh: F) -> anyhow::Result<()>
where
    C: EnvCatalog,
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<C>>,
{
    environments(&fresh().await?)
        .await
        .context("environments")?;
    presence(&fresh().await?).await.context("presence")?;
    attachments(&fresh().await?).await.context("attachments")?;
    job_submit(&fresh().await?).await.context("job submit")?;
    job_bound(&fresh().await?).await.context("job bound")?;
    job_claims(&fresh().await?).await.context("job claims")?;
    job_redelivery(&fresh().await?)
        .await
        .context("job redelivery")?;
    job_finish(&fresh().await?).await.context("job finish")?;
    job_prune(&fresh().await?).await.context("job prune")?;
    finish_race(&fresh().await?).await.context("finish race")?;
    claim_race(&fresh().await?).await.context("claim race")?;
    universes_apart(&fresh().await?, &fresh().await?)
        .await
        .context("universes apart")?;
    Ok(())
}

fn unique(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_nanos() as u64)
        .unwrap_or_default();
    format!(
        "{prefix}-{:x}-{}",
        nanos & 0xffff_ffff,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A fresh environment id (32 lowercase hex, as `new_environment_id` makes).
fn env_id(tag: &str) -> String {
    job_id("environment", &unique(tag), 0, "")
}

fn environment(name: &str) -> anyhow::Result<Environment> {
    Ok(Environment {
        id: env_id(name),
        name: EnvironmentName::new(name)?,
        description: format!("the {name} box"),
        token_sha256: "ab".repeat(32),
        created_at_ms: 7,
        presence: None,
    })
}

fn report(connection: &str, last_seen_ms: u64) -> Presence {
    Presence {
        connected: true,
        last_seen_ms,
        connection: connection.to_owned(),
        os: "linux".into(),
        arch: "x86_64".into(),
        hostname: "devbox".into(),
        dir: "/home/dev/project".into(),
        sandbox: "none".into(),
        network: true,
        daemon_version: "0.1.0".into(),
    }
}

fn attachment(name: &str, environment: &str, at_ms: u64) -> anyhow::Result<Attachment> {
    Ok(Attachment {
        name: MountName::new(name)?,
        environment_id: env_id(environment),
        environment: EnvironmentName::new(environment)?,
        attached_at_ms: at_ms,
    })
}

/// A new job of environment `environment_id` for tool call `call`.
fn job(environment_id: &str, call: &str, created_at_ms: u64) -> EnvJob {
    EnvJob {
        id: job_id("session-1", "run-1", 2, call),
        environment_id: environment_id.to_owned(),
        session_id: "session-1".into(),
        run_id: "run-1".into(),
        batch: 2,
        call_id: call.to_owned(),
        kind: JobKind::File,
        op: json!({ "kind": "read", "path": format!("{call}.txt"), "limit": 4096 }),
        status: JobStatus::Pending,
        task_token: None,
        created_at_ms,
        deadline_ms: created_at_ms + 60_000,
        deliveries: 0,
        result: None,
        finished_at_ms: None,
    }
}

fn names(environments: &[Environment]) -> Vec<&str> {
    environments.iter().map(|env| env.name.as_str()).collect()
}

/// Create, read by name and id, list in name order, the name's uniqueness, the
/// bound, delete.
pub async fn environments<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    ensure!(catalog.env_list().await?.is_empty(), "a fresh catalog");
    let (a, a_c, ab) = (environment("a")?, environment("a-c")?, environment("ab")?);
    ensure!(catalog.env_read(&ab.name).await?.is_none());
    ensure!(catalog.env_read_id(&ab.id).await?.is_none());
    for env in [&ab, &a_c, &a] {
        catalog.env_create(env, ENVIRONMENTS_MAX).await?;
    }
    ensure!(catalog.env_read(&ab.name).await? == Some(ab.clone()));
    ensure!(catalog.env_read_id(&a_c.id).await? == Some(a_c.clone()));
    ensure!(catalog.env_read_id(&env_id("nobody")).await?.is_none());
    // Byte order ('-' sorts before letters), whatever a database's collation says.
    let listed = catalog.env_list().await?;
    ensure!(names(&listed) == ["a", "a-c", "ab"], "{:?}", names(&listed));
    ensure!(listed == [a.clone(), a_c.clone(), ab.clone()]);

    // A taken name is refused whatever the id, and the refusal stores nothing.
    let taken = Environment {
        id: env_id("taken"),
        ..ab.clone()
    };
    match catalog.env_create(&taken, ENVIRONMENTS_MAX).await {
        Err(EnvCatalogError::Exists(name)) if name == "ab" => {}
        other => bail!("creating a taken name: {other:?}"),
    }
    ensure!(catalog.env_read_id(&taken.id).await?.is_none());
    // At the bound a new name is refused; a taken one is still `Exists`.
    let d = environment("d")?;
    match catalog.env_create(&d, 3).await {
        Err(EnvCatalogError::TooMany { max: 3, .. }) => {}
        other => bail!("beyond environments_max: {other:?}"),
    }
    ensure!(catalog.env_read(&d.name).await?.is_none());
    match catalog.env_create(&taken, 3).await {
        Err(EnvCatalogError::Exists(_)) => {}
        other => bail!("a taken name at the bound: {other:?}"),
    }

    ensure!(catalog.env_delete(&a.name).await? == Some(a.clone()));
    ensure!(catalog.env_delete(&a.name).await?.is_none());
    ensure!(catalog.env_read(&a.name).await?.is_none());
    ensure!(catalog.env_read_id(&a.id).await?.is_none());
    // A deleted environment no longer counts, and its name can be taken again by a
    // new environment (a new id, so the old token serves nothing).
    catalog.env_create(&d, 3).await?;
    let again = environment("a")?;
    catalog.env_create(&again, ENVIRONMENTS_MAX).await?;
    ensure!(catalog.env_read(&again.name).await? == Some(again.clone()));
    ensure!(catalog.env_read_id(&a.id).await?.is_none());
    let listed = catalog.env_list().await?;
    ensure!(
        names(&listed) == ["a", "a-c", "ab", "d"],
        "{:?}",
        names(&listed)
    );
    Ok(())
}

/// What daemons report, and disconnects that clear only the connection holding the
/// environment.
pub async fn presence<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let env = environment("box")?;
    ensure!(
        !catalog
            .env_presence(&env.id, &report("conn-1", 100))
            .await?,
        "no such environment"
    );
    catalog.env_disconnected(&env.id, "conn-1", 100).await?;
    catalog.env_create(&env, ENVIRONMENTS_MAX).await?;
    let read = || async {
        catalog
            .env_read(&env.name)
            .await?
            .context("the environment is there")
    };
    // Never connected: a disconnect has nothing to clear.
    catalog.env_disconnected(&env.id, "conn-1", 150).await?;
    ensure!(read().await?.presence.is_none());

    let first = report("conn-1", 200);
    ensure!(catalog.env_presence(&env.id, &first).await?);
    ensure!(read().await?.presence == Some(first.clone()));
    // Another connection's end leaves the holder connected.
    catalog.env_disconnected(&env.id, "conn-2", 250).await?;
    ensure!(read().await?.presence == Some(first.clone()));
    catalog.env_disconnected(&env.id, "conn-1", 300).await?;
    let gone = Presence {
        connected: false,
        last_seen_ms: 300,
        ..first.clone()
    };
    ensure!(read().await?.presence == Some(gone));

    // The daemon reconnected elsewhere: the old connection's late end changes nothing.
    let second = Presence {
        hostname: "other-host".into(),
        ..report("conn-3", 400)
    };
    ensure!(catalog.env_presence(&env.id, &second).await?);
    catalog.env_disconnected(&env.id, "conn-1", 500).await?;
    let expected = Environment {
        presence: Some(second),
        ..env.clone()
    };
    ensure!(
        read().await? == expected,
        "the rest of the record is untouched"
    );
    ensure!(catalog.env_read_id(&env.id).await? == Some(expected));

    ensure!(catalog.env_delete(&env.name).await?.is_some());
    ensure!(
        !catalog
            .env_presence(&env.id, &report("conn-3", 600))
            .await?,
        "a deleted environment takes no presence"
    );
    Ok(())
}

/// Attach, replace, list in name order, detach, and the per-session bound.
pub async fn attachments<C: EnvCatalog>(catalog: &C) -> anyhow::Result<()> {
    let session = SessionId::new(unique("session"))?;
    let other = SessionId::new(unique("session"))?;
    ensure!(catalog.attachment_list(&session).await?.is_empty());
    let (a, a_c, ab) = (
        attachment("a", "box-a", 1)?,
        attachment("a-c", "box-c", 2)?,
        attachment("ab", "box-b", 3)?,
    );
    for attached in [&ab, &a_c, &a] {
        catalog
            .attachment_put(&session, attached, ATTACHMENTS_MAX)
            .await?;
    }
    let listed = catalog.attachment_list(&session).await?;
    ensure!(listed == [a.clone(), a_c.clone(), ab.clone()], "{listed:?}");
    ensure!(catalog.attachment_list(&other).await?.is_empty());

    // Replacing what is attached at a name is allowed at the bound.
    let replaced = attachment("ab", "box-z", 9)?;
    catalog.attachment_put(&session, &replaced, 3).await?;
    let listed = catalog.attachment_list(&session).await?;
    ensure!(listed == [a.clone(), a_c.clone(), replaced], "{listed:?}");
    // A new name is not, and the refusal stores nothing.
    let z = attachment("z", "box-z", 10)?;
    match catalog.attachment_put(&session, &z, 3).await {
        Err(EnvCatalogError::TooMany { max: 3, .. }) => {}
        other => bail!("beyond attachments_max: {other:?}"),
    }
    ensure!(catalog.attachment_list(&session).await?.len() == 3);
    // The bound is per session.
    catalog.attachment_put(&other, &z, 1).await?;
    ensure!(catalog.attachment_list(&other).await? == std::slice::from_ref(&z));

    ensure!(catalog.attachment_delete(&session, &a.name).await?);
    ensure!(!catalog.attachment_delete(&session, &a.name).await?);
    ensure!(!catalog.attachment_delete(&other, &a.name).await?);
    let listed = catalog.attachment_list(&session).await?;
    let listed: Vec<&str> = listed.iter().map(|a| a.name.as_str()).collect();
    ensure!(listed == ["a-c", "ab"], "{listed:?}");
    catalog.attachment_put(&session, &z, 3).await?;
    ensure!(catalog.attachment_list(&other).await? == [z]);
    Ok(())
}

#[cfg(test)]
mod tests {
    use env_registry::MemoryEnvCatalog;

    #[tokio::test]
    async fn the_memory_catalog_conforms() {
        super::env_catalog_suite(|| async { Ok(MemoryEnvCatalog::default()) })
            .await
            .unwrap();
    }
}
