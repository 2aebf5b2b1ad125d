//! What linking a server to a session registered, and the one spelling of a linked
//! tool's name.

use engine::BlobRef;
use engine::core::tools::is_valid_tool_name;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::server::ServerName;

/// Servers linked to one session.
pub const LINKS_PER_SESSION_MAX: usize = 16;

/// Who calls the server's tools.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LinkMode {
    /// The worker, through its MCP client, inside the `tool_invoke` activity: the
    /// tools are ordinary session tools.
    #[default]
    Client,
    /// The model provider (OpenAI Responses `mcp` tools, Anthropic `mcp_servers`).
    Hosted,
}

/// One tool a link registered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LinkedTool {
    /// The session's name for it ([`tool_name`]).
    pub name: String,
    /// The server's name for it.
    pub tool: String,
    /// Its definition in the CAS ([`definition`]).
    pub definition_ref: BlobRef,
}

/// A server linked to a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionLink {
    pub server: ServerName,
    pub mode: LinkMode,
    /// The server record's revision the tools were listed at.
    pub server_revision: u64,
    /// Ordered by name.
    pub tools: Vec<LinkedTool>,
    /// Tools the server listed that the link left out (filtered, or names that would
    /// collide once namespaced), for the client to see why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
    pub linked_at_ms: u64,
}

/// The session's name for `tool` of `server`: `server__tool`, with every character
/// providers refuse replaced by `_`; a name longer than the 64 characters every provider
/// accepts keeps its first 55 and ends in `_` and 8 hex digits of the original's digest,
/// so distinct long names stay distinct and the same name always maps the same way
/// (prompt caches stay stable across relinks).
pub fn tool_name(server: &ServerName, tool: &str) -> String {
    let sanitized: String = tool
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let full = format!("{server}__{sanitized}");
    if is_valid_tool_name(&full) {
        return full;
    }
    let digest = hex::encode(Sha256::digest(tool.as_bytes()));
    let head: String = full.chars().take(55).collect();
    format!("{head}_{}", &digest[..8])
}

/// The server and tool a linked tool's definition names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct McpOrigin {
    pub server: ServerName,
    pub tool: String,
}

/// The definition blob of a linked tool: what every tool definition holds (`name`,
/// `description`, `parameters`, read by llm-runtime), plus `mcp`, the server and
/// the server's name for the tool, which the worker reads to route a call.
pub fn definition(
    name: &str,
    origin: &McpOrigin,
    description: &str,
    input_schema: &Value,
) -> Vec<u8> {
    let parameters = if input_schema.is_object() {
        input_schema.clone()
    } else {
        json!({"type": "object", "properties": {}})
    };
    engine::canonical::to_vec(&json!({
        "name": name,
        "description": description,
        "parameters": parameters,
        "mcp": origin,
    }))
}

/// The origin in a definition blob, if the definition is of a linked tool.
pub fn origin_of(definition: &[u8]) -> Option<McpOrigin> {
    #[derive(Deserialize)]
    struct Definition {
        mcp: Option<McpOrigin>,
    }
    serde_json::from_slice::<Definition>(definition)
        .ok()
        .and_then(|definition| definition.mcp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_namespaced_sanitized_and_bounded() {
        let server = ServerName::new("everything").unwrap();
        assert_eq!(tool_name(&server, "echo"), "everything__echo");
        assert_eq!(
            tool_name(&server, "get-tiny-image"),
            "everything__get-tiny-image"
        );
        assert_eq!(
            tool_name(&server, "fs.read/file"),
            "everything__fs_read_file"
        );
        let long_a = "a".repeat(80);
        let long_b = format!("{}b", "a".repeat(79));
        let (a, b) = (tool_name(&server, &long_a), tool_name(&server, &long_b));
        assert!(is_valid_tool_name(&a) && is_valid_tool_name(&b));
        assert_ne!(a, b);
        assert_eq!(a, tool_name(&server, &long_a));
    }

    #[test]
    fn definitions_carry_their_origin() {
        let origin = McpOrigin {
            server: ServerName::new("everything").unwrap(),
            tool: "echo".into(),
        };
        let bytes = definition(
            "everything__echo",
            &origin,
            "Echoes",
            &json!({"type": "object"}),
        );
        assert_eq!(origin_of(&bytes), Some(origin));
        let plain = engine::canonical::to_vec(&json!({"name": "read_file"}));
        assert_eq!(origin_of(&plain), None);
    }
}
