//! `PUT /blobs/{ref}` and `GET /blobs/{ref}`.

use serde_json::Value;

use crate::support::{start, start_with, test_config};

fn blob_ref(bytes: &[u8]) -> String {
    engine::BlobRef::of_bytes(bytes).as_str().to_owned()
}

async fn put(url: &str, key: Option<&str>, body: Vec<u8>) -> (u16, Value) {
    let mut request = reqwest::Client::new().put(url).body(body);
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn blobs_round_trip_within_their_universe() {
    let harness = start().await;
    let bytes = b"hello, blob".to_vec();
    let url = format!("{}/blobs/{}", harness.base_url(), blob_ref(&bytes));

    let (status, body) = put(&url, Some(&harness.key), bytes.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["blobRef"], blob_ref(&bytes));
    assert_eq!(body["sizeBytes"], bytes.len());

    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(response.bytes().await.unwrap().as_ref(), bytes.as_slice());

    // The percent-encoded form of the ref names the same blob.
    let encoded = url.replace("sha256:", "sha256%3A");
    let response = reqwest::Client::new()
        .get(&encoded)
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // Another universe does not see it.
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&harness.other_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn a_body_that_does_not_hash_to_the_ref_is_refused() {
    let harness = start().await;
    let url = format!("{}/blobs/{}", harness.base_url(), blob_ref(b"expected"));
    let (status, body) = put(&url, Some(&harness.key), b"something else".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], -32602);
    assert_eq!(body["error"]["data"]["reason"], "digestMismatch");
    assert_eq!(harness.calls(), 0);

    let url = format!("{}/blobs/not-a-ref", harness.base_url());
    let (status, body) = put(&url, Some(&harness.key), b"x".to_vec()).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["data"]["reason"], "invalidBlobRef");
}

#[tokio::test]
async fn a_blob_over_the_limit_is_413() {
    let harness = start_with(gateway::GatewayConfig {
        blob_bytes_max: 1024,
        ..test_config()
    })
    .await;
    let bytes = vec![7u8; 2048];
    let url = format!("{}/blobs/{}", harness.base_url(), blob_ref(&bytes));
    let (status, body) = put(&url, Some(&harness.key), bytes).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["data"]["reason"], "blobTooLarge");

    // Without a declared length (chunked), the limit holds while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = (0..8).map(|_| Ok(vec![1u8; 256])).collect();
    let streamed = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = reqwest::Client::new()
        .put(format!(
            "{}/blobs/{}",
            harness.base_url(),
            blob_ref(&[1u8; 2048])
        ))
        .bearer_auth(&harness.key)
        .body(streamed)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert_eq!(harness.calls(), 0);
}

#[tokio::test]
async fn a_missing_blob_is_404_and_no_key_is_401() {
    let harness = start().await;
    let url = format!("{}/blobs/{}", harness.base_url(), blob_ref(b"never stored"));
    let response = reqwest::Client::new()
        .get(&url)
        .bearer_auth(&harness.key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32004);

    let response = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32000);
    assert_eq!(body["error"]["data"]["reason"], "missingKey");

    let (status, body) = put(&url, Some("lsk_unknown"), b"never stored".to_vec()).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["data"]["reason"], "unknownKey");
}
