//! Many sessions on one worker (issue 20, part 3): `sessions` concurrent sessions, each
//! running `turns_per_session` turns one after another, against ONE worker, preferably
//! a `server worker` child process so that its resident set and CPU time are its own.
//!
//! Procedure:
//! 1. A fresh Temporal dev server and a fake provider of its own, scripted so that every
//!    second turn of a session (its 2nd, 4th, ...) first calls [`crate::tools::TOOL`]
//!    `tool_calls` times in one batch, then answers; the other turns answer at once.
//! 2. The worker, tuned as `server worker` is with this environment
//!    (`LIGHTSPEED_WORKER_*`, reported), warmed up with one session and one turn; its
//!    `VmRSS` then is the baseline.
//! 3. Opening: every session is opened (workflow started, the tool registered), at most
//!    [`OPEN_AT_ONCE`] client calls at a time.
//! 4. Turns: all sessions at once, each requesting its next turn once the previous
//!    one's `run.finished` entry is in the session log. The bench reads the log from
//!    the store every [`POLL`] rather than asking the workflow (a query would cost the
//!    measured worker CPU).
//!
//! A turn's latency runs from just before its request to the `observed_at_ms` of its
//! `run.finished` entry (the worker's clock when it decided the run's end; same
//! machine), so the poll interval does not enter it. Worker and Temporal server CPU are
//! read from `/proc/{pid}/stat` over the turn phase alone, and divided by the turns
//! finished. The turn phase ends at `deadline`: what finished by then is reported as
//! such (`timed_out`), never extrapolated.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use engine::SessionId;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use futures::StreamExt as _;
use serde::Serialize;
use temporal_server::worker::WorkerTuning;

use crate::driver::SessionDriver;
use crate::procfs;
use crate::rss::{self, WorkerMode, sample};
use crate::stack::{Stack, Temporal};
use crate::tools;

/// How often a session waiting for its run reads its log: rare enough that a thousand
/// waiting sessions cost the bench little CPU (it shares the machine with the worker).
const POLL: Duration = Duration::from_millis(250);
/// Client calls opening sessions at once; more only queue in the client and server.
const OPEN_AT_ONCE: usize = 100;
/// Error messages kept for the report; the rest are only counted.
const ERRORS_KEPT: usize = 5;

pub(crate) struct ScaleOptions<'a> {
    pub(crate) sessions: u64,
    pub(crate) turns_per_session: u64,
    /// Tool calls of each tool turn (every second turn); 0: text turns only.
    pub(crate) tool_calls: u64,
    pub(crate) deadline: Duration,
    pub(crate) worker: WorkerMode,
    pub(crate) server_binary: Option<&'a Path>,
}

#[derive(Debug, Serialize)]
pub(crate) struct ScaleFigures {
    pub(crate) sessions: u64,
    pub(crate) turns_per_session: u64,
    /// Tool calls in each tool turn (every second turn of a session).
    pub(crate) tool_calls_per_tool_turn: u64,
    pub(crate) worker: WorkerMode,
    pub(crate) worker_binary: Option<std::path::PathBuf>,
    /// The worker's cache and slot settings (`LIGHTSPEED_WORKER_*` or defaults).
    pub(crate) worker_tuning: WorkerTuning,
    pub(crate) deadline_seconds: f64,
    /// The turn phase reached the deadline before every turn finished.
    pub(crate) timed_out: bool,

    pub(crate) sessions_opened: u64,
    /// Sessions whose every turn finished.
    pub(crate) sessions_completed: u64,
    pub(crate) turns_requested: u64,
    /// Turns whose request was accepted.
    pub(crate) turns_submitted: u64,
    pub(crate) turns_finished: u64,
    /// Turns of [`Self::turns_finished`] that ended other than completed.
    pub(crate) turns_not_completed: u64,
    pub(crate) tool_turns_finished: u64,
    /// Client calls that failed (opening or requesting); each ends its session.
    pub(crate) errors: u64,
    pub(crate) first_errors: Vec<String>,

    pub(crate) open_seconds: f64,
    /// From the first turn request to the last finished turn (or the deadline).
    pub(crate) turn_seconds: f64,
    pub(crate) turns_per_second: f64,
    pub(crate) turn_latency_ms: Percentiles,
    /// The same for text turns and for tool turns alone.
    pub(crate) text_turn_latency_ms: Percentiles,
    pub(crate) tool_turn_latency_ms: Percentiles,

    /// `VmRSS` after the warm-up, before any measured session.
    pub(crate) baseline_rss_bytes: u64,
    /// `VmRSS` once every session is open, before their turns.
    pub(crate) opened_rss_bytes: u64,
    /// `VmHWM` at the end (never below a `VmRSS` sample): the peak resident set of the
    /// worker's whole life.
    pub(crate) peak_rss_bytes: u64,
    pub(crate) sampled_peak_rss_bytes: u64,
    pub(crate) end_rss_bytes: u64,
    /// `(peak - baseline) / sessions opened`.
    pub(crate) rss_per_session_bytes: f64,

    /// Worker CPU (user + system) while opening, per session opened.
    pub(crate) worker_open_cpu_ms_per_session: f64,
    /// Worker CPU over the turn phase, per turn finished.
    pub(crate) worker_cpu_ms_per_turn: f64,
    /// Temporal dev server CPU over the turn phase, per turn finished.
    pub(crate) temporal_cpu_ms_per_turn: f64,
    /// This process (client, fake provider, log polling; and the worker when it runs
    /// in process) over the turn phase, per turn finished.
    pub(crate) bench_cpu_ms_per_turn: f64,
    pub(crate) temporal_server_peak_rss_bytes: Option<u64>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Percentiles {
    pub(crate) count: u64,
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

impl Percentiles {
    /// Nearest-rank percentiles of `values`.
    fn of(mut values: Vec<u64>) -> Self {
        values.sort_unstable();
        let rank = |q: f64| {
            let index = ((q * values.len() as f64).ceil() as usize).saturating_sub(1);
            values.get(index).map_or(0.0, |value| *value as f64)
        };
        Self {
            count: u64::try_from(values.len()).unwrap_or(u64::MAX),
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: rank(1.0),
        }
    }
}

/// What the sessions report while they run; read by the progress line and at the end
/// (also when the deadline cut them off).
#[derive(Default)]
struct Tally {
    opened: AtomicU64,
    submitted: AtomicU64,
    finished: AtomicU64,
    not_completed: AtomicU64,
    tool_turns_finished: AtomicU64,
    sessions_completed: AtomicU64,
    /// Milliseconds since the Unix epoch of the last finished turn.
    last_finished_ms: AtomicU64,
    /// Each finished turn's latency and whether it called tools.
    latencies_ms: Mutex<Vec<(u64, bool)>>,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Tally {
    fn error(&self, err: &anyhow::Error) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut kept = self
            .first_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if kept.len() < ERRORS_KEPT {
            kept.push(format!("{err:#}"));
        }
    }

    fn latency(&self, ms: u64, tools: bool) {
        self.latencies_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push((ms, tools));
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

fn session_name(index: u64) -> String {
    format!("s-scale-{index}")
}

/// Whether turn `index` of a session calls tools.
fn tool_turn(index: u64, tool_calls: u64) -> bool {
    tool_calls > 0 && index % 2 == 1
}

fn per(value: f64, by: f64) -> f64 {
    if by > 0.0 { value / by } else { 0.0 }
}

/// CPU seconds so far of the worker, the Temporal server and this process.
fn cpu_now(worker_pid: u32, temporal: &Temporal) -> anyhow::Result<[f64; 3]> {
    let temporal_pid = temporal
        .pid()
        .ok_or_else(|| anyhow::anyhow!("the Temporal dev server has no pid"))?;
    Ok([
        procfs::cpu_seconds(worker_pid)?,
        procfs::cpu_seconds(temporal_pid)?,
        procfs::cpu_seconds(std::process::id())?,
    ])
}

pub(crate) async fn run(stack: &Stack, options: &ScaleOptions<'_>) -> anyhow::Result<ScaleFigures> {
    let sessions = options.sessions;
    let turns_per_session = options.turns_per_session;
    let temporal = stack.temporal("scale").await?;
    let config = temporal.config();
    let markers = (0..sessions).flat_map(|session| {
        (0..turns_per_session)
            .filter(|turn| tool_turn(*turn, options.tool_calls))
            .map(move |turn| tools::marker(&session_name(session), turn))
    });
    let provider = stack
        .scripted_provider(tools::script(markers, options.tool_calls))
        .await?;
    let tuning = WorkerTuning::from_env()?;
    let worker = rss::start_worker(
        stack,
        &config,
        options.worker,
        options.server_binary,
        &provider,
        "scale",
    )
    .await?;
    let pid = worker.pid;
    let driver = SessionDriver::new(
        stack.client(&config).await?,
        &config.task_queue,
        &stack.store_root(),
    )?;
    crate::progress(format_args!(
        "scale: warming up the worker (pid {pid}; {tuning:?})"
    ));
    rss::warm_up(&driver, "s-scale-warmup").await?;
    let baseline_rss_bytes = procfs::status_bytes(pid, "VmRSS")?;

    let tally = Tally::default();
    let sampled_peak = AtomicU64::new(baseline_rss_bytes);
    let turns_requested = sessions * turns_per_session;

    // Opening.
    let open_started = Instant::now();
    let [worker_cpu_open, ..] = cpu_now(pid, &temporal)?;
    let opened: Vec<Option<SessionId>> = {
        let stop = AtomicBool::new(false);
        let opening = async {
            let opened = futures::stream::iter(0..sessions)
                .map(|index| {
                    let (driver, tally) = (&driver, &tally);
                    async move {
                        let result = async {
                            let session = driver.open(&session_name(index)).await?;
                            if options.tool_calls > 0 {
                                driver.register_tools(&session).await?;
                            }
                            anyhow::Ok(session)
                        }
                        .await;
                        match result {
                            Ok(session) => {
                                tally.opened.fetch_add(1, Ordering::Relaxed);
                                Some(session)
                            }
                            Err(err) => {
                                tally.error(&err);
                                None
                            }
                        }
                    }
                })
                .buffered(OPEN_AT_ONCE)
                .collect::<Vec<_>>()
                .await;
            stop.store(true, Ordering::Relaxed);
            opened
        };
        let progress = sample(pid, &stop, &sampled_peak, open_started, || {
            format!(
                "scale: opened {}/{sessions} sessions",
                tally.opened.load(Ordering::Relaxed)
            )
        });
        let (opened, ()) = tokio::join!(opening, progress);
        opened
    };
    let open_seconds = open_started.elapsed().as_secs_f64();
    let [worker_cpu_opened, ..] = cpu_now(pid, &temporal)?;
    let opened_rss_bytes = procfs::status_bytes(pid, "VmRSS")?;
    let sessions_opened = tally.opened.load(Ordering::Relaxed);
    crate::progress(format_args!(
        "scale: {sessions_opened}/{sessions} sessions open in {open_seconds:.1} s, worker VmRSS {}",
        crate::report::mib(opened_rss_bytes)
    ));

    // Turns.
    let turns_started = Instant::now();
    let turns_started_ms = now_ms();
    let cpu_before = cpu_now(pid, &temporal)?;
    let stop = AtomicBool::new(false);
    let work = async {
        let loops = opened
            .iter()
            .enumerate()
            .filter_map(|(index, session)| Some((index, session.as_ref()?)))
            .map(|(index, session)| {
                let (driver, tally) = (&driver, &tally);
                async move {
                    let name = session_name(u64::try_from(index).unwrap_or(u64::MAX));
                    if let Err(err) =
                        session_turns(driver, tally, session, &name, turns_per_session, options)
                            .await
                    {
                        tally.error(&err);
                    }
                }
            });
        let all = futures::future::join_all(loops);
        let timed_out = tokio::time::timeout(options.deadline, all).await.is_err();
        stop.store(true, Ordering::Relaxed);
        timed_out
    };
    let progress = sample(pid, &stop, &sampled_peak, turns_started, || {
        format!(
            "scale: {}/{turns_requested} turns finished ({} requested), {}/{sessions_opened} sessions done",
            tally.finished.load(Ordering::Relaxed),
            tally.submitted.load(Ordering::Relaxed),
            tally.sessions_completed.load(Ordering::Relaxed),
        )
    });
    let (timed_out, ()) = tokio::join!(work, progress);
    let cpu_after = cpu_now(pid, &temporal)?;
    let turns_finished = tally.finished.load(Ordering::Relaxed);
    // The clock stops at the last finished turn (or the deadline): the time the turns
    // took, not the time the last poll noticed them.
    let turn_seconds = if timed_out {
        turns_started.elapsed().as_secs_f64()
    } else {
        let last = tally.last_finished_ms.load(Ordering::Relaxed);
        last.saturating_sub(turns_started_ms) as f64 / 1000.0
    };
    let end_rss_bytes = procfs::status_bytes(pid, "VmRSS")?;
    let sampled_peak_rss_bytes = sampled_peak
        .load(Ordering::Relaxed)
        .max(end_rss_bytes)
        .max(opened_rss_bytes);
    let peak_rss_bytes = procfs::peak_rss_bytes(pid, sampled_peak_rss_bytes)?;
    let temporal_server_peak_rss_bytes = temporal
        .pid()
        .and_then(|pid| procfs::status_bytes(pid, "VmHWM").ok());
    crate::progress(format_args!(
        "scale: {turns_finished}/{turns_requested} turns in {turn_seconds:.1} s{}",
        if timed_out { " (deadline reached)" } else { "" }
    ));
    let (worker_mode, worker_binary) = (worker.mode(), worker.binary.clone());
    worker.stop().await?;
    temporal.shutdown().await;
    provider.shutdown().await;

    let finished = turns_finished as f64;
    let cpu_ms_per_turn =
        |which: usize| per((cpu_after[which] - cpu_before[which]) * 1000.0, finished);
    let latencies = std::mem::take(
        &mut *tally
            .latencies_ms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    let first_errors = std::mem::take(
        &mut *tally
            .first_errors
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    );
    Ok(ScaleFigures {
        sessions,
        turns_per_session,
        tool_calls_per_tool_turn: options.tool_calls,
        worker: worker_mode,
        worker_binary,
        worker_tuning: tuning,
        deadline_seconds: options.deadline.as_secs_f64(),
        timed_out,
        sessions_opened,
        sessions_completed: tally.sessions_completed.load(Ordering::Relaxed),
        turns_requested,
        turns_submitted: tally.submitted.load(Ordering::Relaxed),
        turns_finished,
        turns_not_completed: tally.not_completed.load(Ordering::Relaxed),
        tool_turns_finished: tally.tool_turns_finished.load(Ordering::Relaxed),
        errors: tally.errors.load(Ordering::Relaxed),
        first_errors,
        open_seconds,
        turn_seconds,
        turns_per_second: per(finished, turn_seconds),
        turn_latency_ms: Percentiles::of(latencies.iter().map(|(ms, _)| *ms).collect()),
        text_turn_latency_ms: Percentiles::of(
            latencies
                .iter()
                .filter(|(_, tools)| !tools)
                .map(|(ms, _)| *ms)
                .collect(),
        ),
        tool_turn_latency_ms: Percentiles::of(
            latencies
                .iter()
                .filter(|(_, tools)| *tools)
                .map(|(ms, _)| *ms)
                .collect(),
        ),
        baseline_rss_bytes,
        opened_rss_bytes,
        peak_rss_bytes,
        sampled_peak_rss_bytes,
        end_rss_bytes,
        rss_per_session_bytes: per(
            peak_rss_bytes.saturating_sub(baseline_rss_bytes) as f64,
            sessions_opened as f64,
        ),
        worker_open_cpu_ms_per_session: per(
            (worker_cpu_opened - worker_cpu_open) * 1000.0,
            sessions_opened as f64,
        ),
        worker_cpu_ms_per_turn: cpu_ms_per_turn(0),
        temporal_cpu_ms_per_turn: cpu_ms_per_turn(1),
        bench_cpu_ms_per_turn: cpu_ms_per_turn(2),
        temporal_server_peak_rss_bytes,
    })
}

/// Runs the turns of one session one after another, recording each in `tally`.
async fn session_turns(
    driver: &SessionDriver,
    tally: &Tally,
    session: &SessionId,
    name: &str,
    turns: u64,
    options: &ScaleOptions<'_>,
) -> anyhow::Result<()> {
    // The next log entry to read: opening's entries hold no finished run.
    let mut next_seq = 1;
    for turn in 0..turns {
        let tools = tool_turn(turn, options.tool_calls);
        let marker = if tools {
            tools::marker(name, turn)
        } else {
            String::new()
        };
        let requested_ms = now_ms();
        driver.request_run_saying(session, turn, &marker).await?;
        tally.submitted.fetch_add(1, Ordering::Relaxed);
        let outcome = loop {
            tokio::time::sleep(POLL).await;
            let entries = driver.log_from(session, next_seq).await?;
            let mut finished = None;
            for entry in &entries {
                next_seq = entry.seq + 1;
                if let Ok(CoreEvent::RunFinished(run)) = CoreEvent::decode(&entry.event) {
                    finished = Some((entry.observed_at_ms, run.outcome));
                }
            }
            if let Some(finished) = finished {
                break finished;
            }
        };
        let (finished_ms, outcome) = outcome;
        tally.latency(finished_ms.saturating_sub(requested_ms), tools);
        tally
            .last_finished_ms
            .fetch_max(finished_ms, Ordering::Relaxed);
        tally.finished.fetch_add(1, Ordering::Relaxed);
        if tools {
            tally.tool_turns_finished.fetch_add(1, Ordering::Relaxed);
        }
        if outcome != RunOutcome::Completed {
            tally.not_completed.fetch_add(1, Ordering::Relaxed);
        }
    }
    tally.sessions_completed.fetch_add(1, Ordering::Relaxed);
    Ok(())
}
