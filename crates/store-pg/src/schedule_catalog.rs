//! The schedule catalog in Postgres: `schedules` (`migrations/0009_schedules.sql`),
//! implementing `schedule_registry::ScheduleCatalog` with its shared decisions.
//!
//! Creates of a universe queue on a transaction-scoped advisory lock (the cap on
//! schedules); updates, claims and outcomes lock their row (`FOR UPDATE`), decide
//! and write it back, so racing late firings of one window claim one at a time and
//! exactly one fires.

use schedule_registry::catalog::{decide_claim, decide_create, decide_outcome, decide_update};
use schedule_registry::{
    Claim, FiringOutcome, Schedule, ScheduleCatalog, ScheduleError, ScheduleId, SchedulePatch,
};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::PgStore;
use crate::error::{query_failed, to_bigint};
use crate::tx::{begin, finish};

/// First key of the advisory locks (ASCII "schd").
const LOCK_SPACE: i32 = 0x7363_6864;
const LOCK_CREATES: i32 = 1;

fn decode(text: &str) -> Result<Schedule, ScheduleError> {
    serde_json::from_str(text).map_err(|err| {
        engine::store::StoreError::Corrupt {
            location: "schedules row".to_owned(),
            reason: err.to_string(),
        }
        .into()
    })
}

async fn read_row(
    conn: &mut PgConnection,
    universe_id: Uuid,
    id: &ScheduleId,
    locking: &str,
) -> Result<Option<Schedule>, ScheduleError> {
    let row: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT record::text FROM schedules WHERE universe_id = $1 AND schedule_id = $2 {locking}"
    )))
    .bind(universe_id)
    .bind(id.as_str())
    .fetch_optional(conn)
    .await
    .map_err(query_failed("read a schedule"))?;
    row.as_deref().map(decode).transpose()
}

/// Inserts or replaces the row of `schedule`.
async fn write_row(
    conn: &mut PgConnection,
    universe_id: Uuid,
    schedule: &Schedule,
) -> Result<(), ScheduleError> {
    let record = serde_json::to_string(schedule).map_err(engine::store::StoreError::permanent)?;
    let revision = to_bigint("schedule revision", schedule.revision)
        .map_err(engine::store::StoreError::permanent)?;
    sqlx::query(
        "INSERT INTO schedules (universe_id, schedule_id, revision, record) \
         VALUES ($1, $2, $3, $4::jsonb) \
         ON CONFLICT (universe_id, schedule_id) \
         DO UPDATE SET revision = EXCLUDED.revision, record = EXCLUDED.record",
    )
    .bind(universe_id)
    .bind(schedule.id.as_str())
    .bind(revision)
    .bind(record)
    .execute(conn)
    .await
    .map_err(query_failed("write a schedule"))?;
    Ok(())
}

impl PgStore {
    /// Locks the row of `id`, lets `decide` answer and name the record to store,
    /// and writes it, in one transaction.
    async fn change_schedule<T>(
        &self,
        id: &ScheduleId,
        what: &'static str,
        decide: impl FnOnce(Option<&Schedule>) -> Result<(T, Option<Schedule>), ScheduleError>,
    ) -> Result<T, ScheduleError> {
        let mut tx = begin(&self.pool, what).await?;
        let changed = async {
            let existing = read_row(&mut tx, self.universe_id, id, "FOR UPDATE").await?;
            let (answer, store) = decide(existing.as_ref())?;
            if let Some(store) = store.filter(|store| Some(store) != existing.as_ref()) {
                write_row(&mut tx, self.universe_id, &store).await?;
            }
            Ok(answer)
        }
        .await;
        finish(tx, changed, what).await
    }
}

impl ScheduleCatalog for PgStore {
    async fn schedule_create(
        &self,
        schedule: &Schedule,
        schedules_max: usize,
    ) -> Result<(), ScheduleError> {
        let mut tx = begin(&self.pool, "begin a schedule create").await?;
        let created = async {
            crate::tx::advisory_lock(
                &mut tx,
                LOCK_SPACE,
                LOCK_CREATES,
                self.universe_id,
                None,
                "lock the schedule catalog",
            )
            .await?;
            let exists = read_row(&mut tx, self.universe_id, &schedule.id, "")
                .await?
                .is_some();
            let count: i64 =
                sqlx::query_scalar("SELECT count(*) FROM schedules WHERE universe_id = $1")
                    .bind(self.universe_id)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(query_failed("count schedules"))?;
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            decide_create(schedule, exists, count, schedules_max)?;
            write_row(&mut tx, self.universe_id, schedule).await
        }
        .await;
        finish(tx, created, "commit a schedule create").await
    }

    async fn schedule_read(&self, id: &ScheduleId) -> Result<Option<Schedule>, ScheduleError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(query_failed("read a schedule"))?;
        read_row(&mut conn, self.universe_id, id, "").await
    }

    async fn schedule_list(&self) -> Result<Vec<Schedule>, ScheduleError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT record::text FROM schedules WHERE universe_id = $1 ORDER BY schedule_id",
        )
        .bind(self.universe_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list schedules"))?;
        rows.iter().map(|row| decode(row)).collect()
    }

    async fn schedule_update(
        &self,
        id: &ScheduleId,
        expected_revision: Option<u64>,
        patch: &SchedulePatch,
        now_ms: u64,
        interval_seconds_min: u64,
    ) -> Result<Schedule, ScheduleError> {
        self.change_schedule(id, "update a schedule", |existing| {
            let next = decide_update(
                id,
                existing,
                expected_revision,
                patch,
                now_ms,
                interval_seconds_min,
            )?;
            Ok((next.clone(), Some(next)))
        })
        .await
    }

    async fn schedule_delete(&self, id: &ScheduleId) -> Result<bool, ScheduleError> {
        let deleted =
            sqlx::query("DELETE FROM schedules WHERE universe_id = $1 AND schedule_id = $2")
                .bind(self.universe_id)
                .bind(id.as_str())
                .execute(&self.pool)
                .await
                .map_err(query_failed("delete a schedule"))?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn schedule_claim(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        now_ms: u64,
    ) -> Result<Claim, ScheduleError> {
        self.change_schedule(id, "claim a schedule firing", |existing| {
            Ok(decide_claim(existing, scheduled_at_ms, now_ms))
        })
        .await
    }

    async fn schedule_record_outcome(
        &self,
        id: &ScheduleId,
        scheduled_at_ms: u64,
        outcome: &FiringOutcome,
    ) -> Result<(), ScheduleError> {
        self.change_schedule(id, "record a schedule firing", |existing| {
            Ok(((), decide_outcome(existing, scheduled_at_ms, outcome)))
        })
        .await
    }
}
