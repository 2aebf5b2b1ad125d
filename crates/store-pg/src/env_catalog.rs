//! The environment catalog in Postgres: `env_environments`, `env_attachments` and
//! `env_jobs` (`migrations/0007_env.sql`), every query keyed by this store's
//! universe.
//!
//! Creates that count against a bound (environments per universe, attachments per
//! session, unfinished jobs per universe) take a transaction-scoped advisory lock on
//! (kind, universe[, session]) first, then check and insert, so concurrent creates
//! cannot both pass it. The queue needs no lock of its own: a claim is one statement
//! that locks the oldest pending rows it can (`FOR UPDATE SKIP LOCKED`, so claimers
//! share the queue instead of waiting) and marks them delivered, and a finish or
//! redelivery is one `UPDATE … WHERE status <> 'done'`, which Postgres re-checks on
//! the row's newest version after waiting for its lock: of two finishers exactly
//! one updates the row. A new job is announced on [`ENV_JOBS_CHANNEL`] by its own
//! transaction.

use engine::SessionId;
use engine::store::StoreError;
use env_registry::catalog::{check_job, check_result, too_many};
use env_registry::{
    Attachment, EnvCatalog, EnvCatalogError, EnvJob, Environment, EnvironmentName, JobKind,
    JobStatus, JobSubmit, MountName, Presence,
};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, Row as _};
use uuid::Uuid;

use crate::PgStore;
use crate::env_jobs::{ENV_JOBS_CHANNEL, payload};
use crate::error::{from_bigint, query_failed, to_bigint};
use crate::tx::{begin, finish};

/// First key of the advisory locks (ASCII "envs"); the second folds in the kind.
const LOCK_SPACE: i32 = 0x656e_7673;
const LOCK_ENVIRONMENTS: i32 = 1;
const LOCK_ATTACHMENTS: i32 = 2;
const LOCK_JOBS: i32 = 3;

const ENV_COLUMNS: &str =
    "environment_id, name, description, token_sha256, created_at_ms, presence::text AS presence";
const JOB_COLUMNS: &str = "job_id, environment_id, session_id, run_id, batch, call_id, kind, \
     op, status, connection, delivered_at_ms, task_token, created_at_ms, deadline_ms, \
     deliveries, result, finished_at_ms";

fn corrupt(location: &str, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt {
        location: location.to_owned(),
        reason: reason.to_string(),
    }
}

fn bigint(what: &'static str, value: u64) -> Result<i64, StoreError> {
    Ok(to_bigint(what, value)?)
}

fn column<'r, T>(row: &'r PgRow, table: &str, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name)
        .map_err(|err| corrupt(&format!("{table} column {name}"), err))
}

fn decode_env(row: &PgRow) -> Result<Environment, StoreError> {
    let id: String = column(row, "env_environments", "environment_id")?;
    let location = format!("env_environments row {id}");
    let presence: Option<String> = column(row, "env_environments", "presence")?;
    Ok(Environment {
        name: EnvironmentName::new(column::<String>(row, "env_environments", "name")?)
            .map_err(|err| corrupt(&location, err))?,
        description: column(row, "env_environments", "description")?,
        token_sha256: column(row, "env_environments", "token_sha256")?,
        created_at_ms: from_bigint(&location, column(row, "env_environments", "created_at_ms")?)?,
        presence: presence
            .map(|text| serde_json::from_str(&text).map_err(|err| corrupt(&location, err)))
            .transpose()?,
        id,
    })
}

fn decode_attachment(row: &PgRow) -> Result<Attachment, StoreError> {
    let name: String = column(row, "env_attachments", "name")?;
    let location = format!("env_attachments row {name}");
    Ok(Attachment {
        environment_id: column(row, "env_attachments", "environment_id")?,
        environment: EnvironmentName::new(column::<String>(row, "env_attachments", "environment")?)
            .map_err(|err| corrupt(&location, err))?,
        attached_at_ms: from_bigint(&location, column(row, "env_attachments", "attached_at_ms")?)?,
        name: MountName::new(name).map_err(|err| corrupt(&location, err))?,
    })
}

fn kind_text(kind: JobKind) -> &'static str {
    match kind {
        JobKind::Command => "command",
        JobKind::File => "file",
    }
}

fn decode_job(row: &PgRow) -> Result<EnvJob, StoreError> {
    let time = |name: &str| column::<Option<i64>>(row, "env_jobs", name);
    let id: String = column(row, "env_jobs", "job_id")?;
    let location = format!("env_jobs row {id}");
    let u64_of = |value: i64| from_bigint(&location, value);
    let u32_of = |value: i64| u32::try_from(value).map_err(|err| corrupt(&location, err));
    let json =
        |text: String| serde_json::from_str::<Value>(&text).map_err(|e| corrupt(&location, e));
    let status = match column::<String>(row, "env_jobs", "status")?.as_str() {
        "pending" => JobStatus::Pending,
        "delivered" => JobStatus::Delivered {
            connection: column::<Option<String>>(row, "env_jobs", "connection")?
                .ok_or_else(|| corrupt(&location, "delivered without a connection"))?,
            at_ms: u64_of(
                time("delivered_at_ms")?
                    .ok_or_else(|| corrupt(&location, "delivered without a time"))?,
            )?,
        },
        "done" => JobStatus::Done,
        other => return Err(corrupt(&location, format!("unknown status {other:?}"))),
    };
    let kind = match column::<String>(row, "env_jobs", "kind")?.as_str() {
        "command" => JobKind::Command,
        "file" => JobKind::File,
        other => return Err(corrupt(&location, format!("unknown kind {other:?}"))),
    };
    Ok(EnvJob {
        environment_id: column(row, "env_jobs", "environment_id")?,
        session_id: column(row, "env_jobs", "session_id")?,
        run_id: column(row, "env_jobs", "run_id")?,
        batch: u32_of(column(row, "env_jobs", "batch")?)?,
        call_id: column(row, "env_jobs", "call_id")?,
        kind,
        op: json(column(row, "env_jobs", "op")?)?,
        status,
        task_token: column(row, "env_jobs", "task_token")?,
        created_at_ms: u64_of(column(row, "env_jobs", "created_at_ms")?)?,
        deadline_ms: u64_of(column(row, "env_jobs", "deadline_ms")?)?,
        deliveries: u32_of(column(row, "env_jobs", "deliveries")?)?,
        result: column::<Option<String>>(row, "env_jobs", "result")?
            .map(json)
            .transpose()?,
        finished_at_ms: time("finished_at_ms")?.map(u64_of).transpose()?,
        id,
    })
}

fn decode_jobs(rows: &[PgRow]) -> Result<Vec<EnvJob>, EnvCatalogError> {
    Ok(rows.iter().map(decode_job).collect::<Result<_, _>>()?)
}

/// Serialises the creates of one kind in one universe (and session, for
/// attachments) until the transaction ends. `hashtext` folds them into the lock's
/// second key; a collision only makes two creates wait for each other, never share a
/// count.
async fn lock(
    conn: &mut PgConnection,
    kind: i32,
    universe_id: Uuid,
    session: Option<&SessionId>,
) -> Result<(), StoreError> {
    crate::tx::advisory_lock(
        conn,
        LOCK_SPACE,
        kind,
        universe_id,
        session,
        "lock the environment catalog for a create",
    )
    .await
}

/// Job `job`'s stored row if it exists, its task token replaced by the submitted
/// one when that is set (the retried activity attempt is the one waiting now).
async fn existing_job(
    conn: &mut PgConnection,
    universe_id: Uuid,
    job: &EnvJob,
) -> Result<Option<EnvJob>, EnvCatalogError> {
    let row = match &job.task_token {
        Some(token) => sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE env_jobs SET task_token = $3 WHERE universe_id = $1 AND job_id = $2 \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(universe_id)
        .bind(&job.id)
        .bind(token),
        None => sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM env_jobs WHERE universe_id = $1 AND job_id = $2"
        )))
        .bind(universe_id)
        .bind(&job.id),
    }
    .fetch_optional(conn)
    .await
    .map_err(query_failed("read an existing job"))?;
    Ok(row.as_ref().map(decode_job).transpose()?)
}

async fn insert_job(
    conn: &mut PgConnection,
    universe_id: Uuid,
    job: &EnvJob,
) -> Result<(), EnvCatalogError> {
    let op = serde_json::to_string(&job.op).map_err(StoreError::permanent)?;
    sqlx::query(
        "INSERT INTO env_jobs (universe_id, job_id, environment_id, session_id, run_id, \
         batch, call_id, kind, op, status, task_token, created_at_ms, deadline_ms, \
         deliveries) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $11, $12, $13)",
    )
    .bind(universe_id)
    .bind(&job.id)
    .bind(&job.environment_id)
    .bind(&job.session_id)
    .bind(&job.run_id)
    .bind(i64::from(job.batch))
    .bind(&job.call_id)
    .bind(kind_text(job.kind))
    .bind(op)
    .bind(&job.task_token)
    .bind(bigint("job created_at_ms", job.created_at_ms)?)
    .bind(bigint("job deadline_ms", job.deadline_ms)?)
    .bind(i64::from(job.deliveries))
    .execute(&mut *conn)
    .await
    .map_err(query_failed("insert a job"))?;
    // Delivered with the commit, so a gateway woken by it finds the job.
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(ENV_JOBS_CHANNEL)
        .bind(payload(universe_id, &job.environment_id))
        .execute(conn)
        .await
        .map_err(query_failed("announce a job"))?;
    Ok(())
}

/// Replaces environment `id`'s presence; whether it exists.
async fn write_presence(
    conn: &mut PgConnection,
    universe_id: Uuid,
    id: &str,
    presence: &Presence,
) -> Result<bool, EnvCatalogError> {
    let presence = serde_json::to_string(presence).map_err(StoreError::permanent)?;
    let done = sqlx::query(
        "UPDATE env_environments SET presence = $3::jsonb \
         WHERE universe_id = $1 AND environment_id = $2",
    )
    .bind(universe_id)
    .bind(id)
    .bind(presence)
    .execute(conn)
    .await
    .map_err(query_failed("record an environment's presence"))?;
    Ok(done.rows_affected() > 0)
}

impl EnvCatalog for PgStore {
    async fn env_create(
        &self,
        environment: &Environment,
        environments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        let mut tx = begin(&self.pool, "begin an environment create").await?;
        let created = async {
            lock(&mut tx, LOCK_ENVIRONMENTS, self.universe_id, None).await?;
            let (taken, count): (bool, i64) = sqlx::query_as(
                "SELECT bool_or(name = $2) IS TRUE, count(*) FROM env_environments \
                 WHERE universe_id = $1",
            )
            .bind(self.universe_id)
            .bind(environment.name.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("count environments"))?;
            if taken {
                return Err(EnvCatalogError::Exists(environment.name.to_string()));
            }
            if usize::try_from(count).unwrap_or(usize::MAX) >= environments_max {
                return Err(too_many("environments per universe", environments_max));
            }
            let presence = environment
                .presence
                .as_ref()
                .map(serde_json::to_string)
                .transpose()
                .map_err(StoreError::permanent)?;
            sqlx::query(
                "INSERT INTO env_environments (universe_id, environment_id, name, \
                 description, token_sha256, created_at_ms, presence) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb)",
            )
            .bind(self.universe_id)
            .bind(&environment.id)
            .bind(environment.name.as_str())
            .bind(&environment.description)
            .bind(&environment.token_sha256)
            .bind(bigint(
                "environment created_at_ms",
                environment.created_at_ms,
            )?)
            .bind(presence)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("insert an environment"))?;
            Ok(())
        }
        .await;
        finish(tx, created, "commit an environment create").await
    }

    async fn env_read(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENV_COLUMNS} FROM env_environments WHERE universe_id = $1 AND name = $2"
        )))
        .bind(self.universe_id)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read an environment"))?;
        Ok(row.as_ref().map(decode_env).transpose()?)
    }

    async fn env_read_id(&self, id: &str) -> Result<Option<Environment>, EnvCatalogError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENV_COLUMNS} FROM env_environments \
             WHERE universe_id = $1 AND environment_id = $2"
        )))
        .bind(self.universe_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read an environment"))?;
        Ok(row.as_ref().map(decode_env).transpose()?)
    }

    async fn env_list(&self) -> Result<Vec<Environment>, EnvCatalogError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {ENV_COLUMNS} FROM env_environments WHERE universe_id = $1 ORDER BY name"
        )))
        .bind(self.universe_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list environments"))?;
        Ok(rows.iter().map(decode_env).collect::<Result<_, _>>()?)
    }

    async fn env_delete(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM env_environments WHERE universe_id = $1 AND name = $2 \
             RETURNING {ENV_COLUMNS}"
        )))
        .bind(self.universe_id)
        .bind(name.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("delete an environment"))?;
        Ok(row.as_ref().map(decode_env).transpose()?)
    }

    async fn env_presence(&self, id: &str, presence: &Presence) -> Result<bool, EnvCatalogError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(query_failed("record an environment's presence"))?;
        write_presence(&mut conn, self.universe_id, id, presence).await
    }

    async fn env_disconnected(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<(), EnvCatalogError> {
        let mut tx = begin(&self.pool, "begin an environment disconnect").await?;
        let disconnected = async {
            // Read, decide and write under the row's lock, so a presence report from
            // the daemon's new connection is never overwritten by the old one's end.
            let text: Option<Option<String>> = sqlx::query_scalar(
                "SELECT presence::text FROM env_environments \
                 WHERE universe_id = $1 AND environment_id = $2 FOR UPDATE",
            )
            .bind(self.universe_id)
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(query_failed("lock an environment's presence"))?;
            let Some(text) = text.flatten() else {
                return Ok(());
            };
            let mut presence: Presence = serde_json::from_str(&text)
                .map_err(|err| corrupt(&format!("env_environments row {id}"), err))?;
            if presence.connection != connection {
                return Ok(());
            }
            presence.connected = false;
            presence.last_seen_ms = now_ms;
            write_presence(&mut tx, self.universe_id, id, &presence).await?;
            Ok(())
        }
        .await;
        finish(tx, disconnected, "commit an environment disconnect").await
    }

    async fn attachment_put(
        &self,
        session: &SessionId,
        attachment: &Attachment,
        attachments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        let mut tx = begin(&self.pool, "begin an attachment").await?;
        let put = async {
            lock(&mut tx, LOCK_ATTACHMENTS, self.universe_id, Some(session)).await?;
            let (taken, count): (bool, i64) = sqlx::query_as(
                "SELECT bool_or(name = $3) IS TRUE, count(*) FROM env_attachments \
                 WHERE universe_id = $1 AND session_id = $2",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .bind(attachment.name.as_str())
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("count a session's attachments"))?;
            if !taken && usize::try_from(count).unwrap_or(usize::MAX) >= attachments_max {
                return Err(too_many("environments per session", attachments_max));
            }
            sqlx::query(
                "INSERT INTO env_attachments (universe_id, session_id, name, environment_id, \
                 environment, attached_at_ms) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (universe_id, session_id, name) DO UPDATE SET \
                 environment_id = EXCLUDED.environment_id, \
                 environment = EXCLUDED.environment, attached_at_ms = EXCLUDED.attached_at_ms",
            )
            .bind(self.universe_id)
            .bind(session.as_str())
            .bind(attachment.name.as_str())
            .bind(&attachment.environment_id)
            .bind(attachment.environment.as_str())
            .bind(bigint("attached_at_ms", attachment.attached_at_ms)?)
            .execute(&mut *tx)
            .await
            .map_err(query_failed("write an attachment"))?;
            Ok(())
        }
        .await;
        finish(tx, put, "commit an attachment").await
    }

    async fn attachment_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<Attachment>, EnvCatalogError> {
        let rows = sqlx::query(
            "SELECT name, environment_id, environment, attached_at_ms FROM env_attachments \
             WHERE universe_id = $1 AND session_id = $2 ORDER BY name",
        )
        .bind(self.universe_id)
        .bind(session.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list a session's attachments"))?;
        Ok(rows
            .iter()
            .map(decode_attachment)
            .collect::<Result<_, _>>()?)
    }

    async fn attachment_delete(
        &self,
        session: &SessionId,
        name: &MountName,
    ) -> Result<bool, EnvCatalogError> {
        let done = sqlx::query(
            "DELETE FROM env_attachments WHERE universe_id = $1 AND session_id = $2 AND name = $3",
        )
        .bind(self.universe_id)
        .bind(session.as_str())
        .bind(name.as_str())
        .execute(&self.pool)
        .await
        .map_err(query_failed("delete an attachment"))?;
        Ok(done.rows_affected() > 0)
    }

    async fn job_submit(
        &self,
        job: &EnvJob,
        jobs_max: usize,
    ) -> Result<JobSubmit, EnvCatalogError> {
        check_job(job)?;
        let mut tx = begin(&self.pool, "begin a job submit").await?;
        let submitted = async {
            // A retried attempt finds its job without waiting for the bound's lock.
            if let Some(existing) = existing_job(&mut tx, self.universe_id, job).await? {
                return Ok(JobSubmit::Existing(existing));
            }
            lock(&mut tx, LOCK_JOBS, self.universe_id, None).await?;
            // Again under the lock: a submit of the same id may have committed while
            // this one waited (each statement sees what committed before it).
            if let Some(existing) = existing_job(&mut tx, self.universe_id, job).await? {
                return Ok(JobSubmit::Existing(existing));
            }
            let in_flight: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM env_jobs WHERE universe_id = $1 AND status <> 'done'",
            )
            .bind(self.universe_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(query_failed("count unfinished jobs"))?;
            if usize::try_from(in_flight).unwrap_or(usize::MAX) >= jobs_max {
                return Err(too_many(
                    "environment calls in flight per universe",
                    jobs_max,
                ));
            }
            insert_job(&mut tx, self.universe_id, job).await?;
            Ok(JobSubmit::Created(job.clone()))
        }
        .await;
        finish(tx, submitted, "commit a job submit").await
    }

    async fn job_read(&self, id: &str) -> Result<Option<EnvJob>, EnvCatalogError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM env_jobs WHERE universe_id = $1 AND job_id = $2"
        )))
        .bind(self.universe_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("read a job"))?;
        Ok(row.as_ref().map(decode_job).transpose()?)
    }

    async fn job_claim(
        &self,
        environment_id: &str,
        connection: &str,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<EnvJob>, EnvCatalogError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // Rows another claimer (or a finisher) holds are skipped, not waited for:
        // they are theirs. RETURNING has no order, so the claimed are sorted after.
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "WITH claimed AS ( \
                 SELECT job_id AS claimed_id FROM env_jobs \
                 WHERE universe_id = $1 AND environment_id = $2 AND status = 'pending' \
                 ORDER BY created_at_ms, job_id LIMIT $5 FOR UPDATE SKIP LOCKED) \
             UPDATE env_jobs SET status = 'delivered', connection = $3, \
                 delivered_at_ms = $4, deliveries = deliveries + 1 \
             FROM claimed WHERE universe_id = $1 AND job_id = claimed_id \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(self.universe_id)
        .bind(environment_id)
        .bind(connection)
        .bind(bigint("claim time", now_ms)?)
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("claim jobs"))?;
        let mut claimed = decode_jobs(&rows)?;
        claimed.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
        Ok(claimed)
    }

    async fn job_delivered(&self, environment_id: &str) -> Result<Vec<EnvJob>, EnvCatalogError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM env_jobs \
             WHERE universe_id = $1 AND environment_id = $2 AND status = 'delivered' \
             ORDER BY created_at_ms, job_id"
        )))
        .bind(self.universe_id)
        .bind(environment_id)
        .fetch_all(&self.pool)
        .await
        .map_err(query_failed("list delivered jobs"))?;
        decode_jobs(&rows)
    }

    async fn job_redeliver(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE env_jobs SET status = 'delivered', connection = $3, delivered_at_ms = $4, \
             deliveries = deliveries + 1 \
             WHERE universe_id = $1 AND job_id = $2 AND status <> 'done' \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(self.universe_id)
        .bind(id)
        .bind(connection)
        .bind(bigint("redelivery time", now_ms)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("redeliver a job"))?;
        Ok(row.as_ref().map(decode_job).transpose()?)
    }

    async fn job_finish(
        &self,
        id: &str,
        result: &Value,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        check_result(result)?;
        let result = serde_json::to_string(result).map_err(StoreError::permanent)?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE env_jobs SET status = 'done', result = $3, finished_at_ms = $4, \
             connection = NULL, delivered_at_ms = NULL \
             WHERE universe_id = $1 AND job_id = $2 AND status <> 'done' \
             RETURNING {JOB_COLUMNS}"
        )))
        .bind(self.universe_id)
        .bind(id)
        .bind(result)
        .bind(bigint("finish time", now_ms)?)
        .fetch_optional(&self.pool)
        .await
        .map_err(query_failed("finish a job"))?;
        Ok(row.as_ref().map(decode_job).transpose()?)
    }

    async fn job_prune(&self, before_ms: u64) -> Result<usize, EnvCatalogError> {
        // Every stored time fits a bigint, so a bound beyond one means every
        // finished job (NULL here).
        let done = sqlx::query(
            "DELETE FROM env_jobs WHERE universe_id = $1 AND status = 'done' \
             AND ($2::bigint IS NULL OR finished_at_ms < $2)",
        )
        .bind(self.universe_id)
        .bind(i64::try_from(before_ms).ok())
        .execute(&self.pool)
        .await
        .map_err(query_failed("prune finished jobs"))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}
