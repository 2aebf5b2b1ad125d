//! The gateway's limits and address, each with its documented default.

use std::net::{Ipv4Addr, SocketAddr};

/// How the gateway listens and what it bounds. Every limit is enforced before the
/// backend sees a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Where to listen. Default `127.0.0.1:18080`: loopback only, so a fresh install
    /// is not reachable from the network until someone chooses to expose it.
    pub bind: SocketAddr,
    /// Largest JSON-RPC request, HTTP body or WebSocket message. Default 1 MiB: small
    /// blobs travel inline as base64, large ones through `PUT /blobs/{ref}`. Beyond it
    /// HTTP answers 413 with a JSON-RPC error and WebSocket answers a JSON-RPC error.
    pub rpc_body_bytes_max: u32,
    /// Largest JSON-RPC response. Default 10 MiB (jsonrpsee's own default); a larger
    /// result becomes an error rather than an unbounded write.
    pub rpc_response_bytes_max: u32,
    /// Calls in one JSON-RPC batch. Default 16; a larger batch is refused whole.
    pub rpc_batch_calls_max: u32,
    /// Largest blob accepted by `PUT /blobs/{ref}`. Default 64 MiB; beyond it: 413.
    pub blob_bytes_max: u64,
    /// Calls in flight on one connection (one WebSocket, or one HTTP request, which
    /// holds a single call or a sequential batch). Default 32; the call beyond it is
    /// answered at once with `-32001` (`data.kind = "overloaded"`), never queued.
    /// Unsubscribe calls are never refused.
    pub connection_in_flight_max: u32,
    /// JSON-RPC connections at once: open WebSockets plus HTTP requests being served
    /// on `/rpc`. Default 1,024; beyond it the HTTP request or WebSocket upgrade gets
    /// 429.
    pub connections_max: u32,
    /// Subscriptions open on one WebSocket. Default 1,024 (jsonrpsee's default);
    /// beyond it `*/subscribe` answers a JSON-RPC error.
    pub connection_subscriptions_max: u32,
    /// Messages buffered for one WebSocket before it counts as slow. Default 1,024
    /// notifications. A subscription whose notification does not fit is dropped (with
    /// a close notification, `data.reason = "subscriberTooSlow"`) instead of making
    /// the backend wait; the client resubscribes from its last cursor.
    pub subscription_buffer_max: u32,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 18080)),
            rpc_body_bytes_max: 1024 * 1024,
            rpc_response_bytes_max: 10 * 1024 * 1024,
            rpc_batch_calls_max: 16,
            blob_bytes_max: 64 * 1024 * 1024,
            connection_in_flight_max: 32,
            connections_max: 1024,
            connection_subscriptions_max: 1024,
            subscription_buffer_max: 1024,
        }
    }
}
