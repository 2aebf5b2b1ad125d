//! Sessions of the local runtime: start, admissions, the driver task, views.

use std::sync::Arc;

use api::ApiError;
use api::types::events::{DeltaKind as ApiDeltaKind, DeltaView};
use api::types::run::*;
use api::types::session::*;
use api_projection::inputs;
use effects::LlmCompactor;
use engine::SessionId;
use engine::core::admit::Admitted;
use engine::core::command::CoreCommand;
use engine::core::context::ItemSpec;
use engine::core::control::{ControlState, Lifecycle};
use llm_runtime::{Delta, DeltaKind, DeltaSink};
use store_fs::FsStore;
use tokio::sync::{Mutex, Notify, broadcast, watch};

use super::files::{self, SessionTools};
use super::{LocalApiConfig, Universe, internal};
use crate::runner::{RunnerError, SessionRunner, Step};
use crate::runtime_llm::RuntimeLlm;

/// Live deltas kept for slow subscribers before they start missing some.
const DELTA_BUFFER_MAX: usize = 1_024;

/// Compaction summarises with the session's model, as on the Temporal backend (the
/// deterministic listing compactor is for the runner's own tests).
type Runner = SessionRunner<FsStore, RuntimeLlm<BroadcastDeltas>, SessionTools, LlmCompactor>;

/// Forwards llm-runtime deltas to subscribers; drops them when nobody listens.
#[derive(Clone)]
pub(super) struct BroadcastDeltas(broadcast::Sender<DeltaView>);

impl DeltaSink for BroadcastDeltas {
    fn delta(&self, delta: Delta) {
        let kind = match delta.kind {
            DeltaKind::Text => ApiDeltaKind::Text,
            DeltaKind::Reasoning => ApiDeltaKind::Reasoning,
            DeltaKind::ToolArguments => ApiDeltaKind::ToolArguments,
        };
        // No receiver is fine: deltas are a best-effort side channel.
        let _ = self.0.send(DeltaView {
            run_id: delta.run_id.to_string(),
            turn: delta.turn,
            output_index: delta.output_index,
            kind,
            text: delta.text,
        });
    }
}

pub(super) struct SessionHandle {
    pub(super) session_id: SessionId,
    store: Arc<FsStore>,
    runner: Mutex<Runner>,
    wake: Notify,
    /// Newest committed cursor.
    pub(super) head: watch::Sender<u64>,
    pub(super) deltas: broadcast::Sender<DeltaView>,
    /// Control state as of the last commit, so reads never wait for a generation.
    snapshot: std::sync::Mutex<ControlState>,
}

fn runner_error(err: RunnerError) -> ApiError {
    match err {
        RunnerError::Rejected(rejection) => inputs::rejection(rejection),
        other => internal(other),
    }
}

impl SessionHandle {
    fn publish(&self, runner: &Runner) {
        let control = &runner.state().control;
        *self
            .snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = control.clone();
        self.head.send_replace(control.head);
    }

    fn control(&self) -> ControlState {
        self.snapshot
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub(super) async fn view(&self) -> SessionView {
        let control = self.control();
        let filesystem = api_projection::filesystem::session_filesystem(&control);
        api_projection::views::session_view(&self.session_id, &control, filesystem)
    }

    pub(super) fn summary(&self) -> SessionSummary {
        api_projection::views::session_summary(&self.session_id, &self.control())
    }

    /// Admits `command` (committed before returning) and wakes the driver.
    async fn admit(&self, command: CoreCommand) -> Result<Admitted, ApiError> {
        let mut runner = self.runner.lock().await;
        let admitted = runner.admit(command).await.map_err(runner_error)?;
        self.publish(&runner);
        drop(runner);
        self.wake.notify_one();
        Ok(admitted)
    }

    fn cursor(&self) -> u64 {
        *self.head.borrow()
    }

    /// Steps the session whenever it has work, releasing the runner between steps
    /// so admissions interleave with the run.
    async fn drive(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            loop {
                let step = {
                    let mut runner = self.runner.lock().await;
                    let step = runner.step().await;
                    self.publish(&runner);
                    step
                };
                match step {
                    Ok(Step::Idle | Step::Closed) => break,
                    Ok(_) => {}
                    Err(err) => {
                        tracing::warn!(session = %self.session_id, error = %err, "session step failed");
                        break;
                    }
                }
            }
        }
    }

    async fn items(&self, input: &[InputItem]) -> Result<Vec<ItemSpec>, ApiError> {
        api_projection::items::input_items(&*self.store, input).await
    }

    pub(super) async fn start_run(
        &self,
        params: RunStartParams,
    ) -> Result<RunStartResult, ApiError> {
        let submission_id = inputs::submission_id(&params.submission_id)?;
        let input = self.items(&params.input).await?;
        let config = self
            .control()
            .config
            .ok_or_else(|| ApiError::internal("open session without config"))?;
        let overrides = inputs::run_overrides(&config, params.overrides.as_ref())?;
        let command = CoreCommand::RequestRun {
            submission_id,
            input,
            overrides,
        };
        match self.admit(command).await? {
            Admitted::Run { run_id, duplicate } => Ok(RunStartResult {
                run_id: run_id.to_string(),
                duplicate,
                event_cursor: self.cursor(),
            }),
            Admitted::Accepted => Err(ApiError::internal("run request admitted without a run")),
        }
    }

    pub(super) async fn cancel(&self, params: RunCancelParams) -> Result<RunAccepted, ApiError> {
        let run_id = inputs::run_id(&params.run_id)?;
        self.admit(CoreCommand::CancelRun {
            run_id,
            reason: params.reason,
        })
        .await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: self.cursor(),
        })
    }

    pub(super) async fn steer(&self, params: RunSteerParams) -> Result<RunAccepted, ApiError> {
        let run_id = inputs::run_id(&params.run_id)?;
        let input = self.items(&params.input).await?;
        self.admit(CoreCommand::Steer { run_id, input }).await?;
        Ok(RunAccepted {
            run_id: params.run_id,
            event_cursor: self.cursor(),
        })
    }

    pub(super) async fn update(
        &self,
        expected_revision: u64,
        patch: &SessionPatch,
    ) -> Result<SessionView, ApiError> {
        let config = self
            .control()
            .config
            .ok_or_else(|| ApiError::internal("open session without config"))?;
        let patch = inputs::config_patch(&config, patch)?;
        self.admit(CoreCommand::PatchConfig {
            expected_revision,
            patch,
        })
        .await?;
        Ok(self.view().await)
    }

    pub(super) async fn close(&self) -> Result<SessionView, ApiError> {
        if self.control().lifecycle != Lifecycle::Closed {
            self.admit(CoreCommand::Close).await?;
        }
        Ok(self.view().await)
    }
}

pub(super) async fn start(
    config: &LocalApiConfig,
    universe: &Universe,
    params: SessionStartParams,
) -> Result<SessionView, ApiError> {
    let prepared = inputs::prepare_session(&params)?;
    let session_id = match prepared.session_id.clone() {
        Some(id) => id,
        None => SessionId::new(format!("session_{}", uuid::Uuid::new_v4().simple()))
            .map_err(internal)?,
    };
    let mut sessions = universe.sessions.lock().await;
    if let Some(existing) = sessions.get(session_id.as_str()) {
        return match existing.control().config == Some(prepared.config) {
            true => Ok(existing.view().await),
            false => Err(ApiError::conflict(format!(
                "session {session_id} exists with another config"
            ))
            .with_reason("sessionExists")),
        };
    }
    let (deltas, _) = broadcast::channel(DELTA_BUFFER_MAX);
    let llm = RuntimeLlm::new(config.runtime.clone(), config.transport)
        .with_retry(config.retry)
        .with_sink(BroadcastDeltas(deltas.clone()));
    let tools = SessionTools::new(&universe.store, &session_id, prepared.filesystem);
    let compactor = LlmCompactor::new(config.runtime.clone(), config.transport);
    let mut runner = SessionRunner::with_compactor(
        universe.store.clone(),
        session_id.clone(),
        llm,
        tools,
        compactor,
    )
    .await
    .map_err(internal)?;
    let instructions = match prepared.instructions {
        Some(instructions) => {
            Some(api_projection::items::instructions_item(&*universe.store, instructions).await?)
        }
        None => None,
    };
    if runner.state().control.lifecycle == Lifecycle::Uninitialized {
        let command = CoreCommand::OpenSession {
            session_id: session_id.clone(),
            config: prepared.config,
            instructions,
        };
        runner.admit(command).await.map_err(runner_error)?;
    }
    files::register(&mut runner, prepared.filesystem).await?;
    let handle = Arc::new(SessionHandle {
        session_id: session_id.clone(),
        store: universe.store.clone(),
        head: watch::channel(runner.state().head()).0,
        snapshot: std::sync::Mutex::new(runner.state().control.clone()),
        runner: Mutex::new(runner),
        wake: Notify::new(),
        deltas,
    });
    tokio::spawn(handle.clone().drive());
    // A rehydrated session may have work left over.
    handle.wake.notify_one();
    sessions.insert(session_id.to_string(), handle.clone());
    Ok(handle.view().await)
}

pub(super) async fn list(
    universe: &Universe,
    params: SessionListParams,
) -> Result<SessionListResult, ApiError> {
    let summaries: Vec<SessionSummary> = universe
        .sessions
        .lock()
        .await
        .values()
        .map(|handle| handle.summary())
        .collect();
    api_projection::views::session_page(summaries, &params)
}
