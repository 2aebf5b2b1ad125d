//! The environment catalog on disk (one store-fs root is one universe):
//!
//! ```text
//! env/environments.json           {"<name>": <Environment>, …}
//! env/environments.lock
//! env/attachments/<session>.json  {"<mount name>": <Attachment>, …}
//! env/attachments/<session>.lock
//! env/jobs/<job id>.json          an EnvJob
//! env/jobs.lock                   held by every change to any job
//! ```
//!
//! Environments are one record (at most `ENVIRONMENTS_MAX`, a few hundred bytes
//! each), so the bound is checked under the lock of the create that would break it,
//! as the MCP catalog's servers are. Jobs are a file each (an operation may be
//! MiBs), and every change to any job (submit, claim, redeliver, finish, prune) holds
//! the one `env/jobs.lock`: so across store instances and processes a job is
//! claimed by one connection, finished once, and a submit counts the unfinished jobs
//! with no other change in between. Claims, counts and prunes read every job file:
//! linear in the universe's jobs, which this store accepts (it serves tests and the
//! embedded dev server; Postgres indexes the queue). Job ids name files only once
//! `is_job_id` holds (32 lowercase hex); an id of any other shape names no job.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use engine::SessionId;
use engine::store::StoreError;
use env_registry::catalog::{check_job, check_result, too_many};
use env_registry::{
    Attachment, EnvCatalog, EnvCatalogError, EnvJob, Environment, EnvironmentName, JobStatus,
    JobSubmit, MountName, Presence, is_job_id,
};
use serde_json::Value;

use crate::fsio::io_err;
use crate::record::{Record, run};
use crate::{FsStore, session_dir_name};

const ENV_DIR: &str = "env";
const ATTACHMENTS_DIR: &str = "env/attachments";
const JOBS_DIR: &str = "env/jobs";

type Environments = BTreeMap<EnvironmentName, Environment>;
type Attachments = BTreeMap<MountName, Attachment>;

fn environments_record(root: &Path) -> Record {
    Record::at(root.join(ENV_DIR), "environments")
}

fn attachments_record(root: &Path, session: &SessionId) -> Record {
    Record::at(root.join(ATTACHMENTS_DIR), &session_dir_name(session))
}

/// The lock every job change holds. Only its lock file is used: `env/jobs.json`
/// is never written.
fn jobs_lock(root: &Path) -> Record {
    Record::at(root.join(ENV_DIR), "jobs")
}

/// Job `id`'s record, if `id` can name one.
fn job_record(jobs_dir: &Path, id: &str) -> Option<Record> {
    is_job_id(id).then(|| Record::at(jobs_dir.to_owned(), id))
}

/// Every job of the universe, in no particular order.
fn read_jobs(jobs_dir: &Path) -> Result<Vec<EnvJob>, StoreError> {
    let entries = match fs::read_dir(jobs_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(io_err("list", jobs_dir)(err)),
    };
    let mut jobs = Vec::new();
    for entry in entries {
        let file = entry.map_err(io_err("list", jobs_dir))?.file_name();
        // Lock files and temporary files of atomic writes are not jobs.
        let Some((id, record)) = file
            .to_str()
            .and_then(|name| name.strip_suffix(".json"))
            .and_then(|id| Some((id, job_record(jobs_dir, id)?)))
        else {
            continue;
        };
        // A job pruned since the listing is simply not there any more.
        let Some(job) = record.read::<EnvJob>()? else {
            continue;
        };
        // Changes write the job back under its id: a file holding another id would
        // send them elsewhere.
        if job.id != id {
            return Err(StoreError::Corrupt {
                location: record.data.display().to_string(),
                reason: format!("holds job {:?}", job.id),
            });
        }
        jobs.push(job);
    }
    Ok(jobs)
}

/// The queue's order: oldest first, ties by id.
fn oldest_first(jobs: &mut [EnvJob]) {
    jobs.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
}

fn deliver(job: &mut EnvJob, connection: &str, now_ms: u64) {
    job.status = JobStatus::Delivered {
        connection: connection.to_owned(),
        at_ms: now_ms,
    };
    job.deliveries = job.deliveries.saturating_add(1);
}

impl FsStore {
    fn jobs_dir(&self) -> PathBuf {
        self.root().join(JOBS_DIR)
    }

    /// Runs `work` on the job `id` names (when it does and is stored) under the jobs
    /// lock, writing back what it returns.
    async fn change_job(
        &self,
        id: &str,
        work: impl FnOnce(EnvJob) -> Option<EnvJob> + Send + 'static,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        let lock = jobs_lock(self.root());
        let Some(record) = job_record(&self.jobs_dir(), id) else {
            return Ok(None);
        };
        run(move || {
            lock.locked(|| {
                let Some(changed) = record.read()?.and_then(work) else {
                    return Ok(None);
                };
                record.write(&changed)?;
                Ok(Some(changed))
            })
        })
        .await
    }
}

impl EnvCatalog for FsStore {
    async fn env_create(
        &self,
        environment: &Environment,
        environments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        let record = environments_record(self.root());
        let environment = environment.clone();
        run(move || {
            record.locked(|| {
                let mut environments: Environments = record.read()?.unwrap_or_default();
                if environments.contains_key(&environment.name) {
                    return Err(EnvCatalogError::Exists(environment.name.to_string()));
                }
                if environments.len() >= environments_max {
                    return Err(too_many("environments per universe", environments_max));
                }
                environments.insert(environment.name.clone(), environment);
                Ok(record.write(&environments)?)
            })
        })
        .await
    }

    async fn env_read(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        let record = environments_record(self.root());
        let name = name.clone();
        // Replaced by rename: a reader sees the old or the new file whole.
        run(move || {
            Ok(record
                .read::<Environments>()?
                .unwrap_or_default()
                .remove(&name))
        })
        .await
    }

    async fn env_read_id(&self, id: &str) -> Result<Option<Environment>, EnvCatalogError> {
        let record = environments_record(self.root());
        let id = id.to_owned();
        run(move || {
            Ok(record
                .read::<Environments>()?
                .unwrap_or_default()
                .into_values()
                .find(|env| env.id == id))
        })
        .await
    }

    async fn env_list(&self) -> Result<Vec<Environment>, EnvCatalogError> {
        let record = environments_record(self.root());
        run(move || {
            Ok(record
                .read::<Environments>()?
                .unwrap_or_default()
                .into_values()
                .collect())
        })
        .await
    }

    async fn env_delete(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        let record = environments_record(self.root());
        let name = name.clone();
        run(move || {
            record.locked(|| {
                let mut environments: Environments = record.read()?.unwrap_or_default();
                let deleted = environments.remove(&name);
                if deleted.is_some() {
                    record.write(&environments)?;
                }
                Ok(deleted)
            })
        })
        .await
    }

    async fn env_presence(&self, id: &str, presence: &Presence) -> Result<bool, EnvCatalogError> {
        let record = environments_record(self.root());
        let (id, presence) = (id.to_owned(), presence.clone());
        run(move || {
            record.locked(|| {
                let mut environments: Environments = record.read()?.unwrap_or_default();
                let Some(env) = environments.values_mut().find(|env| env.id == id) else {
                    return Ok(false);
                };
                env.presence = Some(presence);
                record.write(&environments)?;
                Ok(true)
            })
        })
        .await
    }

    async fn env_disconnected(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<(), EnvCatalogError> {
        let record = environments_record(self.root());
        let (id, connection) = (id.to_owned(), connection.to_owned());
        run(move || {
            record.locked(|| {
                let mut environments: Environments = record.read()?.unwrap_or_default();
                let Some(presence) = environments
                    .values_mut()
                    .find(|env| env.id == id)
                    .and_then(|env| env.presence.as_mut())
                    .filter(|presence| presence.connection == connection)
                else {
                    return Ok(());
                };
                presence.connected = false;
                presence.last_seen_ms = now_ms;
                Ok(record.write(&environments)?)
            })
        })
        .await
    }

    async fn attachment_put(
        &self,
        session: &SessionId,
        attachment: &Attachment,
        attachments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        let record = attachments_record(self.root(), session);
        let attachment = attachment.clone();
        run(move || {
            record.locked(|| {
                let mut attached: Attachments = record.read()?.unwrap_or_default();
                if !attached.contains_key(&attachment.name) && attached.len() >= attachments_max {
                    return Err(too_many("environments per session", attachments_max));
                }
                attached.insert(attachment.name.clone(), attachment);
                Ok(record.write(&attached)?)
            })
        })
        .await
    }

    async fn attachment_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<Attachment>, EnvCatalogError> {
        let record = attachments_record(self.root(), session);
        run(move || {
            Ok(record
                .read::<Attachments>()?
                .unwrap_or_default()
                .into_values()
                .collect())
        })
        .await
    }

    async fn attachment_delete(
        &self,
        session: &SessionId,
        name: &MountName,
    ) -> Result<bool, EnvCatalogError> {
        let record = attachments_record(self.root(), session);
        let name = name.clone();
        run(move || {
            record.locked(|| {
                let mut attached: Attachments = record.read()?.unwrap_or_default();
                if attached.remove(&name).is_none() {
                    return Ok(false);
                }
                record.write(&attached)?;
                Ok(true)
            })
        })
        .await
    }

    async fn job_submit(
        &self,
        job: &EnvJob,
        jobs_max: usize,
    ) -> Result<JobSubmit, EnvCatalogError> {
        check_job(job)?;
        let (lock, dir, job) = (jobs_lock(self.root()), self.jobs_dir(), job.clone());
        run(move || {
            lock.locked(|| {
                // `check_job` held, so the id is path-safe.
                let record = Record::at(dir.clone(), &job.id);
                if let Some(mut existing) = record.read::<EnvJob>()? {
                    if job.task_token.is_some() && existing.task_token != job.task_token {
                        existing.task_token = job.task_token;
                        record.write(&existing)?;
                    }
                    return Ok(JobSubmit::Existing(existing));
                }
                let in_flight = read_jobs(&dir)?.iter().filter(|j| !j.is_done()).count();
                if in_flight >= jobs_max {
                    return Err(too_many(
                        "environment calls in flight per universe",
                        jobs_max,
                    ));
                }
                record.write(&job)?;
                Ok(JobSubmit::Created(job))
            })
        })
        .await
    }

    async fn job_read(&self, id: &str) -> Result<Option<EnvJob>, EnvCatalogError> {
        let Some(record) = job_record(&self.jobs_dir(), id) else {
            return Ok(None);
        };
        run(move || Ok(record.read()?)).await
    }

    async fn job_claim(
        &self,
        environment_id: &str,
        connection: &str,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<EnvJob>, EnvCatalogError> {
        let (lock, dir) = (jobs_lock(self.root()), self.jobs_dir());
        let (environment_id, connection) = (environment_id.to_owned(), connection.to_owned());
        run(move || {
            lock.locked(|| {
                let mut pending: Vec<EnvJob> = read_jobs(&dir)?
                    .into_iter()
                    .filter(|job| {
                        job.environment_id == environment_id && job.status == JobStatus::Pending
                    })
                    .collect();
                oldest_first(&mut pending);
                pending.truncate(limit);
                for job in &mut pending {
                    deliver(job, &connection, now_ms);
                    Record::at(dir.clone(), &job.id).write(job)?;
                }
                Ok(pending)
            })
        })
        .await
    }

    async fn job_delivered(&self, environment_id: &str) -> Result<Vec<EnvJob>, EnvCatalogError> {
        let (dir, environment_id) = (self.jobs_dir(), environment_id.to_owned());
        run(move || {
            let mut delivered: Vec<EnvJob> = read_jobs(&dir)?
                .into_iter()
                .filter(|job| {
                    job.environment_id == environment_id
                        && matches!(job.status, JobStatus::Delivered { .. })
                })
                .collect();
            oldest_first(&mut delivered);
            Ok(delivered)
        })
        .await
    }

    async fn job_redeliver(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        let connection = connection.to_owned();
        self.change_job(id, move |mut job| {
            if job.is_done() {
                return None;
            }
            deliver(&mut job, &connection, now_ms);
            Some(job)
        })
        .await
    }

    async fn job_finish(
        &self,
        id: &str,
        result: &Value,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        check_result(result)?;
        let result = result.clone();
        self.change_job(id, move |mut job| {
            if job.is_done() {
                return None;
            }
            job.status = JobStatus::Done;
            job.result = Some(result);
            job.finished_at_ms = Some(now_ms);
            Some(job)
        })
        .await
    }

    async fn job_prune(&self, before_ms: u64) -> Result<usize, EnvCatalogError> {
        let (lock, dir) = (jobs_lock(self.root()), self.jobs_dir());
        run(move || {
            lock.locked(|| {
                let mut pruned = 0;
                for job in read_jobs(&dir)? {
                    if job.is_done() && job.finished_at_ms.unwrap_or(0) < before_ms {
                        Record::at(dir.clone(), &job.id).remove()?;
                        pruned += 1;
                    }
                }
                Ok(pruned)
            })
        })
        .await
    }
}
