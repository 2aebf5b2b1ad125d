//! Reasoning items and thinking blocks go back to the provider byte for byte.

use super::*;

fn reasoning_script() -> Value {
    json!({"turns": [
        {"reasoning": "Plan: call echo first.", "tool_calls": [{"name": "echo", "arguments": {"x": 1}}]},
        {"reasoning": "Echo answered.", "text": "done"}
    ]})
}

/// The stored reasoning items of the session, verbatim.
async fn stored_reasoning(runner: &Runner) -> Vec<String> {
    let mut raws = Vec::new();
    for item in runner.state().context.items() {
        if item.kind == ItemKind::Reasoning {
            let bytes = runner.store().get(&item.content_ref).await.unwrap();
            let envelope: llm_runtime::content::OutputItemBlob =
                serde_json::from_slice(&bytes).unwrap();
            raws.push(envelope.item.get().to_owned());
        }
    }
    raws
}

#[tokio::test(flavor = "multi_thread")]
async fn reasoning_round_trips_byte_identically() {
    for kind in [ApiKind::OpenAiResponses, ApiKind::AnthropicMessages] {
        for transport in BOTH_TRANSPORTS {
            let context = format!("{kind} {transport:?}");
            let dir = tempfile::tempdir().unwrap();
            let record = dir.path().join("requests.jsonl");
            let Harness {
                mut runner,
                provider,
                ..
            } = harness_recording(kind, transport, reasoning_script(), Some(record.clone())).await;
            run(&mut runner, "sub-1", "please echo").await;
            // The `--record` log: one JSON line per request, secrets redacted, raw body kept.
            let log = std::fs::read_to_string(&record).unwrap();
            assert!(!log.contains(API_KEY), "{context}: key redacted");
            let recorded: Vec<Value> = log
                .lines()
                .map(|line| serde_json::from_str(line).unwrap())
                .collect();
            assert_eq!(recorded.len(), 2, "{context}");
            let raw_bodies: Vec<&str> = recorded
                .iter()
                .map(|line| line["raw_body"].as_str().unwrap())
                .collect();
            let reasoning = stored_reasoning(&runner).await;
            assert_eq!(reasoning.len(), 2, "{context}: one reasoning item per turn");
            let first = &reasoning[0];
            let marker = if kind == ApiKind::OpenAiResponses {
                "encrypted_content"
            } else {
                "signature"
            };
            assert!(first.contains(marker), "{context}: {first}");
            // What the session stored is what the next request carried, byte for byte.
            assert!(
                raw_bodies[1].contains(first.as_str()),
                "{context}: {first} not in {}",
                raw_bodies[1]
            );

            // And what was stored is what the provider sent: replay the first request
            // against a fresh provider with the same script and find the item in the
            // raw response.
            let replay = start_provider(reasoning_script()).await;
            let client = client_for(kind, &replay);
            let body = bytes::Bytes::from(raw_bodies[0].to_owned());
            let sent = match transport {
                Transport::Blocking => {
                    String::from_utf8(client.create(body).await.unwrap().body.to_vec()).unwrap()
                }
                Transport::Streaming => {
                    use futures::StreamExt;
                    let mut stream = client.stream(body).await.unwrap();
                    let mut data = String::new();
                    while let Some(event) = stream.next().await {
                        data.push_str(&event.unwrap().data);
                        data.push('\n');
                    }
                    data
                }
            };
            if kind == ApiKind::AnthropicMessages && transport == Transport::Streaming {
                // Anthropic streams a thinking block as deltas; the block is assembled,
                // so compare its parts instead of its bytes.
                let block: Value = serde_json::from_str(first).unwrap();
                let signature = block["signature"].as_str().unwrap();
                assert!(
                    sent.contains(signature),
                    "{context}: signature {signature} not streamed"
                );
            } else {
                assert!(
                    sent.contains(first.as_str()),
                    "{context}: stored item is not what the provider sent"
                );
            }
            replay.shutdown().await;
            provider.shutdown().await;
        }
    }
}
