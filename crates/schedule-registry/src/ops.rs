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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::memory::MemoryScheduleCatalog;
    use crate::schedule::{OverlapPolicy, ScheduleTarget};
    use crate::scheduler::{SchedulerError, SchedulerFuture, boxed};
    use crate::spec::ScheduleSpec;

    /// Records what it was asked; fails every call while `failing`.
    #[derive(Default)]
    struct Recorder {
        calls: Mutex<Vec<String>>,
        failing: Mutex<bool>,
    }

    impl Recorder {
        fn call(&self, what: String) -> SchedulerFuture<'_, ()> {
            self.calls.lock().unwrap().push(what);
            let failing = *self.failing.lock().unwrap();
            boxed(async move {
                match failing {
                    true => Err(SchedulerError("temporal is down".into())),
                    false => Ok(()),
                }
            })
        }
    }

    impl Scheduler for Recorder {
        fn put<'a>(&'a self, _: &'a str, schedule: &'a Schedule) -> SchedulerFuture<'a, ()> {
            self.call(format!("put {} r{}", schedule.id, schedule.revision))
        }

        fn set_paused<'a>(&'a self, _: &'a str, schedule: &'a Schedule) -> SchedulerFuture<'a, ()> {
            self.call(format!("paused={} {}", schedule.paused, schedule.id))
        }

        fn remove<'a>(&'a self, _: &'a str, id: &'a ScheduleId) -> SchedulerFuture<'a, ()> {
            self.call(format!("remove {id}"))
        }
    }

    fn schedule() -> Schedule {
        Schedule {
            id: ScheduleId::new("tick").unwrap(),
            name: String::new(),
            spec: ScheduleSpec::Interval { every_seconds: 60 },
            target: ScheduleTarget::Session {
                session_id: "s1".into(),
            },
            input: "go".into(),
            overlap: OverlapPolicy::Skip,
            paused: false,
            created_by_session: None,
            revision: 1,
            created_at_ms: 1,
            updated_at_ms: 1,
            firings: 0,
            last_firing: None,
        }
    }

    #[tokio::test]
    async fn the_scheduler_follows_each_change_and_a_failed_create_keeps_no_record() {
        let catalog = MemoryScheduleCatalog::default();
        let scheduler = Recorder::default();
        let limits = ScheduleLimits::default();
        let s = schedule();
        *scheduler.failing.lock().unwrap() = true;
        assert!(matches!(
            create(&catalog, &scheduler, "u", &s, &limits).await,
            Err(ScheduleError::Scheduler(_))
        ));
        assert!(catalog.schedule_read(&s.id).await.unwrap().is_none());
        *scheduler.failing.lock().unwrap() = false;
        create(&catalog, &scheduler, "u", &s, &limits)
            .await
            .unwrap();

        let pause = SchedulePatch {
            paused: Some(true),
            ..SchedulePatch::default()
        };
        update(&catalog, &scheduler, "u", (&s.id, None), &pause, 2, &limits)
            .await
            .unwrap();
        // Pausing again changes nothing and asks nothing.
        update(&catalog, &scheduler, "u", (&s.id, None), &pause, 3, &limits)
            .await
            .unwrap();
        let input = SchedulePatch {
            input: Some("go on".into()),
            ..SchedulePatch::default()
        };
        update(
            &catalog,
            &scheduler,
            "u",
            (&s.id, Some(2)),
            &input,
            4,
            &limits,
        )
        .await
        .unwrap();
        assert!(delete(&catalog, &scheduler, "u", &s.id).await.unwrap());
        assert_eq!(
            *scheduler.calls.lock().unwrap(),
            [
                "put tick r1",
                "put tick r1",
                "paused=true tick",
                "put tick r3",
                "remove tick"
            ]
        );
    }
}
