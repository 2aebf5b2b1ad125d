//! SSE framing of a streaming response: bytes -> `eventsource-stream` -> [`SseEvent`]s.
//!
//! Three things beyond framing happen here, all of them about when the stream ends:
//! - an idle timer between *bytes* (keep-alive comments count as activity) ends the stream
//!   with a `Timeout` item;
//! - `data: [DONE]` (Chat Completions' terminator) ends the stream and is not yielded;
//! - an error event ends the stream with an `Err` item classified by [`classify_error`]:
//!   an event named `error` (Responses, Anthropic), or an unnamed event whose JSON has
//!   `"type":"error"` or a top-level `"error"` object (Chat Completions and compatible
//!   servers).
//!
//! Nothing else in an event is parsed; payloads are yielded verbatim.

use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::{Event, EventStreamError, Eventsource};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::classify::classify_error;
use crate::client::{EventStream, SseEvent};
use crate::error::{ErrorKind, LlmError};

/// Called on every error item before it is yielded (key cooldown, key scrubbing).
pub(crate) type ErrorHook = Box<dyn Fn(&mut LlmError) + Send + Sync>;

/// A failure of the byte source beneath the SSE parser.
#[derive(Debug)]
enum ByteError {
    Http(reqwest::Error),
    Idle(Duration),
}

impl std::fmt::Display for ByteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ByteError::Http(err) => write!(f, "{err}"),
            ByteError::Idle(idle) => write!(f, "no stream data for {idle:?}"),
        }
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, ByteError>> + Send>>;

/// Turns a 2xx streaming response into events. `request_id` is stamped on error items
/// that carry none of their own.
pub(crate) fn event_stream(
    response: reqwest::Response,
    idle_timeout: Duration,
    request_id: Option<String>,
    on_error: ErrorHook,
) -> EventStream {
    let events = with_idle_timeout(response, idle_timeout).eventsource();
    let state = Some((events, on_error, request_id));
    let stream = futures::stream::unfold(state, |state| async move {
        let (mut events, on_error, request_id) = state?;
        let mut error = match events.next().await? {
            Ok(event) if event.data.trim() == "[DONE]" => return None,
            Ok(event) => match stream_error(&event) {
                None => {
                    let event = SseEvent {
                        event: event.event,
                        data: event.data,
                    };
                    return Some((Ok(event), Some((events, on_error, request_id))));
                }
                Some(error) => error,
            },
            Err(err) => framing_error(err),
        };
        if error.request_id.is_none() {
            error.request_id = request_id;
        }
        on_error(&mut error);
        // `None` state: the stream ends after its error item.
        Some((Err(error), None))
    });
    Box::pin(stream)
}

/// The response body as bytes, ending with `ByteError::Idle` when nothing arrives for
/// `idle_timeout`.
fn with_idle_timeout(response: reqwest::Response, idle_timeout: Duration) -> ByteStream {
    let bytes = Box::pin(response.bytes_stream());
    let stream = futures::stream::unfold(Some(bytes), move |state| async move {
        let mut bytes = state?;
        match tokio::time::timeout(idle_timeout, bytes.next()).await {
            Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(bytes))),
            Ok(Some(Err(err))) => Some((Err(ByteError::Http(err)), None)),
            Ok(None) => None,
            Err(_elapsed) => Some((Err(ByteError::Idle(idle_timeout)), None)),
        }
    });
    Box::pin(stream)
}

fn framing_error(err: EventStreamError<ByteError>) -> LlmError {
    match err {
        EventStreamError::Transport(ByteError::Http(err)) => LlmError::from_reqwest(&err),
        EventStreamError::Transport(idle @ ByteError::Idle(_)) => {
            LlmError::new(ErrorKind::Timeout, idle.to_string())
        }
        EventStreamError::Utf8(err) => {
            LlmError::new(ErrorKind::Decode, format!("stream is not UTF-8: {err}"))
        }
        EventStreamError::Parser(err) => {
            LlmError::new(ErrorKind::Decode, format!("malformed SSE: {err}"))
        }
    }
}

/// The classified error if `event` is an error event, else `None`.
fn stream_error(event: &Event) -> Option<LlmError> {
    let is_error = match event.event.as_str() {
        "error" => true,
        // Unnamed events: parse only when the payload can be an error at all.
        "message" if event.data.contains("error") => is_error_payload(&event.data),
        _ => false,
    };
    is_error.then(|| classify_error(None, None, event.data.as_bytes()))
}

/// `{"type":"error",...}` or `{"error":{...},...}`; any other payload, JSON or not, is data.
pub(crate) fn is_error_payload(data: &str) -> bool {
    #[derive(Deserialize)]
    struct Probe<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<&'a RawValue>,
        #[serde(borrow)]
        error: Option<&'a RawValue>,
    }
    let Ok(probe) = serde_json::from_str::<Probe<'_>>(data) else {
        return false;
    };
    probe.kind.is_some_and(|kind| kind.get() == "\"error\"")
        || probe
            .error
            .is_some_and(|error| error.get().starts_with('{'))
}
