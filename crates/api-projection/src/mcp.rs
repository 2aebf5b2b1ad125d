//! MCP wire types ↔ the registry's records, and the registry's refusals as API errors.

use api::ApiError;
use api::types::mcp::*;
use mcp_registry::server::{CALL_MS_DEFAULT, CONNECT_MS_DEFAULT};
use mcp_registry::{
    LinkMode, McpAuth, McpBound, McpCatalogError, McpServer, McpServerSpec, McpTimeouts,
    McpTransport, PutCondition, ServerName, SessionLink, StdioPolicy, ToolFilter,
};

use crate::blobs::store_error;

/// A put's name, validated spec and condition.
pub fn server_put(
    params: McpServerPutParams,
    stdio: &StdioPolicy,
) -> Result<(ServerName, McpServerSpec, PutCondition), ApiError> {
    let name = server_name(&params.name)?;
    let spec = McpServerSpec {
        transport: match params.transport {
            McpTransportInput::StreamableHttp { url, headers } => {
                McpTransport::StreamableHttp { url, headers }
            }
            McpTransportInput::Stdio { command, args, env } => {
                McpTransport::Stdio { command, args, env }
            }
        },
        auth: match params.auth {
            McpAuthInput::None => McpAuth::None,
            McpAuthInput::SecretHeader {
                secret,
                header,
                prefix,
            } => McpAuth::SecretHeader {
                secret,
                header: header.unwrap_or_else(|| "Authorization".to_owned()),
                prefix: prefix.unwrap_or_else(|| "Bearer ".to_owned()),
            },
            McpAuthInput::SecretEnv { secret, var } => McpAuth::SecretEnv { secret, var },
            McpAuthInput::Grant { grant_id } => McpAuth::Grant { grant_id },
        },
        tools: ToolFilter {
            allow: params.tools.allow,
            deny: params.tools.deny,
        },
        timeouts: McpTimeouts {
            connect_ms: params.timeouts.connect_ms.unwrap_or(CONNECT_MS_DEFAULT),
            call_ms: params.timeouts.call_ms.unwrap_or(CALL_MS_DEFAULT),
        },
    };
    spec.validate(stdio).map_err(catalog_error)?;
    let condition = match params.expected_revision {
        None => PutCondition::Any,
        Some(0) => PutCondition::Absent,
        Some(revision) => PutCondition::Revision(revision),
    };
    Ok((name, spec, condition))
}

pub fn server_name(name: &str) -> Result<ServerName, ApiError> {
    ServerName::new(name).map_err(catalog_error)
}

pub fn server_view(server: McpServer) -> McpServerView {
    let spec = server.spec;
    McpServerView {
        name: server.name.into(),
        transport: match spec.transport {
            McpTransport::StreamableHttp { url, headers } => {
                McpTransportInput::StreamableHttp { url, headers }
            }
            McpTransport::Stdio { command, args, env } => {
                McpTransportInput::Stdio { command, args, env }
            }
        },
        auth: match spec.auth {
            McpAuth::None => McpAuthInput::None,
            McpAuth::SecretHeader {
                secret,
                header,
                prefix,
            } => McpAuthInput::SecretHeader {
                secret,
                header: Some(header),
                prefix: Some(prefix),
            },
            McpAuth::SecretEnv { secret, var } => McpAuthInput::SecretEnv { secret, var },
            McpAuth::Grant { grant_id } => McpAuthInput::Grant { grant_id },
        },
        tools: McpToolFilterInput {
            allow: spec.tools.allow,
            deny: spec.tools.deny,
        },
        timeouts: McpTimeoutsInput {
            connect_ms: Some(spec.timeouts.connect_ms),
            call_ms: Some(spec.timeouts.call_ms),
        },
        revision: server.revision,
        created_at_ms: server.created_at_ms,
        updated_at_ms: server.updated_at_ms,
    }
}

pub fn link_view(link: SessionLink) -> SessionMcpLinkView {
    SessionMcpLinkView {
        server: link.server.into(),
        mode: match link.mode {
            LinkMode::Client => McpLinkMode::Client,
            LinkMode::Hosted => McpLinkMode::Hosted,
        },
        server_revision: link.server_revision,
        tools: link
            .tools
            .into_iter()
            .map(|tool| McpLinkedToolView {
                name: tool.name,
                tool: tool.tool,
                definition_ref: tool.definition_ref.to_string(),
            })
            .collect(),
        skipped: link.skipped,
        linked_at_ms: link.linked_at_ms,
    }
}

/// The registry's refusals as API errors, with their stable reasons.
pub fn catalog_error(err: McpCatalogError) -> ApiError {
    let reason = err.code();
    match err {
        McpCatalogError::Invalid { .. } => ApiError::invalid_params(err.to_string()),
        McpCatalogError::ServerNotFound(_) | McpCatalogError::LinkNotFound(_) => {
            ApiError::not_found(err.to_string())
        }
        McpCatalogError::Conflict { actual, .. } => {
            ApiError::conflict(err.to_string()).with_current_revision(actual)
        }
        McpCatalogError::TooMany { bound, .. } => {
            let quota = match bound {
                McpBound::ServersPerUniverse => api::Quota::McpServers,
                McpBound::LinksPerSession => api::Quota::McpLinks,
            };
            return ApiError::quota_exceeded(quota, err.to_string());
        }
        McpCatalogError::Store(err) => return store_error(err),
    }
    .with_reason(reason)
}
