//! What the CAS blobs behind context items hold, and how they are loaded.
//!
//! Conventions (see `docs/spec/cas-content.md`):
//! - user input, instructions, catalogs and summaries: UTF-8 text, or for user input
//!   an image (PNG, JPEG, GIF, WebP) or a PDF, recognised by its magic bytes;
//! - provider output items: an [`OutputItemBlob`] envelope naming the API kind and
//!   holding the provider's item JSON verbatim;
//! - tool results: the tool's output as text (usually JSON);
//! - tool definitions: a [`ToolDefinition`].

use engine::core::context::{ContextItem, ItemKind};
use engine::core::request::GenerationRequest;
use engine::store::BlobStore;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::error::RuntimeError;

/// A provider output item as stored: the API kind that produced it and the item's
/// JSON exactly as the provider sent it (a `RawValue` keeps the bytes), so it goes
/// back into the next request byte for byte.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OutputItemBlob {
    pub api_kind: String,
    pub item: Box<RawValue>,
}

impl OutputItemBlob {
    pub fn to_bytes(&self) -> Result<Vec<u8>, RuntimeError> {
        serde_json::to_vec(self).map_err(|err| RuntimeError::Encode(err.to_string()))
    }
}

/// A tool as defined by whoever configured it, independent of any provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// JSON Schema of the arguments object.
    #[serde(default = "empty_object_schema")]
    pub parameters: serde_json::Value,
    /// Set for an MCP server the model provider calls itself (OpenAI Responses `mcp`
    /// tools, Anthropic `mcp_servers`): not a function tool at all.
    #[serde(default, rename = "hostedMcp", skip_serializing_if = "Option::is_none")]
    pub hosted_mcp: Option<HostedMcpServer>,
}

/// An MCP server the provider calls. Its credential is not here: the host supplies it
/// at send time ([`crate::HostedMcpAuth`]) and the stored request has it redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostedMcpServer {
    /// The server's name in the catalog (the provider's `server_label` / `name`).
    pub server: String,
    pub url: String,
    /// Only these of its tools; empty: all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_tools: Vec<String>,
}

/// What stands in for a hosted MCP server's credential in the stored request.
pub const REDACTED: &str = "[redacted]";

/// A header a hosted MCP server's requests carry, resolved at send time. Its value
/// never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct HostedHeader {
    pub name: String,
    pub value: String,
}

impl std::fmt::Debug for HostedHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedHeader")
            .field("name", &self.name)
            .field("value", &REDACTED)
            .finish()
    }
}

impl HostedHeader {
    /// The bearer token of an `Authorization: Bearer …` header (what Anthropic's
    /// `authorization_token` takes), if it is one.
    pub fn bearer_token(&self) -> Option<&str> {
        if !self.name.eq_ignore_ascii_case("authorization") {
            return None;
        }
        self.value
            .strip_prefix("Bearer ")
            .or_else(|| self.value.strip_prefix("bearer "))
    }
}

fn empty_object_schema() -> serde_json::Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// Media types recognised in user input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
}

impl MediaType {
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Self::Png)
        } else if bytes.starts_with(b"\xff\xd8\xff") {
            Some(Self::Jpeg)
        } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
            Some(Self::Gif)
        } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            Some(Self::Webp)
        } else if bytes.starts_with(b"%PDF-") {
            Some(Self::Pdf)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Png => "image/png",
            Self::Jpeg => "image/jpeg",
            Self::Gif => "image/gif",
            Self::Webp => "image/webp",
            Self::Pdf => "application/pdf",
        }
    }

    pub fn is_image(self) -> bool {
        !matches!(self, Self::Pdf)
    }
}

/// Standard base64 of `bytes`, as providers take inline media.
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A `data:` URL of `bytes`.
pub fn data_url(media_type: MediaType, bytes: &[u8]) -> String {
    format!("data:{};base64,{}", media_type.mime(), base64(bytes))
}

/// A context item's content, loaded from the CAS.
#[derive(Debug, Clone)]
pub enum ItemContent {
    Text(String),
    Media {
        media_type: MediaType,
        bytes: Vec<u8>,
    },
    /// Output of a provider, kept verbatim.
    Provider(OutputItemBlob),
}

#[derive(Debug, Clone)]
pub struct LoadedItem {
    pub item: ContextItem,
    pub content: ItemContent,
}

/// A generation request with every blob it references loaded: what adapters turn
/// into a native request, without further I/O.
#[derive(Debug, Clone)]
pub struct LoadedRequest {
    pub request: GenerationRequest,
    pub items: Vec<LoadedItem>,
    pub tools: Vec<ToolDefinition>,
    /// Hosted MCP servers' headers by server name, for the body that is sent; empty
    /// for the body that is stored (each then carries [`REDACTED`]).
    pub hosted_headers: std::collections::BTreeMap<String, HostedHeader>,
}

fn text(ref_: &engine::BlobRef, bytes: Vec<u8>) -> Result<String, RuntimeError> {
    String::from_utf8(bytes).map_err(|_| RuntimeError::Content {
        blob: ref_.to_string(),
        reason: "expected UTF-8 text".into(),
    })
}

/// The content of `item`, from the bytes of its blob (what [`LoadedRequest::load`]
/// does for each item; public for callers that bound how much they load, such as a
/// summarising compactor).
pub fn load_content(item: &ContextItem, bytes: Vec<u8>) -> Result<ItemContent, RuntimeError> {
    let blob = &item.content_ref;
    match item.kind {
        ItemKind::UserMessage => match MediaType::sniff(&bytes) {
            Some(media_type) => Ok(ItemContent::Media { media_type, bytes }),
            None => text(blob, bytes).map(ItemContent::Text),
        },
        ItemKind::Instructions | ItemKind::Catalog | ItemKind::ToolResult => {
            text(blob, bytes).map(ItemContent::Text)
        }
        // The engine has voice notes transcribed before a run starts; audio in a
        // request is a bug upstream, and no provider here takes it.
        ItemKind::UserAudio => Err(RuntimeError::Content {
            blob: blob.to_string(),
            reason: "audio input is transcribed before a run; it cannot be sent".into(),
        }),
        // A summary is text, or a provider-native compaction item.
        ItemKind::Summary => match serde_json::from_slice::<OutputItemBlob>(&bytes) {
            Ok(envelope) => Ok(ItemContent::Provider(envelope)),
            Err(_) => text(blob, bytes).map(ItemContent::Text),
        },
        ItemKind::AssistantMessage
        | ItemKind::ToolCall
        | ItemKind::Reasoning
        | ItemKind::ProviderOpaque
        | ItemKind::Compaction => match serde_json::from_slice::<OutputItemBlob>(&bytes) {
            Ok(envelope) => Ok(ItemContent::Provider(envelope)),
            // Written by something other than a provider adapter (e.g. an imported
            // transcript): treat it as plain assistant text.
            Err(_) => text(blob, bytes).map(ItemContent::Text),
        },
    }
}

impl LoadedRequest {
    /// Loads every item and tool definition of `request` from `blobs`.
    pub async fn load<B: BlobStore>(
        request: GenerationRequest,
        blobs: &B,
    ) -> Result<Self, RuntimeError> {
        let mut items = Vec::with_capacity(request.items.len());
        for item in &request.items {
            let bytes = blobs.get(&item.content_ref).await?;
            items.push(LoadedItem {
                content: load_content(item, bytes)?,
                item: item.clone(),
            });
        }
        let mut tools = Vec::with_capacity(request.tools.len());
        for spec in &request.tools {
            let bytes = blobs.get(&spec.definition_ref).await?;
            let mut definition: ToolDefinition =
                serde_json::from_slice(&bytes).map_err(|err| RuntimeError::Content {
                    blob: spec.definition_ref.to_string(),
                    reason: format!("not a tool definition: {err}"),
                })?;
            // The session's name for the tool wins over the stored one.
            definition.name.clone_from(&spec.name);
            tools.push(definition);
        }
        Ok(Self {
            request,
            items,
            tools,
            hosted_headers: std::collections::BTreeMap::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_media() {
        assert_eq!(
            MediaType::sniff(b"\x89PNG\r\n\x1a\nrest"),
            Some(MediaType::Png)
        );
        assert_eq!(MediaType::sniff(b"%PDF-1.7"), Some(MediaType::Pdf));
        assert_eq!(
            MediaType::sniff(b"RIFF\0\0\0\0WEBPVP8"),
            Some(MediaType::Webp)
        );
        assert_eq!(MediaType::sniff(b"hello"), None);
    }

    #[test]
    fn envelope_keeps_item_bytes() {
        let raw = r#"{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"gAAA=="}"#;
        let bytes = format!(r#"{{"api_kind":"openai:responses","item":{raw}}}"#);
        let envelope: OutputItemBlob = serde_json::from_str(&bytes).unwrap();
        assert_eq!(envelope.item.get(), raw);
        assert_eq!(envelope.to_bytes().unwrap(), bytes.as_bytes());
    }
}
