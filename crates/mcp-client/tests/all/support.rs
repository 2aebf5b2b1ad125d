use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use mcp_client::{CallOptions, CallOutput, Content, McpPool, PoolConfig, Transport};
use serde_json::{Map, Value, json};

/// The server-everything entry point, or `None` (with a note) when not installed.
pub(crate) fn everything_bin() -> Option<PathBuf> {
    let dir = std::env::var_os("LIGHTSPEED_TEST_SERVERS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/test-servers")
        });
    let bin = dir.join("node_modules/.bin/mcp-server-everything");
    if bin.exists() {
        return Some(bin);
    }
    if std::env::var("CI").is_ok_and(|value| value == "true") {
        panic!(
            "{} is missing under CI=true: run local/up.sh (npm ci in interop/test-servers)",
            bin.display()
        );
    }
    eprintln!(
        "note: skipping, {} is missing (set LIGHTSPEED_TEST_SERVERS_DIR or run local/up.sh)",
        bin.display()
    );
    None
}

pub(crate) fn stdio(bin: &Path) -> Transport {
    Transport::Stdio {
        command: "node".to_owned(),
        args: vec![bin.display().to_string(), "stdio".to_owned()],
        env: BTreeMap::new(),
        cwd: None,
    }
}

pub(crate) fn http(url: &str) -> Transport {
    Transport::StreamableHttp {
        url: url.to_owned(),
        headers: BTreeMap::new(),
    }
}

pub(crate) fn pool() -> McpPool {
    McpPool::new(PoolConfig::default()).unwrap()
}

pub(crate) fn args(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("arguments must be an object, got {other}"),
    }
}

pub(crate) fn text(output: &CallOutput) -> String {
    output
        .content
        .iter()
        .filter_map(|content| match content {
            Content::Text { text } => Some(text.as_str()),
            _ => None,
        })
        .collect()
}

pub(crate) fn options(timeout_ms: u64) -> CallOptions {
    CallOptions {
        timeout: Duration::from_millis(timeout_ms),
        ..CallOptions::default()
    }
}

/// `node mcp-server-everything streamableHttp` on a free port; killed on drop.
pub(crate) struct HttpEverything {
    _child: tokio::process::Child,
    pub(crate) url: String,
}

pub(crate) async fn http_everything(bin: &Path) -> HttpEverything {
    let port = free_port();
    let child = tokio::process::Command::new("node")
        .arg(bin)
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            Instant::now() < deadline,
            "server-everything did not listen on {port}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    HttpEverything {
        _child: child,
        url: format!("http://127.0.0.1:{port}/mcp"),
    }
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// An endpoint answering every request with `status` (plus headers), recording the
/// `Authorization` header of each.
pub(crate) struct FakeEndpoint {
    pub(crate) url: String,
    pub(crate) seen: Arc<Mutex<Vec<Option<String>>>>,
}

pub(crate) async fn fake_endpoint(
    status: u16,
    headers: &[(&'static str, &'static str)],
) -> FakeEndpoint {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    let status = StatusCode::from_u16(status).unwrap();
    let extra: Vec<(&'static str, &'static str)> = headers.to_vec();
    let handler = move |request_headers: HeaderMap| {
        let recorded = Arc::clone(&recorded);
        let extra = extra.clone();
        async move {
            recorded.lock().unwrap().push(
                request_headers
                    .get("authorization")
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned),
            );
            let mut response = (
                status,
                // An error body that echoes the credential, as a careless server might.
                format!(
                    "denied: {}",
                    request_headers
                        .get("authorization")
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or("")
                ),
            )
                .into_response();
            for (name, value) in extra {
                response
                    .headers_mut()
                    .insert(name, HeaderValue::from_static(value));
            }
            response
        }
    };
    let app = axum::Router::new().route("/mcp", axum::routing::any(handler));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    FakeEndpoint {
        url: format!("http://127.0.0.1:{port}/mcp"),
        seen,
    }
}

/// Whether a process with this pid exists (`kill -0`; no unsafe code in tests).
pub(crate) fn process_exists(pid: u32) -> bool {
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

pub(crate) fn kill_hard(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Polls `check` every 25 ms until it holds or `timeout` passes.
pub(crate) async fn eventually(timeout: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    check()
}

pub(crate) fn echo(message: &str) -> Map<String, Value> {
    args(json!({ "message": message }))
}
