//! Turns per second: the same turn traffic through `AgentSessionWorkflow` and through
//! [`crate::noop::NoopSessionWorkflow`], each with its own in-process worker on the same
//! dev server, one after the other.
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

use crate::chain;
use crate::driver::{SessionDriver, UNIVERSE};
use crate::noop::{NoopSessionWorkflow, NoopWorker};
use crate::procfs;
use crate::stack::Stack;

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
    pub(crate) turns: u64,
    pub(crate) sessions: u64,
    pub(crate) session_workflow: Rate,
    pub(crate) noop_workflow: Rate,
    /// `session_workflow.turns_per_second / noop_workflow.turns_per_second`.
    pub(crate) ratio: f64,
}

#[derive(Debug, Serialize)]
pub(crate) struct Rate {
    pub(crate) seconds: f64,
    pub(crate) turns_per_second: f64,
    /// Activities scheduled over all runs of all sessions (opening included), per turn.
    pub(crate) activities_per_turn: BTreeMap<String, f64>,
    /// History events over all runs of all sessions, per turn.
    pub(crate) events_per_turn: f64,
    /// Continue-as-new transitions over all sessions.
    pub(crate) continued_as_new: u64,
    /// Median schedule-to-start of activity tasks (from history event times).
    pub(crate) activity_dispatch_ms_median: f64,
    /// CPU time of this process (worker, client, and for sessions the fake provider)
    /// while the turns ran, per turn.
    pub(crate) bench_cpu_ms_per_turn: f64,
    /// CPU time of the Temporal dev server while the turns ran, per turn.
    pub(crate) temporal_cpu_ms_per_turn: f64,
    /// Median schedule-to-start of workflow tasks.
    pub(crate) workflow_task_dispatch_ms_median: f64,
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
) -> anyhow::Result<ThroughputFigures> {
    let sessions = sessions.clamp(1, turns.max(1));
    let session_workflow = session_rate(stack, turns, sessions).await?;
    let noop_workflow = noop_rate(stack, turns, sessions).await?;
    let ratio = if noop_workflow.turns_per_second > 0.0 {
        session_workflow.turns_per_second / noop_workflow.turns_per_second
    } else {
        0.0
    };
    Ok(ThroughputFigures {
        turns,
        sessions,
        session_workflow,
        noop_workflow,
        ratio,
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

async fn session_rate(stack: &Stack, turns: u64, sessions: u64) -> anyhow::Result<Rate> {
    let config = stack.temporal_config("throughput");
    let worker = stack.start_session_worker(&config).await?;
    let driver = SessionDriver::new(
        stack.client(&config).await?,
        &config.task_queue,
        &stack.store_root(),
    )?;
    let opener = &driver;
    let opening = (0..sessions)
        .map(|index| async move { opener.open(&format!("s-throughput-{index}")).await });
    let ids = futures::future::try_join_all(opening).await?;
    let target = Sessions { driver, ids };
    let measured = drive(stack, "AgentSessionWorkflow", &target, turns, sessions).await?;
    let workflow_ids: Vec<_> = target
        .ids
        .iter()
        .map(|id| workflow_id(UNIVERSE, id))
        .collect();
    let rate = rate(
        target.driver.sessions.client(),
        &workflow_ids,
        turns,
        &measured,
    )
    .await?;
    worker.shutdown().await?;
    Ok(rate)
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

async fn noop_rate(stack: &Stack, turns: u64, sessions: u64) -> anyhow::Result<Rate> {
    let config = stack.temporal_config("noop");
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
    let measured = drive(stack, "no-op workflow", &target, turns, sessions).await?;
    let rate = rate(&target.client, &target.ids, turns, &measured).await?;
    worker.shutdown().await?;
    Ok(rate)
}

/// Wall-clock and CPU time of one drive.
struct Measured {
    seconds: f64,
    bench_cpu_seconds: f64,
    temporal_cpu_seconds: f64,
}

/// CPU seconds of this process and of the dev server so far.
fn cpu_now(stack: &Stack) -> anyhow::Result<(f64, f64)> {
    let temporal_pid = stack
        .temporal_pid()
        .context("the Temporal dev server has no pid")?;
    Ok((
        procfs::cpu_seconds(std::process::id())?,
        procfs::cpu_seconds(temporal_pid)?,
    ))
}

/// Runs `turns` over `sessions` of `target`, measuring time and CPU.
async fn drive(
    stack: &Stack,
    label: &str,
    target: &impl Target,
    turns: u64,
    sessions: u64,
) -> anyhow::Result<Measured> {
    let (bench_cpu_before, temporal_cpu_before) = cpu_now(stack)?;
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
    let (bench_cpu_after, temporal_cpu_after) = cpu_now(stack)?;
    crate::progress(format_args!(
        "throughput {label}: {turns}/{turns} turns ({seconds:.1} s)"
    ));
    Ok(Measured {
        seconds,
        bench_cpu_seconds: bench_cpu_after - bench_cpu_before,
        temporal_cpu_seconds: temporal_cpu_after - temporal_cpu_before,
    })
}

async fn rate(
    client: &Client,
    workflow_ids: &[String],
    turns: u64,
    measured: &Measured,
) -> anyhow::Result<Rate> {
    let mut runs = Vec::new();
    let mut continued_as_new = 0;
    for id in workflow_ids {
        let chain = chain::read_chain(client, id).await?;
        continued_as_new += u64::try_from(chain.len().saturating_sub(1)).unwrap_or(0);
        runs.extend(chain);
    }
    let totals = chain::totals(&runs);
    let per_turn = |value: u64| value as f64 / turns.max(1) as f64;
    let seconds = measured.seconds;
    Ok(Rate {
        seconds,
        turns_per_second: if seconds > 0.0 {
            turns as f64 / seconds
        } else {
            0.0
        },
        bench_cpu_ms_per_turn: measured.bench_cpu_seconds * 1000.0 / turns.max(1) as f64,
        temporal_cpu_ms_per_turn: measured.temporal_cpu_seconds * 1000.0 / turns.max(1) as f64,
        activities_per_turn: totals
            .activities
            .iter()
            .map(|(name, count)| (name.clone(), per_turn(*count)))
            .collect(),
        events_per_turn: per_turn(totals.events),
        continued_as_new,
        activity_dispatch_ms_median: chain::median_ms(&totals.dispatch.activity_us),
        workflow_task_dispatch_ms_median: chain::median_ms(&totals.dispatch.workflow_task_us),
    })
}
