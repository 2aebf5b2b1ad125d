//! One session of the local host: its runner (made by the first admission), the
//! driver task that steps it, and the channel that relays its deltas.

use std::sync::Arc;

use api_service::{Admission, AdmitFailure};
use effects::{LlmCompactor, SessionToolset};
use engine::SessionId;
use engine::core::admit::Admitted;
use engine::core::command::CoreCommand;
use llm_runtime::{Delta, DeltaSink};
use session_stores::SessionStore;
use tokio::sync::{Mutex, Notify, broadcast};

use super::LocalApiConfig;
use crate::runner::{RunnerError, SessionRunner, Step};
use crate::runtime_llm::RuntimeLlm;
use crate::tools::{TestSessionTools, TestToolset};

/// Live deltas kept for slow subscribers before they start missing some.
const DELTA_BUFFER_MAX: usize = 1_024;

/// Compaction summarises with the session's model, as on the Temporal host (the
/// deterministic listing compactor is for the runner's own tests).
type Runner<S> = SessionRunner<S, RuntimeLlm<BroadcastDeltas>, TestSessionTools<S>, LlmCompactor>;

/// Forwards llm-runtime deltas to subscribers; drops them when nobody listens.
#[derive(Clone)]
pub(super) struct BroadcastDeltas(broadcast::Sender<Delta>);

impl DeltaSink for BroadcastDeltas {
    fn delta(&self, delta: Delta) {
        // No receiver is fine: deltas are a best-effort side channel.
        let _ = self.0.send(delta);
    }
}

pub(super) struct SessionSlot<S: SessionStore> {
    session_id: SessionId,
    runner: Mutex<Option<Runner<S>>>,
    wake: Notify,
    /// Set once the session is deleted: its driver task ends.
    retired: std::sync::atomic::AtomicBool,
    /// The driver task, aborted when the session is deleted (a step in flight,
    /// which holds the runner, is dropped where it is).
    driver: std::sync::Mutex<Option<tokio::task::AbortHandle>>,
    deltas: broadcast::Sender<Delta>,
}

fn runner_failure(err: RunnerError) -> AdmitFailure {
    match err {
        RunnerError::Rejected(rejection) => AdmitFailure::Rejected(rejection),
        other => AdmitFailure::Unavailable(other.to_string()),
    }
}

impl<S: SessionStore> SessionSlot<S> {
    pub(super) fn new(session_id: SessionId) -> Self {
        Self {
            session_id,
            runner: Mutex::new(None),
            wake: Notify::new(),
            retired: std::sync::atomic::AtomicBool::new(false),
            driver: std::sync::Mutex::new(None),
            deltas: broadcast::channel(DELTA_BUFFER_MAX).0,
        }
    }

    pub(super) fn deltas(&self) -> broadcast::Receiver<Delta> {
        self.deltas.subscribe()
    }

    /// Hands `delta` to the session's subscribers (none listening: dropped).
    pub(super) fn publish(&self, delta: Delta) {
        let _ = self.deltas.send(delta);
    }

    /// Ends the driver (dropping a step in flight) and the runner.
    pub(super) async fn retire(&self) {
        self.retired
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let driver = self
            .driver
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        if let Some(driver) = driver {
            driver.abort();
        }
        *self.runner.lock().await = None;
        self.wake.notify_one();
    }

    /// Admits `command` (committed before returning), making the runner and its
    /// driver on first use, and wakes the driver.
    pub(super) async fn admit(
        self: &Arc<Self>,
        config: &LocalApiConfig,
        universe_id: &str,
        store: Arc<S>,
        toolset: TestToolset,
        command: CoreCommand,
    ) -> Result<Admission, AdmitFailure> {
        let mut guard = self.runner.lock().await;
        let runner = match &mut *guard {
            Some(runner) => runner,
            empty => {
                let runner = self
                    .make_runner(config, universe_id, store, toolset)
                    .await?;
                let driver = tokio::spawn(self.clone().drive());
                *self
                    .driver
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(driver.abort_handle());
                empty.insert(runner)
            }
        };
        let admitted = runner.admit(command).await.map_err(runner_failure)?;
        let head = runner.state().head();
        drop(guard);
        // A rehydrated session may also have work left over from before.
        self.wake.notify_one();
        let (run_id, duplicate) = match admitted {
            Admitted::Run { run_id, duplicate } => (Some(run_id), duplicate),
            Admitted::Accepted => (None, false),
        };
        Ok(Admission {
            run_id,
            duplicate,
            head,
        })
    }

    async fn make_runner(
        &self,
        config: &LocalApiConfig,
        universe_id: &str,
        store: Arc<S>,
        toolset: TestToolset,
    ) -> Result<Runner<S>, AdmitFailure> {
        let llm = RuntimeLlm::new(config.runtime.clone(), config.transport)
            .with_hosted_mcp(toolset.hosted_mcp(universe_id, &store))
            .with_retry(config.retry)
            .with_sink(BroadcastDeltas(self.deltas.clone()));
        let tools = toolset.session_tools(universe_id, &store, &self.session_id);
        let compactor = LlmCompactor::new(config.runtime.clone(), config.transport);
        let sources = toolset.context_sources();
        let fleet = toolset.agents().cloned();
        SessionRunner::with_compactor(store, self.session_id.clone(), llm, tools, compactor)
            .await
            .map(|runner| {
                let transcriber = effects::transcriber::LlmTranscriber::new(
                    config.runtime.clone(),
                    config.transcription.clone(),
                );
                let runner = runner
                    .with_context_sources(universe_id, sources)
                    .with_transcriber(transcriber)
                    .with_wall_clock();
                match fleet {
                    Some(fleet) => runner.with_parent_notifier(universe_id, fleet),
                    None => runner,
                }
            })
            .map_err(runner_failure)
    }

    /// Steps the session whenever it has work, releasing the runner between steps
    /// so admissions interleave with the run.
    async fn drive(self: Arc<Self>) {
        let mut deadline: Option<u64> = None;
        loop {
            if self.retired.load(std::sync::atomic::Ordering::SeqCst) {
                return;
            }
            // Idle: wait for an admission, or for the next timed hold (an approval
            // deadline, a deferred result, a wake-up), as the workflow's timer does.
            match deadline {
                None => self.wake.notified().await,
                Some(at) => {
                    let wait = at.saturating_sub(wall_ms());
                    let timer = tokio::time::sleep(std::time::Duration::from_millis(wait));
                    tokio::select! {
                        () = self.wake.notified() => {}
                        () = timer => {
                            let mut guard = self.runner.lock().await;
                            if let Some(runner) = guard.as_mut()
                                && let Err(err) = runner.fire_due().await
                            {
                                tracing::warn!(session = %self.session_id, error = %err, "firing timers failed");
                            }
                        }
                    }
                }
            }
            loop {
                let step = {
                    let mut guard = self.runner.lock().await;
                    let Some(runner) = guard.as_mut() else { break };
                    runner.step().await
                };
                match step {
                    Ok(Step::Idle) => {
                        let guard = self.runner.lock().await;
                        deadline = guard.as_ref().and_then(|runner| runner.next_deadline_ms());
                        break;
                    }
                    Ok(Step::Closed) => {
                        deadline = None;
                        break;
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(session = %self.session_id, error = %err, "session step failed");
                        break;
                    }
                }
            }
        }
    }
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}
