//! The gateway's limits and address, each with its documented default.
//!
//! The `server` binary reads every field from a `LIGHTSPEED_GATEWAY_*` variable
//! (see `temporal-server/src/serve.rs` and `.env_example`); the defaults are the
//! ones below.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How the gateway listens and what it bounds. Every limit is enforced before the
/// backend sees a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Where to listen. Default `127.0.0.1:18080`: loopback only, so a fresh install
    /// is not reachable from the network until someone chooses to expose it.
    pub bind: SocketAddr,
    /// Largest JSON-RPC request: HTTP body or WebSocket message. Default 1 MiB: small
    /// blobs travel inline as base64, large ones through `PUT /blobs/{ref}`. Beyond it
    /// HTTP answers 413 and WebSocket answers, both with `-32600`
    /// (`data.reason = "requestTooLarge"`). `LIGHTSPEED_GATEWAY_RPC_BODY_BYTES_MAX`.
    pub rpc_body_bytes_max: u32,
    /// How long reading one HTTP request body on `/rpc` may take. Default 10,000 ms;
    /// beyond it: 408 with `-32600` (`data.reason = "bodyTimeout"`), so a client that
    /// trickles its body cannot hold a connection place.
    /// `LIGHTSPEED_GATEWAY_RPC_BODY_READ_MS`.
    pub rpc_body_read_ms: u64,
    /// Largest JSON-RPC response. Default 10 MiB (jsonrpsee's own default); a larger
    /// result becomes an error rather than an unbounded write.
    /// `LIGHTSPEED_GATEWAY_RPC_RESPONSE_BYTES_MAX`.
    pub rpc_response_bytes_max: u32,
    /// Calls in one JSON-RPC batch. Default 16; a larger batch is refused whole with
    /// `-32600` (`data.reason = "batchTooLarge"`). `LIGHTSPEED_GATEWAY_RPC_BATCH_CALLS_MAX`.
    pub rpc_batch_calls_max: u32,
    /// Largest blob accepted by `PUT /blobs/{ref}`. Default 64 MiB; beyond it: 413.
    /// `LIGHTSPEED_GATEWAY_BLOB_BYTES_MAX`.
    pub blob_bytes_max: u64,
    /// Calls in flight on one connection (one WebSocket, or one HTTP request, which
    /// holds a single call or a sequential batch). Default 32; the call beyond it is
    /// answered at once with `-32001` (`data.kind = "overloaded"`), never queued.
    /// Unsubscribe calls are never refused. `LIGHTSPEED_GATEWAY_CONNECTION_IN_FLIGHT_MAX`.
    pub connection_in_flight_max: u32,
    /// JSON-RPC connections at once: open WebSockets plus HTTP requests being served
    /// on `/rpc`. Default 1,024; beyond it the HTTP request or WebSocket upgrade gets
    /// 429 (`data.reason = "connections"`). Requests without a valid key take none of
    /// these places but one of 64 of their own. `LIGHTSPEED_GATEWAY_CONNECTIONS_MAX`.
    pub connections_max: u32,
    /// JSON-RPC connections at once of one universe (all its keys). Default 256, a
    /// quarter of [`Self::connections_max`], so one tenant cannot take every place;
    /// beyond it: 429 (`data.reason = "universeConnections"`).
    /// `LIGHTSPEED_GATEWAY_UNIVERSE_CONNECTIONS_MAX`.
    pub universe_connections_max: u32,
    /// Request bytes (HTTP bodies, WebSocket call params) of one universe served at
    /// once, over all its connections. Default 2 MiB, two of the largest requests:
    /// a universe sending many large calls gets them served a few at a time (queued,
    /// in order) instead of keeping every runtime thread busy while other universes
    /// wait; small calls pass freely. A request larger than this is served alone. 0
    /// turns the budget off. `LIGHTSPEED_GATEWAY_UNIVERSE_IN_FLIGHT_BYTES_MAX`.
    pub universe_in_flight_bytes_max: u32,
    /// Subscriptions open on one WebSocket. Default 1,024 (jsonrpsee's default);
    /// beyond it `*/subscribe` answers a JSON-RPC error.
    /// `LIGHTSPEED_GATEWAY_CONNECTION_SUBSCRIPTIONS_MAX`.
    pub connection_subscriptions_max: u32,
    /// Outbound messages (answers and notifications) buffered for one WebSocket.
    /// Default 256. A subscription whose notification does not fit is dropped (with a
    /// close notification, `data.reason = "subscriberTooSlow"`); answers that cannot
    /// be buffered wait, and a socket with more than this many waiting answers, or
    /// one answer waiting longer than [`Self::ws_reply_wait_ms`], is closed: its reader
    /// fell behind (Close code 1008). `LIGHTSPEED_GATEWAY_WS_QUEUED_MESSAGES_MAX`.
    pub ws_queued_messages_max: u32,
    /// Outbound bytes (answers and notifications produced and not yet written to
    /// the TCP stream) of one WebSocket. Default 16 MiB: one answer at
    /// [`Self::rpc_response_bytes_max`] plus room, so a few huge answers (`blob/get`)
    /// cannot hold unbounded memory while 256 small ones still fit. A call arriving
    /// while the socket is at the bound waits before it runs, for at most
    /// [`Self::ws_reply_wait_ms`], then the socket is closed as a slow reader (1008);
    /// a notification that does not fit drops its subscription (`subscriberTooSlow`).
    /// One message always fits an empty queue. Applies to gateways started with
    /// [`crate::serve`] (which sees the frames leave).
    /// `LIGHTSPEED_GATEWAY_WS_QUEUED_BYTES_MAX`.
    pub ws_queued_bytes_max: u64,
    /// How long one answer may wait for room in its socket's buffer before the socket
    /// is closed as a slow reader. Default 10,000 ms. `LIGHTSPEED_GATEWAY_WS_REPLY_WAIT_MS`.
    pub ws_reply_wait_ms: u64,
    /// How long closing a WebSocket may take: writing the Close frame after what must
    /// go first, and reading until the client closes its side. Default 2,000 ms;
    /// then the TCP connection is aborted, so a reader that never reads holds nothing
    /// longer. `LIGHTSPEED_GATEWAY_WS_CLOSE_WAIT_MS`.
    pub ws_close_wait_ms: u64,
    /// How long a WebSocket opened without a key (browsers cannot send headers on
    /// upgrade) may take to send `auth/hello`. Default 5,000 ms; then it is closed
    /// with 1008. `LIGHTSPEED_GATEWAY_WS_AUTH_TIMEOUT_MS`.
    pub ws_auth_timeout_ms: u64,
    /// How often an open WebSocket's key is looked up again, so a revoked key's
    /// sockets close (1008) within this long on every gateway. Default 5,000 ms.
    /// `LIGHTSPEED_GATEWAY_KEY_RECHECK_MS`.
    pub key_recheck_ms: u64,
    /// WebSockets opened without a key and not yet authenticated, at once. Default
    /// 64, a pool apart from [`Self::connections_max`] and every universe's places
    /// (whose socket it is is not known yet), so unauthenticated sockets cannot take
    /// a tenant's place; beyond it the upgrade gets 429
    /// (`data.reason = "preAuthConnections"`). 0 turns first-message authentication
    /// off (such upgrades get 401). `LIGHTSPEED_GATEWAY_WS_PREAUTH_CONNECTIONS_MAX`.
    pub ws_preauth_connections_max: u32,
    /// How often the server pings each WebSocket. Default 30,000 ms; a socket that
    /// answers no ping within twice this is closed (dead peer).
    /// `LIGHTSPEED_GATEWAY_WS_PING_INTERVAL_MS`.
    pub ws_ping_interval_ms: u64,
    /// A WebSocket with no call and no open subscription for this long is closed.
    /// Default 300,000 ms (5 min): answering pings alone does not keep a place.
    /// `LIGHTSPEED_GATEWAY_WS_IDLE_TIMEOUT_MS`.
    pub ws_idle_timeout_ms: u64,
    /// Environment daemons' sockets (`GET /env/connect`) held at once, apart from
    /// the places above; beyond it the upgrade gets 429. Default 1,024.
    /// `LIGHTSPEED_GATEWAY_ENV_SOCKETS_MAX`.
    pub env_sockets_max: usize,
    /// Webhooks served at `POST /hooks/{name}` (`crate::hooks`). Default none;
    /// `LIGHTSPEED_HOOKS_FILE` names the file the server reads them from.
    pub hooks: crate::Hooks,
    /// Largest webhook delivery body. Default 1 MiB; beyond it: 413.
    /// `LIGHTSPEED_GATEWAY_HOOK_BODY_BYTES_MAX`.
    pub hook_body_bytes_max: u64,
}

impl GatewayConfig {
    pub(crate) fn rpc_body_read(&self) -> Duration {
        Duration::from_millis(self.rpc_body_read_ms)
    }

    pub(crate) fn ws_reply_wait(&self) -> Duration {
        Duration::from_millis(self.ws_reply_wait_ms)
    }

    pub(crate) fn ws_close_wait(&self) -> Duration {
        Duration::from_millis(self.ws_close_wait_ms)
    }

    pub(crate) fn ws_auth_timeout(&self) -> Duration {
        Duration::from_millis(self.ws_auth_timeout_ms)
    }

    pub(crate) fn key_recheck(&self) -> Duration {
        // Zero would spin: at least once a second.
        Duration::from_millis(self.key_recheck_ms.max(1_000))
    }

    pub(crate) fn ws_ping_interval(&self) -> Duration {
        Duration::from_millis(self.ws_ping_interval_ms.max(1))
    }

    pub(crate) fn ws_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.ws_idle_timeout_ms.max(1))
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 18080)),
            rpc_body_bytes_max: 1024 * 1024,
            rpc_body_read_ms: 10_000,
            rpc_response_bytes_max: 10 * 1024 * 1024,
            rpc_batch_calls_max: 16,
            blob_bytes_max: 64 * 1024 * 1024,
            connection_in_flight_max: 32,
            connections_max: 1024,
            universe_connections_max: 256,
            universe_in_flight_bytes_max: 2 * 1024 * 1024,
            connection_subscriptions_max: 1024,
            ws_queued_messages_max: 256,
            ws_queued_bytes_max: 16 * 1024 * 1024,
            ws_reply_wait_ms: 10_000,
            ws_close_wait_ms: 2_000,
            ws_auth_timeout_ms: 5_000,
            key_recheck_ms: 5_000,
            ws_preauth_connections_max: 64,
            ws_ping_interval_ms: 30_000,
            ws_idle_timeout_ms: 300_000,
            env_sockets_max: 1_024,
            hooks: crate::Hooks::default(),
            hook_body_bytes_max: 1024 * 1024,
        }
    }
}
