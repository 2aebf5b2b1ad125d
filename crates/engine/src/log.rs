//! The session log: an append-only sequence of entries, each carrying one versioned
//! event. Stores persist [`LogEntry`] without understanding its payload; the domain
//! decodes payloads through [`crate::core::CoreEvent`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ids::{RunId, ToolCallId};

/// Position in a session log. The first entry has sequence 1; a head of 0 means empty.
pub type Seq = u64;

/// Which run, turn, tool batch and tool call an entry belongs to, so readers can
/// select entries without decoding payloads.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Joins {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<RunId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_batch: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<ToolCallId>,
}

/// A versioned event as stored: a dotted `kind`, a schema `version` and the payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub kind: String,
    pub version: u32,
    pub payload: Value,
}

/// One committed (or about to be committed) log entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    pub seq: Seq,
    /// Wall-clock time the host observed when the entry was decided, in Unix
    /// milliseconds. It enters the engine only through commands and resume inputs.
    pub observed_at_ms: u64,
    #[serde(default)]
    pub joins: Joins,
    pub event: EventEnvelope,
}

impl LogEntry {
    /// Canonical bytes of this entry (one line in a JSONL log, one row elsewhere).
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        crate::canonical::to_vec(self)
    }

    pub fn from_canonical_bytes(bytes: &[u8]) -> Result<Self, crate::canonical::DecodeError> {
        crate::canonical::from_slice(bytes)
    }
}
