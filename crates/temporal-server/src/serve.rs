//! `server worker`, `server gateway`, `server` (both) and `server dev`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use clap::Args;
use effects::LlmCompactor;
use gateway::{FileKeyStore, GatewayConfig, KeyRecord, KeyStore as _, KeyStoreError, hash_key};
use temporal_server::deltas::DeltaHub;
use temporal_server::devserver::{self, DevServer, DevServerConfig};
use temporal_server::gateway_api::TemporalApi;
use temporal_server::sessions::SessionClient;
use temporal_server::stores::FsStores;
use temporal_server::tools::WorkerTools;
use temporal_server::worker::backend::{Backend, LlmSettings};
use temporal_server::worker::{self, RunningWorker, TASK_QUEUE_DEFAULT, TemporalConfig};
use temporal_workflow::WorkflowSettings;

use crate::api_keys::{DEFAULT_KEYS_FILE, DEFAULT_UNIVERSE_ID};

/// Entries between state checkpoints written by the append activity.
const CHECKPOINT_INTERVAL_ENTRIES: u64 = 256;

#[derive(Debug, Args)]
pub(crate) struct TemporalArgs {
    /// Temporal frontend, `host:port` or URL.
    #[arg(long, env = "TEMPORAL_ADDRESS", default_value = "127.0.0.1:7233")]
    temporal_address: String,
    #[arg(long, env = "TEMPORAL_NAMESPACE", default_value = "default")]
    temporal_namespace: String,
    /// Task queue of the session workflows and activities.
    #[arg(long, env = "LIGHTSPEED_TASK_QUEUE", default_value = TASK_QUEUE_DEFAULT)]
    task_queue: String,
}

impl TemporalArgs {
    fn config(&self) -> TemporalConfig {
        TemporalConfig {
            address: self.temporal_address.clone(),
            namespace: self.temporal_namespace.clone(),
            task_queue: self.task_queue.clone(),
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// Root of the filesystem store (session logs, CAS, checkpoints per universe).
    #[arg(long, env = "LIGHTSPEED_DATA_DIR", default_value = ".local/data")]
    data_dir: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    /// Where the gateway listens.
    #[arg(long, env = "LIGHTSPEED_BIND", default_value = "127.0.0.1:18080")]
    bind: SocketAddr,
    /// The JSON file of API key hashes (`server api-keys create` writes it).
    #[arg(long, env = "LIGHTSPEED_KEYS_FILE", default_value = DEFAULT_KEYS_FILE)]
    keys_file: PathBuf,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    temporal: TemporalArgs,
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    gateway: GatewayArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    temporal: TemporalArgs,
    #[command(flatten)]
    data: DataArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DevArgs {
    /// Everything lives here: the store, the Temporal database and log, the key file.
    #[arg(long, env = "LIGHTSPEED_DATA_DIR", default_value = ".local/dev")]
    data_dir: PathBuf,
    /// Port of the embedded Temporal dev server; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    temporal_port: u16,
    /// Where the gateway listens.
    #[arg(long, env = "LIGHTSPEED_BIND", default_value = "127.0.0.1:18080")]
    bind: SocketAddr,
}

fn start_backend(
    stores: Arc<FsStores>,
    deltas: Arc<DeltaHub>,
) -> anyhow::Result<Backend<Arc<FsStores>, WorkerTools, LlmCompactor>> {
    let runtime = temporal_server::providers::runtime_from_env()?;
    let providers: Vec<&str> = runtime.provider_ids().collect();
    if providers.is_empty() {
        tracing::warn!(
            "no LLM provider configured: set OPENAI_API_KEY/OPENAI_BASE_URL or ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL"
        );
    } else {
        tracing::info!(?providers, "LLM providers configured");
    }
    let compactor = LlmCompactor::new(runtime.clone(), llm_runtime::Transport::Streaming);
    Ok(Backend {
        stores,
        llm: LlmSettings {
            runtime,
            transport: llm_runtime::Transport::Streaming,
        },
        tools: WorkerTools,
        compactor,
        deltas,
        checkpoint_interval_entries: CHECKPOINT_INTERVAL_ENTRIES,
    })
}

async fn start_worker(
    temporal: &TemporalConfig,
    stores: Arc<FsStores>,
    deltas: Arc<DeltaHub>,
) -> anyhow::Result<RunningWorker> {
    let backend = start_backend(stores, deltas)?;
    let worker = worker::start(temporal, Arc::new(backend))
        .await
        .context("starting the Temporal worker")?;
    tracing::info!(address = %temporal.address, task_queue = %temporal.task_queue, "worker polling");
    Ok(worker)
}

async fn start_gateway(
    temporal: &TemporalConfig,
    stores: Arc<FsStores>,
    deltas: Arc<DeltaHub>,
    bind: SocketAddr,
    keys_file: &Path,
) -> anyhow::Result<gateway::RunningGateway> {
    let client = worker::connect(temporal).await?;
    let sessions = SessionClient::new(
        client,
        temporal.task_queue.clone(),
        WorkflowSettings::default(),
    );
    let api = Arc::new(TemporalApi::new(sessions, stores, deltas));
    let keys = Arc::new(FileKeyStore::new(keys_file));
    let config = GatewayConfig {
        bind,
        ..GatewayConfig::default()
    };
    Ok(gateway::serve(api, keys, config).await?)
}

/// Resolves on Ctrl-C or SIGTERM.
async fn stop_requested() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = async {
            match terminate.as_mut() {
                Some(signal) => { signal.recv().await; }
                None => std::future::pending().await,
            }
        } => {}
    }
    tracing::info!("stopping");
}

async fn stop(
    gateway: Option<gateway::RunningGateway>,
    worker: Option<RunningWorker>,
) -> anyhow::Result<()> {
    if let Some(gateway) = gateway {
        gateway.shutdown().await;
    }
    if let Some(worker) = worker {
        worker.shutdown().await?;
    }
    Ok(())
}

pub(crate) async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let stores = Arc::new(FsStores::new(&args.data.data_dir));
    let worker = start_worker(
        &args.temporal.config(),
        stores,
        Arc::new(DeltaHub::default()),
    )
    .await?;
    stop_requested().await;
    stop(None, Some(worker)).await
}

pub(crate) async fn gateway(args: ServeArgs) -> anyhow::Result<()> {
    let stores = Arc::new(FsStores::new(&args.data.data_dir));
    let gateway = start_gateway(
        &args.temporal.config(),
        stores,
        Arc::new(DeltaHub::default()),
        args.gateway.bind,
        &args.gateway.keys_file,
    )
    .await?;
    stop_requested().await;
    stop(Some(gateway), None).await
}

/// Worker and gateway in one process (deltas stream straight from one to the other).
pub(crate) async fn both(args: ServeArgs) -> anyhow::Result<()> {
    let temporal = args.temporal.config();
    let stores = Arc::new(FsStores::new(&args.data.data_dir));
    let deltas = Arc::new(DeltaHub::default());
    let worker = start_worker(&temporal, stores.clone(), deltas.clone()).await?;
    let gateway = start_gateway(
        &temporal,
        stores,
        deltas,
        args.gateway.bind,
        &args.gateway.keys_file,
    )
    .await?;
    stop_requested().await;
    stop(Some(gateway), Some(worker)).await
}

/// Stores `LIGHTSPEED_API_KEY` (when set) in the key file, for the default universe.
async fn register_env_key(keys: &FileKeyStore) -> anyhow::Result<()> {
    let Some(key) = std::env::var("LIGHTSPEED_API_KEY")
        .ok()
        .filter(|key| !key.is_empty())
    else {
        return Ok(());
    };
    let key_hash = hash_key(&key);
    if keys.find(&key_hash).await?.is_some() {
        return Ok(());
    }
    let created_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    let record = KeyRecord {
        key_id: format!("key_{}", &key_hash[..16]),
        universe_id: std::env::var("LIGHTSPEED_PG_UNIVERSE_ID")
            .unwrap_or_else(|_| DEFAULT_UNIVERSE_ID.to_owned()),
        key_hash,
        created_at_ms,
    };
    match keys.insert(record).await {
        Ok(()) | Err(KeyStoreError::Duplicate) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// The embedded default: a Temporal dev server child, store-fs, worker and gateway.
pub(crate) async fn dev(args: DevArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let binary = devserver::find_binary().ok_or(devserver::DevServerError::BinaryNotFound)?;
    let port = match args.temporal_port {
        0 => devserver::free_port()?,
        port => port,
    };
    let temporal_server = DevServer::start(DevServerConfig {
        binary,
        port,
        db_file: Some(args.data_dir.join("temporal.db")),
        log_file: Some(args.data_dir.join("temporal.log")),
        ready_wait: devserver::READY_WAIT_DEFAULT,
    })
    .await?;
    tracing::info!(address = %temporal_server.address(), "Temporal dev server running");
    let temporal = TemporalConfig::local(temporal_server.address());
    let keys_file = args.data_dir.join("api-keys.json");
    register_env_key(&FileKeyStore::new(&keys_file)).await?;
    let stores = Arc::new(FsStores::new(args.data_dir.join("store")));
    let deltas = Arc::new(DeltaHub::default());
    let result = async {
        let worker = start_worker(&temporal, stores.clone(), deltas.clone()).await?;
        let gateway = start_gateway(&temporal, stores, deltas, args.bind, &keys_file).await;
        let gateway = match gateway {
            Ok(gateway) => gateway,
            Err(err) => {
                let _ = worker.shutdown().await;
                return Err(err);
            }
        };
        eprintln!(
            "lightspeed dev: gateway on http://{}, Temporal at {}, data in {}",
            gateway.local_addr(),
            temporal.address,
            args.data_dir.display()
        );
        stop_requested().await;
        stop(Some(gateway), Some(worker)).await
    }
    .await;
    // Give the worker's last completions a moment to reach the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    temporal_server.shutdown().await;
    result
}
