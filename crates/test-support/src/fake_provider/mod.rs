//! A fake LLM provider: an HTTP server that looks like the OpenAI Responses, OpenAI Chat
//! Completions and Anthropic Messages APIs on the wire, for the parts Lightspeed uses.
//! Every test, eval and benchmark runs against it, since our machines cannot reach real
//! providers. The guide is `docs/fake-provider.md`.
//!
//! Three modes, chosen by [`FakeProviderConfig`]:
//! - **script** ([`Script`]): each generation request, whatever its API, takes the next
//!   turn and gets it rendered in that API's format (JSON, or SSE when `"stream": true`);
//!   without a script, or once it is used up, the reply echoes the last user text.
//! - **replay** (`replay_dir`): recorded raw responses ([`ReplayEntry`]) served verbatim.
//! - **record** (`record_file`, with either): every request appended as a JSON line
//!   ([`RecordedRequest`]), secrets redacted, exact body kept in `raw_body`.
//!
//! Must not: reach the network beyond 127.0.0.1, use TLS, read clocks or randomness into
//! response bodies (ids come from a request counter, timestamps are a constant), check
//! API keys (auth failures are scripted), or model-think: it renders what it is told.

mod anthropic;
mod chat;
mod compaction;
mod errors;
mod record;
mod replay;
mod reply;
mod request;
mod responses;
mod script;
mod server;
mod transcription;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use record::{REDACTED, RecordedRequest, is_secret_header};
pub use replay::ReplayEntry;
pub use script::{
    ErrorKind, Script, ScriptCitation, ScriptError, ScriptHostedTool, ScriptToolCall, ScriptTurn,
    TurnMatch, UsageOverride,
};

use record::Recorder;
use replay::ReplayQueue;
use script::TurnQueue;
use server::ServerState;

/// How long [`RunningFakeProvider::shutdown`] waits for in-flight responses.
const SHUTDOWN_WAIT_MS_MAX: u64 = 5_000;

/// What the server serves and records.
#[derive(Clone, Debug)]
pub struct FakeProviderConfig {
    /// Turns to serve; `None` echoes. Conflicts with `replay_dir`.
    pub script: Option<Script>,
    /// Directory of replay files served in file-name order.
    pub replay_dir: Option<PathBuf>,
    /// File each request is appended to as a JSON line.
    pub record_file: Option<PathBuf>,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Newest requests kept for [`RunningFakeProvider::requests`]; older ones are
    /// dropped. 0 keeps none (the record file is unaffected).
    pub requests_kept_max: usize,
}

impl Default for FakeProviderConfig {
    fn default() -> Self {
        FakeProviderConfig {
            script: None,
            replay_dir: None,
            record_file: None,
            port: 0,
            requests_kept_max: 10_000,
        }
    }
}

/// Failures to start. Each message is complete on its own (the underlying error is part
/// of the text, not a `source()`), so `{}` and `{:#}` print it once.
#[derive(Debug, thiserror::Error)]
pub enum FakeProviderError {
    #[error("{}: {error}", path.display())]
    Io { path: PathBuf, error: io::Error },
    #[error("invalid script file {}: {error}", path.display())]
    ScriptJson {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("invalid script file {}: {reason}", path.display())]
    ScriptFileInvalid { path: PathBuf, reason: String },
    #[error("invalid script: {0}")]
    ScriptInvalid(String),
    #[error("invalid replay file {}: {reason}", path.display())]
    ReplayFile { path: PathBuf, reason: String },
    #[error("a script and a replay directory cannot be used together")]
    ScriptAndReplay,
    #[error("cannot listen on {addr}: {error}")]
    Bind { addr: SocketAddr, error: io::Error },
    #[error("fake-provider internal error: {0}")]
    Internal(String),
}

/// Starts fake provider servers.
#[derive(Debug)]
pub struct FakeProvider;

impl FakeProvider {
    /// Serves `script` (the script format as JSON) on a free port, every other
    /// setting the default: what most tests want.
    pub async fn start_script(
        script: serde_json::Value,
    ) -> Result<RunningFakeProvider, FakeProviderError> {
        let script = serde_json::from_value(script)
            .map_err(|err| FakeProviderError::ScriptInvalid(err.to_string()))?;
        Self::start(FakeProviderConfig {
            script: Some(script),
            ..FakeProviderConfig::default()
        })
        .await
    }

    /// Validates the config, loads replay files, opens the record file and starts
    /// serving on 127.0.0.1:`config.port`.
    pub async fn start(
        config: FakeProviderConfig,
    ) -> Result<RunningFakeProvider, FakeProviderError> {
        if config.script.is_some() && config.replay_dir.is_some() {
            return Err(FakeProviderError::ScriptAndReplay);
        }
        let script = config.script.unwrap_or_default();
        script
            .validate()
            .map_err(FakeProviderError::ScriptInvalid)?;
        let replay = match &config.replay_dir {
            Some(dir) => Some(Mutex::new(ReplayQueue::load(dir)?)),
            None => None,
        };
        let recorder =
            Recorder::open(config.record_file.as_deref(), config.requests_kept_max).await?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, config.port));
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|error| FakeProviderError::Bind { addr, error })?;
        let addr = listener
            .local_addr()
            .map_err(|error| FakeProviderError::Bind { addr, error })?;
        let state = Arc::new(ServerState {
            requests_count: AtomicU64::new(0),
            turns: Mutex::new(TurnQueue::new(script)),
            replay,
            recorder,
        });
        let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
        let router = server::router(Arc::clone(&state));
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    // A dropped sender (a dropped RunningFakeProvider) also shuts down.
                    let _ = shutdown_rx.await;
                })
                .await
        });
        Ok(RunningFakeProvider {
            addr,
            state,
            shutdown_tx,
            task,
        })
    }
}

/// A serving fake provider. Dropping it stops the server too, without waiting.
#[derive(Debug)]
pub struct RunningFakeProvider {
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown_tx: oneshot::Sender<()>,
    task: JoinHandle<io::Result<()>>,
}

impl RunningFakeProvider {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/v1`, the OpenAI SDKs' `base_url`.
    pub fn openai_base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// `http://ADDR`, the Anthropic SDKs' `base_url`.
    pub fn anthropic_base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests received so far (the newest `requests_kept_max`), in arrival order:
    /// what the record file holds.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state.recorder.requests()
    }

    /// Stops accepting connections and waits (up to 5 s) for in-flight responses.
    pub async fn shutdown(self) {
        let _ = self.shutdown_tx.send(());
        let mut task = self.task;
        let wait = Duration::from_millis(SHUTDOWN_WAIT_MS_MAX);
        if tokio::time::timeout(wait, &mut task).await.is_err() {
            task.abort();
        }
    }
}
