//! Whole agent sessions over HTTP: `SessionRunner` → `llm-runtime` → `llm-clients` →
//! fake provider, for each API kind, blocking and streaming.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod clients;
mod files;
mod hosted_mcp;
mod roundtrip;
mod sessions;

use std::sync::{Arc, Mutex};

use engine::core::admit::Admitted;
use engine::core::command::CoreCommand;
use engine::core::config::{ModelRoute, ProviderParams, SessionConfig};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use engine::core::tools::ToolSpec;
use engine::memory::MemoryStore;
use engine::store::BlobStore;
use engine::{LogEntry, RunId, SessionId, SubmissionId};
use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::{Delta, DeltaSink, LlmRuntime, Transport};
use serde_json::{Value, json};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider, Script};
use test_support::runner::SessionRunner;
use test_support::runtime_llm::{RetryPolicy, RuntimeLlm};
use test_support::tools::BuiltinTools;

pub(crate) const API_KEY: &str = "sk-test-secret-0123456789";

/// Deltas received, shared between the runner's sink and the test.
#[derive(Clone, Default)]
pub(crate) struct Deltas(Arc<Mutex<Vec<Delta>>>);

impl DeltaSink for Deltas {
    fn delta(&self, delta: Delta) {
        self.0.lock().unwrap().push(delta);
    }
}

pub(crate) type Runner = SessionRunner<MemoryStore, RuntimeLlm<Deltas>, BuiltinTools>;

pub(crate) struct Harness {
    pub(crate) runner: Runner,
    pub(crate) provider: RunningFakeProvider,
    pub(crate) deltas: Deltas,
}

pub(crate) async fn start_provider(script: Value) -> RunningFakeProvider {
    start_recording_provider(script, None).await
}

/// A provider that also appends every request to `record_file`, as `--record` does.
pub(crate) async fn start_recording_provider(
    script: Value,
    record_file: Option<std::path::PathBuf>,
) -> RunningFakeProvider {
    let script: Script = serde_json::from_value(script).unwrap();
    let config = FakeProviderConfig {
        script: Some(script),
        record_file,
        ..FakeProviderConfig::default()
    };
    FakeProvider::start(config).await.unwrap()
}

pub(crate) fn client_for(kind: ApiKind, provider: &RunningFakeProvider) -> ProviderClient {
    let mut config = ProviderConfig::new("fake", kind);
    config.base_url = match kind {
        ApiKind::AnthropicMessages => provider.anthropic_base_url(),
        ApiKind::OpenAiResponses | ApiKind::OpenAiCompletions => provider.openai_base_url(),
    };
    config.api_keys = vec![ApiKey::new(API_KEY)];
    ProviderClient::new(config).unwrap()
}

fn params_for(kind: ApiKind) -> Value {
    match kind {
        ApiKind::OpenAiResponses => json!({"reasoning_effort": "medium"}),
        ApiKind::OpenAiCompletions => json!({"seed": 1}),
        ApiKind::AnthropicMessages => json!({"thinking_budget_tokens": 1024}),
    }
}

async fn put_json(runner: &Runner, value: &Value) -> engine::BlobRef {
    runner
        .store()
        .put(serde_json::to_vec(value).unwrap())
        .await
        .unwrap()
}

pub(crate) async fn harness(kind: ApiKind, transport: Transport, script: Value) -> Harness {
    harness_recording(kind, transport, script, None).await
}

pub(crate) async fn harness_recording(
    kind: ApiKind,
    transport: Transport,
    script: Value,
    record_file: Option<std::path::PathBuf>,
) -> Harness {
    let provider = start_recording_provider(script, record_file).await;
    let runtime = LlmRuntime::new([client_for(kind, &provider)]);
    let deltas = Deltas::default();
    let retry = RetryPolicy {
        attempts_max: 3,
        ..RetryPolicy::default()
    };
    let llm = RuntimeLlm::new(runtime, transport)
        .with_retry(retry)
        .with_sink(deltas.clone());
    let session_id = SessionId::new("http-session").unwrap();
    let store = Arc::new(MemoryStore::new());
    let mut runner = SessionRunner::new(store, session_id.clone(), llm, BuiltinTools)
        .await
        .unwrap();

    let instructions = runner
        .user_text("You are a calculator. Use tools.")
        .await
        .unwrap();
    let config = SessionConfig {
        model: ModelRoute {
            provider_id: "fake".into(),
            api_kind: kind.as_str().into(),
            model: "fake-model".into(),
        },
        generation: engine::core::config::GenerationConfig {
            provider_params: ProviderParams(params_for(kind)),
            ..Default::default()
        },
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    llm_runtime::validate_provider_params(kind.as_str(), &config.generation.provider_params)
        .unwrap();
    let instructions = Some(ItemSpec {
        kind: ItemKind::Instructions,
        ..instructions
    });
    runner
        .admit(CoreCommand::OpenSession {
            session_id,
            config,
            instructions,
            parent: Default::default(),
        })
        .await
        .unwrap();
    let mut tools = Vec::new();
    for (name, description) in [
        ("add", "Adds integers a and b."),
        ("echo", "Echoes its arguments."),
    ] {
        let definition = json!({"name": name, "description": description,
            "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}});
        tools.push(ToolSpec {
            name: name.into(),
            definition_ref: put_json(&runner, &definition).await,
            class: None,
        });
    }
    runner
        .admit(CoreCommand::ReplaceTools {
            expected_revision: 0,
            tools,
        })
        .await
        .unwrap();
    Harness {
        runner,
        provider,
        deltas,
    }
}

pub(crate) async fn run(runner: &mut Runner, submission: &str, text: &str) -> RunId {
    let input = vec![runner.user_text(text).await.unwrap()];
    let command = CoreCommand::RequestRun {
        submission_id: SubmissionId::new(submission).unwrap(),
        input,
        overrides: Default::default(),
    };
    let Admitted::Run { run_id, .. } = runner.admit(command).await.unwrap() else {
        panic!("not a run")
    };
    runner.run_until_idle().await.unwrap();
    run_id
}

pub(crate) fn events(log: &[LogEntry]) -> Vec<CoreEvent> {
    log.iter()
        .map(|entry| CoreEvent::decode(&entry.event).unwrap())
        .collect()
}

pub(crate) fn outcome(log: &[LogEntry], run_id: &RunId) -> RunOutcome {
    events(log)
        .into_iter()
        .find_map(|event| match event {
            CoreEvent::RunFinished(e) if e.run_id == *run_id => Some(e.outcome),
            _ => None,
        })
        .expect("run finished")
}

pub(crate) const ALL_KINDS: [ApiKind; 3] = [
    ApiKind::OpenAiResponses,
    ApiKind::OpenAiCompletions,
    ApiKind::AnthropicMessages,
];
pub(crate) const BOTH_TRANSPORTS: [Transport; 2] = [Transport::Blocking, Transport::Streaming];
