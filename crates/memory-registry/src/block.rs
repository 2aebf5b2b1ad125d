//! The memory block record, its rules, and the edits an agent makes to it.

use serde::{Deserialize, Serialize};

use crate::error::MemoryError;

/// Longest label, in characters (all ASCII).
pub const LABEL_CHARS_MAX: usize = 64;
/// Longest description, in bytes of UTF-8.
pub const DESCRIPTION_BYTES_MAX: usize = 1024;
/// A block's limit when its creator gives none, in bytes of UTF-8.
pub const LIMIT_BYTES_DEFAULT: u64 = 5_000;
/// The largest limit a block may have, in bytes of UTF-8.
pub const LIMIT_BYTES_MAX: u64 = 100_000;

/// `[a-z0-9_-]`, 1 to 64 characters: unique in a universe, it keys the block's
/// context item (`source:memory:LABEL`) and names it to the agent's tools.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BlockLabel(String);

impl BlockLabel {
    pub fn new(label: impl Into<String>) -> Result<Self, MemoryError> {
        let label = label.into();
        check_word("label", &label)?;
        Ok(Self(label))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The rule labels and archival tags share: `[a-z0-9_-]{1,64}`. Checked before
/// anything proportional to the input is allocated.
pub(crate) fn check_word(field: &'static str, word: &str) -> Result<(), MemoryError> {
    if word.is_empty() || word.len() > LABEL_CHARS_MAX {
        return Err(MemoryError::invalid(
            field,
            format!("must be 1 to {LABEL_CHARS_MAX} characters"),
        ));
    }
    let valid = word
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(MemoryError::invalid(field, "only a-z, 0-9, '-' and '_'"));
    }
    Ok(())
}

impl TryFrom<String> for BlockLabel {
    type Error = MemoryError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<BlockLabel> for String {
    fn from(value: BlockLabel) -> Self {
        value.0
    }
}

impl std::fmt::Display for BlockLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One memory block of a universe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Block {
    pub label: BlockLabel,
    /// What the block is for, shown to the agent with it.
    pub description: String,
    /// Never more than `limit_bytes` bytes of UTF-8.
    pub value: String,
    pub limit_bytes: u64,
    /// The agent's tools may not edit it; clients may.
    pub read_only: bool,
    /// 1 when created, one up with every change: edits compare and set it.
    pub revision: u64,
    pub created_at_ms: u64,
    pub updated_at_ms: u64,
}

impl Block {
    /// A new block at revision 1, checked.
    pub fn new(
        label: BlockLabel,
        description: String,
        value: String,
        limit_bytes: Option<u64>,
        read_only: bool,
        now_ms: u64,
    ) -> Result<Self, MemoryError> {
        let block = Self {
            label,
            description,
            value,
            limit_bytes: limit_bytes.unwrap_or(LIMIT_BYTES_DEFAULT),
            read_only,
            revision: 1,
            created_at_ms: now_ms,
            updated_at_ms: now_ms,
        };
        block.check()?;
        Ok(block)
    }

    /// Every rule a stored block keeps.
    pub fn check(&self) -> Result<(), MemoryError> {
        check_description(&self.description)?;
        check_limit(self.limit_bytes)?;
        check_value(&self.label, &self.value, self.limit_bytes)?;
        check_text("value", &self.value)
    }
}

pub fn check_description(description: &str) -> Result<(), MemoryError> {
    if description.len() > DESCRIPTION_BYTES_MAX {
        return Err(MemoryError::invalid(
            "description",
            format!("at most {DESCRIPTION_BYTES_MAX} bytes"),
        ));
    }
    check_text("description", description)
}

/// Text every store can hold: no U+0000 (Postgres `text` refuses it).
pub(crate) fn check_text(field: &'static str, text: &str) -> Result<(), MemoryError> {
    if text.contains('\0') {
        return Err(MemoryError::invalid(field, "must not contain U+0000"));
    }
    Ok(())
}

pub fn check_limit(limit_bytes: u64) -> Result<(), MemoryError> {
    if limit_bytes == 0 || limit_bytes > LIMIT_BYTES_MAX {
        return Err(MemoryError::invalid(
            "limitBytes",
            format!("must be 1 to {LIMIT_BYTES_MAX}"),
        ));
    }
    Ok(())
}

/// A value within `limit_bytes`, or [`MemoryError::TooLarge`].
pub fn check_value(label: &BlockLabel, value: &str, limit_bytes: u64) -> Result<(), MemoryError> {
    if value.len() as u64 > limit_bytes {
        return Err(MemoryError::TooLarge {
            label: label.to_string(),
            bytes: value.len(),
            limit_bytes,
        });
    }
    Ok(())
}

/// A change to a block: every field given replaces the block's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockPatch {
    pub description: Option<String>,
    pub value: Option<String>,
    pub limit_bytes: Option<u64>,
    pub read_only: Option<bool>,
}

impl BlockPatch {
    /// A patch of the value alone (the agent's edits).
    pub fn value(value: String) -> Self {
        Self {
            value: Some(value),
            ..Self::default()
        }
    }

    /// Whether the patch would not change `block`.
    pub fn is_noop(&self, block: &Block) -> bool {
        self.description
            .as_ref()
            .is_none_or(|d| *d == block.description)
            && self.value.as_ref().is_none_or(|v| *v == block.value)
            && self.limit_bytes.is_none_or(|l| l == block.limit_bytes)
            && self.read_only.is_none_or(|r| r == block.read_only)
    }
}

/// `value` with the one occurrence of `old_text` replaced by `new_text`: refused
/// when `old_text` is empty, absent, or occurs more than once (the model then
/// quotes more of its surroundings). The size is checked by the update.
pub fn replace(
    label: &BlockLabel,
    value: &str,
    old_text: &str,
    new_text: &str,
) -> Result<String, MemoryError> {
    if old_text.is_empty() {
        return Err(MemoryError::invalid("old_text", "must not be empty"));
    }
    // Counting stops at the second match: one is all an edit may touch.
    match value.match_indices(old_text).take(2).count() {
        0 => Err(MemoryError::OldTextNotFound(label.to_string())),
        1 => Ok(value.replacen(old_text, new_text, 1)),
        _ => Err(MemoryError::OldTextAmbiguous {
            label: label.to_string(),
            count: value.matches(old_text).count(),
        }),
    }
}

/// `value` with `text` appended on a line of its own.
pub fn append(value: &str, text: &str) -> String {
    let mut out = String::with_capacity(value.len() + text.len() + 1);
    out.push_str(value);
    if !value.is_empty() && !value.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(text);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label() -> BlockLabel {
        BlockLabel::new("persona").unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn labels_follow_the_rule() {
        for good in ["persona", "a", "user_notes", "p-1", &"x".repeat(64)] {
            assert!(BlockLabel::new(good).is_ok(), "{good}");
        }
        for bad in ["", "Persona", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(
                matches!(BlockLabel::new(bad), Err(MemoryError::Invalid { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn replace_needs_exactly_one_occurrence() {
        let label = label();
        assert_eq!(
            replace(&label, "I like tea.", "tea", "coffee")
                .ok()
                .as_deref(),
            Some("I like coffee.")
        );
        assert_eq!(
            replace(&label, "x", "y", "z").map_err(|err| err.code()),
            Err("memoryOldTextNotFound")
        );
        assert!(matches!(
            replace(&label, "a a a", "a", "b"),
            Err(MemoryError::OldTextAmbiguous { count: 3, .. })
        ));
        assert_eq!(
            replace(&label, "a", "", "b").map_err(|err| err.code()),
            Err("invalidMemory")
        );
    }

    #[test]
    fn append_starts_a_line_and_limits_are_bytes() {
        assert_eq!(append("", "x"), "x");
        assert_eq!(append("a", "x"), "a\nx");
        assert_eq!(append("a\n", "x"), "a\nx");
        let block = Block::new(label(), String::new(), "é".repeat(3), Some(5), false, 1);
        assert_eq!(
            block.map_err(|err| err.code()).err(),
            Some("memoryBlockTooLarge")
        );
        assert!(Block::new(label(), String::new(), String::new(), Some(0), false, 1).is_err());
        assert!(Block::new(label(), "d".repeat(1025), String::new(), None, false, 1).is_err());
        let ok = Block::new(label(), String::new(), "é".repeat(2), Some(4), true, 1);
        assert!(ok.is_ok_and(|block| block.revision == 1 && block.read_only));
    }
}
