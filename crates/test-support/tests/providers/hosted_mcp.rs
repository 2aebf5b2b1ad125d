//! Provider-hosted MCP over HTTP: a request whose tools include an MCP server the
//! provider calls itself reaches the (fake) provider with the server and the header
//! resolved at send time, and is stored with that header redacted; Anthropic gets
//! the bearer token as `authorization_token` and the beta flag; Chat Completions
//! refuses.

use engine::core::config::{ModelRoute, ProviderParams, ToolChoice};
use engine::core::context::{ContextItem, ItemKind};
use engine::core::request::GenerationRequest;
use engine::core::tools::ToolSpec;
use engine::memory::MemoryStore;
use engine::store::BlobStore;
use engine::{RunId, SessionId};
use futures::future::BoxFuture;
use llm_clients::ApiKind;
use llm_runtime::content::HostedHeader;
use llm_runtime::{HostedMcpAuth, LlmRuntime, NoDeltas, RuntimeError, Transport};
use serde_json::{Value, json};

use super::{client_for, start_provider};

const TOKEN: &str = "hosted-token-0123456789";

struct Bearer;

impl HostedMcpAuth for Bearer {
    fn header<'a>(
        &'a self,
        server: &'a str,
    ) -> BoxFuture<'a, Result<Option<HostedHeader>, RuntimeError>> {
        assert_eq!(server, "docs");
        Box::pin(std::future::ready(Ok(Some(HostedHeader {
            name: "Authorization".into(),
            value: format!("Bearer {TOKEN}"),
        }))))
    }
}

async fn request(kind: ApiKind, store: &MemoryStore) -> GenerationRequest {
    let text = store.put(b"What do the docs say?".to_vec()).await.unwrap();
    let definition = store
        .put(
            serde_json::to_vec(&json!({
                "name": "docs__mcp", "description": "The docs server.", "parameters": {},
                "hostedMcp": {"server": "docs", "url": "https://mcp.example.com/mcp",
                              "allowedTools": ["search"]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    GenerationRequest {
        session_id: SessionId::new("hosted").unwrap(),
        run_id: RunId::from_ordinal(1),
        turn: 1,
        model: ModelRoute {
            provider_id: "fake".into(),
            api_kind: kind.as_str().into(),
            model: "fake-model".into(),
        },
        output_tokens_max: 1_000,
        tool_choice: ToolChoice::Auto,
        provider_params: ProviderParams(json!({})),
        tools: vec![ToolSpec {
            name: "docs__mcp".into(),
            definition_ref: definition,
            class: None,
        }],
        items: vec![ContextItem {
            ordinal: 0,
            kind: ItemKind::UserMessage,
            key: None,
            content_ref: text,
            token_estimate: 5,
            call_id: None,
            is_error: false,
            source_ref: None,
        }],
    }
}

async fn generate(
    kind: ApiKind,
) -> (
    Result<Value, RuntimeError>,
    Vec<test_support::fake_provider::RecordedRequest>,
) {
    let provider = start_provider(json!({"turns": [{"text": "They say hello."}]})).await;
    let runtime = LlmRuntime::new([client_for(kind, &provider)]);
    let store = MemoryStore::new();
    let request = request(kind, &store).await;
    let result = runtime
        .generate_hosted(request, &store, Transport::Blocking, &NoDeltas, &Bearer)
        .await;
    let stored = match result {
        Ok(result) => {
            let bytes = store.get(&result.request_ref.unwrap()).await.unwrap();
            Ok(serde_json::from_slice(&bytes).unwrap())
        }
        Err(err) => Err(err),
    };
    (stored, provider.requests())
}

#[tokio::test]
async fn openai_responses_sends_the_header_and_stores_it_redacted() {
    let (stored, requests) = generate(ApiKind::OpenAiResponses).await;
    let stored = stored.unwrap();
    let sent = &requests[0];
    let tool = &sent.body["tools"][0];
    assert_eq!(tool["type"], "mcp");
    assert_eq!(tool["server_label"], "docs");
    assert_eq!(tool["server_url"], "https://mcp.example.com/mcp");
    assert_eq!(tool["allowed_tools"], json!(["search"]));
    assert_eq!(tool["headers"]["Authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(
        stored["tools"][0]["headers"]["Authorization"],
        "Bearer [redacted]"
    );
    assert!(!stored.to_string().contains(TOKEN));
}

#[tokio::test]
async fn anthropic_gets_the_token_and_the_beta_flag() {
    let (stored, requests) = generate(ApiKind::AnthropicMessages).await;
    let stored = stored.unwrap();
    let sent = &requests[0];
    let server = &sent.body["mcp_servers"][0];
    assert_eq!(server["type"], "url");
    assert_eq!(server["name"], "docs");
    assert_eq!(server["authorization_token"], TOKEN);
    assert_eq!(
        server["tool_configuration"]["allowed_tools"],
        json!(["search"])
    );
    assert!(sent.body.get("tools").is_none(), "no function tool for it");
    assert_eq!(
        sent.headers.get("anthropic-beta").map(String::as_str),
        Some("mcp-client-2025-04-04")
    );
    assert!(!stored.to_string().contains(TOKEN));
    assert_eq!(
        stored["mcp_servers"][0]["authorization_token"],
        "[redacted]"
    );
}

#[tokio::test]
async fn chat_completions_refuses_hosted_servers() {
    let (stored, requests) = generate(ApiKind::OpenAiCompletions).await;
    assert!(
        matches!(stored, Err(RuntimeError::Unsupported { .. })),
        "{stored:?}"
    );
    assert!(requests.is_empty(), "nothing was sent");
}
