//! The worker's side of environment calls it handed off: a tool activity that made a
//! job returned `WillCompleteAsync` and freed its slot; a small task per job then
//! keeps the activity alive and makes sure it ends.
//!
//! The gateway holding the environment's daemon normally completes the activity the
//! moment the daemon answers. This task heartbeats the activity meanwhile (so
//! Temporal retries it if this worker dies: the retry finds the job by its id and
//! takes it over with its own task token), finishes the job as expired at its
//! deadline (an offline environment), completes the activity from a finished job the
//! gateway could not complete (its token was stale, or the gateway died), and stops
//! when the workflow cancels the activity (the job is finished as cancelled, so a
//! late answer changes nothing).

use std::sync::Arc;
use std::time::Duration;

use effects::env::DeferredCall;
use engine::core::effects::ToolResult;
use engine::store::BlobStore;
use env_registry::{EnvCatalog, EnvJob};
use temporalio_client::{ActivityIdentifier, Client};

/// Used when the activity has no heartbeat timeout.
const WATCH_INTERVAL_DEFAULT: Duration = Duration::from_secs(3);

/// Watches job `deferred` for the activity attempt holding `task_token`.
pub fn watch<S: EnvCatalog + BlobStore + Send + Sync + 'static>(
    client: Client,
    store: Arc<S>,
    task_token: Vec<u8>,
    heartbeat_timeout: Option<Duration>,
    deferred: DeferredCall,
) {
    let interval = heartbeat_timeout
        .map_or(WATCH_INTERVAL_DEFAULT, |timeout| timeout / 3)
        .max(Duration::from_millis(200));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        let ours = effects::env::encode_token(&task_token);
        loop {
            ticker.tick().await;
            let job = match store.job_read(&deferred.job_id).await {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err(err) => {
                    tracing::info!(job = %deferred.job_id, error = %err, "reading an environment job failed; retrying");
                    continue;
                }
            };
            if job.task_token.as_deref() != Some(ours.as_str()) && !job.is_done() {
                // A later attempt of the activity took the job over.
                return;
            }
            if job.is_done() {
                if let Some(result) = stored_result(&job) {
                    // Ours may be stale (the gateway completed it already): fine.
                    let _ = crate::sessions::complete_tool(&client, task_token, result).await;
                }
                return;
            }
            let now = now_ms();
            if now >= job.deadline_ms {
                match effects::env::expire(&*store, &job, now).await {
                    Ok(result) => {
                        let _ = crate::sessions::complete_tool(&client, task_token, result).await;
                        return;
                    }
                    Err(err) => {
                        tracing::info!(job = %job.id, error = %err, "expiring an environment job failed; retrying");
                        continue;
                    }
                }
            }
            let handle = client.get_async_activity_handle(ActivityIdentifier::TaskToken(
                task_token.clone().into(),
            ));
            match handle.heartbeat::<()>(None, Default::default()).await {
                Ok(response) if response.cancel_requested => {
                    let _ = cancel(&*store, &job, now).await;
                    let _ = handle
                        .report_cancelation::<()>(None, Default::default())
                        .await;
                    return;
                }
                Ok(_) => {}
                Err(err) => {
                    // The activity is gone (timed out and retried, or its workflow
                    // ended): a later attempt, if any, watches the job.
                    tracing::info!(job = %job.id, error = %err, "heartbeating an environment call failed; no longer watching");
                    return;
                }
            }
        }
    });
}

fn stored_result(job: &EnvJob) -> Option<ToolResult> {
    serde_json::from_value(job.result.clone()?).ok()
}

/// Finishes `job` as cancelled, so a late answer changes nothing.
async fn cancel<S: EnvCatalog + BlobStore>(
    store: &S,
    job: &EnvJob,
    now_ms: u64,
) -> Result<(), effects::AdapterError> {
    let message = "the run was cancelled while the command ran";
    let result = effects::env::error_result(store, &job.call_id, "cancelled", message).await?;
    effects::env::finish(store, job, &result, now_ms).await?;
    Ok(())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}
