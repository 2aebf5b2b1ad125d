//! The tools the worker serves until the VFS tools land: test-support's builtin
//! `echo`, `add` and `fail`, plus `sleep` (`{"ms": n}`, at most a minute), which makes
//! a tool call last long enough to cancel it or to crash a worker in the middle of it.

use std::time::Duration;

use engine::core::effects::ToolResult;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use serde_json::{Value, json};
use test_support::adapters::{AdapterError, ToolAdapter, estimate_tokens};
use test_support::tools::BuiltinTools;

/// Longest `sleep` call.
const SLEEP_MS_MAX: u64 = 60_000;

#[derive(Debug, Default, Clone, Copy)]
pub struct WorkerTools;

impl ToolAdapter for WorkerTools {
    async fn invoke<B: BlobStore>(
        &self,
        call: &ToolCallRequest,
        blobs: &B,
    ) -> Result<ToolResult, AdapterError> {
        if call.name != "sleep" {
            return BuiltinTools.invoke(call, blobs).await;
        }
        let raw = blobs.get(&call.arguments_ref).await?;
        let ms = serde_json::from_slice::<Value>(&raw)
            .ok()
            .and_then(|arguments| arguments["ms"].as_u64());
        let (status, output) = match ms {
            Some(ms) if ms <= SLEEP_MS_MAX => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                (ToolStatus::Ok, json!({"slept_ms": ms}))
            }
            _ => (
                ToolStatus::Error,
                json!({"error": format!("sleep needs an integer ms of at most {SLEEP_MS_MAX}")}),
            ),
        };
        let bytes = engine::canonical::to_vec(&output);
        let token_estimate = estimate_tokens(&bytes);
        Ok(ToolResult {
            call_id: call.call_id.clone(),
            status,
            output_ref: blobs.put(bytes).await?,
            token_estimate,
        })
    }
}
