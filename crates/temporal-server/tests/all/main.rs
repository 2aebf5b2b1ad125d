//! `server` binary tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api_keys;
mod echo_api;
mod replay;
mod worker_append;
