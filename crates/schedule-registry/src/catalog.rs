//! The storage a universe's schedules live in. One implementation per store (memory
//! here, store-fs, store-pg), each scoped to one universe and passing the same
//! conformance suite (`test-support`'s `schedule_conformance`). The decisions below
//! are made by every implementation under its own lock, so they cannot disagree.

use std::future::Future;

use crate::error::ScheduleError;
use crate::schedule::{Firing, FiringOutcome, Schedule, ScheduleId, SchedulePatch};

/// Default cap on the schedules one universe holds (clients' and agents' together).
pub const SCHEDULES_PER_UNIVERSE_MAX_DEFAULT: usize = 100;
/// Default floor on interval schedules, in seconds: a schedule is not a busy loop.
pub const INTERVAL_SECONDS_MIN_DEFAULT: u64 = 60;

/// A deployment's bounds on schedules, checked before the work they bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduleLimits {
    pub schedules_per_universe_max: usize,
    /// The shortest interval a schedule may have (cron fires at most once a minute).
    pub interval_seconds_min: u64,
}

impl Default for ScheduleLimits {
    fn default() -> Self {
        Self {
            schedules_per_universe_max: SCHEDULES_PER_UNIVERSE_MAX_DEFAULT,
            interval_seconds_min: INTERVAL_SECONDS_MIN_DEFAULT,
        }
    }
}

/// What claiming a firing decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Fire: request the run this record says (a retry of a claimed firing gets the
    /// same answer, so it submits the same run again, which `run/start` recognises).
    Fire(Box<Schedule>),
    /// A firing at or after this one's due time already ran: this one was missed
    /// during downtime and is folded into it.
    Coalesced,
    /// The schedule is paused now (the firing was started before the pause).
    Paused,
    /// There is no such schedule (deleted meanwhile).
    Gone,
}

pub trait ScheduleCatalog: Send + Sync {
    /// Stores a new schedule (checked by [`decide_create`]):
    /// [`ScheduleError::Exists`] if the id is taken, [`ScheduleError::TooMany`] beyond
    /// `schedules_max`.
    fn schedule_create(
        &self,
        schedule: &Schedule,
        schedules_max: usize,
    ) -> impl Future<Output = Result<(), ScheduleError>> + Send;

    fn schedule_read(
        &self,
        id: &ScheduleId,
    ) -> impl Future<Output = Result<Option<Schedule>, ScheduleError>> + Send;

    /// Every schedule, ordered by id (at most the cap).
    fn schedule_list(&self) -> impl Future<Output = Result<Vec<Schedule>, ScheduleError>> + Send;

    /// Applies `patch` at `expected_revision` (any when `None`), as
    /// [`decide_update`] says; the stored schedule.
    fn schedule_update(
        &self,
        id: &ScheduleId,
        expected_revision: Option<u64>,
        patch: &SchedulePatch,
        now_ms: u64,
        interval_seconds_min: u64,
    ) -> impl Future<Output = Result<Schedule, ScheduleError>> + Send;

    /// Deletes a schedule; whether there was one.
    fn schedule_delete(
        &self,
        id: &ScheduleId,
    ) -> impl Future<Output = Result<bool, ScheduleError>> + Send;

    /// Claims the firing due at `scheduled_at_ms`, as [`decide_claim`] says.
    fn schedule_claim(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        now_ms: u64,
    ) -> impl Future<Output = Result<Claim, ScheduleError>> + Send;

    /// Records how the claimed firing due at `scheduled_at_ms` ended (nothing when
    /// the last firing is another one by now).
    fn schedule_record_outcome(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        outcome: &FiringOutcome,
    ) -> impl Future<Output = Result<(), ScheduleError>> + Send;
}

/// Whether `schedule` may be created in a universe holding `count` schedules, one
/// of them with its id if `exists`.
pub fn decide_create(
    schedule: &Schedule,
    exists: bool,
    count: usize,
    schedules_max: usize,
) -> Result<(), ScheduleError> {
    if schedule.revision != 1 {
        return Err(ScheduleError::invalid("revision", "a new schedule is at 1"));
    }
    if exists {
        return Err(ScheduleError::Exists(schedule.id.to_string()));
    }
    if count >= schedules_max {
        return Err(ScheduleError::TooMany { max: schedules_max });
    }
    Ok(())
}

/// The schedule `patch` makes of `existing` at `expected_revision`, one revision
/// up (unchanged when the patch changes nothing), or the refusal.
pub fn decide_update(
    id: &ScheduleId,
    existing: Option<&Schedule>,
    expected_revision: Option<u64>,
    patch: &SchedulePatch,
    now_ms: u64,
    interval_seconds_min: u64,
) -> Result<Schedule, ScheduleError> {
    let existing = existing.ok_or_else(|| ScheduleError::NotFound(id.to_string()))?;
    if let Some(expected) = expected_revision
        && expected != existing.revision
    {
        return Err(ScheduleError::Conflict {
            id: id.to_string(),
            expected,
            actual: existing.revision,
        });
    }
    let mut next = patch.apply(existing);
    if next == *existing {
        return Ok(next);
    }
    // A spec left as it was keeps the floor it was created under.
    let floor = match patch.spec {
        Some(_) => interval_seconds_min,
        None => 0,
    };
    next.check(floor)?;
    next.revision = existing.revision + 1;
    next.updated_at_ms = now_ms.max(existing.updated_at_ms);
    Ok(next)
}

/// Whether the firing of `existing` due at `scheduled_at_ms` fires, claimed at
/// `now_ms`; the record to store when it changes.
///
/// Coalescing: a firing is folded into an earlier-claimed one when that one was
/// claimed at or after this one's due time. After downtime every pending firing
/// of the missed window runs at once, late; the first claims, and every other one
/// was due before that claim, so the window fires once, whatever the overlap
/// policy let through. On time, each firing is due after the previous one was
/// claimed, so none is folded.
pub fn decide_claim(
    existing: Option<&Schedule>,
    scheduled_at_ms: u64,
    now_ms: u64,
) -> (Claim, Option<Schedule>) {
    let Some(existing) = existing else {
        return (Claim::Gone, None);
    };
    if let Some(last) = &existing.last_firing {
        if last.scheduled_at_ms == scheduled_at_ms {
            return (Claim::Fire(Box::new(existing.clone())), None);
        }
        if last.fired_at_ms >= scheduled_at_ms {
            return (Claim::Coalesced, None);
        }
    }
    if existing.paused {
        return (Claim::Paused, None);
    }
    let mut claimed = existing.clone();
    claimed.last_firing = Some(Firing {
        scheduled_at_ms,
        fired_at_ms: now_ms,
        outcome: None,
    });
    claimed.firings += 1;
    (Claim::Fire(Box::new(claimed.clone())), Some(claimed))
}

/// The record with `outcome` on its last firing, if that is the firing due at
/// `scheduled_at_ms`.
pub fn decide_outcome(
    existing: Option<&Schedule>,
    scheduled_at_ms: u64,
    outcome: &FiringOutcome,
) -> Option<Schedule> {
    let existing = existing?;
    let last = existing.last_firing.as_ref()?;
    if last.scheduled_at_ms != scheduled_at_ms || last.outcome.as_ref() == Some(outcome) {
        return None;
    }
    let mut next = existing.clone();
    if let Some(last) = &mut next.last_firing {
        last.outcome = Some(outcome.clone());
    }
    Some(next)
}
