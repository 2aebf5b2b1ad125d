//! The Temporal worker: registers [`temporal_workflow::AgentSessionWorkflow`] and the
//! session activities on one task queue and polls until shut down.
//!
//! Activities get their dependencies through [`backend::Backend`]: the stores (any
//! `session_stores::StoreProvider`), the LLM runtime, tools and a compactor.

pub mod activities;
pub mod backend;

use std::sync::Arc;
use std::time::Duration;

use temporal_workflow::AgentSessionWorkflow;
use temporalio_client::{Client, ClientOptions, ConnectionOptions, Url};
use temporalio_common::data_converters::DataConverter;
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
}

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

/// Connects to Temporal and starts a worker for sessions on `config.task_queue`;
/// payloads go through `converter` (see [`connect`]).
pub async fn start(
    config: &TemporalConfig,
    backend: Arc<dyn SessionActivityBackend>,
    converter: DataConverter,
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
                let mut worker = match build(&config, backend, converter).await {
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
    backend: Arc<dyn SessionActivityBackend>,
    converter: DataConverter,
) -> Result<Worker, WorkerError> {
    let client = connect(config, converter).await?;
    let runtime = Runtime::from_current_tokio(Default::default())
        .map_err(|err| WorkerError::Create(err.to_string()))?;
    let options = WorkerOptions::new(config.task_queue.clone())
        .register_workflow::<AgentSessionWorkflow>()
        .map_err(|err| WorkerError::Create(err.to_string()))?
        .register_activities(SessionActivities::new(backend))
        .graceful_shutdown_period(SHUTDOWN_GRACE)
        .build();
    Worker::new(&runtime, client, options).map_err(|err| WorkerError::Create(err.to_string()))
}
