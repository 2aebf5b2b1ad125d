//! Key rotation and cooldown, observed through which key each request carried.

use std::time::Duration;

use llm_clients::{ApiKey, ApiKind, ErrorKind, ProviderClient, ProviderConfig};

use crate::server::{Recorded, json, json_with, serve, sse};

fn client(kind: ApiKind, origin: &str, keys: &[&str], cooldown: Duration) -> ProviderClient {
    let mut config = ProviderConfig::new("rotating", kind);
    config.base_url = origin.to_owned();
    config.api_keys = keys.iter().map(|key| ApiKey::new(*key)).collect();
    config.key_cooldown_default = cooldown;
    ProviderClient::new(config).unwrap()
}

const RATE_LIMITED: &str =
    r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#;
const QUOTA: &str = r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#;

async fn create_all(client: &ProviderClient, count: usize) -> Vec<Result<(), ErrorKind>> {
    let mut results = Vec::new();
    for _ in 0..count {
        results.push(
            client
                .create("{}".into())
                .await
                .map(|_| ())
                .map_err(|e| e.kind),
        );
    }
    results
}

#[tokio::test]
async fn keys_rotate_round_robin() {
    let server = serve(|_| json(200, "{}")).await;
    let client = client(
        ApiKind::OpenAiResponses,
        &server.origin,
        &["A", "B", "C"],
        Duration::from_secs(60),
    );
    assert_eq!(client.key_count(), 3);
    create_all(&client, 5).await;
    assert_eq!(server.keys_used(), ["A", "B", "C", "A", "B"]);
}

#[tokio::test]
async fn rate_limited_key_is_skipped_during_its_cooldown() {
    let server = serve(|request: &Recorded| match request.key().as_str() {
        "A" => json_with(429, &[("retry-after", "30")], RATE_LIMITED),
        _ => json(200, "{}"),
    })
    .await;
    let client = client(
        ApiKind::OpenAiCompletions,
        &server.origin,
        &["A", "B", "C"],
        Duration::from_secs(60),
    );
    let results = create_all(&client, 5).await;
    assert_eq!(results[0], Err(ErrorKind::RateLimited));
    assert!(results[1..].iter().all(Result::is_ok));
    assert_eq!(server.keys_used(), ["A", "B", "C", "B", "C"]);
}

#[tokio::test]
async fn all_keys_cooling_uses_the_one_that_frees_first() {
    let server = serve(|request: &Recorded| match request.key().as_str() {
        "A" => json_with(429, &[("retry-after", "30")], RATE_LIMITED),
        _ => json_with(429, &[("retry-after-ms", "5000")], RATE_LIMITED),
    })
    .await;
    let client = client(
        ApiKind::OpenAiResponses,
        &server.origin,
        &["A", "B"],
        Duration::from_secs(60),
    );
    create_all(&client, 4).await;
    // A: 30 s, B: 5 s, so B until B's cooldown is over.
    assert_eq!(server.keys_used(), ["A", "B", "B", "B"]);
}

#[tokio::test]
async fn default_cooldown_expires_and_quota_cooldown_is_longer() {
    let server = serve(|request: &Recorded| match request.key().as_str() {
        "A" => json(429, RATE_LIMITED),
        "Q" => json(429, QUOTA),
        _ => json(200, "{}"),
    })
    .await;
    // Default 100 ms; the quota key is benched for 10x that.
    let client = client(
        ApiKind::OpenAiResponses,
        &server.origin,
        &["A", "Q", "C"],
        Duration::from_millis(100),
    );
    create_all(&client, 3).await; // A 429, Q 429 (quota), C ok
    create_all(&client, 1).await; // both cooling: C
    tokio::time::sleep(Duration::from_millis(300)).await;
    create_all(&client, 3).await; // A is back, Q is still benched
    assert_eq!(server.keys_used(), ["A", "Q", "C", "C", "A", "C", "C"]);
}

#[tokio::test]
async fn in_stream_rate_limit_benches_the_key() {
    let server = serve(|request: &Recorded| match request.key().as_str() {
        "A" => sse(&[
            "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"slow\"}}\n\n",
        ]),
        _ => json(200, "{}"),
    })
    .await;
    let client = client(
        ApiKind::AnthropicMessages,
        &server.origin,
        &["A", "B"],
        Duration::from_secs(60),
    );
    let mut stream = client.stream("{}".into()).await.unwrap();
    let error = futures::StreamExt::next(&mut stream)
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(error.kind, ErrorKind::RateLimited);
    create_all(&client, 2).await;
    assert_eq!(server.keys_used(), ["A", "B", "B"]);
}
