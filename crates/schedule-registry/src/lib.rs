//! A universe's schedules, as clients and agents manage them.
//!
//! - [`spec`]: when a schedule fires: every N seconds (at least
//!   [`spec::INTERVAL_SECONDS_MIN`], aligned to the Unix epoch as Temporal aligns
//!   intervals) or a 5-field cron expression in an optional IANA time zone, checked
//!   before anything else and restricted to what Temporal's and our own evaluation
//!   agree on ([`spec::ScheduleSpec::next_after_ms`] is the one next-time function);
//! - [`schedule`]: the record (id, name, spec, target session or a template for a
//!   fresh session per firing, input text, overlap policy, paused flag, revision,
//!   times, the last firing) and its patch;
//! - [`catalog`]: the `ScheduleCatalog` trait every store implements (memory here,
//!   store-fs, store-pg; one conformance suite in test-support), the cap, and the
//!   decisions every implementation shares, among them [`catalog::decide_claim`],
//!   which coalesces a missed window into one firing;
//! - [`scheduler`]: the `Scheduler` a host provides (Temporal Schedules, or a
//!   timer task in process) and [`ops`], the changes that keep a record and its
//!   scheduler entry in step, shared by the API service and the agent's tools;
//! - [`memory`]: the reference catalog, maps behind a mutex.
//!
//! What this crate must not do: I/O, read a clock, draw randomness or need an async
//! runtime (times arrive as arguments; the traits are implemented elsewhere); hold
//! anything of another universe (a catalog is one universe's); put a schedule's
//! input text or template in an error message.

pub mod catalog;
pub mod error;
pub mod memory;
pub mod ops;
pub mod schedule;
pub mod scheduler;
pub mod spec;

pub use catalog::{Claim, SCHEDULES_PER_UNIVERSE_MAX_DEFAULT, ScheduleCatalog};
pub use error::ScheduleError;
pub use memory::MemoryScheduleCatalog;
pub use schedule::{
    Firing, FiringOutcome, OverlapPolicy, Schedule, ScheduleId, SchedulePatch, ScheduleTarget,
    firing_key,
};
pub use scheduler::{Scheduler, SchedulerError};
pub use spec::ScheduleSpec;
