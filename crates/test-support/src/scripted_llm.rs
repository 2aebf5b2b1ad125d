//! A scripted in-process LLM: each generation pops the next [`ScriptedTurn`], writes
//! provider-like output blobs to the CAS and returns only the facts the engine needs.

use std::collections::VecDeque;
use std::sync::Mutex;

use engine::ToolCallId;
use engine::core::context::{ItemKind, ItemSpec, estimate_tokens};
use engine::core::effects::{GenerationOutcome, GenerationResult};
use engine::core::request::GenerationRequest;
use engine::core::run::{EffectError, FinishReason, ToolCallRequest, Usage};
use engine::store::BlobStore;
use serde_json::{Value, json};

use crate::adapters::{AdapterError, LlmAdapter};

/// What the scripted model does on one generation.
#[derive(Debug, Clone)]
pub enum ScriptedTurn {
    /// Answer with text, no tool calls.
    Text(String),
    /// Optional text, then these calls: `(tool name, JSON arguments)`.
    ToolCalls {
        text: Option<String>,
        calls: Vec<(String, Value)>,
    },
    /// Fail the generation with this code (after the host's retries).
    Fail { code: String, message: String },
}

impl ScriptedTurn {
    pub fn text(text: impl Into<String>) -> Self {
        Self::Text(text.into())
    }

    pub fn call(name: impl Into<String>, arguments: Value) -> Self {
        Self::ToolCalls {
            text: None,
            calls: vec![(name.into(), arguments)],
        }
    }

    pub fn fail(code: impl Into<String>) -> Self {
        let code = code.into();
        Self::Fail {
            message: format!("scripted failure: {code}"),
            code,
        }
    }
}

/// Plays a fixed script; records every request it was given.
#[derive(Debug, Default)]
pub struct ScriptedLlm {
    script: Mutex<VecDeque<ScriptedTurn>>,
    requests: Mutex<Vec<GenerationRequest>>,
    /// Output tokens reported per generation; `None` estimates from the output size.
    output_tokens_per_turn: Option<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ScriptedLlm {
    pub fn new(script: impl IntoIterator<Item = ScriptedTurn>) -> Self {
        Self {
            script: Mutex::new(script.into_iter().collect()),
            ..Self::default()
        }
    }

    /// Reports `tokens` output tokens for every generation.
    pub fn with_output_tokens(mut self, tokens: u64) -> Self {
        self.output_tokens_per_turn = Some(tokens);
        self
    }

    pub fn push(&self, turn: ScriptedTurn) {
        lock(&self.script).push_back(turn);
    }

    /// Requests seen so far, in order.
    pub fn requests(&self) -> Vec<GenerationRequest> {
        lock(&self.requests).clone()
    }

    pub fn remaining(&self) -> usize {
        lock(&self.script).len()
    }
}

async fn put_json<B: BlobStore>(
    blobs: &B,
    value: &Value,
) -> Result<(engine::BlobRef, u64), AdapterError> {
    let bytes = engine::canonical::to_vec(value);
    let estimate = estimate_tokens(&bytes);
    Ok((blobs.put(bytes).await?, estimate))
}

impl LlmAdapter for ScriptedLlm {
    async fn generate<B: BlobStore>(
        &self,
        request: &GenerationRequest,
        blobs: &B,
    ) -> Result<GenerationOutcome, AdapterError> {
        lock(&self.requests).push(request.clone());
        let turn = lock(&self.script).pop_front().ok_or_else(|| {
            AdapterError::Other(format!(
                "script exhausted: no scripted turn for {} turn {}",
                request.run_id, request.turn
            ))
        })?;
        let (text, calls) = match turn {
            ScriptedTurn::Fail { code, message } => {
                return Ok(GenerationOutcome::Failed {
                    error: EffectError { code, message },
                });
            }
            ScriptedTurn::Text(text) => (Some(text), Vec::new()),
            ScriptedTurn::ToolCalls { text, calls } => (text, calls),
        };
        let mut items = Vec::new();
        let mut tool_calls = Vec::new();
        let mut output_estimate = 0;
        if let Some(text) = text {
            let (content_ref, estimate) = put_json(
                blobs,
                &json!({"type": "message", "role": "assistant", "content": text}),
            )
            .await?;
            output_estimate += estimate;
            items.push(ItemSpec::new(
                ItemKind::AssistantMessage,
                content_ref,
                estimate,
            ));
        }
        for (index, (name, arguments)) in calls.into_iter().enumerate() {
            let call_id =
                ToolCallId::new(format!("call_{}_{}_{index}", request.run_id, request.turn))
                    .map_err(|err| AdapterError::Other(err.to_string()))?;
            let (arguments_ref, _) = put_json(blobs, &arguments).await?;
            let item = json!({"type": "function_call", "call_id": call_id, "name": name, "arguments": arguments});
            let (content_ref, estimate) = put_json(blobs, &item).await?;
            output_estimate += estimate;
            items.push(ItemSpec {
                call_id: Some(call_id.clone()),
                ..ItemSpec::new(ItemKind::ToolCall, content_ref, estimate)
            });
            tool_calls.push(ToolCallRequest {
                call_id,
                name,
                arguments_ref,
            });
        }
        let usage = Usage {
            input_tokens: request.token_estimate(),
            output_tokens: self.output_tokens_per_turn.unwrap_or(output_estimate),
            ..Usage::default()
        };
        let response_id = Some(format!("resp_{}_{}", request.run_id, request.turn));
        let finish_reason = Some(if tool_calls.is_empty() {
            FinishReason::Stop
        } else {
            FinishReason::ToolCalls
        });
        Ok(GenerationOutcome::Completed(GenerationResult {
            usage,
            response_id,
            items,
            tool_calls,
            finish_reason,
            // As providers count it: the request and its output.
            context_tokens: Some(request.token_estimate() + output_estimate),
            request_ref: None,
            context_refresh: Default::default(),
        }))
    }
}
