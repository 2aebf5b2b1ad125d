//! `tools/list`, every page, within bounds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rmcp::model::PaginatedRequestParams;
use serde_json::Value;

use crate::connection::{Connection, truncate_on_char};
use crate::error::{ErrorKind, McpError};

/// Marker appended to a description cut at [`ListLimits::description_bytes_max`].
pub const DESCRIPTION_TRUNCATION_MARKER: &str = " [description truncated]";

/// Bounds of one listing.
///
/// Refused (a [`ErrorKind::TooLarge`] error): more than `tools_max` tools, a
/// schema over `schema_bytes_max` (a cut schema would be a different, wrong one),
/// more than `pages_max` pages. Truncated with [`DESCRIPTION_TRUNCATION_MARKER`]: a
/// description over `description_bytes_max` (prose stays useful when cut).
#[derive(Debug, Clone)]
pub struct ListLimits {
    /// Default 256.
    pub tools_max: usize,
    /// Serialized input schema, output schema and annotations, each; default 64 KiB.
    pub schema_bytes_max: usize,
    /// Default 8 KiB.
    pub description_bytes_max: usize,
    /// Pages followed through `nextCursor`; default 64.
    pub pages_max: usize,
    /// The whole listing, all pages; default 30 s.
    pub timeout: Duration,
}

impl Default for ListLimits {
    fn default() -> Self {
        Self {
            tools_max: 256,
            schema_bytes_max: 64 * 1024,
            description_bytes_max: 8 * 1024,
            pages_max: 64,
            timeout: Duration::from_secs(30),
        }
    }
}

/// One tool as the server describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    pub name: String,
    pub title: Option<String>,
    pub description: Option<String>,
    /// JSON Schema of the arguments (an object schema).
    pub input_schema: Value,
    pub output_schema: Option<Value>,
    /// `ToolAnnotations` as JSON (`readOnlyHint`, `destructiveHint`, ...).
    pub annotations: Option<Value>,
}

pub(crate) async fn list(
    connection: &Arc<Connection>,
    limits: &ListLimits,
) -> Result<Vec<ToolInfo>, McpError> {
    let _in_flight = connection.begin();
    let started = Instant::now();
    let pages = async {
        let mut tools = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..limits.pages_max {
            let params = PaginatedRequestParams::default().with_cursor(cursor.take());
            let page = connection
                .peer()
                .list_tools(Some(params))
                .await
                .map_err(|error| {
                    McpError::from_service(error, connection.http_failure_since(started))
                })?;
            if tools.len() + page.tools.len() > limits.tools_max {
                return Err(McpError::new(
                    ErrorKind::TooLarge,
                    format!("the server lists more than {} tools", limits.tools_max),
                ));
            }
            for tool in &page.tools {
                // JSON rather than rmcp's non-exhaustive structs: fields appear as the
                // protocol grows, and the schema is forwarded as JSON anyway.
                let value = serde_json::to_value(tool)
                    .map_err(|_| McpError::new(ErrorKind::Protocol, "a tool could not be read"))?;
                tools.push(tool_info(value, limits)?);
            }
            match page.next_cursor {
                Some(next) if !next.is_empty() => cursor = Some(next),
                _ => return Ok(tools),
            }
        }
        Err(McpError::new(
            ErrorKind::TooLarge,
            format!("the tool listing has more than {} pages", limits.pages_max),
        ))
    };
    tokio::time::timeout(limits.timeout, pages)
        .await
        .map_err(|_| {
            McpError::new(
                ErrorKind::Timeout,
                format!(
                    "tools/list took longer than {} ms",
                    limits.timeout.as_millis()
                ),
            )
        })?
}

pub(crate) fn tool_info(mut tool: Value, limits: &ListLimits) -> Result<ToolInfo, McpError> {
    let mut take = |field: &str| {
        tool.get_mut(field)
            .map(Value::take)
            .filter(|v| !v.is_null())
    };
    let name = match take("name") {
        Some(Value::String(name)) if !name.is_empty() => name,
        _ => return Err(McpError::new(ErrorKind::Protocol, "a tool has no name")),
    };
    let title = take("title").and_then(|value| value.as_str().map(str::to_owned));
    let mut description = take("description").and_then(|value| value.as_str().map(str::to_owned));
    let input_schema = take("inputSchema").unwrap_or_else(|| Value::Object(Default::default()));
    let output_schema = take("outputSchema");
    let annotations = take("annotations");
    for (what, value) in [
        ("input schema", Some(&input_schema)),
        ("output schema", output_schema.as_ref()),
        ("annotations", annotations.as_ref()),
    ] {
        let Some(value) = value else { continue };
        let bytes = serde_json::to_vec(value).map_or(usize::MAX, |bytes| bytes.len());
        if bytes > limits.schema_bytes_max {
            let mut shown = name.clone();
            truncate_on_char(&mut shown, 64);
            return Err(McpError::new(
                ErrorKind::TooLarge,
                format!(
                    "the {what} of tool {shown:?} has {bytes} bytes, at most {}",
                    limits.schema_bytes_max
                ),
            ));
        }
    }
    if let Some(text) = description.as_mut() {
        let keep = limits
            .description_bytes_max
            .saturating_sub(DESCRIPTION_TRUNCATION_MARKER.len());
        if text.len() > limits.description_bytes_max && truncate_on_char(text, keep) {
            text.push_str(DESCRIPTION_TRUNCATION_MARKER);
        }
    }
    Ok(ToolInfo {
        name,
        title,
        description,
        input_schema,
        output_schema,
        annotations,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn long_descriptions_are_cut_and_large_schemas_refused() {
        let limits = ListLimits {
            schema_bytes_max: 100,
            description_bytes_max: 40,
            ..ListLimits::default()
        };
        let tool = json!({
            "name": "t",
            "description": "é".repeat(100),
            "inputSchema": {"type": "object"},
            "annotations": {"readOnlyHint": true}
        });
        let info = tool_info(tool, &limits).unwrap();
        let description = info.description.unwrap();
        assert!(description.len() <= 40);
        assert!(description.ends_with(DESCRIPTION_TRUNCATION_MARKER));
        assert_eq!(info.annotations, Some(json!({"readOnlyHint": true})));

        let big =
            json!({"name": "t", "inputSchema": {"type": "object", "description": "x".repeat(200)}});
        assert_eq!(
            tool_info(big, &limits).unwrap_err().kind(),
            ErrorKind::TooLarge
        );
        assert_eq!(
            tool_info(json!({"inputSchema": {}}), &limits)
                .unwrap_err()
                .kind(),
            ErrorKind::Protocol
        );
    }
}
