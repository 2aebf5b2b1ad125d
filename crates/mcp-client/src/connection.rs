//! One live MCP session: the rmcp service, the child behind a stdio session, and
//! what the pool needs to know about it (credential fingerprint, use, liveness).

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::model::{
    ClientCapabilities, ClientConfig, Implementation, ProgressNotificationParam, ProgressToken,
};
use rmcp::service::{NotificationContext, Peer, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::ChildStderr;
use tokio::sync::mpsc;

use crate::call::Progress;
use crate::error::{ErrorKind, McpError};
use crate::http::{CredentialedClient, FailureSlot};
use crate::transport::{Credential, Transport, validate_headers, validate_url};

/// Progress notifications that arrive before their call registered its sink (the
/// server can answer before `send_request` returns to the caller) wait here.
const EARLY_PROGRESS_MAX: usize = 32;

/// Stderr lines of a child that reach the log at debug level; the rest are counted.
const STDERR_LOGGED_LINES_MAX: u64 = 5;

/// Bytes of one stderr line that reach the log.
const STDERR_LINE_LOGGED_BYTES_MAX: usize = 200;

/// Bytes of one progress message kept.
const PROGRESS_MESSAGE_BYTES_MAX: usize = 1024;

/// Routes `notifications/progress` to the call that owns the token.
#[derive(Default)]
pub(crate) struct ProgressRouter {
    state: Mutex<RouterState>,
}

#[derive(Default)]
struct RouterState {
    sinks: HashMap<ProgressToken, mpsc::Sender<Progress>>,
    early: VecDeque<(ProgressToken, Progress)>,
}

impl ProgressRouter {
    fn lock(&self) -> std::sync::MutexGuard<'_, RouterState> {
        // Plain maps: a panic elsewhere cannot leave them half-updated in a way
        // that matters more than losing a progress report.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub(crate) fn register(&self, token: ProgressToken, sink: mpsc::Sender<Progress>) {
        let mut state = self.lock();
        let early = std::mem::take(&mut state.early);
        for (early_token, progress) in early {
            if early_token == token {
                // Progress is advisory: a full sink drops the report, never blocks.
                let _ = sink.try_send(progress);
            } else {
                state.early.push_back((early_token, progress));
            }
        }
        state.sinks.insert(token, sink);
    }

    pub(crate) fn unregister(&self, token: &ProgressToken) {
        let mut state = self.lock();
        state.sinks.remove(token);
        state.early.retain(|(early_token, _)| early_token != token);
    }

    fn deliver(&self, params: ProgressNotificationParam) {
        let mut message = params.message;
        if let Some(text) = message.as_mut() {
            truncate_on_char(text, PROGRESS_MESSAGE_BYTES_MAX);
        }
        let progress = Progress {
            progress: params.progress,
            total: params.total,
            message,
        };
        let mut state = self.lock();
        match state.sinks.get(&params.progress_token) {
            Some(sink) => {
                let _ = sink.try_send(progress);
            }
            None => {
                if state.early.len() == EARLY_PROGRESS_MAX {
                    state.early.pop_front();
                }
                state.early.push_back((params.progress_token, progress));
            }
        }
    }
}

/// The client side of the MCP session: advertises no capabilities (no sampling,
/// roots or elicitation) and forwards progress.
#[derive(Clone)]
pub(crate) struct Handler {
    progress: Arc<ProgressRouter>,
}

impl ClientHandler for Handler {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(
            ClientCapabilities::default(),
            Implementation::new("lightspeed-mcp-client", env!("CARGO_PKG_VERSION")),
        )
    }

    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.deliver(params);
    }
}

/// What a pool entry holds.
pub(crate) struct Connection {
    service: RunningService<RoleClient, Handler>,
    pub(crate) transport: Transport,
    pub(crate) fingerprint: Option<[u8; 32]>,
    pub(crate) pid: Option<u32>,
    pub(crate) progress: Arc<ProgressRouter>,
    pub(crate) http_failures: Option<Arc<FailureSlot>>,
    pub(crate) stderr_lines: Option<Arc<AtomicU64>>,
    pub(crate) created_at: Instant,
    last_used: Mutex<Instant>,
    in_flight: AtomicUsize,
    pub(crate) calls: AtomicU64,
}

impl Connection {
    pub(crate) fn peer(&self) -> &Peer<RoleClient> {
        self.service.peer()
    }

    /// False once the session ended: the child exited, the HTTP worker stopped.
    pub(crate) fn is_alive(&self) -> bool {
        !self.service.is_closed() && !self.service.peer().is_transport_closed()
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn idle_for(&self) -> Duration {
        let last_used = *self
            .last_used
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        last_used.elapsed()
    }

    /// Marks a call in flight until the guard drops; an entry with calls in flight
    /// is never idle.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.calls.fetch_add(1, Ordering::Relaxed);
        InFlight(Arc::clone(self))
    }

    /// The HTTP failure recorded since `since`, for classification.
    pub(crate) fn http_failure_since(&self, since: Instant) -> Option<crate::http::HttpFailure> {
        self.http_failures.as_ref()?.since(since)
    }
}

pub(crate) struct InFlight(Arc<Connection>);

impl Drop for InFlight {
    fn drop(&mut self) {
        *self
            .0
            .last_used
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Instant::now();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Settings a connection is made with (a slice of [`crate::PoolConfig`]).
pub(crate) struct ConnectSettings {
    pub(crate) connect_timeout: Duration,
    pub(crate) http: reqwest::Client,
}

/// Opens a session and completes `initialize` within the connect timeout.
pub(crate) async fn connect(
    transport: &Transport,
    credential: Option<&Credential>,
    settings: &ConnectSettings,
) -> Result<Connection, McpError> {
    transport.validate()?;
    let progress = Arc::new(ProgressRouter::default());
    let handler = Handler {
        progress: Arc::clone(&progress),
    };
    let started = Instant::now();
    let fingerprint = credential.map(Credential::fingerprint);
    let timed_out = || {
        McpError::new(
            ErrorKind::Timeout,
            format!(
                "the server did not complete initialisation within {} ms",
                settings.connect_timeout.as_millis()
            ),
        )
    };
    match transport {
        Transport::StreamableHttp { url, headers } => {
            validate_url(url)?;
            let custom_headers = validate_headers(headers)?.into_iter().collect();
            let credential_header = credential.map(Credential::header).transpose()?;
            let failures = Arc::new(FailureSlot::default());
            let client = CredentialedClient::new(
                settings.http.clone(),
                credential_header,
                Arc::clone(&failures),
            );
            let config = StreamableHttpClientTransportConfig::with_uri(url.as_str())
                .custom_headers(custom_headers);
            let rmcp_transport = StreamableHttpClientTransport::with_client(client, config);
            let service =
                tokio::time::timeout(settings.connect_timeout, handler.serve(rmcp_transport))
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(|error| {
                        McpError::from_initialize(error, failures.since(started), false)
                    })?;
            Ok(Connection::new(
                service,
                transport.clone(),
                fingerprint,
                None,
                progress,
                Some(failures),
                None,
            ))
        }
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
        } => {
            let (child, stderr) = spawn(command, args, env, cwd.as_deref())?;
            let pid = child.id();
            let stderr_lines = stderr.map(|stderr| drain_stderr(stderr, pid));
            // Dropping the transport on failure kills the child's process group.
            let service = tokio::time::timeout(settings.connect_timeout, handler.serve(child))
                .await
                .map_err(|_| timed_out())?
                .map_err(|error| McpError::from_initialize(error, None, true))?;
            Ok(Connection::new(
                service,
                transport.clone(),
                fingerprint,
                pid,
                progress,
                None,
                stderr_lines,
            ))
        }
    }
}

impl Connection {
    fn new(
        service: RunningService<RoleClient, Handler>,
        transport: Transport,
        fingerprint: Option<[u8; 32]>,
        pid: Option<u32>,
        progress: Arc<ProgressRouter>,
        http_failures: Option<Arc<FailureSlot>>,
        stderr_lines: Option<Arc<AtomicU64>>,
    ) -> Self {
        let now = Instant::now();
        Self {
            service,
            transport,
            fingerprint,
            pid,
            progress,
            http_failures,
            stderr_lines,
            created_at: now,
            last_used: Mutex::new(now),
            in_flight: AtomicUsize::new(0),
            calls: AtomicU64::new(0),
        }
    }
}

/// Starts the child as the leader of its own process group, so everything it
/// starts dies with it, with kill-on-drop as the backstop if no runtime is left to
/// run rmcp's asynchronous group kill.
fn spawn(
    command: &str,
    args: &[String],
    env: &std::collections::BTreeMap<String, String>,
    cwd: Option<&std::path::Path>,
) -> Result<(TokioChildProcess, Option<ChildStderr>), McpError> {
    let mut wrapped = CommandWrap::with_new(command, |cmd| {
        cmd.args(args).envs(env);
        if let Some(cwd) = cwd {
            cmd.current_dir(cwd);
        }
    });
    wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
    TokioChildProcess::builder(wrapped)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| {
            McpError::new(
                ErrorKind::Spawn,
                format!("starting {:?} failed: {}", short(command), error.kind()),
            )
        })
}

/// Reads the child's stderr to the end so a chatty server never blocks on a full
/// pipe; logs the first few lines (cut short) and counts the rest.
fn drain_stderr(stderr: ChildStderr, pid: Option<u32>) -> Arc<AtomicU64> {
    let lines = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&lines);
    tokio::spawn(async move {
        let mut reader = BufReader::new(stderr);
        let mut buffer = Vec::with_capacity(256);
        loop {
            buffer.clear();
            // `read_until` on a bounded reader: a line without newline is read in
            // chunks by `take`, so one endless line cannot grow the buffer forever.
            let mut limited = (&mut reader).take(64 * 1024);
            match limited.read_until(b'\n', &mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let seen = counter.fetch_add(1, Ordering::Relaxed);
                    if seen < STDERR_LOGGED_LINES_MAX {
                        let mut text = String::from_utf8_lossy(&buffer).trim_end().to_owned();
                        truncate_on_char(&mut text, STDERR_LINE_LOGGED_BYTES_MAX);
                        tracing::debug!(pid, line = %text, "mcp stdio server stderr");
                    }
                }
            }
        }
    });
    lines
}

fn short(text: &str) -> String {
    let mut text = text.to_owned();
    truncate_on_char(&mut text, 64);
    text
}

pub(crate) fn truncate_on_char(text: &mut String, bytes_max: usize) -> bool {
    if text.len() <= bytes_max {
        return false;
    }
    let mut end = bytes_max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    true
}
