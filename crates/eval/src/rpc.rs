//! A minimal JSON-RPC 2.0 client over HTTP (`POST /rpc`), untyped: the eval runner
//! builds params as JSON so a case's `session` overrides pass through verbatim.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::EvalError;

#[derive(Debug)]
pub struct RpcClient {
    http: reqwest::Client,
    url: String,
    key: String,
    next_id: AtomicU64,
}

impl RpcClient {
    /// `base` is the gateway's URL (`http://127.0.0.1:PORT`), without `/rpc`.
    pub fn new(base: &str, key: &str) -> Result<Self, EvalError> {
        let http = reqwest::Client::builder()
            // Above `session/events/read`'s longest wait (30 s), so a long poll is
            // never cut by the client.
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|err| EvalError::Rpc {
                method: "connect".into(),
                message: err.to_string(),
            })?;
        Ok(Self {
            http,
            url: format!("{}/rpc", base.trim_end_matches('/')),
            key: key.to_owned(),
            next_id: AtomicU64::new(1),
        })
    }

    pub async fn call(&self, method: &str, params: Value) -> Result<Value, EvalError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let fail = |message: String| EvalError::Rpc {
            method: method.to_owned(),
            message,
        };
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .map_err(|err| fail(err.to_string()))?;
        let status = response.status();
        let text = response.text().await.map_err(|err| fail(err.to_string()))?;
        let value: Value = serde_json::from_str(&text)
            .map_err(|_| fail(format!("HTTP {status}: {}", truncate(&text, 300))))?;
        if let Some(error) = value.get("error") {
            return Err(fail(error.to_string()));
        }
        value
            .get("result")
            .cloned()
            .ok_or_else(|| fail(format!("no result in {}", truncate(&text, 300))))
    }

    /// Stores `bytes` in the CAS; returns the blob ref.
    pub async fn blob_put(&self, bytes: &[u8]) -> Result<String, EvalError> {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        let result = self.call("blob/put", json!({"dataBase64": data})).await?;
        str_field(&result, "blobRef", "blob/put")
    }

    pub async fn blob_get(&self, blob_ref: &str) -> Result<Vec<u8>, EvalError> {
        let result = self.call("blob/get", json!({"blobRef": blob_ref})).await?;
        let data = str_field(&result, "dataBase64", "blob/get")?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|err| EvalError::Rpc {
                method: "blob/get".into(),
                message: err.to_string(),
            })
    }
}

pub fn str_field(value: &Value, field: &str, method: &str) -> Result<String, EvalError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| EvalError::Rpc {
            method: method.to_owned(),
            message: format!("no `{field}` in {}", truncate(&value.to_string(), 300)),
        })
}

pub fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
