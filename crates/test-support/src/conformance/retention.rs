//! The retention suite: deleting a session and collecting unreferenced blobs
//! (`session_stores::Retention`, `session_stores::collect`), the same on every
//! backend behind the API.

use std::time::Duration;

use anyhow::{Context, ensure};
use engine::BlobRef;
use engine::store::{BlobStore, Checkpoint, CheckpointStore, SessionLog, StoreError};
use session_stores::collect::{CollectOptions, CollectPhase, collect_garbage};
use session_stores::{Retention, UniverseUsage};

use super::{entry, session_id, unique_prefix};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// An entry at `seq` whose payload names `blobs`.
fn naming(prefix: &str, seq: u64, blobs: &[&BlobRef]) -> engine::LogEntry {
    let names: Vec<&str> = blobs.iter().map(|blob| blob.as_str()).collect();
    entry(&format!("{prefix} {}", names.join(" ")), seq)
}

async fn held<S: BlobStore>(store: &S, blob: &BlobRef) -> anyhow::Result<bool> {
    Ok(store.has(blob).await?)
}

/// Deletion removes exactly one session's log and checkpoints, and its id can be
/// used again; collection keeps every blob reachable from a record (directly, or
/// through another blob), keeps unreferenced blobs touched within the grace
/// period, deletes the rest and gives their bytes back to the universe's count; a
/// dry run deletes nothing; a put of stored bytes touches them.
///
/// Needs a universe of its own: collection deletes whatever in it is unreferenced.
pub async fn retention_suite<S>(store: &S) -> anyhow::Result<()>
where
    S: SessionLog + BlobStore + CheckpointStore + Retention + UniverseUsage,
{
    let prefix = unique_prefix();
    deletion(store, &prefix)
        .await
        .context("deleting a session")?;
    collection(store, &prefix)
        .await
        .context("collecting blobs")?;
    touching(store).await.context("a put touches")?;
    pinning(store).await.context("pins")?;
    Ok(())
}

async fn pinning<S>(store: &S) -> anyhow::Result<()>
where
    S: BlobStore + Retention,
{
    let pinned = store
        .put(format!("{} pinned", unique_prefix()).into_bytes())
        .await?;
    let other = store
        .put(format!("{} not pinned", unique_prefix()).into_bytes())
        .await?;
    ensure!(
        store.pin_blob(&pinned, 7, 100).await? == Some(true),
        "pinned"
    );
    ensure!(
        store.pin_blob(&pinned, 9, 100).await? == Some(false),
        "pinning again changes nothing"
    );
    let pins = store.pinned_blobs().await?;
    ensure!(
        pins.contains(&(pinned.clone(), 7)),
        "listed with its time: {pins:?}"
    );
    let count = pins.len() as u64;
    ensure!(
        store.pin_blob(&other, 7, count).await?.is_none(),
        "a pin past the bound is refused"
    );
    tokio::time::sleep(Duration::from_millis(20)).await;
    let old = CollectOptions {
        grace_ms: 0,
        ..CollectOptions::new(now_ms())
    };
    collect_garbage(store, old, |_, _| {}).await?;
    ensure!(held(store, &pinned).await?, "a pinned blob is kept");
    ensure!(!held(store, &other).await?, "an unpinned one goes");
    ensure!(store.unpin_blob(&pinned).await?, "unpinned");
    ensure!(
        !store.unpin_blob(&pinned).await?,
        "unpinning again finds none"
    );
    let old = CollectOptions {
        grace_ms: 0,
        ..CollectOptions::new(now_ms())
    };
    collect_garbage(store, old, |_, _| {}).await?;
    ensure!(!held(store, &pinned).await?, "once unpinned it goes");
    Ok(())
}

async fn deletion<S>(store: &S, prefix: &str) -> anyhow::Result<()>
where
    S: SessionLog + CheckpointStore + Retention,
{
    let (doomed, kept) = (
        session_id(prefix, "delete-doomed")?,
        session_id(prefix, "delete-kept")?,
    );
    store
        .append(&doomed, 0, &[entry(prefix, 1), entry(prefix, 2)])
        .await?;
    store.append(&doomed, 2, &[entry(prefix, 3)]).await?;
    store
        .put_checkpoint(
            &doomed,
            &Checkpoint {
                seq: 2,
                state: b"{}".to_vec(),
            },
        )
        .await?;
    store.append(&kept, 0, &[entry(prefix, 1)]).await?;

    let removed = store.delete_session(&doomed).await?;
    ensure!(removed == 3, "removed {removed} entries, expected 3");
    ensure!(
        store.head(&doomed).await? == 0,
        "a deleted session has head 0"
    );
    ensure!(
        store.read(&doomed, 1, 10).await?.is_empty(),
        "a deleted session reads empty"
    );
    ensure!(
        store.latest_checkpoint(&doomed).await?.is_none(),
        "a deleted session has no checkpoint"
    );
    ensure!(
        store.head(&kept).await? == 1,
        "another session is untouched"
    );
    ensure!(
        store.delete_session(&doomed).await? == 0,
        "deleting again removes nothing"
    );
    // The id starts over.
    store.append(&doomed, 0, &[entry(prefix, 1)]).await?;
    ensure!(
        store.head(&doomed).await? == 1,
        "a deleted id is usable again"
    );
    store.delete_session(&doomed).await?;
    store.delete_session(&kept).await?;
    Ok(())
}

async fn collection<S>(store: &S, prefix: &str) -> anyhow::Result<()>
where
    S: SessionLog + BlobStore + CheckpointStore + Retention + UniverseUsage,
{
    let text = |name: &str| format!("{prefix} {name} {}", "x".repeat(100)).into_bytes();
    let leaf = store.put(text("leaf")).await?;
    // A blob naming another, as a manifest names file contents.
    let parent = store
        .put(format!("{prefix} names {leaf}").into_bytes())
        .await?;
    let in_checkpoint = store.put(text("checkpointed")).await?;
    let garbage = store.put(text("garbage")).await?;
    let session = session_id(prefix, "collect")?;
    store
        .append(&session, 0, &[naming(prefix, 1, &[&parent])])
        .await?;
    store
        .put_checkpoint(
            &session,
            &Checkpoint {
                seq: 1,
                state: format!("{{\"chunk\":\"{in_checkpoint}\"}}").into_bytes(),
            },
        )
        .await?;
    let doomed_session = session_id(prefix, "collect-deleted")?;
    let orphaned = store.put(text("orphaned by deletion")).await?;
    store
        .append(&doomed_session, 0, &[naming(prefix, 1, &[&orphaned])])
        .await?;
    store.delete_session(&doomed_session).await?;

    let roots = store.blob_roots().await?;
    ensure!(roots.contains(&parent), "a logged ref is a root");
    ensure!(
        roots.contains(&in_checkpoint),
        "a checkpoint's ref is a root"
    );
    ensure!(
        !roots.contains(&orphaned),
        "a deleted session names nothing"
    );

    // Everything is young under a day's grace.
    let mut phases = Vec::new();
    let young = collect_garbage(store, CollectOptions::new(now_ms()), |phase, _| {
        phases.push(phase);
    })
    .await?;
    ensure!(young.collected == 0, "young blobs are kept: {young:?}");
    ensure!(young.young >= 2, "garbage counted young: {young:?}");
    ensure!(
        phases.first() == Some(&CollectPhase::Roots) && phases.last() == Some(&CollectPhase::Done),
        "progress runs from roots to done: {phases:?}"
    );

    // Past the grace period: a dry run reports, deletes nothing.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let old = |dry_run| CollectOptions {
        grace_ms: 0,
        dry_run,
        ..CollectOptions::new(now_ms())
    };
    let dry = collect_garbage(store, old(true), |_, _| {}).await?;
    ensure!(
        dry.collected >= 2 && dry.dry_run,
        "a dry run counts: {dry:?}"
    );
    ensure!(held(store, &garbage).await?, "a dry run deletes nothing");

    let bytes_before = store.stored_bytes().await?;
    let report = collect_garbage(store, old(false), |_, _| {}).await?;
    ensure!(
        report.collected == dry.collected && report.collected_bytes == dry.collected_bytes,
        "the run deletes what the dry run reported: {report:?} vs {dry:?}"
    );
    ensure!(report.marked >= 3, "reached blobs are read: {report:?}");
    for (blob, what) in [
        (&parent, "a logged blob"),
        (&leaf, "a blob named by a reached blob"),
        (&in_checkpoint, "a checkpointed blob"),
    ] {
        ensure!(held(store, blob).await?, "{what} is kept");
    }
    for (blob, what) in [
        (&garbage, "garbage"),
        (&orphaned, "a deleted session's blob"),
    ] {
        ensure!(!held(store, blob).await?, "{what} is collected");
        ensure!(
            matches!(store.get(blob).await, Err(StoreError::BlobNotFound(_))),
            "{what} reads as not found"
        );
    }
    let bytes_after = store.stored_bytes().await?;
    ensure!(
        bytes_before - bytes_after == report.collected_bytes,
        "stored bytes fall by what was collected: {bytes_before} -> {bytes_after}, {report:?}"
    );
    let again = collect_garbage(store, old(false), |_, _| {}).await?;
    ensure!(
        again.collected == 0,
        "a second pass finds nothing: {again:?}"
    );
    store.delete_session(&session).await?;
    Ok(())
}

async fn touching<S>(store: &S) -> anyhow::Result<()>
where
    S: BlobStore + Retention,
{
    let bytes = format!("{} touched", unique_prefix()).into_bytes();
    let blob = store.put(bytes.clone()).await?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let cutoff = now_ms();
    tokio::time::sleep(Duration::from_millis(20)).await;
    store.put(bytes).await?;
    let removed = store
        .delete_blobs(std::slice::from_ref(&blob), cutoff)
        .await?;
    ensure!(
        removed.blobs == 0,
        "a blob put again after the cutoff stays"
    );
    ensure!(held(store, &blob).await?, "and is readable");
    let removed = store
        .delete_blobs(std::slice::from_ref(&blob), now_ms() + 1)
        .await?;
    ensure!(removed.blobs == 1, "it goes once older than the cutoff");
    ensure!(!held(store, &blob).await?, "and is gone");
    Ok(())
}
