#![allow(clippy::unwrap_used, clippy::expect_used)]
//! auth-registry integration tests: the whole OAuth path against a real
//! authorization server (oauth2-mock-server under node, `interop/test-servers`),
//! and the registry's refusals over the in-memory catalog.

#[path = "all/oauth_server.rs"]
mod oauth_server;

#[path = "all/oauth_flow.rs"]
mod oauth_flow;

#[path = "all/registry.rs"]
mod registry;
