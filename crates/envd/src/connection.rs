//! The daemon's side of the WebSocket: dial the gateway (it works behind NAT;
//! the gateway never dials it), say `hello`, wait for `welcome`, then serve calls
//! until the connection ends; dial again with exponential backoff (0.5 s to 30 s,
//! jittered), and also when nothing was heard for 3× the gateway's ping interval.
//!
//! The token goes in the upgrade's `Authorization` header and nowhere else: not
//! in the URL, not in an [`Event`] or a log line.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use env_protocol::{CONNECT_PATH, DaemonMessage, FRAME_BYTES_MAX, FailureCode, GatewayMessage};
use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, header};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{Connector, MaybeTlsStream, WebSocketStream};

use crate::daemon::Daemon;
use crate::error::ServeError;

const BACKOFF_INITIAL: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

/// TCP, TLS and the upgrade together.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// From `hello` to `welcome`.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(15);

/// Bounds on the gateway's ping interval, so a silly value neither spins nor
/// hides a dead connection for hours.
const PING_INTERVAL_MIN: Duration = Duration::from_millis(100);
const PING_INTERVAL_MAX: Duration = Duration::from_secs(600);

/// Frames queued for a connection's writer (output, results): a slow gateway
/// slows the senders, whose output waits in its bounded buffers.
const DATA_FRAMES_MAX: usize = 64;

/// Pongs queued; more pings than this unanswered and some are dropped.
const CONTROL_FRAMES_MAX: usize = 16;

/// What the daemon tells its operator about the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `welcome` received.
    Connected { url: String, environment_id: String },
    /// A connection that was up ended; dialling again after `retry_in`.
    Disconnected { reason: String, retry_in: Duration },
    /// Dialling failed; trying again after `retry_in`.
    ConnectFailed { reason: String, retry_in: Duration },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Connected {
                url,
                environment_id,
            } => write!(f, "connected to {url} (environment {environment_id})"),
            Event::Disconnected { reason, retry_in } => write!(
                f,
                "disconnected: {reason}; reconnecting in {:.1} s",
                retry_in.as_secs_f64()
            ),
            Event::ConnectFailed { reason, retry_in } => write!(
                f,
                "connecting failed: {reason}; retrying in {:.1} s",
                retry_in.as_secs_f64()
            ),
        }
    }
}

/// How to reach the gateway.
pub(crate) struct Dialer {
    url: String,
    authorization: HeaderValue,
    tls: Arc<rustls::ClientConfig>,
}

impl fmt::Debug for Dialer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Dialer {
    pub(crate) fn new(base_url: &str, token: &SecretString) -> Result<Self, ServeError> {
        let url = connect_url(base_url)?;
        let token = token.expose_secret();
        if token.is_empty() || !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(ServeError::Gateway(
                "the environment token is empty or not printable ASCII".into(),
            ));
        }
        let mut authorization =
            HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                ServeError::Gateway("the environment token is not a valid header".into())
            })?;
        authorization.set_sensitive(true);
        // An explicit provider: the graph has both ring and aws-lc-rs, and rustls
        // panics when asked to choose its default between two.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|err| ServeError::Gateway(format!("TLS: {err}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            url,
            authorization,
            tls: Arc::new(tls),
        })
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    async fn dial(&self) -> Result<WebSocketStream<MaybeTlsStream<TcpStream>>, String> {
        let mut request = self
            .url
            .as_str()
            .into_client_request()
            .map_err(|err| err.to_string())?;
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, self.authorization.clone());
        let config = WebSocketConfig::default()
            .max_message_size(Some(2 * FRAME_BYTES_MAX))
            .max_frame_size(Some(2 * FRAME_BYTES_MAX));
        let connect = tokio_tungstenite::connect_async_tls_with_config(
            request,
            Some(config),
            true,
            Some(Connector::Rustls(Arc::clone(&self.tls))),
        );
        match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
            Ok(Ok((socket, _response))) => Ok(socket),
            Ok(Err(tungstenite::Error::Http(response))) => {
                Err(format!("the gateway answered {}", response.status()))
            }
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!(
                "no connection within {} s",
                CONNECT_TIMEOUT.as_secs()
            )),
        }
    }
}

/// `base` with `ws`/`wss` for `http`/`https`, and the connect path.
fn connect_url(base: &str) -> Result<String, ServeError> {
    let base = base.trim().trim_end_matches('/');
    let (scheme, rest) = base
        .split_once("://")
        .ok_or_else(|| ServeError::Gateway(format!("gateway URL {base}: no scheme")))?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => "ws",
        "https" | "wss" => "wss",
        other => {
            return Err(ServeError::Gateway(format!(
                "gateway URL {base}: scheme {other} is not http, https, ws or wss"
            )));
        }
    };
    if rest.is_empty()
        || rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
    {
        return Err(ServeError::Gateway(format!(
            "gateway URL {scheme}://...: needs a host and no user info"
        )));
    }
    // The RPC URL (`.../rpc`) is accepted as the base too.
    let rest = rest.strip_suffix("/rpc").unwrap_or(rest);
    Ok(format!("{scheme}://{rest}{CONNECT_PATH}"))
}

/// Exponential backoff with jitter: each wait is between half and all of the
/// current step.
#[derive(Debug)]
struct Backoff {
    step: Duration,
}

impl Backoff {
    fn new() -> Self {
        Self {
            step: BACKOFF_INITIAL,
        }
    }

    fn reset(&mut self) {
        self.step = BACKOFF_INITIAL;
    }

    fn next_wait(&mut self) -> Duration {
        let step = self.step;
        self.step = (step * 2).min(BACKOFF_MAX);
        let half = step / 2;
        let jitter_ms = fastrand::u64(0..=u64::try_from(half.as_millis()).unwrap_or(0));
        half + Duration::from_millis(jitter_ms)
    }
}

/// Serves forever: one connection after another.
pub(crate) async fn run(
    daemon: Arc<Daemon>,
    dialer: &Dialer,
    on_event: &(dyn Fn(Event) + Send + Sync),
) {
    let mut backoff = Backoff::new();
    loop {
        let end = session(&daemon, dialer, on_event, &mut backoff).await;
        let retry_in = backoff.next_wait();
        on_event(match end {
            SessionEnd::Failed(reason) => Event::ConnectFailed { reason, retry_in },
            SessionEnd::Lost(reason) => Event::Disconnected { reason, retry_in },
        });
        tokio::time::sleep(retry_in).await;
    }
}

enum SessionEnd {
    /// No `welcome`.
    Failed(String),
    /// Served, then lost.
    Lost(String),
}

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Aborts the writer task when the session ends, which closes the sinks the
/// session's attachments hold, so they stop.
struct AbortOnDrop(tokio::task::JoinHandle<String>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn session(
    daemon: &Arc<Daemon>,
    dialer: &Dialer,
    on_event: &(dyn Fn(Event) + Send + Sync),
    backoff: &mut Backoff,
) -> SessionEnd {
    let socket = match dialer.dial().await {
        Ok(socket) => socket,
        Err(reason) => return SessionEnd::Failed(reason),
    };
    let (mut write, mut read) = socket.split();
    let hello = match serde_json::to_string(&daemon.hello()) {
        Ok(hello) => hello,
        Err(err) => return SessionEnd::Failed(format!("encoding hello: {err}")),
    };
    if let Err(err) = write.send(Message::text(hello)).await {
        return SessionEnd::Failed(format!("sending hello: {err}"));
    }
    let welcome = match tokio::time::timeout(WELCOME_TIMEOUT, read_welcome(&mut read)).await {
        Ok(Ok(welcome)) => welcome,
        Ok(Err(reason)) => return SessionEnd::Failed(reason),
        Err(_) => {
            return SessionEnd::Failed(format!(
                "no welcome within {} s",
                WELCOME_TIMEOUT.as_secs()
            ));
        }
    };
    let (environment_id, ping_interval) = welcome;
    on_event(Event::Connected {
        url: dialer.url().to_owned(),
        environment_id,
    });
    backoff.reset();
    // 0 is no interval at all: fall back to the longest rather than spin.
    let ping_interval = if ping_interval.is_zero() {
        PING_INTERVAL_MAX
    } else {
        ping_interval.clamp(PING_INTERVAL_MIN, PING_INTERVAL_MAX)
    };
    let silence_max = ping_interval * 3;
    let (data, data_rx) = mpsc::channel(DATA_FRAMES_MAX);
    let (control, control_rx) = mpsc::channel(CONTROL_FRAMES_MAX);
    let mut writer = AbortOnDrop(tokio::spawn(write_frames(write, data_rx, control_rx)));
    let mut heard = Instant::now();
    loop {
        tokio::select! {
            frame = read.next() => {
                heard = Instant::now();
                match frame {
                    Some(Ok(Message::Text(text))) => {
                        handle_frame(daemon, text.as_str(), &data, &control);
                    }
                    Some(Ok(Message::Close(frame))) => {
                        return SessionEnd::Lost(closed_reason(frame.as_ref()));
                    }
                    // Pings are answered by tungstenite; binary frames are not ours.
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return SessionEnd::Lost(err.to_string()),
                    None => return SessionEnd::Lost("the gateway closed the connection".into()),
                }
            }
            () = tokio::time::sleep_until((heard + silence_max).into()) => {
                return SessionEnd::Lost(format!(
                    "nothing heard for {:.1} s",
                    silence_max.as_secs_f64()
                ));
            }
            reason = &mut writer.0 => {
                return SessionEnd::Lost(reason.unwrap_or_else(|err| err.to_string()));
            }
        }
    }
}

/// Reads until `welcome`: `(environment id, ping interval)`.
async fn read_welcome(
    read: &mut futures::stream::SplitStream<Socket>,
) -> Result<(String, Duration), String> {
    loop {
        match read.next().await {
            Some(Ok(Message::Text(text))) => {
                return match serde_json::from_str::<GatewayMessage>(text.as_str()) {
                    Ok(GatewayMessage::Welcome {
                        environment_id,
                        ping_interval_ms,
                    }) => Ok((environment_id, Duration::from_millis(ping_interval_ms))),
                    Ok(_) => Err("the gateway spoke before its welcome".into()),
                    Err(err) => Err(format!("unreadable welcome: {err}")),
                };
            }
            Some(Ok(Message::Close(frame))) => return Err(closed_reason(frame.as_ref())),
            Some(Ok(_)) => {}
            Some(Err(err)) => return Err(err.to_string()),
            None => return Err("the gateway closed the connection".into()),
        }
    }
}

fn closed_reason(frame: Option<&tungstenite::protocol::CloseFrame>) -> String {
    match frame {
        Some(frame) if !frame.reason.is_empty() => {
            format!("the gateway closed the connection: {}", frame.reason)
        }
        _ => "the gateway closed the connection".into(),
    }
}

fn handle_frame(
    daemon: &Arc<Daemon>,
    text: &str,
    data: &mpsc::Sender<DaemonMessage>,
    control: &mpsc::Sender<DaemonMessage>,
) {
    match serde_json::from_str::<GatewayMessage>(text) {
        Ok(GatewayMessage::Call { call_id, op }) => daemon.handle_call(call_id, op, data.clone()),
        Ok(GatewayMessage::Ping { nonce }) => {
            // Full: the gateway sent many pings without reading; it will see
            // the connection's output instead.
            let _ = control.try_send(DaemonMessage::Pong { nonce });
        }
        Ok(GatewayMessage::Cancel { call_id }) => daemon.cancel(&call_id),
        Ok(GatewayMessage::Welcome { .. }) => {}
        Err(err) => {
            // A call the daemon cannot read is still answered, if its id is.
            let call_id = serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|value| value.get("callId")?.as_str().map(str::to_owned));
            match call_id {
                Some(call_id) => {
                    let result = DaemonMessage::Result {
                        call_id,
                        result: env_protocol::CallResult::Failed {
                            code: FailureCode::InvalidArguments,
                            message: format!("unreadable call: {err}"),
                        },
                    };
                    let data = data.clone();
                    tokio::spawn(async move {
                        let _ = data.send(result).await;
                    });
                }
                None => tracing::debug!("ignoring an unreadable frame: {err}"),
            }
        }
    }
}

/// Sends queued frames, pongs first; returns why it stopped.
async fn write_frames(
    mut write: SplitSink<Socket, Message>,
    mut data: mpsc::Receiver<DaemonMessage>,
    mut control: mpsc::Receiver<DaemonMessage>,
) -> String {
    loop {
        let frame = tokio::select! {
            biased;
            Some(frame) = control.recv() => frame,
            Some(frame) = data.recv() => frame,
            else => return "the connection was closed".into(),
        };
        let text = match serde_json::to_string(&frame) {
            Ok(text) => text,
            Err(err) => {
                tracing::warn!("encoding a frame failed: {err}");
                continue;
            }
        };
        if let Err(err) = write.send(Message::text(text)).await {
            return format!("sending failed: {err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_urls_become_connect_urls() -> Result<(), ServeError> {
        assert_eq!(
            connect_url("http://127.0.0.1:18080")?,
            "ws://127.0.0.1:18080/env/connect"
        );
        assert_eq!(
            connect_url("https://gw.example.com/")?,
            "wss://gw.example.com/env/connect"
        );
        assert_eq!(
            connect_url("https://gw.example.com/rpc")?,
            "wss://gw.example.com/env/connect"
        );
        assert_eq!(connect_url("wss://h/base")?, "wss://h/base/env/connect");
        assert!(connect_url("ftp://h").is_err());
        assert!(connect_url("https://user:pw@h").is_err());
        assert!(connect_url("h:80").is_err());
        Ok(())
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter_and_resets() {
        let mut backoff = Backoff::new();
        let mut step = BACKOFF_INITIAL;
        for _ in 0..10 {
            let wait = backoff.next_wait();
            assert!(
                wait >= step / 2 && wait <= step,
                "{wait:?} for step {step:?}"
            );
            step = (step * 2).min(BACKOFF_MAX);
        }
        assert_eq!(backoff.step, BACKOFF_MAX);
        backoff.reset();
        assert!(backoff.next_wait() <= BACKOFF_INITIAL);
    }

    #[test]
    fn the_token_is_in_no_rendering() -> Result<(), ServeError> {
        let dialer = Dialer::new("http://h", &SecretString::from("sekrit-token-123"))?;
        assert!(!format!("{dialer:?}").contains("sekrit"));
        assert!(!format!("{:?}", dialer.authorization).contains("sekrit"));
        Ok(())
    }
}
