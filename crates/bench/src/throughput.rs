//! Turns per second: the same turn traffic through `AgentSessionWorkflow` and through
//! [`crate::noop::NoopSessionWorkflow`], each phase with its own in-process worker and
//! its own fresh Temporal dev server. Phases alternate over rounds (session then no-op,
//! then no-op then session, ...) so neither always runs second on a warmer or busier
//! machine; the figures sum over rounds, and each round's ratio is kept to show the
//! noise.
//!
//! `turns` are spread over `sessions` workflows. Each session keeps up to [`WINDOW`]
//! turns outstanding: it submits a turn (an update that returns once the admission is
//! committed), and when the window is full polls the finished count every [`POLL`].
//! The clock runs from the first submission to the last finished turn; opening the
//! sessions (starting their workflows) happens before it starts. Over the same span the
//! CPU time of this process (which hosts the worker) and of the dev server is read
//! from `/proc`: with enough sessions both workflows are CPU-bound, and CPU per turn is
//! the cost figure that does not depend on dispatch latency.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use engine::SessionId;
use serde::Serialize;
use temporal_workflow::workflow_id;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowQueryOptions, WorkflowStartOptions,
    WorkflowUpdateWithStartOptions,
};

use crate::chain::{self, RunHistory};
use crate::driver::{SessionDriver, UNIVERSE};
use crate::noop::{NoopSessionWorkflow, NoopWorker};
use crate::procfs;
use crate::stack::{Stack, Temporal};

/// Turns a session has outstanding at most (the engine queues at most 64 runs).
pub(crate) const WINDOW: u64 = 8;
/// How often a full window asks for the finished count: far shorter than the
/// window's worth of turns, so the workflow never runs dry, and rare enough that the
/// queries cost the worker little.
const POLL: Duration = Duration::from_millis(100);
/// How often progress is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

#[derive(Debug, Serialize)]
pub(crate) struct ThroughputFigures {
    /// Turns per phase (one workflow kind in one round).
    pub(crate) turns: u64,
    pub(crate) sessions: u64,
    pub(crate) rounds: u64,
    /// Over all rounds.
    pub(crate) session_workflow: Rate,
    pub(crate) noop_workflow: Rate,
    /// `session_workflow.turns_per_second / noop_workflow.turns_per_second`.
    pub(crate) ratio: f64,
    /// The same ratio for each round alone.
    pub(crate) round_ratios: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub(crate) struct Rate {
    pub(crate) seconds: f64,
    pub(crate) turns_per_second: f64,
    /// CPU time of this process (worker, client, and for sessions the fake provider)
    /// while the turns ran, per turn.
    pub(crate) bench_cpu_ms_per_turn: f64,
    /// CPU time of the Temporal dev server while the turns ran, per turn.
    pub(crate) temporal_cpu_ms_per_turn: f64,
    /// Activities scheduled over all runs of all sessions (opening included), per turn.
    pub(crate) activities_per_turn: BTreeMap<String, f64>,
    /// History events over all runs of all sessions, per turn.
    pub(crate) events_per_turn: f64,
    /// Continue-as-new transitions over all sessions.
    pub(crate) continued_as_new: u64,
    /// Median schedule-to-start of activity tasks (from history event times).
    pub(crate) activity_dispatch_ms_median: f64,
    /// Median schedule-to-start of workflow tasks.
    pub(crate) workflow_task_dispatch_ms_median: f64,
}

/// What one phase measured.
struct Sample {
    turns: u64,
    seconds: f64,
    bench_cpu_seconds: f64,
    temporal_cpu_seconds: f64,
    /// Every run of every session's workflow chain.
    runs: Vec<RunHistory>,
    continued_as_new: u64,
}

impl Sample {
    fn turns_per_second(&self) -> f64 {
        per(self.turns as f64, self.seconds)
    }
}

fn per(value: f64, by: f64) -> f64 {
    if by > 0.0 { value / by } else { 0.0 }
}

/// Something turns can be submitted to.
trait Target {
    async fn submit(&self, session: usize, index: u64) -> anyhow::Result<()>;
    async fn finished(&self, session: usize) -> anyhow::Result<u64>;
}

pub(crate) async fn run(
    stack: &Stack,
    turns: u64,
    sessions: u64,
    rounds: u64,
) -> anyhow::Result<ThroughputFigures> {
    let sessions = sessions.clamp(1, turns.max(1));
    let (mut session_samples, mut noop_samples, mut round_ratios) =
        (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (session, noop) = if round % 2 == 0 {
            let session = session_phase(stack, turns, sessions, round).await?;
            (session, noop_phase(stack, turns, sessions, round).await?)
        } else {
            let noop = noop_phase(stack, turns, sessions, round).await?;
            (session_phase(stack, turns, sessions, round).await?, noop)
        };
        round_ratios.push(per(session.turns_per_second(), noop.turns_per_second()));
        session_samples.push(session);
        noop_samples.push(noop);
    }
    let session_workflow = rate(&session_samples);
    let noop_workflow = rate(&noop_samples);
    Ok(ThroughputFigures {
        turns,
        sessions,
        rounds,
        ratio: per(
            session_workflow.turns_per_second,
            noop_workflow.turns_per_second,
        ),
        session_workflow,
        noop_workflow,
        round_ratios,
    })
}

struct Sessions {
    driver: SessionDriver,
    ids: Vec<SessionId>,
}

impl Target for Sessions {
    async fn submit(&self, session: usize, index: u64) -> anyhow::Result<()> {
        self.driver.request_run(&self.ids[session], index).await
    }

    async fn finished(&self, session: usize) -> anyhow::Result<u64> {
        self.driver.finished_runs(&self.ids[session]).await
    }
}

async fn session_phase(
    stack: &Stack,
    turns: u64,
    sessions: u64,
    round: u64,
) -> anyhow::Result<Sample> {
    let temporal = stack
        .temporal(&format!("throughput-session-{round}"))
        .await?;
    let config = temporal.config();
    let worker = stack.start_session_worker(&config).await?;
    let driver = SessionDriver::new(
        stack.client(&config).await?,
        &config.task_queue,
        &stack.store_root(),
    )?;
    let opener = &driver;
    // Names unique across rounds: the store outlives each round's Temporal server.
    let opening = (0..sessions)
        .map(|index| async move { opener.open(&format!("s-throughput-{round}-{index}")).await });
    let ids = futures::future::try_join_all(opening).await?;
    let target = Sessions { driver, ids };
    let label = format!("AgentSessionWorkflow (round {})", round + 1);
    let workflow_ids: Vec<_> = target
        .ids
        .iter()
        .map(|id| workflow_id(UNIVERSE, id))
        .collect();
    let sample = measure(
        &temporal,
        &label,
        &target,
        target.driver.sessions.client(),
        &workflow_ids,
        turns,
        sessions,
    )
    .await?;
    worker.shutdown().await?;
    temporal.shutdown().await;
    Ok(sample)
}

struct Noops {
    client: Client,
    task_queue: String,
    ids: Vec<String>,
}

impl Target for Noops {
    async fn submit(&self, session: usize, index: u64) -> anyhow::Result<()> {
        let id = &self.ids[session];
        let options = WorkflowUpdateWithStartOptions::new(
            self.task_queue.clone(),
            id.clone(),
            WorkflowIdConflictPolicy::UseExisting,
        )
        .build();
        self.client
            .execute_update_with_start_workflow(
                NoopSessionWorkflow::run,
                id.clone(),
                NoopSessionWorkflow::turn,
                index,
                options,
            )
            .await
            .with_context(|| format!("submitting turn {index} to {id}"))?;
        Ok(())
    }

    async fn finished(&self, session: usize) -> anyhow::Result<u64> {
        let id = &self.ids[session];
        self.client
            .get_workflow_handle::<NoopSessionWorkflow>(id.clone())
            .query(
                NoopSessionWorkflow::finished,
                (),
                WorkflowQueryOptions::default(),
            )
            .await
            .with_context(|| format!("querying {id}"))
    }
}

async fn noop_phase(
    stack: &Stack,
    turns: u64,
    sessions: u64,
    round: u64,
) -> anyhow::Result<Sample> {
    let temporal = stack.temporal(&format!("throughput-noop-{round}")).await?;
    let config = temporal.config();
    let worker = NoopWorker::start(&config).await?;
    let client = stack.client(&config).await?;
    let ids: Vec<_> = (0..sessions).map(|index| format!("noop-{index}")).collect();
    let (starter, task_queue) = (&client, &config.task_queue);
    let starting = ids.iter().map(|id| async move {
        starter
            .start_workflow(
                NoopSessionWorkflow::run,
                id.clone(),
                WorkflowStartOptions::new(task_queue.clone(), id.clone()).build(),
            )
            .await
            .with_context(|| format!("starting {id}"))
    });
    futures::future::try_join_all(starting).await?;
    let target = Noops {
        client,
        task_queue: config.task_queue.clone(),
        ids,
    };
    let label = format!("no-op workflow (round {})", round + 1);
    let sample = measure(
        &temporal,
        &label,
        &target,
        &target.client,
        &target.ids,
        turns,
        sessions,
    )
    .await?;
    worker.shutdown().await?;
    temporal.shutdown().await;
    Ok(sample)
}

/// Drives the turns, then reads the workflows' histories.
async fn measure(
    temporal: &Temporal,
    label: &str,
    target: &impl Target,
    client: &Client,
    workflow_ids: &[String],
    turns: u64,
    sessions: u64,
) -> anyhow::Result<Sample> {
    let measured = drive(temporal, label, target, turns, sessions).await?;
    let mut runs = Vec::new();
    let mut continued_as_new = 0;
    for id in workflow_ids {
        let chain = chain::read_chain(client, id).await?;
        continued_as_new += u64::try_from(chain.len().saturating_sub(1)).unwrap_or(0);
        runs.extend(chain);
    }
    Ok(Sample {
        turns,
        seconds: measured.seconds,
        bench_cpu_seconds: measured.bench_cpu_seconds,
        temporal_cpu_seconds: measured.temporal_cpu_seconds,
        runs,
        continued_as_new,
    })
}

/// Wall-clock and CPU time of one drive.
struct Measured {
    seconds: f64,
    bench_cpu_seconds: f64,
    temporal_cpu_seconds: f64,
}

/// CPU seconds of this process and of the dev server so far.
fn cpu_now(temporal: &Temporal) -> anyhow::Result<(f64, f64)> {
    let temporal_pid = temporal
        .pid()
        .context("the Temporal dev server has no pid")?;
    Ok((
        procfs::cpu_seconds(std::process::id())?,
        procfs::cpu_seconds(temporal_pid)?,
    ))
}

/// Runs `turns` over `sessions` of `target`, measuring time and CPU.
async fn drive(
    temporal: &Temporal,
    label: &str,
    target: &impl Target,
    turns: u64,
    sessions: u64,
) -> anyhow::Result<Measured> {
    let (bench_cpu_before, temporal_cpu_before) = cpu_now(temporal)?;
    let started = Instant::now();
    let done = AtomicU64::new(0);
    let per_session = |session: u64| turns / sessions + u64::from(session < turns % sessions);
    let loops = (0..sessions).map(|session| {
        let done = &done;
        async move {
            let index = usize::try_from(session)?;
            let total = per_session(session);
            let (mut submitted, mut finished) = (0, 0);
            while finished < total {
                if submitted < total && submitted - finished < WINDOW {
                    target.submit(index, submitted).await?;
                    submitted += 1;
                    continue;
                }
                tokio::time::sleep(POLL).await;
                let now = target.finished(index).await?.max(finished);
                done.fetch_add(now - finished, Ordering::Relaxed);
                finished = now;
            }
            anyhow::Ok(())
        }
    });
    let work = futures::future::try_join_all(loops);
    let mut work = std::pin::pin!(work);
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    ticker.tick().await;
    loop {
        tokio::select! {
            result = &mut work => {
                result?;
                break;
            }
            _ = ticker.tick() => crate::progress(format_args!(
                "throughput {label}: {}/{turns} turns ({:.1} s)",
                done.load(Ordering::Relaxed),
                started.elapsed().as_secs_f64()
            )),
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let (bench_cpu_after, temporal_cpu_after) = cpu_now(temporal)?;
    crate::progress(format_args!(
        "throughput {label}: {turns}/{turns} turns ({seconds:.1} s)"
    ));
    Ok(Measured {
        seconds,
        bench_cpu_seconds: bench_cpu_after - bench_cpu_before,
        temporal_cpu_seconds: temporal_cpu_after - temporal_cpu_before,
    })
}

/// Figures over several samples of one workflow kind.
fn rate(samples: &[Sample]) -> Rate {
    let turns: u64 = samples.iter().map(|sample| sample.turns).sum();
    let seconds: f64 = samples.iter().map(|sample| sample.seconds).sum();
    let bench_cpu: f64 = samples.iter().map(|sample| sample.bench_cpu_seconds).sum();
    let temporal_cpu: f64 = samples
        .iter()
        .map(|sample| sample.temporal_cpu_seconds)
        .sum();
    let totals = chain::totals(samples.iter().flat_map(|sample| &sample.runs));
    let per_turn = |value: f64| per(value, turns as f64);
    Rate {
        seconds,
        turns_per_second: per(turns as f64, seconds),
        bench_cpu_ms_per_turn: per_turn(bench_cpu * 1000.0),
        temporal_cpu_ms_per_turn: per_turn(temporal_cpu * 1000.0),
        activities_per_turn: totals
            .activities
            .iter()
            .map(|(name, count)| (name.clone(), per_turn(*count as f64)))
            .collect(),
        events_per_turn: per_turn(totals.events as f64),
        continued_as_new: samples.iter().map(|sample| sample.continued_as_new).sum(),
        activity_dispatch_ms_median: chain::median_ms(&totals.dispatch.activity_us),
        workflow_task_dispatch_ms_median: chain::median_ms(&totals.dispatch.workflow_task_us),
    }
}
