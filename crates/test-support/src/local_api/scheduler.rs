//! `LocalScheduler`: the in-process host's scheduler, a timer task per schedule
//! that is not paused. Each task sleeps until the schedule's next firing
//! (`ScheduleSpec::next_after_ms`, as Temporal computes it), fires it through the
//! API service ([`ScheduleFirer`], bound once the service exists) and, unless the
//! overlap policy is `allowAll`, waits for the firing's run to finish before it
//! looks for the next firing: under `skip` the firings due meanwhile are dropped,
//! under `bufferOne` the last of them fires at once.
//!
//! Enough for the conformance suite; not durable: a host restarted over the same
//! store arms no task until a schedule is changed again.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock, Weak};
use std::time::Duration;

use api_service::{Fired, ScheduleFirer};
use schedule_registry::scheduler::{SchedulerFuture, boxed};
use schedule_registry::{OverlapPolicy, Schedule, ScheduleId, Scheduler};
use tokio::task::JoinHandle;

/// How often a task looks whether its firing's run finished.
const RUN_POLL: Duration = Duration::from_millis(100);

#[derive(Default)]
pub struct LocalScheduler {
    firer: OnceLock<Weak<dyn ScheduleFirer>>,
    tasks: Mutex<BTreeMap<(String, ScheduleId), JoinHandle<()>>>,
}

impl LocalScheduler {
    /// Firings go to `firer` (the service over the host holding this scheduler;
    /// weak, so the host and its service are dropped together). Only the first
    /// binding counts.
    pub fn bind(&self, firer: Weak<dyn ScheduleFirer>) {
        let _ = self.firer.set(firer);
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, BTreeMap<(String, ScheduleId), JoinHandle<()>>> {
        self.tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Replaces the task of `schedule` (none while it is paused).
    fn arm(&self, universe_id: &str, schedule: &Schedule) {
        let key = (universe_id.to_owned(), schedule.id.clone());
        let task = match (schedule.paused, self.firer.get()) {
            (false, Some(firer)) => Some(tokio::spawn(run(
                firer.clone(),
                universe_id.to_owned(),
                schedule.clone(),
            ))),
            _ => None,
        };
        let mut tasks = self.tasks();
        if let Some(old) = tasks.remove(&key) {
            old.abort();
        }
        if let Some(task) = task {
            tasks.insert(key, task);
        }
    }
}

impl Drop for LocalScheduler {
    fn drop(&mut self) {
        for task in self.tasks().values() {
            task.abort();
        }
    }
}

impl Scheduler for LocalScheduler {
    fn put<'a>(&'a self, universe_id: &'a str, schedule: &'a Schedule) -> SchedulerFuture<'a, ()> {
        self.arm(universe_id, schedule);
        boxed(async { Ok(()) })
    }

    fn set_paused<'a>(
        &'a self,
        universe_id: &'a str,
        schedule: &'a Schedule,
    ) -> SchedulerFuture<'a, ()> {
        self.arm(universe_id, schedule);
        boxed(async { Ok(()) })
    }

    fn remove<'a>(&'a self, universe_id: &'a str, id: &'a ScheduleId) -> SchedulerFuture<'a, ()> {
        if let Some(old) = self.tasks().remove(&(universe_id.to_owned(), id.clone())) {
            old.abort();
        }
        boxed(async { Ok(()) })
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

/// Fires `schedule` at each of its times until aborted (or the service is gone).
async fn run(firer: Weak<dyn ScheduleFirer>, universe_id: String, schedule: Schedule) {
    let mut after_ms = now_ms();
    loop {
        let Some(due_ms) = schedule.spec.next_after_ms(after_ms) else {
            return;
        };
        tokio::time::sleep(Duration::from_millis(due_ms.saturating_sub(now_ms()))).await;
        let Some(service) = firer.upgrade() else {
            return;
        };
        let fired = service
            .fire(&universe_id, schedule.id.as_str(), due_ms)
            .await;
        let started = match fired {
            Ok(Fired::Started { session_id, run_id }) => Some((session_id, run_id)),
            Ok(_) => None,
            Err(err) => {
                tracing::warn!(schedule = %schedule.id, error = %err.message, "a local firing failed");
                None
            }
        };
        drop(service);
        after_ms = due_ms;
        if let (Some((session_id, run_id)), false) =
            (started, schedule.overlap == OverlapPolicy::AllowAll)
        {
            wait_for_run(&firer, &universe_id, &session_id, &run_id).await;
            let now = now_ms();
            after_ms = match schedule.overlap {
                // The last firing due while the run went on fires now.
                OverlapPolicy::BufferOne => {
                    last_due(&schedule, due_ms, now).map_or(now, |last| last.saturating_sub(1))
                }
                OverlapPolicy::Skip | OverlapPolicy::AllowAll => now,
            };
        }
    }
}

/// The last firing due after `from_ms` and at or before `now_ms` (looked for among
/// the next 1,000 firings, plenty for a run's length).
fn last_due(schedule: &Schedule, from_ms: u64, now_ms: u64) -> Option<u64> {
    let mut last = None;
    let mut after = from_ms;
    for _ in 0..1_000 {
        match schedule.spec.next_after_ms(after) {
            Some(next) if next <= now_ms => {
                last = Some(next);
                after = next;
            }
            _ => break,
        }
    }
    last
}

async fn wait_for_run(
    firer: &Weak<dyn ScheduleFirer>,
    universe_id: &str,
    session_id: &str,
    run_id: &str,
) {
    loop {
        let Some(service) = firer.upgrade() else {
            return;
        };
        match service.run_pending(universe_id, session_id, run_id).await {
            Ok(true) => {}
            Ok(false) | Err(_) => return,
        }
        drop(service);
        tokio::time::sleep(RUN_POLL).await;
    }
}
