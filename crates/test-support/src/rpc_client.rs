//! Client-side helpers for black-box gateway tests (LocalApi's and the Temporal
//! backend's): bearer headers, object params, contract-checked calls and following a
//! run to its end. They assert and panic like the tests that use them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ObjectParams;
use jsonrpsee::http_client::HeaderMap;
use serde_json::{Value, json};

/// Event pages [`follow_until_finished`] reads before it gives up.
const FOLLOW_PAGES_MAX: usize = 100;

/// `Authorization: Bearer {key}`.
pub fn bearer_headers(key: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("authorization", format!("Bearer {key}").parse().unwrap());
    headers
}

/// A JSON object as named params (anything else as no params).
pub fn params(value: Value) -> ObjectParams {
    let mut object = ObjectParams::new();
    for (key, value) in value.as_object().cloned().unwrap_or_default() {
        object.insert(&key, value).unwrap();
    }
    object
}

/// Validates `value` against the contract's definition `name`.
pub fn assert_valid(name: &str, value: &Value) {
    let mut schema = api::contract::schema_bundle();
    schema["$ref"] = Value::String(format!("#/definitions/{name}"));
    let validator = jsonschema::draft7::new(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|err| err.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{name} does not match the contract: {errors:?}\n{value:#}"
    );
}

/// Calls `method` and checks the result against the contract's `result_type`.
pub async fn call(client: &impl ClientT, method: &str, args: Value, result_type: &str) -> Value {
    let result: Value = client
        .request(method, params(args))
        .await
        .unwrap_or_else(|err| panic!("{method}: {err}"));
    assert_valid(result_type, &result);
    result
}

/// Follows `session/events/read` until `run_id` finishes; returns every event read.
pub async fn follow_until_finished(
    client: &impl ClientT,
    session_id: &str,
    run_id: &str,
) -> Vec<Value> {
    let mut cursor = 0;
    let mut events = Vec::new();
    for _ in 0..FOLLOW_PAGES_MAX {
        let page = call(
            client,
            "session/events/read",
            json!({"sessionId": session_id, "cursor": cursor, "waitMs": 2_000}),
            "SessionEventsReadResult",
        )
        .await;
        cursor = page["nextCursor"].as_u64().unwrap();
        for event in page["events"].as_array().unwrap() {
            events.push(event.clone());
            if event["kind"] == "lightspeed.core.run.finished" && event["runId"] == run_id {
                return events;
            }
        }
    }
    panic!("run {run_id} did not finish: {events:#?}");
}
