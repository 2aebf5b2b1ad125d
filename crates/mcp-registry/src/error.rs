//! Typed refusals of the catalog, each with a stable code the API maps to its error.

use engine::store::StoreError;

/// Which count a [`McpCatalogError::TooMany`] would break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpBound {
    ServersPerUniverse,
    LinksPerSession,
}

impl std::fmt::Display for McpBound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::ServersPerUniverse => "MCP servers per universe",
            Self::LinksPerSession => "MCP links per session",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum McpCatalogError {
    /// A record breaks a rule; the message names the field (no secret is ever in it:
    /// records hold names of secrets, not values).
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("MCP server {0:?} not found")]
    ServerNotFound(String),
    #[error("MCP server {0:?} is not linked to this session")]
    LinkNotFound(String),
    #[error("MCP server {name:?} is at revision {actual}, not {expected}")]
    Conflict {
        name: String,
        expected: u64,
        actual: u64,
    },
    #[error("at most {max} {bound}")]
    TooMany { bound: McpBound, max: usize },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl McpCatalogError {
    /// Stable machine-readable code (`data.reason` on the wire).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid { .. } => "invalidMcpServer",
            Self::ServerNotFound(_) => "mcpServerNotFound",
            Self::LinkNotFound(_) => "mcpLinkNotFound",
            Self::Conflict { .. } => "revisionConflict",
            Self::TooMany { .. } => "tooManyMcp",
            Self::Store(_) => "store",
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }
}
