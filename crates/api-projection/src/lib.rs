//! The boundary between Lightspeed's client contract (`api`) and its engine.
//!
//! Two directions, one module each:
//!
//! - [`inputs`]: API params become validated engine values ([`SessionConfig`],
//!   [`ConfigPatch`], [`RunOverrides`], ids, blob refs) or an [`api::ApiError`] of the
//!   right kind. Provider params are checked with the llm-runtime adapter of the
//!   route's API kind here, so params a provider would refuse never reach the log.
//!   Engine [`Rejection`]s map to stable wire errors through [`rejection`].
//! - [`views`]: engine control state and committed log entries become the views
//!   clients read ([`api::types::session::SessionView`], [`api::types::events::EventView`]).
//!   Clients never see engine vocabulary: event payloads, context items, provider
//!   envelopes and snake_case field names stop here.
//!
//! Backends (the in-process runtime, the Temporal runtime) also share the method
//! bodies that need only a store: [`items`] (run, steer and instructions input
//! written to the CAS as item specs), [`blobs`] (`blob/*`), [`vfs`] (the optional
//! `vfs/*` methods over a store that is also a VFS catalog) and
//! [`filesystem`] (the file tools a session's `filesystem` setting registers, and the
//! mode its view reports). The gateway only dispatches.
//!
//! What this crate must not do: perform I/O other than through the store traits
//! ([`engine::store::BlobStore`], `vfs::VfsCatalog`); mutate or drive engine state
//! (it reads [`ControlState`] and [`engine::LogEntry`] values, it never admits
//! commands or appends); know any transport (no JSON-RPC, HTTP or WebSocket types);
//! panic on stored content (a missing blob is a [`ProjectionError`], an event it cannot
//! decode is rendered without detail).
//!
//! [`SessionConfig`]: engine::core::config::SessionConfig
//! [`ConfigPatch`]: engine::core::config::ConfigPatch
//! [`RunOverrides`]: engine::core::config::RunOverrides
//! [`Rejection`]: engine::core::command::Rejection
//! [`ControlState`]: engine::core::control::ControlState

/// The tool whose presence says a session has the durable time tools
/// (`effects::timer_tools`, registered together by `tools.timers`).
pub const TIMERS_MARKER_TOOL: &str = "wake_me_at";
/// The tool whose presence says a session has the sub-agent tools (`tools.agents`).
pub const AGENTS_MARKER_TOOL: &str = "agent_spawn";

pub mod blobs;
pub mod error;
pub mod filesystem;
pub mod inputs;
pub mod items;
pub mod mcp;
pub mod vfs;
pub mod views;

pub use error::ProjectionError;
pub use inputs::{
    PreparedInput, PreparedSession, TextOrRef, blob_ref, config_patch, prepare_input,
    prepare_session, rejection, run_id, run_overrides, session_id, submission_id,
};
pub use views::{
    TOOL_OUTPUT_VIEW_BYTES_MAX, event_view, run_failure_view, session_summary, session_view,
};
