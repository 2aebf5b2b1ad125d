//! `ScheduleFiringWorkflow`: what a Temporal Schedule of a Lightspeed schedule
//! starts at each firing (Schedule id and workflow id prefix [`schedule_id`]; the
//! server appends the firing's due time to the workflow id).
//!
//! It runs the `schedule_fire` activity, which claims the firing in the schedule
//! catalog and requests the run through the API service's `run/start` body (its
//! submission id derived from the schedule and the due time, so a retried firing
//! never starts a second run), then, when a run was started, waits for that run to
//! finish with `schedule_wait_run` (each attempt long-polls the session for at most
//! a minute, heartbeating; the workflow asks again until it is done). The workflow
//! thus lives as long as its run, which is what the Schedule's overlap policy
//! (`skip`, `bufferOne`, `allowAll`) looks at. A workflow holds no slot while it
//! waits between polls, and its history grows by one activity per minute of run.
//!
//! What this module must not do: decide whether a firing fires (the catalog's claim
//! decides, in the activity), or carry anything but ids and small facts.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_workflow::common::ActivityDefinition;
use temporalio_workflow::common::RetryPolicy;
use temporalio_workflow::{
    ActivityOptions, WorkflowContext, WorkflowContextView, WorkflowResult, workflow,
    workflow_methods,
};

/// The Temporal Schedule id of schedule `schedule_id` of universe `universe_id`,
/// also the prefix of its firing workflows' ids.
pub fn schedule_id(universe_id: &str, schedule_id: &str) -> String {
    format!("sched/{universe_id}/{schedule_id}")
}

/// Which schedule a firing is of. The due time is not in it: a Schedule's action
/// input is the same for every firing; the activity reads it from the workflow id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleFiringInput {
    pub universe_id: String,
    pub schedule_id: String,
}

/// What `schedule_fire` did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum FiringResult {
    /// A run was requested.
    #[serde(rename_all = "camelCase")]
    Started { session_id: String, run_id: String },
    /// Folded into a firing that ran after this one was due (downtime).
    Coalesced,
    /// The schedule is paused or gone.
    Skipped,
    /// The run was refused, for the reason given.
    #[serde(rename_all = "camelCase")]
    Refused { reason: String },
}

/// `schedule_wait_run`: whether a firing's run is finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRunInput {
    pub universe_id: String,
    pub session_id: String,
    pub run_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitRunOutput {
    pub finished: bool,
}

/// `schedule_fire`.
#[derive(Debug, Clone, Copy, Default)]
pub struct FireSchedule;

impl FireSchedule {
    pub const NAME: &'static str = "schedule_fire";
}

impl ActivityDefinition for FireSchedule {
    type Input = ScheduleFiringInput;
    type Output = FiringResult;

    fn name(&self) -> &str {
        Self::NAME
    }
}

/// `schedule_wait_run`.
#[derive(Debug, Clone, Copy, Default)]
pub struct WaitScheduledRun;

impl WaitScheduledRun {
    pub const NAME: &'static str = "schedule_wait_run";
}

impl ActivityDefinition for WaitScheduledRun {
    type Input = WaitRunInput;
    type Output = WaitRunOutput;

    fn name(&self) -> &str {
        Self::NAME
    }
}

/// One `schedule_wait_run` attempt's longest poll; its start-to-close timeout
/// leaves room beyond it.
pub const WAIT_POLL_MS_MAX: u64 = 60_000;
/// Polls of one firing's run before the workflow stops following it (a week of
/// minutes): a run that long no longer holds its schedule back.
const WAIT_POLLS_MAX: u32 = 7 * 24 * 60;

fn retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(500))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(30))
        .build()
}

#[workflow]
pub struct ScheduleFiringWorkflow {
    input: ScheduleFiringInput,
}

#[workflow_methods]
impl ScheduleFiringWorkflow {
    #[init]
    pub fn new(_ctx: &WorkflowContextView, input: ScheduleFiringInput) -> Self {
        Self { input }
    }

    #[run]
    pub async fn run(ctx: &mut WorkflowContext<Self>) -> WorkflowResult<FiringResult> {
        let input = ctx.state(|wf| wf.input.clone());
        let options = ActivityOptions::with_start_to_close_timeout(Duration::from_secs(60))
            .retry_policy(retry())
            .build();
        let fired = ctx
            .execute_activity(FireSchedule, input.clone(), options)
            .await?;
        if let FiringResult::Started { session_id, run_id } = &fired {
            let wait = WaitRunInput {
                universe_id: input.universe_id.clone(),
                session_id: session_id.clone(),
                run_id: run_id.clone(),
            };
            for _ in 0..WAIT_POLLS_MAX {
                let options = ActivityOptions::with_start_to_close_timeout(Duration::from_millis(
                    WAIT_POLL_MS_MAX + 30_000,
                ))
                .heartbeat_timeout(Duration::from_secs(20))
                .retry_policy(retry())
                .build();
                let waited = ctx
                    .execute_activity(WaitScheduledRun, wait.clone(), options)
                    .await?;
                if waited.finished {
                    break;
                }
            }
        }
        Ok(fired)
    }
}
