//! Provider-native tools on real Temporal: Anthropic's server tools configured per
//! session reach the request (with their beta flags), and what the provider ran comes
//! back and is sent again verbatim next turn (the call, its encrypted results, the
//! text's citations).

use engine::core::config::{GenerationConfig, ModelRoute, ProviderParams, SessionConfig};
use engine::core::run::RunOutcome;
use serde_json::json;

use crate::harness::{Env, fast_settings};

#[tokio::test(flavor = "multi_thread")]
async fn anthropic_server_tools_are_sent_and_their_output_replayed_verbatim() {
    let script = json!({"turns": [
        {"hosted_tool": {"name": "web_search", "query": "temporal schedules",
            "results": [{"url": "https://docs.temporal.io/schedule", "title": "Schedules"}]},
         "text": "Schedules start workflows on a calendar.",
         "citations": [{"url": "https://docs.temporal.io/schedule", "title": "Schedules",
                        "cited_text": "A Schedule contains instructions for starting a Workflow"}]},
        {"text": "As cited before."}
    ]});
    let Some(env) = Env::start("provider-tools", script, fast_settings()).await else {
        return;
    };
    let params = json!({"hosted_tools": [
        {"type": "web_search", "max_uses": 2, "allowed_domains": ["docs.temporal.io"]},
        {"type": "web_fetch"},
        {"type": "code_execution"}
    ]});
    let config = SessionConfig {
        model: ModelRoute {
            provider_id: "anthropic".into(),
            api_kind: "anthropic:messages".into(),
            model: "fake-model".into(),
        },
        generation: GenerationConfig {
            provider_params: ProviderParams(params),
            ..GenerationConfig::default()
        },
        context: Default::default(),
        run_limits: Default::default(),
        tool_policy: Default::default(),
        budget: Default::default(),
    };
    let session = env.open_config("s-server-tools", config).await;
    for (n, text) in [(1, "How do schedules work?"), (2, "And again?")] {
        let run = env.request_run(&session, &format!("sub-{n}"), text).await;
        assert_eq!(env.outcome(&session, &run).await, RunOutcome::Completed);
    }
    let requests = env.provider.requests();
    assert_eq!(requests.len(), 2);
    let first = &requests[0];
    assert_eq!(
        first.headers.get("anthropic-beta").map(String::as_str),
        Some("web-fetch-2025-09-10, code-execution-2025-08-25")
    );
    let tools = first.body["tools"].as_array().unwrap();
    let server: Vec<_> = tools
        .iter()
        .filter(|tool| tool.get("input_schema").is_none())
        .cloned()
        .collect();
    assert_eq!(
        server,
        vec![
            json!({"type": "web_search_20250305", "name": "web_search", "max_uses": 2,
                   "allowed_domains": ["docs.temporal.io"]}),
            json!({"type": "web_fetch_20250910", "name": "web_fetch"}),
            json!({"type": "code_execution_20250825", "name": "code_execution"}),
        ]
    );
    // The second request sends the first answer back block for block.
    let blocks: Vec<serde_json::Value> = requests[1].body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|message| message["role"] == "assistant")
        .flat_map(|message| message["content"].as_array().cloned().unwrap_or_default())
        .collect();
    let kinds: Vec<&str> = blocks.iter().filter_map(|b| b["type"].as_str()).collect();
    assert_eq!(kinds, ["server_tool_use", "web_search_tool_result", "text"]);
    assert_eq!(blocks[0]["input"], json!({"query": "temporal schedules"}));
    assert_eq!(
        blocks[1]["content"][0]["url"],
        "https://docs.temporal.io/schedule"
    );
    assert!(blocks[1]["content"][0]["encrypted_content"].is_string());
    assert_eq!(
        blocks[2]["citations"][0]["cited_text"],
        "A Schedule contains instructions for starting a Workflow"
    );
    assert!(blocks[2]["citations"][0]["encrypted_index"].is_string());
    env.shutdown().await;
}
