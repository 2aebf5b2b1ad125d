//! The Streamable HTTP client under rmcp: reqwest plus the credential header on every
//! request, and a record of HTTP failures so they can be classified.
//!
//! rmcp reports a 401 without `WWW-Authenticate` as an "unexpected server
//! response", and by the time a failure reaches the caller it is often only
//! "transport closed". Wrapping its `StreamableHttpClient` lets this crate see every
//! HTTP error as the backend returns it, before rmcp folds it away.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::stream::BoxStream;
use http::{HeaderName, HeaderValue};
use rmcp::model::{ClientJsonRpcMessage, GetMeta as _, JsonRpcMessage};
use rmcp::transport::streamable_http_client::{
    SseError, StreamableHttpClient, StreamableHttpError, StreamableHttpPostResponse,
    StreamableHttpResponseLimits,
};
use sse_stream::Sse;

use crate::error::{ErrorKind, McpError};

type HttpError = StreamableHttpError<reqwest::Error>;

/// A classified HTTP failure, as recorded by [`CredentialedClient`].
#[derive(Debug, Clone)]
pub(crate) struct HttpFailure {
    kind: ErrorKind,
    status: Option<u16>,
    detail: String,
    at: Instant,
}

impl HttpFailure {
    pub(crate) fn into_error(self) -> McpError {
        McpError::new(self.kind, self.detail).with_status(self.status)
    }

    /// Classifies what the reqwest backend returned; `None` for failures that are not
    /// the server's or the network's (a reserved header, an aborted stream).
    fn classify(error: &HttpError) -> Option<Self> {
        let (kind, status, detail) = match error {
            StreamableHttpError::AuthRequired(_) => (
                ErrorKind::Unauthorized,
                Some(401),
                "HTTP 401: the server requires authorisation".to_owned(),
            ),
            StreamableHttpError::InsufficientScope(_) => (
                ErrorKind::Unauthorized,
                Some(403),
                "HTTP 403: insufficient scope".to_owned(),
            ),
            StreamableHttpError::HttpStatus(error) => (
                ErrorKind::Server,
                Some(error.status),
                format!("HTTP {}", error.status),
            ),
            // rmcp formats an unchallenged 4xx as "HTTP <status> <reason>: <body>"; the
            // status is the one field read from it and the body is never kept.
            StreamableHttpError::UnexpectedServerResponse(text) => {
                let status = text
                    .strip_prefix("HTTP ")
                    .and_then(|rest| rest.get(..3))
                    .and_then(|code| code.parse::<u16>().ok());
                match status {
                    Some(status @ (401 | 403)) => (
                        ErrorKind::Unauthorized,
                        Some(status),
                        format!("HTTP {status}: the server refused the credential"),
                    ),
                    Some(status) if status >= 500 || status == 429 => {
                        (ErrorKind::Server, Some(status), format!("HTTP {status}"))
                    }
                    Some(status) => (
                        ErrorKind::Protocol,
                        Some(status),
                        format!("HTTP {status} from the MCP endpoint"),
                    ),
                    None => (
                        ErrorKind::Protocol,
                        None,
                        "unexpected response from the MCP endpoint".to_owned(),
                    ),
                }
            }
            StreamableHttpError::Client(error) => match error.status() {
                Some(status) => {
                    let status = status.as_u16();
                    let kind = match status {
                        401 | 403 => ErrorKind::Unauthorized,
                        429 | 500..=599 => ErrorKind::Server,
                        _ => ErrorKind::Protocol,
                    };
                    (kind, Some(status), format!("HTTP {status}"))
                }
                // reqwest's Display names the URL only; no header ever appears in it.
                None => (
                    ErrorKind::Transport,
                    None,
                    format!("HTTP request failed: {}", describe_reqwest(error)),
                ),
            },
            StreamableHttpError::Io(error) => (
                ErrorKind::Transport,
                None,
                format!("I/O error: {}", error.kind()),
            ),
            StreamableHttpError::Sse(_) | StreamableHttpError::UnexpectedEndOfStream => (
                ErrorKind::Transport,
                None,
                "the event stream from the server broke off".to_owned(),
            ),
            StreamableHttpError::SessionExpired => (
                ErrorKind::Transport,
                Some(404),
                "the server forgot the MCP session (HTTP 404)".to_owned(),
            ),
            StreamableHttpError::ResponseBodyTooLarge { max_size } => (
                ErrorKind::TooLarge,
                None,
                format!("a response exceeded {max_size} bytes"),
            ),
            StreamableHttpError::UnexpectedContentType(content_type) => (
                ErrorKind::Protocol,
                None,
                format!(
                    "unexpected content type {:?}",
                    content_type
                        .as_deref()
                        .map(|text| text.chars().take(64).collect::<String>())
                ),
            ),
            StreamableHttpError::Deserialize(_) => (
                ErrorKind::Protocol,
                None,
                "the server sent malformed JSON-RPC".to_owned(),
            ),
            _ => return None,
        };
        Some(Self {
            kind,
            status,
            detail,
            at: Instant::now(),
        })
    }
}

/// Connect, timeout or body failures, without reqwest's URL (it may hold a query).
fn describe_reqwest(error: &reqwest::Error) -> &'static str {
    if error.is_connect() {
        "could not connect"
    } else if error.is_timeout() {
        "timed out"
    } else if error.is_body() || error.is_decode() {
        "reading the response failed"
    } else if error.is_redirect() {
        "the server redirected (redirects are not followed)"
    } else {
        "the request failed"
    }
}

/// The newest HTTP failure of one connection.
#[derive(Debug, Default)]
pub(crate) struct FailureSlot(Mutex<Option<HttpFailure>>);

impl FailureSlot {
    fn record(&self, failure: HttpFailure) {
        // A poisoned lock only means a panic elsewhere mid-assignment; the slot
        // holds plain data, so keep using it.
        let mut slot = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        *slot = Some(failure);
    }

    /// The failure recorded since `since`, if any: an older one (an SSE stream that
    /// broke minutes ago) says nothing about this request.
    pub(crate) fn since(&self, since: Instant) -> Option<HttpFailure> {
        let slot = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        slot.as_ref().filter(|failure| failure.at >= since).cloned()
    }
}

/// reqwest with one credential header added to every request, failures recorded.
#[derive(Clone)]
pub(crate) struct CredentialedClient {
    inner: reqwest::Client,
    credential: Option<(HeaderName, HeaderValue)>,
    failures: Arc<FailureSlot>,
}

impl CredentialedClient {
    pub(crate) fn new(
        inner: reqwest::Client,
        credential: Option<(HeaderName, HeaderValue)>,
        failures: Arc<FailureSlot>,
    ) -> Self {
        Self {
            inner,
            credential,
            failures,
        }
    }

    fn headers(
        &self,
        mut custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> HashMap<HeaderName, HeaderValue> {
        if let Some((name, value)) = &self.credential {
            custom_headers.insert(name.clone(), value.clone());
        }
        custom_headers
    }

    /// [`Self::headers`] and the `traceparent` a request carries in its `_meta`
    /// (rmcp sends from a task of its own, where the caller's span is not current).
    fn message_headers(
        &self,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        message: &ClientJsonRpcMessage,
    ) -> HashMap<HeaderName, HeaderValue> {
        let mut headers = self.headers(custom_headers);
        if let JsonRpcMessage::Request(request) = message
            && let Some(traceparent) = request.request.get_meta().get_traceparent()
            && let Ok(value) = HeaderValue::from_str(traceparent)
        {
            headers.insert(HeaderName::from_static("traceparent"), value);
        }
        headers
    }

    fn observe<T>(&self, result: Result<T, HttpError>) -> Result<T, HttpError> {
        if let Err(error) = &result
            && let Some(failure) = HttpFailure::classify(error)
        {
            self.failures.record(failure);
        }
        result
    }
}

impl StreamableHttpClient for CredentialedClient {
    type Error = reqwest::Error;

    async fn post_message(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            StreamableHttpResponseLimits::default(),
        )
        .await
    }

    async fn post_message_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let mut limits = StreamableHttpResponseLimits::default();
        limits.max_sse_event_size = max_sse_event_size;
        self.post_message_with_response_limits(
            uri,
            message,
            session_id,
            auth_header,
            custom_headers,
            limits,
        )
        .await
    }

    async fn post_message_with_response_limits(
        &self,
        uri: Arc<str>,
        message: ClientJsonRpcMessage,
        session_id: Option<Arc<str>>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        limits: StreamableHttpResponseLimits,
    ) -> Result<StreamableHttpPostResponse, HttpError> {
        let headers = self.message_headers(custom_headers, &message);
        let result = self
            .inner
            .post_message_with_response_limits(
                uri,
                message,
                session_id,
                auth_header,
                headers,
                limits,
            )
            .await;
        self.observe(result)
    }

    async fn delete_session(
        &self,
        uri: Arc<str>,
        session_id: Arc<str>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<(), HttpError> {
        // A failed DELETE at close is no request's failure: not recorded.
        self.inner
            .delete_session(uri, session_id, auth_header, self.headers(custom_headers))
            .await
    }

    async fn get_stream(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        let result = self
            .inner
            .get_stream(
                uri,
                session_id,
                last_event_id,
                auth_header,
                self.headers(custom_headers),
            )
            .await;
        self.observe(result)
    }

    async fn get_stream_with_max_sse_event_size(
        &self,
        uri: Arc<str>,
        session_id: Option<Arc<str>>,
        last_event_id: Option<String>,
        auth_header: Option<String>,
        custom_headers: HashMap<HeaderName, HeaderValue>,
        max_sse_event_size: usize,
    ) -> Result<BoxStream<'static, Result<Sse, SseError>>, HttpError> {
        let result = self
            .inner
            .get_stream_with_max_sse_event_size(
                uri,
                session_id,
                last_event_id,
                auth_header,
                self.headers(custom_headers),
                max_sse_event_size,
            )
            .await;
        self.observe(result)
    }
}

#[cfg(test)]
mod tests {
    use rmcp::model::{CallToolRequest, CallToolRequestParams, ClientRequest, RequestId};

    use super::*;

    const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";

    fn client() -> CredentialedClient {
        CredentialedClient::new(
            reqwest::Client::new(),
            Some((
                HeaderName::from_static("authorization"),
                HeaderValue::from_static("Bearer t"),
            )),
            Arc::new(FailureSlot::default()),
        )
    }

    fn call(traceparent: Option<&str>) -> ClientJsonRpcMessage {
        let mut request = ClientRequest::CallToolRequest(CallToolRequest::new(
            CallToolRequestParams::new("echo"),
        ));
        if let Some(traceparent) = traceparent {
            request.get_meta_mut().set_traceparent(traceparent);
        }
        ClientJsonRpcMessage::request(request, RequestId::Number(1))
    }

    #[test]
    fn a_requests_traceparent_becomes_its_header_beside_the_credential() {
        let headers = client().message_headers(HashMap::new(), &call(Some(TRACEPARENT)));
        assert_eq!(
            headers[&HeaderName::from_static("traceparent")],
            TRACEPARENT
        );
        assert_eq!(
            headers[&HeaderName::from_static("authorization")],
            "Bearer t"
        );
        let headers = client().message_headers(HashMap::new(), &call(None));
        assert!(!headers.contains_key(&HeaderName::from_static("traceparent")));
    }

    #[test]
    fn a_traceparent_that_is_no_header_value_is_dropped() {
        let headers = client().message_headers(HashMap::new(), &call(Some("00-\n-evil")));
        assert!(!headers.contains_key(&HeaderName::from_static("traceparent")));
    }
}
