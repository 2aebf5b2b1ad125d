//! Lightspeed's Temporal host: the worker that runs session workflows and their
//! activities, the gateway backend that serves the API over them, and the pieces the
//! `server` binary wires together.
//!
//! - [`worker`]: registers `AgentSessionWorkflow` and the session activities; the
//!   activities are generic over the store (`session_stores::StoreProvider`).
//! - [`api_host`]: `TemporalHost`, the host of the API service (`api-service`):
//!   admissions through the session workflows, commits noticed in the store,
//!   deltas from the hub. It holds no method body.
//! - [`sessions`]: the client side of session workflows (admit update, queries).
//! - [`schedules`]: schedules as Temporal Schedules (`TemporalScheduler`) and the
//!   activities of the firing workflow they start.
//! - [`keys`]: the gateway's API keys in Postgres.
//! - [`providers`]: LLM provider clients from the environment.
//! - [`deltas`]: the streaming side channel from LLM activities to the gateway, in
//!   process or relayed through Postgres `LISTEN`/`NOTIFY`.
//! - [`seam`]: the payload codec that keeps every history payload small (large
//!   ones go to the CAS by ref); every process talking to the workflows uses it.
//! - [`devserver`]: a Temporal dev server as a child process (`server dev`, tests).
//! - [`traces`]: the OpenTelemetry tracer provider and the SDK plugin that carries
//!   trace context through Temporal headers (off unless an OTLP endpoint is set).
//!
//! What this crate must not do: decide anything about sessions (the engine decides,
//! the workflow carries its actions), put transcript-sized data into workflow
//! history, or log credentials.

pub mod api_host;
pub mod collection;
pub mod deltas;
pub mod devserver;
pub mod keys;
pub mod providers;
pub mod schedules;
pub mod seam;
pub mod sessions;
pub mod traces;
pub mod worker;
