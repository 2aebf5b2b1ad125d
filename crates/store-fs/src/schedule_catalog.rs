//! The schedule catalog on disk (`schedule_registry::ScheduleCatalog`).
//!
//! ```text
//! schedules/schedules.json   {"<id>": <Schedule>, …}
//! schedules/schedules.lock
//! ```
//!
//! One record for all of a universe's schedules (at most the cap, 100 by default,
//! a few KiB each), so the cap is checked under the same lock as the create that
//! would break it, and a firing's claim is one compare-and-set under that lock.
//! Every change takes the lock, reads, decides (`schedule_registry::catalog`'s
//! shared decisions) and replaces the file atomically.

use std::collections::BTreeMap;
use std::path::Path;

use schedule_registry::catalog::{decide_claim, decide_create, decide_outcome, decide_update};
use schedule_registry::{
    Claim, FiringOutcome, Schedule, ScheduleCatalog, ScheduleError, ScheduleId, SchedulePatch,
};

use crate::FsStore;
use crate::record::{Record, run};

type Schedules = BTreeMap<ScheduleId, Schedule>;

fn schedules_record(root: &Path) -> Record {
    Record::at(root.join("schedules"), "schedules")
}

impl FsStore {
    /// Runs `decide` on the universe's schedules under their lock, writing them
    /// back when it says they changed.
    async fn with_schedules<T: Send + 'static>(
        &self,
        decide: impl FnOnce(&mut Schedules) -> Result<(T, bool), ScheduleError> + Send + 'static,
    ) -> Result<T, ScheduleError> {
        let record = schedules_record(self.root());
        run(move || {
            record.locked(|| {
                let mut schedules: Schedules = record.read()?.unwrap_or_default();
                let (answer, changed) = decide(&mut schedules)?;
                if changed {
                    record.write(&schedules)?;
                }
                Ok(answer)
            })
        })
        .await
    }
}

impl ScheduleCatalog for FsStore {
    async fn schedule_create(
        &self,
        schedule: &Schedule,
        schedules_max: usize,
    ) -> Result<(), ScheduleError> {
        let schedule = schedule.clone();
        self.with_schedules(move |schedules| {
            let exists = schedules.contains_key(&schedule.id);
            decide_create(&schedule, exists, schedules.len(), schedules_max)?;
            schedules.insert(schedule.id.clone(), schedule);
            Ok(((), true))
        })
        .await
    }

    async fn schedule_read(&self, id: &ScheduleId) -> Result<Option<Schedule>, ScheduleError> {
        let id = id.clone();
        self.with_schedules(move |schedules| Ok((schedules.remove(&id), false)))
            .await
    }

    async fn schedule_list(&self) -> Result<Vec<Schedule>, ScheduleError> {
        self.with_schedules(|schedules| {
            Ok((std::mem::take(schedules).into_values().collect(), false))
        })
        .await
    }

    async fn schedule_update(
        &self,
        id: &ScheduleId,
        expected_revision: Option<u64>,
        patch: &SchedulePatch,
        now_ms: u64,
        interval_seconds_min: u64,
    ) -> Result<Schedule, ScheduleError> {
        let (id, patch) = (id.clone(), patch.clone());
        self.with_schedules(move |schedules| {
            let next = decide_update(
                &id,
                schedules.get(&id),
                expected_revision,
                &patch,
                now_ms,
                interval_seconds_min,
            )?;
            let changed = schedules.get(&id) != Some(&next);
            schedules.insert(id, next.clone());
            Ok((next, changed))
        })
        .await
    }

    async fn schedule_delete(&self, id: &ScheduleId) -> Result<bool, ScheduleError> {
        let id = id.clone();
        self.with_schedules(move |schedules| {
            let deleted = schedules.remove(&id).is_some();
            Ok((deleted, deleted))
        })
        .await
    }

    async fn schedule_claim(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        now_ms: u64,
    ) -> Result<Claim, ScheduleError> {
        let id = id.clone();
        self.with_schedules(move |schedules| {
            let (claim, store) = decide_claim(schedules.get(&id), scheduled_at_ms, now_ms);
            let changed = store.is_some();
            if let Some(store) = store {
                schedules.insert(id, store);
            }
            Ok((claim, changed))
        })
        .await
    }

    async fn schedule_record_outcome(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        outcome: &FiringOutcome,
    ) -> Result<(), ScheduleError> {
        let (id, outcome) = (id.clone(), outcome.clone());
        self.with_schedules(move |schedules| {
            let next = decide_outcome(schedules.get(&id), scheduled_at_ms, &outcome);
            let changed = next.is_some();
            if let Some(next) = next {
                schedules.insert(id, next);
            }
            Ok(((), changed))
        })
        .await
    }
}
