//! `anthropic:messages`: the Anthropic Messages API.
//!
//! Request ([`request`]): instructions, then catalogs, become `system` text blocks;
//! the transcript becomes `messages`, consecutive items of one side merged into one
//! message so roles alternate and the first message is the user's. User input, media,
//! summaries and tool results (`tool_result` blocks, always first in their message)
//! are the user side; content blocks of earlier turns are the assistant side, replayed
//! byte for byte (thinking signatures included) when Anthropic made them, and
//! neutralised into text and `tool_use` blocks when another API kind did.
//!
//! Prompt caching (on unless `prompt_caching: false`) marks the last system block, the
//! last tool and the last block of each of the last two user messages. The newest mark
//! writes the cache; the one before it sits exactly where the previous turn wrote, so
//! it hits however many blocks the turn added (Anthropic only looks about 20 blocks
//! back from a mark). User messages hold only blocks built here, so a mark never forces
//! a provider block to be re-serialised.
//!
//! Thinking is requested with the configured budget, clamped below `max_tokens`; it is
//! left off when the clamped budget would fall under Anthropic's minimum, and when the
//! tool choice forces tool use (which Anthropic refuses together with thinking).
//!
//! Response ([`response`], [`stream`]): every content block is one output item kept
//! verbatim; a streamed message is rebuilt block by block into the JSON the blocking
//! API would have returned.

mod request;
mod response;
mod stream;

use llm_clients::ApiKind;

use crate::adapter::{ApiAdapter, ParsedGeneration, StreamAssembler, StreamContext};
use crate::content::LoadedRequest;
use crate::error::RuntimeError;

const KIND: ApiKind = ApiKind::AnthropicMessages;

#[derive(Debug, Default, Clone, Copy)]
pub struct AnthropicAdapter;

impl ApiAdapter for AnthropicAdapter {
    fn api_kind(&self) -> ApiKind {
        KIND
    }

    fn request_headers(&self, loaded: &LoadedRequest) -> Vec<(&'static str, &'static str)> {
        request::request_headers(loaded)
    }

    fn materialize(&self, loaded: &LoadedRequest, stream: bool) -> Result<Vec<u8>, RuntimeError> {
        request::materialize(loaded, stream)
    }

    fn parse_response(&self, body: &[u8]) -> Result<ParsedGeneration, RuntimeError> {
        response::parse_response(body)
    }

    fn stream_assembler(&self, context: StreamContext) -> Box<dyn StreamAssembler> {
        Box::new(stream::Assembler::new(context))
    }
}

fn decode(err: serde_json::Error) -> RuntimeError {
    RuntimeError::Decode(format!("{KIND}: {err}"))
}
