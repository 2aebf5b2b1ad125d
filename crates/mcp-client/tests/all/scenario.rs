//! The same checks over either transport of server-everything.

use std::time::Duration;

use mcp_client::{CallOptions, Content, ErrorKind, ListLimits, McpPool, Transport};
use serde_json::json;
use tokio::sync::mpsc;

use crate::support::{args, echo, options, text};

pub(crate) async fn everything(pool: &McpPool, key: &str, transport: &Transport) {
    // Listing: echo is there with its schema and annotations.
    let tools = pool
        .list_tools(key, transport, None, &ListLimits::default())
        .await
        .unwrap();
    let echo_tool = tools
        .iter()
        .find(|tool| tool.name == "echo")
        .expect("echo is listed");
    assert_eq!(echo_tool.input_schema["type"], "object");
    assert!(echo_tool.input_schema["properties"]["message"].is_object());
    assert_eq!(echo_tool.title.as_deref(), Some("Echo Tool"));
    assert_eq!(
        echo_tool.annotations.as_ref().unwrap()["readOnlyHint"],
        json!(true)
    );
    assert!(
        tools
            .iter()
            .any(|tool| tool.name == "trigger-long-running-operation")
    );

    // Echo round trip.
    let output = pool
        .call_tool(
            key,
            transport,
            None,
            "echo",
            echo("hello mcp"),
            options(20_000),
        )
        .await
        .unwrap();
    assert!(!output.is_error);
    assert!(!output.truncated);
    assert_eq!(text(&output), "Echo: hello mcp");

    // An image arrives decoded: PNG magic bytes.
    let output = pool
        .call_tool(
            key,
            transport,
            None,
            "get-tiny-image",
            args(json!({})),
            options(20_000),
        )
        .await
        .unwrap();
    let image = output
        .content
        .iter()
        .find_map(|content| match content {
            Content::Image { mime_type, data } => Some((mime_type.clone(), data.clone())),
            _ => None,
        })
        .expect("an image block");
    assert_eq!(image.0, "image/png");
    assert_eq!(&image.1[..8], b"\x89PNG\r\n\x1a\n");

    // The output bound cuts the same answer and says so.
    let output = pool
        .call_tool(
            key,
            transport,
            None,
            "get-tiny-image",
            args(json!({})),
            CallOptions {
                output_bytes_max: 10,
                ..options(20_000)
            },
        )
        .await
        .unwrap();
    assert!(output.truncated);
    assert!(
        !output
            .content
            .iter()
            .any(|content| matches!(content, Content::Image { .. }))
    );

    // Bad arguments: the TypeScript SDK answers with a tool error (isError: true,
    // "Input validation error: ..."), not a JSON-RPC error.
    let output = pool
        .call_tool(
            key,
            transport,
            None,
            "get-sum",
            args(json!({"a": "x"})),
            options(20_000),
        )
        .await
        .unwrap();
    assert!(output.is_error);
    assert!(
        text(&output).contains("Input validation error"),
        "{}",
        text(&output)
    );

    // Progress: a 1.2 s operation in 3 steps reports every step.
    let (sink, mut reports) = mpsc::channel(16);
    let output = pool
        .call_tool(
            key,
            transport,
            None,
            "trigger-long-running-operation",
            args(json!({"duration": 1.2, "steps": 3})),
            CallOptions {
                progress: Some(sink),
                ..options(20_000)
            },
        )
        .await
        .unwrap();
    assert!(!output.is_error, "{}", text(&output));
    let mut seen = Vec::new();
    while let Ok(report) = reports.try_recv() {
        seen.push(report);
    }
    assert!(seen.len() >= 2, "progress reports: {seen:?}");
    assert_eq!(seen.last().unwrap().total, Some(3.0));

    // A timeout shorter than the operation fails with Timeout...
    let started = std::time::Instant::now();
    let error = pool
        .call_tool(
            key,
            transport,
            None,
            "trigger-long-running-operation",
            args(json!({"duration": 10, "steps": 2})),
            options(400),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Timeout, "{error}");
    assert_eq!(error.code(), "mcp_timeout");
    assert!(!error.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));

    // ...and the connection stays usable.
    let output = pool
        .call_tool(key, transport, None, "echo", echo("after"), options(20_000))
        .await
        .unwrap();
    assert_eq!(text(&output), "Echo: after");
}
