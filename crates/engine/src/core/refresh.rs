//! Context refresh: the keyed items a host's context sources keep in a session
//! (instruction files such as `AGENTS.md`, skill catalogs, memory blocks).
//!
//! Sources live outside the log (a workspace file, a block other sessions edit), so
//! the engine cannot read them. Instead the host resolves them right before a
//! generation, sends the refreshed items with the request, and hands the difference
//! back with the generation's result. The engine records it as ordinary
//! `context.item_upserted` / `context.item_removed` events ahead of the turn, so the
//! log says exactly what the model saw, and replay needs no source.
//!
//! Both sides number the items with [`ContextRefresh::resolve`], so the request the
//! host sent and the state the engine records cannot disagree: a key already present
//! keeps its ordinal (its place in the prompt, so a changed file replaces its item
//! without disturbing the cached prefix before it), a new key takes the next ordinals
//! in the order given, and an upsert equal to what is there is no change at all.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::core::command::Rejection;
use crate::core::context::{ContextItem, ItemKind, ItemSpec, SOURCE_KEY_PREFIX, is_valid_item_key};
use crate::core::limits::KEYED_ITEMS_MAX;

/// Most changes one refresh may carry (upserts and removals together).
pub const REFRESH_CHANGES_MAX: usize = 64;

/// One item a context source wants in the session under `key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourcedItem {
    /// Starts with [`SOURCE_KEY_PREFIX`].
    pub key: String,
    /// Kind `instructions` or `catalog`.
    pub spec: ItemSpec,
}

/// What changed in the sourced items since the request was planned.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContextRefresh {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upserts: Vec<SourcedItem>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed: Vec<String>,
}

/// A refresh numbered against a context: the items to record and the keys to drop.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedRefresh {
    pub upserted: Vec<ContextItem>,
    pub removed: Vec<String>,
    /// The first ordinal left for what follows (the turn's output items).
    pub next_ordinal: u64,
}

/// Whether `key` names an item only a refresh may write.
pub fn is_source_key(key: &str) -> bool {
    key.starts_with(SOURCE_KEY_PREFIX)
}

impl ContextRefresh {
    pub fn is_empty(&self) -> bool {
        self.upserts.is_empty() && self.removed.is_empty()
    }

    /// Checks the refresh's own shape: bounded, every key valid and a source key,
    /// no key twice, only instruction or catalog items.
    pub(crate) fn check(&self) -> Result<(), Rejection> {
        let count = self.upserts.len() + self.removed.len();
        if count > REFRESH_CHANGES_MAX {
            return Err(Rejection::TooMany {
                what: "context refresh changes",
                count,
                max: REFRESH_CHANGES_MAX,
            });
        }
        let mut seen = BTreeSet::new();
        let keys = self
            .upserts
            .iter()
            .map(|item| &item.key)
            .chain(&self.removed);
        for key in keys {
            if !is_valid_item_key(key) || !is_source_key(key) || !seen.insert(key) {
                return Err(Rejection::InvalidItemKey(key.clone()));
            }
        }
        if let Some(item) = self
            .upserts
            .iter()
            .find(|item| !matches!(item.spec.kind, ItemKind::Instructions | ItemKind::Catalog))
        {
            return Err(Rejection::InvalidItemKey(item.key.clone()));
        }
        Ok(())
    }

    /// Numbers the refresh against the keyed items and next ordinal of a context.
    /// Removals of keys that are not there and upserts equal to the present item
    /// are dropped; more keyed items than [`KEYED_ITEMS_MAX`] is refused.
    pub fn resolve(
        &self,
        keyed: &BTreeMap<String, ContextItem>,
        next_ordinal: u64,
    ) -> Result<ResolvedRefresh, Rejection> {
        let mut next = next_ordinal;
        let mut upserted = Vec::new();
        let mut added = 0usize;
        for SourcedItem { key, spec } in &self.upserts {
            let item = match keyed.get(key) {
                Some(existing) => {
                    let item = ContextItem::new(existing.ordinal, Some(key.clone()), spec);
                    if item == *existing {
                        continue;
                    }
                    item
                }
                None => {
                    added += 1;
                    next += 1;
                    ContextItem::new(next - 1, Some(key.clone()), spec)
                }
            };
            upserted.push(item);
        }
        let removed: Vec<String> = self
            .removed
            .iter()
            .filter(|key| keyed.contains_key(*key))
            .cloned()
            .collect();
        let count = keyed.len() + added - removed.len();
        if count > KEYED_ITEMS_MAX {
            return Err(Rejection::TooMany {
                what: "keyed context items",
                count,
                max: KEYED_ITEMS_MAX,
            });
        }
        Ok(ResolvedRefresh {
            upserted,
            removed,
            next_ordinal: next,
        })
    }
}

impl ResolvedRefresh {
    /// Applies the refresh to an item list in planned order, keeping the order.
    pub fn apply_to(&self, items: &mut Vec<ContextItem>) {
        items.retain(|item| {
            item.key.as_ref().is_none_or(|key| {
                !self.removed.contains(key)
                    && !self
                        .upserted
                        .iter()
                        .any(|new| new.key.as_ref() == Some(key))
            })
        });
        items.extend(self.upserted.iter().cloned());
        items.sort_by_key(ContextItem::order_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob_ref::BlobRef;

    fn spec(kind: ItemKind, text: &str) -> ItemSpec {
        ItemSpec::new(kind, BlobRef::of_bytes(text.as_bytes()), 3)
    }

    fn keyed(items: &[ContextItem]) -> BTreeMap<String, ContextItem> {
        items
            .iter()
            .filter_map(|item| Some((item.key.clone()?, item.clone())))
            .collect()
    }

    #[test]
    fn a_changed_source_keeps_its_place_and_a_new_one_comes_last() {
        let agents = ContextItem::new(
            1,
            Some("source:agents:/w/AGENTS.md".into()),
            &spec(ItemKind::Instructions, "old"),
        );
        let user = ContextItem::new(2, None, &spec(ItemKind::UserMessage, "hi"));
        let mut items = vec![agents.clone(), user.clone()];
        let refresh = ContextRefresh {
            upserts: vec![
                SourcedItem {
                    key: "source:agents:/w/AGENTS.md".into(),
                    spec: spec(ItemKind::Instructions, "new"),
                },
                SourcedItem {
                    key: "source:skills".into(),
                    spec: spec(ItemKind::Catalog, "skills"),
                },
            ],
            removed: vec!["source:memory:gone".into()],
        };
        refresh.check().unwrap();
        let resolved = refresh.resolve(&keyed(&items), 3).unwrap();
        assert_eq!(resolved.next_ordinal, 4);
        assert!(resolved.removed.is_empty(), "an absent key is no change");
        resolved.apply_to(&mut items);
        let ordinals: Vec<u64> = items.iter().map(|item| item.ordinal).collect();
        assert_eq!(ordinals, vec![1, 3, 2], "instructions, catalog, transcript");
        assert_eq!(items[0].content_ref, BlobRef::of_bytes(b"new"));
    }

    #[test]
    fn an_unchanged_source_is_no_change() {
        let item = ContextItem::new(
            0,
            Some("source:skills".into()),
            &spec(ItemKind::Catalog, "x"),
        );
        let refresh = ContextRefresh {
            upserts: vec![SourcedItem {
                key: "source:skills".into(),
                spec: spec(ItemKind::Catalog, "x"),
            }],
            removed: Vec::new(),
        };
        let resolved = refresh.resolve(&keyed(&[item]), 1).unwrap();
        assert!(resolved.upserted.is_empty());
        assert_eq!(resolved.next_ordinal, 1);
    }

    #[test]
    fn only_source_keys_and_context_kinds_may_be_refreshed() {
        let bad = |key: &str, kind| ContextRefresh {
            upserts: vec![SourcedItem {
                key: key.into(),
                spec: spec(kind, "x"),
            }],
            removed: Vec::new(),
        };
        assert!(bad("instructions", ItemKind::Instructions).check().is_err());
        assert!(bad("source:x", ItemKind::UserMessage).check().is_err());
        assert!(bad("source:x", ItemKind::Catalog).check().is_ok());
        let twice = ContextRefresh {
            upserts: bad("source:x", ItemKind::Catalog).upserts,
            removed: vec!["source:x".into()],
        };
        assert!(twice.check().is_err());
    }
}
