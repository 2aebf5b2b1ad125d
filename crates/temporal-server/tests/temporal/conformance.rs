//! The API conformance suite (`test_support::api_conformance`) over the Temporal
//! host: per case a worker on its own task queue, `TemporalApi` behind the gateway,
//! the fake provider as provider `fake`, and two fresh universes (UUIDs). The store
//! is Postgres + S3 when the local stack's variables are set (always under
//! `CI=true`, where their absence is a failure), store-fs otherwise.

use std::sync::Arc;

use anyhow::Context as _;
use effects::LlmCompactor;
use gateway::{GatewayConfig, MemoryKeyStore, RunningGateway};
use llm_runtime::Transport;
use serde_json::Value;
use session_stores::{FsStores, PgStores, StoreProvider};
use store_pg::{ObjectStore, ObjectStoreConfig, PgConfig, PgDatabase};
use temporal_server::api_host::TemporalHost;
use temporal_server::deltas::DeltaHub;
use temporal_server::seam;
use temporal_server::sessions::SessionClient;
use temporal_server::worker::backend::{Backend, LlmSettings};
use temporal_server::worker::{self, RunningWorker, TemporalConfig};
use test_support::api_conformance::local::{fake_catalog, fake_provider};
use test_support::api_conformance::{ApiStack, ApiTarget, HostUnavailable, Quotas, UniverseAccess};
use test_support::fake_provider::RunningFakeProvider;
use test_support::tools::TestToolset;

use crate::harness::{fast_settings, temporal_address};

/// Connections each case's Postgres pool may hold (cases run side by side).
const PG_POOL_CONNECTIONS_MAX: u32 = 4;

fn in_ci() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

/// The Temporal host, over Postgres + S3 when configured.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TemporalTarget;

/// Everything a case's stack keeps alive.
struct Running {
    _gateway: RunningGateway,
    _worker: RunningWorker,
    _provider: RunningFakeProvider,
    _data: tempfile::TempDir,
}

impl ApiTarget for TemporalTarget {
    async fn start(&self, script: Value, quotas: Quotas) -> anyhow::Result<ApiStack> {
        let Some(address) = temporal_address().await else {
            return Err(HostUnavailable("no temporal binary".into()).into());
        };
        let data = tempfile::tempdir()?;
        match env("LIGHTSPEED_POSTGRES_URL") {
            Some(url) => {
                // Driven on a blocking thread: sqlx's and the AWS SDK's connect
                // futures do not prove `Send` for every lifetime (a rustc limit
                // with higher-ranked bounds), which `impl Future + Send` needs.
                let runtime = tokio::runtime::Handle::current();
                let stores = tokio::task::spawn_blocking(move || runtime.block_on(pg_stores(&url)))
                    .await??;
                start(address, script, quotas, data, Arc::new(stores)).await
            }
            None if in_ci() => anyhow::bail!(
                "CI=true but LIGHTSPEED_POSTGRES_URL is unset: the Temporal host's \
                 conformance runs over Postgres (source local/env.sh)"
            ),
            None => {
                eprintln!(
                    "NOTE: conformance over Temporal with store-fs (no LIGHTSPEED_POSTGRES_URL)"
                );
                let stores = Arc::new(FsStores::new(data.path()));
                start(address, script, quotas, data, stores).await
            }
        }
    }
}

/// Postgres (migrated) with large blobs in the local stack's S3 bucket.
async fn pg_stores(url: &str) -> anyhow::Result<PgStores> {
    let mut config = PgConfig::new(url);
    config.pool_connections_max = PG_POOL_CONNECTIONS_MAX;
    let db = PgDatabase::connect(&config)
        .await
        .context("connecting to Postgres")?;
    let object_store = match env("LIGHTSPEED_OBJECT_STORE_BUCKET") {
        Some(bucket) => {
            let region =
                env("LIGHTSPEED_OBJECT_STORE_REGION").unwrap_or_else(|| "us-east-1".into());
            let mut config = ObjectStoreConfig::new(bucket, region);
            config.endpoint_url = env("LIGHTSPEED_OBJECT_STORE_ENDPOINT");
            config.access_key_id = env("LIGHTSPEED_OBJECT_STORE_ACCESS_KEY");
            config.secret_access_key = env("LIGHTSPEED_OBJECT_STORE_SECRET_KEY");
            Some(
                ObjectStore::connect(&config)
                    .await
                    .context("configuring S3")?,
            )
        }
        None => None,
    };
    Ok(PgStores::new(db, object_store))
}

async fn start<P: StoreProvider>(
    address: String,
    script: Value,
    quotas: Quotas,
    data: tempfile::TempDir,
    stores: Arc<P>,
) -> anyhow::Result<ApiStack> {
    let (provider, runtime) = fake_provider(script).await?;
    let models = Arc::new(fake_catalog(&provider)?);
    let mut temporal = TemporalConfig::local(address);
    temporal.task_queue = format!("conformance-{}", uuid::Uuid::new_v4().simple());
    // The worker's LLM activities publish deltas where the gateway relays them from.
    let deltas = Arc::new(DeltaHub::default());
    let auth = test_support::tools::test_auth_settings();
    let mcp =
        test_support::tools::test_mcp_tools_over(stores.clone(), auth.clone(), Default::default())?;
    let client = worker::connect(&temporal, seam::data_converter(stores.clone())).await?;
    let sessions = SessionClient::new(client, temporal.task_queue.clone(), fast_settings());
    let api = Arc::new(
        TemporalHost::new(sessions, stores.clone(), deltas.clone())
            .api()
            .with_quotas(quotas)
            .with_mcp(api_service::McpSettings {
                stdio: Default::default(),
                tools: Some(mcp.clone()),
            })
            .with_auth(auth)
            .with_models(models),
    );
    let schedules = effects::schedule_tools::ScheduleTools {
        scheduler: api_service::SessionHost::scheduler(api.host()),
        limits: quotas.schedules,
    };
    let backend = Backend {
        stores: stores.clone(),
        llm: LlmSettings {
            runtime: runtime.clone(),
            transport: Transport::Streaming,
        },
        tools: TestToolset::with_mcp(mcp)
            .with_schedules(schedules)
            .with_agents(api.clone()),
        compactor: LlmCompactor::new(runtime, Transport::Streaming),
        deltas: deltas.clone(),
        checkpoint_interval_entries: 64,
        transcription: test_support::api_conformance::local::fake_transcription(),
    };
    let worker = worker::start_with_schedules(
        &temporal,
        worker::WorkerTuning::default(),
        Arc::new(backend),
        seam::data_converter(stores.clone()),
        api.clone(),
    )
    .await?;
    let keys = MemoryKeyStore::default();
    let mut universes = Vec::new();
    for index in 1..=2 {
        let universe_id = uuid::Uuid::new_v4().to_string();
        let (api_key, record) = gateway::mint_key(&universe_id, index);
        gateway::KeyStore::insert(&keys, record).await?;
        universes.push(UniverseAccess {
            universe_id,
            api_key,
        });
    }
    let (operator_key, record) = gateway::mint_operator_key(0);
    gateway::KeyStore::insert(&keys, record).await?;
    let config = GatewayConfig {
        bind: "127.0.0.1:0".parse()?,
        ..GatewayConfig::default()
    };
    let gateway = gateway::serve(api, Arc::new(keys), config).await?;
    let addr = gateway.local_addr();
    let b = universes.pop().context("universe b")?;
    let a = universes.pop().context("universe a")?;
    let running = Running {
        _gateway: gateway,
        _worker: worker,
        _provider: provider,
        _data: data,
    };
    Ok(ApiStack::for_gateway(addr, a, b, Box::new(running)).with_operator_key(operator_key))
}

test_support::api_conformance_tests!(crate::conformance::TemporalTarget);
