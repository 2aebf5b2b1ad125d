//! `server dev`: one command brings up a Temporal dev server child, the worker and
//! the gateway over store-fs; a session runs through it; Ctrl-C stops everything,
//! the Temporal child included.

use std::time::Duration;

use serde_json::{Value, json};
use temporal_server::devserver;
use test_support::fake_provider::{FakeProvider, FakeProviderConfig};

const KEY: &str = "lsk_dev-test-key-0123456789";

async fn rpc(http: &reqwest::Client, url: &str, method: &str, params: Value) -> Value {
    let response = crate::harness::rpc_response(http, url, KEY, method, params).await;
    assert!(response.get("error").is_none(), "{method}: {response}");
    response["result"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn dev_serves_a_session_and_stops_cleanly_on_ctrl_c() {
    if devserver::find_binary().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no temporal binary"
        );
        eprintln!("SKIPPED: no temporal binary");
        return;
    }
    let provider = FakeProvider::start(FakeProviderConfig {
        script: Some(serde_json::from_value(json!({"turns": [{"text": "Hi from dev."}]})).unwrap()),
        ..FakeProviderConfig::default()
    })
    .await
    .unwrap();
    let data = tempfile::tempdir().unwrap();
    let [port, temporal_port] = devserver::free_ports().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["dev", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--temporal-port", &temporal_port.to_string()])
        .arg("--data-dir")
        .arg(data.path())
        .env("LIGHTSPEED_API_KEY", KEY)
        .env("OPENAI_BASE_URL", provider.openai_base_url())
        .env_remove("OPENAI_API_KEY")
        .env_remove("LIGHTSPEED_PG_UNIVERSE_ID")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/rpc");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server dev never came up"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "server dev exited early"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let config =
        json!({"model": {"providerId": "openai", "apiKind": "openai:responses", "model": "m"}});
    rpc(
        &http,
        &url,
        "session/start",
        json!({"sessionId": "s-dev", "config": config}),
    )
    .await;
    let run = rpc(
        &http,
        &url,
        "run/start",
        json!({"sessionId": "s-dev", "submissionId": "sub-1", "input": [{"type": "text", "text": "hi"}]}),
    )
    .await;
    let run_id = run["runId"].clone();
    let mut cursor = 0;
    let mut finished = None;
    for _ in 0..60 {
        let page = rpc(
            &http,
            &url,
            "session/events/read",
            json!({"sessionId": "s-dev", "cursor": cursor, "waitMs": 1_000}),
        )
        .await;
        cursor = page["nextCursor"].as_u64().unwrap();
        finished = page["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["kind"] == "lightspeed.core.run.finished" && e["runId"] == run_id)
            .cloned();
        if finished.is_some() {
            break;
        }
    }
    assert_eq!(
        finished.expect("run finished")["run"]["status"],
        "completed"
    );

    // Ctrl-C: everything stops, the Temporal child too.
    crate::harness::signal(&child, "INT");
    let exit = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("server dev stops on Ctrl-C")
        .unwrap();
    assert!(exit.success(), "{exit:?}");
    let temporal_gone = tokio::net::TcpStream::connect(("127.0.0.1", temporal_port))
        .await
        .is_err();
    assert!(temporal_gone, "the Temporal dev server outlived server dev");
    assert!(data.path().join("temporal.db").exists());
    provider.shutdown().await;
}

/// A `server dev` that dies without cleaning up (SIGKILL) must not leave Temporal
/// running: the dev server's watcher stops it.
#[tokio::test(flavor = "multi_thread")]
async fn killed_dev_takes_its_temporal_child_along() {
    if devserver::find_binary().is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but no temporal binary"
        );
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let [port, temporal_port] = devserver::free_ports().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["dev", "--bind", &format!("127.0.0.1:{port}")])
        .args(["--temporal-port", &temporal_port.to_string()])
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while http
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "server dev never came up"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", temporal_port))
            .await
            .is_ok()
    );
    child.kill().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", temporal_port))
        .await
        .is_ok()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Temporal dev server outlived a killed server dev"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// With no `temporal` anywhere, `server dev` fetches the pinned CLI into the cache;
/// offline (as on CI machines) it fails with a message pointing at `local/up.sh`.
#[tokio::test(flavor = "multi_thread")]
async fn dev_without_a_temporal_binary_downloads_it_or_says_what_to_do() {
    let cache = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let port = devserver::free_port().unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_server"))
        .args(["dev", "--bind", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(data.path())
        .env("LIGHTSPEED_CACHE_DIR", cache.path())
        .env("PATH", "/usr/bin:/bin")
        .env_remove("TEMPORAL_BIN")
        .env("RUST_LOG", "warn")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    assert!(
        !std::path::Path::new("/usr/bin/temporal").exists()
            && !std::path::Path::new("/bin/temporal").exists(),
        "this test needs a PATH without temporal"
    );
    let downloaded = cache.path().join("bin/temporal");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        if downloaded.is_file() {
            // Online: the CLI arrived and dev goes on with it.
            child.kill().await.unwrap();
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            tokio::io::AsyncReadExt::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr)
                .await
                .unwrap();
            assert!(!status.success(), "{stderr}");
            assert!(
                stderr.contains("downloading the Temporal CLI") && stderr.contains("local/up.sh"),
                "the failure says what to do: {stderr}"
            );
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server dev neither downloaded nor failed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
