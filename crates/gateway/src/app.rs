//! The axum app: `/rpc` (JSON-RPC over HTTP and WebSocket, served by jsonrpsee as a
//! tower service), the blob routes, `/health` and `/ready`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use api::LightspeedApi;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, put};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, ConnectionState, Methods, PingConfig, Server, ServerConfig, ServerHandle,
    StopHandle, TowerServiceBuilder, stop_channel, ws,
};
use tower::Service as _;
use tower::layer::util::{Identity, Stack};

use crate::GatewayError;
use crate::auth::{self, AuthOutcome, Denial};
use crate::blobs::{self, BlobState};
use crate::config::GatewayConfig;
use crate::connections::{Connections, NoPlace, Outbox};
use crate::envelope;
use crate::keys::KeyStore;
use crate::killable::ConnKill;
use crate::limits::{GatewayRpcLayer, Transport};
use crate::rpc;

type RpcServiceBuilderType = TowerServiceBuilder<Stack<GatewayRpcLayer, Identity>, Identity>;

struct RpcEndpoint<K> {
    keys: Arc<K>,
    methods: Methods,
    services: RpcServiceBuilderType,
    /// jsonrpsee's config for WebSockets, driven through `ws::connect`.
    ws_config: ServerConfig,
    ws_middleware: RpcServiceBuilder<Stack<GatewayRpcLayer, Identity>>,
    connections: Connections,
    conn_ids: AtomicU32,
    limits: GatewayConfig,
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

/// jsonrpsee's configuration from the gateway's.
fn server_config(config: &GatewayConfig, batches: BatchRequestConfig) -> ServerConfig {
    ServerConfig::builder()
        .max_request_body_size(config.rpc_body_bytes_max)
        .max_response_body_size(config.rpc_response_bytes_max)
        .max_connections(config.connections_max)
        .max_subscriptions_per_connection(config.connection_subscriptions_max)
        .set_message_buffer_capacity(config.ws_queued_messages_max)
        .set_batch_request_config(batches)
        // jsonrpsee's ping/pong drops dead peers; idle but live sockets are closed by
        // the gateway's own idle timeout (`Outbox::closed`), since any client answers
        // pings.
        .enable_ws_ping(
            PingConfig::new()
                .ping_interval(config.ws_ping_interval())
                .inactive_limit(config.ws_ping_interval() * 2)
                .max_failures(1),
        )
        .build()
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
    let middleware = RpcServiceBuilder::new().layer(GatewayRpcLayer {
        in_flight_max: config.connection_in_flight_max,
        response_bytes_max: config.rpc_response_bytes_max,
        request_bytes_max: config.rpc_body_bytes_max,
    });
    let services = Server::builder()
        .set_config(server_config(
            config,
            BatchRequestConfig::Limit(config.rpc_batch_calls_max),
        ))
        .set_rpc_middleware(middleware.clone())
        .to_service_builder();
    let (stop, server) = stop_channel();
    let ready = Arc::new(AtomicBool::new(true));
    let endpoint = Arc::new(RpcEndpoint {
        keys: Arc::clone(&keys),
        methods: module.into(),
        services,
        // Every WebSocket batch reaches the middleware, which refuses it with a
        // contract code (jsonrpsee's own batch-size refusal is -32010, "rejected").
        ws_config: server_config(config, BatchRequestConfig::Unlimited),
        ws_middleware: middleware,
        connections: Connections::new(config.connections_max, config.universe_connections_max),
        conn_ids: AtomicU32::new(0),
        limits: config.clone(),
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

/// Resolves the caller once per HTTP request or WebSocket upgrade, takes a
/// connection place, then hands the request to jsonrpsee.
async fn rpc_endpoint<K: KeyStore>(
    State(endpoint): State<Arc<RpcEndpoint<K>>>,
    mut request: Request,
) -> Response {
    let outcome = auth::resolve(endpoint.keys.as_ref(), request.headers()).await;
    // The key has done its work. Dropping it here keeps it out of jsonrpsee, whose
    // trace-level logs print whole requests, headers included.
    request.headers_mut().remove(AUTHORIZATION);
    if ws::is_upgrade_request(&request) {
        websocket(&endpoint, request, outcome).await
    } else {
        http(&endpoint, request, outcome).await
    }
}

fn universe_of(outcome: &AuthOutcome) -> Option<&str> {
    match outcome {
        AuthOutcome::Caller(caller) => Some(caller.universe_id.as_str()),
        AuthOutcome::Denied(_) => None,
    }
}

/// An HTTP refusal with the JSON-RPC error object as `{"error": ...}`.
fn refusal(status: StatusCode, err: api::ApiError) -> Response {
    let body = serde_json::json!({ "error": rpc::error_object(err) });
    (status, axum::Json(body)).into_response()
}

fn no_place(no_place: NoPlace) -> Response {
    let (message, reason) = match no_place {
        NoPlace::Total => (
            "the gateway serves its maximum of connections",
            "connections",
        ),
        NoPlace::Anonymous => (
            "the gateway serves its maximum of requests without a valid key",
            "anonymousConnections",
        ),
        NoPlace::Universe => (
            "this universe holds its maximum of connections",
            "universeConnections",
        ),
    };
    refusal(
        StatusCode::TOO_MANY_REQUESTS,
        api::ApiError::new(api::ErrorKind::Overloaded, message).with_reason(reason),
    )
}

/// One JSON-RPC request over HTTP: its envelope is checked here (see `envelope`),
/// then jsonrpsee answers it. Callers without a valid key get their `-32000` from
/// the middleware, at the JSON-RPC level, so JSON-RPC clients see it.
async fn http<K: KeyStore>(
    endpoint: &RpcEndpoint<K>,
    request: Request,
    outcome: AuthOutcome,
) -> Response {
    let _place = match endpoint.connections.acquire(universe_of(&outcome)) {
        Ok(place) => place,
        Err(no) => return no_place(no),
    };
    let (parts, body) = request.into_parts();
    let body = if parts.method == Method::POST {
        let limits = &endpoint.limits;
        let read = envelope::read_body(body, limits.rpc_body_bytes_max, limits.rpc_body_read());
        let bytes = match read.await {
            Ok(bytes) => bytes,
            Err(violation) => return violation.into_response(),
        };
        if let Err(violation) = envelope::check(&bytes, endpoint.limits.rpc_batch_calls_max) {
            return violation.into_response();
        }
        Body::from(bytes)
    } else {
        body
    };
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(outcome);
    request.extensions_mut().insert(Transport::Http);
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

/// A WebSocket upgrade: refused with 401 before upgrading without a valid key, with
/// 429 without a place; otherwise served by jsonrpsee on a task this gateway owns,
/// which drops the socket once its [`Outbox`] says the reader fell behind or idled.
async fn websocket<K: KeyStore>(
    endpoint: &RpcEndpoint<K>,
    mut request: Request,
    outcome: AuthOutcome,
) -> Response {
    let caller = match outcome {
        AuthOutcome::Caller(caller) => caller,
        AuthOutcome::Denied(denial @ (Denial::MissingKey | Denial::UnknownKey)) => {
            return refusal(StatusCode::UNAUTHORIZED, denial.to_api_error());
        }
        AuthOutcome::Denied(denial @ Denial::StoreFailed) => {
            return refusal(StatusCode::SERVICE_UNAVAILABLE, denial.to_api_error());
        }
    };
    let place = match endpoint.connections.acquire(Some(&caller.universe_id)) {
        Ok(place) => place,
        Err(no) => return no_place(no),
    };
    let limits = &endpoint.limits;
    let outbox = Outbox::new(limits.ws_queued_messages_max, limits.ws_reply_wait());
    request.extensions_mut().insert(AuthOutcome::Caller(caller));
    request.extensions_mut().insert(Transport::WebSocket);
    request.extensions_mut().insert(Arc::clone(&outbox));
    let kill = request
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|info| Arc::clone(&info.0.0));
    let conn_id = endpoint.conn_ids.fetch_add(1, Ordering::Relaxed);
    let (permit, universe_place) = place.into_parts();
    let conn = ConnectionState::new(endpoint.stop.clone(), conn_id, permit);
    let connected = ws::connect(
        request,
        endpoint.ws_config.clone(),
        endpoint.methods.clone(),
        conn,
        endpoint.ws_middleware.clone(),
    )
    .await;
    match connected {
        Ok((response, connection)) => {
            let idle_timeout = limits.ws_idle_timeout();
            tokio::spawn(async move {
                tokio::select! {
                    () = connection => {}
                    reason = outbox.closed(idle_timeout) => {
                        // Aborting the TCP stream ends jsonrpsee's tasks and frees the
                        // queued answers; a close frame could not reach a reader whose
                        // window is full anyway. Mounted without `crate::serve` there is
                        // no switch, and dropping the connection future is all we can do.
                        tracing::warn!(?reason, conn_id, "closing a WebSocket");
                        if let Some(kill) = kill {
                            kill.kill();
                        }
                    }
                }
                drop(universe_place);
            });
            response.map(Body::new)
        }
        Err(response) => response.map(Body::new),
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
