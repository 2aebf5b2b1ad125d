//! [`ProviderClient`]: one HTTP request per call, to the endpoint of the configured kind.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};

use crate::classify::{classify_error, request_id_header};
use crate::config::{ApiKind, ProviderConfig};
use crate::error::{ErrorKind, LlmError};
use crate::keys::KeyPool;
use crate::sse;

/// A successful (2xx) non-streaming response, body untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// The HTTP status (2xx).
    pub status: u16,
    /// `x-request-id` (OpenAI) or `request-id` (Anthropic) header.
    pub request_id: Option<String>,
    /// The response body as received.
    pub body: Bytes,
}

/// One server-sent event, payload untouched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, or `"message"` when the stream gave none (Chat Completions).
    pub event: String,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// Events of one streaming response. Ends after `[DONE]`, at the end of the body, or right
/// after its first `Err` item (error event, idle timeout, transport or framing failure).
pub type EventStream = Pin<Box<dyn futures::Stream<Item = Result<SseEvent, LlmError>> + Send>>;

/// Quota exhaustion does not refill in seconds: bench the key this many default cooldowns.
const QUOTA_COOLDOWN_FACTOR: u32 = 10;
/// Only the start of an error body is read; classification needs a few hundred bytes.
const ERROR_BODY_BYTES_MAX: usize = 64 * 1024;

/// An HTTP client for one provider. Cheap to clone (shares one connection pool and one
/// key-cooldown table); `Send + Sync`.
#[derive(Clone)]
pub struct ProviderClient {
    inner: Arc<Inner>,
}

struct Inner {
    config: ProviderConfig,
    http: reqwest::Client,
    endpoint_url: Url,
    /// Anthropic only.
    count_tokens_url: Option<Url>,
    compact_url: Option<Url>,
    transcriptions_url: Option<Url>,
    auth_header: HeaderName,
    /// Per key, the full auth header value, marked sensitive.
    auth_values: Vec<HeaderValue>,
    anthropic_version: Option<HeaderValue>,
    extra_headers: Vec<(HeaderName, HeaderValue)>,
    keys: KeyPool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Create,
    Stream,
}

/// A request body: JSON bytes sent as given, or a multipart form (transcriptions).
enum Body {
    Json(Bytes),
    Form(reqwest::multipart::Form),
}

impl ProviderClient {
    /// Validates the config (base URL, key and header values) and builds the HTTP client.
    /// Invalid config gives an `InvalidRequest` error that names no key or header value.
    pub fn new(config: ProviderConfig) -> Result<Self, LlmError> {
        let invalid = |what: String| {
            LlmError::new(
                ErrorKind::InvalidRequest,
                format!("provider {:?}: {what}", config.provider_id),
            )
        };
        let base = parse_base_url(&config.base_url).map_err(&invalid)?;
        let join = |path: &str| {
            Url::parse(&format!("{base}{path}"))
                .map_err(|err| invalid(format!("invalid endpoint URL: {err}")))
        };
        let transcriptions_url = match config.api_kind {
            ApiKind::OpenAiResponses | ApiKind::OpenAiCompletions => {
                Some(join("/audio/transcriptions")?)
            }
            ApiKind::AnthropicMessages => None,
        };
        let (endpoint_url, count_tokens_url, compact_url) = match config.api_kind {
            ApiKind::OpenAiResponses => {
                (join("/responses")?, None, Some(join("/responses/compact")?))
            }
            ApiKind::OpenAiCompletions => (join("/chat/completions")?, None, None),
            ApiKind::AnthropicMessages => (
                join("/v1/messages")?,
                Some(join("/v1/messages/count_tokens")?),
                None,
            ),
        };
        let auth_header = if config.api_kind.is_anthropic() {
            HeaderName::from_static("x-api-key")
        } else {
            AUTHORIZATION
        };
        let mut auth_values = Vec::with_capacity(config.api_keys.len());
        for (index, key) in config.api_keys.iter().enumerate() {
            let value = if config.api_kind.is_anthropic() {
                HeaderValue::from_str(key.expose())
            } else {
                HeaderValue::from_str(&format!("Bearer {}", key.expose()))
            };
            let mut value = value
                .map_err(|_| invalid(format!("api key #{index} is not a valid header value")))?;
            value.set_sensitive(true);
            auth_values.push(value);
        }
        let anthropic_version = match config.api_kind.is_anthropic() {
            true => Some(
                HeaderValue::from_str(&config.anthropic_version).map_err(|_| {
                    invalid("anthropic_version is not a valid header value".to_owned())
                })?,
            ),
            false => None,
        };
        let mut extra_headers = Vec::with_capacity(config.extra_headers.len());
        for (name, value) in &config.extra_headers {
            let header_name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| invalid(format!("invalid extra header name {name:?}")))?;
            // The value may be a secret (a proxy token): name it, never print it.
            let mut header_value = HeaderValue::from_str(value)
                .map_err(|_| invalid(format!("extra header {name:?} has an invalid value")))?;
            header_value.set_sensitive(true);
            extra_headers.push((header_name, header_value));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!(
                "lightspeed-llm-clients/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|err| LlmError::from_reqwest(&err))?;
        let keys = KeyPool::new(config.api_keys.len());
        let inner = Inner {
            config,
            http,
            endpoint_url,
            count_tokens_url,
            compact_url,
            transcriptions_url,
            auth_header,
            auth_values,
            anthropic_version,
            extra_headers,
            keys,
        };
        Ok(ProviderClient {
            inner: Arc::new(inner),
        })
    }

    /// The config this client was built from.
    pub fn config(&self) -> &ProviderConfig {
        &self.inner.config
    }

    /// How many API keys rotate (0: requests carry no auth header).
    pub fn key_count(&self) -> usize {
        self.inner.keys.key_count()
    }

    /// POSTs `body` to the kind's endpoint (`{base}/responses`, `{base}/chat/completions`,
    /// `{base}/v1/messages`) and returns the 2xx body. Non-2xx -> classified `Err`.
    pub async fn create(&self, body: Bytes) -> Result<RawResponse, LlmError> {
        self.create_with(body, &[]).await
    }

    /// [`create`](Self::create) with request headers of this request only (fixed
    /// names and values, e.g. a beta flag a request's features need).
    pub async fn create_with(
        &self,
        body: Bytes,
        request_headers: &[(&'static str, &'static str)],
    ) -> Result<RawResponse, LlmError> {
        self.post_for_body(&self.inner.endpoint_url, body, request_headers)
            .await
    }

    /// Like [`create`](Self::create) for a body with `"stream": true`. Returns once the
    /// response headers arrived (non-2xx -> classified `Err`).
    pub async fn stream(&self, body: Bytes) -> Result<EventStream, LlmError> {
        self.stream_with(body, &[]).await
    }

    /// [`stream`](Self::stream) with request headers of this request only.
    pub async fn stream_with(
        &self,
        body: Bytes,
        request_headers: &[(&'static str, &'static str)],
    ) -> Result<EventStream, LlmError> {
        let inner = &self.inner;
        let (key, response) = inner
            .send(
                &inner.endpoint_url,
                Body::Json(body),
                Mode::Stream,
                request_headers,
            )
            .await?;
        let request_id = request_id_header(response.headers());
        let is_json = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        if is_json {
            // Some compatible servers answer a stream request with a 200 JSON error.
            let headers = response.headers().clone();
            let body = read_body_prefix(response, inner.config.request_timeout).await;
            let error = if sse::is_error_payload(&String::from_utf8_lossy(&body)) {
                classify_error(None, Some(&headers), &body)
            } else {
                let message = "stream request answered with application/json, not SSE";
                LlmError::new(ErrorKind::Decode, message)
            };
            return Err(inner.finish_error(key, error));
        }
        let hook_inner = Arc::clone(inner);
        let on_error: sse::ErrorHook = Box::new(move |error| hook_inner.after_error(key, error));
        let idle_timeout = inner.config.stream_idle_timeout;
        Ok(sse::event_stream(
            response,
            idle_timeout,
            request_id,
            on_error,
        ))
    }

    /// OpenAI Responses only: POSTs `body` to `{base}/responses/compact`, the standalone
    /// compaction endpoint, and returns the 2xx body (the compacted window).
    pub async fn compact(&self, body: Bytes) -> Result<RawResponse, LlmError> {
        let Some(url) = &self.inner.compact_url else {
            return Err(LlmError::new(
                ErrorKind::InvalidRequest,
                "responses/compact is an openai:responses endpoint",
            ));
        };
        self.post_for_body(url, body, &[]).await
    }

    /// Anthropic only: POSTs `body` to `{base}/v1/messages/count_tokens`.
    pub async fn count_tokens(&self, body: Bytes) -> Result<RawResponse, LlmError> {
        let Some(url) = &self.inner.count_tokens_url else {
            return Err(LlmError::new(
                ErrorKind::InvalidRequest,
                "count_tokens is an anthropic:messages endpoint",
            ));
        };
        self.post_for_body(url, body, &[]).await
    }

    /// OpenAI kinds only: POSTs `audio` as `multipart/form-data` to
    /// `{base}/audio/transcriptions` (fields `file`, named `file_name` with type
    /// `mime`, `model` and `response_format=json`) and returns the 2xx body,
    /// `{"text": ...}`.
    pub async fn transcribe(
        &self,
        audio: Bytes,
        file_name: &'static str,
        mime: &'static str,
        model: &str,
    ) -> Result<RawResponse, LlmError> {
        let Some(url) = &self.inner.transcriptions_url else {
            return Err(LlmError::new(
                ErrorKind::InvalidRequest,
                "audio/transcriptions is an OpenAI endpoint",
            ));
        };
        let file = reqwest::multipart::Part::stream_with_length(audio.clone(), audio.len() as u64)
            .file_name(file_name)
            .mime_str(mime)
            .map_err(|err| LlmError::new(ErrorKind::InvalidRequest, err.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", model.to_owned())
            .text("response_format", "json");
        self.post_body(url, Body::Form(form), &[]).await
    }

    async fn post_for_body(
        &self,
        url: &Url,
        body: Bytes,
        request_headers: &[(&'static str, &'static str)],
    ) -> Result<RawResponse, LlmError> {
        self.post_body(url, Body::Json(body), request_headers).await
    }

    async fn post_body(
        &self,
        url: &Url,
        body: Body,
        request_headers: &[(&'static str, &'static str)],
    ) -> Result<RawResponse, LlmError> {
        let inner = &self.inner;
        let (key, response) = inner.send(url, body, Mode::Create, request_headers).await?;
        let status = response.status().as_u16();
        let request_id = request_id_header(response.headers());
        match response.bytes().await {
            Ok(body) => Ok(RawResponse {
                status,
                request_id,
                body,
            }),
            Err(err) => {
                let mut error = LlmError::from_reqwest(&err);
                error.status = Some(status);
                error.request_id = request_id;
                Err(inner.finish_error(key, error))
            }
        }
    }
}

impl fmt::Debug for ProviderClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let config = &self.inner.config;
        f.debug_struct("ProviderClient")
            .field("provider_id", &config.provider_id)
            .field("api_kind", &config.api_kind)
            .field("endpoint_url", &self.inner.endpoint_url.as_str())
            .field("key_count", &self.key_count())
            .finish_non_exhaustive()
    }
}

impl Inner {
    /// Sends one request; a 2xx response comes back with the key index used.
    async fn send(
        &self,
        url: &Url,
        body: Body,
        mode: Mode,
        request_headers: &[(&'static str, &'static str)],
    ) -> Result<(Option<usize>, reqwest::Response), LlmError> {
        let key = self.keys.pick(Instant::now());
        let mut headers = self.headers(key, mode);
        if matches!(body, Body::Form(_)) {
            // The form sets its own `multipart/form-data; boundary=...`.
            headers.remove(CONTENT_TYPE);
        }
        for (name, value) in request_headers {
            headers.append(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        // The caller's span (a generation's provider call) as the request's parent.
        telemetry::traces::inject(&mut headers);
        let request = self.http.post(url.clone()).headers(headers);
        let request = match body {
            Body::Json(bytes) => request.body(bytes),
            Body::Form(form) => request.multipart(form),
        };
        let timeout = self.config.request_timeout;
        let sent = match mode {
            // reqwest's per-request timeout covers the whole exchange, body included.
            Mode::Create => request.timeout(timeout).send().await,
            // A stream body may run for long: bound only the wait for headers.
            Mode::Stream => match tokio::time::timeout(timeout, request.send()).await {
                Ok(sent) => sent,
                Err(_elapsed) => {
                    let message = format!("no response headers within {timeout:?}");
                    return Err(self.finish_error(key, LlmError::new(ErrorKind::Timeout, message)));
                }
            },
        };
        let response = sent.map_err(|err| self.finish_error(key, LlmError::from_reqwest(&err)))?;
        let status = response.status();
        if status.is_success() {
            if let Some(key) = key {
                self.keys.clear(key);
            }
            return Ok((key, response));
        }
        let headers = response.headers().clone();
        let body = read_body_prefix(response, timeout).await;
        let error = classify_error(Some(status.as_u16()), Some(&headers), &body);
        Err(self.finish_error(key, error))
    }

    /// content-type, accept (streams), auth, anthropic-version, then the extra headers.
    fn headers(&self, key: Option<usize>, mode: Mode) -> HeaderMap {
        let mut headers = HeaderMap::with_capacity(4 + self.extra_headers.len());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if mode == Mode::Stream {
            headers.insert(ACCEPT, HeaderValue::from_static("text/event-stream"));
        }
        if let Some(value) = key.and_then(|key| self.auth_values.get(key)) {
            headers.insert(self.auth_header.clone(), value.clone());
        }
        if let Some(version) = &self.anthropic_version {
            headers.insert(
                HeaderName::from_static("anthropic-version"),
                version.clone(),
            );
        }
        for (name, value) in &self.extra_headers {
            headers.append(name.clone(), value.clone());
        }
        headers
    }

    fn finish_error(&self, key: Option<usize>, mut error: LlmError) -> LlmError {
        self.after_error(key, &mut error);
        error
    }

    /// Benches a rate-limited key and scrubs any configured key a server echoed back.
    fn after_error(&self, key: Option<usize>, error: &mut LlmError) {
        if let (Some(key), ErrorKind::RateLimited | ErrorKind::QuotaExhausted) = (key, error.kind) {
            let default = self.config.key_cooldown_default;
            let cooldown = if error.is_quota_exhausted() {
                let quota = default.saturating_mul(QUOTA_COOLDOWN_FACTOR);
                error
                    .retry_after
                    .map_or(quota, |retry_after| retry_after.max(quota))
            } else {
                error.retry_after.unwrap_or(default)
            };
            self.keys.cool_down(key, Instant::now(), cooldown);
        }
        for api_key in &self.config.api_keys {
            if !api_key.expose().is_empty() && error.message.contains(api_key.expose()) {
                error.message = error.message.replace(api_key.expose(), &api_key.redacted());
            }
        }
    }
}

/// A base URL without trailing slashes; http(s), with a host, no query or fragment.
fn parse_base_url(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let url = Url::parse(trimmed).map_err(|err| format!("invalid base_url {raw:?}: {err}"))?;
    let problem = if !matches!(url.scheme(), "http" | "https") {
        Some("scheme must be http or https")
    } else if url.host().is_none() {
        Some("no host")
    } else if url.query().is_some() || url.fragment().is_some() {
        Some("no query or fragment allowed")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(format!("invalid base_url {raw:?}: {problem}")),
        None => Ok(trimmed.to_owned()),
    }
}

/// At most [`ERROR_BODY_BYTES_MAX`] bytes of the body, whatever arrived within `timeout`.
async fn read_body_prefix(mut response: reqwest::Response, timeout: Duration) -> Vec<u8> {
    let mut body = Vec::new();
    let read = async {
        while let Ok(Some(chunk)) = response.chunk().await {
            let room = ERROR_BODY_BYTES_MAX - body.len();
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= ERROR_BODY_BYTES_MAX {
                break;
            }
        }
    };
    // A timeout keeps what was read so far.
    let _ = tokio::time::timeout(timeout, read).await;
    body
}
