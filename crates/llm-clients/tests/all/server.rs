//! A tiny axum server on 127.0.0.1:0 that records every request and answers through a
//! per-test handler.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// The API key the request carried, for either auth scheme.
    pub(crate) fn key(&self) -> String {
        match (self.header("authorization"), self.header("x-api-key")) {
            (Some(bearer), _) => bearer.strip_prefix("Bearer ").unwrap().to_owned(),
            (None, Some(key)) => key.to_owned(),
            (None, None) => String::new(),
        }
    }
}

pub(crate) struct TestServer {
    /// `http://127.0.0.1:<port>`, no trailing slash.
    pub(crate) origin: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl TestServer {
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    pub(crate) fn keys_used(&self) -> Vec<String> {
        self.requests().iter().map(Recorded::key).collect()
    }
}

/// A handler that sets this response header (milliseconds) gets its response headers
/// delayed by the server; the header itself is removed.
const DELAY_HEADER: &str = "x-test-delay-ms";

/// `response`, but its headers only leave the server after `delay`.
pub(crate) fn delayed(delay: Duration, mut response: Response) -> Response {
    let ms = delay.as_millis().to_string();
    response
        .headers_mut()
        .insert(DELAY_HEADER, ms.parse().unwrap());
    response
}

type Handler = Arc<dyn Fn(&Recorded) -> Response + Send + Sync>;

pub(crate) async fn serve(
    handler: impl Fn(&Recorded) -> Response + Send + Sync + 'static,
) -> TestServer {
    let requests = Arc::new(Mutex::new(Vec::new()));
    let handler: Handler = Arc::new(handler);
    let recorded = Arc::clone(&requests);
    let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let handler = Arc::clone(&handler);
        let recorded = Arc::clone(&recorded);
        async move {
            let request = Recorded {
                path: uri.path().to_owned(),
                headers,
                body,
            };
            recorded.lock().unwrap().push(request.clone());
            let mut response = handler(&request);
            if let Some(delay) = response.headers_mut().remove(DELAY_HEADER) {
                let ms: u64 = delay.to_str().unwrap().parse().unwrap();
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            response
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    TestServer { origin, requests }
}

pub(crate) fn json(status: u16, body: &str) -> Response {
    json_with(status, &[], body)
}

pub(crate) fn json_with(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
    let mut response = (
        StatusCode::from_u16(status).unwrap(),
        [("content-type", "application/json")],
        body.to_owned(),
    )
        .into_response();
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes()).unwrap();
        response.headers_mut().insert(name, value.parse().unwrap());
    }
    response
}

/// A 200 SSE response sending `chunks` as separate body frames, then ending.
pub(crate) fn sse(chunks: &[&str]) -> Response {
    let chunks: Vec<Result<Bytes, Infallible>> = chunks
        .iter()
        .map(|chunk| Ok(Bytes::from(chunk.to_string())))
        .collect();
    sse_body(futures::stream::iter(chunks))
}

/// A 200 SSE response sending `chunks`, then keeping the connection open silently.
pub(crate) fn sse_then_hang(chunks: &[&str]) -> Response {
    let chunks: Vec<Result<Bytes, Infallible>> = chunks
        .iter()
        .map(|chunk| Ok(Bytes::from(chunk.to_string())))
        .collect();
    sse_body(futures::stream::iter(chunks).chain(futures::stream::pending()))
}

/// A 200 SSE response that sends a keep-alive comment every `every`, `count` times,
/// then `last`.
pub(crate) fn sse_slow_keepalive(every: Duration, count: usize, last: &'static str) -> Response {
    let ticks = futures::stream::unfold(0, move |n| async move {
        if n > count {
            return None;
        }
        tokio::time::sleep(every).await;
        let chunk = if n == count { last } else { ": keep-alive\n\n" };
        Some((
            Ok::<_, Infallible>(Bytes::from_static(chunk.as_bytes())),
            n + 1,
        ))
    });
    sse_body(ticks)
}

fn sse_body<S>(stream: S) -> Response
where
    S: Stream<Item = Result<Bytes, Infallible>> + Send + 'static,
{
    (
        StatusCode::OK,
        [("content-type", "text/event-stream")],
        Body::from_stream(stream),
    )
        .into_response()
}
