//! A universe's environments: machines a daemon (`lightspeed env serve`) lends to its
//! sessions.
//!
//! - [`environment`]: the record (name, token digest, what the daemon last reported)
//!   and the names rules;
//! - [`token`]: environment tokens, minted once, stored as a SHA-256 digest, naming
//!   their universe and environment so the gateway opens the right catalog before it
//!   verifies anything;
//! - [`attachment`]: an environment attached to a session at a name (`/env/NAME`);
//! - [`job`]: a call waiting for, or being run by, an environment. Jobs are the only
//!   path from a worker to a daemon: the worker submits one (keyed by the tool call,
//!   so a retried activity finds its job instead of making another), the gateway
//!   holding the daemon's connection claims and delivers it, and whoever sees it end
//!   first finishes it, once;
//! - [`catalog`]: the `EnvCatalog` trait every store implements (memory here,
//!   store-fs, store-pg; one conformance suite in test-support).
//!
//! No network, clock or async runtime here: times arrive as arguments.

pub mod attachment;
pub mod catalog;
pub mod environment;
pub mod error;
pub mod job;
pub mod memory;
pub mod token;

pub use attachment::{Attachment, MountName};
pub use catalog::{ATTACHMENTS_MAX, ENVIRONMENTS_MAX, EnvCatalog, JOBS_IN_FLIGHT_MAX, JobSubmit};
pub use environment::{Environment, EnvironmentName, Presence};
pub use error::EnvCatalogError;
pub use job::{EnvJob, JobKind, JobStatus, is_job_id, job_id};
pub use memory::MemoryEnvCatalog;
pub use token::{EnvironmentToken, parse_token};
