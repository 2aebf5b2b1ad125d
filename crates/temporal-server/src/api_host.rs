//! `TemporalHost`: the API service's host over session workflows. The API itself
//! ([`api_service::Service`]) is written once; this module says only how the
//! Temporal deployment admits a command, notices commits and relays deltas:
//!
//! - admission is the session workflow's `admit` update (with start, so the first
//!   command creates the workflow and a session whose workflow ended is served by a
//!   fresh run); the reply comes once the command is committed, or as the engine's
//!   typed refusal;
//! - schedules are Temporal Schedules ([`TemporalScheduler`]) on the sessions' task
//!   queue;
//! - deltas come from the [`DeltaHub`] (in process, or relayed through Postgres).
//!
//! Commits happen in the worker, possibly in another process; the store provider
//! pushes them to waiting readers (`StoreProvider::commits`: Postgres `LISTEN`, or
//! the filesystem store's hook when the worker shares this process), so this host
//! has nothing to say about them.

use std::sync::Arc;

use api_service::{Admission, AdmitFailure, RemoteRejection, SessionHost, SessionKey};
use engine::core::command::CoreCommand;
use llm_runtime::Delta;
use session_stores::StoreProvider;
use temporal_workflow::AdmitRejected;
use tokio::sync::broadcast;

use crate::deltas::DeltaHub;
use crate::schedules::TemporalScheduler;
use crate::sessions::{AdmitError, SessionClient};

/// The API served by session workflows.
pub type TemporalApi<P> = api_service::Service<TemporalHost<P>>;

pub struct TemporalHost<P> {
    sessions: SessionClient,
    stores: Arc<P>,
    deltas: Arc<DeltaHub>,
    scheduler: Arc<TemporalScheduler>,
}

impl<P: StoreProvider> TemporalHost<P> {
    pub fn new(sessions: SessionClient, stores: Arc<P>, deltas: Arc<DeltaHub>) -> Self {
        let scheduler = Arc::new(TemporalScheduler::new(
            sessions.client().clone(),
            sessions.task_queue(),
        ));
        Self {
            sessions,
            stores,
            deltas,
            scheduler,
        }
    }

    /// The API over this host.
    pub fn api(self) -> TemporalApi<P> {
        api_service::Service::new(self)
    }
}

fn admit_failure(err: AdmitError) -> AdmitFailure {
    let rejected = match err {
        AdmitError::Rejected(rejected) => rejected,
        AdmitError::Busy(message) => return AdmitFailure::Busy(message),
        AdmitError::Temporal(message) => return AdmitFailure::Unavailable(message),
    };
    if rejected.code == AdmitRejected::ADMISSION_LOST {
        return AdmitFailure::Lost;
    }
    match rejected.rejection_code() {
        Some(code) => AdmitFailure::Refused(RemoteRejection {
            code,
            message: rejected.message,
            current_revision: rejected.current_revision,
        }),
        // A code this build does not know (a newer worker): a server-side mismatch.
        None => AdmitFailure::Unavailable(format!(
            "unknown rejection code {:?}: {}",
            rejected.code, rejected.message
        )),
    }
}

impl<P: StoreProvider> SessionHost for TemporalHost<P> {
    type Stores = Arc<P>;

    fn stores(&self) -> &Arc<P> {
        &self.stores
    }

    async fn admit(
        &self,
        key: &SessionKey,
        command: CoreCommand,
    ) -> Result<Admission, AdmitFailure> {
        let reply = self
            .sessions
            .admit(&key.universe_id, &key.session_id, command)
            .await
            .map_err(admit_failure)?;
        Ok(Admission {
            run_id: reply.run_id,
            duplicate: reply.duplicate,
            head: reply.head,
        })
    }

    fn scheduler(&self) -> Arc<dyn schedule_registry::Scheduler> {
        self.scheduler.clone()
    }

    async fn retire(&self, key: &SessionKey) -> Result<(), String> {
        self.sessions
            .delete(&key.universe_id, &key.session_id)
            .await
    }

    fn deltas(&self, key: &SessionKey) -> broadcast::Receiver<Delta> {
        self.deltas
            .subscribe(&key.universe_id, key.session_id.as_str())
    }

    fn publish_delta(&self, key: &SessionKey, delta: Delta) {
        use llm_runtime::DeltaSink as _;
        self.deltas
            .sink(&key.universe_id, key.session_id.as_str())
            .delta(delta);
    }

    async fn complete_tool(
        &self,
        task_token: Vec<u8>,
        result: engine::core::effects::ToolResult,
    ) -> Result<(), String> {
        crate::sessions::complete_tool(self.sessions.client(), task_token, result).await
    }
}
