//! A multi-turn tool session per API kind and transport, retries and failures.

use engine::core::run::{RunFailure, ToolStatus};

use super::*;

fn tool_script() -> Value {
    json!({"turns": [
        {"reasoning": "The user wants a sum; call add.", "text": "Let me add.",
         "tool_calls": [{"name": "add", "arguments": {"a": 2, "b": 3}}]},
        {"reasoning": "The tool said 5.", "text": "2 + 3 = 5"}
    ]})
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_session_over_http_for_every_api_kind() {
    for kind in ALL_KINDS {
        for transport in BOTH_TRANSPORTS {
            let Harness {
                mut runner,
                provider,
                deltas,
            } = harness(kind, transport, tool_script()).await;
            let run_id = run(&mut runner, "sub-1", "What is 2 + 3?").await;
            let log = runner.log().await.unwrap();
            let context = format!("{kind} {transport:?}");
            assert_eq!(outcome(&log, &run_id), RunOutcome::Completed, "{context}");

            let results: Vec<_> = events(&log)
                .into_iter()
                .filter_map(|event| match event {
                    CoreEvent::ToolResultRecorded(e) => Some(e),
                    _ => None,
                })
                .collect();
            assert_eq!(results.len(), 1, "{context}");
            assert_eq!(results[0].status, ToolStatus::Ok, "{context}");
            let output = runner
                .store()
                .get(&results[0].item.content_ref)
                .await
                .unwrap();
            assert_eq!(
                serde_json::from_slice::<Value>(&output).unwrap(),
                json!({"sum": 5}),
                "{context}"
            );

            let requests = provider.requests();
            assert_eq!(requests.len(), 2, "{context}");
            let path = match kind {
                ApiKind::OpenAiResponses => "/v1/responses",
                ApiKind::OpenAiCompletions => "/v1/chat/completions",
                ApiKind::AnthropicMessages => "/v1/messages",
            };
            assert!(
                requests.iter().all(|request| request.path == path),
                "{context}"
            );
            // The tool result reached the model in the provider's own shape.
            assert!(
                requests[1].raw_body.contains("{\\\"sum\\\":5}"),
                "{context}: {}",
                requests[1].raw_body
            );
            // Credentials never leave the headers: not in the recorded body, not in the CAS.
            for request in &requests {
                assert!(!request.raw_body.contains(API_KEY), "{context}");
                assert!(
                    request
                        .headers
                        .values()
                        .all(|value| !value.contains(API_KEY)),
                    "{context}"
                );
            }
            for event in events(&log) {
                if let CoreEvent::TurnCompleted(turn) = event {
                    let request_ref = turn.request_ref.expect("request stored");
                    let stored = runner.store().get(&request_ref).await.unwrap();
                    assert!(
                        !String::from_utf8_lossy(&stored).contains(API_KEY),
                        "{context}"
                    );
                    assert!(turn.usage.output_tokens > 0, "{context}");
                }
            }
            let streamed_text = deltas
                .0
                .lock()
                .unwrap()
                .iter()
                .any(|d| d.kind == llm_runtime::DeltaKind::Text);
            assert_eq!(
                streamed_text,
                transport == Transport::Streaming,
                "{context}: deltas only when streaming"
            );
            provider.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_retried_and_hard_errors_fail_the_run() {
    for kind in ALL_KINDS {
        let script = json!({"turns": [
            {"error": {"status": 429, "retry_after_s": 0}},
            {"text": "after the retry"},
            {"error": {"status": 400, "type": "context_length_exceeded"}}
        ]});
        let Harness {
            mut runner,
            provider,
            ..
        } = harness(kind, Transport::Streaming, script).await;
        let first = run(&mut runner, "sub-1", "hello").await;
        let log = runner.log().await.unwrap();
        assert_eq!(
            outcome(&log, &first),
            RunOutcome::Completed,
            "{kind}: 429 retried"
        );
        assert_eq!(provider.requests().len(), 2, "{kind}");

        let second = run(&mut runner, "sub-2", "again").await;
        let log = runner.log().await.unwrap();
        match outcome(&log, &second) {
            RunOutcome::Failed {
                failure: RunFailure::GenerationFailed { error },
            } => {
                assert_eq!(error.code, "context_length_exceeded", "{kind}")
            }
            other => panic!("{kind}: {other:?}"),
        }
        assert_eq!(
            provider.requests().len(),
            3,
            "{kind}: a deterministic failure is not retried"
        );
        provider.shutdown().await;
    }
}
