//! Black-box tests of the JSON-RPC gateway over the in-process runtime, with the fake
//! provider behind it: real jsonrpsee clients over HTTP and WebSocket on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod errors;
mod runs;
mod vfs;

use std::sync::Arc;
use std::time::Duration;

use gateway::{GatewayConfig, MemoryKeyStore, RunningGateway};
use jsonrpsee::core::client::ClientT;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::{LlmRuntime, Transport};
use serde_json::{Value, json};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider, Script};
use test_support::local_api::{LocalApiConfig, LocalHost};
use test_support::rpc_client::bearer_headers;
use test_support::runtime_llm::RetryPolicy;

pub(crate) const UNIVERSE_A: &str = "universe-a";
pub(crate) const UNIVERSE_B: &str = "universe-b";

pub(crate) struct Stack {
    pub(crate) gateway: RunningGateway,
    pub(crate) key_a: String,
    pub(crate) key_b: String,
    /// Kept alive for the stack's lifetime.
    _provider: RunningFakeProvider,
    _data_dir: tempfile::TempDir,
}

pub(crate) async fn stack(script: Value) -> Stack {
    let script: Script = serde_json::from_value(script).unwrap();
    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(script),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let mut provider_config = ProviderConfig::new("fake", ApiKind::OpenAiResponses);
    provider_config.base_url = provider.openai_base_url();
    provider_config.api_keys = vec![ApiKey::new("sk-provider-secret")];
    let runtime = LlmRuntime::new([ProviderClient::new(provider_config).unwrap()]);
    let data_dir = tempfile::tempdir().unwrap();
    let api = LocalHost::api(LocalApiConfig {
        data_dir: data_dir.path().to_path_buf(),
        runtime,
        transport: Transport::Streaming,
        retry: RetryPolicy {
            attempts_max: 2,
            ..RetryPolicy::default()
        },
    });
    let keys = MemoryKeyStore::default();
    let (key_a, record_a) = gateway::mint_key(UNIVERSE_A, 1);
    let (key_b, record_b) = gateway::mint_key(UNIVERSE_B, 2);
    gateway::KeyStore::insert(&keys, record_a).await.unwrap();
    gateway::KeyStore::insert(&keys, record_b).await.unwrap();
    let config = GatewayConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        ..GatewayConfig::default()
    };
    let gateway = gateway::serve(Arc::new(api), Arc::new(keys), config)
        .await
        .unwrap();
    Stack {
        gateway,
        key_a,
        key_b,
        _provider: provider,
        _data_dir: data_dir,
    }
}

impl Stack {
    pub(crate) fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{}/rpc", self.gateway.local_addr())
    }

    pub(crate) fn http(&self, key: Option<&str>) -> HttpClient {
        let headers = key.map(bearer_headers).unwrap_or_default();
        HttpClientBuilder::default()
            .set_headers(headers)
            .build(self.url("http"))
            .unwrap()
    }

    pub(crate) async fn ws(&self, key: &str) -> WsClient {
        WsClientBuilder::default()
            .set_headers(bearer_headers(key))
            .build(self.url("ws"))
            .await
            .unwrap()
    }
}

pub(crate) use test_support::rpc_client::{
    assert_valid, call, follow_until_finished, params as params_of,
};

pub(crate) fn session_config() -> Value {
    json!({"model": {"providerId": "fake", "apiKind": "openai:responses", "model": "fake-model"},
           "instructions": {"type": "text", "text": "Answer briefly."},
           "generation": {"reasoningEffort": "low"}})
}

pub(crate) async fn start_session(client: &impl ClientT, session_id: &str) -> Value {
    call(
        client,
        "session/start",
        json!({"sessionId": session_id, "config": session_config()}),
        "SessionView",
    )
    .await
}

pub(crate) fn wait() -> Duration {
    Duration::from_secs(10)
}
