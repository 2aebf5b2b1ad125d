//! Lightspeed's client-facing contract.
//!
//! [`methods`] holds the one method table. From it come the [`LightspeedApi`] trait
//! every backend implements, the [`dispatch`] function the gateway calls, and the
//! contract artifacts in `interop/contract/` ([`contract`]), regenerated with
//! `cargo run -p api --bin export-schema`; a test fails while they are stale.
//!
//! Wire conventions: camelCase fields, `type`-tagged unions, string ids, integer
//! `*Ms` timestamps, cursor pagination, params objects (by name).
//!
//! What this crate must not do: depend on the engine's internals or on any transport
//! (no jsonrpsee, no axum here); hold behaviour beyond the table and (de)serialisation.

pub mod contract;
mod schema_shape;
/// The environment daemon's frames (not JSON-RPC), re-exported for the daemon and
/// the gateway, which both speak the contract too.
pub use env_protocol;
pub mod error;
pub mod methods;
pub mod types;

pub use error::{ApiError, ErrorData, ErrorKind, Quota};
pub use methods::{
    Caller, LightspeedApi, METHODS, MethodSpec, OPERATOR_METHOD_PREFIX, SUBSCRIPTIONS,
    SubscriptionSpec, Unserved, check_role, dispatch, handshake, subscribe,
};

/// Version of the contract; bumped on incompatible changes.
pub const PROTOCOL_VERSION: u32 = 1;
