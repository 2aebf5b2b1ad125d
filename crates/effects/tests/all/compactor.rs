//! `LlmCompactor` over real HTTP: sessions run by test-support's `SessionRunner`
//! against the fake provider, then compacted by a summary the provider scripts.

use std::sync::Arc;
use std::time::Duration;

use effects::compactor::{SUMMARY_INSTRUCTIONS, SUMMARY_REQUEST};
use effects::{AdapterError, Compactor, LlmCompactor, SummaryLimits};
use engine::core::admit::Admitted;
use engine::core::command::CoreCommand;
use engine::core::config::{GenerationConfig, ModelRoute, SessionConfig};
use engine::core::context::{ItemKind, ItemSpec};
use engine::core::effects::CompactionOutcome;
use engine::core::event::CoreEvent;
use engine::core::tools::ToolSpec;
use engine::memory::MemoryStore;
use engine::store::{BlobStore, SessionLog};
use engine::{SessionId, SubmissionId};
use llm_clients::{ApiKey, ApiKind, ProviderClient, ProviderConfig};
use llm_runtime::{LlmRuntime, Transport};
use serde_json::{Value, json};
use test_support::fake_provider::{FakeProvider, RunningFakeProvider};
use test_support::runner::SessionRunner;
use test_support::runtime_llm::RuntimeLlm;
use test_support::tools::BuiltinTools;

type Runner = SessionRunner<MemoryStore, RuntimeLlm, BuiltinTools, LlmCompactor>;

const SUMMARY: &str = "The user asked for 2 + 3; the add tool returned 5.";

async fn provider(script: Value) -> RunningFakeProvider {
    FakeProvider::start_script(script).await.unwrap()
}

fn runtime(kind: ApiKind, provider: &RunningFakeProvider) -> LlmRuntime {
    let mut config = ProviderConfig::new("fake", kind);
    config.base_url = match kind {
        ApiKind::AnthropicMessages => provider.anthropic_base_url(),
        ApiKind::OpenAiResponses | ApiKind::OpenAiCompletions => provider.openai_base_url(),
    };
    config.api_keys = vec![ApiKey::new("sk-test-0123456789abcdef")];
    LlmRuntime::new([ProviderClient::new(config).unwrap()])
}

/// An open session with the `add` tool, compacted by an `LlmCompactor`.
async fn session(kind: ApiKind, provider: &RunningFakeProvider, transport: Transport) -> Runner {
    let runtime = runtime(kind, provider);
    let store = Arc::new(MemoryStore::new());
    let session_id = SessionId::new("compact-session").unwrap();
    let llm = RuntimeLlm::new(runtime.clone(), transport);
    let compactor = LlmCompactor::new(runtime, transport);
    let mut runner =
        SessionRunner::with_compactor(store, session_id.clone(), llm, BuiltinTools, compactor)
            .await
            .unwrap();
    let instructions = runner.user_text("You add numbers.").await.unwrap();
    let config = SessionConfig {
        model: ModelRoute {
            provider_id: "fake".into(),
            api_kind: kind.as_str().into(),
            model: "fake-model".into(),
        },
        generation: GenerationConfig::default(),
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    runner
        .admit(CoreCommand::OpenSession {
            session_id,
            config,
            instructions: Some(ItemSpec {
                kind: ItemKind::Instructions,
                ..instructions
            }),
            parent: Default::default(),
        })
        .await
        .unwrap();
    let definition = json!({"name": "add", "description": "Adds a and b.",
        "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}}});
    let definition_ref = runner
        .store()
        .put(serde_json::to_vec(&definition).unwrap())
        .await
        .unwrap();
    runner
        .admit(CoreCommand::ReplaceTools {
            expected_revision: 0,
            tools: vec![ToolSpec {
                name: "add".into(),
                definition_ref,
                class: None,
            }],
        })
        .await
        .unwrap();
    runner
}

async fn run(runner: &mut Runner, submission: &str, text: &str) {
    let input = vec![runner.user_text(text).await.unwrap()];
    let command = CoreCommand::RequestRun {
        submission_id: SubmissionId::new(submission).unwrap(),
        input,
        overrides: Default::default(),
    };
    let Admitted::Run { .. } = runner.admit(command).await.unwrap() else {
        panic!("not a run")
    };
    runner.run_until_idle().await.unwrap();
}

/// A recorded request body as JSON text (the transcript inside it is escaped).
fn body_text(body: &Value) -> String {
    body.to_string()
}

#[tokio::test]
async fn summarises_the_transcript_with_each_api_kind() {
    for (kind, transport) in [
        (ApiKind::OpenAiResponses, Transport::Streaming),
        (ApiKind::OpenAiCompletions, Transport::Blocking),
        (ApiKind::AnthropicMessages, Transport::Streaming),
    ] {
        let script = json!({"turns": [
            {"text": "Adding.", "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
            {"text": "The sum is 5."},
            {"text": SUMMARY, "match": {"last_user_contains": SUMMARY_REQUEST}}
        ]});
        let provider = provider(script).await;
        let mut runner = session(kind, &provider, transport).await;
        run(&mut runner, "sub-1", "What is 2 + 3?").await;
        runner
            .admit(CoreCommand::RequestCompaction { instruction: None })
            .await
            .unwrap();
        runner.run_until_idle().await.unwrap();

        let log = runner.log().await.unwrap();
        let compacted = log
            .iter()
            .find_map(|entry| match CoreEvent::decode(&entry.event).unwrap() {
                CoreEvent::ContextCompacted(e) => Some(e),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{kind}: no compaction"));
        let [summary] = compacted.summary.as_slice() else {
            panic!("{kind}: {:?}", compacted.summary);
        };
        assert_eq!(summary.kind, ItemKind::Summary);
        let text = runner.store().get(&summary.content_ref).await.unwrap();
        assert_eq!(String::from_utf8(text).unwrap(), SUMMARY, "{kind}");
        // Only the keyed instructions and the summary are left.
        let kinds: Vec<ItemKind> = runner
            .state()
            .context
            .items()
            .iter()
            .map(|item| item.kind)
            .collect();
        assert_eq!(kinds, [ItemKind::Instructions, ItemKind::Summary], "{kind}");

        // The summariser saw the whole transcript as text, with its own instructions
        // and no tools.
        let requests = provider.requests();
        assert_eq!(requests.len(), 3, "{kind}");
        let request = &requests[2].body;
        let text = body_text(request);
        for expected in [
            "What is 2 + 3?",
            "Adding.",
            "tool call add",
            "tool result",
            "{\\\"sum\\\":5}",
            "The sum is 5.",
            &SUMMARY_INSTRUCTIONS[..40],
        ] {
            assert!(text.contains(expected), "{kind}: {expected:?} in {text}");
        }
        assert!(!text.contains("You add numbers."), "{kind}: {text}");
        assert!(
            request
                .get("tools")
                .is_none_or(|tools| tools.as_array().is_some_and(Vec::is_empty)),
            "{kind}: {request}"
        );
        provider.shutdown().await;
    }
}

#[tokio::test]
async fn input_is_bounded_and_keeps_the_newest_items() {
    let turns: Vec<Value> = (0..6)
        .map(|i| json!({"text": format!("Answer {i}.")}))
        .chain([json!({"text": SUMMARY})])
        .collect();
    let provider = provider(json!({"turns": turns})).await;
    let mut runner = session(ApiKind::OpenAiResponses, &provider, Transport::Blocking).await;
    for i in 0..6 {
        let text = format!("question {i} ") + &"x".repeat(6_000);
        run(&mut runner, &format!("sub-{i}"), &text).await;
    }
    let limits = SummaryLimits {
        item_bytes_max: 2_000,
        input_bytes_max: 8_000,
    };
    let compactor = LlmCompactor::new(
        runtime(ApiKind::OpenAiResponses, &provider),
        Transport::Blocking,
    )
    .with_limits(limits);
    let outcome = compactor
        .compact(runner.state(), runner.store())
        .await
        .unwrap();
    assert!(matches!(outcome, CompactionOutcome::Compacted { .. }));
    let requests = provider.requests();
    let request = requests.last().unwrap();
    let text = body_text(&request.body);
    // Four items of ~2 KB fit: the last question and the answers around it.
    assert!(text.contains("question 5"), "{text}");
    assert!(text.contains("Answer 5."), "{text}");
    assert!(!text.contains("question 0"), "{text}");
    assert!(text.contains("older items left out"), "{text}");
    assert!(text.contains("bytes left out"), "{text}");
    assert!(
        request.raw_body.len() < limits.input_bytes_max + 4_000,
        "{} bytes",
        request.raw_body.len()
    );
    provider.shutdown().await;
}

#[tokio::test]
async fn provider_failures_are_classified_for_the_host() {
    let script = json!({"turns": [
        {"text": "Hello."},
        {"error": {"status": 429, "retry_after_s": 2}},
        {"error": {"status": 400, "type": "context_length_exceeded"}},
        {"text": ""}
    ]});
    let provider = provider(script).await;
    let mut runner = session(ApiKind::OpenAiResponses, &provider, Transport::Blocking).await;
    run(&mut runner, "sub-1", "Hi").await;
    let compactor = LlmCompactor::new(
        runtime(ApiKind::OpenAiResponses, &provider),
        Transport::Blocking,
    );
    let compact = || compactor.compact(runner.state(), runner.store());
    match compact().await {
        Err(AdapterError::Transient { retry_after, .. }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(2)));
        }
        other => panic!("{other:?}"),
    }
    match compact().await {
        Err(AdapterError::Failed { code, .. }) => assert_eq!(code, "context_length_exceeded"),
        other => panic!("{other:?}"),
    }
    match compact().await {
        Err(AdapterError::Failed { code, .. }) => assert_eq!(code, "empty_summary"),
        other => panic!("{other:?}"),
    }
    provider.shutdown().await;
}

#[tokio::test]
async fn nothing_to_compact_is_a_failure_without_a_provider_call() {
    let provider = provider(json!({"turns": [{"text": "unused"}]})).await;
    let runner = session(ApiKind::AnthropicMessages, &provider, Transport::Blocking).await;
    let compactor = LlmCompactor::new(
        runtime(ApiKind::AnthropicMessages, &provider),
        Transport::Blocking,
    );
    match compactor.compact(runner.state(), runner.store()).await {
        Err(AdapterError::Failed { code, .. }) => assert_eq!(code, "nothing_to_compact"),
        other => panic!("{other:?}"),
    }
    assert!(provider.requests().is_empty());
    // The log is untouched: compaction only returns an outcome.
    let head = runner.store().head(runner.session_id()).await.unwrap();
    assert_eq!(head, runner.state().head());
    provider.shutdown().await;
}
