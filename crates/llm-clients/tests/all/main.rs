//! The llm-clients integration tests: one binary, one module per concern.
//!
//! `cargo test -p llm-clients` runs everything except the live module; see `live.rs` for
//! the tests that call the real provider APIs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod classify;
mod config;
mod http;
mod keys;
mod live;
mod retry_after;
mod server;
mod stream;
