//! `LlmRuntime`: one generation, end to end. Load the request's blobs, let the API
//! kind's adapter build the native request, call the provider, store the request and
//! every output item in the CAS, and hand the engine only the facts.

use std::collections::BTreeMap;
use std::sync::Arc;

use engine::ToolCallId;
use engine::core::context::{ItemSpec, estimate_tokens};
use engine::core::effects::GenerationResult;
use engine::core::request::GenerationRequest;
use engine::core::run::ToolCallRequest;
use engine::store::BlobStore;
use futures::StreamExt;
use llm_clients::{ApiKind, ProviderClient};

use crate::adapter::{ApiAdapter, ParsedGeneration, StreamContext};
use crate::anthropic::AnthropicAdapter;
use crate::content::{LoadedRequest, OutputItemBlob};
use crate::error::RuntimeError;
use crate::openai_chat::ChatAdapter;
use crate::openai_responses::ResponsesAdapter;
use crate::pricing::PriceTable;
use crate::sink::DeltaSink;

/// The adapter of `kind`.
pub fn adapter_for(kind: ApiKind) -> &'static dyn ApiAdapter {
    match kind {
        ApiKind::OpenAiResponses => &ResponsesAdapter,
        ApiKind::OpenAiCompletions => &ChatAdapter,
        ApiKind::AnthropicMessages => &AnthropicAdapter,
    }
}

/// How to call the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// One JSON response.
    Blocking,
    /// SSE, with deltas forwarded to the sink as they arrive.
    Streaming,
}

/// Provider clients by provider id (deployment config: endpoints and keys never
/// enter the log or the CAS), and the prices their generations are costed at.
#[derive(Clone, Default)]
pub struct LlmRuntime {
    providers: BTreeMap<String, ProviderClient>,
    prices: Arc<PriceTable>,
}

impl LlmRuntime {
    /// A runtime over `clients`, pricing with the default table.
    pub fn new(clients: impl IntoIterator<Item = ProviderClient>) -> Self {
        let providers = clients
            .into_iter()
            .map(|client| (client.config().provider_id.clone(), client))
            .collect();
        Self {
            providers,
            prices: Arc::default(),
        }
    }

    /// Prices generations with `prices` instead of the default table.
    pub fn with_prices(mut self, prices: PriceTable) -> Self {
        self.prices = Arc::new(prices);
        self
    }

    pub fn prices(&self) -> &PriceTable {
        &self.prices
    }

    pub fn provider_ids(&self) -> impl Iterator<Item = &str> {
        self.providers.keys().map(String::as_str)
    }

    /// Transcribes `audio` (a voice note in `format`) with provider `provider_id`'s
    /// transcription endpoint and `model`; returns the text. One request, no
    /// retries (the caller has [`RuntimeError::is_retryable`]).
    pub async fn transcribe(
        &self,
        provider_id: &str,
        model: &str,
        format: crate::audio::AudioFormat,
        audio: Vec<u8>,
    ) -> Result<String, RuntimeError> {
        let client = self
            .providers
            .get(provider_id)
            .ok_or_else(|| RuntimeError::UnknownProvider(provider_id.to_owned()))?;
        let response = client
            .transcribe(audio.into(), format.file_name(), format.mime(), model)
            .await?;
        #[derive(serde::Deserialize)]
        struct Transcription {
            text: String,
        }
        serde_json::from_slice::<Transcription>(&response.body)
            .map(|transcription| transcription.text)
            .map_err(|err| RuntimeError::Decode(format!("transcription response: {err}")))
    }

    /// Runs the generation described by `request` (as rebuilt from the log).
    /// Provider errors come back as [`RuntimeError::Provider`] with their retry
    /// hints; the caller decides whether to retry.
    pub async fn generate<B: BlobStore>(
        &self,
        request: GenerationRequest,
        blobs: &B,
        transport: Transport,
        sink: &dyn DeltaSink,
    ) -> Result<GenerationResult, RuntimeError> {
        self.generate_hosted(request, blobs, transport, sink, &NoHostedMcp)
            .await
    }

    /// [`generate`](Self::generate) for a request that may host MCP servers at the
    /// provider: each one's header comes from `hosted` at send time, goes into the
    /// body that is sent, and is [`crate::content::REDACTED`] in the body stored.
    pub async fn generate_hosted<B: BlobStore>(
        &self,
        request: GenerationRequest,
        blobs: &B,
        transport: Transport,
        sink: &dyn DeltaSink,
        hosted: &dyn HostedMcpAuth,
    ) -> Result<GenerationResult, RuntimeError> {
        let (client, kind) = self.client_for(&request.model)?;
        let route = request.model.clone();
        let adapter = adapter_for(kind);
        let context = StreamContext {
            run_id: request.run_id.clone(),
            turn: request.turn,
        };
        let mut loaded = LoadedRequest::load(request, blobs).await?;
        let stream = transport == Transport::Streaming;
        let servers: Vec<String> = loaded
            .tools
            .iter()
            .filter_map(|tool| tool.hosted_mcp.as_ref().map(|server| server.server.clone()))
            .collect();
        // The stored body first, with every hosted server's header redacted; the provider
        // keys travel in headers, so nothing else in a body is a credential.
        let mut headers = std::collections::BTreeMap::new();
        for server in servers {
            if let Some(header) = hosted.header(&server).await? {
                headers.insert(server, header);
            }
        }
        loaded.hosted_headers = headers
            .iter()
            .map(|(server, header)| {
                // The scheme stays (a reader sees what kind of credential it was).
                let value = match header.bearer_token() {
                    Some(_) => format!("Bearer {}", crate::content::REDACTED),
                    None => crate::content::REDACTED.to_owned(),
                };
                let redacted = crate::content::HostedHeader {
                    name: header.name.clone(),
                    value,
                };
                (server.clone(), redacted)
            })
            .collect();
        let stored = adapter.materialize(&loaded, stream)?;
        let request_ref = blobs.put(stored.clone()).await?;
        let body = if headers.is_empty() {
            stored
        } else {
            loaded.hosted_headers = headers;
            adapter.materialize(&loaded, stream)?
        };
        let request_headers = adapter.request_headers(&loaded);
        let parsed = match transport {
            Transport::Blocking => {
                let response = client.create_with(body.into(), &request_headers).await?;
                adapter.parse_response(&response.body)?
            }
            Transport::Streaming => {
                let mut events = client.stream_with(body.into(), &request_headers).await?;
                let mut assembler = adapter.stream_assembler(context);
                while let Some(event) = events.next().await {
                    assembler.on_event(&event?, sink)?;
                }
                assembler.finish()?
            }
        };
        let mut result = store_generation(kind, parsed, blobs).await?;
        result.request_ref = Some(request_ref);
        // Priced here, once, as the result comes back: the turn records the cost, so
        // a later change of prices never changes history (docs/spec/cost.md).
        result.usage = self
            .prices
            .priced(&route.provider_id, kind, &route.model, result.usage);
        Ok(result)
    }
}

impl LlmRuntime {
    /// The client serving `route`, which must speak the route's API kind.
    fn client_for(
        &self,
        route: &engine::core::config::ModelRoute,
    ) -> Result<(&ProviderClient, ApiKind), RuntimeError> {
        let client = self
            .providers
            .get(&route.provider_id)
            .ok_or_else(|| RuntimeError::UnknownProvider(route.provider_id.clone()))?;
        let kind: ApiKind = route
            .api_kind
            .parse()
            .map_err(|_| RuntimeError::UnknownApiKind(route.api_kind.clone()))?;
        if client.config().api_kind != kind {
            return Err(RuntimeError::ApiKindMismatch {
                provider_id: route.provider_id.clone(),
                configured: client.config().api_kind.to_string(),
                requested: kind.to_string(),
            });
        }
        Ok((client, kind))
    }

    /// Standalone native compaction (`openai:responses`, `POST /responses/compact`):
    /// the request's transcript (its unkeyed items; instructions and catalogs stay in
    /// the session as they are) goes to the provider, whose compacted window comes back
    /// as items that replace the transcript: each stored verbatim as kind
    /// `compaction`, in the provider's order. `instruction` is added to the
    /// instructions sent. Other API kinds have no such endpoint:
    /// [`RuntimeError::Unsupported`].
    pub async fn compact_native<B: BlobStore>(
        &self,
        mut request: GenerationRequest,
        instruction: Option<&str>,
        blobs: &B,
    ) -> Result<Vec<ItemSpec>, RuntimeError> {
        let (client, kind) = self.client_for(&request.model)?;
        if kind != ApiKind::OpenAiResponses {
            return Err(RuntimeError::Unsupported {
                api_kind: kind.as_str(),
                reason: "no standalone compaction endpoint".into(),
            });
        }
        let instructions: Vec<_> = request
            .items
            .iter()
            .filter(|item| item.kind == engine::core::context::ItemKind::Instructions)
            .cloned()
            .collect();
        request.items.retain(|item| item.key.is_none());
        request.items.splice(0..0, instructions);
        let loaded = LoadedRequest::load(request, blobs).await?;
        let full = adapter_for(kind).materialize(&loaded, false)?;
        let full: serde_json::Value =
            serde_json::from_slice(&full).map_err(|err| RuntimeError::Encode(err.to_string()))?;
        let mut body = serde_json::json!({"model": full["model"], "input": full["input"]});
        let mut instructions = full["instructions"].as_str().unwrap_or_default().to_owned();
        if let Some(instruction) = instruction {
            if !instructions.is_empty() {
                instructions.push_str("\n\n");
            }
            instructions.push_str("When compacting, keep in particular: ");
            instructions.push_str(instruction);
        }
        if !instructions.is_empty() {
            body["instructions"] = serde_json::Value::String(instructions);
        }
        let body =
            serde_json::to_vec(&body).map_err(|err| RuntimeError::Encode(err.to_string()))?;
        let response = client.compact(body.into()).await?;
        #[derive(serde::Deserialize)]
        struct Compacted {
            output: Vec<Box<serde_json::value::RawValue>>,
        }
        let compacted: Compacted = serde_json::from_slice(&response.body)
            .map_err(|err| RuntimeError::Decode(format!("{kind} compact: {err}")))?;
        if compacted.output.is_empty() {
            return Err(RuntimeError::Decode(format!(
                "{kind} compact: the compacted window is empty"
            )));
        }
        let mut items = Vec::with_capacity(compacted.output.len());
        for raw in compacted.output {
            let envelope = OutputItemBlob {
                api_kind: kind.to_string(),
                item: raw,
            };
            let token_estimate = estimate_tokens(envelope.item.get().as_bytes());
            let content_ref = blobs.put(envelope.to_bytes()?).await?;
            items.push(ItemSpec::new(
                engine::core::context::ItemKind::Compaction,
                content_ref,
                token_estimate,
            ));
        }
        Ok(items)
    }
}

/// Where the credentials of provider-hosted MCP servers come from at send time.
pub trait HostedMcpAuth: Send + Sync {
    /// The header `server`'s requests carry (none: it needs none).
    fn header<'a>(
        &'a self,
        server: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<crate::content::HostedHeader>, RuntimeError>>;
}

/// No hosted MCP credentials: every hosted server is sent without a header.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoHostedMcp;

impl HostedMcpAuth for NoHostedMcp {
    fn header<'a>(
        &'a self,
        _server: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<crate::content::HostedHeader>, RuntimeError>>
    {
        Box::pin(std::future::ready(Ok(None)))
    }
}

fn tool_call_id(raw: &str) -> Result<ToolCallId, RuntimeError> {
    ToolCallId::new(raw).map_err(|err| RuntimeError::Decode(format!("tool call id {raw:?}: {err}")))
}

/// Stores every output item (verbatim, in an envelope) and every call's arguments,
/// and returns the facts.
pub async fn store_generation<B: BlobStore>(
    kind: ApiKind,
    parsed: ParsedGeneration,
    blobs: &B,
) -> Result<GenerationResult, RuntimeError> {
    let mut items = Vec::with_capacity(parsed.items.len());
    let mut tool_calls = Vec::new();
    for item in parsed.items {
        let envelope = OutputItemBlob {
            api_kind: kind.to_string(),
            item: item.raw,
        };
        let bytes = envelope.to_bytes()?;
        let token_estimate = estimate_tokens(envelope.item.get().as_bytes());
        let content_ref = blobs.put(bytes).await?;
        let mut spec = ItemSpec::new(item.kind, content_ref, token_estimate);
        if let [call] = item.calls.as_slice() {
            spec.call_id = Some(tool_call_id(&call.call_id)?);
        }
        items.push(spec);
        for call in item.calls {
            let arguments_ref = blobs.put(call.arguments.into_bytes()).await?;
            tool_calls.push(ToolCallRequest {
                call_id: tool_call_id(&call.call_id)?,
                name: call.name,
                arguments_ref,
            });
        }
    }
    Ok(GenerationResult {
        usage: parsed.usage,
        response_id: parsed.response_id,
        items,
        tool_calls,
        finish_reason: Some(parsed.finish_reason),
        context_tokens: parsed.context_tokens,
        request_ref: None,
        context_refresh: Default::default(),
    })
}
