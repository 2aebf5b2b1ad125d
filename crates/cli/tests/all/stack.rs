//! The gateway stack a test talks to, and the binary run against it.

use std::process::Output;
use std::time::Duration;

use serde_json::Value;
use test_support::api_conformance::local::{LocalStack, LocalStackConfig, Quotas};

const UNIVERSE: &str = "universe-cli";
/// How long one CLI invocation may take before the test fails.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The in-process host (LocalApi + gateway + fake provider), as the conformance
/// suite runs it, with one universe.
pub(crate) struct Stack {
    host: LocalStack,
    pub(crate) key: String,
}

/// Gateway + LocalApi + fake provider playing `script`; no retries, so a scripted
/// provider error fails the run at once.
pub(crate) async fn stack(script: Value) -> Stack {
    let host = LocalStack::start(LocalStackConfig {
        script,
        universes: vec![UNIVERSE.to_owned()],
        llm_attempts_max: 1,
        quotas: Quotas::default(),
    })
    .await
    .unwrap();
    let key = host.universes[0].1.clone();
    Stack { host, key }
}

impl Stack {
    pub(crate) fn addr(&self) -> std::net::SocketAddr {
        self.host.addr().unwrap()
    }

    pub(crate) fn api_url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// The environment a user of this stack would have.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("LIGHTSPEED_API_URL", self.api_url()),
            ("LIGHTSPEED_API_KEY", self.key.clone()),
            ("LIGHTSPEED_CHAT_PROVIDER", "fake".into()),
            ("LIGHTSPEED_CHAT_API_KIND", "openai:responses".into()),
            ("LIGHTSPEED_CHAT_MODEL", "fake-model".into()),
            // As `.env_example` leaves them: empty means unset.
            ("LIGHTSPEED_CHAT_REASONING_EFFORT", String::new()),
            ("LIGHTSPEED_CHAT_MAX_TOKENS", String::new()),
        ]
    }

    /// Runs `lightspeed ARGS` with this stack's environment.
    pub(crate) async fn lightspeed(&self, args: &[&str]) -> Run {
        run_binary(args, self.env()).await
    }

    pub(crate) fn client(&self) -> cli::client::Client {
        cli::client::Client::new(&self.api_url(), Some(&self.key)).unwrap()
    }

    /// Stops serving (the backend keeps running); see [`Stack::restart_gateway`].
    pub(crate) async fn stop_gateway(&mut self) -> std::net::SocketAddr {
        self.host.stop_gateway().await.unwrap()
    }

    /// Serves the same backend again on `addr`.
    pub(crate) async fn restart_gateway(&mut self, addr: std::net::SocketAddr) {
        self.host.restart_gateway(addr).await.unwrap();
    }
}

/// What one invocation of the binary did.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

pub(crate) async fn run_binary(args: &[&str], env: Vec<(&'static str, String)>) -> Run {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_lightspeed"));
    command.args(args).kill_on_drop(true);
    for (name, _) in std::env::vars() {
        if name.starts_with("LIGHTSPEED_") {
            command.env_remove(name);
        }
    }
    command.envs(env);
    let output: Output = tokio::time::timeout(COMMAND_TIMEOUT, command.output())
        .await
        .expect("lightspeed finished in time")
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// The session id in `connected session=<id>`.
pub(crate) fn connected_session(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("connected session="))
        .unwrap_or_else(|| panic!("no connected line in {stdout:?}"))
        .to_owned()
}

/// A proxy in front of `target` that forwards JSON-RPC over HTTP and refuses every
/// WebSocket upgrade, as some proxies do. Serves until the runtime ends.
pub(crate) async fn http_only_proxy(target: std::net::SocketAddr) -> String {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};

    let forward = move |headers: HeaderMap, body: Bytes| async move {
        if headers.contains_key("upgrade") {
            return (
                StatusCode::FORBIDDEN,
                "no WebSockets here".to_owned().into_bytes(),
            );
        }
        let mut request = reqwest::Client::new()
            .post(format!("http://{target}/rpc"))
            .body(body);
        for name in ["authorization", "content-type"] {
            if let Some(value) = headers.get(name) {
                request = request.header(name, value.as_bytes());
            }
        }
        let response = request.send().await.unwrap();
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        (status, response.bytes().await.unwrap().to_vec())
    };
    let router = axum::Router::new().route("/rpc", axum::routing::any(forward));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{addr}")
}
