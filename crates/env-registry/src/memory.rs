//! The reference [`EnvCatalog`]: maps behind a mutex.

use std::collections::BTreeMap;
use std::sync::Mutex;

use engine::SessionId;
use serde_json::Value;

use crate::attachment::{Attachment, MountName};
use crate::catalog::{EnvCatalog, JobSubmit, check_job, check_result, too_many};
use crate::environment::{Environment, EnvironmentName, Presence};
use crate::error::EnvCatalogError;
use crate::job::{EnvJob, JobStatus};

#[derive(Debug, Default)]
pub struct MemoryEnvCatalog {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    environments: BTreeMap<EnvironmentName, Environment>,
    attachments: BTreeMap<SessionId, BTreeMap<MountName, Attachment>>,
    jobs: BTreeMap<String, EnvJob>,
}

impl MemoryEnvCatalog {
    fn with<T>(&self, work: impl FnOnce(&mut Inner) -> T) -> T {
        // Every change is one insert, remove or field write, so the maps a panic
        // leaves behind are whole and a poisoned lock is safe to reuse.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut inner)
    }
}

impl Inner {
    fn by_id(&mut self, id: &str) -> Option<&mut Environment> {
        self.environments.values_mut().find(|env| env.id == id)
    }
}

impl EnvCatalog for MemoryEnvCatalog {
    async fn env_create(
        &self,
        environment: &Environment,
        environments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        self.with(|inner| {
            if inner.environments.contains_key(&environment.name) {
                return Err(EnvCatalogError::Exists(environment.name.to_string()));
            }
            if inner.environments.len() >= environments_max {
                return Err(too_many("environments per universe", environments_max));
            }
            inner
                .environments
                .insert(environment.name.clone(), environment.clone());
            Ok(())
        })
    }

    async fn env_read(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        Ok(self.with(|inner| inner.environments.get(name).cloned()))
    }

    async fn env_read_id(&self, id: &str) -> Result<Option<Environment>, EnvCatalogError> {
        Ok(self.with(|inner| inner.by_id(id).map(|env| env.clone())))
    }

    async fn env_list(&self) -> Result<Vec<Environment>, EnvCatalogError> {
        Ok(self.with(|inner| inner.environments.values().cloned().collect()))
    }

    async fn env_delete(
        &self,
        name: &EnvironmentName,
    ) -> Result<Option<Environment>, EnvCatalogError> {
        Ok(self.with(|inner| inner.environments.remove(name)))
    }

    async fn env_presence(&self, id: &str, presence: &Presence) -> Result<bool, EnvCatalogError> {
        Ok(self.with(|inner| match inner.by_id(id) {
            Some(env) => {
                env.presence = Some(presence.clone());
                true
            }
            None => false,
        }))
    }

    async fn env_disconnected(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<(), EnvCatalogError> {
        self.with(|inner| {
            if let Some(presence) = inner
                .by_id(id)
                .and_then(|env| env.presence.as_mut())
                .filter(|presence| presence.connection == connection)
            {
                presence.connected = false;
                presence.last_seen_ms = now_ms;
            }
        });
        Ok(())
    }

    async fn attachment_put(
        &self,
        session: &SessionId,
        attachment: &Attachment,
        attachments_max: usize,
    ) -> Result<(), EnvCatalogError> {
        self.with(|inner| {
            let attached = inner.attachments.entry(session.clone()).or_default();
            if !attached.contains_key(&attachment.name) && attached.len() >= attachments_max {
                return Err(too_many("environments per session", attachments_max));
            }
            attached.insert(attachment.name.clone(), attachment.clone());
            Ok(())
        })
    }

    async fn attachment_list(
        &self,
        session: &SessionId,
    ) -> Result<Vec<Attachment>, EnvCatalogError> {
        Ok(self.with(|inner| {
            inner
                .attachments
                .get(session)
                .map(|attached| attached.values().cloned().collect())
                .unwrap_or_default()
        }))
    }

    async fn attachment_delete(
        &self,
        session: &SessionId,
        name: &MountName,
    ) -> Result<bool, EnvCatalogError> {
        Ok(self.with(|inner| {
            inner
                .attachments
                .get_mut(session)
                .is_some_and(|attached| attached.remove(name).is_some())
        }))
    }

    async fn job_submit(
        &self,
        job: &EnvJob,
        jobs_max: usize,
    ) -> Result<JobSubmit, EnvCatalogError> {
        check_job(job)?;
        self.with(|inner| {
            if let Some(existing) = inner.jobs.get_mut(&job.id) {
                if job.task_token.is_some() {
                    existing.task_token.clone_from(&job.task_token);
                }
                return Ok(JobSubmit::Existing(existing.clone()));
            }
            let in_flight = inner.jobs.values().filter(|job| !job.is_done()).count();
            if in_flight >= jobs_max {
                return Err(too_many(
                    "environment calls in flight per universe",
                    jobs_max,
                ));
            }
            inner.jobs.insert(job.id.clone(), job.clone());
            Ok(JobSubmit::Created(job.clone()))
        })
    }

    async fn job_read(&self, id: &str) -> Result<Option<EnvJob>, EnvCatalogError> {
        Ok(self.with(|inner| inner.jobs.get(id).cloned()))
    }

    async fn job_claim(
        &self,
        environment_id: &str,
        connection: &str,
        now_ms: u64,
        limit: usize,
    ) -> Result<Vec<EnvJob>, EnvCatalogError> {
        Ok(self.with(|inner| {
            let mut pending: Vec<&mut EnvJob> = inner
                .jobs
                .values_mut()
                .filter(|job| {
                    job.environment_id == environment_id && job.status == JobStatus::Pending
                })
                .collect();
            pending.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
            pending
                .into_iter()
                .take(limit)
                .map(|job| {
                    job.status = JobStatus::Delivered {
                        connection: connection.to_owned(),
                        at_ms: now_ms,
                    };
                    job.deliveries += 1;
                    job.clone()
                })
                .collect()
        }))
    }

    async fn job_delivered(&self, environment_id: &str) -> Result<Vec<EnvJob>, EnvCatalogError> {
        Ok(self.with(|inner| {
            let mut delivered: Vec<EnvJob> = inner
                .jobs
                .values()
                .filter(|job| {
                    job.environment_id == environment_id
                        && matches!(job.status, JobStatus::Delivered { .. })
                })
                .cloned()
                .collect();
            delivered.sort_by(|a, b| (a.created_at_ms, &a.id).cmp(&(b.created_at_ms, &b.id)));
            delivered
        }))
    }

    async fn job_redeliver(
        &self,
        id: &str,
        connection: &str,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        Ok(self.with(|inner| {
            let job = inner.jobs.get_mut(id).filter(|job| !job.is_done())?;
            job.status = JobStatus::Delivered {
                connection: connection.to_owned(),
                at_ms: now_ms,
            };
            job.deliveries += 1;
            Some(job.clone())
        }))
    }

    async fn job_finish(
        &self,
        id: &str,
        result: &Value,
        now_ms: u64,
    ) -> Result<Option<EnvJob>, EnvCatalogError> {
        check_result(result)?;
        Ok(self.with(|inner| {
            let job = inner.jobs.get_mut(id).filter(|job| !job.is_done())?;
            job.status = JobStatus::Done;
            job.result = Some(result.clone());
            job.finished_at_ms = Some(now_ms);
            Some(job.clone())
        }))
    }

    async fn job_prune(&self, before_ms: u64) -> Result<usize, EnvCatalogError> {
        Ok(self.with(|inner| {
            let before = inner.jobs.len();
            inner
                .jobs
                .retain(|_, job| !(job.is_done() && job.finished_at_ms.unwrap_or(0) < before_ms));
            before - inner.jobs.len()
        }))
    }
}
