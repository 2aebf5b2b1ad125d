//! Provider-native HTTP clients for OpenAI Responses, OpenAI Chat Completions (including
//! OpenAI-compatible servers such as vLLM, Ollama and llama.cpp) and Anthropic Messages
//! (plus `count_tokens`).
//!
//! The crate is a *transport*. [`ProviderClient`] POSTs an already-serialised JSON body to
//! the endpoint of its [`ApiKind`] and hands back either the raw response bytes
//! ([`RawResponse`]) or the raw server-sent events ([`EventStream`] of [`SseEvent`]).
//! Failures come back as a typed [`LlmError`] whose [`ErrorKind`] says whether a retry
//! can help and whose `retry_after` carries the provider's hint.
//!
//! What it does:
//! - joins the base URL and the kind's path, sets auth (`Authorization: Bearer` for OpenAI
//!   kinds, `x-api-key` + `anthropic-version` for Anthropic) and the configured extra headers;
//! - rotates several API keys round-robin and benches a key that hit a rate limit or quota
//!   ([`ProviderConfig::key_cooldown_default`]);
//! - frames SSE with `eventsource-stream`, ends a stream at `data: [DONE]`, turns in-stream
//!   error events into an `Err` item and enforces an idle timeout between bytes;
//! - classifies error responses ([`classify_error`], rules in the table of its module) and
//!   parses `Retry-After` / `retry-after-ms` ([`parse_retry_after`]).
//!
//! What it must not do:
//! - **No retries.** Every call makes exactly one HTTP request; retry policy, backoff and
//!   budgets belong to the caller, which has [`LlmError::is_retryable`] and `retry_after`.
//! - **No request building.** The body is sent byte for byte as given (the runtime splices
//!   provider items verbatim); the client never parses or re-serialises it.
//! - **No parsing beyond errors and SSE framing.** Successful bodies and event payloads
//!   are returned untouched; only error bodies and error events are read as JSON.
//! - **No key ever in an error, a `Debug`/`Display` output or a log.** [`ApiKey`] prints
//!   redacted, auth header values are marked sensitive, and error messages echoed by a
//!   server are scrubbed of the configured keys.
//! - No dependency on other Lightspeed crates, no clock or state shared with the engine.

mod classify;
mod client;
mod config;
mod error;
mod keys;
mod sse;

pub use classify::{classify_error, parse_retry_after, scrub_secrets};
pub use client::{EventStream, ProviderClient, RawResponse, SseEvent};
pub use config::{ApiKey, ApiKind, ProviderConfig, UnknownApiKind};
pub use error::{ErrorKind, LlmError};
