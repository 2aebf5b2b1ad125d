//! `tools/call`: progress, timeout with cancellation, and a bounded output.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rmcp::RoleClient;
use rmcp::model::GetMeta as _;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CancelledNotificationParam, ClientRequest,
    ProgressToken, RequestId, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions};
use serde_json::{Map, Value};
use telemetry::traces::{Attribute, FutureExt as _, Kind};
use tokio::sync::mpsc;

use crate::connection::{Connection, truncate_on_char};
use crate::error::{ErrorKind, McpError};

/// Default [`CallOptions::timeout`].
pub const CALL_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);

/// Default [`CallOptions::output_bytes_max`]: 1 MiB.
pub const OUTPUT_BYTES_MAX_DEFAULT: usize = 1024 * 1024;

/// How long sending `notifications/cancelled` may take after a timeout before the
/// call returns anyway (a wedged transport must not hold the caller).
const CANCEL_GRACE: Duration = Duration::from_secs(2);

/// Marker appended to a text block cut at the output bound.
pub const TRUNCATION_MARKER: &str = "\n[output truncated]";

/// One `notifications/progress` report for a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub progress: f64,
    pub total: Option<f64>,
    /// At most 1 KiB.
    pub message: Option<String>,
}

/// Options of one call.
#[derive(Debug, Clone)]
pub struct CallOptions {
    /// From sending the request to its answer; on expiry the server is sent
    /// `notifications/cancelled` and the call fails with [`ErrorKind::Timeout`].
    /// Default [`CALL_TIMEOUT_DEFAULT`] (60 s).
    pub timeout: Duration,
    /// Decoded bytes of content kept (text bytes, decoded image/audio/blob bytes,
    /// resource link fields, serialized structured content). Default 1 MiB.
    pub output_bytes_max: usize,
    /// Receives progress reports. Sent with `try_send`: a full channel drops
    /// reports rather than stall the connection, so give it some capacity.
    pub progress: Option<mpsc::Sender<Progress>>,
}

impl Default for CallOptions {
    fn default() -> Self {
        Self {
            timeout: CALL_TIMEOUT_DEFAULT,
            output_bytes_max: OUTPUT_BYTES_MAX_DEFAULT,
            progress: None,
        }
    }
}

/// A tool's answer. `is_error` is the tool's own failure (`isError: true`), which
/// the model should see; it is not an [`McpError`].
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutput {
    pub is_error: bool,
    pub content: Vec<Content>,
    pub structured: Option<Value>,
    /// Content or structured output was dropped or cut at `output_bytes_max`.
    pub truncated: bool,
}

/// One content block, binary data decoded from base64.
#[derive(Debug, Clone, PartialEq)]
pub enum Content {
    Text {
        text: String,
    },
    Image {
        mime_type: String,
        data: Vec<u8>,
    },
    Audio {
        mime_type: String,
        data: Vec<u8>,
    },
    ResourceLink {
        uri: String,
        name: String,
        mime_type: Option<String>,
        description: Option<String>,
    },
    Resource {
        uri: String,
        mime_type: Option<String>,
        text: Option<String>,
        blob: Option<Vec<u8>>,
    },
}

impl Content {
    /// What this block counts against `output_bytes_max`.
    fn bytes(&self) -> usize {
        match self {
            Content::Text { text } => text.len(),
            Content::Image { data, .. } | Content::Audio { data, .. } => data.len(),
            Content::ResourceLink {
                uri,
                name,
                mime_type,
                description,
            } => {
                uri.len()
                    + name.len()
                    + mime_type.as_ref().map_or(0, String::len)
                    + description.as_ref().map_or(0, String::len)
            }
            Content::Resource {
                uri, text, blob, ..
            } => {
                uri.len() + text.as_ref().map_or(0, String::len) + blob.as_ref().map_or(0, Vec::len)
            }
        }
    }
}

/// Sends `tools/call` on `connection` and waits for the answer, under a client span
/// (the MCP semantic conventions' name and attributes; no argument or output).
pub(crate) async fn call(
    connection: &Arc<Connection>,
    name: &str,
    arguments: Map<String, Value>,
    options: CallOptions,
) -> Result<CallOutput, McpError> {
    let span = telemetry::traces::child(
        format!("tools/call {name}"),
        Kind::Client,
        vec![
            Attribute::new("mcp.method.name", "tools/call"),
            Attribute::new("gen_ai.tool.name", name.to_owned()),
        ],
    );
    let result = call_untraced(connection, name, arguments, options)
        .with_context(span.clone())
        .await;
    let failure = result.as_ref().err().map(McpError::code);
    telemetry::traces::finish(&span, failure);
    result
}

async fn call_untraced(
    connection: &Arc<Connection>,
    name: &str,
    arguments: Map<String, Value>,
    options: CallOptions,
) -> Result<CallOutput, McpError> {
    let _in_flight = connection.begin();
    let started = Instant::now();
    let mut params = CallToolRequestParams::new(name.to_owned());
    params.arguments = Some(arguments);
    let mut request = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    // Trace context in the request's `_meta` (SEP-414), which any transport carries;
    // over HTTP it also becomes the request's `traceparent` header (crate::http).
    if let Some(traceparent) = telemetry::traces::traceparent() {
        request.get_meta_mut().set_traceparent(traceparent);
    }
    let classify = |error| McpError::from_service(error, connection.http_failure_since(started));
    // rmcp puts a fresh progress token in every request's `_meta` and, when its own
    // timeout fires, sends `notifications/cancelled` before returning `Timeout`.
    let handle = connection
        .peer()
        .send_request_with_option(request, PeerRequestOptions::with_timeout(options.timeout))
        .await
        .map_err(classify)?;
    let _progress = options.progress.map(|sink| {
        connection
            .progress
            .register(handle.progress_token.clone(), sink);
        ProgressRegistration {
            connection: Arc::clone(connection),
            token: handle.progress_token.clone(),
        }
    });
    let mut abandoned = AbandonGuard {
        peer: Some(connection.peer().clone()),
        id: handle.id.clone(),
    };
    let answer =
        tokio::time::timeout(options.timeout + CANCEL_GRACE, handle.await_response()).await;
    // From here the request is answered, timed out (rmcp sent the cancellation) or
    // left to the grace path below; the drop guard is for a caller that gives up.
    let answer = match answer {
        Ok(answer) => {
            abandoned.peer = None;
            answer.map_err(classify)?
        }
        Err(_) => {
            return Err(McpError::new(
                ErrorKind::Timeout,
                format!("no answer within {} ms", options.timeout.as_millis()),
            ));
        }
    };
    match answer {
        ServerResult::CallToolResult(result) => {
            let content = result
                .content
                .iter()
                .map(|block| serde_json::to_value(block).unwrap_or(Value::Null))
                .collect::<Vec<_>>();
            bound_output(
                result.is_error.unwrap_or(false),
                content,
                result.structured_content,
                options.output_bytes_max,
            )
        }
        _ => Err(McpError::new(
            ErrorKind::Protocol,
            "the server answered tools/call with another result type",
        )),
    }
}

/// Unregisters a call's progress sink when the call ends, however it ends.
struct ProgressRegistration {
    connection: Arc<Connection>,
    token: ProgressToken,
}

impl Drop for ProgressRegistration {
    fn drop(&mut self) {
        self.connection.progress.unregister(&self.token);
    }
}

/// If the caller drops the call future (its own timeout, activity cancellation),
/// tells the server to stop working on it, best effort.
struct AbandonGuard {
    peer: Option<Peer<RoleClient>>,
    id: RequestId,
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        let Some(peer) = self.peer.take() else {
            return;
        };
        let id = self.id.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let params = CancelledNotificationParam::new(
                    Some(id),
                    Some("the caller abandoned the request".to_owned()),
                );
                let _ = tokio::time::timeout(CANCEL_GRACE, peer.notify_cancelled(params)).await;
            });
        }
    }
}

/// Converts the content blocks (as JSON, so rmcp's non-exhaustive types need no
/// wildcard that would silently drop a new kind) and applies the byte bound.
pub(crate) fn bound_output(
    is_error: bool,
    blocks: Vec<Value>,
    structured: Option<Value>,
    output_bytes_max: usize,
) -> Result<CallOutput, McpError> {
    let mut remaining = output_bytes_max;
    let mut content = Vec::with_capacity(blocks.len());
    let mut truncated = false;
    for block in blocks {
        let block = parse_content(&block)?;
        let bytes = block.bytes();
        if bytes <= remaining {
            remaining -= bytes;
            content.push(block);
            continue;
        }
        // A text block is cut to what is left, so the model still sees its start;
        // binary blocks are all or nothing.
        if let Content::Text { mut text } = block
            && remaining > TRUNCATION_MARKER.len()
        {
            truncate_on_char(&mut text, remaining - TRUNCATION_MARKER.len());
            text.push_str(TRUNCATION_MARKER);
            content.push(Content::Text { text });
        }
        remaining = 0;
        truncated = true;
        break;
    }
    let structured = match structured {
        Some(value) => {
            let bytes = serde_json::to_vec(&value).map_or(usize::MAX, |bytes| bytes.len());
            if bytes <= remaining {
                Some(value)
            } else {
                truncated = true;
                None
            }
        }
        None => None,
    };
    Ok(CallOutput {
        is_error,
        content,
        structured,
        truncated,
    })
}

fn parse_content(block: &Value) -> Result<Content, McpError> {
    let text = |field: &str| block.get(field).and_then(Value::as_str).map(str::to_owned);
    let required = |field: &str| {
        text(field).ok_or_else(|| {
            McpError::new(
                ErrorKind::Protocol,
                format!("content block without string field {field:?}"),
            )
        })
    };
    let kind = block.get("type").and_then(Value::as_str).unwrap_or("");
    match kind {
        "text" => Ok(Content::Text {
            text: required("text")?,
        }),
        "image" => Ok(Content::Image {
            mime_type: required("mimeType")?,
            data: decode(&required("data")?)?,
        }),
        "audio" => Ok(Content::Audio {
            mime_type: required("mimeType")?,
            data: decode(&required("data")?)?,
        }),
        "resource_link" => Ok(Content::ResourceLink {
            uri: required("uri")?,
            name: required("name")?,
            mime_type: text("mimeType"),
            description: text("description"),
        }),
        "resource" => {
            let resource = block.get("resource").cloned().unwrap_or(Value::Null);
            let field = |name: &str| {
                resource
                    .get(name)
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            };
            let uri = field("uri").ok_or_else(|| {
                McpError::new(ErrorKind::Protocol, "embedded resource without uri")
            })?;
            let blob = field("blob").map(|blob| decode(&blob)).transpose()?;
            Ok(Content::Resource {
                uri,
                mime_type: field("mimeType"),
                text: field("text"),
                blob,
            })
        }
        other => Err(McpError::new(
            ErrorKind::Protocol,
            format!(
                "unknown content type {:?}",
                other.chars().take(32).collect::<String>()
            ),
        )),
    }
}

fn decode(data: &str) -> Result<Vec<u8>, McpError> {
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| McpError::new(ErrorKind::Protocol, "content data is not valid base64"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn output_is_cut_at_the_byte_bound() {
        let blocks = vec![
            json!({"type": "text", "text": "a".repeat(60)}),
            json!({"type": "text", "text": "b".repeat(60)}),
            json!({"type": "text", "text": "never"}),
        ];
        let output = bound_output(false, blocks, Some(json!({"x": 1})), 100).unwrap();
        assert!(output.truncated);
        assert_eq!(output.content.len(), 2);
        let Content::Text { text } = &output.content[1] else {
            panic!("text expected");
        };
        assert!(text.ends_with(TRUNCATION_MARKER));
        let total: usize = output.content.iter().map(Content::bytes).sum();
        assert!(total <= 100);
        assert_eq!(output.structured, None);
    }

    #[test]
    fn binary_blocks_are_decoded_and_counted_decoded() {
        let blocks = vec![json!({"type": "image", "mimeType": "image/png", "data": "AAEC"})];
        let output = bound_output(false, blocks.clone(), None, 3).unwrap();
        assert!(!output.truncated);
        assert_eq!(
            output.content,
            vec![Content::Image {
                mime_type: "image/png".to_owned(),
                data: vec![0, 1, 2]
            }]
        );
        let output = bound_output(false, blocks, None, 2).unwrap();
        assert!(output.truncated);
        assert!(output.content.is_empty());
    }

    #[test]
    fn bad_blocks_are_protocol_errors() {
        let bad = vec![json!({"type": "image", "mimeType": "image/png", "data": "%%%"})];
        assert_eq!(
            bound_output(false, bad, None, 100).unwrap_err().kind(),
            ErrorKind::Protocol
        );
        let unknown = vec![json!({"type": "hologram"})];
        assert_eq!(
            bound_output(false, unknown, None, 100).unwrap_err().kind(),
            ErrorKind::Protocol
        );
    }
}
