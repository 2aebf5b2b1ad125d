//! Every kind of compaction end to end on real Temporal against the fake provider,
//! which speaks the providers' native compaction shapes: OpenAI server-side
//! (`context_management`) and standalone (`/responses/compact`), Anthropic's
//! compaction beta, and Lightspeed's summary at the watermark in the middle of a tool
//! loop. Each asserts the next request carries the compaction output verbatim and
//! drops what it replaced.

use std::time::{Duration, Instant};

use effects::compactor::SUMMARY_REQUEST;
use engine::SessionId;
use engine::core::command::CoreCommand;
use engine::core::config::{
    CompactionMode, ContextPolicy, GenerationConfig, ModelRoute, ProviderParams, SessionConfig,
};
use engine::core::context::ItemKind;
use engine::core::event::CoreEvent;
use engine::core::run::RunOutcome;
use engine::store::BlobStore;
use serde_json::{Value, json};

use crate::harness::{Env, events, fast_settings};

fn config(provider: &str, api_kind: &str, params: Value, context: ContextPolicy) -> SessionConfig {
    SessionConfig {
        model: ModelRoute {
            provider_id: provider.into(),
            api_kind: api_kind.into(),
            model: "fake-model".into(),
        },
        generation: GenerationConfig {
            provider_params: ProviderParams(params),
            ..GenerationConfig::default()
        },
        context,
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    }
}

fn manual() -> ContextPolicy {
    ContextPolicy {
        compaction: CompactionMode::Manual,
        ..ContextPolicy::default()
    }
}

/// Text the fake provider counts as well over 1,000 input tokens.
fn long_text(tag: &str) -> String {
    format!("{tag} {}", "lorem ipsum dolor sit amet ".repeat(300))
}

/// Waits until the log holds an event `found` accepts.
async fn wait_for(env: &Env, session: &SessionId, found: impl Fn(&CoreEvent) -> bool) -> CoreEvent {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let log = events(&env.log(session).await);
        if let Some(event) = log.iter().find(|event| found(event)) {
            return event.clone();
        }
        assert!(Instant::now() < deadline, "never happened: {log:#?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The generation requests the provider got (not compaction calls).
fn generations(env: &Env) -> Vec<test_support::fake_provider::RecordedRequest> {
    env.provider
        .requests()
        .into_iter()
        .filter(|request| !request.path.ends_with("/compact"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_server_side_compaction_replaces_the_transcript_with_its_item() {
    let script = json!({"turns": [{"text": "first"}, {"text": "second"}, {"text": "third"}]});
    let Some(env) = Env::start("compact-openai-inline", script, fast_settings()).await else {
        return;
    };
    let params = json!({"compact_threshold_tokens": 1_000});
    let session = env
        .open_config(
            "s-inline",
            config("openai", "openai:responses", params, manual()),
        )
        .await;
    for (n, text) in [
        (1, "hello".to_owned()),
        (2, long_text("BIG")),
        (3, "and now?".into()),
    ] {
        let run = env.request_run(&session, &format!("sub-{n}"), &text).await;
        assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    }
    let requests = generations(&env);
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.body["context_management"],
            json!([{"type": "compaction", "compact_threshold": 1_000}])
        );
    }
    // The second request crossed the threshold: the compaction item came first.
    let log = events(&env.log(&session).await);
    let compacting = log
        .iter()
        .find_map(|event| match event {
            CoreEvent::TurnCompleted(turn)
                if turn
                    .items
                    .iter()
                    .any(|item| item.kind == ItemKind::Compaction) =>
            {
                Some(turn.clone())
            }
            _ => None,
        })
        .expect("a turn with a compaction item");
    assert_eq!(compacting.items[0].kind, ItemKind::Compaction);
    let stored = env
        .store
        .get(&compacting.items[0].content_ref)
        .await
        .unwrap();
    let stored: Value = serde_json::from_slice(&stored).unwrap();
    let item = &stored["item"];
    assert_eq!(item["type"], "compaction");
    // The third request replays it verbatim and drops everything it replaced.
    let input = requests[2].body["input"].as_array().unwrap();
    assert_eq!(&input[0], item, "{input:#?}");
    let raw = &requests[2].raw_body;
    assert!(
        !raw.contains("hello") && !raw.contains("BIG lorem"),
        "{raw}"
    );
    assert!(!raw.contains("\"first\""), "the answer before it is gone");
    assert!(raw.contains("second") && raw.contains("and now?"));
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_standalone_compaction_of_an_idle_session() {
    let script = json!({"turns": [{"text": "first"}, {"text": "second"}]});
    let Some(env) = Env::start("compact-openai-standalone", script, fast_settings()).await else {
        return;
    };
    let params = json!({"native_compaction": true});
    let session = env
        .open_config(
            "s-standalone",
            config("openai", "openai:responses", params, manual()),
        )
        .await;
    let run = env.request_run(&session, "sub-1", "hello there").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let instruction = env.store.put(b"keep the greeting".to_vec()).await.unwrap();
    env.admit(
        &session,
        CoreCommand::RequestCompaction {
            instruction: Some(instruction),
        },
    )
    .await;
    let CoreEvent::ContextCompacted(compacted) = wait_for(&env, &session, |e| {
        matches!(e, CoreEvent::ContextCompacted(_))
    })
    .await
    else {
        unreachable!()
    };
    assert!(
        compacted
            .summary
            .iter()
            .all(|item| item.kind == ItemKind::Compaction),
        "{compacted:?}"
    );
    let compact = env
        .provider
        .requests()
        .into_iter()
        .find(|request| request.path == "/v1/responses/compact")
        .expect("a standalone compaction call");
    assert!(compact.raw_body.contains("hello there"));
    assert!(
        compact.body["instructions"]
            .as_str()
            .unwrap()
            .contains("keep the greeting")
    );
    assert!(compact.body.get("tools").is_none() && compact.body.get("stream").is_none());
    let window = compact_window(&env, &compacted.summary).await;

    let run = env.request_run(&session, "sub-2", "go on").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let requests = generations(&env);
    let input = requests.last().unwrap().body["input"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        &input[..window.len()],
        &window[..],
        "the window first, verbatim"
    );
    assert_eq!(input.len(), window.len() + 1, "then only the new message");
    assert!(!requests.last().unwrap().raw_body.contains("\"first\""));
    env.shutdown().await;
}

/// The compacted window's items as stored (provider JSON).
async fn compact_window(env: &Env, items: &[engine::core::context::ContextItem]) -> Vec<Value> {
    let mut out = Vec::new();
    for item in items {
        let bytes = env.store.get(&item.content_ref).await.unwrap();
        let stored: Value = serde_json::from_slice(&bytes).unwrap();
        out.push(stored["item"].clone());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_compaction_block_is_replayed_and_drops_what_it_replaced() {
    let script = json!({"turns": [{"text": "read it all"}, {"text": "carrying on"}]});
    let Some(env) = Env::start("compact-anthropic", script, fast_settings()).await else {
        return;
    };
    let params = json!({"compaction": {"trigger_tokens": 1_000, "instructions": "keep names"}});
    let session = env
        .open_config(
            "s-anthropic",
            config("anthropic", "anthropic:messages", params, manual()),
        )
        .await;
    let run = env.request_run(&session, "sub-1", &long_text("HUGE")).await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let run = env.request_run(&session, "sub-2", "what next?").await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let requests = generations(&env);
    assert_eq!(requests.len(), 2);
    assert_eq!(
        requests[0]
            .headers
            .get("anthropic-beta")
            .map(String::as_str),
        Some("compact-2026-01-12")
    );
    assert_eq!(
        requests[0].body["context_management"],
        json!({"edits": [{"type": "compact_20260112",
            "trigger": {"type": "input_tokens", "value": 1_000},
            "instructions": "keep names"}]})
    );
    let messages = requests[1].body["messages"].as_array().unwrap();
    let compaction = messages
        .iter()
        .flat_map(|message| message["content"].as_array().cloned().unwrap_or_default())
        .find(|block| block["type"] == "compaction")
        .expect("the compaction block is sent back");
    let summary = compaction["content"].as_str().unwrap();
    assert!(
        summary.contains("HUGE lorem") && summary.contains("keep names"),
        "{summary}"
    );
    // The long input itself is gone: only the summary holds it.
    let texts: Vec<&str> = messages
        .iter()
        .flat_map(|message| message["content"].as_array().into_iter().flatten())
        .filter(|block| block["type"] == "text")
        .filter_map(|block| block["text"].as_str())
        .collect();
    assert!(!texts.iter().any(|text| text.contains("HUGE")), "{texts:?}");
    assert!(texts.contains(&"read it all") && texts.contains(&"what next?"));
    env.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn summary_compaction_at_the_watermark_during_a_tool_loop() {
    let summarise = json!({"last_user_contains": SUMMARY_REQUEST});
    // Each echo call and its result add about 1,000 estimated tokens: the first crosses
    // the watermark (with the input), the second, after the summary, does not.
    let pad = "x".repeat(2_000);
    let call =
        |n: u32| json!({"tool_calls": [{"name": "echo", "arguments": {"a": n, "pad": pad}}]});
    let script = json!({"turns": [
        call(1),
        {"text": "Summary: echoed 1 so far.", "match": summarise},
        call(2),
        {"text": "done after two"}
    ]});
    let Some(env) = Env::start("compact-tool-loop", script, fast_settings()).await else {
        return;
    };
    let policy = ContextPolicy {
        compaction: CompactionMode::Auto,
        high_watermark_tokens: 1_500,
    };
    let session = env
        .open_config(
            "s-loop",
            config("openai-chat", "openai:completions", json!({}), policy),
        )
        .await;
    let input = format!("LOOP {}", "lorem ipsum dolor sit amet ".repeat(80));
    let run = env.request_run(&session, "sub-1", &input).await;
    assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    let log = events(&env.log(&session).await);
    let position = |found: &dyn Fn(&CoreEvent) -> bool| log.iter().position(found).unwrap();
    let compacted = position(&|e| matches!(e, CoreEvent::ContextCompacted(_)));
    let finished = position(&|e| matches!(e, CoreEvent::RunFinished(_)));
    let first_turn = position(&|e| matches!(e, CoreEvent::TurnCompleted(_)));
    assert!(
        first_turn < compacted && compacted < finished,
        "compacted inside the run"
    );
    let requests = generations(&env);
    let last = requests.last().unwrap();
    let kinds: Vec<&str> = log.iter().map(CoreEvent::kind).collect();
    assert!(
        last.raw_body.contains("Summary: echoed 1 so far."),
        "{kinds:?} {:#?}",
        requests.iter().map(|r| &r.raw_body).collect::<Vec<_>>()
    );
    assert_eq!(requests.len(), 4, "two calls, the summary, the answer");
    assert!(
        !last.raw_body.contains("LOOP lorem"),
        "the input was replaced"
    );
    env.shutdown().await;
}
