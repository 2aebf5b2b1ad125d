//! `GET /env/connect`: the WebSocket an environment daemon (`lightspeed env serve`)
//! dials. Its environment token is checked by the backend before the upgrade (401
//! without a valid one, before any frame); after it, frames are decoded and bounded
//! here and handed to the backend as typed channels, so the backend never sees
//! bytes. One text frame is one JSON message of `env_protocol`; anything else closes
//! the socket with a policy violation.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use api::LightspeedApi;
use api::env_protocol::{DaemonMessage, FRAME_BYTES_MAX, GatewayMessage};
use api::types::env::EnvSocket;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade, close_code};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::channel::mpsc;
use futures::{SinkExt, StreamExt};

/// Frames buffered each way between the socket and the backend.
const FRAMES_BUFFERED: usize = 64;

/// What the route shares: the backend and the count of daemon sockets.
pub(crate) struct EnvEndpoint<A> {
    pub(crate) api: Arc<A>,
    pub(crate) sockets: AtomicUsize,
    pub(crate) sockets_max: usize,
}

pub(crate) async fn connect<A: LightspeedApi>(
    State(endpoint): State<Arc<EnvEndpoint<A>>>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let Some(token) = token.filter(|token| !token.is_empty() && token.len() <= 512) else {
        return (
            StatusCode::UNAUTHORIZED,
            "an environment token is required\n",
        )
            .into_response();
    };
    let grant = match endpoint.api.environment_authorize(token.to_owned()).await {
        Ok(grant) => grant,
        Err(error) if error.kind() == api::ErrorKind::Internal => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response();
        }
        Err(_) => {
            return (StatusCode::UNAUTHORIZED, "invalid environment token\n").into_response();
        }
    };
    let place = SocketPlace::take(&endpoint);
    let Some(place) = place else {
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many environment sockets\n",
        )
            .into_response();
    };
    upgrade
        .max_message_size(FRAME_BYTES_MAX)
        .max_frame_size(FRAME_BYTES_MAX)
        .on_upgrade(move |socket| async move {
            let _place = place;
            bridge(endpoint.api.as_ref(), grant, socket).await;
        })
}

/// One of `sockets_max` places, given back when dropped.
struct SocketPlace<A> {
    endpoint: Arc<EnvEndpoint<A>>,
}

impl<A> SocketPlace<A> {
    fn take(endpoint: &Arc<EnvEndpoint<A>>) -> Option<Self> {
        let taken = endpoint
            .sockets
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |held| {
                (held < endpoint.sockets_max).then_some(held + 1)
            });
        taken.ok().map(|_| Self {
            endpoint: Arc::clone(endpoint),
        })
    }
}

impl<A> Drop for SocketPlace<A> {
    fn drop(&mut self) {
        self.endpoint.sockets.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Runs the backend over typed channels while two pumps move frames.
async fn bridge<A: LightspeedApi>(
    api: &A,
    grant: api::types::env::EnvironmentGrant,
    socket: WebSocket,
) {
    let (mut sink, mut stream) = socket.split();
    let (mut to_backend, incoming) = mpsc::channel::<DaemonMessage>(FRAMES_BUFFERED);
    let (outgoing, mut from_backend) = mpsc::channel::<GatewayMessage>(FRAMES_BUFFERED);
    let reader = async move {
        while let Some(frame) = stream.next().await {
            let message = match frame {
                Ok(Message::Text(text)) => match serde_json::from_str::<DaemonMessage>(&text) {
                    Ok(message) => message,
                    Err(_) => return Some("a frame is not an environment protocol message"),
                },
                Ok(Message::Binary(_)) => return Some("binary frames are not spoken"),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(Message::Ping(_) | Message::Pong(_)) => continue,
            };
            if to_backend.send(message).await.is_err() {
                return None;
            }
        }
        None
    };
    let writer = async move {
        while let Some(message) = from_backend.next().await {
            let Ok(text) = serde_json::to_string(&message) else {
                continue;
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                return sink;
            }
        }
        sink
    };
    let socket = EnvSocket { incoming, outgoing };
    let serve = api.environment_serve(grant, socket);
    // The backend ends the connection by returning (dropping its sender ends the
    // writer); a daemon that closes or breaks the protocol ends the reader, which
    // drops the backend's receiver and so ends the backend.
    let (violation, mut sink, ()) = futures::join!(reader, writer, serve);
    let frame = match violation {
        Some(reason) => CloseFrame {
            code: close_code::POLICY,
            reason: reason.into(),
        },
        None => CloseFrame {
            code: close_code::NORMAL,
            reason: "".into(),
        },
    };
    let _ = sink.send(Message::Close(Some(frame))).await;
}
