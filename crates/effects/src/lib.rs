//! Host-side effects: what a host (the Temporal worker, the in-process runner) calls
//! to perform the drive's actions.
//!
//! - [`adapter`]: the adapter traits ([`LlmAdapter`], [`ToolAdapter`], [`Compactor`]),
//!   and [`AdapterError`] (the token estimate of stored content is
//!   `engine::core::context::estimate_tokens`);
//! - [`vfs_tools`]: [`VfsToolAdapter`], the file tools of `crates/tools` over one
//!   session's mounts;
//! - [`compactor`]: [`LlmCompactor`], compaction by summarisation with the session's
//!   model through `llm-runtime`;
//! - [`toolset`]: [`SessionToolset`], which a host asks for one session's tool
//!   adapter, and [`WorkerTools`], the toolset production hosts serve;
//! - [`context_sources`]: [`ContextSources`], what a session's mounts (and, through
//!   other crates' sources, its memory) put in its context before each generation:
//!   `AGENTS.md`/`CLAUDE.md` files and the skill catalog;
//! - [`env`] and [`env_files`]: the shell and file tools of attached environments,
//!   as jobs of the universe's environment catalog;
//! - [`memory_tools`] and [`memory_source`]: the agent's memory tools over the
//!   universe's memory catalog, and the source pinning a session's memory blocks in
//!   its context;
//! - [`agent_tools`]: the sub-agent tools over the host's [`agent_tools::AgentFleet`].
//! - [`schedule_tools`]: the agent's schedule tools over the universe's schedule
//!   catalog and the host's scheduler.
//! - [`transcriber`]: [`transcriber::LlmTranscriber`], voice notes of run input
//!   transcribed through a provider before the run starts.
//!
//! Hosts own durability and retry policy: adapters classify failures
//! ([`AdapterError`]) and never retry themselves.
//!
//! What this crate must not do: depend on a host (temporal-*, gateway), on the client
//! contract (api) or on test infrastructure (test-support) — its own dependencies are
//! engine, vfs, tools, llm-runtime, the MCP, environment, memory and schedule registries,
//! mcp-client
//! and env-protocol (`crates/architecture`); hand the engine
//! anything but refs and facts (bulky content goes to the CAS); decide anything the
//! engine decides.

pub mod adapter;
pub mod agent_tools;
pub mod compactor;
pub mod context_sources;
pub mod env;
pub mod env_files;
pub mod mcp;
pub mod memory_source;
pub mod memory_tools;
pub mod schedule_tools;
pub mod timer_tools;
pub mod toolset;
pub mod transcriber;
pub mod vfs_tools;

pub use adapter::{AdapterError, Compactor, LlmAdapter, ToolAdapter};
pub use compactor::{LlmCompactor, SummaryLimits};
pub use context_sources::{ContextSource, ContextSources};
pub use toolset::{SessionToolset, WorkerTools};
pub use vfs_tools::VfsToolAdapter;
