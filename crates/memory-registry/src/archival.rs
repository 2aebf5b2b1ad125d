//! Archival passages: text an agent (or a client) files away to search later, per
//! universe, never in the context unless searched for.
//!
//! Search matches terms: lowercase runs of letters and digits ([`terms`]). The
//! reference catalog and store-fs rank passages by how many distinct query terms
//! they hold, newer first on ties; store-pg uses Postgres full-text search
//! (stemmed, stop words dropped, `ts_rank`), so it finds at least what exact terms
//! find for ordinary words.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::block::{check_text, check_word};
use crate::error::MemoryError;

/// Longest passage, in bytes of UTF-8.
pub const PASSAGE_BYTES_MAX: usize = 16 * 1024;
/// Tags one passage may carry.
pub const TAGS_MAX: usize = 16;
/// Longest search query, in bytes of UTF-8.
pub const QUERY_BYTES_MAX: usize = 1024;
/// Query terms beyond this many are ignored.
pub const QUERY_TERMS_MAX: usize = 32;
/// Longest term an index keeps, in characters; longer runs are not terms.
pub const TERM_CHARS_MAX: usize = 64;
/// Most passages one search returns.
pub const SEARCH_LIMIT_MAX: usize = 50;
/// Passages a search returns when the caller names no limit.
pub const SEARCH_LIMIT_DEFAULT: usize = 10;

/// A passage as its writer gives it; the store adds its place in the created order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NewPassage {
    /// 32 lowercase hex characters ([`passage_id`]); inserting an id again finds
    /// the passage stored under it.
    pub id: String,
    pub text: String,
    /// Sorted, without duplicates, each `[a-z0-9_-]{1,64}`.
    pub tags: Vec<String>,
    pub created_at_ms: u64,
}

impl NewPassage {
    /// A checked passage; `tags` are sorted and deduplicated.
    pub fn new(
        id: String,
        text: String,
        mut tags: Vec<String>,
        created_at_ms: u64,
    ) -> Result<Self, MemoryError> {
        if tags.len() > TAGS_MAX {
            return Err(MemoryError::invalid("tags", format!("at most {TAGS_MAX}")));
        }
        tags.sort();
        tags.dedup();
        let passage = Self {
            id,
            text,
            tags,
            created_at_ms,
        };
        passage.check()?;
        Ok(passage)
    }

    /// Every rule a stored passage keeps.
    pub fn check(&self) -> Result<(), MemoryError> {
        if !is_passage_id(&self.id) {
            return Err(MemoryError::invalid("id", "32 lowercase hex characters"));
        }
        if self.text.trim().is_empty() || self.text.len() > PASSAGE_BYTES_MAX {
            return Err(MemoryError::invalid(
                "text",
                format!("1 to {PASSAGE_BYTES_MAX} bytes, not only whitespace"),
            ));
        }
        check_text("text", &self.text)?;
        if self.tags.len() > TAGS_MAX {
            return Err(MemoryError::invalid("tags", format!("at most {TAGS_MAX}")));
        }
        for tag in &self.tags {
            check_word("tags", tag)?;
        }
        if !self.tags.is_sorted() || self.tags.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(MemoryError::invalid("tags", "sorted, without duplicates"));
        }
        Ok(())
    }

    /// The stored passage at place `seq` of the universe's created order.
    pub fn stored(self, seq: u64) -> Passage {
        Passage {
            id: self.id,
            text: self.text,
            tags: self.tags,
            created_at_ms: self.created_at_ms,
            seq,
        }
    }
}

/// A stored passage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Passage {
    pub id: String,
    pub text: String,
    pub tags: Vec<String>,
    pub created_at_ms: u64,
    /// Its place in the universe's created order (larger is newer); the store sets it.
    pub seq: u64,
}

/// The id of a passage made by `parts` (for an agent's insert: the session and the
/// tool call, so a retried call finds the passage its first attempt stored; for a
/// client's: fresh randomness): 32 lowercase hex characters of their SHA-256.
pub fn passage_id(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(&hasher.finalize()[..16])
}

pub fn is_passage_id(id: &str) -> bool {
    id.len() == 32
        && id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A search: passages holding any of the query's terms (and every tag asked for),
/// best first, at most `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchivalQuery {
    pub text: String,
    /// Distinct terms of `text`, at most [`QUERY_TERMS_MAX`], in first-seen order.
    pub terms: Vec<String>,
    pub tags: Vec<String>,
    pub limit: usize,
}

impl ArchivalQuery {
    pub fn new(text: String, tags: Vec<String>, limit: Option<usize>) -> Result<Self, MemoryError> {
        if text.len() > QUERY_BYTES_MAX {
            return Err(MemoryError::invalid(
                "query",
                format!("at most {QUERY_BYTES_MAX} bytes"),
            ));
        }
        let limit = limit.unwrap_or(SEARCH_LIMIT_DEFAULT);
        if limit == 0 || limit > SEARCH_LIMIT_MAX {
            return Err(MemoryError::invalid(
                "limit",
                format!("1 to {SEARCH_LIMIT_MAX}"),
            ));
        }
        if tags.len() > TAGS_MAX {
            return Err(MemoryError::invalid("tags", format!("at most {TAGS_MAX}")));
        }
        for tag in &tags {
            check_word("tags", tag)?;
        }
        let mut seen = BTreeSet::new();
        let terms: Vec<String> = term_iter(&text)
            .filter(|term| seen.insert(term.clone()))
            .take(QUERY_TERMS_MAX)
            .collect();
        if terms.is_empty() {
            return Err(MemoryError::invalid("query", "has no word to search for"));
        }
        Ok(Self {
            text,
            terms,
            tags,
            limit,
        })
    }

    /// How many of the query's terms `passage_terms` holds.
    pub fn score(&self, passage_terms: &BTreeSet<String>) -> usize {
        self.terms
            .iter()
            .filter(|term| passage_terms.contains(*term))
            .count()
    }

    /// Whether `passage` carries every tag asked for.
    pub fn tags_match(&self, passage_tags: &[String]) -> bool {
        self.tags.iter().all(|tag| passage_tags.contains(tag))
    }
}

/// The distinct terms of `text`: maximal runs of alphanumeric characters,
/// lowercased, of at most [`TERM_CHARS_MAX`] characters.
pub fn terms(text: &str) -> BTreeSet<String> {
    term_iter(text).collect()
}

fn term_iter(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|run| !run.is_empty() && run.chars().count() <= TERM_CHARS_MAX)
        .map(str::to_lowercase)
}

/// Orders scored hits best first (more terms, then newer) and keeps `limit`.
pub fn rank<T>(mut hits: Vec<(usize, u64, T)>, limit: usize) -> Vec<T> {
    hits.retain(|(score, _, _)| *score > 0);
    hits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    hits.into_iter()
        .take(limit)
        .map(|(_, _, hit)| hit)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_are_lowercase_alphanumeric_runs() {
        let found: Vec<String> = terms("Tea, TEA & Café-au-lait 42!").into_iter().collect();
        assert_eq!(found, ["42", "au", "café", "lait", "tea"]);
    }

    #[test]
    fn queries_and_passages_are_bounded() {
        let query = ArchivalQuery::new("the quick quick fox".into(), vec![], None);
        let query = query.unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(query.terms, ["the", "quick", "fox"]);
        assert_eq!(query.score(&terms("a fox, quick")), 2);
        assert!(ArchivalQuery::new("...".into(), vec![], None).is_err());
        assert!(ArchivalQuery::new("a".into(), vec![], Some(51)).is_err());
        assert!(ArchivalQuery::new("a".repeat(1025), vec![], None).is_err());
        let id = passage_id(&["s", "call"]);
        assert!(is_passage_id(&id));
        assert_ne!(id, passage_id(&["sc", "all"]));
        let tags = vec!["b".into(), "a".into(), "b".into()];
        let passage = NewPassage::new(id.clone(), "text".into(), tags, 1);
        assert_eq!(
            passage.map(|p| p.tags).ok(),
            Some(vec!["a".into(), "b".into()])
        );
        assert!(NewPassage::new(id.clone(), " ".into(), vec![], 1).is_err());
        assert!(NewPassage::new(id, "x".repeat(PASSAGE_BYTES_MAX + 1), vec![], 1).is_err());
    }

    #[test]
    fn rank_prefers_more_terms_then_newer() {
        let hits = vec![(1, 5, "a"), (2, 1, "b"), (1, 9, "c"), (0, 10, "d")];
        assert_eq!(rank(hits, 10), ["b", "c", "a"]);
    }
}
