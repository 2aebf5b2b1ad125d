//! Gateway integration tests: real jsonrpsee clients and raw HTTP against `serve` on
//! 127.0.0.1:0, over a deterministic mock backend.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod auth;
mod blobs;
mod console;
mod keys;
mod limits;
mod load;
mod mock;
mod protocol;
mod rpc;
mod subscriptions;
mod support;
mod websocket;
mod wire;
mod ws_auth;
