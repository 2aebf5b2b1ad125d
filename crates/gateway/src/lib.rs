//! Lightspeed's gateway: the one door every client comes through.
//!
//! It serves, over any backend implementing [`api::LightspeedApi`]:
//!
//! | route | what |
//! | --- | --- |
//! | `POST /rpc` | JSON-RPC 2.0 over HTTP: every method of [`api::METHODS`] |
//! | `GET /rpc` (upgrade) | the same over WebSocket, plus [`api::SUBSCRIPTIONS`] |
//! | `PUT /blobs/{ref}` | raw blob upload; the body must hash to `{ref}` |
//! | `GET /blobs/{ref}` | raw blob download (`application/octet-stream`) |
//! | `GET /health` | 200 `ok` while the process answers (no auth) |
//! | `GET /ready` | 200 while serving, 503 once stopping (no auth) |
//! | `GET /metrics` | the process's Prometheus metrics (no auth; counts only) |
//! | `GET /ui`, `/ui/...` | the web console's embedded files (no auth: the app signs in over `/rpc`) |
//!
//! Every other route needs `Authorization: Bearer <key>`. The key resolves, through a
//! [`KeyStore`] holding only key hashes, to an [`api::Caller`]: the universe the
//! request acts in and the key's public id. With a wrong key a WebSocket upgrade gets
//! HTTP 401 before upgrading; without the header at all (browsers cannot send one) it
//! is served in a pre-auth state whose first message must be `auth/hello` with the key,
//! within a deadline, on a small pool of its own (`ws_auth`). Every JSON-RPC call over
//! HTTP without a valid key answers `-32000` with
//! `data: {"kind": "unauthorized", "reason": "missingKey" | "unknownKey"}` (at the
//! JSON-RPC level, so JSON-RPC clients see it), and the blob routes answer HTTP 401
//! with the same error as JSON.
//!
//! Limits ([`GatewayConfig`], each documented there with its default) are enforced
//! before the backend sees a request: body and message sizes, batch sizes,
//! connections in total and per universe, calls in flight per connection (`-32001`
//! overloaded beyond), subscriptions per connection, and an outbound queue per
//! WebSocket bounded in messages and bytes (a subscriber that falls behind is
//! dropped; a socket whose answers pile up unread, or that idles, is closed with a
//! Close frame whose code says why, `outbox::CloseReason`). Malformed JSON, invalid
//! envelopes, unknown methods, wrong params and oversized bodies are answered here with
//! JSON-RPC errors and never reach the backend.
//!
//! How it is wired in jsonrpsee 0.26: the `api` table is registered on one
//! `RpcModule` (`rpc`); an axum handler resolves the caller, takes a connection place
//! (`connections`) and puts the caller in the request's extensions (`app`), then hands
//! HTTP requests to a jsonrpsee `TowerService` (after the envelope check, `envelope`)
//! and WebSocket upgrades to `ws::connect`, driving the connection on its own task
//! over a TCP stream the gateway follows frame by frame and can close or abort
//! (`killable`, `frames`). jsonrpsee copies the extensions into every call, where an
//! RPC middleware created per connection gates auth (answering `auth/hello`), counts
//! calls in flight, bounds params and outbound bytes, and logs (`limits`).
//!
//! What this crate must not do:
//! - hold business logic: it authenticates, bounds, translates and logs; every
//!   decision about sessions, runs and blobs is the backend's;
//! - take a universe from params or headers other than the key: the universe comes
//!   from the key alone (isolation between universes is the backend's job, on the
//!   [`api::Caller`] it is given);
//! - log or store a key: only its SHA-256 is stored and only its public id is logged.

mod app;
mod auth;
mod blobs;
mod config;
mod connections;
mod console;
mod env_socket;
mod envelope;
mod frames;
mod hooks;
mod keys;
mod killable;
mod limits;
mod oauth_callback;
mod operator;
mod operator_universes;
mod outbox;
mod rpc;
mod traced;
mod ws_auth;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

pub use app::{RouterHandle, router};
pub use config::GatewayConfig;
pub use hooks::{HookConfigError, Hooks};
pub use keys::{
    AuditEntry, FileKeyStore, KEY_PREFIX, KeyRecord, KeyStore, KeyStoreError, MemoryKeyStore,
    UniverseRecord, hash_key, mint_key, mint_operator_key,
};
pub use operator::KEY_NAME_BYTES_MAX;

/// How long [`RunningGateway::shutdown`] lets HTTP requests in flight finish before
/// it drops them. Long enough for a `session/events/read` long poll (30 s max) to be
/// cut rather than waited for; clients retry.
const SHUTDOWN_GRACE_MS: u64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("binding {addr} failed: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("reading the bound address failed: {0}")]
    LocalAddr(#[source] std::io::Error),
    /// The `api` method table names a method twice: a bug in the table.
    #[error("registering the api method table failed: {0}")]
    MethodTable(#[source] jsonrpsee::server::RegisterMethodError),
}

/// A gateway serving on its own task.
#[derive(Debug)]
pub struct RunningGateway {
    local_addr: SocketAddr,
    handle: RouterHandle,
    shutdown: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    /// Reloads the hooks file on SIGHUP while the gateway serves.
    hooks_reloader: Option<tokio::task::JoinHandle<()>>,
}

impl RunningGateway {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, closes WebSockets, lets HTTP requests in flight finish for
    /// up to [`SHUTDOWN_GRACE_MS`], then returns.
    pub async fn shutdown(self) {
        if let Some(reloader) = &self.hooks_reloader {
            reloader.abort();
        }
        self.handle.stop();
        // The receiver only goes away when the server task ended already.
        let _ = self.shutdown.send(());
        let mut task = self.task;
        match tokio::time::timeout(Duration::from_millis(SHUTDOWN_GRACE_MS), &mut task).await {
            Ok(Ok(Ok(()))) => tracing::info!(addr = %self.local_addr, "gateway stopped"),
            Ok(Ok(Err(err))) => tracing::error!(error = %err, "gateway server failed"),
            Ok(Err(err)) => tracing::error!(error = %err, "gateway task failed"),
            Err(_) => {
                tracing::warn!(
                    "gateway requests still running after the grace period; dropping them"
                );
                task.abort();
            }
        }
    }
}

/// Binds `config.bind` and serves the gateway over `api` until
/// [`RunningGateway::shutdown`].
pub async fn serve<A: api::LightspeedApi, K: KeyStore>(
    api: Arc<A>,
    keys: Arc<K>,
    config: GatewayConfig,
) -> Result<RunningGateway, GatewayError> {
    let (router, handle) = router(api, keys, &config)?;
    // Before the gateway answers anything: from here a SIGHUP reloads the hooks
    // instead of ending the process.
    let hooks_reloader = hooks::reload_on_hangup(config.hooks.clone());
    let bound = match tokio::net::TcpListener::bind(config.bind).await {
        Ok(listener) => listener
            .local_addr()
            .map(|addr| (listener, addr))
            .map_err(GatewayError::LocalAddr),
        Err(source) => Err(GatewayError::Bind {
            addr: config.bind,
            source,
        }),
    };
    let (listener, local_addr) = match bound {
        Ok(bound) => bound,
        Err(err) => {
            if let Some(reloader) = hooks_reloader {
                reloader.abort();
            }
            return Err(err);
        }
    };
    let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let listener = killable::KillableListener(listener);
        let service = router.into_make_service_with_connect_info::<killable::ConnKill>();
        axum::serve(listener, service)
            .with_graceful_shutdown(async move {
                // A dropped sender means the owner is gone: stop as well.
                let _ = shutdown_rx.await;
            })
            .await
    });
    tracing::info!(addr = %local_addr, "gateway listening");
    Ok(RunningGateway {
        local_addr,
        handle,
        shutdown,
        task,
        hooks_reloader,
    })
}
