//! The axum app: `/rpc` (JSON-RPC over HTTP and WebSocket, served by jsonrpsee as a
//! tower service), the blob routes, `/health` and `/ready`.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use api::LightspeedApi;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post, put};
use jsonrpsee::server::middleware::rpc::RpcServiceBuilder;
use jsonrpsee::server::{
    BatchRequestConfig, ConnectionState, Methods, PingConfig, Server, ServerConfig, ServerHandle,
    StopHandle, TowerServiceBuilder, stop_channel, ws,
};
use tokio::sync::Semaphore;
use tower::Service as _;
use tower::layer::util::{Identity, Stack};

use crate::GatewayError;
use crate::auth::{self, AuthOutcome, Denial, ResolveKey, SocketKey};
use crate::blobs::{self, BlobState};
use crate::config::GatewayConfig;
use crate::connections::{Connections, NoPlace, UniversePlace};
use crate::envelope;
use crate::keys::KeyStore;
use crate::killable::{ConnKill, KillSwitch};
use crate::limits::{GatewayRpcLayer, Transport};
use crate::operator::KeyAdmin;
use crate::outbox::{CloseReason, OutboundBytes, Outbox};
use crate::rpc;
use crate::ws_auth::WsAuth;

type RpcServiceBuilderType = TowerServiceBuilder<Stack<GatewayRpcLayer, Identity>, Identity>;

struct RpcEndpoint<K> {
    keys: Arc<K>,
    methods: Methods,
    services: RpcServiceBuilderType,
    /// jsonrpsee's config for WebSockets, driven through `ws::connect`.
    ws_config: ServerConfig,
    ws_middleware: RpcServiceBuilder<Stack<GatewayRpcLayer, Identity>>,
    connections: Arc<Connections>,
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
    let module = rpc::module(Arc::clone(&api), Arc::clone(&keys) as Arc<dyn KeyAdmin>)
        .map_err(GatewayError::MethodTable)?;
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
        connections: Arc::new(Connections::new(
            config.connections_max,
            config.universe_connections_max,
            config.ws_preauth_connections_max,
            config.universe_in_flight_bytes_max,
        )),
        conn_ids: AtomicU32::new(0),
        limits: config.clone(),
        stop,
        _server: server.clone(),
    });
    let blob_state = Arc::new(BlobState {
        api: Arc::clone(&api),
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
    let callback_routes = Router::new()
        .route(
            "/auth/callback",
            get(crate::oauth_callback::auth_callback::<A>).layer(
                tower::limit::ConcurrencyLimitLayer::new(
                    crate::oauth_callback::CALLBACKS_IN_FLIGHT_MAX,
                ),
            ),
        )
        .with_state(Arc::clone(&api));
    let env_routes = Router::new()
        .route(
            api::env_protocol::CONNECT_PATH,
            get(crate::env_socket::connect::<A>),
        )
        .with_state(Arc::new(crate::env_socket::EnvEndpoint {
            api: Arc::clone(&api),
            sockets: std::sync::atomic::AtomicUsize::new(0),
            sockets_max: config.env_sockets_max,
        }));
    let hook_routes = Router::new()
        .route(
            "/hooks/{name}",
            post(crate::hooks::deliver::<A>).layer(tower::limit::ConcurrencyLimitLayer::new(
                crate::hooks::HOOKS_IN_FLIGHT_MAX,
            )),
        )
        .with_state(Arc::new(crate::hooks::HookEndpoint {
            api: Arc::clone(&api),
            hooks: config.hooks.clone(),
            body_bytes_max: config.hook_body_bytes_max,
            body_read: config.rpc_body_read(),
        }));
    let probe_routes = Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .route("/ready", get(ready_probe))
        .with_state(Arc::clone(&ready));
    let router = Router::new()
        .merge(rpc_routes)
        .merge(blob_routes)
        .merge(callback_routes)
        .merge(env_routes)
        .merge(hook_routes)
        .merge(probe_routes)
        .merge(crate::console::routes());
    Ok((router, RouterHandle { server, ready }))
}

/// Resolves the caller once per HTTP request or WebSocket upgrade, takes a
/// connection place, then hands the request to jsonrpsee.
async fn rpc_endpoint<K: KeyStore>(
    State(endpoint): State<Arc<RpcEndpoint<K>>>,
    mut request: Request,
) -> Response {
    let outcome = auth::resolve(endpoint.keys.as_ref(), request.headers()).await;
    let sent_key = request.headers().contains_key(AUTHORIZATION);
    // A socket's key is looked up again while it is open (revocation); by hash.
    let key_hash = auth::bearer_hash(request.headers());
    // The key has done its work. Dropping it here keeps it out of jsonrpsee, whose
    // trace-level logs print whole requests, headers included.
    request.headers_mut().remove(AUTHORIZATION);
    if ws::is_upgrade_request(&request) {
        websocket(&endpoint, request, outcome, (sent_key, key_hash)).await
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
    refusal(StatusCode::TOO_MANY_REQUESTS, no_place.to_api_error())
}

/// One JSON-RPC request over HTTP: its envelope is checked here (see `envelope`),
/// then jsonrpsee answers it. Callers without a valid key get their `-32000` from
/// the middleware, at the JSON-RPC level, so JSON-RPC clients see it.
async fn http<K: KeyStore>(
    endpoint: &RpcEndpoint<K>,
    request: Request,
    outcome: AuthOutcome,
) -> Response {
    let place = match endpoint.connections.acquire(universe_of(&outcome)) {
        Ok(place) => place,
        Err(no) => return no_place(no),
    };
    let (parts, body) = request.into_parts();
    // The universe's request budget is held until the answer is made: the body is
    // parsed and its calls served under it.
    let (body, _work) = if parts.method == Method::POST {
        let limits = &endpoint.limits;
        let read = envelope::read_body(body, limits.rpc_body_bytes_max, limits.rpc_body_read());
        let bytes = match read.await {
            Ok(bytes) => bytes,
            Err(violation) => return violation.into_response(),
        };
        let work = match place.work() {
            Some(work) => work.enter(bytes.len()).await,
            None => None,
        };
        if let Err(violation) = envelope::check(&bytes, endpoint.limits.rpc_batch_calls_max) {
            return violation.into_response();
        }
        (Body::from(bytes), work)
    } else {
        (body, None)
    };
    let mut request = Request::from_parts(parts, body);
    if telemetry::traces::enabled() {
        let parent = telemetry::traces::extract(request.headers());
        request
            .extensions_mut()
            .insert(crate::traced::RemoteParent(parent));
    }
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

/// What a WebSocket holds while it is open.
enum Held {
    /// Opened with a key: its universe's place (the total place went to jsonrpsee).
    Universe { _place: Option<UniversePlace> },
    /// Opened without a key: its places follow its `auth/hello`.
    PreAuth(Arc<WsAuth>),
}

/// A WebSocket upgrade: with a valid key, served as its caller; without a key
/// header (browsers), served in a pre-auth state until its `auth/hello`
/// (`ws_auth`); refused with 401 for a wrong key, with 429 without a place.
/// Otherwise served by jsonrpsee on a task this gateway owns, which closes the
/// socket once its [`Outbox`] says the reader fell behind or idled, or its
/// authentication failed.
async fn websocket<K: KeyStore>(
    endpoint: &RpcEndpoint<K>,
    mut request: Request,
    outcome: AuthOutcome,
    (sent_key, key_hash): (bool, Option<String>),
) -> Response {
    let limits = &endpoint.limits;
    let kill = request
        .extensions()
        .get::<ConnectInfo<ConnKill>>()
        .map(|info| Arc::clone(&info.0.0));
    // Bytes are counted down as frames leave the killable stream; without one they
    // could not be, so only messages are bounded then.
    let bytes = kill
        .as_ref()
        .map(|_| OutboundBytes::new(limits.ws_queued_bytes_max));
    let outbox = Outbox::new(
        limits.ws_queued_messages_max,
        limits.ws_reply_wait(),
        bytes.clone(),
    );
    let key = Arc::new(SocketKey::default());
    let (permit, held) = match outcome {
        AuthOutcome::Caller(caller) => {
            if let Some(key_hash) = key_hash {
                key.set(key_hash);
            }
            let place = match endpoint.connections.acquire(Some(&caller.universe_id)) {
                Ok(place) => place,
                Err(no) => return no_place(no),
            };
            request.extensions_mut().insert(AuthOutcome::Caller(caller));
            if let Some(work) = place.work() {
                request.extensions_mut().insert(work);
            }
            let (permit, universe_place) = place.into_parts();
            (
                permit,
                Held::Universe {
                    _place: universe_place,
                },
            )
        }
        AuthOutcome::Denied(Denial::MissingKey)
            if !sent_key && limits.ws_preauth_connections_max > 0 =>
        {
            let preauth = match endpoint.connections.acquire_preauth() {
                Ok(preauth) => preauth,
                Err(no) => return no_place(no),
            };
            // jsonrpsee wants a permit per connection; this socket's real places are
            // held by its auth state, which trades the pre-auth place for a
            // universe's on `auth/hello`.
            let Ok(permit) = Arc::new(Semaphore::new(1)).try_acquire_owned() else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let keys: Arc<dyn ResolveKey> = Arc::clone(&endpoint.keys) as Arc<dyn ResolveKey>;
            let auth = WsAuth::new(
                preauth,
                keys,
                Arc::clone(&endpoint.connections),
                Arc::clone(&outbox),
                Arc::clone(&key),
            );
            request
                .extensions_mut()
                .insert(AuthOutcome::Denied(Denial::MissingKey));
            request.extensions_mut().insert(Arc::clone(&auth));
            (permit, Held::PreAuth(auth))
        }
        AuthOutcome::Denied(
            denial @ (Denial::MissingKey | Denial::UnknownKey | Denial::Revoked),
        ) => {
            return refusal(StatusCode::UNAUTHORIZED, denial.to_api_error());
        }
        AuthOutcome::Denied(denial @ Denial::StoreFailed) => {
            return refusal(StatusCode::SERVICE_UNAVAILABLE, denial.to_api_error());
        }
    };
    request.extensions_mut().insert(Transport::WebSocket);
    request.extensions_mut().insert(Arc::clone(&outbox));
    let conn_id = endpoint.conn_ids.fetch_add(1, Ordering::Relaxed);
    let conn = ConnectionState::new(endpoint.stop.clone(), conn_id, permit);
    if let Some(kill) = &kill {
        kill.arm(bytes);
    }
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
            let withdrawn = auth::key_withdrawn(
                Arc::clone(&endpoint.keys) as Arc<dyn ResolveKey>,
                key,
                limits.key_recheck(),
            );
            let watch = SocketWatch {
                outbox,
                kill,
                held,
                withdrawn: Box::pin(withdrawn),
                conn_id,
                idle_timeout: limits.ws_idle_timeout(),
                auth_timeout: limits.ws_auth_timeout(),
                close_wait: limits.ws_close_wait(),
            };
            tokio::spawn(watch.serve(connection));
            response.map(Body::new)
        }
        Err(response) => {
            if let Some(kill) = &kill {
                kill.disarm();
            }
            response.map(Body::new)
        }
    }
}

/// Counts an open WebSocket down when dropped.
struct OpenSocket;

impl Drop for OpenSocket {
    fn drop(&mut self) {
        telemetry::metrics().ws_closed();
    }
}

/// Drives one WebSocket and closes it when the gateway must.
struct SocketWatch {
    outbox: Arc<Outbox>,
    /// `None` when mounted without [`crate::serve`]: then dropping jsonrpsee's
    /// connection future is all the gateway can do (no Close frame).
    kill: Option<Arc<KillSwitch>>,
    held: Held,
    /// Resolves once the socket's key is revoked ([`auth::key_withdrawn`]).
    withdrawn: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    conn_id: u32,
    idle_timeout: Duration,
    auth_timeout: Duration,
    close_wait: Duration,
}

impl SocketWatch {
    async fn serve(mut self, connection: impl Future<Output = ()>) {
        telemetry::metrics().ws_opened();
        // Decremented however this future ends (a dropped task included).
        let _open = OpenSocket;
        tokio::pin!(connection);
        let auth = match &self.held {
            Held::PreAuth(auth) => Some(Arc::clone(auth)),
            Held::Universe { .. } => None,
        };
        let deadline = auth_deadline(auth.clone(), self.auth_timeout);
        let reason = tokio::select! {
            () = &mut connection => None,
            reason = Arc::clone(&self.outbox).closed(self.idle_timeout) => Some(reason),
            () = deadline => None,
            () = &mut self.withdrawn => Some(CloseReason::KeyRevoked),
        };
        if let Some(reason) = reason {
            tracing::warn!(
                ?reason,
                code = reason.code(),
                conn_id = self.conn_id,
                "closing a WebSocket"
            );
            if let Some(kill) = &self.kill {
                let close = kill.close(
                    reason.code(),
                    reason.text(),
                    reason.drains_first(),
                    self.close_wait,
                );
                // jsonrpsee keeps writing what goes before the Close frame.
                tokio::select! {
                    () = &mut connection => {}
                    () = close => {}
                }
                // Cut in every case: the connection may have ended first.
                kill.kill();
            }
        }
        if let Some(auth) = auth {
            auth.release();
        }
        drop(self.held);
    }
}

/// Ends the authentication of a socket opened without a key after `timeout` (the
/// socket then closes through its outbox); never resolves.
async fn auth_deadline(auth: Option<Arc<WsAuth>>, timeout: Duration) {
    if let Some(auth) = auth {
        tokio::time::sleep(timeout).await;
        auth.expire();
    }
    std::future::pending::<()>().await;
}

/// Liveness: the process answers.
/// The process's metrics in the Prometheus text format (docs/operating/metrics.md):
/// counts and latencies only, no ids or content, so it needs no key; deployments
/// that expose the gateway publicly keep `/metrics` to their network.
async fn metrics() -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        telemetry::metrics().render(),
    )
        .into_response()
}

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
