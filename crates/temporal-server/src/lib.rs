//! Lightspeed's Temporal host: the worker that runs session workflows and their
//! activities, the gateway backend that serves the API over them, and the pieces the
//! `server` binary wires together.
//!
//! - [`worker`]: registers `AgentSessionWorkflow` and the session activities; the
//!   activities are generic over the store ([`stores::StoreProvider`]).
//! - [`gateway_api`]: `TemporalApi`, the `api::LightspeedApi` backend: writes through
//!   the session workflows, reads from the store.
//! - [`sessions`]: the client side of session workflows (admit update, queries).
//! - [`stores`]: universe → store resolution (filesystem or Postgres + S3).
//! - [`keys`]: the gateway's API keys in Postgres.
//! - [`providers`]: LLM provider clients from the environment.
//! - [`tools`]: the tools the worker serves: the session's file tools over its
//!   mounts, and `sleep`. The effect adapters themselves (tool adapters, the LLM
//!   compactor) come from the `effects` crate.
//! - [`deltas`]: the streaming side channel from LLM activities to the gateway, in
//!   process or relayed through Postgres `LISTEN`/`NOTIFY`.
//! - [`devserver`]: a Temporal dev server as a child process (`server dev`, tests).
//!
//! What this crate must not do: decide anything about sessions (the engine decides,
//! the workflow carries its actions), put transcript-sized data into workflow
//! history, or log credentials.

pub mod deltas;
pub mod devserver;
pub mod gateway_api;
pub mod keys;
pub mod providers;
pub mod sessions;
pub mod stores;
pub mod tools;
pub mod worker;
