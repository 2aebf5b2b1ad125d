//! `server worker`, `server gateway`, `server` (both) and `server dev`, over the
//! filesystem store or Postgres + S3 (see [`StorageArgs`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use api_service::AuthSettings;
use api_service::Quotas;
use api_service::SessionHost as _;
use clap::Args;
use effects::LlmCompactor;
use effects::WorkerTools;
use gateway::{FileKeyStore, GatewayConfig, KeyStore, KeyStoreError};
use session_stores::{FsStores, PgStores, StoreProvider};
use store_pg::{ObjectStore, ObjectStoreConfig, ObjectStoreRetry, PgConfig, PgDatabase};
use temporal_server::api_host::{TemporalApi, TemporalHost};
use temporal_server::collection::{CollectionSettings, collect_periodically};
use temporal_server::deltas::DeltaHub;
use temporal_server::deltas::postgres as deltas_pg;
use temporal_server::devserver::{self, DevServer, DevServerConfig};
use temporal_server::keys::PgKeys;
use temporal_server::providers::Providers;
use temporal_server::seam;
use temporal_server::sessions::SessionClient;
use temporal_server::worker::backend::{Backend, LlmSettings};
use temporal_server::worker::{
    self, RunningWorker, TASK_QUEUE_DEFAULT, TemporalConfig, WorkerTuning,
};
use temporal_workflow::WorkflowSettings;

use crate::api_keys::{DEFAULT_KEYS_FILE, DEFAULT_UNIVERSE_ID};
use crate::gateway_limits::{GatewayLimitArgs, ScheduleArgs};
use crate::gc::CollectionArgs;
use crate::metrics_server::WorkerMetricsArgs;

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

/// Where sessions, blobs and API keys live: Postgres (with large blobs in S3) when a
/// Postgres URL is configured, otherwise the filesystem under `--data-dir`.
/// Either pushes commits to the readers waiting for them (see
/// `session_stores::StoreProvider::commits`).
#[derive(Debug, Args)]
pub(crate) struct StorageArgs {
    /// Postgres URL (`postgres://user:password@host:port/db`). When set, session logs,
    /// checkpoints, the blob catalog and API keys live there; migrations are applied
    /// at start. Unset (the default): the filesystem store under --data-dir.
    #[arg(long, env = "LIGHTSPEED_POSTGRES_URL", hide_env_values = true)]
    postgres_url: Option<String>,
    /// Postgres connections pooled by this process.
    #[arg(long, env = "LIGHTSPEED_POSTGRES_POOL_MAX", default_value_t = 16)]
    postgres_pool_max: u32,
    #[command(flatten)]
    object_store: ObjectStoreArgs,
    /// Root of the filesystem store (session logs, CAS, checkpoints per universe), used
    /// when no Postgres URL is set.
    #[arg(long, env = "LIGHTSPEED_DATA_DIR", default_value = ".local/data")]
    data_dir: PathBuf,
    /// `server gateway` over the filesystem store: how often to re-read the heads of
    /// sessions clients wait on, in ms, since its worker commits in another process
    /// and nothing tells the gateway. Unused with Postgres (commits are pushed by
    /// LISTEN/NOTIFY) and when the worker shares the process (pushed in process).
    #[arg(long, env = "LIGHTSPEED_FS_COMMIT_RECHECK_MS", default_value_t = 250)]
    fs_commit_recheck_ms: u64,
}

/// The S3-compatible object store for blobs over 64 KiB (with Postgres only). Without
/// a bucket, larger blobs are refused.
#[derive(Debug, Args)]
pub(crate) struct ObjectStoreArgs {
    /// Bucket for large blobs; unset (the default) keeps every blob in Postgres and
    /// refuses those over 64 KiB.
    #[arg(long = "object-store-bucket", env = "LIGHTSPEED_OBJECT_STORE_BUCKET")]
    bucket: Option<String>,
    /// Custom endpoint of an S3-compatible server (e.g. `http://127.0.0.1:29000`);
    /// unset: AWS S3.
    #[arg(
        long = "object-store-endpoint",
        env = "LIGHTSPEED_OBJECT_STORE_ENDPOINT"
    )]
    endpoint: Option<String>,
    #[arg(
        long = "object-store-region",
        env = "LIGHTSPEED_OBJECT_STORE_REGION",
        default_value = "us-east-1"
    )]
    region: String,
    /// Static credentials; unset: the AWS default chain (environment, profile, role).
    #[arg(
        long = "object-store-access-key",
        env = "LIGHTSPEED_OBJECT_STORE_ACCESS_KEY"
    )]
    access_key: Option<String>,
    #[arg(
        long = "object-store-secret-key",
        env = "LIGHTSPEED_OBJECT_STORE_SECRET_KEY",
        hide_env_values = true
    )]
    secret_key: Option<String>,
    /// Attempts of one object-store put or get that keeps failing with a retryable
    /// error (connection refused, timeouts, 5xx, 429), the first included.
    #[arg(
        long = "object-store-attempts-max",
        env = "LIGHTSPEED_OBJECT_STORE_ATTEMPTS_MAX",
        default_value_t = ObjectStoreRetry::default().attempts_max
    )]
    attempts_max: u32,
    /// Delay before the first retry, ms; doubles for each next one (the second half
    /// of each delay is random).
    #[arg(
        long = "object-store-backoff-initial-ms",
        env = "LIGHTSPEED_OBJECT_STORE_BACKOFF_INITIAL_MS",
        default_value_t = ObjectStoreRetry::default().backoff_initial_ms
    )]
    backoff_initial_ms: u64,
    /// Longest delay between two attempts, ms.
    #[arg(
        long = "object-store-backoff-max-ms",
        env = "LIGHTSPEED_OBJECT_STORE_BACKOFF_MAX_MS",
        default_value_t = ObjectStoreRetry::default().backoff_max_ms
    )]
    backoff_max_ms: u64,
}

impl ObjectStoreArgs {
    fn config(&self) -> Option<ObjectStoreConfig> {
        let bucket = self.bucket.clone().filter(|bucket| !bucket.is_empty())?;
        let mut config = ObjectStoreConfig::new(bucket, self.region.clone());
        config.endpoint_url = self.endpoint.clone().filter(|url| !url.is_empty());
        config.access_key_id = self.access_key.clone();
        config.secret_access_key = self.secret_key.clone();
        config.retry = ObjectStoreRetry {
            attempts_max: self.attempts_max.max(1),
            backoff_initial_ms: self.backoff_initial_ms,
            backoff_max_ms: self.backoff_max_ms,
        };
        Some(config)
    }
}

/// Deltas waiting for the Postgres relay before new ones are dropped.
const DELTAS_RELAY_QUEUE: usize = 4_096;

pub(crate) enum Storage {
    Files {
        stores: Arc<FsStores>,
        keys: Arc<FileKeyStore>,
    },
    Postgres {
        stores: Arc<PgStores>,
        keys: Arc<PgKeys>,
    },
}

impl StorageArgs {
    /// The stores alone, for an admin command (`server gc`): no worker or gateway
    /// runs in the process.
    pub(crate) async fn open_for_admin(&self) -> anyhow::Result<Storage> {
        let roles = Roles {
            worker: true,
            gateway: None,
            api: (WorkflowSettings::default(), Quotas::default()),
            collection: None,
        };
        self.open(Path::new(DEFAULT_KEYS_FILE), &roles).await
    }

    /// Connects (and migrates) Postgres when configured. `keys_file` is where the
    /// filesystem variant keeps API keys.
    async fn open(&self, keys_file: &Path, roles: &Roles) -> anyhow::Result<Storage> {
        let Some(url) = self.postgres_url.as_deref().filter(|url| !url.is_empty()) else {
            let mut stores = FsStores::new(&self.data_dir);
            if roles.gateway.is_some() && !roles.worker {
                let interval = Duration::from_millis(self.fs_commit_recheck_ms);
                tracing::info!(
                    ?interval,
                    "filesystem store without a worker in this process: re-reading watched heads"
                );
                stores = stores.with_commit_recheck(interval);
            }
            return Ok(Storage::Files {
                stores: Arc::new(stores),
                keys: Arc::new(FileKeyStore::new(keys_file)),
            });
        };
        let db = connect_postgres(url, self.postgres_pool_max).await?;
        let object_store = match self.object_store.config() {
            Some(config) => {
                let object_store = ObjectStore::connect(&config)
                    .await
                    .context("configuring the object store")?;
                tracing::info!(bucket = %config.bucket, endpoint = ?config.endpoint_url, "large blobs go to the object store");
                Some(object_store)
            }
            None => {
                tracing::warn!(
                    "no LIGHTSPEED_OBJECT_STORE_BUCKET: blobs over 64 KiB will be refused"
                );
                None
            }
        };
        let keys = Arc::new(PgKeys(db.key_store()));
        Ok(Storage::Postgres {
            stores: Arc::new(PgStores::new(db, object_store)),
            keys,
        })
    }
}

/// Connects to Postgres and brings its schema up to date.
pub(crate) async fn connect_postgres(url: &str, pool_max: u32) -> anyhow::Result<PgDatabase> {
    let mut config = PgConfig::new(url);
    config.pool_connections_max = pool_max.max(1);
    let db = PgDatabase::connect(&config)
        .await
        .context("connecting to Postgres (LIGHTSPEED_POSTGRES_URL; is local/up.sh running?)")?;
    tracing::info!("Postgres store ready");
    Ok(db)
}

#[derive(Debug, Args)]
pub(crate) struct GatewayArgs {
    /// Where the gateway listens.
    #[arg(long, env = "LIGHTSPEED_BIND", default_value = "127.0.0.1:18080")]
    bind: SocketAddr,
    /// The JSON file of API key hashes (`server api-keys create` writes it), used when
    /// no Postgres URL is set; with Postgres, keys live in its `api_keys` table.
    #[arg(long, env = "LIGHTSPEED_KEYS_FILE", default_value = DEFAULT_KEYS_FILE)]
    keys_file: PathBuf,
    #[command(flatten)]
    limits: GatewayLimitArgs,
}

#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    temporal: TemporalArgs,
    #[command(flatten)]
    metrics: WorkerMetricsArgs,
    #[command(flatten)]
    collection: CollectionArgs,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    gateway: GatewayArgs,
    #[command(flatten)]
    schedules: ScheduleArgs,
}

#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    #[command(flatten)]
    temporal: TemporalArgs,
    #[command(flatten)]
    metrics: WorkerMetricsArgs,
    #[command(flatten)]
    collection: CollectionArgs,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    schedules: ScheduleArgs,
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
    #[command(flatten)]
    limits: GatewayLimitArgs,
    #[command(flatten)]
    schedules: ScheduleArgs,
    #[command(flatten)]
    metrics: WorkerMetricsArgs,
    #[command(flatten)]
    collection: CollectionArgs,
}

fn start_backend<P: StoreProvider>(
    stores: Arc<P>,
    deltas: Arc<DeltaHub>,
    (auth, providers): (AuthSettings, &Providers),
    (schedules, fleet): (
        effects::schedule_tools::ScheduleTools,
        Arc<dyn effects::agent_tools::AgentFleet>,
    ),
) -> anyhow::Result<Backend<Arc<P>, WorkerTools, LlmCompactor>> {
    let runtime = providers.runtime()?;
    let compactor = LlmCompactor::new(runtime.clone(), llm_runtime::Transport::Streaming);
    let mcp = mcp_tools(stores.clone(), auth)?;
    Ok(Backend {
        stores,
        llm: LlmSettings {
            runtime,
            transport: llm_runtime::Transport::Streaming,
        },
        tools: WorkerTools::with_mcp(mcp)
            .with_skill_roots(skill_roots()?)
            .with_schedules(schedules)
            .with_agents(fleet),
        compactor,
        deltas,
        checkpoint_interval_entries: CHECKPOINT_INTERVAL_ENTRIES,
        transcription: providers.transcription().clone(),
    })
}

/// The worker, which also runs schedules' firing workflows over `api`.
async fn start_worker<P: StoreProvider>(
    temporal: &TemporalConfig,
    api: &Arc<TemporalApi<P>>,
    deltas: Arc<DeltaHub>,
    settings: (AuthSettings, &Providers),
) -> anyhow::Result<RunningWorker> {
    let stores = api.host().stores().clone();
    let converter = seam::data_converter(stores.clone());
    let schedules = effects::schedule_tools::ScheduleTools {
        scheduler: api.host().scheduler(),
        limits: api.quotas().schedules,
    };
    // The API service is the fleet: sub-agents start through its method bodies.
    let fleet: Arc<dyn effects::agent_tools::AgentFleet> = api.clone();
    let backend = start_backend(stores, deltas, settings, (schedules, fleet))?;
    let tuning = WorkerTuning::from_env()?;
    let firer: Arc<dyn api_service::ScheduleFirer> = api.clone();
    let worker =
        worker::start_with_schedules(temporal, tuning, Arc::new(backend), converter, firer)
            .await
            .context("starting the Temporal worker")?;
    tracing::info!(address = %temporal.address, task_queue = %temporal.task_queue, ?tuning, "worker polling");
    Ok(worker)
}

/// The API over session workflows: what the gateway serves and what fires the
/// schedules the worker runs.
async fn temporal_api<P: StoreProvider>(
    temporal: &TemporalConfig,
    stores: Arc<P>,
    deltas: Arc<DeltaHub>,
    (settings, quotas, auth, providers): (WorkflowSettings, Quotas, AuthSettings, &Providers),
) -> anyhow::Result<Arc<TemporalApi<P>>> {
    let client = worker::connect(temporal, seam::data_converter(stores.clone())).await?;
    let sessions = SessionClient::new(client, temporal.task_queue.clone(), settings);
    let mcp = mcp_tools(stores.clone(), auth.clone())?;
    Ok(Arc::new(
        TemporalHost::new(sessions, stores, deltas)
            .api()
            .with_quotas(quotas)
            .with_mcp(api_service::McpSettings {
                stdio: stdio_policy(),
                tools: Some(mcp),
            })
            .with_auth(auth)
            .with_skill_roots(skill_roots()?)
            .with_models(Arc::new(providers.catalog().clone())),
    ))
}

/// Where skills are found in every mount and environment: `LIGHTSPEED_SKILL_ROOTS`,
/// comma-separated directories relative to a mount's root; default
/// `.agents/skills,.claude/skills,skills`. Worker and gateway must agree.
fn skill_roots() -> anyhow::Result<effects::context_sources::SkillRoots> {
    match std::env::var("LIGHTSPEED_SKILL_ROOTS") {
        Ok(list) if !list.trim().is_empty() => effects::context_sources::SkillRoots::parse(&list)
            .map_err(|reason| anyhow::anyhow!("LIGHTSPEED_SKILL_ROOTS: {reason}")),
        _ => Ok(effects::context_sources::SkillRoots::default()),
    }
}

/// The commands stdio MCP servers may run: `LIGHTSPEED_MCP_STDIO_COMMANDS`,
/// comma-separated, compared exactly; default none (no stdio servers).
fn stdio_policy() -> mcp_registry::StdioPolicy {
    mcp_registry::StdioPolicy::parse(
        &std::env::var("LIGHTSPEED_MCP_STDIO_COMMANDS").unwrap_or_default(),
    )
}

/// The process's MCP client: one connection pool (defaults: `mcp_client::PoolConfig`),
/// the stdio policy, credentials resolved per call from each universe's auth registry.
fn mcp_tools<P: StoreProvider>(
    stores: Arc<P>,
    auth: AuthSettings,
) -> anyhow::Result<Arc<effects::mcp::McpTools>> {
    let pool = mcp_client::McpPool::new(mcp_client::PoolConfig::default())
        .context("starting the MCP client")?;
    Ok(Arc::new(effects::mcp::McpTools::new(
        pool,
        stdio_policy(),
        Arc::new(api_service::StoreCredentials::new(stores, auth)),
    )))
}

/// Where OAuth approvals return unless `LIGHTSPEED_AUTH_REDIRECT_URL` says otherwise.
const AUTH_REDIRECT_URL_DEFAULT: &str = "http://127.0.0.1:18080/auth/callback";

/// The auth registry's deployment settings: the keys that seal secrets and tokens
/// (`LIGHTSPEED_SECRET_KEYS`, `kid:base64key,...`, the first one sealing; unset: a key
/// generated once into `<data_dir>/secret-keys`, mode 0600, which a deployment whose
/// processes run on several machines must replace by the variable), the OAuth
/// redirect URL, default bounds.
fn auth_settings(data_dir: &Path) -> anyhow::Result<AuthSettings> {
    let keyring = match std::env::var("LIGHTSPEED_SECRET_KEYS") {
        Ok(value) if !value.trim().is_empty() => {
            auth_registry::Keyring::parse(&value).context("LIGHTSPEED_SECRET_KEYS")?
        }
        _ => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("creating {}", data_dir.display()))?;
            let file = data_dir.join("secret-keys");
            let keyring = auth_registry::Keyring::load_or_create_file(&file)
                .with_context(|| format!("the secret key file {}", file.display()))?;
            tracing::info!(file = %file.display(), "secrets sealed with the key file (set LIGHTSPEED_SECRET_KEYS in deployments)");
            keyring
        }
    };
    let redirect_uri = std::env::var("LIGHTSPEED_AUTH_REDIRECT_URL")
        .ok()
        .filter(|value| !value.trim().is_empty())
        .unwrap_or_else(|| AUTH_REDIRECT_URL_DEFAULT.to_owned());
    Ok(AuthSettings {
        keyring: Arc::new(keyring),
        redirect_uri,
        limits: auth_registry::AuthLimits::default(),
    })
}

/// The providers file (`LIGHTSPEED_PROVIDERS_FILE`) and the `OPENAI_*` /
/// `ANTHROPIC_*` variables, checked before anything starts; keys are resolved later,
/// by the worker only.
fn load_providers() -> anyhow::Result<Providers> {
    let providers = Providers::from_env()?;
    if providers.is_empty() {
        tracing::warn!(
            "no LLM provider configured: set LIGHTSPEED_PROVIDERS_FILE, \
             OPENAI_API_KEY/OPENAI_BASE_URL or ANTHROPIC_API_KEY/ANTHROPIC_BASE_URL"
        );
    } else {
        let ids: Vec<&str> = providers
            .catalog()
            .providers()
            .iter()
            .map(|provider| provider.id.as_str())
            .collect();
        tracing::info!(providers = ?ids, "LLM providers configured");
    }
    tracing::info!(
        models_priced = providers.prices().len(),
        "generation prices loaded (docs/spec/cost.md)"
    );
    Ok(providers)
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

/// Which parts this process runs.
struct Roles {
    worker: bool,
    /// The gateway's config.
    gateway: Option<GatewayConfig>,
    /// The settings sessions' workflows start with and the quotas the API enforces
    /// (a worker alone starts workflows only for schedules' fresh sessions and runs,
    /// and enforces only the schedule bounds of its agents' tools).
    api: (WorkflowSettings, Quotas),
    /// The background blob collector, run beside a worker.
    collection: Option<CollectionSettings>,
}

/// Runs the worker and/or the gateway over `stores` until asked to stop. The delta
/// hub is in-process, or relayed through Postgres when `relay_db` is given.
async fn serve_roles<P: StoreProvider, K: KeyStore>(
    temporal: &TemporalConfig,
    roles: Roles,
    (stores, auth, providers): (Arc<P>, AuthSettings, &Providers),
    keys: Arc<K>,
    relay_db: Option<&PgDatabase>,
) -> anyhow::Result<()> {
    let mut relay_tasks = Vec::new();
    let deltas = match relay_db {
        None => Arc::new(DeltaHub::default()),
        Some(db) => {
            let (hub, relayed) = DeltaHub::relayed(DELTAS_RELAY_QUEUE);
            let hub = Arc::new(hub);
            if roles.worker {
                relay_tasks.push(deltas_pg::spawn_publisher(db.clone(), relayed));
            }
            if roles.gateway.is_some() {
                let listener = deltas_pg::spawn_listener(db, hub.clone())
                    .await
                    .context("listening for deltas on Postgres")?;
                relay_tasks.push(listener);
            }
            hub
        }
    };
    if let Some(collection) = roles.collection.filter(|_| roles.worker) {
        relay_tasks.push(tokio::spawn(collect_periodically(
            stores.clone(),
            collection,
        )));
    }
    let (settings, quotas) = roles.api;
    let extra = (settings, quotas, auth.clone(), providers);
    let api = temporal_api(temporal, stores, deltas.clone(), extra).await?;
    let worker = if roles.worker {
        let settings = (auth, providers);
        Some(start_worker(temporal, &api, deltas, settings).await?)
    } else {
        None
    };
    let gateway = match roles.gateway {
        None => None,
        Some(config) => match gateway::serve(api, keys, config).await {
            Ok(gateway) => Some(gateway),
            Err(err) => {
                stop(None, worker).await?;
                return Err(err.into());
            }
        },
    };
    if let Some(gateway) = &gateway {
        // The one line a person starting the server looks for.
        eprintln!(
            "lightspeed: gateway on http://{}, Temporal at {}",
            gateway.local_addr(),
            temporal.address
        );
    }
    stop_requested().await;
    let stopped = stop(gateway, worker).await;
    for task in relay_tasks {
        task.abort();
    }
    stopped
}

async fn serve_storage(
    temporal: TemporalConfig,
    roles: Roles,
    storage: &StorageArgs,
    keys_file: &Path,
) -> anyhow::Result<()> {
    let providers = load_providers()?;
    let auth = auth_settings(&storage.data_dir)?;
    match storage.open(keys_file, &roles).await? {
        Storage::Files { stores, keys } => {
            tracing::info!(data_dir = %storage.data_dir.display(), "filesystem store");
            let shared = (stores, auth, &providers);
            serve_roles(&temporal, roles, shared, keys, None).await
        }
        Storage::Postgres { stores, keys } => {
            let db = stores.database().clone();
            let shared = (stores, auth, &providers);
            let served = serve_roles(&temporal, roles, shared, keys, Some(&db)).await;
            db.close().await;
            served
        }
    }
}

pub(crate) async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    args.metrics.start().await?;
    let quotas = quotas_with(Quotas::default(), &args.schedules);
    let roles = Roles {
        worker: true,
        gateway: None,
        api: (WorkflowSettings::default(), quotas),
        collection: Some(args.collection.settings()),
    };
    // The worker reads no keys; the file is never opened.
    let keys_file = Path::new(DEFAULT_KEYS_FILE);
    serve_storage(args.temporal.config(), roles, &args.storage, keys_file).await
}

pub(crate) async fn gateway(args: ServeArgs) -> anyhow::Result<()> {
    let roles = Roles {
        worker: false,
        gateway: Some(args.gateway.limits.config(args.gateway.bind)?),
        api: (
            args.gateway.limits.workflow_settings(),
            quotas_with(args.gateway.limits.quotas(), &args.schedules),
        ), // Collection runs beside workers; a gateway alone leaves it to them.
        collection: None,
    };
    serve_storage(
        args.temporal.config(),
        roles,
        &args.storage,
        &args.gateway.keys_file,
    )
    .await
}

/// Worker and gateway in one process.
pub(crate) async fn both(args: ServeArgs) -> anyhow::Result<()> {
    args.metrics.start().await?;
    let roles = Roles {
        worker: true,
        gateway: Some(args.gateway.limits.config(args.gateway.bind)?),
        api: (
            args.gateway.limits.workflow_settings(),
            quotas_with(args.gateway.limits.quotas(), &args.schedules),
        ),
        collection: Some(args.collection.settings()),
    };
    serve_storage(
        args.temporal.config(),
        roles,
        &args.storage,
        &args.gateway.keys_file,
    )
    .await
}

/// `quotas` with the schedule and sub-agent bounds of `schedules`.
fn quotas_with(mut quotas: Quotas, schedules: &ScheduleArgs) -> Quotas {
    quotas.schedules = schedules.limits();
    quotas.agents = schedules.agent_limits();
    quotas
}

/// Stores `LIGHTSPEED_API_KEY` (when set) in the key file, for the default universe,
/// and `LIGHTSPEED_OPERATOR_KEY` (when set) as an operator key.
async fn register_env_key(keys: &FileKeyStore) -> anyhow::Result<()> {
    let universe_id = std::env::var("LIGHTSPEED_PG_UNIVERSE_ID")
        .unwrap_or_else(|_| DEFAULT_UNIVERSE_ID.to_owned());
    for (variable, universe_id) in [
        ("LIGHTSPEED_API_KEY", universe_id.as_str()),
        // An empty universe makes an operator key.
        ("LIGHTSPEED_OPERATOR_KEY", ""),
    ] {
        let Some(key) = std::env::var(variable).ok().filter(|key| !key.is_empty()) else {
            continue;
        };
        let record = crate::api_keys::record_for(&key, universe_id, crate::api_keys::now_ms()?);
        match keys.insert(record).await {
            Ok(()) | Err(KeyStoreError::Duplicate) => {}
            Err(err) => return Err(err.into()),
        }
    }
    Ok(())
}

/// The embedded default: a Temporal dev server child, store-fs, worker and gateway.
pub(crate) async fn dev(args: DevArgs) -> anyhow::Result<()> {
    args.metrics.start().await?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let providers = load_providers()?;
    let binary = match devserver::find_binary() {
        Some(binary) => binary,
        None => {
            eprintln!(
                "lightspeed: no `temporal` binary found; downloading the Temporal CLI {}",
                devserver::CLI_VERSION
            );
            let binary = devserver::download_binary().await?;
            eprintln!("lightspeed: installed {}", binary.display());
            binary
        }
    };
    let [free, http_port, metrics_port] = devserver::free_ports()?;
    let port = match args.temporal_port {
        0 => free,
        port => port,
    };
    let temporal_server = DevServer::start(DevServerConfig {
        binary,
        port,
        http_port,
        metrics_port,
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
    let keys = Arc::new(FileKeyStore::new(&keys_file));
    let roles = Roles {
        worker: true,
        gateway: Some(args.limits.config(args.bind)?),
        api: (
            args.limits.workflow_settings(),
            quotas_with(args.limits.quotas(), &args.schedules),
        ),
        collection: Some(args.collection.settings()),
    };
    let auth = auth_settings(&args.data_dir)?;
    let shared = (stores, auth, &providers);
    let result = serve_roles(&temporal, roles, shared, keys, None).await;
    // Give the worker's last completions a moment to reach the server.
    tokio::time::sleep(Duration::from_millis(100)).await;
    temporal_server.shutdown().await;
    result
}
