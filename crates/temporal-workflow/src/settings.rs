//! Timeouts, retry bounds and the continue-as-new threshold of the session workflow.
//! They travel in the workflow input (so tests can set them low) and are plain
//! numbers with their units in their names.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use temporalio_workflow::common::RetryPolicy;
use temporalio_workflow::{
    ActivityCancellationType, ActivityOptions, LocalActivityOptions, WorkflowCancellationToken,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkflowSettings {
    /// Continue-as-new once idle and history has at least this many events (or the
    /// server suggests it). Default 2,000.
    pub continue_as_new_history_events: u32,
    /// One LLM attempt, start to close. Default 600 s.
    pub llm_attempt_timeout_ms: u64,
    /// The LLM activity heartbeats; a silent attempt is retried after this long, and
    /// cancellation reaches it within about this long. Default 10 s.
    pub llm_heartbeat_timeout_ms: u64,
    /// Attempts of a generation (or of a summarising compaction) that keeps failing
    /// with a retryable provider error (429, 5xx, timeouts) before the turn (or the
    /// compaction) fails. Default 6.
    pub llm_attempts_max: u32,
    /// First retry delay of a retryable LLM error when the provider gave no
    /// `retry-after`; doubles up to `llm_retry_interval_max_ms`. Default 1 s.
    pub llm_retry_interval_initial_ms: u64,
    /// Default 60 s.
    pub llm_retry_interval_max_ms: u64,
    /// One tool call, start to close (the tool itself is also bounded by it: the
    /// activity turns a tool that overruns into an error result). Default 300 s.
    pub tool_timeout_ms: u64,
    /// One compaction attempt. Default 600 s.
    pub compaction_timeout_ms: u64,
    /// One append or load attempt. Default 30 s.
    pub store_timeout_ms: u64,
    /// A session with nothing to do for this long completes its workflow (its state
    /// is in the store; the next admission starts a new workflow run), so idle
    /// sessions hold no open workflow and no worker cache. 0 keeps workflows open.
    /// Default 1 h.
    pub session_idle_timeout_ms: u64,
    /// Runs new workflows in the shape before the history budget (no
    /// `history-budget-v1` marker: regular activities for store work, one append
    /// per decision). Only for measuring the budget against it (`temporal-bench
    /// --legacy-history-shape`). Default false.
    #[serde(default)]
    pub legacy_history_shape: bool,
}

impl Default for WorkflowSettings {
    fn default() -> Self {
        Self {
            continue_as_new_history_events: 2_000,
            llm_attempt_timeout_ms: 600_000,
            llm_heartbeat_timeout_ms: 10_000,
            llm_attempts_max: 6,
            llm_retry_interval_initial_ms: 1_000,
            llm_retry_interval_max_ms: 60_000,
            tool_timeout_ms: 300_000,
            compaction_timeout_ms: 600_000,
            store_timeout_ms: 30_000,
            session_idle_timeout_ms: 3_600_000,
            legacy_history_shape: false,
        }
    }
}

fn ms(value: u64) -> Duration {
    Duration::from_millis(value.max(1))
}

/// Retries forever with capped backoff: for store work that must eventually happen
/// (deterministic failures are returned as values, never as activity errors).
fn store_retry() -> RetryPolicy {
    RetryPolicy::builder()
        .initial_interval(Duration::from_millis(200))
        .backoff_coefficient(2.0)
        .maximum_interval(Duration::from_secs(30))
        .build()
}

impl WorkflowSettings {
    /// Store work is not cancelled with the workflow: an append that started
    /// finishes, so the log and the workflow agree on what was committed.
    pub(crate) fn store_options(&self, activity_id: String) -> ActivityOptions {
        ActivityOptions::with_start_to_close_timeout(ms(self.store_timeout_ms))
            .activity_id(activity_id)
            .retry_policy(store_retry())
            .cancellation_token(WorkflowCancellationToken::new())
            .build()
    }

    /// Store work as a local activity: run by the worker that holds the workflow
    /// task, recorded as one marker (its input never enters history), no task of
    /// its own. Retried like [`Self::store_options`]; not cancelled with the
    /// workflow, for the same reason.
    pub(crate) fn store_local_options(&self, activity_id: String) -> LocalActivityOptions {
        LocalActivityOptions::builder()
            .activity_id(activity_id)
            .start_to_close_timeout(ms(self.store_timeout_ms))
            .retry_policy(store_retry())
            .cancellation_token(WorkflowCancellationToken::new())
            .build()
    }

    /// The activity itself stops retrying after `llm_attempts_max` attempts by
    /// returning a failed outcome, so the server-side policy is unbounded (crashed
    /// attempts time out on the heartbeat and are retried too).
    pub(crate) fn llm_options(&self, activity_id: String) -> ActivityOptions {
        let retry = RetryPolicy::builder()
            .initial_interval(ms(self.llm_retry_interval_initial_ms))
            .backoff_coefficient(2.0)
            .maximum_interval(ms(self.llm_retry_interval_max_ms))
            .build();
        ActivityOptions::with_start_to_close_timeout(ms(self.llm_attempt_timeout_ms))
            .activity_id(activity_id)
            .heartbeat_timeout(ms(self.llm_heartbeat_timeout_ms))
            .cancellation_type(ActivityCancellationType::TryCancel)
            .retry_policy(retry)
            .build()
    }

    pub(crate) fn tool_options(&self, activity_id: String) -> ActivityOptions {
        // The activity bounds the tool by `tool_timeout_ms` itself; the server-side
        // timeout leaves it room to record that as an error result.
        let close = ms(self.tool_timeout_ms.saturating_add(self.store_timeout_ms));
        ActivityOptions::with_start_to_close_timeout(close)
            .activity_id(activity_id)
            .heartbeat_timeout(ms(self.llm_heartbeat_timeout_ms))
            .cancellation_type(ActivityCancellationType::TryCancel)
            .retry_policy(store_retry())
            .build()
    }

    pub(crate) fn compaction_options(&self, activity_id: String) -> ActivityOptions {
        ActivityOptions::with_start_to_close_timeout(ms(self.compaction_timeout_ms))
            .activity_id(activity_id)
            .heartbeat_timeout(ms(self.llm_heartbeat_timeout_ms))
            .cancellation_type(ActivityCancellationType::TryCancel)
            .retry_policy(store_retry())
            .build()
    }
}
