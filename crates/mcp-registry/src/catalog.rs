//! The storage a universe's MCP records live in. One implementation per store
//! (memory here, store-fs, store-pg), each scoped to one universe and passing the same
//! conformance suite (`test-support`'s `mcp_conformance`).

use std::future::Future;

use engine::SessionId;

use crate::error::{McpBound, McpCatalogError};
use crate::link::SessionLink;
use crate::server::{McpServer, McpServerSpec, ServerName};

/// MCP servers per universe.
pub const SERVERS_MAX: usize = 100;

/// When a put may replace a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutCondition {
    /// Create, or replace whatever is there.
    Any,
    /// Create only: [`McpCatalogError::Conflict`] (actual revision) if it exists.
    Absent,
    /// Replace only at this revision: [`McpCatalogError::Conflict`] otherwise,
    /// [`McpCatalogError::ServerNotFound`] if there is nothing to replace.
    Revision(u64),
}

pub trait McpCatalog: Send + Sync {
    /// Stores `spec` as server `name` (already validated by the caller) under
    /// `condition`, at revision 1 when created and one up when replaced; refuses a
    /// new server beyond `servers_max` with [`McpCatalogError::TooMany`].
    fn mcp_server_put(
        &self,
        name: &ServerName,
        spec: &McpServerSpec,
        condition: PutCondition,
        now_ms: u64,
        servers_max: usize,
    ) -> impl Future<Output = Result<McpServer, McpCatalogError>> + Send;

    fn mcp_server_read(
        &self,
        name: &ServerName,
    ) -> impl Future<Output = Result<Option<McpServer>, McpCatalogError>> + Send;

    /// Every server, ordered by name.
    fn mcp_server_list(
        &self,
    ) -> impl Future<Output = Result<Vec<McpServer>, McpCatalogError>> + Send;

    /// Deletes server `name`; whether there was one. Links to it stay (their calls
    /// then fail as a tool error naming the missing server) until unlinked.
    fn mcp_server_delete(
        &self,
        name: &ServerName,
    ) -> impl Future<Output = Result<bool, McpCatalogError>> + Send;

    /// Puts `link` on the session, replacing its link to the same server; refuses a
    /// new link beyond `links_max`.
    fn mcp_link_put(
        &self,
        session: &SessionId,
        link: &SessionLink,
        links_max: usize,
    ) -> impl Future<Output = Result<(), McpCatalogError>> + Send;

    /// The session's links, ordered by server name.
    fn mcp_link_list(
        &self,
        session: &SessionId,
    ) -> impl Future<Output = Result<Vec<SessionLink>, McpCatalogError>> + Send;

    /// Removes the session's link to `server`; whether there was one.
    fn mcp_link_delete(
        &self,
        session: &SessionId,
        server: &ServerName,
    ) -> impl Future<Output = Result<bool, McpCatalogError>> + Send;
}

/// The record a put under `condition` writes over `existing`, or the refusal: the one
/// decision every implementation makes, so they cannot disagree.
pub fn decide_put(
    name: &ServerName,
    spec: &McpServerSpec,
    existing: Option<&McpServer>,
    condition: PutCondition,
    now_ms: u64,
    count: usize,
    servers_max: usize,
) -> Result<McpServer, McpCatalogError> {
    let conflict = |actual: u64, expected: u64| McpCatalogError::Conflict {
        name: name.to_string(),
        expected,
        actual,
    };
    match (existing, condition) {
        (Some(existing), PutCondition::Absent) => Err(conflict(existing.revision, 0)),
        (Some(existing), PutCondition::Revision(expected)) if existing.revision != expected => {
            Err(conflict(existing.revision, expected))
        }
        (None, PutCondition::Revision(_)) => Err(McpCatalogError::ServerNotFound(name.to_string())),
        (Some(existing), _) => Ok(McpServer {
            name: name.clone(),
            spec: spec.clone(),
            revision: existing.revision + 1,
            created_at_ms: existing.created_at_ms,
            updated_at_ms: now_ms,
        }),
        (None, _) if count >= servers_max => Err(McpCatalogError::TooMany {
            bound: McpBound::ServersPerUniverse,
            max: servers_max,
        }),
        (None, _) => Ok(McpServer {
            name: name.clone(),
            spec: spec.clone(),
            revision: 1,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        }),
    }
}

/// The refusal of a new link beyond `links_max`, if `links` (the session's, without
/// the one being replaced) are already that many.
pub fn check_links(links: usize, replacing: bool, links_max: usize) -> Result<(), McpCatalogError> {
    if !replacing && links >= links_max {
        return Err(McpCatalogError::TooMany {
            bound: McpBound::LinksPerSession,
            max: links_max,
        });
    }
    Ok(())
}
