//! The deployed shape: `server worker` and `server gateway` as separate processes over
//! Postgres (log, blobs, VFS catalog, API keys) and S3 (blobs over 64 KiB), with deltas
//! relayed between them through `LISTEN`/`NOTIFY`, and file tools on a mounted
//! workspace. Needs the local stack's Postgres and S3
//! (`local/up.sh`): skipped with a note without `LIGHTSPEED_POSTGRES_URL`, failing
//! under `CI=true`.

use std::process::Stdio;
use std::time::Duration;

use engine::SessionId;
use engine::core::event::CoreEvent;
use engine::store::SessionLog as _;
use jsonrpsee::core::client::{ClientT, SubscriptionClientT};
use jsonrpsee::http_client::HttpClientBuilder;
use jsonrpsee::ws_client::WsClientBuilder;
use serde_json::{Value, json};
use store_pg::{PgConfig, PgDatabase};
use temporal_server::devserver;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig};
use test_support::rpc_client::{bearer_headers, params};
use tokio::io::AsyncReadExt as _;
use uuid::Uuid;

use crate::harness::temporal_address;

const STACK_VARIABLES: [&str; 6] = [
    "LIGHTSPEED_POSTGRES_URL",
    "LIGHTSPEED_OBJECT_STORE_ENDPOINT",
    "LIGHTSPEED_OBJECT_STORE_BUCKET",
    "LIGHTSPEED_OBJECT_STORE_ACCESS_KEY",
    "LIGHTSPEED_OBJECT_STORE_SECRET_KEY",
    "LIGHTSPEED_OBJECT_STORE_REGION",
];

/// The stack's variables, or `None` (skip) outside CI when they are unset.
pub(crate) fn stack_env() -> Option<Vec<(&'static str, String)>> {
    let found: Vec<_> = STACK_VARIABLES
        .iter()
        .filter_map(|&name| {
            let value = std::env::var(name).ok().filter(|value| !value.is_empty())?;
            Some((name, value))
        })
        .collect();
    if found.len() == STACK_VARIABLES.len() {
        return Some(found);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI=true but the local stack's variables are unset (source local/env.sh)"
    );
    eprintln!("SKIPPED: the Postgres/S3 variables are unset (local/up.sh; source local/env.sh)");
    None
}

pub(crate) fn server(
    args: &[&str],
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"));
    command
        .args(args)
        .envs(stack.iter().map(|(name, value)| (*name, value.as_str())))
        .env("TEMPORAL_ADDRESS", temporal)
        .env("LIGHTSPEED_TASK_QUEUE", task_queue)
        .env("RUST_LOG", "warn")
        // One key for every process of a test's stack (worker and gateway seal and
        // open the same secrets), and no key file written into the source tree.
        .env(
            "LIGHTSPEED_SECRET_KEYS",
            "test:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
        )
        .env_remove("LIGHTSPEED_PG_UNIVERSE_ID")
        .kill_on_drop(true);
    command
}

/// A `server worker` process of the test's stack whose OpenAI provider is `provider`.
pub(crate) fn worker_process(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    provider: &test_support::fake_provider::RunningFakeProvider,
) -> tokio::process::Child {
    worker_command(stack, temporal, task_queue, provider)
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// The command of [`worker_process`], to add to before spawning.
pub(crate) fn worker_command(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    provider: &test_support::fake_provider::RunningFakeProvider,
) -> tokio::process::Command {
    let mut command = server(&["worker"], stack, temporal, task_queue);
    command
        .env("OPENAI_BASE_URL", provider.openai_base_url())
        .env_remove("OPENAI_API_KEY");
    command
}

/// A `server gateway` of the test's stack on a free port, once it answers `/health`,
/// and its address; its stderr goes to `stderr`.
pub(crate) async fn gateway_process(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    stderr: Stdio,
) -> (tokio::process::Child, String) {
    gateway_with(stack, temporal, task_queue, stderr, &[]).await
}

/// [`gateway_process`] with more environment variables (`envs`).
pub(crate) async fn gateway_with(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    stderr: Stdio,
    envs: &[(&str, &std::ffi::OsStr)],
) -> (tokio::process::Child, String) {
    let bind = format!("127.0.0.1:{}", devserver::free_port().unwrap());
    let mut gateway = server(&["gateway", "--bind", &bind], stack, temporal, task_queue)
        .envs(envs.iter().copied())
        .stderr(stderr)
        .spawn()
        .unwrap();
    wait_healthy(&bind, &mut gateway).await;
    (gateway, bind)
}

/// `count` gateways of the test's stack (stderr discarded), each with `envs`: the
/// processes and their addresses.
pub(crate) async fn gateways(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    count: usize,
    envs: &[(&str, &std::ffi::OsStr)],
) -> (Vec<tokio::process::Child>, Vec<String>) {
    let mut children = Vec::new();
    let mut binds = Vec::new();
    for _ in 0..count {
        let (child, bind) = gateway_with(stack, temporal, task_queue, Stdio::null(), envs).await;
        children.push(child);
        binds.push(bind);
    }
    (children, binds)
}

/// A JSON-RPC client of the gateway at `bind` calling with API key `key`.
pub(crate) fn rpc_client(bind: &str, key: &str) -> jsonrpsee::http_client::HttpClient {
    HttpClientBuilder::default()
        .set_headers(bearer_headers(key))
        .request_timeout(Duration::from_secs(60))
        .build(format!("http://{bind}/rpc"))
        .unwrap()
}

/// Waits until the gateway at `bind` answers `/health`, failing if it exits first.
pub(crate) async fn wait_healthy(bind: &str, child: &mut tokio::process::Child) {
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while http
        .get(format!("http://{bind}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{bind} never came up"
        );
        assert!(child.try_wait().unwrap().is_none(), "{bind} exited");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A key for `universe`, minted into Postgres by `server api-keys create`.
pub(crate) async fn mint_key(
    stack: &[(&'static str, String)],
    temporal: &str,
    task_queue: &str,
    universe: &str,
) -> String {
    let created = run_to_end(
        server(
            &["api-keys", "create", "--universe", universe],
            stack,
            temporal,
            task_queue,
        ),
        "",
    )
    .await;
    created.trim().to_owned()
}

pub(crate) async fn run_to_end(mut command: tokio::process::Command, stdin: &str) -> String {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut input, stdin.as_bytes())
        .await
        .unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn separate_worker_and_gateway_over_postgres_relay_deltas() {
    let Some(stack) = stack_env() else { return };
    let Some(temporal) = temporal_address().await else {
        return;
    };
    let universe = Uuid::new_v4();
    let task_queue = format!("pg-test-{universe}");
    let universe_arg = universe.to_string();

    // A key minted into Postgres; adding it again is a no-op.
    let key = mint_key(&stack, &temporal, &task_queue, &universe_arg).await;
    assert!(key.starts_with("lsk_"), "{key}");
    for _ in 0..2 {
        run_to_end(
            server(
                &["api-keys", "add", "--universe", &universe_arg],
                &stack,
                &temporal,
                &task_queue,
            ),
            &key,
        )
        .await;
    }

    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(
            serde_json::from_value(json!({"turns": [
                {"tool_calls": [{"name": "write_file",
                                 "arguments": {"path": "/work/pg.md", "content": "kept in Postgres\n"}}]},
                {"text": "Relayed through Postgres, word by word.", "delay_ms": 300}
            ]}))
            .unwrap(),
        ),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let mut worker = server(&["worker"], &stack, &temporal, &task_queue);
    let mut worker = worker
        .env("OPENAI_BASE_URL", provider.openai_base_url())
        .env_remove("OPENAI_API_KEY")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let port = devserver::free_port().unwrap();
    let bind = format!("127.0.0.1:{port}");
    let mut gateway = server(
        &["gateway", "--bind", &bind],
        &stack,
        &temporal,
        &task_queue,
    )
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    wait_healthy(&bind, &mut gateway).await;
    assert!(worker.try_wait().unwrap().is_none(), "worker exited");

    let client = HttpClientBuilder::default()
        .set_headers(bearer_headers(&key))
        .build(format!("http://{bind}/rpc"))
        .unwrap();
    // A workspace in the Postgres VFS catalog, mounted for the session's file tools.
    let _: Value = client
        .request(
            "vfs/workspace/create",
            params(json!({"workspaceId": "ws-pg"})),
        )
        .await
        .unwrap();
    let _: Value = client
        .request(
            "vfs/mount/put",
            params(
                json!({"sessionId": "s-pg", "mountPath": "/work", "mode": "readWrite",
                          "source": {"type": "workspace", "workspaceId": "ws-pg"}}),
            ),
        )
        .await
        .unwrap();
    let config = json!({
        "model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"},
        "tools": {"filesystem": "edit"}
    });
    let _: Value = client
        .request(
            "session/start",
            params(json!({"sessionId": "s-pg", "config": config})),
        )
        .await
        .unwrap();
    let ws = WsClientBuilder::default()
        .set_headers(bearer_headers(&key))
        .build(format!("ws://{bind}/rpc"))
        .await
        .unwrap();
    let mut subscription = ws
        .subscribe::<Value, _>(
            "session/subscribe",
            params(json!({"sessionId": "s-pg", "cursor": 0})),
            "session/unsubscribe",
        )
        .await
        .unwrap();
    // Over 64 KiB, so the input blob lives in S3.
    let large_input = format!("{} end", "lorem ipsum ".repeat(6_000));
    let run: Value = client
        .request(
            "run/start",
            params(json!({
                "sessionId": "s-pg",
                "submissionId": "sub-1",
                "input": [{"type": "text", "text": large_input}]
            })),
        )
        .await
        .unwrap();
    let run_id = run["runId"].as_str().unwrap().to_owned();
    let mut delta_text = String::new();
    let status = loop {
        let notification = tokio::time::timeout(Duration::from_secs(60), subscription.next())
            .await
            .expect("a notification")
            .unwrap()
            .unwrap();
        if notification["type"] == "delta" {
            delta_text.push_str(notification["delta"]["text"].as_str().unwrap_or_default());
        }
        let event = &notification["event"];
        if event["kind"] == "lightspeed.core.run.finished" && event["runId"] == run_id.as_str() {
            break event["run"]["status"].clone();
        }
    };
    assert_eq!(status, "completed");
    assert!(
        delta_text.contains("Relayed through Postgres"),
        "deltas relayed from the worker process: {delta_text:?}"
    );

    // The model's write moved the workspace head in the Postgres catalog.
    let head: Value = client
        .request(
            "vfs/workspace/read",
            params(json!({"workspaceId": "ws-pg"})),
        )
        .await
        .unwrap();
    assert_eq!(head["revision"], 2, "{head:#}");
    assert_eq!(head["fileCount"], 1, "{head:#}");

    // session/list reads the universe's own rows in Postgres: just this session.
    let listed: Value = client
        .request("session/list", params(json!({})))
        .await
        .unwrap();
    let ids: Vec<&str> = listed["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|summary| summary["sessionId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["s-pg"], "{listed:#}");

    // The log and the blobs are in Postgres, the large input in S3.
    let url = &stack[0].1;
    let db = PgDatabase::connect(&PgConfig::new(url)).await.unwrap();
    let store = db.store(universe, None).await.unwrap();
    let entries = store
        .read(&SessionId::new("s-pg").unwrap(), 1, 1_000)
        .await
        .unwrap();
    let kinds: Vec<_> = entries
        .iter()
        .map(|entry| CoreEvent::decode(&entry.event).unwrap().kind())
        .collect();
    assert!(kinds.contains(&"lightspeed.core.run.finished"), "{kinds:?}");
    let in_s3: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM blobs WHERE universe_id = $1 AND object_key IS NOT NULL",
    )
    .bind(universe)
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert!(in_s3 >= 1, "the large input went to the object store");
    db.close().await;

    for child in [&mut worker, &mut gateway] {
        crate::harness::signal(child, "TERM");
        let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .expect("stops on SIGTERM")
            .unwrap();
        if !exit.success() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .await
                .unwrap();
            panic!("{exit:?}: {stderr}");
        }
    }
    provider.shutdown().await;
}
