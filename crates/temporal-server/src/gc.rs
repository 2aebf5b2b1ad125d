//! `server gc`: collect unreferenced blobs now, with progress on stderr and one
//! JSON report per universe on stdout; and the background collector's knobs, which
//! every process running a worker reads (`CollectionArgs`).

use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use session_stores::StoreProvider;
use session_stores::collect::{CollectPhase, CollectReport};
use temporal_server::collection::{
    CollectionSettings, UniverseCollection, collect_universe, universes_to_collect,
};

use crate::serve::{Storage, StorageArgs};

/// The background collector of a process running a worker.
#[derive(Debug, Args)]
pub(crate) struct CollectionArgs {
    /// Seconds between background collections of every universe's unreferenced
    /// blobs; 0 turns them off. One process collects a universe at a time.
    #[arg(
        long = "gc-interval-s",
        env = "LIGHTSPEED_GC_INTERVAL_S",
        default_value_t = 21_600
    )]
    interval_s: u64,
    /// Unreferenced blobs younger than this many seconds are kept: the longest a
    /// writer may take between storing a blob and naming it, and how long an upload
    /// nothing names yet is kept.
    #[arg(
        long = "gc-grace-s",
        env = "LIGHTSPEED_GC_GRACE_S",
        default_value_t = 86_400
    )]
    grace_s: u64,
}

impl CollectionArgs {
    pub(crate) fn settings(&self) -> CollectionSettings {
        CollectionSettings {
            interval: Duration::from_secs(self.interval_s),
            grace: Duration::from_secs(self.grace_s),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct GcArgs {
    #[command(flatten)]
    storage: StorageArgs,
    /// A universe to collect (repeatable); default: every universe.
    #[arg(long = "universe")]
    universes: Vec<String>,
    /// Report what would be deleted; delete nothing.
    #[arg(long)]
    dry_run: bool,
    /// Unreferenced blobs younger than this many seconds are kept.
    #[arg(
        long = "grace-s",
        env = "LIGHTSPEED_GC_GRACE_S",
        default_value_t = 86_400
    )]
    grace_s: u64,
}

pub(crate) async fn run(args: GcArgs) -> anyhow::Result<()> {
    match args.storage.open_for_admin().await? {
        Storage::Files { stores, .. } => collect_all(stores, &args).await,
        Storage::Postgres { stores, .. } => {
            let db = stores.database().clone();
            let collected = collect_all(stores, &args).await;
            db.close().await;
            collected
        }
    }
}

async fn collect_all<P: StoreProvider>(stores: Arc<P>, args: &GcArgs) -> anyhow::Result<()> {
    let universes = universes_to_collect(&*stores, &args.universes).await?;
    let grace = Duration::from_secs(args.grace_s);
    let mut failed = 0;
    for universe in &universes {
        let started = Instant::now();
        let mut last_shown = Instant::now();
        let progress = |phase: CollectPhase, report: &CollectReport| {
            // At each phase change and at most once a second in between.
            let boundary = !matches!(phase, CollectPhase::Mark | CollectPhase::Sweep)
                || report.marked == 0 && report.examined == 0;
            if boundary || last_shown.elapsed() >= Duration::from_secs(1) {
                last_shown = Instant::now();
                eprintln!("{}", progress_line(universe, phase, report));
            }
        };
        let outcome = collect_universe(&*stores, universe, grace, args.dry_run, progress).await;
        let line = match outcome {
            UniverseCollection::Collected(report) => json!({
                "universe": universe,
                "dryRun": report.dry_run,
                "roots": report.roots,
                "marked": report.marked,
                "scannedBytes": report.scanned_bytes,
                "examined": report.examined,
                "young": report.young,
                "collected": report.collected,
                "collectedBytes": report.collected_bytes,
                "tookMs": started.elapsed().as_millis() as u64,
            }),
            UniverseCollection::Busy => {
                json!({"universe": universe, "skipped": "another process is collecting it"})
            }
            UniverseCollection::Failed(err) => {
                failed += 1;
                json!({"universe": universe, "error": err.to_string()})
            }
        };
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{line}")?;
        stdout.flush()?;
    }
    if universes.is_empty() {
        eprintln!("gc: no universe to collect");
    }
    anyhow::ensure!(failed == 0, "{failed} universe(s) failed; see above");
    Ok(())
}

fn progress_line(universe: &str, phase: CollectPhase, report: &CollectReport) -> String {
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    match phase {
        CollectPhase::Roots => format!("gc {universe}: reading the records that name blobs"),
        CollectPhase::Mark => format!(
            "gc {universe}: marking: {} roots, {} blobs reached ({:.1} MiB read)",
            report.roots,
            report.marked,
            mib(report.scanned_bytes)
        ),
        CollectPhase::Sweep => format!(
            "gc {universe}: sweeping: {} blobs examined, {} {} ({:.1} MiB), {} young kept",
            report.examined,
            report.collected,
            if report.dry_run {
                "would go"
            } else {
                "collected"
            },
            mib(report.collected_bytes),
            report.young
        ),
        CollectPhase::Done => format!(
            "gc {universe}: done: {} of {} blobs {} ({:.1} MiB)",
            report.collected,
            report.examined,
            if report.dry_run {
                "would go"
            } else {
                "collected"
            },
            mib(report.collected_bytes)
        ),
    }
}
