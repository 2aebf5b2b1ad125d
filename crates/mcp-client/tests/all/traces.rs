//! Trace context on MCP calls (docs/operating/traces.md): with traces on, a
//! `tools/call` runs under a client span of its own, named in the request's
//! `_meta.traceparent` (SEP-414) and, over Streamable HTTP, in its `traceparent`
//! header. A recording proxy in front of server-everything sees both.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use futures::StreamExt as _;
use opentelemetry::trace::TraceContextExt as _;
use telemetry::traces::{FutureExt as _, Kind, TraceExport};

use crate::support::{echo, everything_bin, http, http_everything, options, pool};

/// What the proxy saw of one `tools/call` POST: its header and its `_meta`.
#[derive(Debug, Clone)]
struct SeenCall {
    header: Option<String>,
    meta: Option<String>,
}

/// Forwards every request to `upstream` as it is, streaming the answer back, and
/// records the trace context of each `tools/call`.
async fn recording_proxy(upstream: String) -> (String, Arc<Mutex<Vec<SeenCall>>>) {
    let seen: Arc<Mutex<Vec<SeenCall>>> = Arc::default();
    let record = Arc::clone(&seen);
    let client = reqwest::Client::new();
    let handler = move |request: Request| {
        let client = client.clone();
        let upstream = upstream.clone();
        let record = Arc::clone(&record);
        async move {
            let (parts, body) = request.into_parts();
            let body = axum::body::to_bytes(body, 1 << 20).await.unwrap();
            if let Ok(message) = serde_json::from_slice::<serde_json::Value>(&body)
                && message["method"] == "tools/call"
            {
                record.lock().unwrap().push(SeenCall {
                    header: parts
                        .headers
                        .get("traceparent")
                        .map(|value| value.to_str().unwrap().to_owned()),
                    meta: message["params"]["_meta"]["traceparent"]
                        .as_str()
                        .map(str::to_owned),
                });
            }
            let mut forward = client.request(parts.method, &upstream).body(body);
            for (name, value) in &parts.headers {
                if name != "host" && name != "content-length" {
                    forward = forward.header(name, value);
                }
            }
            let answer = forward.send().await.unwrap();
            let mut response = Response::builder().status(answer.status());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            let stream = answer
                .bytes_stream()
                .map(|chunk| chunk.map_err(std::io::Error::other));
            response
                .body(Body::from_stream(stream))
                .unwrap_or_else(|_| {
                    Response::builder()
                        .status(StatusCode::BAD_GATEWAY)
                        .body(Body::empty())
                        .unwrap()
                })
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route("/mcp", axum::routing::any(handler));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://127.0.0.1:{port}/mcp"), seen)
}

#[tokio::test]
async fn a_tool_call_names_its_span_in_meta_and_header() {
    let Some(bin) = everything_bin() else { return };
    let server = http_everything(&bin).await;
    let (url, seen) = recording_proxy(server.url.clone()).await;
    // Traces on for this process: exported nowhere that answers (export failures
    // are the exporter's to log; nothing here waits on them).
    let export = TraceExport {
        protocol: telemetry::traces::Protocol::HttpProtobuf,
        service_name: "mcp-client-test".into(),
    };
    let _guard = telemetry::traces::install(
        &export,
        opentelemetry_sdk::trace::RandomIdGenerator::default(),
        |processor| processor,
    )
    .unwrap();
    let parent = telemetry::traces::child("test", Kind::Internal, Vec::new());
    let parent_ids = parent.span().span_context().clone();
    let pool = pool();
    let output = pool
        .call_tool(
            "k",
            &http(&url),
            None,
            "echo",
            echo("traced"),
            options(10_000),
        )
        .with_context(parent.clone())
        .await
        .unwrap();
    assert!(!output.is_error);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "{seen:?}");
    let header = seen[0].header.clone().expect("a traceparent header");
    assert_eq!(seen[0].meta.as_deref(), Some(header.as_str()), "{seen:?}");
    let parts: Vec<&str> = header.split('-').collect();
    assert_eq!(
        parts[1],
        parent_ids.trace_id().to_string(),
        "the caller's trace"
    );
    assert_ne!(
        parts[2],
        parent_ids.span_id().to_string(),
        "the call's own span, not the caller's"
    );
}
