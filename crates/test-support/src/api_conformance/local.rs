//! The in-process stack: [`LocalApi`] behind the gateway, with the fake provider as
//! provider `fake` (OpenAI Responses, streaming). [`LocalStack`] is also the stack
//! the CLI's end-to-end tests drive.

use std::sync::Arc;

use anyhow::Context as _;
use gateway::{GatewayConfig, MemoryKeyStore, RunningGateway};
use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::{
    LlmRuntime, ModelCatalog, ModelEntry, ModelPrice, PriceTable, ProviderEntry, Transport,
};
use serde_json::Value;

pub use api_service::Quotas;

use super::{ApiStack, ApiTarget, UniverseAccess};
use crate::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider, Script};
use crate::local_api::{LocalApi, LocalApiConfig, LocalHost};
use crate::runtime_llm::RetryPolicy;
use crate::tools::TestToolset;
use api_service::Service;

/// What a [`LocalStack`] serves.
#[derive(Debug, Clone)]
pub struct LocalStackConfig {
    /// The fake provider's script (`{"turns": [...]}`).
    pub script: Value,
    /// One API key is minted per universe, in this order.
    pub universes: Vec<String>,
    /// Generation attempts before a run fails (1: no retries).
    pub llm_attempts_max: u32,
    /// The API's per-universe quotas.
    pub quotas: Quotas,
}

/// LocalApi + gateway + fake provider, each alive as long as this is.
pub struct LocalStack {
    /// `None` between [`LocalStack::stop_gateway`] and [`LocalStack::restart_gateway`].
    pub gateway: Option<RunningGateway>,
    pub api: Arc<LocalApi>,
    pub keys: Arc<MemoryKeyStore>,
    /// (universe id, API key), in [`LocalStackConfig::universes`] order.
    pub universes: Vec<(String, String)>,
    pub provider: RunningFakeProvider,
    _data_dir: tempfile::TempDir,
}

impl LocalStack {
    pub async fn start(config: LocalStackConfig) -> anyhow::Result<Self> {
        let (provider, runtime) = fake_provider(config.script).await?;
        let data_dir = tempfile::tempdir()?;
        let auth = crate::tools::test_auth_settings();
        let mcp = crate::tools::test_mcp_tools_over(
            Arc::new(session_stores::FsStores::new(data_dir.path())),
            auth.clone(),
            Default::default(),
        )?;
        let host = LocalHost::new(LocalApiConfig {
            data_dir: data_dir.path().to_path_buf(),
            runtime,
            transport: Transport::Streaming,
            retry: RetryPolicy {
                attempts_max: config.llm_attempts_max,
                ..RetryPolicy::default()
            },
            transcription: fake_transcription(),
        });
        let schedules = effects::schedule_tools::ScheduleTools {
            scheduler: host.local_scheduler().clone(),
            limits: config.quotas.schedules,
        };
        let fleet = Arc::new(effects::agent_tools::LateFleet::default());
        let host = host.with_toolset(
            TestToolset::with_mcp(mcp.clone())
                .with_schedules(schedules)
                .with_agents(fleet.clone()),
        );
        let models = Arc::new(fake_catalog(&provider)?);
        let api = Service::new(host)
            .with_models(models)
            .with_mcp(api_service::McpSettings {
                stdio: Default::default(),
                tools: Some(mcp),
            })
            .with_auth(auth);
        let api = Arc::new(api.with_quotas(config.quotas));
        let firer: std::sync::Weak<dyn api_service::ScheduleFirer> = Arc::downgrade(&api) as _;
        api.host().local_scheduler().bind(firer);
        let agents: std::sync::Weak<dyn effects::agent_tools::AgentFleet> =
            Arc::downgrade(&api) as _;
        fleet.bind(agents);
        let keys = Arc::new(MemoryKeyStore::default());
        let mut universes = Vec::new();
        for (index, universe) in config.universes.iter().enumerate() {
            let (key, record) = gateway::mint_key(universe, index as u64 + 1);
            gateway::KeyStore::insert(keys.as_ref(), record).await?;
            universes.push((universe.clone(), key));
        }
        let mut host = Self {
            gateway: None,
            api,
            keys,
            universes,
            provider,
            _data_dir: data_dir,
        };
        host.restart_gateway("127.0.0.1:0".parse()?).await?;
        Ok(host)
    }

    /// The address the gateway listens on.
    pub fn addr(&self) -> anyhow::Result<std::net::SocketAddr> {
        let gateway = self.gateway.as_ref().context("the gateway is stopped")?;
        Ok(gateway.local_addr())
    }

    /// Stops serving (the backend keeps running); its address, to serve again on.
    pub async fn stop_gateway(&mut self) -> anyhow::Result<std::net::SocketAddr> {
        let gateway = self.gateway.take().context("the gateway is stopped")?;
        let addr = gateway.local_addr();
        gateway.shutdown().await;
        Ok(addr)
    }

    /// Serves the same backend on `addr` (port 0: any free port).
    pub async fn restart_gateway(&mut self, addr: std::net::SocketAddr) -> anyhow::Result<()> {
        let config = GatewayConfig {
            bind: addr,
            ..GatewayConfig::default()
        };
        let gateway = gateway::serve(self.api.clone(), self.keys.clone(), config).await?;
        self.gateway = Some(gateway);
        Ok(())
    }
}

/// The fake provider playing `script`, and a runtime that reaches it as provider
/// `fake` (OpenAI Responses), pricing with [`fake_prices`]: what every conformance
/// target serves.
pub async fn fake_provider(script: Value) -> anyhow::Result<(RunningFakeProvider, LlmRuntime)> {
    let script: Script = serde_json::from_value(script).context("the fake provider's script")?;
    script.validate().map_err(anyhow::Error::msg)?;
    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(script),
        ..FakeProviderConfig::default()
    })
    .await?;
    let mut config = ProviderConfig::new("fake", ApiKind::OpenAiResponses);
    config.base_url = provider.openai_base_url();
    config.api_keys = vec![ApiKey::new("sk-provider-secret")];
    let runtime = LlmRuntime::new([ProviderClient::new(config)?]).with_prices(fake_prices());
    Ok((provider, runtime))
}

/// Voice notes go to the fake provider's `/v1/audio/transcriptions`, under the
/// default limits.
pub fn fake_transcription() -> effects::transcriber::TranscriptionSettings {
    effects::transcriber::TranscriptionSettings {
        provider_id: "fake".into(),
        model: "fake-transcribe".into(),
        ..Default::default()
    }
}

/// The default prices plus the fake models' own: per million tokens, 1 USD input,
/// 0.10 USD cached input, 10 USD output (so a generation of 1,000 input and 100
/// output tokens costs 0.002 USD), for cases that trip cost budgets and check costs.
pub fn fake_prices() -> PriceTable {
    let price = ModelPrice {
        input: 1_000_000,
        cached_input: 100_000,
        cache_write_input: 1_000_000,
        output: 10_000_000,
    };
    PriceTable::defaults()
        .with_price("fake", "fake-model", price)
        .with_price("fake", "fake-small", price)
}

/// The model catalog every conformance target serves: provider `fake` (OpenAI
/// Responses, at `provider`) with `fake-model`, whose window (187,500 tokens) gives
/// the engine's own defaults (8,192 output tokens, a 150,000 watermark), and
/// `fake-small` (16,000 tokens, output 1,000 by default and 2,000 at most).
pub fn fake_catalog(provider: &RunningFakeProvider) -> anyhow::Result<ModelCatalog> {
    let model = |id: &str, window, default, max| ModelEntry {
        id: id.to_owned(),
        context_window_tokens: window,
        output_tokens_default: default,
        output_tokens_max: max,
    };
    Ok(ModelCatalog::new(vec![ProviderEntry {
        id: "fake".to_owned(),
        api_kind: ApiKind::OpenAiResponses,
        host: Some(provider.addr().to_string()),
        models: vec![
            model("fake-model", 187_500, 8_192, None),
            model("fake-small", 16_000, 1_000, Some(2_000)),
        ],
    }])?)
}

/// The conformance target over [`LocalStack`]: universes `universe-a` and
/// `universe-b`, fresh for each case.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocalTarget;

impl ApiTarget for LocalTarget {
    async fn start(&self, script: Value, quotas: Quotas) -> anyhow::Result<ApiStack> {
        let host = LocalStack::start(LocalStackConfig {
            script,
            universes: vec!["universe-a".to_owned(), "universe-b".to_owned()],
            llm_attempts_max: 2,
            quotas,
        })
        .await?;
        let access = |index: usize| UniverseAccess {
            universe_id: host.universes[index].0.clone(),
            api_key: host.universes[index].1.clone(),
        };
        let (a, b) = (access(0), access(1));
        let (operator_key, record) = gateway::mint_operator_key(0);
        gateway::KeyStore::insert(host.keys.as_ref(), record).await?;
        Ok(ApiStack::for_gateway(host.addr()?, a, b, Box::new(host))
            .with_operator_key(operator_key))
    }
}
