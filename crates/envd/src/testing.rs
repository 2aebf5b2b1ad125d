//! A stand-in gateway for tests (feature `testing`): a WebSocket server on
//! 127.0.0.1 that checks the bearer token, reads `hello`, sends `welcome`, then
//! sends calls and collects their output and results. It checks what every
//! daemon must do: output offsets contiguous from 0, no chunk over
//! [`OUTPUT_CHUNK_BYTES_MAX`], `outputEnd` equal to the bytes sent.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use env_protocol::{
    CallResult, DaemonMessage, GatewayMessage, HostInfo, OUTPUT_CHUNK_BYTES_MAX, Op,
};
use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

/// A test failure, as text.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TestError(pub String);

impl TestError {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

pub type TestResult<T> = Result<T, TestError>;

/// The listening stand-in.
#[derive(Debug)]
pub struct TestGateway {
    listener: TcpListener,
    token: String,
    ping_interval_ms: u64,
    refused: Arc<AtomicUsize>,
}

/// What the daemon said in its `hello`.
#[derive(Debug, Clone)]
pub struct Hello {
    pub protocol: u32,
    pub name: String,
    pub host: HostInfo,
    pub known_calls: Vec<String>,
}

/// Output chunks of a call: `(offset, data)` in arrival order.
type Chunks = Vec<(u64, String)>;

/// One accepted, welcomed connection.
#[derive(Debug)]
pub struct GatewayConnection {
    socket: WebSocketStream<TcpStream>,
    pub hello: Hello,
    /// Output chunks per call, in arrival order, until its result is taken.
    chunks: BTreeMap<String, Chunks>,
    results: BTreeMap<String, VecDeque<(Chunks, CallResult)>>,
    pongs: Vec<u64>,
}

/// One delivery of a call, answered.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The output, checked contiguous from offset 0.
    pub output: String,
    /// Chunk sizes in order.
    pub chunk_sizes: Vec<usize>,
    pub result: CallResult,
}

impl TestGateway {
    /// Listens on an ephemeral port of 127.0.0.1.
    pub async fn bind(token: &str) -> TestResult<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|err| TestError::new(format!("binding: {err}")))?;
        Ok(Self {
            listener,
            token: token.to_owned(),
            ping_interval_ms: 30_000,
            refused: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// The interval announced in `welcome`.
    pub fn with_ping_interval_ms(mut self, ping_interval_ms: u64) -> Self {
        self.ping_interval_ms = ping_interval_ms;
        self
    }

    /// The base URL to give the daemon (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> TestResult<String> {
        let addr = self
            .listener
            .local_addr()
            .map_err(|err| TestError::new(err.to_string()))?;
        Ok(format!("http://{addr}"))
    }

    /// Upgrades refused for a wrong or missing token so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }

    /// The next connection with the right token, welcomed (refused ones are
    /// answered 401 and counted).
    pub async fn accept(&self, within: Duration) -> TestResult<GatewayConnection> {
        tokio::time::timeout(within, self.accept_forever())
            .await
            .map_err(|_| TestError::new(format!("no daemon connected within {within:?}")))?
    }

    // The handshake callback's signature is tungstenite's.
    #[allow(clippy::result_large_err)]
    async fn accept_forever(&self) -> TestResult<GatewayConnection> {
        loop {
            let (stream, _) = self
                .listener
                .accept()
                .await
                .map_err(|err| TestError::new(format!("accepting: {err}")))?;
            let expected = format!("Bearer {}", self.token);
            let refused = Arc::clone(&self.refused);
            let check = move |request: &Request, response: Response| {
                let authorized = request.uri().path() == env_protocol::CONNECT_PATH
                    && request
                        .headers()
                        .get("authorization")
                        .is_some_and(|value| value.as_bytes() == expected.as_bytes());
                if authorized {
                    Ok(response)
                } else {
                    refused.fetch_add(1, Ordering::SeqCst);
                    let mut error = ErrorResponse::new(Some("unauthorized".into()));
                    *error.status_mut() = StatusCode::UNAUTHORIZED;
                    Err(error)
                }
            };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(stream, check).await else {
                continue;
            };
            let hello = read_hello(&mut socket).await?;
            let welcome = GatewayMessage::Welcome {
                environment_id: "env-test".into(),
                ping_interval_ms: self.ping_interval_ms,
            };
            send(&mut socket, &welcome).await?;
            return Ok(GatewayConnection {
                socket,
                hello,
                chunks: BTreeMap::new(),
                results: BTreeMap::new(),
                pongs: Vec::new(),
            });
        }
    }
}

async fn read_hello(socket: &mut WebSocketStream<TcpStream>) -> TestResult<Hello> {
    loop {
        let frame = socket
            .next()
            .await
            .ok_or_else(|| TestError::new("closed before hello"))?
            .map_err(|err| TestError::new(err.to_string()))?;
        let Message::Text(text) = frame else {
            continue;
        };
        return match serde_json::from_str::<DaemonMessage>(text.as_str()) {
            Ok(DaemonMessage::Hello {
                protocol,
                name,
                host,
                known_calls,
            }) => Ok(Hello {
                protocol,
                name,
                host,
                known_calls,
            }),
            other => Err(TestError::new(format!("expected hello, got {other:?}"))),
        };
    }
}

async fn send(socket: &mut WebSocketStream<TcpStream>, message: &GatewayMessage) -> TestResult<()> {
    let text = serde_json::to_string(message).map_err(|err| TestError::new(err.to_string()))?;
    socket
        .send(Message::text(text))
        .await
        .map_err(|err| TestError::new(format!("sending: {err}")))
}

impl GatewayConnection {
    /// Sends a call without waiting.
    pub async fn send_call(&mut self, call_id: &str, op: Op) -> TestResult<()> {
        let call = GatewayMessage::Call {
            call_id: call_id.to_owned(),
            op,
        };
        send(&mut self.socket, &call).await
    }

    /// Sends a ping; its pong is collected.
    pub async fn ping(&mut self, nonce: u64) -> TestResult<()> {
        send(&mut self.socket, &GatewayMessage::Ping { nonce }).await
    }

    /// Pongs received so far.
    pub fn pongs(&self) -> &[u64] {
        &self.pongs
    }

    /// Sends a call and waits for its answer.
    pub async fn call(&mut self, call_id: &str, op: Op, within: Duration) -> TestResult<Answer> {
        self.send_call(call_id, op).await?;
        self.answer(call_id, within).await
    }

    /// Waits for the next result of `call_id`, with the output sent before it.
    pub async fn answer(&mut self, call_id: &str, within: Duration) -> TestResult<Answer> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some((chunks, result)) =
                self.results.get_mut(call_id).and_then(VecDeque::pop_front)
            {
                return assemble(call_id, chunks, result);
            }
            let frame = tokio::time::timeout_at(deadline, self.socket.next())
                .await
                .map_err(|_| TestError::new(format!("no result for {call_id} within {within:?}")))?
                .ok_or_else(|| TestError::new("the daemon closed the connection"))?
                .map_err(|err| TestError::new(err.to_string()))?;
            let Message::Text(text) = frame else {
                continue;
            };
            let message: DaemonMessage = serde_json::from_str(text.as_str())
                .map_err(|err| TestError::new(format!("unreadable frame: {err}")))?;
            self.record(message)?;
        }
    }

    fn record(&mut self, message: DaemonMessage) -> TestResult<()> {
        match message {
            DaemonMessage::Output {
                call_id,
                offset,
                data,
            } => {
                if data.len() > OUTPUT_CHUNK_BYTES_MAX {
                    return Err(TestError::new(format!(
                        "a chunk of {} bytes for {call_id}",
                        data.len()
                    )));
                }
                self.chunks.entry(call_id).or_default().push((offset, data));
            }
            DaemonMessage::Result { call_id, result } => {
                let chunks = self.chunks.remove(&call_id).unwrap_or_default();
                self.results
                    .entry(call_id)
                    .or_default()
                    .push_back((chunks, result));
            }
            DaemonMessage::Pong { nonce } => self.pongs.push(nonce),
            DaemonMessage::Hello { .. } => {
                return Err(TestError::new("a second hello"));
            }
        }
        Ok(())
    }

    /// Drops the socket without a close frame (a lost connection).
    pub fn drop_socket(self) {
        drop(self.socket);
    }
}

/// Checks the chunks are contiguous from 0 and match the result's end. A chunk
/// below the end must repeat what is there (a re-delivered call attached on the
/// same connection sends its output again from 0).
fn assemble(call_id: &str, chunks: Chunks, result: CallResult) -> TestResult<Answer> {
    let mut output = String::new();
    let mut chunk_sizes = Vec::new();
    for (offset, data) in chunks {
        chunk_sizes.push(data.len());
        let end = output.len() as u64;
        if offset > end {
            return Err(TestError::new(format!(
                "{call_id}: a chunk at offset {offset}, past the end {end}"
            )));
        }
        let start = usize::try_from(offset).map_err(|err| TestError::new(err.to_string()))?;
        let overlap = (output.len() - start).min(data.len());
        if output.as_bytes()[start..start + overlap] != data.as_bytes()[..overlap] {
            return Err(TestError::new(format!(
                "{call_id}: a chunk at offset {offset} differs from what was sent before"
            )));
        }
        output.push_str(&data[overlap..]);
    }
    if let CallResult::Process(outcome) = &result
        && !output.is_empty()
        && outcome.output_end != output.len() as u64
    {
        return Err(TestError::new(format!(
            "{call_id}: outputEnd {} but {} bytes sent",
            outcome.output_end,
            output.len()
        )));
    }
    Ok(Answer {
        output,
        chunk_sizes,
        result,
    })
}
