//! What every measurement runs on: the zero-latency fake provider (echo mode: every
//! generation replies `echo: <last user text>` at once; measurements whose turns call
//! tools start one of their own with a script, see [`crate::tools`]), a filesystem store in a
//! temporary directory, and a Temporal dev server of its own ([`Temporal`], on a free
//! port, in memory, killed when the measurement ends). A fresh server per measurement
//! (and per throughput phase) keeps one measurement's leftovers (history, visibility
//! records, the server's grown memory) from slowing the next.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use effects::WorkerTools;
use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::{LlmRuntime, Transport};
use session_stores::FsStores;
use temporal_server::deltas::DeltaHub;
use temporal_server::devserver::{self, DevServer, DevServerConfig, DevServerError};
use temporal_server::seam;
use temporal_server::worker::backend::{Backend, LlmSettings};
use temporal_server::worker::{self, RunningWorker, TemporalConfig, WorkerTuning};
use temporalio_client::Client;
use test_support::compactor::ListingCompactor;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider, Script};

/// The worker's checkpoint interval; the value `server worker` uses, so an in-process
/// worker does the same store work as the real one.
const CHECKPOINT_INTERVAL_ENTRIES: u64 = 256;
/// The fake provider accepts any key; one is sent so the request path is the real one.
pub(crate) const FAKE_API_KEY: &str = "sk-bench-0123456789abcdef";

pub(crate) struct Stack {
    temporal_binary: PathBuf,
    pub(crate) provider: RunningFakeProvider,
    pub(crate) data: tempfile::TempDir,
}

impl Stack {
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let temporal_binary = devserver::find_binary().ok_or(DevServerError::BinaryNotFound)?;
        let data = tempfile::Builder::new()
            .prefix("lightspeed-bench-")
            .tempdir()
            .context("creating the data directory")?;
        let provider = start_provider(None).await?;
        Ok(Self {
            temporal_binary,
            provider,
            data,
        })
    }

    /// A fresh Temporal dev server for one measurement.
    pub(crate) async fn temporal(&self, purpose: &str) -> anyhow::Result<Temporal> {
        let [port, http_port, metrics_port] = devserver::free_ports()?;
        crate::progress(format_args!(
            "{purpose}: starting a Temporal dev server ({}) on port {port}",
            self.temporal_binary.display()
        ));
        let server = DevServer::start(DevServerConfig {
            binary: self.temporal_binary.clone(),
            port,
            http_port,
            metrics_port,
            // In memory: nothing of a benchmark needs to survive it.
            db_file: None,
            log_file: Some(self.data.path().join(format!("temporal-{port}.log"))),
            ready_wait: devserver::READY_WAIT_DEFAULT,
        })
        .await?;
        Ok(Temporal { server })
    }

    /// Where the session stores live (`{data}/store/universes/{universe}`).
    pub(crate) fn store_root(&self) -> PathBuf {
        self.data.path().join("store")
    }

    /// A fake provider of its own serving `script` (echoing once a request matches
    /// nothing left in it), for measurements whose turns call tools.
    pub(crate) async fn scripted_provider(
        &self,
        script: Script,
    ) -> anyhow::Result<RunningFakeProvider> {
        start_provider(Some(script)).await
    }

    /// The session worker in this process, over the store and the echoing fake
    /// provider.
    pub(crate) async fn start_session_worker(
        &self,
        config: &TemporalConfig,
    ) -> anyhow::Result<RunningWorker> {
        self.start_session_worker_with(config, &self.provider).await
    }

    /// The session worker in this process, over the store and `provider`, tuned as
    /// `server worker` would be with this environment.
    pub(crate) async fn start_session_worker_with(
        &self,
        config: &TemporalConfig,
        provider: &RunningFakeProvider,
    ) -> anyhow::Result<RunningWorker> {
        let backend = Backend {
            stores: FsStores::new(self.store_root()),
            llm: LlmSettings {
                runtime: LlmRuntime::new([provider_client(provider)?]),
                transport: Transport::Streaming,
            },
            tools: WorkerTools::default(),
            compactor: ListingCompactor,
            deltas: Arc::new(DeltaHub::default()),
            checkpoint_interval_entries: CHECKPOINT_INTERVAL_ENTRIES,
            transcription: Default::default(),
        };
        let converter = seam::data_converter(Arc::new(FsStores::new(self.store_root())));
        let tuning = WorkerTuning::from_env()?;
        Ok(worker::start_tuned(config, tuning, Arc::new(backend), converter).await?)
    }

    /// A client reading and writing payloads as the session worker does.
    pub(crate) async fn client(&self, config: &TemporalConfig) -> anyhow::Result<Client> {
        let converter = seam::data_converter(Arc::new(FsStores::new(self.store_root())));
        Ok(worker::connect(config, converter).await?)
    }

    pub(crate) async fn shutdown(self) {
        self.provider.shutdown().await;
    }
}

/// One measurement's Temporal dev server.
pub(crate) struct Temporal {
    server: DevServer,
}

impl Temporal {
    /// A config for this server on the product's default task queue: the server is
    /// this measurement's alone, and the queue's name is in every task-scheduled event,
    /// so another name would change the history bytes measured.
    pub(crate) fn config(&self) -> TemporalConfig {
        TemporalConfig::local(self.server.address())
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.server.pid()
    }

    pub(crate) async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

async fn start_provider(script: Option<Script>) -> anyhow::Result<RunningFakeProvider> {
    FakeProvider::start(FakeProviderConfig {
        script,
        // Keep no request bodies: they would grow the bench process with the
        // transcripts it serves.
        requests_kept_max: 0,
        ..FakeProviderConfig::default()
    })
    .await
    .context("starting the fake provider")
}

fn provider_client(provider: &RunningFakeProvider) -> anyhow::Result<ProviderClient> {
    let mut config = ProviderConfig::new("openai", ApiKind::OpenAiResponses);
    config.base_url = provider.openai_base_url();
    config.api_keys = vec![ApiKey::new(FAKE_API_KEY)];
    ProviderClient::new(config).context("configuring the fake provider's client")
}
