//! The seam between the runtime and one API kind: build the native request, and
//! extract from the native response only what the engine branches on.

use engine::RunId;
use engine::core::context::ItemKind;
use engine::core::run::{FinishReason, Usage};
use llm_clients::{ApiKind, SseEvent};
use serde_json::value::RawValue;

use crate::content::LoadedRequest;
use crate::error::RuntimeError;
use crate::sink::DeltaSink;

/// One output item of a generation, as the provider sent it.
#[derive(Debug, Clone)]
pub struct ParsedItem {
    pub kind: ItemKind,
    /// The item's JSON, verbatim; stored in the CAS and sent back next turn.
    pub raw: Box<RawValue>,
    /// Tool calls this item carries (one for a Responses `function_call` or an
    /// Anthropic `tool_use` block, any number for a Chat Completions message).
    pub calls: Vec<ParsedCall>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedCall {
    pub call_id: String,
    pub name: String,
    /// The arguments JSON text exactly as the model produced it.
    pub arguments: String,
}

/// The facts of one generation.
#[derive(Debug, Clone)]
pub struct ParsedGeneration {
    pub items: Vec<ParsedItem>,
    /// `input_tokens` counts every input token, cached ones included.
    pub usage: Usage,
    pub response_id: Option<String>,
    pub finish_reason: FinishReason,
    /// Size of the context after this generation, as the provider measured it.
    pub context_tokens: Option<u64>,
}

/// Who a stream's deltas belong to.
#[derive(Debug, Clone)]
pub struct StreamContext {
    pub run_id: RunId,
    pub turn: u32,
}

/// Folds a provider's SSE events into a [`ParsedGeneration`], forwarding text and
/// reasoning deltas as they come.
pub trait StreamAssembler: Send {
    fn on_event(&mut self, event: &SseEvent, sink: &dyn DeltaSink) -> Result<(), RuntimeError>;
    fn finish(self: Box<Self>) -> Result<ParsedGeneration, RuntimeError>;
}

/// One API kind.
pub trait ApiAdapter: Send + Sync {
    fn api_kind(&self) -> ApiKind;
    /// The native request body (JSON bytes); `stream` asks for SSE.
    fn materialize(&self, loaded: &LoadedRequest, stream: bool) -> Result<Vec<u8>, RuntimeError>;
    /// Headers this request needs beyond the provider's own (beta flags, one header
    /// each: HTTP reads repeated headers as one comma-separated list).
    fn request_headers(&self, loaded: &LoadedRequest) -> Vec<(&'static str, &'static str)> {
        let _ = loaded;
        Vec::new()
    }
    fn parse_response(&self, body: &[u8]) -> Result<ParsedGeneration, RuntimeError>;
    fn stream_assembler(&self, context: StreamContext) -> Box<dyn StreamAssembler>;
}

/// Parses `text` as raw JSON, keeping its bytes.
pub fn raw_json(text: impl Into<String>) -> Result<Box<RawValue>, RuntimeError> {
    RawValue::from_string(text.into()).map_err(|err| RuntimeError::Decode(err.to_string()))
}

/// Serialises `value` as raw JSON.
pub fn to_raw<T: serde::Serialize>(value: &T) -> Result<Box<RawValue>, RuntimeError> {
    serde_json::value::to_raw_value(value).map_err(|err| RuntimeError::Encode(err.to_string()))
}
