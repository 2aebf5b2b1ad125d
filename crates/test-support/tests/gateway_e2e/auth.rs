//! Authentication and universe isolation.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn missing_and_unknown_keys_are_refused() {
    let stack = stack(json!({"turns": []})).await;
    for (client, reason) in [
        (stack.http(None), "missingKey"),
        (stack.http(Some("lsk_not-a-real-key")), "unknownKey"),
    ] {
        let err = client
            .request::<Value, _>("initialize", params_of(json!({})))
            .await
            .unwrap_err();
        errors::assert_code(&err, -32000, Some(reason));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_universe_cannot_see_a_session() {
    let stack = stack(json!({"turns": []})).await;
    let a = stack.http(Some(&stack.key_a));
    let b = stack.http(Some(&stack.key_b));
    start_session(&a, "private").await;
    for (method, params) in [
        ("session/read", json!({"sessionId": "private"})),
        ("session/events/read", json!({"sessionId": "private"})),
        (
            "run/start",
            json!({"sessionId": "private", "submissionId": "x", "input": [{"type": "text", "text": "hi"}]}),
        ),
        ("session/close", json!({"sessionId": "private"})),
    ] {
        let err = b
            .request::<Value, _>(method, params_of(params))
            .await
            .unwrap_err();
        errors::assert_code(&err, -32004, Some("sessionNotFound"));
    }
    let list = call(&b, "session/list", json!({}), "SessionListResult").await;
    assert_eq!(list["sessions"], json!([]));
    // Blobs are per universe too.
    let put = call(
        &a,
        "blob/put",
        json!({"dataBase64": "c2VjcmV0"}),
        "BlobPutResult",
    )
    .await;
    let has = call(
        &b,
        "blob/has_many",
        json!({"blobRefs": [put["blobRef"]]}),
        "BlobHasManyResult",
    )
    .await;
    assert_eq!(has["present"], json!([]));
}
