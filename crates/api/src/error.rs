//! Stable JSON-RPC error codes and their typed `data`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The error codes the API uses. They never change meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ErrorKind {
    /// -32602: params do not fit the method.
    InvalidParams,
    /// -32004: the session, run or blob does not exist (in this universe).
    NotFound,
    /// -32009: a revision, submission or state conflict.
    Conflict,
    /// -32010: the request is well formed but the session refused it.
    Rejected,
    /// -32001: too many requests in flight; retry later.
    Overloaded,
    /// -32000: missing or invalid credentials.
    Unauthorized,
    /// -32603: a server fault.
    Internal,
    /// -32600: the envelope is not a JSON-RPC request (an object or array `id`, no
    /// `"jsonrpc": "2.0"`, an empty or oversized batch, an oversized body); answered
    /// with `id: null` before any method runs.
    InvalidRequest,
    /// -32700: the body is not JSON; answered with `id: null`.
    ParseError,
}

impl ErrorKind {
    pub fn code(self) -> i32 {
        match self {
            Self::InvalidParams => -32602,
            Self::NotFound => -32004,
            Self::Conflict => -32009,
            Self::Rejected => -32010,
            Self::Overloaded => -32001,
            Self::Unauthorized => -32000,
            Self::Internal => -32603,
            Self::InvalidRequest => -32600,
            Self::ParseError => -32700,
        }
    }

    /// Every kind, in the contract's order.
    pub const ALL: [ErrorKind; 9] = [
        Self::InvalidParams,
        Self::NotFound,
        Self::Conflict,
        Self::Rejected,
        Self::Overloaded,
        Self::Unauthorized,
        Self::Internal,
        Self::InvalidRequest,
        Self::ParseError,
    ];

    pub fn from_code(code: i32) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.code() == code)
    }
}

/// Which per-universe quota refused a request (`reason: quotaExceeded`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Quota {
    /// Sessions one universe may hold (`session/start` of a new session).
    Sessions,
    /// Runs requested and not yet finished, over all of a universe's sessions
    /// (`run/start` of a new submission).
    RunsInFlight,
    /// Bytes of content a universe stores (blob uploads, run and steer input,
    /// instructions, snapshot manifests).
    StoredBytes,
    /// MCP servers one universe may hold (`mcp/servers/put` of a new server).
    McpServers,
    /// MCP servers linked to one session (`session/mcp/link` of a new server).
    McpLinks,
    /// Memory blocks one universe may hold (`memory/blocks/create`).
    MemoryBlocks,
    /// Memory blocks attached to one session (`session/memory/attach` of a new one).
    SessionMemoryBlocks,
    /// Archival passages one universe may hold (`memory/archival/insert`, and the
    /// agent's `archival_insert`).
    ArchivalPassages,
    /// Schedules one universe may hold (`schedule/create`, and the agent's
    /// `schedule_create`).
    Schedules,
    /// Blobs one universe may pin (`blob/pin` of a blob not pinned yet).
    BlobPins,
}

/// The `data` member of every error the API returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorData {
    pub kind: ErrorKind,
    /// Machine-readable reason within the kind, e.g. `revisionConflict`, `sessionBusy`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For conflicts on revisions: the current revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_revision: Option<u64>,
    /// For `quotaExceeded`: which quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
}

/// An error a method returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub message: String,
    pub data: ErrorData,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            data: ErrorData {
                kind,
                reason: None,
                current_revision: None,
                quota: None,
            },
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.data.reason = Some(reason.into());
        self
    }

    pub fn with_current_revision(mut self, revision: u64) -> Self {
        self.data.current_revision = Some(revision);
        self
    }

    /// -32010 `quotaExceeded`: the universe is at `quota`; `message` says how far.
    pub fn quota_exceeded(quota: Quota, message: impl Into<String>) -> Self {
        let mut error = Self::new(ErrorKind::Rejected, message).with_reason("quotaExceeded");
        error.data.quota = Some(quota);
        error
    }

    pub fn kind(&self) -> ErrorKind {
        self.data.kind
    }

    pub fn code(&self) -> i32 {
        self.data.kind.code()
    }

    pub fn invalid_params(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParams, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Conflict, message)
    }

    pub fn rejected(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Rejected, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }
}
