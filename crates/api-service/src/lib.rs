//! The behaviour of every `api::LightspeedApi` method, written once.
//!
//! [`Service`] implements the whole API generically over a [`SessionHost`], the
//! narrow interface in which hosts differ:
//!
//! - how a command is admitted ([`SessionHost::admit`]): a workflow update for the
//!   Temporal host, the in-process drive for the test host; either way the reply
//!   comes once the command's events are committed, or as a typed refusal;
//! - how a host relays live deltas ([`SessionHost::deltas`]);
//! - what makes schedules fire ([`SessionHost::scheduler`]: Temporal Schedules, or
//!   timer tasks in process), each firing coming back through [`ScheduleFirer`];
//! - where a universe's store is ([`SessionHost::stores`]), which also pushes the
//!   commits made to it (`session_stores::StoreProvider::commits`), wherever the
//!   worker runs.
//!
//! Everything else is here, once: input validation and the engine commands it
//! builds (through `api_projection`), control state for views read from the store
//! ([`ControlCache`], so reads never wait behind a generation and work while no
//! worker runs), event reads with long-poll and subscriptions woken by pushed
//! commits (an idle reader costs no store query), session listing as keyset pages
//! of the store's activity index, the blob and VFS methods, and the mapping of
//! every refusal to its contract error.
//!
//! What this crate must not do: know a transport (the gateway dispatches to it),
//! know Temporal or a particular store, drive a session (hosts do), or hold a
//! method body that a host also holds.

mod agents;
mod approvals;
mod auth;
mod context;
mod control;
mod credentials;
mod deletion;
mod dispatch;
mod env;
mod env_hub;
mod errors;
mod events;
mod firing;
mod fork;
mod host;
mod intake;
mod mcp;
mod memory;
mod pins;
mod quotas;
mod schedules;
mod service;
mod sessions;

pub use agents::{AgentLimits, CHILD_BUDGET_SHARE_DIVISOR};
pub use api_projection::inputs::ConfigCeilings;
pub use api_projection::items::InputLimits;
pub use auth::{AuthCallback, AuthSettings};
pub use context::SKILL_BODY_BYTES_MAX;
pub use control::{
    CACHED_SESSIONS_PER_UNIVERSE_MAX_DEFAULT, CACHED_UNIVERSES_MAX_DEFAULT, ControlCache,
};
pub use credentials::StoreCredentials;
pub use events::{
    CATCH_UP_PAGE_ENTRIES, READ_LIMIT_DEFAULT, READ_LIMIT_MAX, SUBSCRIPTION_BUFFER_MAX, WAIT_MS_MAX,
};
pub use firing::{FireFuture, Fired, ScheduleFirer};
pub use host::{Admission, AdmitFailure, RemoteRejection, SessionHost, SessionKey, delta_view};
pub use intake::{EVENTS_DEDUPE_WINDOW_S_DEFAULT, EVENTS_PAYLOAD_BYTES_MAX_DEFAULT, IntakeLimits};
pub use mcp::McpSettings;
pub use pins::BLOB_PINS_PER_UNIVERSE_MAX;
pub use service::{
    Quotas, RUNS_IN_FLIGHT_PER_UNIVERSE_MAX_DEFAULT, SESSIONS_PER_UNIVERSE_MAX_DEFAULT,
    STORED_BYTES_PER_UNIVERSE_MAX_DEFAULT, Service,
};
