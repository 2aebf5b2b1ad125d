//! The usage suite: what a store keeps for the per-universe quotas, split from the
//! other store suites (its parent module) for size.

use anyhow::ensure;
use engine::core::event::{RunFinished, RunRequested};
use engine::store::{AppendOutcome, BlobStore, SessionLog};
use session_stores::UniverseUsage;

use super::{entry, expect_outcome, kind_entry, session_id, turn_entry, unique_prefix};

/// What a store keeps for the per-universe quotas ([`UniverseUsage`]): runs in
/// flight counted by event kind over every session, blob bytes counted once per
/// blob, cost summed over completed turns once per commit. Counts are compared
/// before and after, so the store may hold other data, but nothing else may write
/// to its universe meanwhile.
pub async fn usage_suite<S>(store: &S) -> anyhow::Result<()>
where
    S: SessionLog + BlobStore + UniverseUsage,
{
    let prefix = unique_prefix();
    let (one, two) = (
        session_id(&prefix, "usage-1")?,
        session_id(&prefix, "usage-2")?,
    );
    let runs_before = store.runs_in_flight().await?;
    let cost_before = store.cost_nanos().await?;
    let runs = |delta: u64, what: &'static str| async move {
        expect_grown(
            what,
            "runs in flight",
            runs_before,
            delta,
            store.runs_in_flight().await?,
        )
    };
    let requested = |seq| kind_entry(RunRequested::KIND, seq);
    let finished = |seq| kind_entry(RunFinished::KIND, seq);

    store
        .append(&one, 0, &[requested(1), entry(&prefix, 2)])
        .await?;
    runs(1, "a run requested").await?;
    let two_requests = [requested(1), requested(2)];
    store.append(&two, 0, &two_requests).await?;
    runs(3, "over two sessions").await?;
    expect_outcome(
        store.append(&two, 0, &two_requests).await,
        AppendOutcome::AlreadyCommitted { head: 2 },
        "a retried append",
    )?;
    runs(3, "a retried append counts nothing").await?;
    ensure!(
        store.append(&two, 0, &[entry(&prefix, 1)]).await.is_err(),
        "a conflicting append is refused"
    );
    runs(3, "a refused append counts nothing").await?;
    store.append(&one, 2, &[finished(3)]).await?;
    runs(2, "a run finished").await?;
    store
        .append(&two, 2, &[finished(3), entry(&prefix, 4), finished(5)])
        .await?;
    runs(0, "every run finished").await?;

    // Cost: what completed turns record, counted once per commit; other kinds and a
    // run's end (which repeats its turns' sum) count nothing.
    let cost = |delta: u64, what: &'static str| async move {
        expect_grown(
            what,
            "nano-USD",
            cost_before,
            delta,
            store.cost_nanos().await?,
        )
    };
    cost(0, "entries without a cost").await?;
    let turns = [turn_entry(6, 1_500), finished(7), turn_entry(8, 250)];
    store.append(&two, 5, &turns).await?;
    cost(1_750, "two turns").await?;
    expect_outcome(
        store.append(&two, 5, &turns).await,
        AppendOutcome::AlreadyCommitted { head: 8 },
        "a retried append of turns",
    )?;
    cost(1_750, "a retried append costs nothing").await?;
    store
        .append(&one, 3, &[turn_entry(4, 3_000_000_000)])
        .await?;
    cost(3_000_001_750, "over two sessions").await?;

    let bytes_before = store.stored_bytes().await?;
    let bytes = |delta: u64, what: &'static str| async move {
        expect_grown(
            what,
            "bytes stored",
            bytes_before,
            delta,
            store.stored_bytes().await?,
        )
    };
    let first = format!("usage {prefix}").into_bytes();
    let second: Vec<u8> = (0..100_000u32)
        .map(|i| (i % 251) as u8)
        .chain(prefix.bytes())
        .collect();
    store.put(first.clone()).await?;
    bytes(first.len() as u64, "a new blob").await?;
    store.put(first.clone()).await?;
    bytes(first.len() as u64, "the same blob again").await?;
    store.put(second.clone()).await?;
    let both = (first.len() + second.len()) as u64;
    bytes(both, "a second blob").await?;
    store.put(second).await?;
    bytes(both, "the second again").await?;

    // Sub-agents in flight: sessions marked as children (before or after their
    // first entry) that have runs in flight; unmarked sessions never count.
    let children_before = store.children_in_flight().await?;
    let children = |delta: u64, what: &'static str| async move {
        expect_grown(
            what,
            "sub-agents in flight",
            children_before,
            delta,
            store.children_in_flight().await?,
        )
    };
    let (child, busy_root) = (
        session_id(&prefix, "usage-child")?,
        session_id(&prefix, "usage-root")?,
    );
    store.mark_child(&child, &one).await?;
    children(0, "a marked child with no run").await?;
    store.append(&busy_root, 0, &[requested(1)]).await?;
    children(0, "a root with a run").await?;
    store
        .append(&child, 0, &[requested(1), requested(2)])
        .await?;
    children(1, "a child with two runs").await?;
    store.mark_child(&child, &one).await?;
    children(1, "marking again").await?;
    store.append(&child, 2, &[finished(3), finished(4)]).await?;
    children(0, "the child's runs finished").await?;
    store.append(&busy_root, 1, &[finished(2)]).await?;
    Ok(())
}

/// A count is `before + delta`.
fn expect_grown(what: &str, unit: &str, before: u64, delta: u64, now: u64) -> anyhow::Result<()> {
    ensure!(
        now == before + delta,
        "{what}: {now} {unit}, expected {before} + {delta}"
    );
    Ok(())
}
