//! A typed wrapper over the gateway's JSON-RPC methods, and [`Follow`], a session's
//! notifications over WebSocket that reconnects and resumes from the last cursor.
//!
//! Calls go over HTTP (`POST {url}/rpc`); subscriptions over WebSocket on the same
//! path. Errors are [`ClientError`]s: an answer from the gateway (`Api`, with the
//! contract's code and typed data) or a failure to get one (`Connection`).

mod follow;
mod vfs;

use std::time::Duration;

use api::ErrorData;
use api::types::events::*;
use api::types::initialize::*;
use api::types::run::*;
use api::types::session::*;
use jsonrpsee::core::ClientError as RpcError;
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::core::traits::ToRpcParams;
use jsonrpsee::http_client::{HeaderMap, HeaderValue, HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

pub use follow::{Connection, Follow, FollowLimits, FollowUpdate, Transport};
pub use vfs::HAS_MANY_REFS_MAX;

/// Event kinds the CLI tells apart (`EventView::kind`).
pub mod kinds {
    pub const RUN_FINISHED: &str = "lightspeed.core.run.finished";
    pub const STEER_APPLIED: &str = "lightspeed.core.run.steer_applied";
    pub const TURN_COMPLETED: &str = "lightspeed.core.turn.completed";
    pub const TURN_FAILED: &str = "lightspeed.core.turn.failed";
}

/// How long one HTTP call may take. Above the longest `session/events/read` wait
/// (30 s) so a long poll is never cut by the client.
const REQUEST_TIMEOUT_MS: u64 = 45_000;
/// How long one blob transfer may take (64 MiB on a slow link).
const BLOB_TIMEOUT_MS: u64 = 600_000;
/// How long opening a connection may take.
const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// Why a call got no usable answer.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid API URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("cannot reach the gateway at {url}: {message}")]
    Connection { url: String, message: String },
    /// The gateway answered with a JSON-RPC error.
    #[error("{method}: {message} (code {code}{})", reason_suffix(.data))]
    Api {
        method: String,
        code: i32,
        message: String,
        data: Option<ErrorData>,
    },
    #[error("{method}: the gateway's answer does not fit the contract: {message}")]
    Decode { method: String, message: String },
}

fn reason_suffix(data: &Option<ErrorData>) -> String {
    match data.as_ref().and_then(|data| data.reason.as_deref()) {
        Some(reason) => format!(", {reason}"),
        None => String::new(),
    }
}

impl ClientError {
    /// True when the gateway could not be reached (worth retrying), false when it
    /// answered (retrying the same request gets the same answer).
    pub fn is_connection(&self) -> bool {
        match self {
            Self::Connection { .. } => true,
            Self::InvalidUrl { .. } | Self::Api { .. } | Self::Decode { .. } => false,
        }
    }

    /// The contract's reason for an API error, e.g. `sessionNotFound`.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Api { data, .. } => data.as_ref().and_then(|data| data.reason.as_deref()),
            Self::InvalidUrl { .. } | Self::Connection { .. } | Self::Decode { .. } => None,
        }
    }
}

/// Where the gateway's JSON-RPC endpoint is, over HTTP and over WebSocket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub http_url: String,
    pub ws_url: String,
}

impl Endpoint {
    /// From a base URL (`http://host:port`) or the endpoint itself (`.../rpc`).
    pub fn parse(api_url: &str) -> Result<Self, ClientError> {
        let invalid = |reason: &str| ClientError::InvalidUrl {
            url: api_url.to_owned(),
            reason: reason.to_owned(),
        };
        let trimmed = api_url.trim().trim_end_matches('/');
        let (http_scheme, ws_scheme, rest) = if let Some(rest) = trimmed.strip_prefix("http://") {
            ("http://", "ws://", rest)
        } else if let Some(rest) = trimmed.strip_prefix("https://") {
            ("https://", "wss://", rest)
        } else {
            return Err(invalid("it must start with http:// or https://"));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("it names no host"));
        }
        let path = match rest.ends_with("/rpc") {
            true => rest.to_owned(),
            false => format!("{rest}/rpc"),
        };
        let (http_url, ws_url) = (format!("{http_scheme}{path}"), format!("{ws_scheme}{path}"));
        Ok(Self { http_url, ws_url })
    }

    /// The raw blob route of `blob_ref`, next to `/rpc`.
    pub fn blob_url(&self, blob_ref: &str) -> String {
        let base = self.http_url.strip_suffix("/rpc").unwrap_or(&self.http_url);
        format!("{base}/blobs/{blob_ref}")
    }
}

/// Params serialized once into the raw JSON jsonrpsee sends.
struct RawParams(Box<RawValue>);

impl ToRpcParams for RawParams {
    fn to_rpc_params(self) -> Result<Option<Box<RawValue>>, serde_json::Error> {
        Ok(Some(self.0))
    }
}

/// A connection to one gateway with one API key. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Client {
    endpoint: Endpoint,
    headers: HeaderMap,
    http: HttpClient,
    /// Plain HTTP for the raw blob routes.
    raw: reqwest::Client,
}

impl Client {
    /// Builds the client; nothing is sent until the first call.
    pub fn new(api_url: &str, api_key: Option<&str>) -> Result<Self, ClientError> {
        let endpoint = Endpoint::parse(api_url)?;
        let mut headers = HeaderMap::new();
        if let Some(key) = api_key.filter(|key| !key.is_empty()) {
            // The key is never echoed back: only that it is malformed.
            let value = HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| {
                ClientError::InvalidUrl {
                    url: api_url.to_owned(),
                    reason: "the API key holds characters a header cannot carry".into(),
                }
            })?;
            headers.insert("authorization", value);
        }
        let http = HttpClientBuilder::default()
            .set_headers(headers.clone())
            .request_timeout(Duration::from_millis(REQUEST_TIMEOUT_MS))
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .build(&endpoint.http_url)
            .map_err(|err| ClientError::InvalidUrl {
                url: api_url.to_owned(),
                reason: err.to_string(),
            })?;
        let raw = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .timeout(Duration::from_millis(BLOB_TIMEOUT_MS))
            .build()
            .map_err(|err| ClientError::InvalidUrl {
                url: api_url.to_owned(),
                reason: err.to_string(),
            })?;
        Ok(Self {
            endpoint,
            headers,
            http,
            raw,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Calls `method` with `params`, decoding the result as `R`.
    pub async fn call<P: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        params: &P,
    ) -> Result<R, ClientError> {
        let raw = serde_json::value::to_raw_value(params).map_err(|err| ClientError::Decode {
            method: method.to_owned(),
            message: format!("encoding the params failed: {err}"),
        })?;
        self.http
            .request(method, RawParams(raw))
            .await
            .map_err(|err| self.error(method, err))
    }

    fn error(&self, method: &str, err: RpcError) -> ClientError {
        rpc_error(&self.endpoint.http_url, method, err)
    }

    pub async fn initialize(&self) -> Result<InitializeResult, ClientError> {
        let params = InitializeParams {
            client_name: Some("lightspeed-cli".into()),
            client_version: Some(env!("CARGO_PKG_VERSION").into()),
        };
        self.call("initialize", &params).await
    }

    pub async fn session_start(
        &self,
        params: &SessionStartParams,
    ) -> Result<SessionView, ClientError> {
        self.call("session/start", params).await
    }

    pub async fn session_read(&self, session_id: &str) -> Result<SessionView, ClientError> {
        let params = SessionRef {
            session_id: session_id.to_owned(),
        };
        self.call("session/read", &params).await
    }

    pub async fn session_fork(
        &self,
        params: &SessionForkParams,
    ) -> Result<SessionView, ClientError> {
        self.call("session/fork", params).await
    }

    pub async fn session_list(
        &self,
        params: &SessionListParams,
    ) -> Result<SessionListResult, ClientError> {
        self.call("session/list", params).await
    }

    pub async fn session_update(
        &self,
        params: &SessionUpdateParams,
    ) -> Result<SessionView, ClientError> {
        self.call("session/update", params).await
    }

    pub async fn events_read(
        &self,
        params: &SessionEventsReadParams,
    ) -> Result<SessionEventsReadResult, ClientError> {
        self.call("session/events/read", params).await
    }

    pub async fn run_start(&self, params: &RunStartParams) -> Result<RunStartResult, ClientError> {
        self.call("run/start", params).await
    }

    pub async fn run_cancel(&self, params: &RunCancelParams) -> Result<RunAccepted, ClientError> {
        self.call("run/cancel", params).await
    }

    pub async fn run_steer(&self, params: &RunSteerParams) -> Result<RunAccepted, ClientError> {
        self.call("run/steer", params).await
    }

    /// Opens a WebSocket and subscribes to `session_id` from `cursor`. The client
    /// must be kept alive as long as the subscription is read.
    pub async fn subscribe(
        &self,
        session_id: &str,
        cursor: u64,
    ) -> Result<(WsClient, Subscription<SessionNotification>), ClientError> {
        const METHOD: &str = "session/subscribe";
        let ws = WsClientBuilder::default()
            .set_headers(self.headers.clone())
            .connection_timeout(Duration::from_millis(CONNECT_TIMEOUT_MS))
            .build(&self.endpoint.ws_url)
            .await
            .map_err(|err| rpc_error(&self.endpoint.ws_url, METHOD, err))?;
        let params = SessionSubscribeParams {
            session_id: session_id.to_owned(),
            cursor,
            deltas: Some(true),
        };
        let raw = serde_json::value::to_raw_value(&params).map_err(|err| ClientError::Decode {
            method: METHOD.into(),
            message: err.to_string(),
        })?;
        let subscription = ws
            .subscribe(METHOD, RawParams(raw), "session/unsubscribe")
            .await
            .map_err(|err| rpc_error(&self.endpoint.ws_url, METHOD, err))?;
        Ok((ws, subscription))
    }

    /// Follows `session_id` after `cursor` on its own task, starting with
    /// `transport` (WebSocket falls back to long polls when unavailable); see [`Follow`].
    pub fn follow(
        &self,
        session_id: &str,
        cursor: u64,
        transport: Transport,
        limits: FollowLimits,
    ) -> Follow {
        Follow::start(
            self.clone(),
            session_id.to_owned(),
            cursor,
            transport,
            limits,
        )
    }
}

fn rpc_error(url: &str, method: &str, err: RpcError) -> ClientError {
    let connection = |message: String| ClientError::Connection {
        url: url.to_owned(),
        message,
    };
    match err {
        RpcError::Call(object) => ClientError::Api {
            method: method.to_owned(),
            code: object.code(),
            message: object.message().to_owned(),
            data: object
                .data()
                .and_then(|raw| serde_json::from_str::<ErrorData>(raw.get()).ok()),
        },
        RpcError::ParseError(err) => ClientError::Decode {
            method: method.to_owned(),
            message: err.to_string(),
        },
        RpcError::Transport(err) => connection(err.to_string()),
        RpcError::RestartNeeded(err) => connection(format!("the connection closed ({err})")),
        RpcError::RequestTimeout => connection("the request timed out".into()),
        RpcError::ServiceDisconnect => connection("the connection closed".into()),
        RpcError::InvalidSubscriptionId
        | RpcError::InvalidRequestId(_)
        | RpcError::Custom(_)
        | RpcError::HttpNotImplemented
        | RpcError::EmptyBatchRequest(_)
        | RpcError::RegisterMethod(_) => ClientError::Decode {
            method: method.to_owned(),
            message: err.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_base_urls_and_rpc_urls() {
        for (input, http, ws) in [
            (
                "http://127.0.0.1:18080",
                "http://127.0.0.1:18080/rpc",
                "ws://127.0.0.1:18080/rpc",
            ),
            (
                "http://127.0.0.1:18080/",
                "http://127.0.0.1:18080/rpc",
                "ws://127.0.0.1:18080/rpc",
            ),
            (
                "https://api.example.com/rpc",
                "https://api.example.com/rpc",
                "wss://api.example.com/rpc",
            ),
            (
                "https://api.example.com/v1",
                "https://api.example.com/v1/rpc",
                "wss://api.example.com/v1/rpc",
            ),
        ] {
            let endpoint = Endpoint::parse(input).unwrap();
            assert_eq!(endpoint.http_url, http, "{input}");
            assert_eq!(endpoint.ws_url, ws, "{input}");
        }
        assert_eq!(
            Endpoint::parse("http://h:1/v1/rpc")
                .unwrap()
                .blob_url("sha256:ab"),
            "http://h:1/v1/blobs/sha256:ab"
        );
        assert!(Endpoint::parse("ftp://x").is_err());
        assert!(Endpoint::parse("http://").is_err());
    }
}
