//! Talking to session workflows from outside: admissions through the `admit` update
//! (with start, so the first command creates the workflow and a session whose
//! workflow ended is served by a fresh run), and the `status`/`control` queries.

use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::control::ControlState;
use temporal_workflow::{
    AdmitRejected, AdmitReply, AdmitRequest, AgentSessionWorkflow, SessionWorkflowInput,
    WorkflowSettings, WorkflowStatus, workflow_id,
};
use temporalio_client::errors::{
    WorkflowQueryError, WorkflowStartError, WorkflowUpdateError, WorkflowUpdateWithStartError,
};
use temporalio_client::tonic;
use temporalio_client::{
    Client, WorkflowIdConflictPolicy, WorkflowQueryOptions, WorkflowUpdateWithStartOptions,
};

/// Why an admission did not go through.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// The engine refused the command; nothing was recorded.
    #[error("{}: {}", .0.code, .0.message)]
    Rejected(AdmitRejected),
    /// Temporal refused for load: too many updates in flight on the session's
    /// workflow, or a rate limit. The client may retry after a while.
    #[error("temporal is busy: {0}")]
    Busy(String),
    /// Temporal could not be reached or failed the call.
    #[error("temporal: {0}")]
    Temporal(String),
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No workflow has ever run for this session.
    #[error("no workflow for session {0}")]
    NotFound(String),
    #[error("temporal: {0}")]
    Temporal(String),
}

/// Update-with-start attempts of one admission: a second one covers a workflow run
/// that completed (idle) while the first was on its way.
const ADMIT_ATTEMPTS_MAX: u32 = 2;

/// A client for session workflows on one task queue.
#[derive(Clone)]
pub struct SessionClient {
    client: Client,
    task_queue: String,
    settings: WorkflowSettings,
}

/// Finds our rejection in an update failure (its message, or a cause's).
fn rejection(
    failure: &temporalio_common::protos::temporal::api::failure::v1::Failure,
) -> Option<AdmitRejected> {
    let mut current = Some(failure);
    // Bounded: failure chains are a few links long.
    for _ in 0..8 {
        let failure = current?;
        if let Some(rejected) = AdmitRejected::parse(&failure.message) {
            return Some(rejected);
        }
        current = failure.cause.as_deref();
    }
    None
}

fn update_error(err: WorkflowUpdateError) -> AdmitError {
    match err {
        WorkflowUpdateError::Failed(failure) => match rejection(&failure) {
            Some(rejected) => AdmitError::Rejected(rejected),
            None => AdmitError::Temporal(failure.message.clone()),
        },
        WorkflowUpdateError::Rpc(status) => rpc_error(&status),
        other => AdmitError::Temporal(other.to_string()),
    }
}

/// A gRPC failure: load shedding (the per-workflow limit on updates in flight,
/// namespace rate limits) is `Busy`, anything else a Temporal fault.
fn rpc_error(status: &tonic::Status) -> AdmitError {
    match status.code() {
        tonic::Code::ResourceExhausted => AdmitError::Busy(status.message().to_owned()),
        _ => AdmitError::Temporal(status.to_string()),
    }
}

fn update_with_start_error(err: WorkflowUpdateWithStartError) -> AdmitError {
    match err {
        WorkflowUpdateWithStartError::Update(err) => update_error(err),
        WorkflowUpdateWithStartError::Rpc(status) => rpc_error(&status),
        WorkflowUpdateWithStartError::Start(WorkflowStartError::Rpc(status)) => rpc_error(&status),
        other => AdmitError::Temporal(other.to_string()),
    }
}

impl SessionClient {
    pub fn new(client: Client, task_queue: impl Into<String>, settings: WorkflowSettings) -> Self {
        Self {
            client,
            task_queue: task_queue.into(),
            settings,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn task_queue(&self) -> &str {
        &self.task_queue
    }

    /// Admits `command` into the session, starting its workflow if none is running.
    /// Returns once the command's events are committed to the session log.
    pub async fn admit(
        &self,
        universe_id: &str,
        session_id: &SessionId,
        command: CoreCommand,
    ) -> Result<AdmitReply, AdmitError> {
        let input = SessionWorkflowInput {
            universe_id: universe_id.to_owned(),
            session_id: session_id.clone(),
            settings: self.settings,
            chain_index: 0,
        };
        let options = WorkflowUpdateWithStartOptions::new(
            self.task_queue.clone(),
            workflow_id(universe_id, session_id),
            WorkflowIdConflictPolicy::UseExisting,
        )
        .update_id(update_id())
        .build();
        let mut attempt = 1;
        loop {
            let sent = self
                .client
                .execute_update_with_start_workflow(
                    AgentSessionWorkflow::run,
                    input.clone(),
                    AgentSessionWorkflow::admit,
                    AdmitRequest {
                        command: command.clone(),
                    },
                    options.clone(),
                )
                .await;
            match sent {
                Ok(reply) => return Ok(reply),
                // The workflow run completed (idle timeout) between the start check
                // and the update: nothing was admitted, and the next update-with-start
                // starts a new run.
                Err(WorkflowUpdateWithStartError::Update(WorkflowUpdateError::NotFound(_)))
                    if attempt < ADMIT_ATTEMPTS_MAX =>
                {
                    attempt += 1;
                }
                Err(err) => return Err(update_with_start_error(err)),
            }
        }
    }

    fn handle(
        &self,
        universe_id: &str,
        session_id: &SessionId,
    ) -> temporalio_client::WorkflowHandle<Client, AgentSessionWorkflow> {
        self.client
            .get_workflow_handle::<AgentSessionWorkflow>(workflow_id(universe_id, session_id))
    }

    /// Deletes the session's workflow execution (its latest run; Temporal terminates
    /// it first if it is running). A session that has no workflow is no error. Runs
    /// it continued as new from are closed already and go with the namespace's
    /// retention.
    pub async fn delete(&self, universe_id: &str, session_id: &SessionId) -> Result<(), String> {
        use temporalio_client::NamespacedClient as _;
        use temporalio_common::protos::temporal::api::common::v1::WorkflowExecution;
        use temporalio_common::protos::temporal::api::workflowservice::v1::DeleteWorkflowExecutionRequest;

        let request = DeleteWorkflowExecutionRequest {
            namespace: self.client.namespace(),
            workflow_execution: Some(WorkflowExecution {
                workflow_id: workflow_id(universe_id, session_id),
                run_id: String::new(),
            }),
        };
        match self
            .client
            .connection()
            .workflow_service()
            .delete_workflow_execution(tonic::Request::new(request))
            .await
        {
            Ok(_) => Ok(()),
            Err(status) if status.code() == tonic::Code::NotFound => Ok(()),
            Err(status) => Err(format!(
                "deleting the session's workflow: {}",
                status.message()
            )),
        }
    }

    pub async fn status(
        &self,
        universe_id: &str,
        session_id: &SessionId,
    ) -> Result<WorkflowStatus, QueryError> {
        self.handle(universe_id, session_id)
            .query(
                AgentSessionWorkflow::status,
                (),
                WorkflowQueryOptions::default(),
            )
            .await
            .map_err(|err| query_error(err, session_id))
    }

    /// The committed control state held by the session's workflow.
    pub async fn control(
        &self,
        universe_id: &str,
        session_id: &SessionId,
    ) -> Result<Option<ControlState>, QueryError> {
        self.handle(universe_id, session_id)
            .query(
                AgentSessionWorkflow::control,
                (),
                WorkflowQueryOptions::default(),
            )
            .await
            .map_err(|err| query_error(err, session_id))
    }
}

fn query_error(err: WorkflowQueryError, session_id: &SessionId) -> QueryError {
    match err {
        WorkflowQueryError::NotFound(_) => QueryError::NotFound(session_id.to_string()),
        other => QueryError::Temporal(other.to_string()),
    }
}

/// A fresh update id: 60 random bits (a UUID v4's first 8 bytes) in 11 characters. The SDK's default (a UUID in
/// text) appears five times in every admission's history events; this one keeps an
/// ordinary turn within its history budget (docs/spec/workflow.md). Ids only need to
/// differ among one workflow run's updates, so 60 bits leave collisions out of reach.
fn update_id() -> String {
    use base64::Engine as _;
    let random = uuid::Uuid::new_v4();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&random.as_bytes()[..8])
}

/// Completes the tool activity waiting under `task_token` (it returned
/// `WillCompleteAsync`) with `result`, encoded by `client`'s data converter (the
/// seam codec), as the worker would have.
pub async fn complete_tool(
    client: &Client,
    task_token: Vec<u8>,
    result: engine::core::effects::ToolResult,
) -> Result<(), String> {
    use temporalio_client::ActivityIdentifier;
    let token = temporalio_common::protos::TaskToken::from(task_token);
    client
        .get_async_activity_handle(ActivityIdentifier::TaskToken(token))
        .complete(Some(result), Default::default())
        .await
        .map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_shedding_is_busy_and_other_rpc_failures_are_faults() {
        let shed = tonic::Status::resource_exhausted("too many outstanding updates");
        assert!(matches!(rpc_error(&shed), AdmitError::Busy(_)));
        let update = WorkflowUpdateWithStartError::Update(WorkflowUpdateError::Rpc(shed));
        assert!(matches!(
            update_with_start_error(update),
            AdmitError::Busy(_)
        ));
        let down = tonic::Status::unavailable("connection refused");
        assert!(matches!(rpc_error(&down), AdmitError::Temporal(_)));
    }
}
