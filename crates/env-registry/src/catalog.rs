//! The storage a universe's environment records live in. One implementation per
//! store (memory here, store-fs, store-pg), each scoped to one universe and passing
//! the same conformance suite (`test-support`'s `env_conformance`).

use std::future::Future;

use engine::SessionId;
use serde_json::Value;

use crate::attachment::{Attachment, MountName};
use crate::environment::{Environment, EnvironmentName, Presence};
use crate::error::EnvCatalogError;
use crate::job::{EnvJob, JobStatus, OP_BYTES_MAX, RESULT_BYTES_MAX, is_job_id};

/// Environments per universe.
pub const ENVIRONMENTS_MAX: usize = 100;
/// Environments attached to one session.
pub const ATTACHMENTS_MAX: usize = 8;
/// Jobs not yet finished per universe.
pub const JOBS_IN_FLIGHT_MAX: usize = 1_000;

/// What [`EnvCatalog::job_submit`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobSubmit {
    /// The job is new and pending.
    Created(EnvJob),
    /// A job with this id exists (an earlier attempt made it): as stored, with the
    /// submitted task token in place of its own when one was given.
    Existing(EnvJob),
}

pub trait EnvCatalog: Send + Sync {
    /// Stores a new environment; [`EnvCatalogError::Exists`] if the name is taken,
    /// [`EnvCatalogError::TooMany`] beyond `environments_max`.
    fn env_create(
        &self,
        environment: &Environment,
        environments_max: usize,
    ) -> impl Future<Output = Result<(), EnvCatalogError>> + Send;

    fn env_read(
        &self,
        name: &EnvironmentName,
    ) -> impl Future<Output = Result<Option<Environment>, EnvCatalogError>> + Send;

    fn env_read_id(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Environment>, EnvCatalogError>> + Send;

    /// Every environment, ordered by name.
    fn env_list(&self) -> impl Future<Output = Result<Vec<Environment>, EnvCatalogError>> + Send;

    /// Deletes environment `name`; what was deleted.
    fn env_delete(
        &self,
        name: &EnvironmentName,
    ) -> impl Future<Output = Result<Option<Environment>, EnvCatalogError>> + Send;

    /// Records what environment `id`'s daemon reported; false if it is gone.
    fn env_presence(
        &self,
        id: &str,
        presence: &Presence,
    ) -> impl Future<Output = Result<bool, EnvCatalogError>> + Send;

    /// Marks environment `id` disconnected at `now_ms`, if `connection` still holds it
    /// (a daemon that reconnected elsewhere meanwhile stays connected).
    fn env_disconnected(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> impl Future<Output = Result<(), EnvCatalogError>> + Send;

    /// Attaches at `attachment.name`, replacing what was attached there; refuses a new
    /// name beyond `attachments_max`.
    fn attachment_put(
        &self,
        session: &SessionId,
        attachment: &Attachment,
        attachments_max: usize,
    ) -> impl Future<Output = Result<(), EnvCatalogError>> + Send;

    /// The session's attachments, ordered by name.
    fn attachment_list(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Vec<Attachment>, EnvCatalogError>> + Send;

    /// Detaches `name`; whether something was attached there.
    fn attachment_delete(
        &self,
        session: &SessionId,
        name: &MountName,
    ) -> impl Future<Output = Result<bool, EnvCatalogError>> + Send;

    /// Stores `job` (pending) unless one with its id exists, which is returned instead
    /// (its task token replaced by `job.task_token` when that is set). Refuses a new
    /// job beyond `jobs_max` unfinished ones, and first any job [`check_job`] refuses.
    fn job_submit(
        &self,
        job: &EnvJob,
        jobs_max: usize,
    ) -> impl Future<Output = Result<JobSubmit, EnvCatalogError>> + Send;

    fn job_read(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<EnvJob>, EnvCatalogError>> + Send;

    /// Moves up to `limit` pending jobs of environment `environment_id`, oldest first,
    /// to delivered on `connection`, and returns them.
    fn job_claim(
        &self,
        environment_id: &str,
        connection: &str,
        now_ms: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<EnvJob>, EnvCatalogError>> + Send;

    /// The jobs of environment `environment_id` delivered to some connection and not
    /// finished, oldest first.
    fn job_delivered(
        &self,
        environment_id: &str,
    ) -> impl Future<Output = Result<Vec<EnvJob>, EnvCatalogError>> + Send;

    /// Hands a delivered job to `connection` (the daemon reconnected and still knows
    /// it); `None` if it is finished or gone.
    fn job_redeliver(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> impl Future<Output = Result<Option<EnvJob>, EnvCatalogError>> + Send;

    /// Finishes job `id` with `result` unless it is finished already: the finished job
    /// (with the task token to complete) when this call finished it, `None` otherwise.
    fn job_finish(
        &self,
        id: &str,
        result: &Value,
        now_ms: u64,
    ) -> impl Future<Output = Result<Option<EnvJob>, EnvCatalogError>> + Send;

    /// Deletes jobs finished before `before_ms`; how many.
    fn job_prune(
        &self,
        before_ms: u64,
    ) -> impl Future<Output = Result<usize, EnvCatalogError>> + Send;
}

/// Checks a job's id, sizes and state before any store holds it.
pub fn check_job(job: &EnvJob) -> Result<(), EnvCatalogError> {
    if !is_job_id(&job.id) {
        return Err(EnvCatalogError::invalid(
            "id",
            "32 lowercase hex characters (job_id)",
        ));
    }
    if serde_json::to_vec(&job.op).map_or(usize::MAX, |bytes| bytes.len()) > OP_BYTES_MAX {
        return Err(EnvCatalogError::invalid(
            "op",
            format!("at most {OP_BYTES_MAX} bytes"),
        ));
    }
    if job.status != JobStatus::Pending || job.result.is_some() {
        return Err(EnvCatalogError::invalid("status", "a new job is pending"));
    }
    Ok(())
}

/// Checks a result's size before any store holds it.
pub fn check_result(result: &Value) -> Result<(), EnvCatalogError> {
    if serde_json::to_vec(result).map_or(usize::MAX, |bytes| bytes.len()) > RESULT_BYTES_MAX {
        return Err(EnvCatalogError::invalid(
            "result",
            format!("at most {RESULT_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

/// The refusal for one more of `bound` beyond `max`.
pub fn too_many(bound: &'static str, max: usize) -> EnvCatalogError {
    EnvCatalogError::TooMany { bound, max }
}
