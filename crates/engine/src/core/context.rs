//! Context items and the order-independent digest that lets the control state
//! fingerprint a generation request without holding the item list.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::blob_ref::BlobRef;
use crate::core::limits::ITEM_KEY_BYTES_MAX;
use crate::ids::ToolCallId;

/// What a context item is. The kind decides where the planner puts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Instructions,
    Catalog,
    /// The result of a compaction: stands in for the transcript it replaced.
    Summary,
    UserMessage,
    AssistantMessage,
    ToolCall,
    ToolResult,
    Reasoning,
    /// Provider-native output kept verbatim (hosted tool calls and their results).
    ProviderOpaque,
    /// A provider's own compaction output (OpenAI's encrypted `compaction` item,
    /// Anthropic's `compaction` block), replayed verbatim. Like a summary it stands
    /// in for every unkeyed item before it, which are dropped when it arrives.
    Compaction,
    /// A voice note (audio blob) in a run's input. It never reaches the context: the
    /// planner has it transcribed before the run starts (`core::transcription`), and
    /// the run starts with a `user_message` transcript that names it as its source.
    UserAudio,
}

impl ItemKind {
    /// Planned position band: instructions first, then catalogs, then the
    /// compaction summary, then the transcript in order. A stable prefix keeps
    /// provider prompt caches warm.
    pub fn band(self) -> u8 {
        match self {
            Self::Instructions => 0,
            Self::Catalog => 1,
            Self::Summary | Self::Compaction => 2,
            Self::UserMessage
            | Self::UserAudio
            | Self::AssistantMessage
            | Self::ToolCall
            | Self::ToolResult
            | Self::Reasoning
            | Self::ProviderOpaque => 3,
        }
    }
}

/// An item as a host hands it in: its kind, content ref and token estimate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemSpec {
    pub kind: ItemKind,
    pub content_ref: BlobRef,
    pub token_estimate: u64,
    /// The tool call a `tool_call` item belongs to, when the adapter knows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<ToolCallId>,
    /// The blob this item was made from: a voice note's audio for its transcript.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<BlobRef>,
}

impl ItemSpec {
    pub fn new(kind: ItemKind, content_ref: BlobRef, token_estimate: u64) -> Self {
        Self {
            kind,
            content_ref,
            token_estimate,
            call_id: None,
            source_ref: None,
        }
    }
}

/// An item in the session's context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContextItem {
    /// Assigned once, in admission order; a replaced keyed item keeps its ordinal.
    pub ordinal: u64,
    pub kind: ItemKind,
    /// Set on replaceable items (instructions, catalogs); transcript items have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub content_ref: BlobRef,
    pub token_estimate: u64,
    /// Tool call and tool result items name their call, so adapters can pair them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub call_id: Option<ToolCallId>,
    /// A tool result that reports a failure (providers flag these to the model).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
    /// The blob this item was made from (a transcript's voice note). Absent for
    /// everything else, so items recorded before it existed encode and hash as
    /// they always did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ref: Option<BlobRef>,
}

impl ContextItem {
    pub fn new(ordinal: u64, key: Option<String>, spec: &ItemSpec) -> Self {
        Self {
            ordinal,
            kind: spec.kind,
            key,
            content_ref: spec.content_ref.clone(),
            token_estimate: spec.token_estimate,
            call_id: spec.call_id.clone(),
            is_error: false,
            source_ref: spec.source_ref.clone(),
        }
    }

    /// Sort key of the planned order.
    pub fn order_key(&self) -> (u8, u64) {
        (self.kind.band(), self.ordinal)
    }

    fn element_digest(&self) -> [u8; 32] {
        // `ContextItem` holds no maps, so plain serde_json output is already canonical;
        // skipping the `Value` round trip of `canonical::to_vec` keeps replay fast.
        match serde_json::to_vec(self) {
            Ok(bytes) => Sha256::digest(bytes).into(),
            Err(err) => panic!("context items always encode: {err}"),
        }
    }
}

/// Sum, modulo 2^256, of the SHA-256 of every item's canonical form.
///
/// Because each item carries its ordinal and kind (hence its planned position), the
/// digest identifies the ordered item list while being updatable one item at a time:
/// adding an item adds its hash, replacing one subtracts the old hash. This is what
/// lets the bounded control state compute the same request fingerprint as a host
/// holding every item. It guards against replay drift, not an adversary, which is why
/// an additive multiset hash (rather than a Merkle tree) is enough.
#[derive(Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct ContextDigest([u8; 32]);

impl ContextDigest {
    pub fn of_items<'a>(items: impl IntoIterator<Item = &'a ContextItem>) -> Self {
        let mut digest = Self::default();
        items.into_iter().for_each(|item| digest.add(item));
        digest
    }

    pub fn add(&mut self, item: &ContextItem) {
        let element = item.element_digest();
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let sum = u16::from(self.0[i]) + u16::from(element[i]) + carry;
            self.0[i] = sum as u8;
            carry = sum >> 8;
        }
    }

    pub fn remove(&mut self, item: &ContextItem) {
        let element = item.element_digest();
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut diff = i16::from(self.0[i]) - i16::from(element[i]) - borrow;
            borrow = i16::from(diff < 0);
            if diff < 0 {
                diff += 256;
            }
            self.0[i] = diff as u8;
        }
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Debug for ContextDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ContextDigest({})", self.to_hex())
    }
}

impl From<ContextDigest> for String {
    fn from(digest: ContextDigest) -> String {
        digest.to_hex()
    }
}

impl TryFrom<String> for ContextDigest {
    type Error = hex::FromHexError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(value, &mut out)?;
        Ok(Self(out))
    }
}

/// Keys of items a host's context sources maintain (instruction files, skill
/// catalogs, memory blocks): only a generation's refresh writes them.
pub const SOURCE_KEY_PREFIX: &str = "source:";

/// Whether `key` is acceptable as a context item key.
pub fn is_valid_item_key(key: &str) -> bool {
    (1..=ITEM_KEY_BYTES_MAX).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':' | b'/'))
}

/// The rough token estimate every host gives content it stores as an item or a tool
/// result: four bytes a token, at least one. It lives here, beside the items it
/// sizes, so hosts, the runtime and the API projection share one rule without
/// depending on each other.
pub fn estimate_tokens(bytes: &[u8]) -> u64 {
    (bytes.len() as u64).div_ceil(4).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(ordinal: u64, text: &str) -> ContextItem {
        ContextItem {
            ordinal,
            kind: ItemKind::UserMessage,
            key: None,
            content_ref: BlobRef::of_bytes(text.as_bytes()),
            token_estimate: 3,
            call_id: None,
            is_error: false,
            source_ref: None,
        }
    }

    #[test]
    fn digest_is_order_independent_and_invertible() {
        let (a, b, c) = (item(1, "a"), item(2, "b"), item(3, "c"));
        let forward = ContextDigest::of_items([&a, &b, &c]);
        let backward = ContextDigest::of_items([&c, &b, &a]);
        assert_eq!(forward, backward);
        let mut removed = forward;
        removed.remove(&b);
        assert_eq!(removed, ContextDigest::of_items([&a, &c]));
        removed.remove(&a);
        removed.remove(&c);
        assert_eq!(removed, ContextDigest::default());
    }

    #[test]
    fn digest_depends_on_position() {
        assert_ne!(
            ContextDigest::of_items([&item(1, "a"), &item(2, "b")]),
            ContextDigest::of_items([&item(2, "a"), &item(1, "b")])
        );
    }

    #[test]
    fn planned_bands() {
        assert!(ItemKind::Instructions.band() < ItemKind::Catalog.band());
        assert!(ItemKind::Catalog.band() < ItemKind::Summary.band());
        assert!(ItemKind::Summary.band() < ItemKind::UserMessage.band());
    }
}
