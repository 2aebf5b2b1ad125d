//! stream against the in-test server: SSE framing, `[DONE]`, in-stream errors, idle
//! timeout, non-2xx at stream start.

use std::time::Duration;

use futures::StreamExt;
use llm_clients::{ApiKind, ErrorKind, ProviderClient, ProviderConfig};

use crate::http::{ANTHROPIC_KEY, OPENAI_KEY, client, collect, event, with_config};
use crate::server::{json, json_with, serve, sse, sse_slow_keepalive, sse_then_hang};

fn idle_client(kind: ApiKind, origin: &str, idle: Duration) -> ProviderClient {
    let mut config = ProviderConfig::new("test", kind);
    config.stream_idle_timeout = idle;
    with_config(config, origin.to_owned())
}

#[tokio::test]
async fn chat_stream_yields_events_until_done() {
    let server = serve(|_| {
        sse(&[
            ": keep-alive comment\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":\"He\"}}]}\n\n",
            // An event split across frames, with CRLF line endings.
            "data: {\"choices\":[{\"delta\":",
            "{\"content\":\"llo\"}}]}\r\n\r\n",
            "data: [DONE]\n\n",
            "data: {\"after\":\"done\"}\n\n",
        ])
    })
    .await;
    let client = client(ApiKind::OpenAiCompletions, server.origin.clone(), &[]);
    let events = collect(client.stream("{\"stream\":true}".into()).await.unwrap()).await;
    let events: Vec<_> = events.into_iter().map(Result::unwrap).collect();
    assert_eq!(
        events,
        [
            event("message", r#"{"choices":[{"delta":{"content":"He"}}]}"#),
            event("message", r#"{"choices":[{"delta":{"content":"llo"}}]}"#),
        ]
    );
    let [request] = server.requests().try_into().unwrap();
    assert_eq!(request.header("accept"), Some("text/event-stream"));
    assert_eq!(request.path, "/chat/completions");
}

#[tokio::test]
async fn responses_stream_error_event_ends_the_stream() {
    let server = serve(|_| {
        sse(&[
            "event: response.created\ndata: {\"type\":\"response.created\"}\n\n",
            "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n",
            "event: error\ndata: {\"type\":\"error\",\"code\":\"rate_limit_exceeded\",\"message\":\"Slow down\",\"param\":null}\n\n",
            "event: response.completed\ndata: {\"type\":\"response.completed\"}\n\n",
        ])
    })
    .await;
    let client = client(
        ApiKind::OpenAiResponses,
        server.origin.clone(),
        &[OPENAI_KEY],
    );
    let mut events = collect(client.stream("{}".into()).await.unwrap()).await;
    assert_eq!(events.len(), 3, "{events:?}");
    let error = events.pop().unwrap().unwrap_err();
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.status, None);
    assert_eq!(error.provider_code.as_deref(), Some("rate_limit_exceeded"));
    assert_eq!(events[0].as_ref().unwrap().event, "response.created");
    assert_eq!(
        events[1].as_ref().unwrap(),
        &event(
            "response.output_text.delta",
            r#"{"type":"response.output_text.delta","delta":"hi"}"#
        )
    );
}

#[tokio::test]
async fn anthropic_stream_overloaded_error() {
    let server = serve(|_| {
        sse(&[
            "event: message_start\ndata: {\"type\":\"message_start\"}\n\n",
            "event: ping\ndata: {\"type\": \"ping\"}\n\n",
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
        ])
    })
    .await;
    let client = client(
        ApiKind::AnthropicMessages,
        server.origin.clone(),
        &[ANTHROPIC_KEY],
    );
    let events = collect(client.stream("{}".into()).await.unwrap()).await;
    let kinds: Vec<_> = events
        .iter()
        .map(|e| e.as_ref().map(|e| e.event.clone()).map_err(|e| e.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            Ok("message_start".to_owned()),
            Ok("ping".to_owned()),
            Err(ErrorKind::Overloaded)
        ]
    );
}

#[tokio::test]
async fn chat_chunk_with_error_object_is_an_error() {
    let server = serve(|_| {
        sse(&[
            "data: {\"choices\":[{\"delta\":{\"content\":\"error is just a word\"}}]}\n\n",
            "data: {\"error\":{\"message\":\"model crashed\",\"type\":\"server_error\",\"code\":null}}\n\n",
            "data: [DONE]\n\n",
        ])
    })
    .await;
    let client = client(ApiKind::OpenAiCompletions, server.origin.clone(), &[]);
    let events = collect(client.stream("{}".into()).await.unwrap()).await;
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        events[0]
            .as_ref()
            .unwrap()
            .data
            .contains("error is just a word")
    );
    let error = events[1].as_ref().unwrap_err();
    assert_eq!(error.kind, ErrorKind::Server);
    assert_eq!(error.message, "model crashed");
}

#[tokio::test]
async fn idle_stream_times_out() {
    let server = serve(|_| sse_then_hang(&["data: {\"n\":1}\n\n"])).await;
    let client = idle_client(
        ApiKind::OpenAiCompletions,
        &server.origin,
        Duration::from_millis(200),
    );
    let mut stream = client.stream("{}".into()).await.unwrap();
    assert_eq!(
        stream.next().await.unwrap().unwrap(),
        event("message", "{\"n\":1}")
    );
    let error = stream.next().await.unwrap().unwrap_err();
    assert_eq!(error.kind, ErrorKind::Timeout);
    assert!(
        error.message.contains("no stream data"),
        "{}",
        error.message
    );
    assert!(stream.next().await.is_none());
}

#[tokio::test]
async fn keep_alive_bytes_reset_the_idle_timer() {
    // Four 150 ms gaps with a 400 ms idle timeout: 600 ms total, never idle for 400 ms.
    let last = "data: {\"n\":2}\n\n";
    let server = serve(move |_| sse_slow_keepalive(Duration::from_millis(150), 3, last)).await;
    let client = idle_client(
        ApiKind::OpenAiCompletions,
        &server.origin,
        Duration::from_millis(400),
    );
    let events = collect(client.stream("{}".into()).await.unwrap()).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].as_ref().unwrap(), &event("message", "{\"n\":2}"));
}

#[tokio::test]
async fn non_2xx_on_stream_start_is_an_error() {
    let server = serve(|_| {
        json_with(
            429,
            &[("retry-after", "3"), ("request-id", "req_429")],
            r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow"}}"#,
        )
    })
    .await;
    let client = client(
        ApiKind::AnthropicMessages,
        server.origin.clone(),
        &[ANTHROPIC_KEY],
    );
    let Err(error) = client.stream("{}".into()).await else {
        panic!("expected an error");
    };
    assert_eq!(error.kind, ErrorKind::RateLimited);
    assert_eq!(error.status, Some(429));
    assert_eq!(error.retry_after, Some(Duration::from_secs(3)));
    assert_eq!(error.request_id.as_deref(), Some("req_429"));
    assert_eq!(error.provider_code.as_deref(), Some("rate_limit_error"));
}

#[tokio::test]
async fn json_answer_to_a_stream_request() {
    let server = serve(|request| match request.path.as_str() {
        "/bad/chat/completions" => json(
            200,
            r#"{"error":{"message":"no such model","type":"not_found_error"}}"#,
        ),
        _ => json(200, r#"{"choices":[]}"#),
    })
    .await;
    let bad = client(
        ApiKind::OpenAiCompletions,
        format!("{}/bad", server.origin),
        &[],
    );
    let Err(error) = bad.stream("{}".into()).await else {
        panic!("expected an error")
    };
    assert_eq!(error.kind, ErrorKind::NotFound);
    let odd = client(
        ApiKind::OpenAiCompletions,
        format!("{}/odd", server.origin),
        &[],
    );
    let Err(error) = odd.stream("{}".into()).await else {
        panic!("expected an error")
    };
    assert_eq!(error.kind, ErrorKind::Decode);
}
