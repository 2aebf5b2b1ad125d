//! Peak worker RSS with many concurrent sessions. The worker is preferably a
//! `server worker` child process, so its figures are the worker's alone; without the
//! `server` binary it runs in this process, and the figures include the bench's own
//! client, fake provider and sampler.
//!
//! Procedure: start the worker, warm it up with one session and one turn, read its
//! resident set (the baseline), then open all sessions at once, each running its turns
//! one after another, while sampling `VmRSS` every [`SAMPLE_EVERY`]. At the end `VmHWM`
//! (the kernel's high-water mark of the resident set) is the peak.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use serde::Serialize;
use temporal_server::worker::{RunningWorker, TemporalConfig};
use test_support::fake_provider::RunningFakeProvider;

use crate::driver::SessionDriver;
use crate::procfs;
use crate::stack::{FAKE_API_KEY, Stack};

const SAMPLE_EVERY: Duration = Duration::from_millis(100);
/// How often a session waiting for its run asks for the finished count: slow enough
/// that hundreds of waiting sessions do not load the worker being measured.
const POLL: Duration = Duration::from_millis(500);
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Where the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum WorkerMode {
    /// A `server worker` child process when the binary is found, else in-process.
    Auto,
    /// A `server worker` child process; an error when the binary is missing.
    Process,
    /// In this process (the figures include the bench itself).
    InProcess,
}

#[derive(Debug, Serialize)]
pub(crate) struct RssFigures {
    pub(crate) sessions: u64,
    pub(crate) turns_per_session: u64,
    /// `process` or `in-process`.
    pub(crate) worker: WorkerMode,
    pub(crate) worker_binary: Option<PathBuf>,
    /// `VmRSS` after the warm-up session, before the measured ones.
    pub(crate) baseline_rss_bytes: u64,
    /// `VmHWM` at the end (never below a `VmRSS` sample): the peak resident set of the
    /// worker's whole life.
    pub(crate) peak_rss_bytes: u64,
    /// The largest `VmRSS` sampled while the sessions ran.
    pub(crate) sampled_peak_rss_bytes: u64,
    /// `VmRSS` once every session finished its turns (all still cached by the worker).
    pub(crate) end_rss_bytes: u64,
    /// `(peak - baseline) / sessions`.
    pub(crate) per_session_bytes: f64,
    /// The `VmHWM` of this measurement's Temporal dev server at the end, for scale.
    pub(crate) temporal_server_peak_rss_bytes: Option<u64>,
    pub(crate) seconds: f64,
}

enum Worker {
    Process(tokio::process::Child),
    InProcess(RunningWorker),
}

/// A session worker for one measurement: a `server worker` child process or this
/// process's own.
pub(crate) struct StartedWorker {
    worker: Worker,
    /// The process whose figures are the worker's.
    pub(crate) pid: u32,
    /// The `server` binary, for a child process.
    pub(crate) binary: Option<PathBuf>,
}

impl StartedWorker {
    pub(crate) fn mode(&self) -> WorkerMode {
        match self.worker {
            Worker::Process(_) => WorkerMode::Process,
            Worker::InProcess(_) => WorkerMode::InProcess,
        }
    }

    pub(crate) async fn stop(self) -> anyhow::Result<()> {
        match self.worker {
            Worker::Process(mut child) => {
                // A temp-dir store and a throwaway task queue: nothing to shut down
                // cleanly.
                let _ = child.kill().await;
            }
            Worker::InProcess(worker) => worker.shutdown().await?,
        }
        Ok(())
    }
}

/// Starts the worker `mode` asks for, over the bench's store and `provider`.
pub(crate) async fn start_worker(
    stack: &Stack,
    config: &TemporalConfig,
    mode: WorkerMode,
    server_binary: Option<&Path>,
    provider: &RunningFakeProvider,
    purpose: &str,
) -> anyhow::Result<StartedWorker> {
    let binary = match (mode, server_binary) {
        (WorkerMode::InProcess, _) => None,
        (_, Some(binary)) => Some(binary.to_owned()),
        (_, None) => sibling_server_binary(),
    };
    anyhow::ensure!(
        binary.is_some() || mode != WorkerMode::Process,
        "no `server` binary next to this one; build it (`cargo build -p temporal-server --bin server`, \
         with the same profile) or pass --server-bin"
    );
    let started = match &binary {
        Some(binary) => {
            let child = spawn_worker_process(stack, config, binary, provider, purpose)?;
            let pid = child.id().context("the worker process has no pid")?;
            StartedWorker {
                worker: Worker::Process(child),
                pid,
                binary: Some(binary.clone()),
            }
        }
        None => StartedWorker {
            worker: Worker::InProcess(stack.start_session_worker_with(config, provider).await?),
            pid: std::process::id(),
            binary: None,
        },
    };
    Ok(started)
}

pub(crate) async fn run(
    stack: &Stack,
    sessions: u64,
    turns_per_session: u64,
    mode: WorkerMode,
    server_binary: Option<&Path>,
) -> anyhow::Result<RssFigures> {
    let temporal = stack.temporal("rss").await?;
    let config = temporal.config();
    let worker = start_worker(stack, &config, mode, server_binary, &stack.provider, "rss").await?;
    let pid = worker.pid;
    let driver = SessionDriver::new(
        stack.client(&config).await?,
        &config.task_queue,
        &stack.store_root(),
    )?;
    crate::progress(format_args!("rss: warming up the worker (pid {pid})"));
    warm_up(&driver, "s-rss-warmup").await?;
    let baseline_rss_bytes = procfs::status_bytes(pid, "VmRSS")?;

    let started = Instant::now();
    let sampled_peak = AtomicU64::new(baseline_rss_bytes);
    let finished = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let sessions_work = async {
        let loops = (0..sessions).map(|index| {
            let (driver, finished) = (&driver, &finished);
            async move {
                let session = driver.open(&format!("s-rss-{index}")).await?;
                for turn in 0..turns_per_session {
                    driver.request_run(&session, turn).await?;
                    driver.wait_finished(&session, turn + 1, POLL).await?;
                }
                finished.fetch_add(1, Ordering::Relaxed);
                anyhow::Ok(())
            }
        });
        let result = futures::future::try_join_all(loops).await;
        stop.store(true, Ordering::Relaxed);
        result
    };
    let sampler = sample(pid, &stop, &sampled_peak, started, || {
        format!(
            "rss: {}/{sessions} sessions done",
            finished.load(Ordering::Relaxed)
        )
    });
    let (result, ()) = tokio::join!(sessions_work, sampler);
    result?;
    let seconds = started.elapsed().as_secs_f64();
    let end_rss_bytes = procfs::status_bytes(pid, "VmRSS")?;
    let sampled_peak_rss_bytes = sampled_peak.load(Ordering::Relaxed).max(end_rss_bytes);
    let peak_rss_bytes = procfs::peak_rss_bytes(pid, sampled_peak_rss_bytes)?;
    let temporal_server_peak_rss_bytes = temporal
        .pid()
        .and_then(|pid| procfs::status_bytes(pid, "VmHWM").ok());
    let (worker_mode, worker_binary) = (worker.mode(), worker.binary.clone());
    worker.stop().await?;
    temporal.shutdown().await;
    Ok(RssFigures {
        sessions,
        turns_per_session,
        worker: worker_mode,
        worker_binary,
        baseline_rss_bytes,
        peak_rss_bytes,
        sampled_peak_rss_bytes,
        end_rss_bytes,
        per_session_bytes: peak_rss_bytes.saturating_sub(baseline_rss_bytes) as f64
            / sessions.max(1) as f64,
        temporal_server_peak_rss_bytes,
        seconds,
    })
}

/// Opens session `name` and runs one turn: the worker has then loaded everything a
/// session needs, so its resident set is a baseline for what sessions add.
pub(crate) async fn warm_up(driver: &SessionDriver, name: &str) -> anyhow::Result<()> {
    let warmup = driver.open(name).await?;
    driver.request_run(&warmup, 0).await?;
    driver
        .wait_finished(&warmup, 1, Duration::from_millis(20))
        .await
}

/// Samples the worker's `VmRSS` into `peak` every [`SAMPLE_EVERY`] and prints `line()`
/// with its resident set and CPU time every [`PROGRESS_EVERY`], until `stop`.
pub(crate) async fn sample(
    pid: u32,
    stop: &AtomicBool,
    peak: &AtomicU64,
    started: Instant,
    line: impl Fn() -> String,
) {
    let mut last_progress = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(rss) = procfs::status_bytes(pid, "VmRSS") {
            peak.fetch_max(rss, Ordering::Relaxed);
        }
        if last_progress.elapsed() >= PROGRESS_EVERY {
            last_progress = Instant::now();
            let cpu = procfs::cpu_seconds(pid).unwrap_or(0.0);
            crate::progress(format_args!(
                "{}, worker VmRSS {}, CPU {cpu:.1} s ({:.1} s)",
                line(),
                crate::report::mib(procfs::status_bytes(pid, "VmRSS").unwrap_or(0)),
                started.elapsed().as_secs_f64()
            ));
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
}

/// `server` built into the same directory as this binary (same profile).
fn sibling_server_binary() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let candidate = exe.parent()?.join("server");
    candidate.is_file().then_some(candidate)
}

fn spawn_worker_process(
    stack: &Stack,
    config: &TemporalConfig,
    binary: &Path,
    provider: &RunningFakeProvider,
    purpose: &str,
) -> anyhow::Result<tokio::process::Child> {
    crate::progress(format_args!(
        "{purpose}: starting {} worker",
        binary.display()
    ));
    tokio::process::Command::new(binary)
        .arg("worker")
        .env("TEMPORAL_ADDRESS", &config.address)
        .env("TEMPORAL_NAMESPACE", &config.namespace)
        .env("LIGHTSPEED_TASK_QUEUE", &config.task_queue)
        .env("LIGHTSPEED_DATA_DIR", stack.store_root())
        // The bench's filesystem store, even where the environment names Postgres.
        .env_remove("LIGHTSPEED_POSTGRES_URL")
        .env("OPENAI_BASE_URL", provider.openai_base_url())
        .env("OPENAI_API_KEY", FAKE_API_KEY)
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_BASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))
}
