//! Bad requests get clear errors and change nothing.

use super::*;

pub(crate) fn assert_code(err: &jsonrpsee::core::ClientError, code: i32, reason: Option<&str>) {
    let jsonrpsee::core::ClientError::Call(object) = err else {
        panic!("expected a JSON-RPC error, got {err:?}")
    };
    assert_eq!(object.code(), code, "{object:?}");
    let data: Value = object
        .data()
        .map(|raw| serde_json::from_str(raw.get()).unwrap())
        .unwrap_or(Value::Null);
    if code != -32601 && code != -32700 && code != -32600 {
        assert_valid("ErrorData", &data);
    }
    if let Some(reason) = reason {
        assert_eq!(data["reason"], reason, "{object:?}");
    }
}

async fn raw_post(stack: &Stack, body: impl Into<reqwest::Body>) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(stack.url("http"))
        .header("authorization", format!("Bearer {}", stack.key_a))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_requests_get_clear_errors_and_write_nothing() {
    let stack = stack(json!({"turns": []})).await;
    let client = stack.http(Some(&stack.key_a));
    start_session(&client, "s-bad").await;
    let before = call(
        &client,
        "session/read",
        json!({"sessionId": "s-bad"}),
        "SessionView",
    )
    .await;

    let (_, malformed) = raw_post(&stack, "{\"jsonrpc\":\"2.0\",\"method\":").await;
    assert_eq!(malformed["error"]["code"], -32700, "{malformed}");

    let unknown = client
        .request::<Value, _>("session/explode", params_of(json!({})))
        .await
        .unwrap_err();
    assert_code(&unknown, -32601, None);

    let wrong_type = client
        .request::<Value, _>(
            "run/start",
            params_of(json!({"sessionId": "s-bad", "submissionId": 7, "input": []})),
        )
        .await
        .unwrap_err();
    assert_code(&wrong_type, -32602, None);
    let jsonrpsee::core::ClientError::Call(object) = &wrong_type else {
        unreachable!()
    };
    assert!(
        object.message().contains("submissionId"),
        "the error names the field: {}",
        object.message()
    );
    let empty_input = client
        .request::<Value, _>(
            "run/start",
            params_of(json!({"sessionId": "s-bad", "submissionId": "x", "input": []})),
        )
        .await
        .unwrap_err();
    assert_code(&empty_input, -32602, None);
    let bad_params = client
        .request::<Value, _>("session/start", params_of(json!({"sessionId": "s-2", "config": {"model": {"providerId": "fake",
            "apiKind": "openai:responses", "model": "m"}, "generation": {"providerParams": {"temperature": 9}}}})))
        .await
        .unwrap_err();
    assert_code(&bad_params, -32602, None);

    let huge = json!({"jsonrpc": "2.0", "id": 1, "method": "blob/put",
                      "params": {"dataBase64": "A".repeat(2 * 1024 * 1024)}});
    // The gateway refuses the body as soon as it passes the limit: the client sees
    // either the refusal or, still writing, the connection closing on it.
    let oversized = reqwest::Client::new()
        .post(stack.url("http"))
        .header("authorization", format!("Bearer {}", stack.key_a))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&huge).unwrap())
        .send()
        .await;
    if let Ok(response) = oversized {
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            status == 413 || body["error"]["code"].is_i64(),
            "{status} {body}"
        );
    }

    let after = call(
        &client,
        "session/read",
        json!({"sessionId": "s-bad"}),
        "SessionView",
    )
    .await;
    assert_eq!(
        before["eventCursor"], after["eventCursor"],
        "nothing was written"
    );
    let list = call(&client, "session/list", json!({}), "SessionListResult").await;
    assert_eq!(
        list["sessions"].as_array().unwrap().len(),
        1,
        "the invalid session was not created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn raw_blob_transfer_round_trips() {
    let stack = stack(json!({"turns": []})).await;
    let bytes = vec![7u8; 300_000];
    let blob_ref = engine::BlobRef::of_bytes(&bytes).to_string();
    let url = format!("http://{}/blobs/{blob_ref}", stack.gateway.local_addr());
    let http = reqwest::Client::new();
    let auth = format!("Bearer {}", stack.key_a);
    let put = http
        .put(&url)
        .header("authorization", &auth)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    let got = http
        .get(&url)
        .header("authorization", &auth)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(got.as_ref(), bytes.as_slice());
    let client = stack.http(Some(&stack.key_a));
    let has = call(
        &client,
        "blob/has_many",
        json!({"blobRefs": [blob_ref]}),
        "BlobHasManyResult",
    )
    .await;
    assert_eq!(has["present"].as_array().unwrap().len(), 1);
}
