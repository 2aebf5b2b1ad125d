//! Test infrastructure: an in-process [`runner::SessionRunner`] that drives the engine
//! against a store and the adapter traits of the `effects` crate (re-exported in
//! [`adapters`] and [`vfs_tools`]), scripted adapters, a deterministic listing
//! compactor, the store, VFS, MCP and environment catalog conformance suites every
//! storage backend must pass, [`rpc_client`], the helpers of the black-box gateway
//! tests, and [`api_conformance`], the black-box suite every API host must pass.
//!
//! Not a production runtime: durability and retries belong to the Temporal host.

pub mod adapters;
pub mod api_conformance;
pub mod compactor;
pub mod conformance;
pub mod counting;
pub mod env_conformance;
pub mod fake_provider;
pub mod fork_conformance;
pub mod idle;
pub mod local_api;
pub mod mcp_conformance;
pub mod mcp_servers;
pub mod memory_conformance;
pub mod rpc_client;
pub mod runner;
pub mod runtime_llm;
pub mod schedule_conformance;
pub mod scripted_llm;
pub mod tools;
pub mod vfs_conformance;
pub mod vfs_tools;
