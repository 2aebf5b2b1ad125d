//! Starting a gateway over the mock and talking to it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue};
use gateway::{GatewayConfig, KeyStore as _, MemoryKeyStore, RunningGateway, mint_key};
use jsonrpsee::core::ClientError;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::types::ErrorObjectOwned;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde_json::Value;

use crate::mock::{MockApi, Seen};

pub(crate) const UNIVERSE: &str = "universe-one";
pub(crate) const OTHER_UNIVERSE: &str = "universe-two";

pub(crate) struct Harness {
    pub(crate) gateway: RunningGateway,
    pub(crate) seen: Arc<Seen>,
    /// A key of [`UNIVERSE`].
    pub(crate) key: String,
    /// A key of [`OTHER_UNIVERSE`].
    pub(crate) other_key: String,
}

pub(crate) fn test_config() -> GatewayConfig {
    GatewayConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..GatewayConfig::default()
    }
}

pub(crate) async fn start() -> Harness {
    start_with(test_config()).await
}

pub(crate) async fn start_with(config: GatewayConfig) -> Harness {
    let keys = Arc::new(MemoryKeyStore::new());
    let (key, record) = mint_key(UNIVERSE, 1);
    keys.insert(record).await.unwrap();
    let (other_key, record) = mint_key(OTHER_UNIVERSE, 2);
    keys.insert(record).await.unwrap();
    let api = Arc::new(MockApi::new());
    let seen = Arc::clone(&api.seen);
    let gateway = gateway::serve(api, keys, config).await.unwrap();
    Harness {
        gateway,
        seen,
        key,
        other_key,
    }
}

pub(crate) fn auth_headers(key: Option<&str>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        headers.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
        );
    }
    headers
}

impl Harness {
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.gateway.local_addr())
    }

    pub(crate) fn rpc_url(&self) -> String {
        format!("{}/rpc", self.base_url())
    }

    pub(crate) fn ws_url(&self) -> String {
        format!("ws://{}/rpc", self.gateway.local_addr())
    }

    pub(crate) fn calls(&self) -> u64 {
        self.seen.calls.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(crate) fn http(&self, key: Option<&str>) -> HttpClient {
        HttpClientBuilder::default()
            .set_headers(auth_headers(key))
            .build(self.rpc_url())
            .unwrap()
    }

    pub(crate) async fn ws(&self, key: Option<&str>) -> WsClient {
        WsClientBuilder::default()
            .set_headers(auth_headers(key))
            .build(self.ws_url())
            .await
            .unwrap()
    }

    /// Posts a raw body to `/rpc`; returns the status and the parsed JSON body.
    pub(crate) async fn post_raw(
        &self,
        key: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(self.rpc_url())
            .headers(auth_headers(key))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap();
        (status, body)
    }
}

/// Params as a JSON object.
pub(crate) fn params(value: Value) -> serde_json::Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("params must be an object, got {other}"),
    }
}

/// The JSON-RPC error of a failed call.
pub(crate) fn call_error<T: std::fmt::Debug>(result: Result<T, ClientError>) -> ErrorObjectOwned {
    match result {
        Err(ClientError::Call(err)) => err,
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

/// The `data` of a JSON-RPC error, as JSON.
pub(crate) fn error_data(err: &ErrorObjectOwned) -> Value {
    serde_json::from_str(err.data().expect("error has data").get()).unwrap()
}

impl Harness {
    /// Sends a WebSocket upgrade request by hand; returns the status and the body
    /// (JSON, or `null` when the upgrade succeeded).
    pub(crate) async fn raw_upgrade(&self, authorization: Option<&str>) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .get(self.rpc_url())
            .header("connection", "Upgrade")
            .header("upgrade", "websocket")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        if status == 101 {
            return (status, Value::Null);
        }
        (status, response.json::<Value>().await.unwrap())
    }
}
