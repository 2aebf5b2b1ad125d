//! One Temporal dev server per test binary (a child process on a free port, killed
//! when the binary exits), and per test: a fake provider, a filesystem store, a
//! worker on its own task queue (the production tools plus test-support's demo tools,
//! and the production LLM compactor), and a client for the session workflows.

use std::sync::Arc;
use std::time::Duration;

use effects::LlmCompactor;
use engine::core::command::CoreCommand;
use engine::core::config::{ContextPolicy, GenerationConfig, ModelRoute, SessionConfig};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::control::ControlState;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use engine::core::tools::ToolSpec;
use engine::store::{BlobStore, SessionLog};
use engine::{LogEntry, RunId, SessionId, SubmissionId};
use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::{LlmRuntime, Transport};
use serde_json::{Value, json};
use session_stores::FsStores;
use store_fs::FsStore;
use temporal_server::deltas::DeltaHub;
use temporal_server::devserver::{self, DevServer, DevServerConfig};
use temporal_server::seam;
use temporal_server::sessions::SessionClient;
use temporal_server::worker::backend::{Backend, LlmSettings};
use temporal_server::worker::{self, RunningWorker, TemporalConfig};
pub(crate) use temporal_workflow::WorkflowSettings;
use temporal_workflow::drill::UpgradeDrill;
use temporal_workflow::{AgentSessionWorkflow, WorkflowStatus, workflow_id};
use temporalio_client::WorkflowFetchHistoryOptions;
use temporalio_common::protos::temporal::api::common::v1::{Payload, Payloads};
use temporalio_common::protos::temporal::api::history::v1::HistoryEvent;
use temporalio_common::protos::temporal::api::history::v1::history_event::Attributes;
use temporalio_common::protos::temporal::api::update::v1::outcome as update_outcome;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider};
use test_support::tools::TestToolset;
use tokio::sync::OnceCell;

pub(crate) const UNIVERSE: &str = "u-test";
const WAIT_MAX: Duration = Duration::from_secs(90);

static SERVER: OnceCell<Option<String>> = OnceCell::const_new();

/// The shared dev server's address; `None` (test skipped) when there is no
/// `temporal` binary, unless `CI=true`, where that is a failure.
pub(crate) async fn temporal_address() -> Option<String> {
    SERVER
        .get_or_init(|| async {
            let Some(binary) = devserver::find_binary() else {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI=true but {}",
                    devserver::DevServerError::BinaryNotFound
                );
                eprintln!(
                    "SKIPPED: {} (set CI=true to make this a failure)",
                    devserver::DevServerError::BinaryNotFound
                );
                return None;
            };
            let [port, http_port, metrics_port] = devserver::free_ports().unwrap();
            let log_file = std::env::temp_dir().join(format!("lightspeed-temporal-{port}.log"));
            let server = DevServer::start(DevServerConfig {
                binary,
                port,
                http_port,
                metrics_port,
                db_file: None,
                log_file: Some(log_file),
                ready_wait: Duration::from_secs(120),
            })
            .await
            .unwrap();
            let address = server.address().to_owned();
            // Never dropped: the server's watcher kills it when this binary exits.
            std::mem::forget(server);
            Some(address)
        })
        .await
        .clone()
}

/// One JSON-RPC call over HTTP with API key `key`: the whole response, answer or
/// error.
pub(crate) async fn rpc_response(
    http: &reqwest::Client,
    url: &str,
    key: &str,
    method: &str,
    params: Value,
) -> Value {
    http.post(url)
        .bearer_auth(key)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Sends `signal` (`HUP`, `INT`, `TERM`, `KILL`) to the running child `child`.
pub(crate) fn signal(child: &tokio::process::Child, signal: &str) {
    let pid = child.id().expect("the child is running").to_string();
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// A session on the fake provider's `openai:responses` route with every default.
pub(crate) fn default_config() -> SessionConfig {
    SessionConfig {
        model: ModelRoute {
            provider_id: "openai".into(),
            api_kind: "openai:responses".into(),
            model: "fake-model".into(),
        },
        generation: GenerationConfig::default(),
        context: ContextPolicy::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    }
}

/// Settings that keep tests fast.
pub(crate) fn fast_settings() -> WorkflowSettings {
    WorkflowSettings {
        llm_heartbeat_timeout_ms: 2_000,
        llm_retry_interval_initial_ms: 100,
        llm_retry_interval_max_ms: 500,
        ..WorkflowSettings::default()
    }
}

/// Where the worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WorkerKind {
    InProcess,
    /// A `server worker` child process (crash tests kill it).
    Process,
}

pub(crate) struct Env {
    pub(crate) sessions: SessionClient,
    pub(crate) worker: Option<RunningWorker>,
    pub(crate) worker_process: Option<tokio::process::Child>,
    pub(crate) provider: RunningFakeProvider,
    pub(crate) store: FsStore,
    pub(crate) temporal: TemporalConfig,
    pub(crate) data: tempfile::TempDir,
    /// The in-process worker's live deltas (generation text, tool progress).
    pub(crate) deltas: Arc<DeltaHub>,
}

pub(crate) fn provider_client(provider: &RunningFakeProvider) -> ProviderClient {
    let mut config = ProviderConfig::new("openai", ApiKind::OpenAiResponses);
    config.base_url = provider.openai_base_url();
    config.api_keys = vec![ApiKey::new("sk-test-0123456789abcdef")];
    ProviderClient::new(config).unwrap()
}

impl Env {
    /// `None` when the test should be skipped (no Temporal binary).
    pub(crate) async fn start(
        name: &str,
        script: Value,
        settings: WorkflowSettings,
    ) -> Option<Env> {
        Self::start_with(name, script, settings, WorkerKind::InProcess).await
    }

    pub(crate) async fn start_with(
        name: &str,
        script: Value,
        settings: WorkflowSettings,
        kind: WorkerKind,
    ) -> Option<Env> {
        let address = temporal_address().await?;
        let provider = FakeProvider::start(FakeProviderConfig {
            script: Some(serde_json::from_value(script).unwrap()),
            ..FakeProviderConfig::default()
        })
        .await
        .unwrap();
        let data = tempfile::tempdir().unwrap();
        let mut temporal = TemporalConfig::local(address);
        // As long as the product's default queue name ("lightspeed-sessions"): the
        // name is in every task-scheduled event, and the history budget is measured.
        let unique = uuid::Uuid::new_v4().simple().to_string();
        temporal.task_queue = format!("t-{}", &unique[..17]);
        // Shown with a failing test's output: which queue (and history) is whose.
        eprintln!("{name}: task queue {}", temporal.task_queue);
        let client = worker::connect(
            &temporal,
            seam::data_converter(Arc::new(FsStores::new(data.path()))),
        )
        .await
        .unwrap();
        let mut env = Env {
            sessions: SessionClient::new(client, temporal.task_queue.clone(), settings),
            worker: None,
            worker_process: None,
            store: FsStore::open(data.path().join("universes").join(UNIVERSE)).unwrap(),
            provider,
            temporal,
            data,
            deltas: Arc::new(DeltaHub::default()),
        };
        match kind {
            WorkerKind::InProcess => env.start_worker().await,
            WorkerKind::Process => env.spawn_worker_process(),
        }
        Some(env)
    }

    pub(crate) async fn start_worker(&mut self) {
        self.start_worker_with(self.deltas.clone()).await;
    }

    /// Starts `server worker` as a child process on this test's task queue.
    pub(crate) fn spawn_worker_process(&mut self) {
        let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
            .arg("worker")
            .env("TEMPORAL_ADDRESS", &self.temporal.address)
            .env("TEMPORAL_NAMESPACE", &self.temporal.namespace)
            .env("LIGHTSPEED_TASK_QUEUE", &self.temporal.task_queue)
            .env("LIGHTSPEED_DATA_DIR", self.data.path())
            // The test's filesystem store, whatever the environment names.
            .env_remove("LIGHTSPEED_POSTGRES_URL")
            .env("OPENAI_BASE_URL", self.provider.openai_base_url())
            .env("OPENAI_API_KEY", "sk-test-0123456789abcdef")
            .env_remove("ANTHROPIC_API_KEY")
            .env_remove("ANTHROPIC_BASE_URL")
            .env("RUST_LOG", "warn")
            // Linked stdio MCP servers (server-everything) run under `node`.
            .env("LIGHTSPEED_MCP_STDIO_COMMANDS", "node")
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        self.worker_process = Some(child);
    }

    /// SIGKILLs the worker process: no shutdown, no goodbye to Temporal.
    pub(crate) async fn kill_worker_process(&mut self) {
        let mut child = self.worker_process.take().expect("a worker process");
        child.kill().await.unwrap();
    }

    async fn start_worker_with(&mut self, deltas: Arc<DeltaHub>) {
        let backend = self.backend(deltas);
        self.worker = Some(
            worker::start(
                &self.temporal,
                Arc::new(backend),
                seam::data_converter(Arc::new(FsStores::new(self.data.path()))),
            )
            .await
            .unwrap(),
        );
    }

    /// Starts an in-process worker running the upgrade drill's variant `drill` of the
    /// session workflow (tests/temporal/upgrade.rs).
    pub(crate) async fn start_drill_worker(&mut self, drill: UpgradeDrill) {
        let backend = self.backend(self.deltas.clone());
        self.worker = Some(
            worker::start_upgrade_drill(
                &self.temporal,
                drill,
                Arc::new(backend),
                seam::data_converter(Arc::new(FsStores::new(self.data.path()))),
            )
            .await
            .unwrap(),
        );
    }

    /// What the in-process worker's activities run on: this test's store, the fake
    /// provider, the test tools.
    fn backend(&self, deltas: Arc<DeltaHub>) -> Backend<FsStores, TestToolset, LlmCompactor> {
        // The fake provider speaks every API kind: `openai`, `openai-chat`, `anthropic`.
        let other = |id: &str, kind: ApiKind, base_url: String| {
            let mut config = ProviderConfig::new(id, kind);
            config.base_url = base_url;
            ProviderClient::new(config).unwrap()
        };
        let runtime = LlmRuntime::new([
            provider_client(&self.provider),
            other(
                "openai-chat",
                ApiKind::OpenAiCompletions,
                self.provider.openai_base_url(),
            ),
            other(
                "anthropic",
                ApiKind::AnthropicMessages,
                self.provider.anthropic_base_url(),
            ),
        ]);
        Backend {
            stores: FsStores::new(self.data.path()),
            llm: LlmSettings {
                runtime: runtime.clone(),
                transport: Transport::Streaming,
            },
            // Linked MCP tools, with `node` allowed for stdio servers (server-everything).
            tools: TestToolset::with_mcp(
                test_support::tools::test_mcp_tools_with(mcp_registry::StdioPolicy::parse("node"))
                    .unwrap(),
            ),
            compactor: LlmCompactor::new(runtime, Transport::Streaming),
            deltas,
            checkpoint_interval_entries: 64,
            transcription: Default::default(),
        }
    }

    pub(crate) async fn put_json(&self, value: &Value) -> engine::BlobRef {
        self.store
            .put(serde_json::to_vec(value).unwrap())
            .await
            .unwrap()
    }

    pub(crate) async fn text(&self, kind: ItemKind, text: &str) -> ItemSpec {
        let blob = self.store.put(text.as_bytes().to_vec()).await.unwrap();
        ItemSpec::new(kind, blob, (text.len() as u64).div_ceil(4).max(1))
    }

    /// Opens `session` with the fake model and the builtin tools.
    pub(crate) async fn open(&self, session: &str) -> SessionId {
        self.open_with(session, ContextPolicy::default()).await
    }

    pub(crate) async fn open_with(&self, session: &str, context: ContextPolicy) -> SessionId {
        let config = SessionConfig {
            context,
            ..default_config()
        };
        self.open_config(session, config).await
    }

    /// Opens `session` with `config` (a route to `openai`, `openai-chat` or
    /// `anthropic`, all served by the fake provider) and the builtin tools.
    pub(crate) async fn open_config(&self, session: &str, config: SessionConfig) -> SessionId {
        let session_id = SessionId::new(session).unwrap();
        let instructions = Some(self.text(ItemKind::Instructions, "You are a test.").await);
        self.admit(
            &session_id,
            CoreCommand::OpenSession {
                session_id: session_id.clone(),
                config,
                instructions,
                parent: Default::default(),
            },
        )
        .await;
        let mut tools = Vec::new();
        for name in ["add", "echo", "fail", "sleep"] {
            let definition = json!({"name": name, "description": format!("The {name} tool."),
                "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}});
            tools.push(ToolSpec {
                name: name.into(),
                definition_ref: self.put_json(&definition).await,
                class: None,
            });
        }
        self.admit(
            &session_id,
            CoreCommand::ReplaceTools {
                expected_revision: 0,
                tools,
            },
        )
        .await;
        session_id
    }

    pub(crate) async fn admit(
        &self,
        session: &SessionId,
        command: CoreCommand,
    ) -> temporal_workflow::AdmitReply {
        self.sessions
            .admit(UNIVERSE, session, command)
            .await
            .unwrap()
    }

    /// Requests a run with one user message; returns its id once accepted.
    pub(crate) async fn request_run(
        &self,
        session: &SessionId,
        submission: &str,
        text: &str,
    ) -> RunId {
        let input = vec![self.text(ItemKind::UserMessage, text).await];
        let reply = self
            .admit(
                session,
                CoreCommand::RequestRun {
                    submission_id: SubmissionId::new(submission).unwrap(),
                    input,
                    overrides: Default::default(),
                },
            )
            .await;
        reply.run_id.expect("a run id")
    }

    pub(crate) async fn log(&self, session: &SessionId) -> Vec<LogEntry> {
        self.store.read(session, 1, usize::MAX).await.unwrap()
    }

    /// Waits until `run` finished (read from the store) and returns its outcome.
    pub(crate) async fn outcome(&self, session: &SessionId, run: &RunId) -> RunOutcome {
        let deadline = tokio::time::Instant::now() + WAIT_MAX;
        loop {
            let found =
                events(&self.log(session).await)
                    .into_iter()
                    .find_map(|event| match event {
                        CoreEvent::RunFinished(e) if e.run_id == *run => Some(e.outcome),
                        _ => None,
                    });
            if let Some(outcome) = found {
                return outcome;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "run {run} did not finish"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Every event of the session workflow's current run.
    pub(crate) async fn history(&self, session: &SessionId) -> Vec<HistoryEvent> {
        self.sessions
            .client()
            .get_workflow_handle::<AgentSessionWorkflow>(workflow_id(UNIVERSE, session))
            .fetch_history(WorkflowFetchHistoryOptions::default())
            .into_events()
            .await
            .unwrap()
    }

    /// The size of the session workflow's current run's history as the server
    /// counts it (what `temporal-bench` reports).
    pub(crate) async fn history_size_bytes(&self, session: &SessionId) -> usize {
        let description = self
            .sessions
            .client()
            .get_workflow_handle::<AgentSessionWorkflow>(workflow_id(UNIVERSE, session))
            .describe(temporalio_client::WorkflowDescribeOptions::default())
            .await
            .unwrap();
        let info = description.raw().workflow_execution_info.clone().unwrap();
        usize::try_from(info.history_size_bytes).unwrap()
    }

    /// Polls the `status` query until `condition` holds.
    pub(crate) async fn wait_status(
        &self,
        session: &SessionId,
        what: &str,
        condition: impl Fn(&WorkflowStatus) -> bool,
    ) -> WorkflowStatus {
        let deadline = tokio::time::Instant::now() + WAIT_MAX;
        loop {
            if let Ok(status) = self.sessions.status(UNIVERSE, session).await
                && condition(&status)
            {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The workflow's committed control state once it is loaded at `head` (a fresh run
    /// after continue-as-new answers `None` until its load activity returns).
    pub(crate) async fn control_at(&self, session: &SessionId, head: u64) -> ControlState {
        let deadline = tokio::time::Instant::now() + WAIT_MAX;
        loop {
            if let Ok(Some(control)) = self.sessions.control(UNIVERSE, session).await
                && control.head == head
            {
                return control;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "control never reached {head}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the fake provider has received `count` requests (an LLM activity
    /// is then really in flight).
    pub(crate) async fn wait_provider_requests(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + WAIT_MAX;
        while self.provider.requests().len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "provider got no request"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    pub(crate) async fn shutdown(mut self) {
        if let Some(worker) = self.worker.take() {
            worker.shutdown().await.unwrap();
        }
        if let Some(mut child) = self.worker_process.take() {
            let _ = child.kill().await;
        }
        self.provider.shutdown().await;
    }
}

pub(crate) fn events(log: &[LogEntry]) -> Vec<CoreEvent> {
    log.iter()
        .map(|entry| CoreEvent::decode(&entry.event).unwrap())
        .collect()
}

/// Text of the assistant messages recorded in `log`, from the CAS.
pub(crate) async fn assistant_texts(store: &impl BlobStore, log: &[LogEntry]) -> Vec<String> {
    let mut texts = Vec::new();
    for event in events(log) {
        if let CoreEvent::TurnCompleted(turn) = event {
            for item in turn
                .items
                .iter()
                .filter(|item| item.kind == ItemKind::AssistantMessage)
            {
                let bytes = store.get(&item.content_ref).await.unwrap();
                texts.push(String::from_utf8_lossy(&bytes).into_owned());
            }
        }
    }
    texts
}

/// One payload field found in history: an activity's input or result, an update's
/// arguments or result, or the workflow's input.
#[derive(Debug)]
pub(crate) struct HistoryPayload {
    /// The activity type, `update` or `workflow`.
    pub(crate) activity_type: String,
    /// `input` or `result`.
    pub(crate) direction: &'static str,
    /// As stored in history (a spilled payload counts as its ref).
    pub(crate) bytes: usize,
    /// Payloads of the field that the seam codec spilled to the CAS.
    pub(crate) spilled: usize,
}

fn payload_bytes(payload: &Payload) -> usize {
    payload.data.len()
        + payload
            .metadata
            .iter()
            .map(|(key, value)| key.len() + value.len())
            .sum::<usize>()
}

fn is_spilled(payload: &Payload) -> bool {
    payload
        .metadata
        .get("encoding")
        .is_some_and(|encoding| encoding == seam::SPILLED_ENCODING.as_bytes())
}

fn field(
    activity_type: String,
    direction: &'static str,
    payloads: Option<&Payloads>,
) -> HistoryPayload {
    let payloads = payloads.map_or(&[][..], |payloads| payloads.payloads.as_slice());
    HistoryPayload {
        activity_type,
        direction,
        bytes: payloads.iter().map(payload_bytes).sum(),
        spilled: payloads.iter().filter(|p| is_spilled(p)).count(),
    }
}

/// Every payload field in `history` that carries our data, with its size.
pub(crate) fn history_payloads(history: &[HistoryEvent]) -> Vec<HistoryPayload> {
    let mut types = std::collections::BTreeMap::new();
    let mut found = Vec::new();
    for event in history {
        match &event.attributes {
            Some(Attributes::WorkflowExecutionStartedEventAttributes(started)) => {
                found.push(field("workflow".into(), "input", started.input.as_ref()));
            }
            Some(Attributes::WorkflowExecutionContinuedAsNewEventAttributes(next)) => {
                found.push(field("workflow".into(), "result", next.input.as_ref()));
            }
            Some(Attributes::WorkflowExecutionUpdateAcceptedEventAttributes(accepted)) => {
                let args = accepted
                    .accepted_request
                    .as_ref()
                    .and_then(|request| request.input.as_ref())
                    .and_then(|input| input.args.as_ref());
                found.push(field("update".into(), "input", args));
            }
            Some(Attributes::WorkflowExecutionUpdateCompletedEventAttributes(completed)) => {
                let result = completed
                    .outcome
                    .as_ref()
                    .and_then(|outcome| outcome.value.as_ref())
                    .and_then(|value| match value {
                        update_outcome::Value::Success(payloads) => Some(payloads),
                        update_outcome::Value::Failure(_) => None,
                    });
                found.push(field("update".into(), "result", result));
            }
            // A local activity's result is in its marker; its input never enters history.
            Some(Attributes::MarkerRecordedEventAttributes(marker)) => {
                let activity_type = marker
                    .details
                    .get("data")
                    .and_then(|meta| meta.payloads.first())
                    .and_then(|meta| serde_json::from_slice::<Value>(&meta.data).ok())
                    .and_then(|meta| {
                        let name = meta.get("activity_type").or(meta.get("activityType"))?;
                        name.as_str().map(str::to_owned)
                    })
                    .unwrap_or_else(|| format!("marker:{}", marker.marker_name));
                found.push(field(activity_type, "result", marker.details.get("result")));
            }
            Some(Attributes::ActivityTaskScheduledEventAttributes(scheduled)) => {
                let activity_type = scheduled
                    .activity_type
                    .as_ref()
                    .map(|t| t.name.clone())
                    .unwrap_or_default();
                types.insert(event.event_id, activity_type.clone());
                found.push(field(activity_type, "input", scheduled.input.as_ref()));
            }
            Some(Attributes::ActivityTaskCompletedEventAttributes(completed)) => {
                let activity_type = types
                    .get(&completed.scheduled_event_id)
                    .cloned()
                    .unwrap_or_default();
                found.push(field(activity_type, "result", completed.result.as_ref()));
            }
            _ => {}
        }
    }
    found
}
