//! `AgentSessionWorkflow`: the Temporal face of one session. Its run method is the
//! drive loop ([`crate::host`]); admissions arrive as the `admit` update, whose
//! validator runs engine admission on a copy of the drive so bad commands are
//! rejected before anything is recorded; `status` and `control` are queries.

use std::error::Error;

use engine::core::control::ControlState;
use temporalio_workflow::{
    WorkflowContext, WorkflowContextView, WorkflowResult, workflow, workflow_methods,
};

use crate::messages::{
    AdmitRejected, AdmitReply, AdmitRequest, SessionWorkflowInput, SessionWorkflowOutcome,
    WorkflowStatus,
};
use crate::session::WorkflowState;
use crate::traces::RunTraces;

type BoxError = Box<dyn Error + Send + Sync>;

// No `#[init]`: the input goes to `run`, so a worker can build the instance itself
// (`register_workflow_with_factory`, which the SDK refuses for workflows with an
// `#[init]`); the upgrade drill (feature `upgrade-drill`) does.
#[workflow]
#[derive(Default)]
pub struct AgentSessionWorkflow {
    /// The input's `chain_index`, for the `status` query.
    pub(crate) chain_index: u32,
    pub(crate) session: WorkflowState,
    /// The trace context each run's activities are scheduled under.
    pub(crate) traces: RunTraces,
    /// Which drill variant of the workflow code this instance runs.
    #[cfg(feature = "upgrade-drill")]
    pub(crate) drill: crate::drill::UpgradeDrill,
}

impl AgentSessionWorkflow {
    /// Decides queued admissions (a step boundary); the runs they asked for join their
    /// updates' traces.
    pub(crate) fn decide_queued(&mut self, now_ms: u64) {
        for (admission, run_id) in self.session.decide_queued(now_ms) {
            self.traces.run_staged(admission, &run_id);
        }
        if let Some(drive) = self.session.drive() {
            self.traces.prune(drive.projected());
        }
    }
}

#[workflow_methods]
impl AgentSessionWorkflow {
    #[run]
    pub async fn run(
        ctx: &mut WorkflowContext<Self>,
        input: SessionWorkflowInput,
    ) -> WorkflowResult<SessionWorkflowOutcome> {
        ctx.state_mut(|wf| wf.chain_index = input.chain_index);
        crate::host::drive_session(ctx, input).await
    }

    /// A small status: head, lifecycle, active run and its phase.
    #[query]
    pub fn status(&self, _ctx: &WorkflowContextView) -> WorkflowStatus {
        self.session.status(self.chain_index)
    }

    /// The committed control state (bounded; `None` before the first load).
    #[query]
    pub fn control(&self, _ctx: &WorkflowContextView) -> Option<ControlState> {
        self.session.drive().map(|drive| drive.state().clone())
    }

    #[update_validator(admit)]
    fn validate_admit(
        &self,
        _ctx: &WorkflowContextView,
        request: &AdmitRequest,
    ) -> Result<(), BoxError> {
        self.session
            .validate(&request.command)
            .map_err(|rejected| Box::new(rejected) as BoxError)
    }

    /// Admits one command. Replies once its events are committed to the session log,
    /// or with a typed [`AdmitRejected`] (in the failure message) when refused.
    #[update]
    pub async fn admit(
        ctx: &mut WorkflowContext<Self>,
        request: AdmitRequest,
    ) -> Result<AdmitReply, BoxError> {
        let id = ctx.state_mut(|wf| {
            let id = wf.session.enqueue(request.command);
            // The update's span (when traces are on) is current here.
            wf.traces.admitted(id);
            id
        });
        let waited = ctx
            .wait_condition(|wf| wf.session.outcome(id).is_some())
            .await;
        let outcome = ctx.state(|wf| wf.session.outcome(id));
        ctx.state_mut(|wf| {
            wf.session.handler_done(id);
            wf.traces.handled(id);
        });
        waited?;
        match outcome {
            Some(Ok(reply)) => Ok(reply),
            Some(Err(rejected)) => Err(Box::new(rejected)),
            None => Err(Box::new(AdmitRejected::lost())),
        }
    }
}
