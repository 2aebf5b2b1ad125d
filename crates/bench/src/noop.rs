//! The baseline of the throughput figure: `NoopSessionWorkflow`, shaped like
//! `AgentSessionWorkflow` (one workflow per session, admissions through an update
//! with start, one drive loop that commits admissions between steps) and running the
//! same activities per turn, under the same names and of the same kinds (local or
//! regular), but doing nothing in them: no engine, no store, no provider. What the
//! session workflow costs beyond it is what Lightspeed adds to Temporal's own cost for
//! the same activity traffic.
//!
//! The activity sequence mirrors the session workflow's history budget shape
//! (docs/spec/workflow.md, "History budget"):
//! - `load_session`, a local activity, once per workflow run;
//! - per admission, one local `append_events` (for a turn admitted while the session is
//!   idle it also starts the run and plans its turn, so nothing else is appended before
//!   the generation);
//! - per text turn, one regular `llm_generate_commit`, which in the session generates and
//!   appends the turn's outcome itself;
//! - when an admission was committed while the generation was in flight, the log moved
//!   under the activity, whose own append then conflicts: the session appends the
//!   outcome (and starts the next queued run) with one more local `append_events`.
//!
//! Payloads are a few bytes, where the session's are a few hundred; the no-op never
//! continues as new and has no idle timer.

use std::error::Error;
use std::time::Duration;

use futures::FutureExt as _;
use temporal_server::worker::{TemporalConfig, WorkerTuning};
use temporalio_macros::{activities, workflow, workflow_methods};
use temporalio_sdk::activities::{ActivityContext, ActivityError};
use temporalio_sdk::{
    ActivityOptions, LocalActivityOptions, Runtime, Worker, WorkerOptions, WorkflowContext,
    WorkflowContextView, WorkflowResult,
};
use temporalio_workflow::select;

type BoxError = Box<dyn Error + Send + Sync>;
type Ctx = WorkflowContext<NoopSessionWorkflow>;

/// An attempt of a no-op activity; nothing in them can take long.
const ACTIVITY_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) struct NoopActivities;

#[activities]
impl NoopActivities {
    #[activity(name = "load_session")]
    pub(crate) async fn load_session(
        _ctx: ActivityContext,
        step: u64,
    ) -> Result<u64, ActivityError> {
        Ok(step)
    }

    #[activity(name = "append_events")]
    pub(crate) async fn append_events(
        _ctx: ActivityContext,
        step: u64,
    ) -> Result<u64, ActivityError> {
        Ok(step)
    }

    #[activity(name = "llm_generate_commit")]
    pub(crate) async fn llm_generate_commit(
        _ctx: ActivityContext,
        step: u64,
    ) -> Result<u64, ActivityError> {
        Ok(step)
    }
}

#[workflow]
#[derive(Default)]
pub(crate) struct NoopSessionWorkflow {
    /// Admissions received (the `turn` update).
    requested: u64,
    /// Admissions committed (their `append_events` done); the turns admitted and not
    /// finished are the running one and the queue behind it.
    accepted: u64,
    /// Turns whose generation finished and whose outcome is committed.
    finished: u64,
    /// Activities scheduled, for their inputs.
    scheduled: u64,
}

#[workflow_methods]
impl NoopSessionWorkflow {
    #[run]
    pub(crate) async fn run(
        ctx: &mut WorkflowContext<Self>,
        _session: String,
    ) -> WorkflowResult<u64> {
        let ctx: &Ctx = ctx;
        let seq = ctx.state_mut(next_seq);
        ctx.execute_local_activity(NoopActivities::load_session, seq, local_options())
            .await?;
        loop {
            ctx.wait_condition(|wf| wf.requested > wf.accepted || wf.accepted > wf.finished)
                .await?;
            // Admissions first: the session's drive loop also decides queued
            // admissions at every step boundary. One admitted while idle starts its
            // run in the same append.
            if ctx.state(|wf| wf.requested > wf.accepted) {
                commit_admission(ctx).await?;
                continue;
            }
            generate(ctx).await?;
        }
    }

    /// Admits one turn; replies once its admission is committed, as `admit` does.
    #[update]
    pub(crate) async fn turn(
        ctx: &mut WorkflowContext<Self>,
        _index: u64,
    ) -> Result<u64, BoxError> {
        let position = ctx.state_mut(|wf| {
            wf.requested += 1;
            wf.requested
        });
        ctx.wait_condition(|wf| wf.accepted >= position).await?;
        Ok(position)
    }

    /// Turns finished so far.
    #[query]
    pub(crate) fn finished(&self, _ctx: &WorkflowContextView) -> u64 {
        self.finished
    }
}

/// The running turn's generation, which commits its own outcome. Admissions arriving
/// meanwhile are committed while it is in flight, as the session's drive loop does;
/// each moves the log under the activity, so its append conflicts and the outcome is
/// appended by the workflow afterwards.
async fn generate(ctx: &Ctx) -> WorkflowResult<()> {
    let seq = ctx.state_mut(next_seq);
    let mut generation =
        Box::pin(ctx.execute_activity(NoopActivities::llm_generate_commit, seq, options()));
    let mut log_moved = false;
    loop {
        let done = select! {
            result = generation.as_mut() => Some(result),
            () = admissions(ctx).fuse() => None,
        };
        match done {
            Some(result) => {
                result?;
                break;
            }
            None => {
                commit_admission(ctx).await?;
                log_moved = true;
            }
        }
    }
    if log_moved {
        append(ctx).await?;
    }
    ctx.state_mut(|wf| wf.finished += 1);
    Ok(())
}

/// Resolves once an admission waits to be committed.
async fn admissions(ctx: &Ctx) {
    // A cancelled wait only ends the wait; the bench never cancels these workflows.
    let _ = ctx.wait_condition(|wf| wf.requested > wf.accepted).await;
}

/// Commits the oldest waiting admission (its `turn` update then replies).
async fn commit_admission(ctx: &Ctx) -> WorkflowResult<()> {
    append(ctx).await?;
    ctx.state_mut(|wf| wf.accepted += 1);
    Ok(())
}

/// One `append_events`, a local activity as in the session workflow.
async fn append(ctx: &Ctx) -> WorkflowResult<()> {
    let seq = ctx.state_mut(next_seq);
    ctx.execute_local_activity(NoopActivities::append_events, seq, local_options())
        .await?;
    Ok(())
}

fn next_seq(wf: &mut NoopSessionWorkflow) -> u64 {
    wf.scheduled += 1;
    wf.scheduled
}

fn options() -> ActivityOptions {
    ActivityOptions::start_to_close_timeout(ACTIVITY_TIMEOUT)
}

fn local_options() -> LocalActivityOptions {
    LocalActivityOptions::builder()
        .start_to_close_timeout(ACTIVITY_TIMEOUT)
        .build()
}

/// A worker for the no-op workflow on its own thread, as `worker::start` runs the
/// session worker (the SDK's run future is not `Send`).
pub(crate) struct NoopWorker {
    shutdown: Box<dyn Fn() + Send + Sync>,
    thread: std::thread::JoinHandle<anyhow::Result<()>>,
}

impl NoopWorker {
    pub(crate) async fn start(config: &TemporalConfig) -> anyhow::Result<Self> {
        let (started_tx, started_rx) = tokio::sync::oneshot::channel();
        let config = config.clone();
        let thread = std::thread::Builder::new()
            .name("noop-worker".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .thread_name("noop-activity")
                    .enable_all()
                    .build()?;
                runtime.block_on(async move {
                    let mut worker = match build(&config).await {
                        Ok(worker) => worker,
                        Err(err) => {
                            let message = format!("{err:#}");
                            let _ = started_tx.send(Err(err));
                            anyhow::bail!("{message}");
                        }
                    };
                    let _ = started_tx.send(Ok(
                        Box::new(worker.shutdown_handle()) as Box<dyn Fn() + Send + Sync>
                    ));
                    worker.run().await?;
                    Ok(())
                })
            })?;
        let shutdown = started_rx
            .await
            .map_err(|_| anyhow::anyhow!("the no-op worker thread ended before starting"))??;
        Ok(Self { shutdown, thread })
    }

    pub(crate) async fn shutdown(self) -> anyhow::Result<()> {
        (self.shutdown)();
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await?
            .map_err(|_| anyhow::anyhow!("the no-op worker thread panicked"))?
    }
}

async fn build(config: &TemporalConfig) -> anyhow::Result<Worker> {
    // The no-op workflow's payloads are tiny: the SDK's default converter.
    let client = temporal_server::worker::connect(config, Default::default()).await?;
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|err| anyhow::anyhow!("temporal runtime: {err}"))?;
    // Tuned as the session worker is, so both compete for the same slots.
    let tuning = WorkerTuning::from_env()?;
    let options = WorkerOptions::new(config.task_queue.clone())
        .register_workflow::<NoopSessionWorkflow>()?
        .register_activities(NoopActivities)
        .max_cached_workflows(tuning.max_cached_workflows)
        .tuner(tuning.tuner())
        .build();
    Ok(Worker::new(&runtime, client, options)?)
}
