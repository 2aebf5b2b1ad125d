//! The Temporal worker: registers [`temporal_workflow::AgentSessionWorkflow`] and the
//! session activities on one task queue and polls until shut down.
//!
//! Activities get their dependencies through [`backend::Backend`]: the stores (any
//! `session_stores::StoreProvider`), the LLM runtime, tools and a compactor.
//!
//! How much one worker process takes on at once is [`WorkerTuning`]: the sticky cache
//! and the task slots, each with a default sized for 1,000 concurrent sessions per
//! worker and a `LIGHTSPEED_WORKER_*` override.

pub mod activities;
pub mod backend;
pub mod env_jobs;
pub mod sdk_metrics;
mod spans;
mod transcription;

use std::sync::Arc;
use std::time::Duration;

use temporal_workflow::AgentSessionWorkflow;
use temporalio_client::{Client, ClientOptions, ConnectionOptions, Url};
use temporalio_common::data_converters::DataConverter;
use temporalio_sdk::runtime::worker_tuner::{FixedSizeSlotSupplier, TunerHolder, WorkerTuner};
use temporalio_sdk::{Runtime, Worker, WorkerOptions};

use self::activities::SessionActivities;
use self::backend::SessionActivityBackend;

/// The task queue sessions run on unless configured otherwise.
pub const TASK_QUEUE_DEFAULT: &str = "lightspeed-sessions";
/// Activities still running this long after shutdown began are cancelled.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("invalid Temporal address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("connecting to Temporal at {address} failed: {reason}")]
    Connect { address: String, reason: String },
    #[error("creating the Temporal worker failed: {0}")]
    Create(String),
    #[error("the Temporal worker stopped with an error: {0}")]
    Run(String),
    #[error("{variable}={value:?}: {reason}")]
    Tuning {
        variable: &'static str,
        value: String,
        reason: String,
    },
}

/// How much one worker process takes on at once. The defaults are sized for 1,000
/// concurrent sessions per worker (issue 20; measured with `temporal-bench --only
/// scale`, README "Benchmarks"); each has a `LIGHTSPEED_WORKER_*` override
/// ([`WorkerTuning::from_env`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct WorkerTuning {
    /// Session workflows kept in memory between their tasks (the SDK's sticky cache).
    /// A cached workflow's next task carries only the new events; an evicted one
    /// replays its whole history on its next task, which costs CPU on the worker and
    /// the Temporal server. Every session with work in the last idle timeout holds a
    /// workflow, so the cache is sized above the sessions a worker is meant to serve
    /// (the SDK's default is 1,000: exactly the target, so the 1,001st evicts).
    /// `LIGHTSPEED_WORKER_MAX_CACHED_WORKFLOWS`, default 2,000.
    pub max_cached_workflows: usize,
    /// Workflow tasks processed at once. They are CPU work on the worker (and hold
    /// their slot while their local activities, the store's loads and appends, run),
    /// so more than this is only more queueing in memory. At least 2 (the SDK's
    /// floor with a sticky cache). `LIGHTSPEED_WORKER_WORKFLOW_TASK_SLOTS`, default
    /// 100 (the SDK's).
    pub workflow_task_slots: usize,
    /// Activity tasks at once: generations, tool calls and compactions. Each mostly
    /// waits on a provider or a tool, for seconds to minutes, so one per session that
    /// can be generating at once: below the sessions served, turns queue behind slow
    /// generations of other sessions. The cost of an idle slot is a task and its
    /// request in memory. `LIGHTSPEED_WORKER_ACTIVITY_TASK_SLOTS`, default 1,000
    /// (the SDK's is 100).
    pub activity_task_slots: usize,
    /// Local activities at once (the store's loads and appends; each belongs to a
    /// workflow task holding its slot, so as many as workflow task slots keeps every
    /// such task moving). `LIGHTSPEED_WORKER_LOCAL_ACTIVITY_SLOTS`, default 100.
    pub local_activity_slots: usize,
}

impl Default for WorkerTuning {
    fn default() -> Self {
        Self {
            max_cached_workflows: 2_000,
            workflow_task_slots: 100,
            activity_task_slots: 1_000,
            local_activity_slots: 100,
        }
    }
}

/// An environment variable, `None` when unset or empty (an empty value in `.env`
/// means "the default", as for the server's other variables).
fn variable(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

/// The count `value` of variable `name` (`default` when unset), at least `min`.
fn count(
    name: &'static str,
    value: Option<String>,
    default: usize,
    min: usize,
) -> Result<usize, WorkerError> {
    let Some(value) = value else {
        return Ok(default);
    };
    let parsed: usize = value.trim().parse().map_err(|err| WorkerError::Tuning {
        variable: name,
        value: value.clone(),
        reason: format!("not a count: {err}"),
    })?;
    if parsed < min {
        return Err(WorkerError::Tuning {
            variable: name,
            value,
            reason: format!("must be at least {min}"),
        });
    }
    Ok(parsed)
}

impl WorkerTuning {
    /// The defaults with the `LIGHTSPEED_WORKER_*` variables that are set applied;
    /// a value that is not a count (or below its minimum) is an error, not ignored.
    pub fn from_env() -> Result<Self, WorkerError> {
        let default = Self::default();
        Ok(Self {
            max_cached_workflows: count(
                "LIGHTSPEED_WORKER_MAX_CACHED_WORKFLOWS",
                variable("LIGHTSPEED_WORKER_MAX_CACHED_WORKFLOWS"),
                default.max_cached_workflows,
                1,
            )?,
            workflow_task_slots: count(
                "LIGHTSPEED_WORKER_WORKFLOW_TASK_SLOTS",
                variable("LIGHTSPEED_WORKER_WORKFLOW_TASK_SLOTS"),
                default.workflow_task_slots,
                2,
            )?,
            activity_task_slots: count(
                "LIGHTSPEED_WORKER_ACTIVITY_TASK_SLOTS",
                variable("LIGHTSPEED_WORKER_ACTIVITY_TASK_SLOTS"),
                default.activity_task_slots,
                1,
            )?,
            local_activity_slots: count(
                "LIGHTSPEED_WORKER_LOCAL_ACTIVITY_SLOTS",
                variable("LIGHTSPEED_WORKER_LOCAL_ACTIVITY_SLOTS"),
                default.local_activity_slots,
                1,
            )?,
        })
    }

    /// The SDK tuner with these slot counts (fixed-size; Nexus is unused and keeps
    /// the SDK's default).
    pub fn tuner(&self) -> WorkerTuner {
        TunerHolder::builder()
            .workflow_task_slot_supplier(FixedSizeSlotSupplier::new(self.workflow_task_slots))
            .activity_task_slot_supplier(FixedSizeSlotSupplier::new(self.activity_task_slots))
            .local_activity_task_slot_supplier(FixedSizeSlotSupplier::new(
                self.local_activity_slots,
            ))
            .nexus_task_slot_supplier(FixedSizeSlotSupplier::new(NEXUS_TASK_SLOTS))
            .build()
            .into()
    }
}

/// Nexus task slots: the worker serves no Nexus operations; the SDK's default count.
const NEXUS_TASK_SLOTS: usize = 100;

/// Where Temporal is and which task queue to use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemporalConfig {
    /// `host:port` or a URL (`http://host:port`). The conventional variable is
    /// `TEMPORAL_ADDRESS`.
    pub address: String,
    pub namespace: String,
    pub task_queue: String,
}

impl TemporalConfig {
    pub fn local(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            namespace: "default".into(),
            task_queue: TASK_QUEUE_DEFAULT.into(),
        }
    }

    fn url(&self) -> Result<Url, WorkerError> {
        let raw = if self.address.contains("://") {
            self.address.clone()
        } else {
            format!("http://{}", self.address)
        };
        Url::parse(&raw).map_err(|err| WorkerError::Address {
            address: self.address.clone(),
            reason: err.to_string(),
        })
    }
}

/// A namespace-bound client whose payloads go through `converter` (build it with
/// [`crate::seam::data_converter`], so large payloads are read and written by ref).
pub async fn connect(
    config: &TemporalConfig,
    converter: DataConverter,
) -> Result<Client, WorkerError> {
    let options = ConnectionOptions::new(config.url()?)
        // Short: the identity is in most history events of every turn (and in the
        // sticky queue's name), which the history budget counts.
        .identity(format!("ls-{}", std::process::id()))
        .build();
    Client::connect(
        options,
        ClientOptions::new(config.namespace.clone())
            .data_converter(converter)
            // With traces on, the SDK's plugin carries trace context in the headers of
            // workflow starts, updates and activities (workers built on this client get
            // it too) and starts their spans; none while a workflow replays.
            .plugins(crate::traces::temporal_plugin())
            .build(),
    )
    .await
    .map_err(|err| WorkerError::Connect {
        address: config.address.clone(),
        reason: err.to_string(),
    })
}

/// A worker polling on its own thread.
///
/// The SDK's `Worker::run` future is not `Send` (workflow code is single-threaded),
/// so the worker gets a dedicated thread with its own multi-threaded tokio runtime;
/// activities run on that runtime's pool.
pub struct RunningWorker {
    shutdown: Box<dyn Fn() + Send + Sync>,
    done: tokio::sync::oneshot::Receiver<Result<(), WorkerError>>,
    thread: std::thread::JoinHandle<()>,
}

impl RunningWorker {
    /// Stops polling, lets running tasks finish (activities for up to a grace
    /// period), then returns.
    pub async fn shutdown(self) -> Result<(), WorkerError> {
        (self.shutdown)();
        self.wait().await
    }

    /// Resolves when the worker stops (after [`Self::shutdown`] or an error).
    pub async fn wait(self) -> Result<(), WorkerError> {
        let result = self
            .done
            .await
            .unwrap_or_else(|_| Err(WorkerError::Run("the worker thread panicked".into())));
        // The thread ends right after reporting; joining cannot block for long.
        let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
        result
    }
}

/// Connects to Temporal and starts a worker for sessions on `config.task_queue`, with
/// the default [`WorkerTuning`]; payloads go through `converter` (see [`connect`]).
pub async fn start(
    config: &TemporalConfig,
    backend: Arc<dyn SessionActivityBackend>,
    converter: DataConverter,
) -> Result<RunningWorker, WorkerError> {
    start_tuned(config, WorkerTuning::default(), backend, converter).await
}

/// [`start`] with the cache and slot counts of `tuning`.
pub async fn start_tuned(
    config: &TemporalConfig,
    tuning: WorkerTuning,
    backend: Arc<dyn SessionActivityBackend>,
    converter: DataConverter,
) -> Result<RunningWorker, WorkerError> {
    start_serving(config, tuning, backend, converter, Serving::default()).await
}

/// [`start_tuned`], also running the firing workflows of schedules
/// ([`temporal_workflow::ScheduleFiringWorkflow`]) and their activities over
/// `firer` (the API service).
pub async fn start_with_schedules(
    config: &TemporalConfig,
    tuning: WorkerTuning,
    backend: Arc<dyn SessionActivityBackend>,
    converter: DataConverter,
    firer: Arc<dyn api_service::ScheduleFirer>,
) -> Result<RunningWorker, WorkerError> {
    let serving = Serving {
        firer: Some(firer),
        #[cfg(feature = "upgrade-drill")]
        drill: Default::default(),
    };
    start_serving(config, tuning, backend, converter, serving).await
}

/// [`start`], running the upgrade drill's variant `drill` of the session workflow
/// (feature `upgrade-drill`, tests only: docs/spec/workflow.md, "Upgrade drill").
#[cfg(feature = "upgrade-drill")]
pub async fn start_upgrade_drill(
    config: &TemporalConfig,
    drill: temporal_workflow::drill::UpgradeDrill,
    backend: Arc<dyn SessionActivityBackend>,
    converter: DataConverter,
) -> Result<RunningWorker, WorkerError> {
    let serving = Serving { firer: None, drill };
    start_serving(config, WorkerTuning::default(), backend, converter, serving).await
}

/// What a worker serves besides sessions.
#[derive(Default)]
struct Serving {
    /// Schedules' firing workflows over this API service.
    firer: Option<Arc<dyn api_service::ScheduleFirer>>,
    /// The session workflow's drill variant.
    #[cfg(feature = "upgrade-drill")]
    drill: temporal_workflow::drill::UpgradeDrill,
}

async fn start_serving(
    config: &TemporalConfig,
    tuning: WorkerTuning,
    backend: Arc<dyn SessionActivityBackend>,
    converter: DataConverter,
    serving: Serving,
) -> Result<RunningWorker, WorkerError> {
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let config = config.clone();
    let thread = std::thread::Builder::new()
        .name("temporal-worker".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .thread_name("temporal-activity")
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(err) => {
                    let _ = started_tx.send(Err(WorkerError::Create(err.to_string())));
                    return;
                }
            };
            runtime.block_on(async move {
                let mut worker = match build(&config, tuning, backend, serving, converter).await {
                    Ok(worker) => worker,
                    Err(err) => {
                        let _ = started_tx.send(Err(err));
                        return;
                    }
                };
                let _ = started_tx.send(Ok(
                    Box::new(worker.shutdown_handle()) as Box<dyn Fn() + Send + Sync>
                ));
                let result = worker
                    .run()
                    .await
                    .map_err(|err| WorkerError::Run(err.to_string()));
                let _ = done_tx.send(result);
            });
        })
        .map_err(|err| WorkerError::Create(err.to_string()))?;
    let shutdown = started_rx
        .await
        .unwrap_or_else(|_| Err(WorkerError::Create("the worker thread panicked".into())))?;
    Ok(RunningWorker {
        shutdown,
        done: done_rx,
        thread,
    })
}

async fn build(
    config: &TemporalConfig,
    tuning: WorkerTuning,
    backend: Arc<dyn SessionActivityBackend>,
    serving: Serving,
    converter: DataConverter,
) -> Result<Worker, WorkerError> {
    let client = connect(config, converter).await?;
    let runtime_options = temporalio_sdk::runtime::RuntimeOptions::builder()
        .telemetry_options(sdk_metrics::telemetry())
        .build()
        .map_err(WorkerError::Create)?;
    let runtime = Runtime::from_current_tokio(runtime_options)
        .map_err(|err| WorkerError::Create(err.to_string()))?;
    let options = WorkerOptions::new(config.task_queue.clone());
    #[cfg(not(feature = "upgrade-drill"))]
    let options = options.register_workflow::<AgentSessionWorkflow>();
    // Under the same workflow type name: the drill replaces the workflow's code.
    #[cfg(feature = "upgrade-drill")]
    let options = {
        let drill = serving.drill;
        options
            .register_workflow_with_factory(move || AgentSessionWorkflow::with_upgrade_drill(drill))
    };
    let mut options = options.map_err(|err| WorkerError::Create(err.to_string()))?;
    if let Some(firer) = serving.firer {
        options = options
            .register_workflow::<temporal_workflow::ScheduleFiringWorkflow>()
            .map_err(|err| WorkerError::Create(err.to_string()))?
            .register_activities(crate::schedules::ScheduleActivities::new(firer));
    }
    let options = options
        .register_activities(SessionActivities::new(backend))
        .graceful_shutdown_period(SHUTDOWN_GRACE)
        .max_cached_workflows(tuning.max_cached_workflows)
        .tuner(tuning.tuner())
        .build();
    Worker::new(&runtime, client, options).map_err(|err| WorkerError::Create(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "LIGHTSPEED_WORKER_TEST";

    #[test]
    fn a_count_is_its_default_when_unset_and_parsed_when_set() {
        assert_eq!(count(NAME, None, 7, 1).ok(), Some(7));
        assert_eq!(count(NAME, Some(" 12 ".into()), 7, 1).ok(), Some(12));
    }

    #[test]
    fn a_bad_count_is_refused_with_its_variable_named() {
        for (value, min) in [("many", 1), ("-1", 1), ("1", 2)] {
            let err = count(NAME, Some(value.into()), 7, min).unwrap_err();
            assert!(err.to_string().contains(NAME), "{err}");
        }
    }

    #[test]
    fn the_defaults_hold_a_thousand_sessions_in_cache() {
        let tuning = WorkerTuning::default();
        assert!(tuning.max_cached_workflows > 1_000);
        assert!(tuning.workflow_task_slots >= 2);
        // Builds: the SDK accepts the slot counts.
        let _ = tuning.tuner();
    }
}
