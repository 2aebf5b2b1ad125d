//! The axum app: `/rpc` (JSON-RPC over HTTP and WebSocket, served by jsonrpsee as a
//! tower service), the blob routes, `/health` and `/ready`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use api::LightspeedApi;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, Methods, Server, ServerConfig, ServerHandle, StopHandle,
    TowerServiceBuilder, stop_channel, ws,
};
use tower::Service as _;
use tower::layer::util::{Identity, Stack};

use crate::GatewayError;
use crate::auth;
use crate::blobs::{self, BlobState};
use crate::config::GatewayConfig;
use crate::keys::KeyStore;
use crate::limits::{GatewayRpcLayer, Transport};
use crate::rpc;

type RpcServiceBuilderType = TowerServiceBuilder<Stack<GatewayRpcLayer, Identity>, Identity>;

struct RpcEndpoint<K> {
    keys: Arc<K>,
    methods: Methods,
    services: RpcServiceBuilderType,
    stop: StopHandle,
    /// Keeps the stop channel open while the router lives: jsonrpsee reads a dropped
    /// sender as "stop", which would close every WebSocket.
    _server: ServerHandle,
}

/// Stops what a [`router`] serves: `/ready` turns 503, open WebSockets close, and new
/// ones close at once. HTTP requests in flight finish.
#[derive(Debug, Clone)]
pub struct RouterHandle {
    server: ServerHandle,
    ready: Arc<AtomicBool>,
}

impl RouterHandle {
    pub fn stop(&self) {
        self.ready.store(false, Ordering::Release);
        // Already stopped is fine: stopping is idempotent.
        let _ = self.server.stop();
    }

    pub fn is_stopped(&self) -> bool {
        !self.ready.load(Ordering::Acquire)
    }
}

/// The gateway's routes over `api`, authenticating with `keys`. Mount it in any axum
/// server that serves with upgrades (as `axum::serve` does); keep the handle to stop
/// it. [`crate::serve`] does both.
pub fn router<A: LightspeedApi, K: KeyStore>(
    api: Arc<A>,
    keys: Arc<K>,
    config: &GatewayConfig,
) -> Result<(Router, RouterHandle), GatewayError> {
    let module = rpc::module(Arc::clone(&api)).map_err(GatewayError::MethodTable)?;
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.rpc_body_bytes_max)
        .max_response_body_size(config.rpc_response_bytes_max)
        .max_connections(config.connections_max)
        .max_subscriptions_per_connection(config.connection_subscriptions_max)
        .set_message_buffer_capacity(config.subscription_buffer_max)
        .set_batch_request_config(BatchRequestConfig::Limit(config.rpc_batch_calls_max))
        .build();
    let middleware = RpcServiceBuilder::new().layer(GatewayRpcLayer {
        in_flight_max: config.connection_in_flight_max,
        response_bytes_max: config.rpc_response_bytes_max,
    });
    let services = Server::builder()
        .set_config(server_config)
        .set_rpc_middleware(middleware)
        .to_service_builder();
    let (stop, server) = stop_channel();
    let ready = Arc::new(AtomicBool::new(true));
    let endpoint = Arc::new(RpcEndpoint {
        keys: Arc::clone(&keys),
        methods: module.into(),
        services,
        stop,
        _server: server.clone(),
    });
    let blob_state = Arc::new(BlobState {
        api,
        keys,
        blob_bytes_max: config.blob_bytes_max,
    });

    let rpc_routes = Router::new()
        .route("/rpc", any(rpc_endpoint::<K>))
        .with_state(endpoint);
    let blob_routes = Router::new()
        .route(
            "/blobs/{blob_ref}",
            put(blobs::put_blob::<A, K>).get(blobs::get_blob::<A, K>),
        )
        .with_state(blob_state);
    let probe_routes = Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready_probe))
        .with_state(Arc::clone(&ready));
    let router = Router::new()
        .merge(rpc_routes)
        .merge(blob_routes)
        .merge(probe_routes);
    Ok((router, RouterHandle { server, ready }))
}

/// Resolves the caller once per HTTP request or WebSocket upgrade, then hands the
/// request to jsonrpsee, which answers it or upgrades it.
async fn rpc_endpoint<K: KeyStore>(
    State(endpoint): State<Arc<RpcEndpoint<K>>>,
    mut request: Request,
) -> Response {
    let outcome = auth::resolve(endpoint.keys.as_ref(), request.headers()).await;
    let transport = if ws::is_upgrade_request(&request) {
        Transport::WebSocket
    } else {
        Transport::Http
    };
    // The key has done its work. Dropping it here keeps it out of jsonrpsee, whose
    // trace-level logs print whole requests, headers included.
    request.headers_mut().remove(AUTHORIZATION);
    request.extensions_mut().insert(outcome);
    request.extensions_mut().insert(transport);
    let mut service = endpoint
        .services
        .clone()
        .build(endpoint.methods.clone(), endpoint.stop.clone());
    match service.call(request).await {
        Ok(response) => response.map(Body::new),
        Err(err) => {
            tracing::error!(error = %err, "the JSON-RPC service failed");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// Liveness: the process answers.
async fn health() -> &'static str {
    "ok"
}

/// Readiness: 200 while serving, 503 once stopping.
async fn ready_probe(State(ready): State<Arc<AtomicBool>>) -> Response {
    if ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "stopping").into_response()
    }
}
