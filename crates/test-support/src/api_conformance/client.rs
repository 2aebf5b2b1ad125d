//! What cases talk through: a [`Harness`] that starts the stack, a [`Ctx`] over a
//! running one, and [`Conn`]ections that record every method they call, check every
//! result against the contract and every error by code and `data.reason`. They
//! assert and panic, like the tests that use them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use futures::future::BoxFuture;
use jsonrpsee::core::ClientError;
use jsonrpsee::core::client::{ClientT, Subscription, SubscriptionClientT};
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde_json::Value;

use super::{ApiStack, ApiTarget, GET_BLOB_ROUTE, PUT_BLOB_ROUTE, Quotas};
use crate::rpc_client::{assert_valid, bearer_headers, params};

/// How long one call or one notification may take. Above the 30 s long-poll cap.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The kind of the event that ends a run.
pub(super) const RUN_FINISHED: &str = "lightspeed.core.run.finished";

type Starter =
    Arc<dyn Fn(Value, Quotas) -> BoxFuture<'static, anyhow::Result<ApiStack>> + Send + Sync>;

/// Methods a case really called.
#[derive(Clone, Default)]
pub(super) struct Recorder(Arc<Mutex<BTreeSet<String>>>);

impl Recorder {
    fn record(&self, method: &str) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(method.to_owned());
    }

    pub(super) fn snapshot(&self) -> BTreeSet<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// What a case gets: starts the stack with the script the case needs.
pub struct Harness {
    starter: Starter,
    recorder: Recorder,
}

impl Harness {
    pub(super) fn new<T: ApiTarget>(target: Arc<T>) -> Self {
        let starter: Starter = Arc::new(move |script, quotas| {
            let target = target.clone();
            Box::pin(async move { target.start(script, quotas).await })
        });
        Self {
            starter,
            recorder: Recorder::default(),
        }
    }

    pub(super) fn recorded(&self) -> Recorder {
        self.recorder.clone()
    }

    /// Starts a fresh stack whose fake provider plays `script`.
    pub async fn start(self, script: Value) -> anyhow::Result<Ctx> {
        self.start_with_quotas(script, Quotas::default()).await
    }

    /// Starts a fresh stack whose fake provider plays `script` and whose API
    /// enforces `quotas`.
    pub async fn start_with_quotas(self, script: Value, quotas: Quotas) -> anyhow::Result<Ctx> {
        let stack = (self.starter)(script, quotas).await?;
        Ok(Ctx {
            stack: Arc::new(stack),
            recorder: self.recorder,
        })
    }
}

/// A running stack and the recorder of the case using it.
#[derive(Clone)]
pub struct Ctx {
    stack: Arc<ApiStack>,
    recorder: Recorder,
}

impl Ctx {
    pub fn stack(&self) -> &ApiStack {
        &self.stack
    }

    /// HTTP with universe A's key.
    pub fn a(&self) -> Conn {
        self.http(Some(&self.stack.a.api_key))
    }

    /// HTTP with universe B's key.
    pub fn b(&self) -> Conn {
        self.http(Some(&self.stack.b.api_key))
    }

    /// HTTP with `key` (none: no `Authorization` header).
    pub fn http(&self, key: Option<&str>) -> Conn {
        let client = HttpClientBuilder::default()
            .set_headers(key.map(bearer_headers).unwrap_or_default())
            .request_timeout(REQUEST_TIMEOUT)
            .build(&self.stack.rpc_http_url)
            .unwrap();
        Conn {
            client: Client::Http(client),
            recorder: self.recorder.clone(),
        }
    }

    /// WebSocket with universe A's key.
    pub async fn ws_a(&self) -> Conn {
        self.ws(Some(&self.stack.a.api_key)).await
    }

    /// The HTTP status a WebSocket upgrade with `key` is refused with (none: the
    /// upgrade succeeded). Credentials are checked before upgrading.
    pub async fn ws_upgrade_refusal(&self, key: Option<&str>) -> Option<u16> {
        let built = WsClientBuilder::default()
            .set_headers(key.map(bearer_headers).unwrap_or_default())
            .request_timeout(REQUEST_TIMEOUT)
            .build(&self.stack.rpc_ws_url)
            .await;
        match built {
            Ok(_) => None,
            Err(jsonrpsee::core::ClientError::Transport(err)) => {
                let text = format!("{err:?}");
                let status = text.split("status_code: ").nth(1)?;
                status
                    .split(|c: char| !c.is_ascii_digit())
                    .next()?
                    .parse()
                    .ok()
            }
            Err(other) => panic!("the upgrade failed otherwise: {other}"),
        }
    }

    /// WebSocket with `key` (none: no `Authorization` header).
    pub async fn ws(&self, key: Option<&str>) -> Conn {
        let client = WsClientBuilder::default()
            .set_headers(key.map(bearer_headers).unwrap_or_default())
            .request_timeout(REQUEST_TIMEOUT)
            .build(&self.stack.rpc_ws_url)
            .await
            .unwrap();
        Conn {
            client: Client::Ws(client),
            recorder: self.recorder.clone(),
        }
    }

    /// `PUT /blobs/{blob_ref}`: the status and the JSON body.
    pub async fn put_blob_raw(
        &self,
        key: Option<&str>,
        blob_ref: &str,
        bytes: Vec<u8>,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .put(format!("{}/blobs/{blob_ref}", self.stack.base_url))
            .body(bytes);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status == 200 {
            assert_valid("BlobPutResult", &body);
        }
        self.recorder.record(PUT_BLOB_ROUTE);
        (status, body)
    }

    /// `GET /blobs/{blob_ref}`: the status and the body bytes.
    pub async fn get_blob_raw(&self, key: Option<&str>, blob_ref: &str) -> (u16, Vec<u8>) {
        let mut request =
            reqwest::Client::new().get(format!("{}/blobs/{blob_ref}", self.stack.base_url));
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap().to_vec();
        self.recorder.record(GET_BLOB_ROUTE);
        (status, bytes)
    }

    /// `POST /rpc` with a raw body and universe A's key: the status and the body.
    pub async fn raw_post(&self, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(&self.stack.rpc_http_url)
            .header("authorization", format!("Bearer {}", self.stack.a.api_key))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }
}

enum Client {
    Http(HttpClient),
    Ws(WsClient),
}

/// One JSON-RPC connection with one key.
pub struct Conn {
    client: Client,
    recorder: Recorder,
}

/// The contract's result definition of each method.
fn result_types() -> &'static HashMap<String, String> {
    static TYPES: OnceLock<HashMap<String, String>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let manifest = api::contract::methods_manifest();
        manifest["methods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|method| {
                let reference = method["result"]["$ref"].as_str().unwrap();
                let name = reference.rsplit('/').next().unwrap();
                (method["name"].as_str().unwrap().to_owned(), name.to_owned())
            })
            .collect()
    })
}

/// Checks that `err` is a JSON-RPC error with `code` and (when given) `reason`, and
/// that its `data` is the contract's `ErrorData`; returns the data.
pub(crate) fn expect_error(err: &ClientError, code: i32, reason: Option<&str>) -> Value {
    let ClientError::Call(object) = err else {
        panic!("expected a JSON-RPC error {code}, got {err:?}")
    };
    assert_eq!(object.code(), code, "error code: {object:?}");
    let data: Value = object
        .data()
        .map(|raw| serde_json::from_str(raw.get()).unwrap())
        .unwrap_or(Value::Null);
    // Protocol errors are jsonrpsee's own, without the API's typed data.
    if ![-32700, -32600, -32601].contains(&code) {
        assert_valid("ErrorData", &data);
    }
    if let Some(reason) = reason {
        assert_eq!(data["reason"], reason, "data.reason: {object:?}");
    }
    data
}

/// The message of a JSON-RPC error.
pub(crate) fn error_message(err: &ClientError) -> String {
    match err {
        ClientError::Call(object) => object.message().to_owned(),
        other => other.to_string(),
    }
}

impl Conn {
    async fn request(&self, method: &str, args: Value) -> Result<Value, ClientError> {
        match &self.client {
            Client::Http(client) => client.request(method, params(args)).await,
            Client::Ws(client) => client.request(method, params(args)).await,
        }
    }

    /// Calls `method`, which must succeed; checks the result against the contract.
    pub async fn call(&self, method: &str, args: Value) -> Value {
        let result = self
            .request(method, args.clone())
            .await
            .unwrap_or_else(|err| panic!("{method} {args}: {err}"));
        let result_type = result_types()
            .get(method)
            .unwrap_or_else(|| panic!("{method} is not a contract method"));
        assert_valid(result_type, &result);
        self.recorder.record(method);
        result
    }

    /// Calls `method`, which may fail; a success is checked and recorded like
    /// [`Self::call`]'s.
    pub async fn try_call(&self, method: &str, args: Value) -> Result<Value, ClientError> {
        let result = self.request(method, args).await?;
        if let Some(result_type) = result_types().get(method) {
            assert_valid(result_type, &result);
        }
        self.recorder.record(method);
        Ok(result)
    }

    /// Calls `method`, which must fail with `code` and `reason`; returns `data`.
    pub async fn refused(&self, method: &str, args: Value, code: i32, reason: &str) -> Value {
        let err = self.refusal(method, args).await;
        let data = expect_error(&err, code, Some(reason));
        self.recorder.record(method);
        data
    }

    /// Calls `method`, which must fail with invalid params (`-32602`) whose message
    /// names `field`; `reason`, when given, must match too.
    pub async fn invalid(&self, method: &str, args: Value, field: &str, reason: Option<&str>) {
        let err = self.refusal(method, args).await;
        expect_error(&err, -32602, reason);
        let message = error_message(&err);
        assert!(
            message.contains(field),
            "{method}: the error names {field:?}: {message}"
        );
        self.recorder.record(method);
    }

    /// The error `method` answers; not recorded (protocol-level probes).
    pub async fn refusal(&self, method: &str, args: Value) -> ClientError {
        match self.request(method, args.clone()).await {
            Ok(result) => panic!("{method} {args} should fail but answered {result}"),
            Err(err) => err,
        }
    }

    fn ws(&self) -> &WsClient {
        match &self.client {
            Client::Ws(client) => client,
            Client::Http(_) => panic!("subscriptions need a WebSocket connection"),
        }
    }

    /// Opens `session/subscribe` with `args`.
    pub async fn subscribe(&self, args: Value) -> Sub {
        let inner = self
            .ws()
            .subscribe::<Value, _>("session/subscribe", params(args), "session/unsubscribe")
            .await
            .unwrap_or_else(|err| panic!("session/subscribe: {err}"));
        self.recorder.record("session/subscribe");
        Sub {
            inner,
            recorder: self.recorder.clone(),
        }
    }

    /// `session/subscribe` with `args` must be refused with `code` and `reason`.
    pub async fn subscribe_refused(&self, args: Value, code: i32, reason: &str) {
        let result = self
            .ws()
            .subscribe::<Value, _>("session/subscribe", params(args), "session/unsubscribe")
            .await;
        let Err(err) = result else {
            panic!("session/subscribe should be refused with {reason}")
        };
        expect_error(&err, code, Some(reason));
        self.recorder.record("session/subscribe");
    }
}

/// An open `session/subscribe`.
pub struct Sub {
    inner: Subscription<Value>,
    recorder: Recorder,
}

impl Sub {
    /// The next notification (checked against the contract); fails after
    /// [`REQUEST_TIMEOUT`] or when the subscription ends.
    pub async fn next(&mut self) -> Value {
        let notification = tokio::time::timeout(REQUEST_TIMEOUT, self.inner.next())
            .await
            .expect("a notification in time")
            .expect("the subscription is open")
            .expect("a notification that decodes");
        assert_valid("SessionNotification", &notification);
        notification
    }

    /// Reads until `run_id` finishes; every notification read.
    pub async fn until_finished(&mut self, run_id: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let notification = self.next().await;
            let done = notification["type"] == "event"
                && notification["event"]["kind"] == RUN_FINISHED
                && notification["event"]["runId"] == run_id;
            seen.push(notification);
            if done {
                return seen;
            }
        }
    }

    pub async fn unsubscribe(self) {
        self.inner.unsubscribe().await.expect("session/unsubscribe");
        self.recorder.record("session/unsubscribe");
    }
}
