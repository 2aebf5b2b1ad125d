//! Each client against the fake provider, blocking and streaming, plus Anthropic's
//! count_tokens: the raw wire, without the runtime in between.

use futures::StreamExt;
use llm_clients::ErrorKind;

use super::*;

fn body(kind: ApiKind, stream: bool) -> bytes::Bytes {
    let body = match kind {
        ApiKind::OpenAiResponses => json!({"model": "m", "input": "hi", "stream": stream}),
        ApiKind::OpenAiCompletions => {
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "stream": stream, "stream_options": {"include_usage": true}})
        }
        ApiKind::AnthropicMessages => json!({"model": "m", "max_tokens": 100,
            "messages": [{"role": "user", "content": "hi"}], "stream": stream}),
    };
    serde_json::to_vec(&body).unwrap().into()
}

/// Every SSE event type the client sees for a reasoning + text + tool-call turn.
async fn streamed_types(kind: ApiKind) -> Vec<String> {
    let provider = start_provider(json!({"turns": [
        {"reasoning": "think", "text": "hello", "tool_calls": [{"name": "add", "arguments": {"a": 1, "b": 2}}]}
    ]}))
    .await;
    let client = client_for(kind, &provider);
    let mut stream = client.stream(body(kind, true)).await.unwrap();
    let mut types = Vec::new();
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        let data: Value = serde_json::from_str(&event.data).unwrap();
        let kind = data
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or(event.event.as_str())
            .to_owned();
        types.push(kind);
    }
    provider.shutdown().await;
    types
}

#[tokio::test(flavor = "multi_thread")]
async fn each_client_streams_the_documented_lifecycle() {
    let responses = streamed_types(ApiKind::OpenAiResponses).await;
    for expected in [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ] {
        assert!(
            responses.iter().any(|seen| seen == expected),
            "responses stream lacks {expected}: {responses:?}"
        );
    }
    let anthropic = streamed_types(ApiKind::AnthropicMessages).await;
    for expected in [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(
            anthropic.iter().any(|seen| seen == expected),
            "anthropic stream lacks {expected}: {anthropic:?}"
        );
    }
    let chat = streamed_types(ApiKind::OpenAiCompletions).await;
    assert!(chat.len() >= 4, "chat chunks: {chat:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_client_creates_and_count_tokens_answers() {
    for kind in ALL_KINDS {
        let provider = start_provider(json!({"turns": [{"text": "plain"}]})).await;
        let client = client_for(kind, &provider);
        let response = client.create(body(kind, false)).await.unwrap();
        assert_eq!(response.status, 200, "{kind}");
        assert!(response.request_id.is_some(), "{kind}: request id header");
        let parsed: Value = serde_json::from_slice(&response.body).unwrap();
        assert!(parsed.to_string().contains("plain"), "{kind}: {parsed}");
        if kind == ApiKind::AnthropicMessages {
            let counted = client.count_tokens(body(kind, false)).await.unwrap();
            let counted: Value = serde_json::from_slice(&counted.body).unwrap();
            assert!(counted["input_tokens"].as_u64().unwrap() > 0);
        } else {
            assert_eq!(
                client
                    .count_tokens(body(kind, false))
                    .await
                    .unwrap_err()
                    .kind,
                ErrorKind::InvalidRequest
            );
        }
        provider.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_errors_arrive_classified() {
    for kind in ALL_KINDS {
        let provider = start_provider(json!({"turns": [
            {"error": {"status": 429, "retry_after_s": 7}},
            {"error": {"status": 400, "type": "context_length_exceeded"}},
            {"error": {"status": 529, "type": "overloaded"}}
        ]}))
        .await;
        let client = client_for(kind, &provider);
        let limited = client.create(body(kind, false)).await.unwrap_err();
        assert_eq!(limited.kind, ErrorKind::RateLimited, "{kind}");
        assert_eq!(
            limited.retry_after,
            Some(std::time::Duration::from_secs(7)),
            "{kind}"
        );
        let too_long = client.stream(body(kind, true)).await.err().unwrap();
        assert_eq!(too_long.kind, ErrorKind::ContextLengthExceeded, "{kind}");
        assert!(!too_long.is_retryable());
        let overloaded = client.create(body(kind, false)).await.unwrap_err();
        assert_eq!(
            overloaded.kind,
            ErrorKind::Overloaded,
            "{kind}: {overloaded}"
        );
        provider.shutdown().await;
    }
}
