//! Lightspeed's deterministic session kernel.
//!
//! A command becomes events in the session log; events fold into state; the planner
//! turns state into the next [`drive::Action`]. Everything here is a pure function of
//! its inputs: time and ids arrive inside commands, and replaying a log yields the
//! same state byte for byte ([`canonical`]).
//!
//! What this crate must not do: perform I/O, read a clock, draw randomness, depend on
//! an async runtime, or iterate a hash map into an output. The workspace's layering
//! test (`crates/architecture`) fails if it gains tokio, reqwest, hyper, sqlx,
//! temporalio or rand as a dependency.

pub mod blob_ref;
pub mod canonical;
pub mod core;
pub mod drive;
pub mod fork;
pub mod ids;
pub mod log;
pub mod memory;
pub mod rehydrate;
pub mod store;

pub use blob_ref::BlobRef;
pub use drive::{Action, Drive};
pub use ids::{RunId, SessionId, SubmissionId, ToolCallId};
pub use log::{LogEntry, Seq};
