//! The HTTP side: one fallback handler that records the request, then serves a replay
//! entry or routes it to an API renderer, and sends the rendered answer (with the turn's
//! delay, spread across SSE frames).

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};

use super::record::{RecordedRequest, Recorder};
use super::replay::ReplayQueue;
use super::reply::{Rendered, RenderedBody, Reply, request_id};
use super::request::{Api, RequestInfo, input_tokens_estimate};
use super::script::{ScriptTurn, TurnQueue};
use super::{anthropic, chat, errors, responses};

/// Largest request body accepted, in bytes (agent contexts can be large).
const REQUEST_BODY_BYTES_MAX: usize = 64 * 1024 * 1024;

#[derive(Debug)]
pub(crate) struct ServerState {
    /// Requests received so far; the current request's number is the new value.
    pub(crate) requests_count: AtomicU64,
    pub(crate) turns: Mutex<TurnQueue>,
    pub(crate) replay: Option<Mutex<ReplayQueue>>,
    pub(crate) recorder: Recorder,
}

pub(crate) fn router(state: Arc<ServerState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Route {
    Generate(Api),
    CountTokens,
    /// OpenAI's standalone compaction.
    Compact,
    /// OpenAI's `audio/transcriptions` (multipart, not JSON).
    Transcribe,
}

impl Route {
    fn of(method: &Method, path: &str) -> Option<Self> {
        if method != Method::POST {
            return None;
        }
        match path {
            "/v1/responses" => Some(Route::Generate(Api::Responses)),
            "/v1/chat/completions" => Some(Route::Generate(Api::Chat)),
            "/v1/messages" => Some(Route::Generate(Api::Anthropic)),
            "/v1/messages/count_tokens" => Some(Route::CountTokens),
            "/v1/responses/compact" => Some(Route::Compact),
            "/v1/audio/transcriptions" => Some(Route::Transcribe),
            _ => None,
        }
    }

    fn api(self) -> Api {
        match self {
            Route::Generate(api) => api,
            Route::CountTokens => Api::Anthropic,
            Route::Compact | Route::Transcribe => Api::Responses,
        }
    }
}

async fn handle(State(state): State<Arc<ServerState>>, request: Request) -> Response {
    let number = state.requests_count.fetch_add(1, Ordering::SeqCst) + 1;
    let (parts, body) = request.into_parts();
    let route = Route::of(&parts.method, parts.uri.path());
    let api = route.map(Route::api);
    let own_error = |status, kind, message: &str| {
        send_now(errors::render_own(
            api,
            status,
            kind,
            None,
            message,
            request_id(number),
        ))
    };
    let bytes = match axum::body::to_bytes(body, REQUEST_BODY_BYTES_MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            let message = format!("fake-provider: cannot read the request body: {error}");
            return own_error(413, "invalid_request_error", &message);
        }
    };
    let recorded = RecordedRequest::new(&parts, &bytes);
    if let Err(error) = state.recorder.record(recorded).await {
        return own_error(500, "server_error", &format!("fake-provider: {error}"));
    }
    if let Some(replay) = &state.replay {
        return serve_replay(replay, number);
    }
    let Some(route) = route else {
        let message = format!(
            "Unknown request URL: {} {}. (fake-provider serves POST /v1/responses, \
             /v1/responses/compact, /v1/chat/completions, /v1/messages, \
             /v1/messages/count_tokens and /v1/audio/transcriptions.)",
            parts.method,
            parts.uri.path()
        );
        return send_now(errors::render_own(
            None,
            404,
            "invalid_request_error",
            Some("unknown_url"),
            &message,
            request_id(number),
        ));
    };
    if route == Route::Transcribe {
        // Takes no scripted turn: a transcription is not a generation.
        let request = Request::from_parts(parts, Body::from(bytes));
        return send_now(super::transcription::render(number, request).await);
    }
    let body: Value = match serde_json::from_slice(&bytes) {
        Ok(body) => body,
        Err(error) => {
            let message = format!("We could not parse the JSON body of your request: {error}");
            return own_error(400, "invalid_request_error", &message);
        }
    };
    match route {
        Route::CountTokens => {
            let tokens = input_tokens_estimate(Api::Anthropic, &body);
            let rendered = Rendered::json(200, json!({ "input_tokens": tokens }))
                .with_header("request-id", request_id(number));
            send_now(rendered)
        }
        Route::Generate(api) => generate(&state, number, RequestInfo::new(api, body)).await,
        // Compaction takes no scripted turn: it is not a generation.
        Route::Compact => send_now(super::compaction::render_compact(
            number,
            &RequestInfo::new(Api::Responses, body),
        )),
        Route::Transcribe => unreachable!("answered before the body is read as JSON"),
    }
}

/// Takes the request's turn (or echoes) and renders it in the request's API.
async fn generate(state: &ServerState, number: u64, info: RequestInfo) -> Response {
    let turn = state
        .turns
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take(&info.last_user_text)
        .unwrap_or_else(|| ScriptTurn::text(format!("echo: {}", info.last_user_text)));
    let reply = Reply::new(number, &turn, &info);
    let rendered = match info.api {
        Api::Responses => responses::render(&reply, &info),
        Api::Chat => chat::render(&reply, &info),
        Api::Anthropic => anthropic::render(&reply, &info),
    };
    send(rendered, Duration::from_millis(turn.delay_ms.unwrap_or(0))).await
}

fn serve_replay(replay: &Mutex<ReplayQueue>, number: u64) -> Response {
    let mut queue = replay.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(entry) = queue.take() else {
        let message = format!(
            "fake-provider: replay exhausted: all {} recorded responses in {} were served",
            queue.len(),
            queue.dir.display()
        );
        return send_now(errors::render_own(
            None,
            500,
            "server_error",
            Some("replay_exhausted"),
            &message,
            request_id(number),
        ));
    };
    let mut response = Response::new(Body::from(entry.body.clone()));
    *response.status_mut() = StatusCode::from_u16(entry.status).unwrap_or(StatusCode::OK);
    for (name, value) in entry.served_headers() {
        append_header(response.headers_mut(), name, value);
    }
    response
}

/// Sends without any delay.
fn send_now(rendered: Rendered) -> Response {
    build(rendered, Duration::ZERO)
}

/// JSON: waits `delay`, then answers. SSE: answers at once and spreads `delay` evenly
/// before each frame, so a client sees the stream in progress.
async fn send(rendered: Rendered, delay: Duration) -> Response {
    if matches!(rendered.body, RenderedBody::Json(_)) && !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    build(rendered, delay)
}

fn build(rendered: Rendered, delay: Duration) -> Response {
    let (content_type, body) = match rendered.body {
        RenderedBody::Json(value) => ("application/json", Body::from(value.to_string())),
        RenderedBody::Sse(frames) => {
            let frames_count = u32::try_from(frames.len().max(1)).unwrap_or(u32::MAX);
            let frame_delay = delay / frames_count;
            let stream = futures::stream::iter(frames).then(move |frame| async move {
                if !frame_delay.is_zero() {
                    tokio::time::sleep(frame_delay).await;
                }
                Ok::<Bytes, Infallible>(Bytes::from(frame))
            });
            ("text/event-stream", Body::from_stream(stream))
        }
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if content_type == "text/event-stream" {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    for (name, value) in &rendered.headers {
        append_header(headers, name, value);
    }
    response
}

/// Appends a header; names and values here are ours or were validated when loaded.
fn append_header(headers: &mut HeaderMap, name: &str, value: &str) {
    let parsed = (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    );
    debug_assert!(
        parsed.0.is_ok() && parsed.1.is_ok(),
        "bad header {name}: {value}"
    );
    if let (Ok(name), Ok(value)) = parsed {
        headers.append(name, value);
    }
}
