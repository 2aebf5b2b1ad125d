//! What the model is told when an environment call ends: a daemon's answer (the
//! whole output to the CAS, the model's view bounded to head and tail) or an error
//! the catalog or this crate decided.

use engine::core::context::estimate_tokens;
use engine::core::effects::ToolResult;
use engine::core::run::ToolStatus;
use engine::store::{BlobStore, StoreError};
use env_protocol::{CallResult, FailureCode, ProcessOutcome};
use env_registry::EnvJob;
use serde_json::{Value, json};

use super::EnvLimits;

/// What the model is told when a daemon answers `job` with `result`, after
/// `output` (the call's whole output as the daemon streamed it). The whole output
/// goes to the CAS; the model sees its head and tail within
/// `limits.model_output_bytes`.
pub async fn call_result<B: BlobStore>(
    blobs: &B,
    job: &EnvJob,
    result: &CallResult,
    output: &[u8],
    environment: &str,
    limits: &EnvLimits,
) -> Result<ToolResult, StoreError> {
    let (status, value) = match result {
        CallResult::Process(outcome) => {
            let output_ref = if output.is_empty() {
                None
            } else {
                Some(blobs.put(output.to_vec()).await?)
            };
            process_view(outcome, output, output_ref, environment, limits)
        }
        CallResult::Failed { code, message } => (
            ToolStatus::Error,
            json!({"error": message, "code": failure_code(*code)}),
        ),
        other => (
            ToolStatus::Ok,
            serde_json::to_value(other).unwrap_or(Value::Null),
        ),
    };
    store_result(blobs, &job.call_id, status, &value).await
}

fn process_view(
    outcome: &ProcessOutcome,
    output: &[u8],
    output_ref: Option<engine::BlobRef>,
    environment: &str,
    limits: &EnvLimits,
) -> (ToolStatus, Value) {
    let mut view = serde_json::Map::new();
    view.insert(
        "output".into(),
        Value::String(bounded_output(output, output_ref.as_ref(), limits)),
    );
    view.insert("exit_code".into(), json!(outcome.exit_code));
    view.insert("duration_ms".into(), json!(outcome.duration_ms));
    view.insert("output_bytes".into(), json!(output.len()));
    if let Some(output_ref) = &output_ref {
        view.insert("output_ref".into(), json!(output_ref.to_string()));
    }
    if let Some(signal) = outcome.signal {
        view.insert("signal".into(), json!(signal));
    }
    if outcome.timed_out {
        view.insert("timed_out".into(), json!(true));
    }
    if outcome.running {
        view.insert("running".into(), json!(true));
        view.insert(
            "session_id".into(),
            json!(format!("{environment}:{}", outcome.process_id)),
        );
    }
    if outcome.output_dropped > 0 {
        view.insert("output_dropped_bytes".into(), json!(outcome.output_dropped));
    }
    let ok = outcome.running || (outcome.exit_code == Some(0) && !outcome.timed_out);
    let status = if ok {
        ToolStatus::Ok
    } else {
        ToolStatus::Error
    };
    (status, Value::Object(view))
}

/// `output` as text within `limits.model_output_bytes`: whole, or its head and tail
/// around a marker saying how much was left out and where the rest is.
pub fn bounded_output(
    output: &[u8],
    whole: Option<&engine::BlobRef>,
    limits: &EnvLimits,
) -> String {
    let text = String::from_utf8_lossy(output);
    let max = limits.model_output_bytes;
    if text.len() <= max {
        return text.into_owned();
    }
    let half = max / 2;
    let mut head_end = half;
    while !text.is_char_boundary(head_end) {
        head_end -= 1;
    }
    let mut tail_start = text.len() - half;
    while !text.is_char_boundary(tail_start) {
        tail_start += 1;
    }
    let omitted = tail_start - head_end;
    let whereabouts = whole.map_or(String::new(), |whole| {
        format!("; the whole output is {whole}")
    });
    format!(
        "{}\n[... {omitted} bytes of output omitted{whereabouts} ...]\n{}",
        &text[..head_end],
        &text[tail_start..]
    )
}

fn failure_code(code: FailureCode) -> Value {
    serde_json::to_value(code).unwrap_or(Value::Null)
}

/// The error result a job's call gets when it ends without a daemon's answer
/// (`code`: `environmentRestarted`, `environmentNotFound`, `cancelled`, ...).
pub async fn error_result<B: BlobStore>(
    blobs: &B,
    call_id: &str,
    code: &str,
    message: &str,
) -> Result<ToolResult, StoreError> {
    let output = json!({"error": message, "code": code});
    store_result(blobs, call_id, ToolStatus::Error, &output).await
}

async fn store_result<B: BlobStore>(
    blobs: &B,
    call_id: &str,
    status: ToolStatus,
    output: &Value,
) -> Result<ToolResult, StoreError> {
    let bytes = engine::canonical::to_vec(output);
    let token_estimate = estimate_tokens(&bytes);
    let call_id =
        engine::ToolCallId::new(call_id.to_owned()).map_err(|err| StoreError::Corrupt {
            location: "environment job".to_owned(),
            reason: format!("call id: {err}"),
        })?;
    Ok(ToolResult {
        call_id,
        status,
        output_ref: blobs.put(bytes).await?,
        token_estimate,
        later: None,
        child: Default::default(),
    })
}
