//! The changes that keep a record and its scheduler entry in step, shared by the
//! API service (`schedule/*`) and the agent's tools (`schedule_*`), so both write
//! schedules one way. The record is the truth: it is written first and the
//! scheduler follows; a scheduler failure after a create removes the record again,
//! after an update or pause leaves the record changed and the caller told (the next
//! change of the schedule puts its entry again, whole).

use crate::catalog::{ScheduleCatalog, ScheduleLimits};
use crate::error::ScheduleError;
use crate::schedule::{Schedule, ScheduleId, SchedulePatch};
use crate::scheduler::Scheduler;

/// Checks `schedule` (a new one, at revision 1), stores it within the cap and puts
/// its scheduler entry.
pub async fn create<C: ScheduleCatalog>(
    catalog: &C,
    scheduler: &dyn Scheduler,
    universe_id: &str,
    schedule: &Schedule,
    limits: &ScheduleLimits,
) -> Result<(), ScheduleError> {
    schedule.check(limits.interval_seconds_min)?;
    catalog
        .schedule_create(schedule, limits.schedules_per_universe_max)
        .await?;
    if let Err(err) = scheduler.put(universe_id, schedule).await {
        // Best effort: a record without an entry would never fire.
        let _ = catalog.schedule_delete(&schedule.id).await;
        return Err(ScheduleError::Scheduler(err.0));
    }
    Ok(())
}

/// Applies `patch`; the scheduler entry is paused or resumed when only that
/// changed, replaced otherwise, untouched when nothing changed.
pub async fn update<C: ScheduleCatalog>(
    catalog: &C,
    scheduler: &dyn Scheduler,
    universe_id: &str,
    (id, expected_revision): (&ScheduleId, Option<u64>),
    patch: &SchedulePatch,
    now_ms: u64,
    limits: &ScheduleLimits,
) -> Result<Schedule, ScheduleError> {
    let before = catalog
        .schedule_read(id)
        .await?
        .ok_or_else(|| ScheduleError::NotFound(id.to_string()))?;
    let after = catalog
        .schedule_update(
            id,
            expected_revision,
            patch,
            now_ms,
            limits.interval_seconds_min,
        )
        .await?;
    if after.revision == before.revision {
        return Ok(after);
    }
    let only_paused = before.name == after.name
        && before.spec == after.spec
        && before.target == after.target
        && before.input == after.input
        && before.overlap == after.overlap;
    let applied = match only_paused {
        true => scheduler.set_paused(universe_id, &after).await,
        false => scheduler.put(universe_id, &after).await,
    };
    applied.map_err(|err| ScheduleError::Scheduler(err.0))?;
    Ok(after)
}

/// Removes the scheduler entry, then the record; whether there was a record.
pub async fn delete<C: ScheduleCatalog>(
    catalog: &C,
    scheduler: &dyn Scheduler,
    universe_id: &str,
    id: &ScheduleId,
) -> Result<bool, ScheduleError> {
    scheduler
        .remove(universe_id, id)
        .await
        .map_err(|err| ScheduleError::Scheduler(err.0))?;
    catalog.schedule_delete(id).await
}
