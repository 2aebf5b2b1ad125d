//! The host side of schedules: what makes a record fire. The Temporal host keeps
//! one Temporal Schedule per record (`temporal_server::schedules`); the in-process
//! host a timer task per record (`test-support`'s `local_api`). Both start the same
//! firing (the API service's `fire_schedule`), which claims the firing in the
//! catalog and requests the run.
//!
//! Object-safe (boxed futures): the API service and the agent's tools hold one as
//! `Arc<dyn Scheduler>`.

use std::future::Future;
use std::pin::Pin;

use crate::schedule::{Schedule, ScheduleId};

/// A scheduler's failure; the message is for logs (it may name hosts).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SchedulerError(pub String);

pub type SchedulerFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, SchedulerError>> + Send + 'a>>;

pub trait Scheduler: Send + Sync {
    /// Creates the entry of `schedule`, or replaces what an entry of its id does
    /// (spec, overlap policy, paused state). Idempotent.
    fn put<'a>(&'a self, universe_id: &'a str, schedule: &'a Schedule) -> SchedulerFuture<'a, ()>;

    /// Pauses or resumes the entry of `schedule` (creating it, as [`Scheduler::put`],
    /// when it has none).
    fn set_paused<'a>(
        &'a self,
        universe_id: &'a str,
        schedule: &'a Schedule,
    ) -> SchedulerFuture<'a, ()>;

    /// Removes the entry of `id`; none is fine. Firings already started may still
    /// run: they find no record and do nothing.
    fn remove<'a>(&'a self, universe_id: &'a str, id: &'a ScheduleId) -> SchedulerFuture<'a, ()>;
}

/// A scheduler that fires nothing, for hosts without one (records are kept, and
/// read shows when they would fire).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoScheduler;

impl Scheduler for NoScheduler {
    fn put<'a>(&'a self, _: &'a str, _: &'a Schedule) -> SchedulerFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn set_paused<'a>(&'a self, _: &'a str, _: &'a Schedule) -> SchedulerFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }

    fn remove<'a>(&'a self, _: &'a str, _: &'a ScheduleId) -> SchedulerFuture<'a, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

/// Boxes an async block as a [`SchedulerFuture`].
pub fn boxed<'a, T>(
    future: impl Future<Output = Result<T, SchedulerError>> + Send + 'a,
) -> SchedulerFuture<'a, T> {
    Box::pin(future)
}
