//! Collecting unreferenced blobs across the deployment's universes: on demand
//! (`server gc`, with a dry run and progress) and in the background of every worker
//! process (`LIGHTSPEED_GC_INTERVAL_S`), one collector per universe at a time
//! (`StoreProvider::collection_lease`). The algorithm is
//! `session_stores::collect`; this module picks the universes, the clock and the
//! schedule.
//!
//! The seam universe ([`crate::seam::SEAM_UNIVERSE_ID`]) is never collected: its
//! blobs are named by Temporal workflow histories, which no record here reflects.

use std::time::Duration;

use engine::store::StoreError;
use session_stores::StoreProvider;
use session_stores::collect::{CollectOptions, CollectPhase, CollectReport, collect_garbage};

use crate::seam::SEAM_UNIVERSE_ID;

/// Default [`CollectionSettings::interval`]: every 6 hours.
pub const GC_INTERVAL_DEFAULT: Duration = Duration::from_secs(6 * 60 * 60);
/// Default [`CollectionSettings::grace`]: 24 hours.
pub const GC_GRACE_DEFAULT: Duration = Duration::from_millis(CollectOptions::DEFAULT_GRACE_MS);

/// When the background collector runs and what it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectionSettings {
    /// Between passes over every universe; zero turns the background collector off.
    pub interval: Duration,
    /// Unreferenced blobs younger than this are kept: the longest a writer may take
    /// between storing a blob and committing the record that names it, and how long
    /// an upload nothing references yet is kept.
    pub grace: Duration,
}

impl Default for CollectionSettings {
    fn default() -> Self {
        Self {
            interval: GC_INTERVAL_DEFAULT,
            grace: GC_GRACE_DEFAULT,
        }
    }
}

/// What happened to one universe in a pass.
#[derive(Debug)]
pub enum UniverseCollection {
    Collected(CollectReport),
    /// Another process is collecting it now.
    Busy,
    Failed(StoreError),
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

/// The universes a pass visits: `only`, or every one the provider holds, less the
/// seam's.
pub async fn universes_to_collect<P: StoreProvider>(
    stores: &P,
    only: &[String],
) -> Result<Vec<String>, StoreError> {
    let all = if only.is_empty() {
        stores.universe_ids().await?
    } else {
        only.to_vec()
    };
    Ok(all.into_iter().filter(|id| !is_seam(id)).collect())
}

fn is_seam(universe_id: &str) -> bool {
    universe_id.eq_ignore_ascii_case(SEAM_UNIVERSE_ID)
        || uuid::Uuid::parse_str(universe_id).is_ok_and(|id| id.is_nil())
}

/// Collects one universe under its lease, reporting progress as it goes.
pub async fn collect_universe<P: StoreProvider>(
    stores: &P,
    universe_id: &str,
    grace: Duration,
    dry_run: bool,
    progress: impl FnMut(CollectPhase, &CollectReport),
) -> UniverseCollection {
    if is_seam(universe_id) {
        return UniverseCollection::Failed(StoreError::Corrupt {
            location: "universe id".into(),
            reason: "the seam universe is never collected".into(),
        });
    }
    let lease = match stores.collection_lease(universe_id).await {
        Ok(Some(lease)) => lease,
        Ok(None) => return UniverseCollection::Busy,
        Err(err) => return UniverseCollection::Failed(err),
    };
    let store = match stores.store(universe_id).await {
        Ok(store) => store,
        Err(err) => return UniverseCollection::Failed(err),
    };
    let options = CollectOptions {
        grace_ms: u64::try_from(grace.as_millis()).unwrap_or(u64::MAX),
        dry_run,
        ..CollectOptions::new(now_ms())
    };
    let result = collect_garbage(&*store, options, progress).await;
    drop(lease);
    match result {
        Ok(report) => UniverseCollection::Collected(report),
        Err(err) => UniverseCollection::Failed(err),
    }
}

/// Runs a pass over every universe each `settings.interval` (the first one interval
/// after start, so a restart loop does not collect in a loop), logging each
/// universe's report. Nothing runs when the interval is zero.
pub async fn collect_periodically<P: StoreProvider>(
    stores: std::sync::Arc<P>,
    settings: CollectionSettings,
) {
    if settings.interval.is_zero() {
        tracing::info!("background blob collection is off (LIGHTSPEED_GC_INTERVAL_S=0)");
        return;
    }
    tracing::info!(interval = ?settings.interval, grace = ?settings.grace, "background blob collection on");
    loop {
        tokio::time::sleep(settings.interval).await;
        let universes = match universes_to_collect(&*stores, &[]).await {
            Ok(universes) => universes,
            Err(err) => {
                tracing::warn!(error = %err, "listing universes to collect failed");
                continue;
            }
        };
        for universe in universes {
            let started = std::time::Instant::now();
            match collect_universe(&*stores, &universe, settings.grace, false, |_, _| {}).await {
                UniverseCollection::Collected(report) => tracing::info!(
                    universe,
                    roots = report.roots,
                    marked = report.marked,
                    examined = report.examined,
                    collected = report.collected,
                    collected_bytes = report.collected_bytes,
                    young = report.young,
                    took = ?started.elapsed(),
                    "collected unreferenced blobs"
                ),
                UniverseCollection::Busy => {
                    tracing::debug!(universe, "another process is collecting this universe");
                }
                UniverseCollection::Failed(err) => {
                    tracing::warn!(universe, error = %err, "collecting blobs failed; next pass retries");
                }
            }
        }
    }
}
