//! The effect adapters a [`crate::runner::SessionRunner`] calls. They live in the
//! production `effects` crate (the Temporal worker uses the same traits); this module
//! keeps the paths test code has always used.

pub use effects::adapter::{AdapterError, Compactor, LlmAdapter, ToolAdapter};
