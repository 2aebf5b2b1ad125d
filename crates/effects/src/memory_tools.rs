//! The memory tools attaching a memory block registers on a session: edits of the
//! session's blocks (`memory_replace`, `memory_append`, `memory_rethink`) and the
//! universe's archival memory (`archival_insert`, `archival_search`).
//!
//! A failure the model caused (a label the session has no block under, a read-only
//! block, old text that is not there or not unique, a value over the block's limit,
//! a full archive) is an error result carrying the refusal's stable code
//! (`memoryBlockTooLarge`, …), never an `Err`: the model reads it and tries again.
//! Edits compare and set the block's revision, reading again when another writer
//! (another session sharing the block, a client) moved it meanwhile. A block's
//! content never reaches a log line.

use engine::SessionId;
use engine::core::effects::ToolResult;
use engine::core::run::{ToolCallRequest, ToolStatus};
use engine::store::BlobStore;
use memory_registry::archival::{SEARCH_LIMIT_MAX, passage_id};
use memory_registry::block::{append, replace};
use memory_registry::{
    ARCHIVAL_PASSAGES_MAX, ArchivalQuery, BlockLabel, BlockPatch, MemoryCatalog, MemoryError,
    NewPassage,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::adapter::AdapterError;
use crate::toolset::result;

pub const MEMORY_REPLACE: &str = "memory_replace";
pub const MEMORY_APPEND: &str = "memory_append";
pub const MEMORY_RETHINK: &str = "memory_rethink";
pub const ARCHIVAL_INSERT: &str = "archival_insert";
pub const ARCHIVAL_SEARCH: &str = "archival_search";

/// Every memory tool's name, in registration order.
pub const MEMORY_TOOLS: [&str; 5] = [
    MEMORY_REPLACE,
    MEMORY_APPEND,
    MEMORY_RETHINK,
    ARCHIVAL_INSERT,
    ARCHIVAL_SEARCH,
];

/// Times an edit reads the block again after losing a race for its revision.
pub const EDIT_ATTEMPTS: usize = 4;
/// Passages one `archival_search` returns at most (the model's view stays small).
pub const TOOL_SEARCH_LIMIT_MAX: usize = 10;
/// Bytes of one found passage the model sees; the rest is cut with a marker.
pub const TOOL_PASSAGE_BYTES_MAX: usize = 4 * 1024;

/// Which memory tool a call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemoryTool {
    Replace,
    Append,
    Rethink,
    Insert,
    Search,
}

impl MemoryTool {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            MEMORY_REPLACE => Some(Self::Replace),
            MEMORY_APPEND => Some(Self::Append),
            MEMORY_RETHINK => Some(Self::Rethink),
            ARCHIVAL_INSERT => Some(Self::Insert),
            ARCHIVAL_SEARCH => Some(Self::Search),
            _ => None,
        }
    }
}

/// The definitions attaching a block registers: `(name, canonical definition
/// bytes)`, alike on every API kind.
pub fn memory_definitions() -> Vec<(String, Vec<u8>)> {
    let label = json!({"type": "string", "description": "The memory block's label, as shown in <memory_block label=...>."});
    let tools = [
        (
            MEMORY_REPLACE,
            "Replaces text in one of your memory blocks (shown in your context as \
             <memory_block>). `old_text` must occur exactly once in the block; quote enough \
             of it to be unique. An empty `new_text` deletes it. The block may not grow past \
             its limit.",
            json!({
                "type": "object",
                "properties": {
                    "label": label,
                    "old_text": {"type": "string", "description": "Text now in the block, exactly once."},
                    "new_text": {"type": "string", "description": "What replaces it."},
                },
                "required": ["label", "old_text", "new_text"],
                "additionalProperties": false,
            }),
        ),
        (
            MEMORY_APPEND,
            "Appends text on a new line at the end of one of your memory blocks. The block \
             may not grow past its limit.",
            json!({
                "type": "object",
                "properties": {
                    "label": label,
                    "text": {"type": "string", "description": "Text to add."},
                },
                "required": ["label", "text"],
                "additionalProperties": false,
            }),
        ),
        (
            MEMORY_RETHINK,
            "Rewrites one of your memory blocks as a whole: use it to reorganise or condense \
             it. The new value may not pass the block's limit.",
            json!({
                "type": "object",
                "properties": {
                    "label": label,
                    "new_value": {"type": "string", "description": "The block's whole new content."},
                },
                "required": ["label", "new_value"],
                "additionalProperties": false,
            }),
        ),
        (
            ARCHIVAL_INSERT,
            "Files a passage (at most 16 KiB) in long-term archival memory, which is not in \
             your context but can be searched with archival_search later, from any session \
             of this universe.",
            json!({
                "type": "object",
                "properties": {
                    "text": {"type": "string", "description": "The passage."},
                    "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_-]{1,64}$"}, "maxItems": 16, "description": "Optional tags to filter searches by."},
                },
                "required": ["text"],
                "additionalProperties": false,
            }),
        ),
        (
            ARCHIVAL_SEARCH,
            "Searches archival memory by words; passages matching more of them come first, \
             newer first on ties.",
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "Words to look for."},
                    "limit": {"type": "integer", "minimum": 1, "maximum": TOOL_SEARCH_LIMIT_MAX, "description": format!("How many passages (default 5, at most {TOOL_SEARCH_LIMIT_MAX}).")},
                    "tags": {"type": "array", "items": {"type": "string"}, "description": "Only passages with every one of these tags."},
                },
                "required": ["query"],
                "additionalProperties": false,
            }),
        ),
    ];
    crate::toolset::definitions(tools)
}

#[derive(Deserialize)]
struct Replace {
    label: String,
    old_text: String,
    new_text: String,
}

#[derive(Deserialize)]
struct Append {
    label: String,
    text: String,
}

#[derive(Deserialize)]
struct Rethink {
    label: String,
    new_value: String,
}

#[derive(Deserialize)]
struct Insert {
    text: String,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Search {
    query: String,
    #[serde(default)]
    limit: Option<usize>,
    #[serde(default)]
    tags: Vec<String>,
}

/// Runs one memory tool call of `session` against its universe's `store`.
pub async fn invoke<S: MemoryCatalog, B: BlobStore>(
    store: &S,
    session: &SessionId,
    call: &ToolCallRequest,
    tool: MemoryTool,
    blobs: &B,
    now_ms: u64,
) -> Result<ToolResult, AdapterError> {
    let arguments = blobs.get(&call.arguments_ref).await?;
    let outcome = match tool {
        MemoryTool::Replace => match parse::<Replace>(&arguments) {
            Ok(args) => {
                edit(store, session, &args.label, now_ms, |label, value| {
                    replace(label, value, &args.old_text, &args.new_text)
                })
                .await
            }
            Err(refusal) => Err(refusal),
        },
        MemoryTool::Append => match parse::<Append>(&arguments) {
            Ok(args) => {
                edit(store, session, &args.label, now_ms, |_, value| {
                    Ok(append(value, &args.text))
                })
                .await
            }
            Err(refusal) => Err(refusal),
        },
        MemoryTool::Rethink => match parse::<Rethink>(&arguments) {
            Ok(args) => {
                edit(store, session, &args.label, now_ms, |_, _| {
                    Ok(args.new_value.clone())
                })
                .await
            }
            Err(refusal) => Err(refusal),
        },
        MemoryTool::Insert => match parse::<Insert>(&arguments) {
            Ok(args) => insert(store, session, call, args, now_ms).await,
            Err(refusal) => Err(refusal),
        },
        MemoryTool::Search => match parse::<Search>(&arguments) {
            Ok(args) => search(store, args).await,
            Err(refusal) => Err(refusal),
        },
    };
    match outcome {
        Ok(output) => result(call, blobs, ToolStatus::Ok, &output).await,
        Err(MemoryError::Store(err)) => Err(AdapterError::Store(err)),
        Err(refusal) => {
            let output = json!({"error": refusal.to_string(), "code": refusal.code()});
            result(call, blobs, ToolStatus::Error, &output).await
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(arguments: &[u8]) -> Result<T, MemoryError> {
    serde_json::from_slice(arguments).map_err(|err| MemoryError::Invalid {
        field: "arguments",
        reason: err.to_string(),
    })
}

/// Applies `change` to the session's block `label` by compare-and-set, reading
/// again after a lost race.
async fn edit<S: MemoryCatalog>(
    store: &S,
    session: &SessionId,
    label: &str,
    now_ms: u64,
    change: impl Fn(&BlockLabel, &str) -> Result<String, MemoryError>,
) -> Result<Value, MemoryError> {
    let label = BlockLabel::new(label)?;
    // Only the session's own blocks: another session's are not its to edit.
    if !store.memory_link_list(session).await?.contains(&label) {
        return Err(MemoryError::BlockNotFound(label.to_string()));
    }
    let mut last_conflict = None;
    for _ in 0..EDIT_ATTEMPTS {
        let block = store
            .memory_block_read(&label)
            .await?
            .ok_or_else(|| MemoryError::BlockNotFound(label.to_string()))?;
        if block.read_only {
            return Err(MemoryError::ReadOnly(label.to_string()));
        }
        let value = change(&label, &block.value)?;
        let patch = BlockPatch::value(value);
        match store
            .memory_block_update(&label, Some(block.revision), &patch, now_ms)
            .await
        {
            Ok(block) => {
                return Ok(json!({
                    "label": block.label.as_str(),
                    "revision": block.revision,
                    "bytes": block.value.len(),
                    "limit_bytes": block.limit_bytes,
                    "note": "Saved; the block shows its new value from your next turn.",
                }));
            }
            Err(conflict @ MemoryError::Conflict { .. }) => last_conflict = Some(conflict),
            Err(refusal) => return Err(refusal),
        }
    }
    Err(last_conflict.unwrap_or_else(|| MemoryError::BlockNotFound(label.to_string())))
}

async fn insert<S: MemoryCatalog>(
    store: &S,
    session: &SessionId,
    call: &ToolCallRequest,
    args: Insert,
    now_ms: u64,
) -> Result<Value, MemoryError> {
    // Keyed by the call, so a retried call finds the passage its first attempt filed.
    let id = passage_id(&[session.as_str(), call.call_id.as_str()]);
    let passage = NewPassage::new(id, args.text, args.tags, now_ms)?;
    let stored = store
        .memory_passage_insert(&passage, ARCHIVAL_PASSAGES_MAX)
        .await?;
    Ok(json!({"id": stored.id, "tags": stored.tags}))
}

async fn search<S: MemoryCatalog>(store: &S, args: Search) -> Result<Value, MemoryError> {
    let limit = args
        .limit
        .unwrap_or(5)
        .clamp(1, TOOL_SEARCH_LIMIT_MAX.min(SEARCH_LIMIT_MAX));
    let query = ArchivalQuery::new(args.query, args.tags, Some(limit))?;
    let found = store.memory_passage_search(&query).await?;
    let passages: Vec<Value> = found
        .iter()
        .map(|passage| {
            json!({
                "id": passage.id,
                "text": crate::context_sources::clipped(&passage.text, TOOL_PASSAGE_BYTES_MAX),
                "tags": passage.tags,
                "created_at_ms": passage.created_at_ms,
            })
        })
        .collect();
    Ok(json!({"passages": passages}))
}
