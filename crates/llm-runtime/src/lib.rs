//! The LLM runtime: turns the engine's provider-neutral generation request into a
//! provider-native call and back.
//!
//! One adapter per API kind (`openai:responses`, `openai:completions`,
//! `anthropic:messages`) materialises the request from CAS blobs: messages, media,
//! tool calls and results, reasoning items replayed verbatim, provider-native tools,
//! prompt-cache hints. After the call, the materialised request and each raw output
//! item go to the CAS; the engine gets only finish reason, tool calls (arguments by
//! ref), usage (priced from the runtime's [`PriceTable`]), response id and context size.
//!
//! What this crate must not do: put credentials or endpoints into anything it stores;
//! parse provider output beyond the facts the engine branches on; retry (callers own
//! retry policy, using the typed errors' hints); depend on the engine's internals
//! beyond its request and result types.

pub mod adapter;
pub mod anthropic;
pub mod audio;
pub mod catalog;
pub mod content;
pub mod error;
pub mod foreign;
pub mod openai_chat;
pub mod openai_responses;
pub mod params;
pub mod pricing;
pub mod runtime;
pub mod sink;

pub use catalog::{ModelCatalog, ModelEntry, ProviderEntry};
pub use error::{ParamsError, RuntimeError};
pub use params::validate_provider_params;
pub use pricing::{ModelPrice, PriceTable, PricesError};
pub use runtime::{HostedMcpAuth, LlmRuntime, NoHostedMcp, Transport};
pub use sink::{Delta, DeltaKind, DeltaSink, NoDeltas, retry_delta};
