//! The full session state: control state plus the ordered context item list. This is
//! what checkpoints hold and what the pure request-rebuild function reads.

use serde::{Deserialize, Serialize};

use crate::core::context::{ContextItem, ItemKind};
use crate::core::control::ControlState;
use crate::core::event::CoreEvent;
use crate::core::replay::{ReplayError, decode};
use crate::log::{LogEntry, Seq};
use crate::store::Checkpoint;

/// The context item list, kept in planned order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ContextState {
    items: Vec<ContextItem>,
}

impl ContextState {
    /// Items in planned order: instructions, catalogs, summary, transcript.
    pub fn items(&self) -> &[ContextItem] {
        &self.items
    }

    /// The list as a checkpoint stored it. Refused unless strictly in planned order
    /// (the order every reduction keeps), so a damaged checkpoint cannot yield a
    /// list no replay would.
    pub fn from_planned_items(items: Vec<ContextItem>, seq: Seq) -> Result<Self, ReplayError> {
        let ordered = items
            .windows(2)
            .all(|pair| pair[0].order_key() < pair[1].order_key());
        if !ordered {
            return Err(ReplayError::Inconsistent {
                seq,
                kind: "checkpoint".into(),
                reason: "checkpoint items are not in planned order".into(),
            });
        }
        Ok(Self { items })
    }

    fn insert(&mut self, entry: &LogEntry, item: &ContextItem) -> Result<(), ReplayError> {
        if let Some(key) = &item.key {
            self.items
                .retain(|existing| existing.key.as_ref() != Some(key));
        }
        match self
            .items
            .binary_search_by_key(&item.order_key(), ContextItem::order_key)
        {
            Ok(_) => Err(ReplayError::Inconsistent {
                seq: entry.seq,
                kind: entry.event.kind.clone(),
                reason: format!("two context items share ordinal {}", item.ordinal),
            }),
            Err(position) => {
                self.items.insert(position, item.clone());
                Ok(())
            }
        }
    }

    fn insert_all(&mut self, entry: &LogEntry, items: &[ContextItem]) -> Result<(), ReplayError> {
        items.iter().try_for_each(|item| self.insert(entry, item))
    }

    fn reduce(&mut self, entry: &LogEntry, event: &CoreEvent) -> Result<(), ReplayError> {
        match event {
            CoreEvent::ContextItemUpserted(e) => self.insert(entry, &e.item),
            CoreEvent::ContextItemRemoved(e) => {
                self.items.retain(|item| item.key.as_ref() != Some(&e.key));
                Ok(())
            }
            CoreEvent::ContextCompacted(e) => {
                self.items.retain(|item| item.key.is_some());
                self.insert_all(entry, &e.summary)
            }
            CoreEvent::RunStarted(e) => self.insert_all(entry, &e.input),
            CoreEvent::SteerApplied(e) => self.insert_all(entry, &e.items),
            CoreEvent::TurnCompleted(e) => {
                if e.items.iter().any(|item| item.kind == ItemKind::Compaction) {
                    self.items.retain(|item| item.key.is_some());
                }
                self.insert_all(entry, &e.items)
            }
            CoreEvent::ToolResultRecorded(e) => self.insert(entry, &e.item),
            CoreEvent::SessionOpened(_)
            | CoreEvent::ConfigChanged(_)
            | CoreEvent::SessionClosed(_)
            | CoreEvent::ToolsChanged(_)
            | CoreEvent::CompactionRequested(_)
            | CoreEvent::CompactionFailed(_)
            | CoreEvent::RunRequested(_)
            | CoreEvent::RunInputTranscribed(_)
            | CoreEvent::RunSteered(_)
            | CoreEvent::RunCancelRequested(_)
            | CoreEvent::RunFinished(_)
            | CoreEvent::TurnPlanned(_)
            | CoreEvent::TurnFailed(_)
            | CoreEvent::TurnAborted(_)
            | CoreEvent::ApprovalRequested(_)
            | CoreEvent::ApprovalDecided(_)
            | CoreEvent::ToolCallDeferred(_)
            | CoreEvent::WakeUpScheduled(_)
            | CoreEvent::WakeUpEnded(_)
            | CoreEvent::ChildRunStarted(_)
            | CoreEvent::ChildRunFinished(_)
            | CoreEvent::ToolAwaitingChildren(_)
            | CoreEvent::ParentNotified(_)
            | CoreEvent::DispatchChanged(_)
            // Refused by the control reducer, which runs first.
            | CoreEvent::SessionForked(_) => Ok(()),
        }
    }
}

/// Control state and context together.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SessionState {
    pub control: ControlState,
    pub context: ContextState,
}

impl SessionState {
    pub fn head(&self) -> Seq {
        self.control.head
    }

    /// Applies one committed entry to both parts.
    pub fn apply(&mut self, entry: &LogEntry) -> Result<(), ReplayError> {
        let event = decode(entry)?;
        self.control.apply_decoded(entry, &event)?;
        self.context.reduce(entry, &event)
    }

    /// Builds state from a whole log.
    pub fn replay<'a>(
        entries: impl IntoIterator<Item = &'a LogEntry>,
    ) -> Result<Self, ReplayError> {
        let mut state = Self::default();
        entries
            .into_iter()
            .try_for_each(|entry| state.apply(entry))?;
        Ok(state)
    }

    /// Canonical bytes: equal states encode to equal bytes.
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        crate::canonical::to_vec(self)
    }

    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            seq: self.head(),
            state: self.to_canonical_bytes(),
        }
    }

    /// Restores the state a checkpoint captured; apply the log tail after it.
    pub fn from_checkpoint(checkpoint: &Checkpoint) -> Result<Self, ReplayError> {
        let state: Self = crate::canonical::from_slice(&checkpoint.state)?;
        if state.head() != checkpoint.seq {
            return Err(ReplayError::Inconsistent {
                seq: checkpoint.seq,
                kind: "checkpoint".into(),
                reason: format!("checkpoint state is at entry {}", state.head()),
            });
        }
        Ok(state)
    }
}
