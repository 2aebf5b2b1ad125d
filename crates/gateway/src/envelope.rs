//! The JSON-RPC envelope of an HTTP request, checked before jsonrpsee parses it.
//!
//! jsonrpsee 0.26 answers some envelope violations with an empty HTTP 200 (an object
//! or array as `id` reads as a notification) and others with codes outside the
//! contract (`-32007` body too large, `-32010` batch too large, which collides with
//! "rejected"). Every violation is answered here instead: `-32600` Invalid Request
//! with `id: null` and a typed `data.reason`.

use axum::Json;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// JSON-RPC 2.0's Invalid Request code.
pub(crate) const INVALID_REQUEST: i32 = -32600;
/// JSON-RPC 2.0's Parse error code.
const PARSE_ERROR: i32 = -32700;

/// An envelope violation: the HTTP status and the JSON-RPC error to answer with.
#[derive(Debug)]
pub(crate) struct Violation {
    status: StatusCode,
    code: i32,
    reason: &'static str,
    message: String,
}

impl Violation {
    fn invalid(reason: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::OK,
            code: INVALID_REQUEST,
            reason,
            message: message.into(),
        }
    }

    pub(crate) fn too_large(bytes_max: u32) -> Self {
        Self {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            ..Self::invalid(
                "requestTooLarge",
                format!("the request is larger than {bytes_max} bytes"),
            )
        }
    }
}

impl IntoResponse for Violation {
    fn into_response(self) -> Response {
        let kind = if self.code == PARSE_ERROR {
            api::ErrorKind::ParseError
        } else {
            api::ErrorKind::InvalidRequest
        };
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {
                "code": self.code,
                "message": self.message,
                "data": {"kind": kind, "reason": self.reason},
            },
        });
        (self.status, Json(body)).into_response()
    }
}

/// Reads at most `bytes_max` bytes of `body`, within `deadline`.
pub(crate) async fn read_body(
    body: Body,
    bytes_max: u32,
    deadline: Duration,
) -> Result<Bytes, Violation> {
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, bytes_max as usize)).await {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(_)) => Err(Violation::too_large(bytes_max)),
        Err(_) => Err(Violation {
            status: StatusCode::REQUEST_TIMEOUT,
            ..Violation::invalid(
                "bodyTimeout",
                format!("the request body did not arrive within {deadline:?}"),
            )
        }),
    }
}

/// Checks the envelope of a single request or a batch of at most `batch_max` calls.
pub(crate) fn check(bytes: &[u8], batch_max: u32) -> Result<(), Violation> {
    let value: Value = serde_json::from_slice(bytes).map_err(|err| Violation {
        code: PARSE_ERROR,
        ..Violation::invalid("parseError", format!("the body is not JSON: {err}"))
    })?;
    match &value {
        Value::Array(calls) if calls.is_empty() => Err(Violation::invalid(
            "emptyBatch",
            "a batch needs at least one call",
        )),
        Value::Array(calls) if calls.len() > batch_max as usize => Err(Violation::invalid(
            "batchTooLarge",
            format!("a batch holds at most {batch_max} calls"),
        )),
        Value::Array(calls) => calls.iter().enumerate().try_for_each(|(index, call)| {
            check_call(call).map_err(|mut violation| {
                violation.message = format!("batch entry {index}: {}", violation.message);
                violation
            })
        }),
        call => check_call(call),
    }
}

fn check_call(call: &Value) -> Result<(), Violation> {
    let Value::Object(call) = call else {
        return Err(Violation::invalid(
            "notAnObject",
            "a request must be a JSON object",
        ));
    };
    if call.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Violation::invalid(
            "jsonrpcVersion",
            "a request needs `\"jsonrpc\": \"2.0\"`",
        ));
    }
    match call.get("id") {
        None | Some(Value::Null | Value::Number(_) | Value::String(_)) => {}
        Some(_) => {
            return Err(Violation::invalid(
                "invalidId",
                "`id` must be a string, a number or null",
            ));
        }
    }
    if !call.get("method").is_some_and(Value::is_string) {
        return Err(Violation::invalid(
            "missingMethod",
            "a request needs a string `method`",
        ));
    }
    match call.get("params") {
        None | Some(Value::Object(_) | Value::Array(_)) => Ok(()),
        Some(_) => Err(Violation::invalid(
            "invalidParams",
            "`params` must be an object or an array",
        )),
    }
}
