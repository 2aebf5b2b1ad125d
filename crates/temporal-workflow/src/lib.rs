//! Lightspeed's session workflow for Temporal.
//!
//! [`AgentSessionWorkflow`] (workflow id `{universe}/{session}`, see
//! [`workflow_id`]) hosts one session's drive machine over the engine's bounded
//! *control state*: it rehydrates through the `load_session` activity, then loops
//! `next_action()` → activity → `resume_*` ([`host`]). Admissions (`CoreCommand`s)
//! arrive as the `admit` update: its validator runs engine admission on a copy of the
//! drive, so a bad command is refused with a typed [`AdmitRejected`] before anything
//! is recorded, and an accepted one replies once its events are committed. The
//! `status` and `control` queries read the state. Continue-as-new happens when the
//! session is idle and history is long; the next run rehydrates from the store.
//!
//! The [`activities`] module holds the activity contracts the worker implements:
//! `load_session`, `append_events`, `llm_generate`, `tool_invoke`,
//! `compact_context`. Their payloads are ids, log positions and `sha256:` refs.
//!
//! [`ScheduleFiringWorkflow`] ([`schedule`]) is what a Temporal Schedule starts at
//! each firing of a Lightspeed schedule: the `schedule_fire` activity, then
//! `schedule_wait_run` until the run it started is finished.
//!
//! With traces on, each run's activities are scheduled under the trace context of the
//! update that asked for the run ([`traces`](crate::traces), docs/operating/traces.md).
//!
//! What this crate must not do:
//! - perform I/O, read a clock, draw randomness or use tokio: workflow code runs under
//!   Temporal's deterministic replay; time comes from `workflow_time()`, everything
//!   else from activities;
//! - hold the context item list or any other transcript-sized data: workflow memory,
//!   history and activity payloads stay independent of the transcript;
//! - decide anything about the session itself: the engine's drive decides; this crate
//!   only carries its actions to activities and results back.

pub mod activities;
#[cfg(feature = "upgrade-drill")]
pub mod drill;
mod host;
pub mod messages;
pub mod schedule;
pub mod session;
pub mod settings;
mod traces;
mod workflow;

pub use messages::{
    AdmitRejected, AdmitReply, AdmitRequest, PhaseView, SessionWorkflowInput,
    SessionWorkflowOutcome, WorkflowStatus, workflow_id,
};
pub use schedule::ScheduleFiringWorkflow;
pub use settings::WorkflowSettings;
pub use workflow::AgentSessionWorkflow;
