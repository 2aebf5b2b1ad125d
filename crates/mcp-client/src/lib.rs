//! The MCP client the worker uses inside activities, over the official Rust SDK
//! (`rmcp`): Streamable HTTP and stdio servers, pooled per server key.
//!
//! - [`McpPool`] holds one connection per server key (a string the caller builds), reconnects
//!   when a call brings a different credential or transport, closes idle ones,
//!   evicts the least recently used, restarts dead stdio servers with backoff.
//! - [`McpPool::list_tools`] and [`McpPool::call_tool`] are bounded
//!   ([`ListLimits`], [`CallOptions::output_bytes_max`]) and time-limited; a timed
//!   out call is cancelled on the server (`notifications/cancelled`).
//! - Every failure is an [`McpError`] with an [`ErrorKind`]; a tool's own failure
//!   is a [`CallOutput`] with `is_error: true`.
//!
//! What this crate must not do: depend on any crate of this workspace; log, print
//! or put in an error a [`Credential`] value; follow HTTP redirects (a credential
//! header would follow them); retry calls (the caller's retry policy decides, a
//! tool may have effects); let a stdio child outlive its connection.

mod call;
mod connection;
mod error;
mod http;
mod pool;
mod tools;
mod transport;

pub use call::{
    CALL_TIMEOUT_DEFAULT, CallOptions, CallOutput, Content, OUTPUT_BYTES_MAX_DEFAULT, Progress,
    TRUNCATION_MARKER,
};
pub use error::{ErrorKind, MESSAGE_BYTES_MAX, McpError};
pub use pool::{EntryStats, McpPool, PoolConfig, PoolStats, SERVER_KEY_BYTES_MAX};
pub use tools::{DESCRIPTION_TRUNCATION_MARKER, ListLimits, ToolInfo};
pub use transport::{Credential, HEADERS_MAX, Transport};
