//! A universe's MCP servers and the links that put their tools on sessions.
//!
//! - [`server`]: [`McpServer`], a named server record (transport, how it
//!   authenticates, which of its tools a session may get, timeouts) and the rules a
//!   record must meet before it is stored ([`McpServerSpec::validate`]);
//! - [`link`]: [`SessionLink`], what linking a server to a session registered
//!   (the namespaced tool names and their definitions in the CAS), and
//!   [`tool_name`], the one spelling of a linked tool's name (`server__tool`);
//! - [`catalog`]: the [`McpCatalog`] trait every store implements for one universe,
//!   with [`memory::MemoryMcpCatalog`] as its reference implementation.
//!
//! What this crate must not do: speak MCP, hold or resolve a credential (a record
//! names a secret or grant of the auth registry, never a value), or touch a network,
//! clock or async runtime.

pub mod catalog;
pub mod error;
pub mod link;
pub mod memory;
pub mod server;

pub use catalog::{McpCatalog, PutCondition};
pub use error::{McpBound, McpCatalogError};
pub use link::{LinkMode, LinkedTool, McpOrigin, SessionLink, tool_name};
pub use server::{
    McpAuth, McpServer, McpServerSpec, McpTimeouts, McpTransport, ServerName, StdioPolicy,
    ToolFilter,
};
