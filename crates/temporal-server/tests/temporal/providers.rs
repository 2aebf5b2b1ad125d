//! Model routes on real Temporal: the `server` binary (worker and gateway in one
//! process, store-fs) configured by a providers file with two OpenAI-compatible
//! providers and Anthropic, each a fake provider of its own. Three sessions, one per
//! provider: each answer comes from its provider (and each fake saw exactly its own
//! request, with its headers), `models/list` shows all three without secrets.

use std::time::Duration;

use gateway::KeyStore as _;
use serde_json::{Value, json};
use test_support::fake_provider::{FakeProvider, FakeProviderConfig, RunningFakeProvider};

use crate::harness::{rpc_response, temporal_address};

const UNIVERSE: &str = "u-routes";

async fn fake(text: &str) -> RunningFakeProvider {
    let script = json!({"turns": [{"text": text}]});
    FakeProvider::start(FakeProviderConfig {
        script: Some(serde_json::from_value(script).unwrap()),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap()
}

struct Gateway {
    http: reqwest::Client,
    url: String,
    key: String,
}

impl Gateway {
    async fn call(&self, method: &str, params: Value) -> Value {
        let response = self.response(method, params).await;
        assert!(response.get("error").is_none(), "{method}: {response}");
        response["result"].clone()
    }

    async fn response(&self, method: &str, params: Value) -> Value {
        rpc_response(&self.http, &self.url, &self.key, method, params).await
    }

    /// Runs one message on `session` and returns the assistant's text.
    async fn answer(&self, session: &str, text: &str) -> String {
        let run = self
            .call(
                "run/start",
                json!({"sessionId": session, "submissionId": "sub-1",
                       "input": [{"type": "text", "text": text}]}),
            )
            .await;
        let mut cursor = 0;
        let mut answer = String::new();
        for _ in 0..90 {
            let page = self
                .call(
                    "session/events/read",
                    json!({"sessionId": session, "cursor": cursor, "waitMs": 1_000}),
                )
                .await;
            cursor = page["nextCursor"].as_u64().unwrap();
            for event in page["events"].as_array().unwrap() {
                for item in event["items"].as_array().into_iter().flatten() {
                    if item["type"] == "assistantMessage" {
                        answer.push_str(item["text"].as_str().unwrap());
                    }
                }
                if event["kind"] == "lightspeed.core.run.finished" && event["runId"] == run["runId"]
                {
                    assert_eq!(event["run"]["status"], "completed", "{event}");
                    return answer;
                }
            }
        }
        panic!("the run on {session} did not finish");
    }
}

fn providers_file(
    a: &RunningFakeProvider,
    b: &RunningFakeProvider,
    c: &RunningFakeProvider,
) -> String {
    format!(
        r#"
[[providers]]
id = "responses-a"
api_kind = "openai:responses"
base_url = "{a}"
api_key_env = "ROUTES_A_KEYS"
headers = {{ "x-route" = "a" }}

[[providers.models]]
id = "model-a"
context_window = 64000
output_tokens_default = 1000
output_tokens_max = 2000

[[providers]]
id = "vllm-b"
api_kind = "openai:completions"
base_url = "{b}"
header_env = {{ "x-proxy-token" = "ROUTES_B_PROXY_TOKEN" }}

[[providers.models]]
id = "org/model-b"
context_window = 32000
output_tokens_default = 500

[[providers]]
id = "claude"
api_kind = "anthropic:messages"
base_url = "{c}"
api_key_env = "ROUTES_C_KEY"

[[providers.models]]
id = "model-c"
context_window = 200000
output_tokens_default = 4096
"#,
        a = a.openai_base_url(),
        b = b.openai_base_url(),
        c = c.anthropic_base_url(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn three_providers_from_a_file_each_serve_their_sessions() {
    let Some(address) = temporal_address().await else {
        return;
    };
    let (a, b, c) = (
        fake("Answer from A.").await,
        fake("Answer from B.").await,
        fake("Answer from C.").await,
    );
    let data = tempfile::tempdir().unwrap();
    let file = data.path().join("providers.toml");
    std::fs::write(&file, providers_file(&a, &b, &c)).unwrap();
    let keys_file = data.path().join("api-keys.json");
    let (key, record) = gateway::mint_key(UNIVERSE, 1);
    gateway::FileKeyStore::new(&keys_file)
        .insert(record)
        .await
        .unwrap();
    let [port] = temporal_server::devserver::free_ports().unwrap();
    let queue = format!("routes-{}", uuid::Uuid::new_v4().simple());
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .env("TEMPORAL_ADDRESS", &address)
        .env("TEMPORAL_NAMESPACE", "default")
        .env("LIGHTSPEED_TASK_QUEUE", &queue)
        .env("LIGHTSPEED_BIND", format!("127.0.0.1:{port}"))
        .env("LIGHTSPEED_DATA_DIR", data.path().join("store"))
        .env("LIGHTSPEED_KEYS_FILE", &keys_file)
        .env("LIGHTSPEED_PROVIDERS_FILE", &file)
        .env(
            "ROUTES_A_KEYS",
            "sk-route-a-0123456789,sk-route-a-9876543210",
        )
        .env("ROUTES_B_PROXY_TOKEN", "proxy-secret-b")
        .env("ROUTES_C_KEY", "sk-ant-route-c-0123456789")
        .env_remove("LIGHTSPEED_POSTGRES_URL")
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("ANTHROPIC_BASE_URL")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let gateway = Gateway {
        http: reqwest::Client::new(),
        url: format!("http://127.0.0.1:{port}/rpc"),
        key,
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while gateway
        .http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(child.try_wait().unwrap().is_none(), "server exited early");
        assert!(
            tokio::time::Instant::now() < deadline,
            "server never came up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let listed = gateway.call("models/list", json!({})).await;
    let shown = listed.to_string();
    for secret in ["sk-route-a", "proxy-secret-b", "sk-ant-route-c", "/v1"] {
        assert!(
            !shown.contains(secret),
            "models/list shows {secret}: {shown}"
        );
    }
    let ids: Vec<&str> = listed["providers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|provider| provider["providerId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["claude", "responses-a", "vllm-b"]);

    let routes = [
        (
            "s-a",
            "responses-a",
            "openai:responses",
            "model-a",
            "Answer from A.",
            1_000,
        ),
        (
            "s-b",
            "vllm-b",
            "openai:completions",
            "org/model-b",
            "Answer from B.",
            500,
        ),
        (
            "s-c",
            "claude",
            "anthropic:messages",
            "model-c",
            "Answer from C.",
            4_096,
        ),
    ];
    for (session, provider, kind, model, _, cap) in routes {
        let config = json!({"model": {"providerId": provider, "apiKind": kind, "model": model}});
        let view = gateway
            .call(
                "session/start",
                json!({"sessionId": session, "config": config}),
            )
            .await;
        assert_eq!(view["config"]["maxOutputTokens"], cap, "{view}");
    }
    let answers = futures::future::join_all(
        routes.map(|(session, ..)| gateway.answer(session, "Which provider are you?")),
    )
    .await;
    for ((session, .., expected, _), answer) in routes.iter().zip(&answers) {
        assert_eq!(answer, expected, "{session}");
    }

    // Each fake saw one generation, in its own wire format, with its own headers.
    let one = |provider: &RunningFakeProvider| {
        let requests: Vec<_> = provider
            .requests()
            .into_iter()
            .filter(|request| !request.path.ends_with("/count_tokens"))
            .collect();
        assert_eq!(requests.len(), 1, "{requests:?}");
        requests.into_iter().next().unwrap()
    };
    let (seen_a, seen_b, seen_c) = (one(&a), one(&b), one(&c));
    assert_eq!(seen_a.path, "/v1/responses");
    assert_eq!(seen_a.body["model"], "model-a");
    assert_eq!(seen_a.body["max_output_tokens"], 1_000);
    assert_eq!(seen_a.headers.get("x-route").map(String::as_str), Some("a"));
    assert!(seen_a.headers.contains_key("authorization"));
    assert_eq!(seen_b.path, "/v1/chat/completions");
    assert_eq!(seen_b.body["model"], "org/model-b");
    assert!(seen_b.headers.contains_key("x-proxy-token"));
    assert!(
        !seen_b.headers.contains_key("authorization"),
        "vllm-b has no key"
    );
    assert_eq!(seen_c.path, "/v1/messages");
    assert_eq!(seen_c.body["model"], "model-c");
    assert_eq!(seen_c.body["max_tokens"], 4_096);
    assert!(seen_c.headers.contains_key("x-api-key"));

    // A provider the file does not name is refused at session/start.
    let config = json!({"model": {"providerId": "openai", "apiKind": "openai:responses",
                                  "model": "m"}});
    let refused = gateway
        .response("session/start", json!({"config": config}))
        .await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert_eq!(refused["error"]["data"]["reason"], "unknownProvider");

    child.kill().await.unwrap();
    for provider in [a, b, c] {
        provider.shutdown().await;
    }
}
