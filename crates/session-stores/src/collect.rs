//! Collecting a universe's unreferenced blobs: mark what its records reach, sweep
//! the rest that is older than a grace period.
//!
//! 1. **Roots**: every ref the universe's records name outside the CAS (session
//!    logs and checkpoints, VFS workspaces and mounts, schedules, memory, catalogs;
//!    [`Retention::blob_roots`]), plus the engine's well-known blobs, which are
//!    pinned.
//! 2. **Mark**: each reached blob is read and scanned for the refs it holds in turn
//!    (snapshot manifests name file contents, checkpoint chunks name items), until
//!    nothing new is reached. A ref to a blob that is not stored is skipped.
//! 3. **Sweep**: the catalog is walked in digest order; a blob neither marked nor
//!    touched within the grace period is deleted, the touch being checked again by
//!    the deleting statement itself.
//!
//! Why this is safe while sessions run: a writer puts a blob (which touches it)
//! before it commits a record naming it, so a blob referenced after the roots were
//! read was touched within the grace period, unless the writer took longer than
//! the grace period between its put and its commit. The grace period therefore
//! bounds that, and also how long an uploaded blob (`blob/put`) is kept before
//! something must reference it. Refs are found by scanning bytes
//! (`engine::blob_ref::refs_in`), which can keep a blob that only looks referenced,
//! never lose one that is.

use std::collections::HashSet;

use engine::BlobRef;
use engine::core::wellknown::well_known_blobs;
use engine::store::{BlobStore, StoreError};
use futures::StreamExt as _;

use crate::retention::Retention;

/// How a collection runs. Every knob has a default (see [`CollectOptions::new`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectOptions {
    /// The collection's clock (Unix ms): blobs touched at or after
    /// `now_ms - grace_ms` are kept.
    pub now_ms: u64,
    /// Default 24 hours (`LIGHTSPEED_GC_GRACE_S`).
    pub grace_ms: u64,
    /// Report what would be deleted, delete nothing. Default false.
    pub dry_run: bool,
    /// Blobs read at once while marking. Default 4: each is held whole in memory.
    pub read_concurrency: usize,
    /// Blobs examined per sweep page (one delete per page). Default 500.
    pub page_size: usize,
}

impl CollectOptions {
    pub const DEFAULT_GRACE_MS: u64 = 24 * 60 * 60 * 1000;

    pub fn new(now_ms: u64) -> Self {
        Self {
            now_ms,
            grace_ms: Self::DEFAULT_GRACE_MS,
            dry_run: false,
            read_concurrency: 4,
            page_size: 500,
        }
    }

    fn cutoff_ms(&self) -> u64 {
        self.now_ms.saturating_sub(self.grace_ms)
    }
}

/// Where a collection is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectPhase {
    Roots,
    Mark,
    Sweep,
    Done,
}

/// What a collection did (so far, in a progress report; in all, at the end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CollectReport {
    /// Distinct refs named by records (well-known blobs included).
    pub roots: u64,
    /// Blobs reached and read while marking.
    pub marked: u64,
    /// Bytes read while marking.
    pub scanned_bytes: u64,
    /// Blobs the sweep looked at.
    pub examined: u64,
    /// Unreferenced but touched within the grace period: kept.
    pub young: u64,
    /// Deleted (or, in a dry run, that would be).
    pub collected: u64,
    pub collected_bytes: u64,
    pub dry_run: bool,
}

/// Runs one collection of `store`'s universe, calling `progress` at each phase and
/// after each batch of marking or sweeping.
pub async fn collect_garbage<S>(
    store: &S,
    options: CollectOptions,
    mut progress: impl FnMut(CollectPhase, &CollectReport),
) -> Result<CollectReport, StoreError>
where
    S: BlobStore + Retention,
{
    let mut report = CollectReport {
        dry_run: options.dry_run,
        ..CollectReport::default()
    };
    progress(CollectPhase::Roots, &report);
    let mut roots = store.blob_roots().await?;
    roots.extend(well_known_blobs().into_iter().map(BlobRef::of_bytes));
    report.roots = roots.len() as u64;

    progress(CollectPhase::Mark, &report);
    let marked = mark(store, roots, &options, &mut report, &mut progress).await?;

    progress(CollectPhase::Sweep, &report);
    let cutoff = options.cutoff_ms();
    let mut after: Option<BlobRef> = None;
    loop {
        let page = store
            .blob_page(after.as_ref(), options.page_size.max(1))
            .await?;
        let Some(last) = page.last() else { break };
        after = Some(last.blob.clone());
        let mut doomed = Vec::new();
        for stored in &page {
            report.examined += 1;
            if marked.contains(&stored.blob) {
                continue;
            }
            if stored.touched_at_ms >= cutoff {
                report.young += 1;
                continue;
            }
            doomed.push(stored.blob.clone());
            if options.dry_run {
                report.collected += 1;
                report.collected_bytes += stored.size_bytes;
            }
        }
        if !options.dry_run && !doomed.is_empty() {
            let removed = store.delete_blobs(&doomed, cutoff).await?;
            report.collected += removed.blobs;
            report.collected_bytes += removed.bytes;
            // Touched since the page was read: kept after all.
            report.young += doomed.len() as u64 - removed.blobs.min(doomed.len() as u64);
        }
        progress(CollectPhase::Sweep, &report);
    }
    progress(CollectPhase::Done, &report);
    Ok(report)
}

/// The closure of `roots` under "a blob names another": every stored blob
/// reachable, each read once.
async fn mark<S: BlobStore>(
    store: &S,
    roots: HashSet<BlobRef>,
    options: &CollectOptions,
    report: &mut CollectReport,
    progress: &mut impl FnMut(CollectPhase, &CollectReport),
) -> Result<HashSet<BlobRef>, StoreError> {
    let mut marked: HashSet<BlobRef> = HashSet::new();
    let mut frontier: Vec<BlobRef> = roots.into_iter().collect();
    while !frontier.is_empty() {
        let batch: Vec<BlobRef> = frontier
            .drain(..)
            .filter(|blob| marked.insert(blob.clone()))
            .collect();
        let mut reads = futures::stream::iter(batch)
            .map(|blob| async move {
                match store.get(&blob).await {
                    Ok(bytes) => Ok(Some(bytes)),
                    // Named but not stored (never uploaded, or collected when it was
                    // unreferenced and a record naming it came back from a backup).
                    Err(StoreError::BlobNotFound(_)) => Ok(None),
                    Err(err) => Err(err),
                }
            })
            .buffer_unordered(options.read_concurrency.max(1));
        while let Some(read) = reads.next().await {
            let Some(bytes) = read? else { continue };
            report.marked += 1;
            report.scanned_bytes += bytes.len() as u64;
            frontier.extend(engine::blob_ref::refs_in(&bytes).filter(|r| !marked.contains(r)));
            if report.marked.is_multiple_of(256) {
                progress(CollectPhase::Mark, report);
            }
        }
    }
    Ok(marked)
}
