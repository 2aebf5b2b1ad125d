//! The reference [`ScheduleCatalog`]: a map behind a mutex.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::catalog::{
    Claim, ScheduleCatalog, decide_claim, decide_create, decide_outcome, decide_update,
};
use crate::error::ScheduleError;
use crate::schedule::{FiringOutcome, Schedule, ScheduleId, SchedulePatch};

#[derive(Debug, Default)]
pub struct MemoryScheduleCatalog {
    schedules: Mutex<BTreeMap<ScheduleId, Schedule>>,
}

impl MemoryScheduleCatalog {
    fn with<T>(&self, work: impl FnOnce(&mut BTreeMap<ScheduleId, Schedule>) -> T) -> T {
        // Every change is one insert or remove after its checks, so a map a panic
        // leaves behind is whole and a poisoned lock is safe to reuse.
        let mut schedules = self
            .schedules
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut schedules)
    }
}

impl ScheduleCatalog for MemoryScheduleCatalog {
    async fn schedule_create(
        &self,
        schedule: &Schedule,
        schedules_max: usize,
    ) -> Result<(), ScheduleError> {
        self.with(|schedules| {
            let exists = schedules.contains_key(&schedule.id);
            decide_create(schedule, exists, schedules.len(), schedules_max)?;
            schedules.insert(schedule.id.clone(), schedule.clone());
            Ok(())
        })
    }

    async fn schedule_read(&self, id: &ScheduleId) -> Result<Option<Schedule>, ScheduleError> {
        Ok(self.with(|schedules| schedules.get(id).cloned()))
    }

    async fn schedule_list(&self) -> Result<Vec<Schedule>, ScheduleError> {
        Ok(self.with(|schedules| schedules.values().cloned().collect()))
    }

    async fn schedule_update(
        &self,
        id: &ScheduleId,
        expected_revision: Option<u64>,
        patch: &SchedulePatch,
        now_ms: u64,
        interval_seconds_min: u64,
    ) -> Result<Schedule, ScheduleError> {
        self.with(|schedules| {
            let next = decide_update(
                id,
                schedules.get(id),
                expected_revision,
                patch,
                now_ms,
                interval_seconds_min,
            )?;
            schedules.insert(id.clone(), next.clone());
            Ok(next)
        })
    }

    async fn schedule_delete(&self, id: &ScheduleId) -> Result<bool, ScheduleError> {
        Ok(self.with(|schedules| schedules.remove(id).is_some()))
    }

    async fn schedule_claim(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        now_ms: u64,
    ) -> Result<Claim, ScheduleError> {
        Ok(self.with(|schedules| {
            let (claim, store) = decide_claim(schedules.get(id), scheduled_at_ms, now_ms);
            if let Some(store) = store {
                schedules.insert(id.clone(), store);
            }
            claim
        }))
    }

    async fn schedule_record_outcome(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        outcome: &FiringOutcome,
    ) -> Result<(), ScheduleError> {
        self.with(|schedules| {
            if let Some(next) = decide_outcome(schedules.get(id), scheduled_at_ms, outcome) {
                schedules.insert(id.clone(), next);
            }
        });
        Ok(())
    }
}
