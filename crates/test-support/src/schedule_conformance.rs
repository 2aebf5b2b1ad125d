//! The schedule catalog conformance suite: what every [`ScheduleCatalog`] (in
//! memory, on disk, in Postgres) must do, written once against the trait.
//!
//! Every case runs on a fresh catalog from the caller's factory (a new universe of
//! the backend under test), so counts are exact; the isolation case takes two.
//!
//! What this module must not do: depend on a backend or check its layout.

use std::future::Future;

use anyhow::{Context, bail, ensure};
use futures::future::join_all;
use schedule_registry::{
    Claim, FiringOutcome, OverlapPolicy, Schedule, ScheduleCatalog, ScheduleError, ScheduleId,
    SchedulePatch, ScheduleSpec, ScheduleTarget,
};

/// Runs every case, each on a catalog `fresh` makes (a new universe; the isolation
/// case takes two of the same backend).
pub async fn schedule_catalog_suite<C, F, Fut>(fresh: F) -> anyhow::Result<()>
where
    C: ScheduleCatalog,
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<C>>,
{
    records(&fresh().await?).await.context("records")?;
    cap(&fresh().await?).await.context("cap")?;
    claims(&fresh().await?).await.context("claims")?;
    claim_race(&fresh().await?).await.context("claim race")?;
    universes_apart(&fresh().await?, &fresh().await?)
        .await
        .context("universes apart")?;
    Ok(())
}

/// A valid schedule `id`, created at 10 ms.
pub fn schedule(id: &str) -> anyhow::Result<Schedule> {
    Ok(Schedule {
        id: ScheduleId::new(id)?,
        name: format!("the {id} schedule"),
        spec: ScheduleSpec::Interval { every_seconds: 60 },
        target: ScheduleTarget::Session {
            session_id: "s1".into(),
        },
        input: "check the inbox".into(),
        overlap: OverlapPolicy::Skip,
        paused: false,
        created_by_session: None,
        revision: 1,
        created_at_ms: 10,
        updated_at_ms: 10,
        firings: 0,
        last_firing: None,
    })
}

fn id(raw: &str) -> anyhow::Result<ScheduleId> {
    Ok(ScheduleId::new(raw)?)
}

async fn records<C: ScheduleCatalog>(catalog: &C) -> anyhow::Result<()> {
    ensure!(catalog.schedule_list().await?.is_empty(), "a new universe");
    let b = schedule("b")?;
    let a = schedule("a")?;
    catalog.schedule_create(&b, 10).await?;
    catalog.schedule_create(&a, 10).await?;
    match catalog.schedule_create(&a, 10).await {
        Err(ScheduleError::Exists(_)) => {}
        other => bail!("a second create of one id: {other:?}"),
    }
    let listed: Vec<String> = catalog
        .schedule_list()
        .await?
        .into_iter()
        .map(|s| s.id.to_string())
        .collect();
    ensure!(listed == ["a", "b"], "listed by id: {listed:?}");
    ensure!(catalog.schedule_read(&a.id).await? == Some(a.clone()));

    let patch = SchedulePatch {
        paused: Some(true),
        input: Some("check it again".into()),
        ..SchedulePatch::default()
    };
    let updated = catalog
        .schedule_update(&a.id, Some(1), &patch, 20, 60)
        .await?;
    ensure!(updated.revision == 2 && updated.paused && updated.updated_at_ms == 20);
    ensure!(catalog.schedule_read(&a.id).await? == Some(updated.clone()));
    match catalog
        .schedule_update(&a.id, Some(1), &patch, 30, 60)
        .await
    {
        Err(ScheduleError::Conflict { actual: 2, .. }) => {}
        other => bail!("a stale revision: {other:?}"),
    }
    // A patch that changes nothing moves nothing.
    let same = catalog
        .schedule_update(&a.id, Some(2), &patch, 40, 60)
        .await?;
    ensure!(same == updated, "a no-op patch: {same:?}");
    let too_fast = SchedulePatch {
        spec: Some(ScheduleSpec::Interval { every_seconds: 5 }),
        ..SchedulePatch::default()
    };
    match catalog
        .schedule_update(&a.id, None, &too_fast, 50, 60)
        .await
    {
        Err(ScheduleError::Invalid { .. }) => {}
        other => bail!("an interval under the floor: {other:?}"),
    }
    match catalog
        .schedule_update(&id("nope")?, None, &patch, 50, 60)
        .await
    {
        Err(ScheduleError::NotFound(_)) => {}
        other => bail!("update of no schedule: {other:?}"),
    }
    ensure!(catalog.schedule_delete(&a.id).await?, "deleted");
    ensure!(!catalog.schedule_delete(&a.id).await?, "deleted twice");
    ensure!(catalog.schedule_read(&a.id).await?.is_none());
    Ok(())
}

async fn cap<C: ScheduleCatalog>(catalog: &C) -> anyhow::Result<()> {
    for n in 0..3 {
        catalog
            .schedule_create(&schedule(&format!("s{n}"))?, 3)
            .await?;
    }
    match catalog.schedule_create(&schedule("s3")?, 3).await {
        Err(ScheduleError::TooMany { max: 3 }) => {}
        other => bail!("over the cap: {other:?}"),
    }
    catalog.schedule_delete(&id("s0")?).await?;
    catalog.schedule_create(&schedule("s3")?, 3).await?;
    Ok(())
}

async fn claims<C: ScheduleCatalog>(catalog: &C) -> anyhow::Result<()> {
    let s = schedule("tick")?;
    catalog.schedule_create(&s, 10).await?;
    // On time: each firing is due after the previous one was claimed.
    let Claim::Fire(first) = catalog.schedule_claim(&s.id, 60_000, 60_010).await? else {
        bail!("the first firing must fire");
    };
    ensure!(first.firings == 1, "{first:?}");
    // A retry of the same firing fires again (the same submission).
    ensure!(matches!(
        catalog.schedule_claim(&s.id, 60_000, 60_500).await?,
        Claim::Fire(_)
    ));
    let outcome = FiringOutcome::Started {
        session_id: "s1".into(),
        run_id: "run_1".into(),
    };
    catalog
        .schedule_record_outcome(&s.id, 60_000, &outcome)
        .await?;
    let read = catalog.schedule_read(&s.id).await?.context("kept")?;
    let last = read.last_firing.context("a last firing")?;
    ensure!(last.outcome == Some(outcome) && last.fired_at_ms == 60_010 && read.firings == 1);
    // Downtime: firings due at 120 s, 180 s and 240 s all run at 250 s; one fires.
    let mut fired = 0;
    for due in [180_000, 120_000, 240_000] {
        match catalog.schedule_claim(&s.id, due, 250_000).await? {
            Claim::Fire(_) => fired += 1,
            Claim::Coalesced => {}
            other => bail!("a late firing: {other:?}"),
        }
    }
    ensure!(fired == 1, "one firing for the missed window, not {fired}");
    // An outcome of a firing that is not the last changes nothing.
    catalog
        .schedule_record_outcome(&s.id, 60_000, &FiringOutcome::Failed { code: "x".into() })
        .await?;
    let read = catalog.schedule_read(&s.id).await?.context("kept")?;
    ensure!(read.last_firing.is_some_and(|last| last.outcome.is_none()));
    // Paused: a late firing of before the pause does nothing.
    let pause = SchedulePatch {
        paused: Some(true),
        ..SchedulePatch::default()
    };
    catalog
        .schedule_update(&s.id, None, &pause, 260_000, 60)
        .await?;
    ensure!(catalog.schedule_claim(&s.id, 300_000, 300_001).await? == Claim::Paused);
    ensure!(
        catalog
            .schedule_claim(&id("gone")?, 300_000, 300_001)
            .await?
            == Claim::Gone
    );
    Ok(())
}

/// Many late firings of one window claimed at once: exactly one fires.
async fn claim_race<C: ScheduleCatalog>(catalog: &C) -> anyhow::Result<()> {
    let s = schedule("race")?;
    catalog.schedule_create(&s, 10).await?;
    let claims = join_all((1..=8u64).map(|n| catalog.schedule_claim(&s.id, n * 1_000, 20_000)))
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let fired = claims
        .iter()
        .filter(|c| matches!(c, Claim::Fire(_)))
        .count();
    ensure!(fired == 1, "racing late firings fired {fired} times");
    Ok(())
}

async fn universes_apart<C: ScheduleCatalog>(a: &C, b: &C) -> anyhow::Result<()> {
    let s = schedule("mine")?;
    a.schedule_create(&s, 1).await?;
    ensure!(b.schedule_list().await?.is_empty(), "b sees none of a's");
    ensure!(b.schedule_read(&s.id).await?.is_none());
    // a's cap is a's: b may still create one.
    b.schedule_create(&s, 1).await?;
    ensure!(!b.schedule_delete(&id("other")?).await?);
    ensure!(b.schedule_delete(&s.id).await?);
    ensure!(
        a.schedule_read(&s.id).await?.is_some(),
        "a's is still there"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn the_memory_catalog_conforms() {
        super::schedule_catalog_suite(|| async {
            Ok(schedule_registry::MemoryScheduleCatalog::default())
        })
        .await
        .unwrap();
    }
}
